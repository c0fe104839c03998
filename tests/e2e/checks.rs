//! Checks and their policies on the demo dataset with injected faults: an
//! employee who left (orphan), a `mako_id` twice in the target's mirror
//! (ambiguous), invalid JSON in audit payloads, a negative quantity, a
//! duplicate `reference_id`, and the executions of quarantined requests.
//! `check` reports them without changing either database; `run` stops on a
//! `fail` check, and quarantines once the policy says so.

use serde_json::Value;

use crate::util::{
    check_output, client, count, json_of, padetl, repo, schema_fingerprint, stable_report, TestDbs,
    Workspace,
};

const MIGRATIONS: [&str; 3] = [
    "0001_v1_legacy_layout.sql",
    "0002_v2_padealing.sql",
    "0003_v3_current.sql",
];

/// The shared pipeline, except that orphan and ambiguous employees are left
/// to a `references` check instead of the transform, plus the checks under test.
fn faulty_pipeline(quantity_policy: &str) -> Workspace {
    let ws = Workspace::new(&MIGRATIONS, "");
    let sql = std::fs::read_to_string(repo().join("pipelines/sql/pad_request.sql")).unwrap();
    let sql: String = sql
        .lines()
        .filter(|l| !l.contains("'ambiguous employee'") && !l.contains("'orphan employee'"))
        .collect::<Vec<_>>()
        .join("\n");
    let sql_path = ws.dir.join("pad_request.sql");
    std::fs::write(&sql_path, sql).unwrap();
    let toml = std::fs::read_to_string(ws.pipeline()).unwrap();
    std::fs::write(
        ws.pipeline(),
        format!(
            r#"{toml}
[[tables]]
name = "pad_request"
sql = "{sql}"

[[checks]]
name = "request_employee"
table = "pad_request"
kind = "references"
keymap = "employee"
column = "employee_id"
policy = "quarantine"

[[checks]]
name = "request_quantity_positive"
table = "pad_request"
kind = "range"
column = "quantity"
min = 0.0001
policy = "{quantity_policy}"

[[checks]]
name = "request_security_known"
table = "pad_request"
kind = "not_null"
column = "security_id"
policy = "warn"

[[checks]]
name = "audit_action_known"
table = "audit_log"
kind = "accepted_values"
column = "action"
values = ["request_created", "request_reviewed"]
policy = "warn"

[[checks]]
name = "requests_not_too_few"
table = "pad_request"
kind = "row_count"
min_rows = 1000000
policy = "warn"
"#,
            sql = sql_path.display()
        ),
    )
    .unwrap();
    ws
}

/// What was injected, to compare the checks' counts with.
struct Faults {
    /// Requests of leavers: the plain demo rejects them as orphans.
    orphan_requests: i64,
    negative_quantity_request: i64,
    duplicated_reference_request: i64,
    ambiguous_requests: i64,
    invalid_payloads: i64,
}

/// Loads the demo, then injects the faults into the source and the target.
fn demo_with_faults(dbs: &TestDbs) -> Faults {
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let demo = json_of(padetl(src, tgt).args(["demo", "--rows", "300", "--json", "--quiet"]));
    let orphan_requests = demo["tables"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["table"] == "pad_request"))
        .and_then(|t| t["rejected_by_reason"]["orphan employee"].as_i64())
        .expect("the demo has requests of leavers");
    let mut s = client(src);
    let mut t = client(tgt);
    // Two loaded requests of two different matched employees.
    let loaded: Vec<(i64, i64)> = t
        .query(
            "SELECT DISTINCT ON (employee_id) id, employee_id FROM padealing.pad_request \
             ORDER BY employee_id, id LIMIT 3",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let (negative, dup_ref, ambiguous_emp) = (loaded[0].0, loaded[1].0, loaded[2].1);
    s.execute(
        "UPDATE pa_dealing.pad_request SET quantity = -5 WHERE id = $1::bigint",
        &[&negative],
    )
    .unwrap();
    // The target already holds request `dup_ref`'s reference under another key.
    t.batch_execute(&format!(
        "CREATE TEMP TABLE r AS SELECT * FROM padealing.pad_request WHERE id = {dup_ref}; \
         UPDATE r SET id = id + 900000; \
         DELETE FROM padealing.pad_approval WHERE request_id = {dup_ref}; \
         DELETE FROM padealing.pad_execution WHERE request_id = {dup_ref}; \
         DELETE FROM padealing.pad_breach WHERE request_id = {dup_ref}; \
         DELETE FROM padealing.pad_request WHERE id = {dup_ref}; \
         INSERT INTO padealing.pad_request SELECT * FROM r"
    ))
    .unwrap();
    // A second target employee with the same mako_id: that employee's
    // requests can no longer be re-pointed without guessing.
    let mako: String = t
        .query_one(
            "SELECT mako_id FROM bo_airflow.oracle_employee WHERE id = $1",
            &[&ambiguous_emp],
        )
        .unwrap()
        .get(0);
    t.execute(
        "INSERT INTO bo_airflow.oracle_employee (id, mako_id, email) \
         SELECT max(id) + 1, $1, 'someone.else@mako.com' FROM bo_airflow.oracle_employee",
        &[&mako],
    )
    .unwrap();
    let ambiguous_requests: i64 = s
        .query_one(
            "SELECT count(*) FROM pa_dealing.pad_request r JOIN bo_airflow.oracle_employee e \
             ON e.id = r.employee_id WHERE e.mako_id = $1",
            &[&mako],
        )
        .unwrap()
        .get(0);
    s.execute(
        "UPDATE pa_dealing.audit_logs SET payload = '{\"broken\": ' WHERE id = (SELECT min(id) FROM pa_dealing.audit_logs)",
        &[],
    )
    .unwrap();
    let invalid_payloads = s
        .query(
            "SELECT payload FROM pa_dealing.audit_logs WHERE payload IS NOT NULL",
            &[],
        )
        .unwrap()
        .iter()
        .filter(|r| serde_json::from_str::<Value>(r.get::<_, &str>(0)).is_err())
        .count() as i64;
    Faults {
        orphan_requests,
        negative_quantity_request: negative,
        duplicated_reference_request: dup_ref,
        ambiguous_requests,
        invalid_payloads,
    }
}

