//! Targets as they are found (issue 16): v2 made by hand and then edited
//! (an extra column, a wider ticker, a missing foreign key), v1 with an
//! extra index and column, tables at different versions, a drift no
//! migration can run on, and a step that couples tables at different
//! versions. Each case snapshots `plan`, checks what the run did to the
//! rows, that a second run plans nothing, and that `bo_airflow` is as it was.

use serde_json::Value;

use crate::schema::{
    counts_as_v3, history, plan_json, run, seeded, states, HAND_MADE_V2, V1, V2, V3,
};
use crate::util::{
    client, padetl, repo, row_counts, schema_fingerprint, table, v1_by_hand, TestDbs, Workspace,
};

/// Rows in the two tables the hand-made v2 leaves empty, made by QA's
/// testers; and the tester's drift.
const QA_ROWS_AND_DRIFT: &str = "
INSERT INTO padealing.pad_execution (id, request_id, exec_date, exec_price, exec_qty)
VALUES (900001, 900001, '2024-04-02', 71.25, 10);
INSERT INTO padealing.pad_breach (id, request_id, employee_id, breach_type, details)
VALUES (900001, 900001, 1, 'HOLDING_PERIOD', 'sold within 30 days');
ALTER TABLE padealing.pad_request ADD COLUMN qa_notes text;
UPDATE padealing.pad_request SET qa_notes = 'checked by QA' WHERE id = 900001;
ALTER TABLE padealing.pad_request ALTER COLUMN ticker TYPE varchar(64);
ALTER TABLE padealing.pad_breach DROP CONSTRAINT pad_breach_request_id_fkey;
";

/// The plan as JSON, with the per-test database name taken out.
fn plan_snapshot(dbs: &TestDbs, pipeline: &str) -> Value {
    let mut plan = plan_json(dbs, pipeline);
    plan["target"] = "TARGET".into();
    plan
}

/// After a run, the plan has nothing to run and another run changes
/// nothing.
fn assert_settled(dbs: &TestDbs, pipeline: &str) {
    let tgt = &dbs.names[1];
    run(dbs, pipeline);
    let again = plan_json(dbs, pipeline);
    assert_eq!(again["steps"], serde_json::json!([]), "{again:#}");
    let app = schema_fingerprint(tgt, "padealing");
    run(dbs, pipeline);
    assert_eq!(
        schema_fingerprint(tgt, "padealing"),
        app,
        "a second run changed the target"
    );
}

