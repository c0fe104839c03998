//! Incremental refresh on the demo's data: requests by a change column with
//! an overlap, approvals and audit rows by a key that only grows. A run
//! reads only what changed since the marks; a failed run leaves the marks
//! where they were; a row changed inside the overlap is picked up; a child
//! of a row rejected in an earlier run is still rejected; a changed
//! pipeline, and `--full`, read everything again; a rerun changes nothing.

use serde_json::Value;

use crate::util::{client, json_of, padetl, repo, schema_fingerprint, table, TestDbs, Workspace};

const MIGRATIONS: [&str; 3] = [
    "0001_v1_legacy_layout.sql",
    "0002_v2_padealing.sql",
    "0003_v3_current.sql",
];

const INCREMENTAL: &str = r#"
[[tables]]
name = "pad_request"
incremental = { column = "updated_at", overlap = "5m" }

[[tables]]
name = "pad_approval"
incremental = { key = "id" }

[[tables]]
name = "audit_log"
incremental = { key = "id" }
"#;

fn workspace(extra: &str) -> Workspace {
    let ws = Workspace::new(&MIGRATIONS, "");
    let toml = std::fs::read_to_string(ws.pipeline()).unwrap();
    std::fs::write(ws.pipeline(), format!("{toml}{INCREMENTAL}{extra}")).unwrap();
    ws
}

fn read(report: &Value, name: &str) -> i64 {
    table(report, name)["read"].as_i64().unwrap()
}

fn mark(tgt: &str, name: &str) -> String {
    client(tgt)
        .query_one(
            "SELECT mark FROM padealing.padetl_marks WHERE table_name = $1",
            &[&name],
        )
        .unwrap()
        .get(0)
}

