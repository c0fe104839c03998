//! Values that do not fit their target column, on the demo's source with
//! injected faults: execution prices with seven decimals (the column is
//! `numeric(20,6)`), tickers longer than a tightened `varchar(8)`, and
//! execution times that the transform pushes before 4714 BC. `check`
//! counts every one as a finding and still renders the whole report; `run`
//! refuses naming the counts; with `quarantine` the rest loads; a second
//! `check` shows what changed since the first.

use serde_json::Value;

use crate::util::{
    check_output, client, json_of, padetl, repo, schema_fingerprint, stable_report, table, TestDbs,
    Workspace,
};

const MIGRATIONS: [&str; 3] = [
    "0001_v1_legacy_layout.sql",
    "0002_v2_padealing.sql",
    "0003_v3_current.sql",
];

/// The keys the faults were injected into (all rows the demo loaded).
struct Faults {
    prices: Vec<i64>,
    times: Vec<i64>,
    tickers: Vec<i64>,
}

/// Loads the demo, then makes some loaded rows' values misfit.
fn demo_with_misfits(src: &str, tgt: &str) -> Faults {
    json_of(padetl(src, tgt).args(["demo", "--rows", "300", "--json", "--quiet"]));
    let ids = |sql: &str| -> Vec<i64> {
        client(tgt)
            .query(sql, &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let executions = ids("SELECT id FROM padealing.pad_execution ORDER BY id LIMIT 5");
    let tickers = ids("SELECT id FROM padealing.pad_request r WHERE NOT EXISTS \
         (SELECT 1 FROM padealing.pad_execution e WHERE e.request_id = r.id) ORDER BY id LIMIT 2");
    let mut s = client(src);
    s.execute(
        "UPDATE pa_dealing.pad_execution SET exec_price = exec_price + 0.0000001 WHERE id = ANY($1::int8[])",
        &[&executions[..3].to_vec()],
    )
    .unwrap();
    s.execute(
        "UPDATE pa_dealing.pad_request SET ticker = 'TICKER_' || id || '_TOO_LONG' WHERE id = ANY($1::int8[])",
        &[&tickers],
    )
    .unwrap();
    Faults {
        prices: executions[..3].to_vec(),
        times: executions[3..].to_vec(),
        tickers,
    }
}

/// The shared pipeline with `ticker varchar(8)` and a transform that
/// pushes `times` 7000 years back, plus `extra` TOML.
fn workspace(faults: &Faults, extra: &str) -> Workspace {
    let ws = Workspace::new(&MIGRATIONS, "");
    ws.add_migration(
        "0004_short_tickers.sql",
        "ALTER TABLE pad_request ALTER COLUMN ticker TYPE varchar(8);",
    );
    let sql = std::fs::read_to_string(repo().join("pipelines/sql/pad_execution.sql")).unwrap();
    let times: Vec<String> = faults.times.iter().map(i64::to_string).collect();
    let line = sql
        .lines()
        .find(|l| l.trim_start().starts_with("e.executed_at"))
        .expect("the transform selects executed_at");
    let sql = sql.replace(
        line,
        &format!(
            "    CASE WHEN e.id IN ({}) THEN e.executed_at - INTERVAL '7000 years' ELSE e.executed_at END AS executed_at,",
            times.join(", ")
        ),
    );
    let path = ws.dir.join("pad_execution.sql");
    std::fs::write(&path, sql).unwrap();
    let toml = std::fs::read_to_string(ws.pipeline()).unwrap();
    std::fs::write(
        ws.pipeline(),
        format!(
            "{toml}\n[[tables]]\nname = \"pad_execution\"\nsql = \"{}\"\n{extra}",
            path.display()
        ),
    )
    .unwrap();
    ws
}

/// The price policy back to the default, `fail`.
const PRICE_FAILS: &str = "
[[checks]]
name = \"execution_price_fits\"
policy = \"fail\"
";

fn finding<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("finding {name} in {report}"))
}