fn check_result<'a>(report: &'a Value, name: &str, table: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name && c["table"] == table))
        .unwrap_or_else(|| panic!("check {name} on {table} in {report}"))
}

fn sample_keys(check: &Value) -> Vec<i64> {
    check["sample"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["key"].as_i64().unwrap())
        .collect()
}

fn fingerprints(dbs: &TestDbs) -> Vec<String> {
    vec![
        schema_fingerprint(&dbs.names[0], "pa_dealing"),
        schema_fingerprint(&dbs.names[0], "bo_airflow"),
        schema_fingerprint(&dbs.names[1], "padealing"),
        schema_fingerprint(&dbs.names[1], "bo_airflow"),
    ]
}

#[test]
fn check_reports_every_fault_and_run_applies_each_policy() {
    let dbs = TestDbs::reserve("checks", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let faults = demo_with_faults(&dbs);
    let ws = faulty_pipeline("fail");
    let before = fingerprints(&dbs);

    // check: every fault counted, exit 1 because a `fail` check fired,
    // and neither database changed.
    let report: Value =
        serde_json::from_str(&check_output(src, tgt, &ws.pipeline_arg(), "--json", 1))
            .expect("JSON report");
    assert_eq!(fingerprints(&dbs), before, "check changed a database");
    assert_eq!(report["dry_run"], true);

    let quantity = check_result(&report, "request_quantity_positive", "pad_request");
    assert_eq!(quantity["violations"], 1);
    assert_eq!(
        sample_keys(quantity),
        vec![faults.negative_quantity_request]
    );

    let unique = check_result(&report, "request_reference_unique", "pad_request");
    assert_eq!(unique["violations"], 1, "{unique}");
    assert_eq!(
        sample_keys(unique),
        vec![faults.duplicated_reference_request]
    );

    // Orphans: the leavers the plain demo rejects; ambiguous: every request
    // of the employee whose mako_id is now twice in the target.
    let references = check_result(&report, "request_employee", "pad_request");
    let details: Vec<&str> = references["sample"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["detail"].as_str().unwrap())
        .collect();
    assert!(
        details
            .iter()
            .all(|d| d.contains("orphan") || d.contains("ambiguous")),
        "{details:?}"
    );
    assert_eq!(
        references["violations"].as_i64().unwrap(),
        faults.orphan_requests + faults.ambiguous_requests,
        "{references}"
    );

    // not_null, accepted_values and row_count, counted against the source.
    let no_security = count(src, "pa_dealing.pad_request WHERE security_id IS NULL");
    assert!(no_security > 0);
    let security = check_result(&report, "request_security_known", "pad_request");
    assert_eq!(security["violations"].as_i64(), Some(no_security));
    let surveillance = count(
        src,
        "pa_dealing.audit_logs WHERE lower(action) NOT IN ('request_created', 'request_reviewed')",
    );
    assert!(surveillance > 0);
    let action = check_result(&report, "audit_action_known", "audit_log");
    assert_eq!(action["violations"].as_i64(), Some(surveillance));
    assert_eq!(
        action["sample"][0]["detail"],
        "action = surveillance_checked"
    );
    let too_few = check_result(&report, "requests_not_too_few", "pad_request");
    assert_eq!(too_few["violations"], 1);
    assert!(too_few["sample"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("fewer than 1000000"));

    let payloads = check_result(&report, "audit_payload_is_json", "audit_log");
    assert_eq!(
        payloads["violations"].as_i64(),
        Some(faults.invalid_payloads)
    );
    let masked = &payloads["sample"][0]["row"]["actor_email"];
    assert!(
        masked == "***" || masked.is_null(),
        "actor_email not masked: {masked}"
    );

    // Executions of quarantined requests follow them.
    let follows = check_result(&report, "follows_pad_request", "pad_execution");
    let executions = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "pad_execution")
        .unwrap();
    assert!(follows["violations"].as_i64().unwrap() > 0, "{follows}");
    assert_eq!(executions["quarantined"], follows["violations"]);

    // run: the `fail` check stops it before anything is written.
    padetl(src, tgt)
        .args(["run", &ws.pipeline_arg(), "--quiet"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("request_quantity_positive"));
    assert_eq!(fingerprints(&dbs), before, "a failed check wrote something");

    // The ledger kept both: the check, and the failed run with its reason.
    let ledger: Vec<(String, String, Option<String>)> = client(tgt)
        .query(
            "SELECT command, status, error FROM padealing.padetl_runs \
             WHERE pipeline = 'p' ORDER BY started_at",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(ledger.len(), 2, "{ledger:?}");
    assert_eq!(
        (ledger[0].0.as_str(), ledger[0].1.as_str()),
        ("check", "checks_failed")
    );
    assert_eq!(
        (ledger[1].0.as_str(), ledger[1].1.as_str()),
        ("run", "checks_failed")
    );
    assert!(ledger[1]
        .2
        .as_deref()
        .unwrap_or("")
        .contains("request_quantity_positive"));

    // With the quantity check quarantining too, the run loads the rest and
    // keeps each quarantined row with its check and reason.
    let ws = faulty_pipeline("quarantine");
    let run = json_of(padetl(src, tgt).args(["run", &ws.pipeline_arg(), "--json", "--quiet"]));
    let quarantined: i64 = run["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["quarantined"].as_i64().unwrap())
        .sum();
    assert_eq!(count(tgt, "padealing.padetl_quarantine"), quarantined);
    let by_check = |check: &str| -> i64 {
        client(tgt)
            .query_one(
                "SELECT count(*) FROM padealing.padetl_quarantine WHERE check_name = $1",
                &[&check],
            )
            .unwrap()
            .get(0)
    };
    assert_eq!(by_check("request_quantity_positive"), 1);
    assert_eq!(by_check("request_reference_unique"), 1);
    // The duplicated reference never reaches the table; the request with the
    // negative quantity keeps the values it had before (quarantine does not
    // update, and does not delete).
    let mut t = client(tgt);
    let dup: i64 = t
        .query_one(
            "SELECT count(*) FROM padealing.pad_request WHERE id = $1",
            &[&faults.duplicated_reference_request],
        )
        .unwrap()
        .get(0);
    assert_eq!(dup, 0, "the request with a duplicate reference was loaded");
    let positive: bool = t
        .query_one(
            "SELECT quantity > 0 FROM padealing.pad_request WHERE id = $1",
            &[&faults.negative_quantity_request],
        )
        .unwrap()
        .get(0);
    assert!(positive, "the negative quantity was loaded");
    let original: Value = client(tgt)
        .query_one(
            "SELECT row_data::text FROM padealing.padetl_quarantine WHERE check_name = 'request_quantity_positive'",
            &[],
        )
        .map(|r| serde_json::from_str(r.get::<_, &str>(0)).unwrap())
        .unwrap();
    assert_eq!(original["id"], faults.negative_quantity_request);
    let (status, tables): (String, i64) = client(tgt)
        .query_one(
            "SELECT status, jsonb_array_length(tables) FROM padealing.padetl_runs \
             WHERE command = 'run' ORDER BY started_at DESC LIMIT 1",
            &[],
        )
        .map(|r| (r.get(0), r.get::<_, i32>(1) as i64))
        .unwrap();
    assert_eq!((status.as_str(), tables), ("succeeded", 5));

    // A second run changes nothing, quarantine included.
    let after_first = fingerprints(&dbs);
    let again = json_of(padetl(src, tgt).args(["run", &ws.pipeline_arg(), "--json", "--quiet"]));
    assert!(again["tables"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["inserted"] == 0 && t["updated"] == 0));
    assert_eq!(
        fingerprints(&dbs),
        after_first,
        "the second run changed something"
    );
}

#[test]
fn the_markdown_preflight_report_of_the_faulty_dataset() {
    let dbs = TestDbs::reserve("checks_md", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    demo_with_faults(&dbs);
    let ws = faulty_pipeline("fail");
    let check = |format: &str| check_output(src, tgt, &ws.pipeline_arg(), format, 1);
    let markdown = check("--markdown");
    let json = stable_report(serde_json::from_str(&check("--json")).unwrap());
    insta::assert_json_snapshot!("preflight_json_of_the_faulty_dataset", json);
    let html = check("--html");
    assert!(
        html.starts_with("<!DOCTYPE html>") && !html.contains("http"),
        "self-contained HTML"
    );
    insta::with_settings!({filters => vec![
        (r"postgresql://[^`]+", "URL"),
        (r"run id: `[^`]+`", "run id: RUN"),
    ]}, {
        insta::assert_snapshot!("preflight_markdown_of_the_faulty_dataset", markdown);
    });
}
