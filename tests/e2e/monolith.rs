//! The pre-app monolith (`pa_dealing.personal_account_dealing`) fanned out
//! by `pipelines/dev-monolith.toml`: into an empty target and into one that
//! already holds the v1 data. What each target table should hold is worked
//! out here from the source and the target's reference tables, not taken
//! from the pipeline's SQL.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::util::{client, json_of, padetl, repo, schema_fingerprint, table, TestDbs, Workspace};

/// Legacy requests the seed is sized for: a tenth of it are monolith rows.
const ROWS: i32 = 1000;
const PIPELINE: &str = "pipelines/dev-monolith.toml";
const SOFT_DELETED: &str = "soft-deleted in the monolith";
const TABLES: [&str; 4] = ["pad_request", "pad_approval", "pad_execution", "audit_log"];

fn seed_file(name: &str) -> String {
    std::fs::read_to_string(repo().join("seed").join(name)).expect("seed file")
}

/// A source with the monolith alone (and its reference mirror), and a
/// target with reference data only: the seed's SQL, without padetl.
fn seed_monolith_only(src: &str, tgt: &str) {
    let mut admin = client("postgres");
    for db in [src, tgt] {
        admin
            .batch_execute(&format!("CREATE DATABASE \"{db}\""))
            .expect("create database");
    }
    let mut s = client(src);
    s.batch_execute(&seed_file("reference.sql"))
        .expect("reference seed");
    s.batch_execute("CREATE SCHEMA pa_dealing").expect("schema");
    s.batch_execute(&seed_file("monolith.sql"))
        .expect("monolith seed");
    s.execute("SELECT padetl_seed_reference('source', $1)", &[&ROWS])
        .expect("source mirror");
    s.execute("SELECT padetl_seed_monolith($1)", &[&ROWS])
        .expect("monolith rows");
    let mut t = client(tgt);
    t.batch_execute(&seed_file("reference.sql"))
        .expect("reference seed");
    t.execute("SELECT padetl_seed_target($1)", &[&ROWS])
        .expect("target reference");
}

/// One monolith row as far as the expectations need it.
struct MonolithRow {
    id: i64,
    deleted: bool,
    employee: String,
    /// inst_symbol, else ISIN: how the pipeline finds the security.
    security: Option<String>,
    manager: Option<String>,
    compliance: Option<String>,
    executed: bool,
}

fn monolith_rows(src: &str) -> Vec<MonolithRow> {
    client(src)
        .query(
            "SELECT m.id::bigint, upper(coalesce(m.is_deleted_yn, 'N')) = 'Y', e.mako_id, \
                    coalesce(m.inst_symbol, m.isin), am.mako_id, ac.mako_id, \
                    m.two_business_days_execution_yn = '1' OR m.contract_notes_received_yn = '1' \
             FROM pa_dealing.personal_account_dealing m \
             JOIN bo_airflow.oracle_employee e ON e.id = m.employee \
             LEFT JOIN bo_airflow.oracle_employee am ON am.id = m.auth_manager \
             LEFT JOIN bo_airflow.oracle_employee ac ON ac.id = m.auth_compliance",
            &[],
        )
        .expect("monolith rows")
        .iter()
        .map(|r| MonolithRow {
            id: r.get(0),
            deleted: r.get(1),
            employee: r.get(2),
            security: r.get(3),
            manager: r.get(4),
            compliance: r.get(5),
            executed: r.get(6),
        })
        .collect()
}

