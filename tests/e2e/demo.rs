//! The demo dataset end to end: counts, re-keying, timestamps, reference
//! tables untouched, and a second run that changes nothing.

use std::collections::BTreeMap;

use crate::util::{client, count, json_of, padetl, repo, schema_fingerprint, table, TestDbs};

const ROWS: &str = "400";
const TABLES: [(&str, &str); 5] = [
    ("pad_request", "pa_dealing.pad_request"),
    ("pad_approval", "pa_dealing.pad_approval"),
    ("pad_execution", "pa_dealing.pad_execution"),
    ("pad_breach", "pa_dealing.pad_breach"),
    ("audit_log", "pa_dealing.audit_logs"),
];

/// `(id, natural key)` pairs of `sql` on `db`.
fn pairs(db: &str, sql: &str) -> BTreeMap<i64, String> {
    client(db)
        .query(sql, &[])
        .expect(sql)
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// The reference schema as the seed alone leaves it, on a database of its own.
fn pristine_reference(db: &str) -> String {
    let mut c = client(db);
    let sql =
        std::fs::read_to_string(repo().join("seed/reference.sql")).expect("seed/reference.sql");
    c.batch_execute(&sql).expect("seed reference");
    c.execute(
        "SELECT padetl_seed_target($1)",
        &[&ROWS.parse::<i32>().unwrap()],
    )
    .expect("seed target");
    schema_fingerprint(db, "bo_airflow")
}

#[test]
fn demo_moves_everything_rekeyed_and_a_second_run_changes_nothing() {
    let dbs = TestDbs::reserve("demo", 3);
    let (src, tgt, pristine) = (&dbs.names[0], &dbs.names[1], &dbs.names[2]);
    let report = json_of(padetl(src, tgt).args(["demo", "--rows", ROWS, "--json", "--quiet"]));

    // Counts: read = source rows; written = target rows = read - rejected.
    for (name, source_table) in TABLES {
        let t = table(&report, name);
        let (read, inserted, rejected) = (
            t["read"].as_i64().unwrap(),
            t["inserted"].as_i64().unwrap(),
            t["rejected"].as_i64().unwrap(),
        );
        assert_eq!(read, count(src, source_table), "{name}: read");
        assert_eq!(
            inserted,
            count(tgt, &format!("padealing.{name}")),
            "{name}: target rows"
        );
        assert_eq!(inserted, read - rejected, "{name}: read - rejected");
        assert!(inserted > 0, "{name}: nothing loaded");
    }
    let requests = table(&report, "pad_request");
    assert!(
        requests["rejected_by_reason"]["orphan employee"]
            .as_i64()
            .unwrap_or(0)
            > 0,
        "the seed's leavers must be orphans: {requests}"
    );

    // Re-keying: each loaded request points at the target employee and
    // security with the same natural key as the source row's.
    let by_employee = "SELECT r.id::bigint, e.mako_id FROM {r} r JOIN bo_airflow.oracle_employee e ON e.id = r.employee_id";
    let source_emp = pairs(src, &by_employee.replace("{r}", "pa_dealing.pad_request"));
    let target_emp = pairs(tgt, &by_employee.replace("{r}", "padealing.pad_request"));
    assert_eq!(
        target_emp.len() as i64,
        count(tgt, "padealing.pad_request"),
        "every request has a target employee"
    );
    for (id, mako) in &target_emp {
        assert_eq!(
            Some(mako),
            source_emp.get(id),
            "request {id} re-pointed to the wrong employee"
        );
    }
    let by_security = "SELECT r.id::bigint, s.isin FROM {r} r JOIN bo_airflow.oracle_bloomberg s ON s.id = r.security_id";
    let source_sec = pairs(src, &by_security.replace("{r}", "pa_dealing.pad_request"));
    let target_sec = pairs(tgt, &by_security.replace("{r}", "padealing.pad_request"));
    assert!(!target_sec.is_empty());
    for (id, isin) in &target_sec {
        assert_eq!(
            Some(isin),
            source_sec.get(id),
            "request {id} re-pointed to the wrong security"
        );
    }

    // Timestamps: London local in the source, the same instant in the target.
    let epochs = "SELECT id::bigint, extract(epoch FROM {expr})::text FROM {t}";
    let source_ts = pairs(
        src,
        &epochs
            .replace("{expr}", "created_at AT TIME ZONE 'Europe/London'")
            .replace("{t}", "pa_dealing.pad_request"),
    );
    let target_ts = pairs(
        tgt,
        &epochs
            .replace("{expr}", "created_at")
            .replace("{t}", "padealing.pad_request"),
    );
    for (id, ts) in &target_ts {
        assert_eq!(
            Some(ts),
            source_ts.get(id),
            "request {id}: created_at not converted from London time"
        );
    }

    // The reference schema is exactly what the seed made: the run wrote nothing there.
    client("postgres")
        .batch_execute(&format!("CREATE DATABASE \"{pristine}\""))
        .expect("create pristine");
    let before = pristine_reference(pristine);
    assert_eq!(
        schema_fingerprint(tgt, "bo_airflow"),
        before,
        "bo_airflow changed"
    );

    // A second run of the same pipeline changes nothing.
    let app_before = schema_fingerprint(tgt, "padealing");
    let second = json_of(padetl(src, tgt).args(["run", "pipelines/dev.toml", "--json", "--quiet"]));
    assert_eq!(second["schema"]["action"], "use");
    assert_eq!(second["schema"]["steps"], serde_json::json!([]));
    for (name, _) in TABLES {
        let t = table(&second, name);
        assert_eq!(
            (t["inserted"].as_i64(), t["updated"].as_i64()),
            (Some(0), Some(0)),
            "{name} changed on the second run"
        );
    }
    assert_eq!(
        schema_fingerprint(tgt, "padealing"),
        app_before,
        "the second run changed the target"
    );
    assert_eq!(
        schema_fingerprint(tgt, "bo_airflow"),
        before,
        "bo_airflow changed on the second run"
    );
}

#[test]
fn demo_never_drops_a_database_it_did_not_create() {
    let dbs = TestDbs::reserve("foreign", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let mut admin = client("postgres");
    admin
        .batch_execute(&format!("CREATE DATABASE \"{src}\""))
        .expect("create a foreign database");
    client(src)
        .batch_execute("CREATE TABLE precious (x int); INSERT INTO precious VALUES (1)")
        .expect("fill it");
    padetl(src, tgt)
        .args(["demo", "--rows", "50", "--quiet"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("was not created by padetl demo"));
    assert_eq!(
        count(src, "precious"),
        1,
        "the demo touched a database it did not create"
    );
}