#[test]
fn a_hand_made_v2_with_drift_is_repaired_then_upgraded_keeping_every_row() {
    let dbs = seeded("r_qa");
    let tgt = &dbs.names[1];
    client(tgt)
        .batch_execute(&format!("{HAND_MADE_V2}{QA_ROWS_AND_DRIFT}"))
        .expect("QA's hand-made, edited v2");
    let before = row_counts(tgt, "padealing");
    let reference = schema_fingerprint(tgt, "bo_airflow");

    let plan = plan_snapshot(&dbs, "pipelines/dev.toml");
    insta::assert_json_snapshot!("plan_of_a_hand_made_v2_with_drift", plan);
    assert_eq!(
        (&plan["action"], &plan["from"]),
        (&Value::from("repair_and_upgrade"), &Value::from(2))
    );
    assert_eq!(plan["refused"], serde_json::json!([]));
    let text = padetl(&dbs.names[0], tgt)
        .args(["plan", "pipelines/dev.toml"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8_lossy(&text).replace(tgt.as_str(), "TARGET");
    insta::assert_snapshot!("plan_text_of_a_hand_made_v2_with_drift", text);

    let report = run(&dbs, "pipelines/dev.toml");
    let rows = row_counts(tgt, "padealing");
    for ((name, was), (_, now)) in counts_as_v3(before).iter().zip(&rows) {
        assert!(now >= was, "{name} lost rows: {was} → {now}");
    }
    let kept = client(tgt)
        .query_one(
            "SELECT r.direction, r.currency, r.status, r.qa_notes, r.ticker, \
                    e.currency, e.executed_at::text, b.severity, b.breach_type \
             FROM padealing.pad_request r \
             JOIN padealing.pad_execution e ON e.request_id = r.id \
             JOIN padealing.pad_breach b ON b.request_id = r.id WHERE r.id = 900001",
            &[],
        )
        .expect("QA's rows survive the upgrade");
    let values: Vec<String> = (0..9).map(|i| kept.get::<_, String>(i)).collect();
    assert_eq!(
        values,
        [
            "buy",
            "GBP",
            "pending_manager_approval",
            "checked by QA",
            "VOD",
            "GBP",
            "2024-04-01 23:00:00+00",
            "medium",
            "holding_period"
        ]
    );
    let fk: i64 = client(tgt)
        .query_one(
            "SELECT count(*) FROM pg_constraint WHERE conname = 'pad_breach_request_id_fkey' AND convalidated",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(fk, 1, "the missing foreign key was added and validated");
    assert_eq!(
        history(tgt),
        [
            (1, "baseline".into()),
            (2, "baseline".into()),
            (3, "applied".into())
        ]
    );
    let outcome = &table(&report["schema"], "pad_request")["outcome"];
    assert_eq!(
        (&outcome["version_found"], &outcome["upgraded_to"]),
        (&Value::from(2), &Value::from(3))
    );
    assert_eq!(
        outcome["waiting"],
        serde_json::json!(["extra column qa_notes text"])
    );
    let breach = &table(&report["schema"], "pad_breach")["outcome"];
    assert_eq!(
        breach["repaired"],
        serde_json::json!([
            "constraint FOREIGN KEY (request_id) REFERENCES pad_request(id) is missing"
        ])
    );
    let ledger: Value = client(tgt)
        .query_one(
            "SELECT report->'schema' FROM padealing.padetl_runs WHERE command = 'run' ORDER BY started_at LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        table(&ledger, "pad_request")["outcome"],
        *outcome,
        "the ledger says the same"
    );

    assert_settled(&dbs, "pipelines/dev.toml");
    assert_eq!(schema_fingerprint(tgt, "bo_airflow"), reference);
}

#[test]
fn v1_with_an_extra_index_and_column_is_upgraded_and_keeps_them() {
    let dbs = seeded("r_v1x");
    let tgt = &dbs.names[1];
    v1_by_hand(tgt, 30);
    client(tgt)
        .batch_execute(
            "CREATE INDEX pad_request_ticker_idx ON padealing.pad_request (ticker); \
             ALTER TABLE padealing.pad_execution ADD COLUMN settled boolean DEFAULT false",
        )
        .expect("drift on v1");
    let before = row_counts(tgt, "padealing");
    let reference = schema_fingerprint(tgt, "bo_airflow");

    let plan = plan_snapshot(&dbs, "pipelines/dev.toml");
    insta::assert_json_snapshot!("plan_of_v1_with_an_extra_index_and_column", plan);
    assert_eq!(
        (&plan["action"], &plan["from"]),
        (&Value::from("repair_and_upgrade"), &Value::from(1))
    );

    padetl(&dbs.names[0], tgt)
        .args(["migrate", "pipelines/dev.toml", "--quiet"])
        .assert()
        .success();
    assert_eq!(counts_as_v3(before.clone()), row_counts(tgt, "padealing"));
    let kept: (i64, i64) = {
        let r = client(tgt)
            .query_one(
                "SELECT (SELECT count(*) FROM pg_indexes WHERE indexname = 'pad_request_ticker_idx'), \
                        (SELECT count(*) FROM padealing.pad_execution WHERE settled = false)",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(kept.0, 1, "the extra index survives");
    assert_eq!(
        kept.1,
        before
            .iter()
            .find(|(t, _)| t == "pad_execution")
            .map_or(0, |x| x.1)
    );
    let again = plan_json(&dbs, "pipelines/dev.toml");
    let held: Vec<&str> = again["not_applied"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["change"].as_str())
        .collect();
    assert_eq!(
        held,
        [
            "extra column settled boolean",
            "extra index pad_request_ticker_idx (btree (ticker))"
        ]
    );
    assert_settled(&dbs, "pipelines/dev.toml");
    assert_eq!(schema_fingerprint(tgt, "bo_airflow"), reference);
}

/// The helpers and the given tables' sections of 0003, as the app's team
/// would have run them by hand.
fn v3_sections(tables: &[&str]) -> String {
    let v3 = std::fs::read_to_string(repo().join("migrations").join(V3)).expect("0003");
    let titles = [
        "pad_request",
        "pad_approval",
        "pad_execution",
        "pad_breach",
        "audit_log",
        "The helpers",
    ];
    let starts: Vec<usize> = titles
        .iter()
        .map(|t| {
            v3.find(&format!("\n-- {t}"))
                .expect("0003 has one section per table")
        })
        .collect();
    let mut sql = format!("SET search_path TO padealing;\n{}", &v3[..starts[0]]);
    for (i, title) in titles.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(v3.len());
        if tables.contains(title) || *title == "The helpers" {
            sql.push_str(&v3[starts[i]..end]);
        }
    }
    sql + "\nSET search_path TO DEFAULT;\n"
}

#[test]
fn tables_at_different_versions_are_upgraded_each_along_its_own_lineage() {
    let dbs = seeded("r_mixed");
    let tgt = &dbs.names[1];
    client(tgt)
        .batch_execute(&format!(
            "{HAND_MADE_V2}{}",
            QA_ROWS_AND_DRIFT
                .split("ALTER TABLE")
                .next()
                .unwrap_or_default()
        ))
        .expect("v2 with rows");
    client(tgt)
        .batch_execute(&v3_sections(&["pad_request", "pad_approval"]))
        .expect("request and approval brought to v3 by hand");
    let before = row_counts(tgt, "padealing");
    let reference = schema_fingerprint(tgt, "bo_airflow");

    let plan = plan_snapshot(&dbs, "pipelines/dev.toml");
    insta::assert_json_snapshot!("plan_of_tables_at_versions_3_and_2", plan);
    assert_eq!(
        states(&plan),
        [
            ("audit_log".into(), "outdated".into()),
            ("pad_approval".into(), "matches".into()),
            ("pad_breach".into(), "outdated".into()),
            ("pad_execution".into(), "outdated".into()),
            ("pad_request".into(), "matches".into()),
        ]
    );
    assert_eq!(plan["action"], "upgrade_each");

    let report = run(&dbs, "pipelines/dev.toml");
    assert_eq!(report["schema"]["refused"], serde_json::json!([]));
    let rows = row_counts(tgt, "padealing");
    for ((name, was), (_, now)) in counts_as_v3(before).iter().zip(&rows) {
        assert!(now >= was, "{name} lost rows: {was} → {now}");
    }
    let converted: (String, String) = {
        let r = client(tgt)
            .query_one(
                "SELECT e.currency::text, b.severity FROM padealing.pad_execution e \
                 JOIN padealing.pad_breach b ON b.request_id = e.request_id WHERE e.id = 900001",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(converted, ("GBP".to_string(), "medium".to_string()));
    assert_eq!(
        history(tgt),
        [
            (1, "baseline".into()),
            (2, "baseline".into()),
            (3, "per_table".into())
        ]
    );
    assert_settled(&dbs, "pipelines/dev.toml");
    assert_eq!(schema_fingerprint(tgt, "bo_airflow"), reference);
}

#[test]
fn a_drift_no_migration_can_run_on_is_refused_naming_the_column_and_both_types() {
    let dbs = seeded("r_text");
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    client(tgt)
        .batch_execute(&format!(
            "{HAND_MADE_V2}ALTER TABLE padealing.pad_request ALTER COLUMN quantity TYPE text;"
        ))
        .expect("quantity made text by hand");
    let (app, reference) = (
        schema_fingerprint(tgt, "padealing"),
        schema_fingerprint(tgt, "bo_airflow"),
    );

    let out = padetl(src, tgt)
        .args(["plan", "pipelines/dev.toml", "--json"])
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    let mut plan: Value = serde_json::from_slice(&out).expect("the plan is printed before exit 2");
    plan["target"] = "TARGET".into();
    insta::assert_json_snapshot!("plan_of_an_irreparable_drift", plan);
    assert_eq!(
        table(&plan, "pad_request")["differences"],
        serde_json::json!(["column quantity is text, not integer"])
    );
    let text = padetl(src, tgt)
        .args(["plan", "pipelines/dev.toml"])
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8_lossy(&text);
    assert!(
        text.contains("column quantity is text, not integer"),
        "{text}"
    );
    assert!(text.contains("refused, so nothing runs"), "{text}");

    let failed = padetl(src, tgt)
        .args(["run", "pipelines/dev.toml", "--quiet"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let failed = String::from_utf8_lossy(&failed);
    let reason = plan["refused"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        failed.contains(reason),
        "run refuses with the plan's text:\n{failed}\nvs {reason}"
    );
    assert!(
        reason.contains(&format!("{V3} line")) && reason.contains("quantity"),
        "{reason}"
    );
    assert_eq!(schema_fingerprint(tgt, "padealing"), app, "nothing changed");
    assert_eq!(schema_fingerprint(tgt, "bo_airflow"), reference);
}

#[test]
fn a_step_coupling_tables_at_different_versions_is_refused_by_file_and_line() {
    let dbs = seeded("r_couple");
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let ws = Workspace::new(&[V1, V2, V3], "");
    ws.add_migration(
        "0004_breach_ticker.sql",
        "ALTER TABLE pad_breach ADD COLUMN ticker text;\n\
         UPDATE pad_breach b SET ticker = r.ticker FROM pad_request r WHERE r.id = b.request_id;\n\
         ALTER TABLE pad_request ADD COLUMN note text;\n",
    );
    padetl(src, tgt)
        .args(["migrate", &ws.pipeline_arg(), "--quiet"])
        .assert()
        .success();
    client(tgt)
        .batch_execute(
            "ALTER TABLE padealing.pad_breach DROP COLUMN ticker; DROP TABLE padealing.padetl_schema_history",
        )
        .expect("pad_breach back at version 3, no history");
    let (app, reference) = (
        schema_fingerprint(tgt, "padealing"),
        schema_fingerprint(tgt, "bo_airflow"),
    );
    let out = padetl(src, tgt)
        .args(["plan", &ws.pipeline_arg(), "--json"])
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8_lossy(&out).replace(&ws.dir.display().to_string(), "WORKSPACE");
    let mut plan: Value = serde_json::from_str(&out).expect("the plan is printed before exit 2");
    plan["target"] = "TARGET".into();
    plan["steps"] = Value::Null;
    insta::assert_json_snapshot!("plan_of_a_coupling_step", plan);
    let reason = plan["refused"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with(
            "WORKSPACE/migrations/0004_breach_ticker.sql line 2 (`UPDATE pad_breach b SET ticker"
        ),
        "{reason}"
    );
    padetl(src, tgt)
        .args(["run", &ws.pipeline_arg(), "--quiet"])
        .assert()
        .code(2);
    assert_eq!(schema_fingerprint(tgt, "padealing"), app, "nothing changed");
    assert_eq!(schema_fingerprint(tgt, "bo_airflow"), reference);
}