fn strings(db: &str, sql: &str) -> BTreeSet<String> {
    client(db)
        .query(sql, &[])
        .expect(sql)
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Per target table, the keys the monolith's rows should load, from the
/// mapping as the app's team wrote it: a live row (not soft-deleted) whose
/// employee and security the target's reference tables know becomes a
/// request; its approvals follow when their approver is known too, its
/// execution when a flag says it was executed; audit rows (submission, each
/// approver's decision) are kept for every live row.
fn expected_keys(src: &str, tgt: &str) -> BTreeMap<&'static str, BTreeSet<i64>> {
    let people = strings(tgt, "SELECT mako_id FROM bo_airflow.oracle_employee");
    let securities = strings(
        tgt,
        "SELECT inst_symbol FROM bo_airflow.oracle_bloomberg UNION SELECT isin FROM bo_airflow.oracle_bloomberg",
    );
    let mut keys: BTreeMap<&str, BTreeSet<i64>> =
        TABLES.iter().map(|t| (*t, BTreeSet::new())).collect();
    let mut add = |table: &'static str, key: i64| {
        if let Some(k) = keys.get_mut(table) {
            k.insert(key);
        }
    };
    let known = |p: &Option<String>| p.as_ref().is_some_and(|p| people.contains(p));
    for m in monolith_rows(src) {
        if m.deleted {
            continue;
        }
        add("audit_log", -3 * m.id);
        if m.manager.is_some() {
            add("audit_log", -3 * m.id - 1);
        }
        if m.compliance.is_some() {
            add("audit_log", -3 * m.id - 2);
        }
        let security_ok = m.security.as_ref().is_none_or(|s| securities.contains(s));
        if !people.contains(&m.employee) || !security_ok {
            continue;
        }
        add("pad_request", -m.id);
        if known(&m.manager) {
            add("pad_approval", -2 * m.id);
        }
        if known(&m.compliance) {
            add("pad_approval", -2 * m.id - 1);
        }
        if m.executed {
            add("pad_execution", -m.id);
        }
    }
    keys
}

/// Rows the pipeline reads per target table and, of them, those of
/// soft-deleted monolith rows: plain SQL over the source.
fn source_counts(src: &str) -> BTreeMap<&'static str, (i64, i64)> {
    let row = client(src)
        .query_one(
            "WITH m AS (SELECT *, upper(coalesce(is_deleted_yn, 'N')) = 'Y' AS del, \
                          (two_business_days_execution_yn = '1' OR contract_notes_received_yn = '1') AS executed, \
                          (auth_manager IS NOT NULL)::int + (auth_compliance IS NOT NULL)::int AS approvals \
                        FROM pa_dealing.personal_account_dealing) \
             SELECT count(*), count(*) FILTER (WHERE del), \
                    coalesce(sum(approvals), 0), coalesce(sum(approvals) FILTER (WHERE del), 0), \
                    count(*) FILTER (WHERE executed), count(*) FILTER (WHERE executed AND del) \
             FROM m",
            &[],
        )
        .expect("source counts");
    let n = |i: usize| -> i64 { row.get(i) };
    BTreeMap::from([
        ("pad_request", (n(0), n(1))),
        ("pad_approval", (n(2), n(3))),
        ("pad_execution", (n(4), n(5))),
        ("audit_log", (n(0) + n(2), n(1) + n(3))),
    ])
}