/// The demo's 300 requests in fresh databases named after `tag`, each
/// request changed in the source at its own hour (`updated_at`; the last at
/// 2026-01-13 12:00).
fn demo_changed_hourly(tag: &str) -> TestDbs {
    let dbs = TestDbs::reserve(tag, 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    json_of(padetl(src, tgt).args(["demo", "--rows", "300", "--json", "--quiet"]));
    client(src)
        .batch_execute(
            "ALTER TABLE pa_dealing.pad_request ADD COLUMN updated_at timestamp; \
             UPDATE pa_dealing.pad_request SET updated_at = TIMESTAMP '2026-01-01' + id * INTERVAL '1 hour'",
        )
        .unwrap();
    dbs
}

#[test]
fn an_incremental_run_reads_only_what_changed_and_a_failed_run_keeps_the_marks() {
    let dbs = demo_changed_hourly("incr");
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let mut s = client(src);
    let ws = workspace("");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--json", "--quiet"];
        let p = ws.pipeline_arg();
        args.insert(1, &p);
        args.extend_from_slice(extra);
        json_of(padetl(src, tgt).args(&args))
    };

    let first = run(&[]);
    assert_eq!(read(&first, "pad_request"), 300);
    assert_eq!(
        table(&first, "pad_request")["incremental"],
        "full read: no mark yet"
    );
    // A change column's mark is its largest value less the overlap.
    assert_eq!(mark(tgt, "pad_request"), "2026-01-13 11:55:00");
    assert_eq!(mark(tgt, "audit_log"), "900");
    // Rows held back are read again by key each time: their cause may go.
    let held = |report: &Value, name: &str| {
        let t = table(report, name);
        t["rejected"].as_i64().unwrap() + t["quarantined"].as_i64().unwrap()
    };
    let (held_requests, held_approvals) =
        (held(&first, "pad_request"), held(&first, "pad_approval"));
    assert!(held_requests > 0 && held_approvals > 0);

    // Nothing changed: only the request inside the overlap, and the rows
    // held back, are read again.
    let before = schema_fingerprint(tgt, "padealing");
    let second = run(&[]);
    // Request 300 (inside the overlap) is read again unless it is held back anyway.
    let last_loaded: i64 = client(tgt)
        .query_one(
            "SELECT count(*) FROM padealing.pad_request WHERE id = 300",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(read(&second, "pad_request"), last_loaded + held_requests);
    assert_eq!(read(&second, "pad_approval"), held_approvals);
    assert_eq!(read(&second, "audit_log"), 0);
    assert_eq!(
        second["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["inserted"].as_i64().unwrap() + t["updated"].as_i64().unwrap())
            .sum::<i64>(),
        0
    );
    assert_eq!(
        schema_fingerprint(tgt, "padealing"),
        before,
        "a rerun changed the target"
    );

    // A request changed by a writer whose clock is 2 minutes behind (inside
    // the overlap), one changed later, two new audit rows, and an approval
    // of a request the first run rejected.
    let rejected_request: i32 = s
        .query_one(
            "SELECT min(id) FROM pa_dealing.pad_request WHERE id <> ALL($1::int[])",
            &[&client(tgt)
                .query("SELECT id::int FROM padealing.pad_request", &[])
                .unwrap()
                .iter()
                .map(|r| r.get::<_, i32>(0))
                .collect::<Vec<i32>>()],
        )
        .unwrap()
        .get(0);
    s.batch_execute(&format!(
        "UPDATE pa_dealing.pad_request SET reason = 'changed late', updated_at = TIMESTAMP '2026-01-13 11:58' WHERE id = 10; \
         UPDATE pa_dealing.pad_request SET reason = 'changed later', updated_at = TIMESTAMP '2026-01-13 13:00' WHERE id = 20; \
         INSERT INTO pa_dealing.audit_logs SELECT id + 1000, request_id, action, actor_email, payload, created_at \
           FROM pa_dealing.audit_logs WHERE id IN (1, 2); \
         INSERT INTO pa_dealing.pad_approval (id, request_id, approver_id, level, approved, comment, decided_at) \
           SELECT 5000, {rejected_request}, approver_id, level, approved, comment, decided_at \
           FROM pa_dealing.pad_approval ORDER BY id LIMIT 1"
    ))
    .unwrap();

    // A run that fails (a `fail` check on the rows read) keeps the marks.
    let failing = workspace(
        "\n[[checks]]\nname = \"no_late_changes\"\ntable = \"pad_request\"\nkind = \"sql\"\n\
         sql = \"SELECT id FROM source.pad_request WHERE reason LIKE 'changed%'\"\npolicy = \"fail\"\n",
    );
    padetl(src, tgt)
        .args(["run", &failing.pipeline_arg(), "--quiet"])
        .assert()
        .code(1);
    assert_eq!(mark(tgt, "pad_request"), "2026-01-13 11:55:00");
    assert_eq!(mark(tgt, "audit_log"), "900");

    let third = run(&[]);
    assert_eq!(
        read(&third, "pad_request"),
        2 + last_loaded + held_requests,
        "ids 10 (in the overlap), 20 and 300, and the rows held back"
    );
    assert_eq!(table(&third, "pad_request")["updated"], 2);
    assert_eq!(read(&third, "audit_log"), 2);
    assert_eq!(table(&third, "audit_log")["inserted"], 2);
    let approvals = table(&third, "pad_approval");
    assert_eq!(approvals["read"].as_i64(), Some(1 + held_approvals));
    assert_eq!(approvals["rejected"].as_i64(), Some(1 + held_approvals));
    let kept: i64 = client(tgt)
        .query_one(
            "SELECT count(*) FROM padealing.padetl_rejected WHERE table_name = 'pad_approval' AND row_key = 5000",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        kept, 1,
        "the new approval of a rejected request is rejected and kept"
    );
    let reasons: Vec<String> = client(tgt)
        .query(
            "SELECT reason FROM padealing.pad_request WHERE id IN (10, 20) ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(reasons, ["changed late", "changed later"]);
    assert_eq!(mark(tgt, "pad_request"), "2026-01-13 12:55:00");
    assert_eq!(mark(tgt, "audit_log"), "1002");

    // --full reads everything and changes nothing.
    let before = schema_fingerprint(tgt, "padealing");
    let full = run(&["--full"]);
    assert_eq!(read(&full, "audit_log"), 902);
    assert_eq!(
        table(&full, "audit_log")["incremental"],
        "full read: --full"
    );
    assert_eq!(schema_fingerprint(tgt, "padealing"), before);
}

#[test]
fn a_changed_transform_reads_the_table_in_full_and_says_so() {
    let dbs = TestDbs::reserve("incr_hash", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    json_of(padetl(src, tgt).args(["demo", "--rows", "200", "--json", "--quiet"]));
    client(src)
        .batch_execute("ALTER TABLE pa_dealing.pad_request ADD COLUMN updated_at timestamp DEFAULT '2026-01-01'")
        .unwrap();
    let ws = workspace("");
    json_of(padetl(src, tgt).args(["run", &ws.pipeline_arg(), "--json", "--quiet"]));
    let again = json_of(padetl(src, tgt).args(["run", &ws.pipeline_arg(), "--json", "--quiet"]));
    assert_eq!(read(&again, "audit_log"), 0);

    let sql = std::fs::read_to_string(repo().join("pipelines/sql/audit_log.sql")).unwrap();
    let changed = ws.dir.join("audit_log.sql");
    std::fs::write(&changed, format!("{sql}\n-- reviewed\n")).unwrap();
    let toml = std::fs::read_to_string(ws.pipeline()).unwrap().replace(
        "name = \"audit_log\"\n",
        &format!("name = \"audit_log\"\nsql = \"{}\"\n", changed.display()),
    );
    std::fs::write(ws.pipeline(), toml).unwrap();
    let report = json_of(padetl(src, tgt).args(["run", &ws.pipeline_arg(), "--json", "--quiet"]));
    assert_eq!(read(&report, "audit_log"), 600);
    assert!(table(&report, "audit_log")["incremental"]
        .as_str()
        .unwrap()
        .contains("changed since the mark"));
    assert!(
        table(&report, "pad_approval")["incremental"]
            .as_str()
            .unwrap()
            .starts_with("incremental:"),
        "other tables stay incremental"
    );
}

/// An incremental run stages a few rows against a table the planner has
/// counted, so it looks their target rows up by key: a row the app edited
/// since padetl wrote it, changed in the legacy source too, is still found
/// and refused, and nothing is written.
#[test]
fn an_incremental_run_still_finds_a_row_edited_in_the_target() {
    let dbs = demo_changed_hourly("incr_edit");
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let ws = workspace("");
    let p = ws.pipeline_arg();
    json_of(padetl(src, tgt).args(["run", &p, "--json", "--quiet"]));
    let mut t = client(tgt);
    t.batch_execute("ANALYZE padealing.pad_request").unwrap();
    let id: i64 = t
        .query_one("SELECT min(id) FROM padealing.pad_request", &[])
        .unwrap()
        .get(0);
    t.execute(
        "UPDATE padealing.pad_request SET reason = 'edited in QA' WHERE id = $1",
        &[&id],
    )
    .unwrap();
    client(src)
        .execute(
            "UPDATE pa_dealing.pad_request SET reason = 'changed in legacy', \
             updated_at = TIMESTAMP '2026-06-01' WHERE id = $1",
            &[&(id as i32)],
        )
        .unwrap();
    let before = schema_fingerprint(tgt, "padealing");

    let out = padetl(src, tgt)
        .env("PADETL_LOG", "padetl::load=debug")
        .args(["run", &p, "--quiet"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("looking for rows changed in the target") && stderr.contains("by_key=true"),
        "the few staged rows are looked up by key: {stderr}"
    );
    assert!(
        stderr.contains(&format!("id={id} changed in the target")),
        "{stderr}"
    );
    let reason: String = client(tgt)
        .query_one(
            "SELECT reason FROM padealing.pad_request WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(reason, "edited in QA");
    assert_eq!(schema_fingerprint(tgt, "padealing"), before);
}