fn keys(finding: &Value) -> Vec<i64> {
    let mut k: Vec<i64> = finding["sample"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["key"].as_i64().unwrap())
        .collect();
    k.sort();
    k
}

#[test]
fn check_counts_every_misfit_and_run_refuses_naming_them() {
    let dbs = TestDbs::reserve("fit", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let faults = demo_with_misfits(src, tgt);
    let ws = workspace(&faults, PRICE_FAILS);
    let before = schema_fingerprint(tgt, "padealing");

    let report: Value =
        serde_json::from_str(&check_output(src, tgt, &ws.pipeline_arg(), "--json", 1))
            .expect("JSON report");
    assert_eq!(report["tables"].as_array().unwrap().len(), 5, "every table");

    let price = finding(&report, "pad_execution_price_fits");
    assert_eq!(
        (price["kind"].as_str(), price["policy"].as_str()),
        (Some("fit"), Some("fail"))
    );
    assert_eq!(price["violations"], 3);
    assert_eq!(keys(price), faults.prices);
    assert!(price["sample"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("more than 6 decimal places"));
    let times = finding(&report, "pad_execution_executed_at_fits");
    assert_eq!(times["violations"], 2);
    assert_eq!(keys(times), faults.times);
    let tickers = finding(&report, "pad_request_ticker_fits");
    assert_eq!(tickers["violations"], 2);
    assert_eq!(keys(tickers), faults.tickers);
    assert!(tickers["sample"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("the column holds 8"));

    assert_eq!(table(&report, "pad_execution")["left_out"], 5);
    assert_eq!(table(&report, "pad_request")["left_out"], 2);
    // The approvals of the two requests follow them out of the load.
    let approvals: i64 = client(tgt)
        .query_one(
            "SELECT count(*) FROM padealing.pad_approval WHERE request_id = ANY($1::int8[])",
            &[&faults.tickers],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        finding(&report, "follows_pad_request")["violations"].as_i64(),
        Some(approvals)
    );
    let verdict = String::from_utf8(
        padetl(src, tgt)
            .args(["check", &ws.pipeline_arg(), "--quiet"])
            .assert()
            .code(1)
            .get_output()
            .stdout
            .clone(),
    )
    .unwrap();
    for name in [
        "pad_execution_price_fits on pad_execution: 3 row(s)",
        "pad_execution_executed_at_fits on pad_execution: 2 row(s)",
        "pad_request_ticker_fits on pad_request: 2 row(s)",
    ] {
        assert!(verdict.contains(name), "{name} in {verdict}");
    }

    padetl(src, tgt)
        .args(["run", &ws.pipeline_arg(), "--quiet"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "pad_request_ticker_fits on pad_request: 2 row(s)",
        ));
    assert_eq!(schema_fingerprint(tgt, "padealing"), before, "run wrote");
}

#[test]
fn with_quarantine_the_rest_loads_and_the_quarantine_holds_the_misfits() {
    let dbs = TestDbs::reserve("fit_q", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let faults = demo_with_misfits(src, tgt);
    client(tgt)
        .batch_execute("DROP SCHEMA padealing CASCADE")
        .unwrap();
    let ws = workspace(
        &faults,
        "
[[checks]]
name = \"request_fits\"
table = \"pad_request\"
kind = \"fit\"
policy = \"quarantine\"

[[checks]]
name = \"execution_fits\"
table = \"pad_execution\"
kind = \"fit\"
column = \"executed_at\"
policy = \"quarantine\"
",
    );
    let report = json_of(padetl(src, tgt).args(["run", &ws.pipeline_arg(), "--json", "--quiet"]));
    assert_eq!(
        report["checks"].as_array().map(|c| c.is_empty()),
        Some(false)
    );
    let held = |table: &str, check: &str| -> Vec<i64> {
        client(tgt)
            .query(
                "SELECT row_key FROM padealing.padetl_quarantine \
                 WHERE table_name = $1 AND check_name = $2 ORDER BY row_key",
                &[&table, &check],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert_eq!(
        held("pad_request", "pad_request_ticker_fits"),
        faults.tickers
    );
    assert_eq!(
        held("pad_execution", "pad_execution_price_fits"),
        faults.prices
    );
    assert_eq!(
        held("pad_execution", "pad_execution_executed_at_fits"),
        faults.times
    );
    let loaded: i64 = client(tgt)
        .query_one(
            "SELECT (SELECT count(*) FROM padealing.pad_request WHERE id = ANY($1::int8[])) \
                  + (SELECT count(*) FROM padealing.pad_execution WHERE id = ANY($2::int8[]))",
            &[
                &faults.tickers,
                &[faults.prices.clone(), faults.times.clone()].concat(),
            ],
        )
        .unwrap()
        .get(0);
    assert_eq!(loaded, 0, "a misfit row was loaded");
    assert!(table(&report, "pad_request")["inserted"].as_i64().unwrap() > 200);
}

#[test]
fn a_second_check_shows_what_changed_since_the_first() {
    let dbs = TestDbs::reserve("fit_since", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let faults = demo_with_misfits(src, tgt);
    let ws = workspace(&faults, PRICE_FAILS);
    let check = |format: &str| check_output(src, tgt, &ws.pipeline_arg(), format, 1);
    check("--json");
    // One more price that does not fit, and the tickers mended.
    let mut s = client(src);
    s.execute(
        "UPDATE pa_dealing.pad_execution SET exec_price = exec_price + 0.0000001 WHERE id = $1::int8",
        &[&faults.times[0]],
    )
    .unwrap();
    s.execute(
        "UPDATE pa_dealing.pad_request SET ticker = 'TK1' WHERE id = ANY($1::int8[])",
        &[&faults.tickers],
    )
    .unwrap();
    let report: Value = serde_json::from_str(&check("--json")).unwrap();
    assert_eq!(report["compared_with"]["command"], "check");
    let price = finding(&report, "pad_execution_price_fits");
    assert_eq!(
        (price["violations"].as_i64(), price["previous"].as_i64()),
        (Some(4), Some(3))
    );
    let tickers = finding(&report, "pad_request_ticker_fits");
    assert_eq!(
        (tickers["violations"].as_i64(), tickers["previous"].as_i64()),
        (Some(0), Some(2))
    );
    assert_eq!(table(&report, "pad_request")["previous"]["left_out"], 2);

    let mut json = stable_report(report.clone());
    for step in json["schema"]["steps"].as_array_mut().unwrap() {
        if step.get("file").is_some() {
            step["file"] = Value::from("[workspace]/0004_short_tickers.sql");
        }
    }
    insta::assert_json_snapshot!("fit_findings_json", json);

    // The extra price mended again: the Markdown's "since" column says -1.
    s.execute(
        "UPDATE pa_dealing.pad_execution SET exec_price = exec_price - 0.0000001 WHERE id = $1::int8",
        &[&faults.times[0]],
    )
    .unwrap();
    let markdown = check("--markdown");
    assert!(markdown.contains("| fit | fail | 3 | -1 |"), "{markdown}");
    insta::with_settings!({filters => vec![
        (r"postgresql://[^`]+", "URL"),
        (r"run id `[^`]+`", "run id RUN"),
        (r"run id: `[^`]+`", "run id: RUN"),
        (r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "TIME"),
    ]}, {
        insta::assert_snapshot!("fit_findings_markdown", markdown);
    });
    let html = check("--html");
    assert!(html.contains("class=\"verdict fail\"") && html.contains("<td class=\"n\">"));
    assert!(html.contains("href=\"#pad_execution-pad_execution_price_fits\""));
    assert!(html.contains("id=\"pad_execution-pad_execution_price_fits\""));
}