fn target_keys(tgt: &str, table: &str) -> BTreeSet<i64> {
    client(tgt)
        .query(
            &format!("SELECT id FROM padealing.{table} WHERE id < 0"),
            &[],
        )
        .expect("target keys")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// What a first run of the monolith pipeline must have done, whatever the
/// target held before.
fn assert_monolith_loaded(src: &str, tgt: &str, report: &Value) {
    let counts = source_counts(src);
    let expected = expected_keys(src, tgt);
    for name in TABLES {
        let t = table(report, name);
        let (read, deleted) = counts[name];
        assert_eq!(t["read"].as_i64(), Some(read), "{name}: read\n{t}");
        assert!(deleted > 0, "{name}: the seed has no soft-deleted rows");
        assert_eq!(
            t["rejected_by_reason"][SOFT_DELETED].as_i64(),
            Some(deleted),
            "{name}: soft-deleted rows counted\n{t}"
        );
        let loaded = target_keys(tgt, name);
        assert_eq!(
            t["inserted"].as_i64(),
            Some(loaded.len() as i64),
            "{name}: inserted"
        );
        let rejected = t["rejected"].as_i64().unwrap_or(-1);
        assert_eq!(
            t["inserted"].as_i64(),
            Some(read - rejected),
            "{name}: inserted = read - rejected\n{t}"
        );
        assert_eq!(loaded, expected[name], "{name}: the rows loaded");
        assert!(!loaded.is_empty(), "{name}: nothing loaded");
    }
    let requests = table(report, "pad_request");
    assert!(
        requests["rejected_by_reason"]["orphan employee"]
            .as_i64()
            .unwrap_or(0)
            > 0,
        "the seed's leavers must be orphans: {requests}"
    );

    // Soft-deleted rows left nothing behind, not even an audit row.
    let deleted: Vec<i64> = client(src)
        .query(
            "SELECT -id::bigint FROM pa_dealing.personal_account_dealing WHERE is_deleted_yn = 'Y'",
            &[],
        )
        .expect("deleted ids")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let left: i64 = client(tgt)
        .query_one(
            "SELECT (SELECT count(*) FROM padealing.pad_request WHERE id = ANY($1)) \
                  + (SELECT count(*) FROM padealing.audit_log WHERE entity_type = 'pad_request' AND entity_id = ANY($1))",
            &[&deleted],
        )
        .expect("deleted rows in the target")
        .get(0);
    assert_eq!(left, 0, "a soft-deleted monolith row was loaded");

    // Every loaded request points at the target employee with the source's mako_id.
    let source_emp: BTreeMap<i64, String> = client(src)
        .query(
            "SELECT -m.id::bigint, e.mako_id FROM pa_dealing.personal_account_dealing m \
             JOIN bo_airflow.oracle_employee e ON e.id = m.employee",
            &[],
        )
        .expect("source employees")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let target_emp = client(tgt)
        .query(
            "SELECT r.id, e.mako_id FROM padealing.pad_request r \
             JOIN bo_airflow.oracle_employee e ON e.id = r.employee_id WHERE r.id < 0",
            &[],
        )
        .expect("target employees");
    assert_eq!(target_emp.len(), expected["pad_request"].len());
    for r in target_emp {
        let (id, mako): (i64, String) = (r.get(0), r.get(1));
        assert_eq!(
            source_emp.get(&id),
            Some(&mako),
            "request {id}: wrong employee"
        );
    }

    assert_inside_information_the_right_way_round(src, tgt);
}

/// '1' in inside_info_yn means the employee HAD inside information: a row
/// with '1' must say so in its submission's details, a row with '2' not.
fn assert_inside_information_the_right_way_round(src: &str, tgt: &str) {
    for (flag, has) in [("1", true), ("2", false)] {
        let id: i32 = client(src)
            .query_one(
                "SELECT min(id) FROM pa_dealing.personal_account_dealing \
                 WHERE inside_info_yn = $1 AND upper(coalesce(is_deleted_yn, 'N')) <> 'Y'",
                &[&flag],
            )
            .expect("a row chosen for the flag")
            .get(0);
        let details: Value = client(tgt)
            .query_one(
                "SELECT details::text FROM padealing.audit_log WHERE id = $1",
                &[&(-3 * i64::from(id))],
            )
            .map(|r| serde_json::from_str(r.get::<_, &str>(0)).expect("details are JSON"))
            .expect("the submission's audit row");
        assert_eq!(
            details["has_inside_information"],
            Value::Bool(has),
            "monolith row {id} with inside_info_yn = '{flag}': {details}"
        );
        assert_eq!(details["migrated_from"], "personal_account_dealing");
        assert_eq!(details["monolith_id"], id);
    }
}

/// A second run reads the same rows and writes nothing.
fn assert_rerun_changes_nothing(src: &str, tgt: &str) {
    assert_rerun_changes_nothing_with(src, tgt, PIPELINE)
}

fn assert_rerun_changes_nothing_with(src: &str, tgt: &str, pipeline: &str) {
    let before = schema_fingerprint(tgt, "padealing");
    let reference = schema_fingerprint(tgt, "bo_airflow");
    let second = json_of(padetl(src, tgt).args(["run", pipeline, "--json", "--quiet"]));
    for name in TABLES {
        let t = table(&second, name);
        assert_eq!(
            (t["inserted"].as_i64(), t["updated"].as_i64()),
            (Some(0), Some(0)),
            "{name} changed on the second run\n{t}"
        );
    }
    assert_eq!(
        schema_fingerprint(tgt, "padealing"),
        before,
        "the second run changed the target"
    );
    assert_eq!(schema_fingerprint(tgt, "bo_airflow"), reference);
}

#[test]
fn the_monolith_fans_out_into_an_empty_target_and_a_rerun_changes_nothing() {
    let dbs = TestDbs::reserve("monolith", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    seed_monolith_only(src, tgt);
    let reference = schema_fingerprint(tgt, "bo_airflow");
    let report = json_of(padetl(src, tgt).args(["run", PIPELINE, "--json", "--quiet"]));
    assert_monolith_loaded(src, tgt, &report);
    assert_eq!(
        schema_fingerprint(tgt, "bo_airflow"),
        reference,
        "bo_airflow changed"
    );
    assert_rerun_changes_nothing(src, tgt);
}

#[test]
fn the_monolith_joins_v1_data_already_migrated_without_touching_it() {
    let dbs = TestDbs::reserve("monolith_v1", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let rows = ROWS.to_string();
    padetl(src, tgt)
        .args(["demo", "--rows", &rows, "--quiet"])
        .assert()
        .success();
    let v1_rows = |db: &str| -> Vec<String> {
        TABLES
            .iter()
            .chain(["pad_breach"].iter())
            .map(|t| {
                client(db)
                    .query_one(
                        &format!(
                            "SELECT count(*)::text || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x.id)), '') \
                             FROM padealing.{t} x WHERE x.id > 0"
                        ),
                        &[],
                    )
                    .expect("v1 rows")
                    .get(0)
            })
            .collect()
    };
    let v1_before = v1_rows(tgt);
    assert!(
        !v1_before[0].starts_with("0:"),
        "the demo loaded no v1 requests"
    );
    let report = json_of(padetl(src, tgt).args(["run", PIPELINE, "--json", "--quiet"]));
    assert_monolith_loaded(src, tgt, &report);
    assert_eq!(v1_rows(tgt), v1_before, "the monolith run changed v1 rows");
    assert_rerun_changes_nothing(src, tgt);
}

#[test]
fn a_quarantined_monolith_request_takes_its_approvals_and_execution_with_it() {
    let dbs = TestDbs::reserve("monolith_q", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    seed_monolith_only(src, tgt);
    // A live request that loads with both approvals and an execution.
    let expected = expected_keys(src, tgt);
    let request = *expected["pad_execution"]
        .iter()
        .find(|&&k| {
            expected["pad_approval"].contains(&(2 * k))
                && expected["pad_approval"].contains(&(2 * k - 1))
        })
        .expect("a request with two approvals and an execution");
    let ws = Workspace::new(&[], "");
    std::fs::write(
        ws.pipeline(),
        format!(
            "env = \"test\"\ninclude = [\"{}\"]\n\n[source]\nurl = \"${{SOURCE_DATABASE_URL}}\"\n\n\
             [target]\nurl = \"${{TARGET_DATABASE_URL}}\"\n\n\
             [[checks]]\nname = \"held_for_review\"\ntable = \"pad_request\"\nkind = \"sql\"\n\
             sql = \"SELECT id FROM source.pad_request WHERE id = {request}\"\npolicy = \"quarantine\"\n",
            repo().join("pipelines/shared/monolith.toml").display()
        ),
    )
    .expect("pipeline file");
    let report = json_of(padetl(src, tgt).args(["run", &ws.pipeline_arg(), "--json", "--quiet"]));
    let held: BTreeSet<(String, i64)> = client(tgt)
        .query(
            "SELECT table_name, row_key FROM padealing.padetl_quarantine",
            &[],
        )
        .expect("quarantine")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let want: BTreeSet<(String, i64)> = [
        ("pad_request", request),
        ("pad_approval", 2 * request),
        ("pad_approval", 2 * request - 1),
        ("pad_execution", request),
    ]
    .into_iter()
    .map(|(t, k)| (t.to_string(), k))
    .collect();
    assert_eq!(held, want, "the request and its children are held");
    for (name, n) in [
        ("pad_request", 1),
        ("pad_approval", 2),
        ("pad_execution", 1),
    ] {
        assert_eq!(
            table(&report, name)["quarantined"].as_i64(),
            Some(n),
            "{name}"
        );
        let loaded = target_keys(tgt, name);
        let mut expected_loaded = expected[name].clone();
        for (t, k) in &want {
            if t == name {
                expected_loaded.remove(k);
            }
        }
        assert_eq!(loaded, expected_loaded, "{name}: the rows loaded");
    }
    // Audit rows are never held back with their request.
    assert_eq!(target_keys(tgt, "audit_log"), expected["audit_log"]);
    assert_rerun_changes_nothing_with(src, tgt, &ws.pipeline_arg());
}
