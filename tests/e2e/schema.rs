//! Schema reconciliation against real targets: empty, v1 and v2 with rows,
//! v3, hand-made v2 without history, drifted, a changed migration file,
//! concurrent runs, a lock that cannot be had, and migrations that try to
//! reach the reference schema. Each checks the classification, the
//! resulting catalog, the rows kept, and that `bo_airflow` is unchanged.

use std::process::{Command as StdCommand, Stdio};

use predicates::prelude::*;
use serde_json::Value;

use crate::util::{
    client, count, json_of, padetl, repo, row_counts, schema_fingerprint, seed_v1_rows, url_for,
    v1_by_hand, TestDbs, Workspace,
};

pub(crate) const V1: &str = "0001_v1_legacy_layout.sql";
pub(crate) const V2: &str = "0002_v2_padealing.sql";
pub(crate) const V3: &str = "0003_v3_current.sql";

/// A seeded source and target (reference data on both), with the target's
/// app schema removed: the starting point of every case here.
pub(crate) fn seeded(tag: &str) -> TestDbs {
    let dbs = TestDbs::reserve(tag, 2);
    padetl(&dbs.names[0], &dbs.names[1])
        .args(["demo", "--rows", "40", "--quiet"])
        .assert()
        .success();
    client(&dbs.names[1])
        .batch_execute("DROP SCHEMA padealing CASCADE")
        .expect("drop the demo's app schema");
    dbs
}

pub(crate) fn plan_json(dbs: &TestDbs, pipeline: &str) -> Value {
    json_of(padetl(&dbs.names[0], &dbs.names[1]).args(["plan", pipeline, "--json"]))
}

pub(crate) fn states(plan: &Value) -> Vec<(String, String)> {
    plan["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|t| {
            let state = t["state"].as_str().unwrap_or_default().to_string();
            (t["table"].as_str().unwrap_or_default().to_string(), state)
        })
        .collect()
}

fn all_in_state(plan: &Value, state: &str) -> bool {
    states(plan).iter().all(|(_, s)| s == state)
}

pub(crate) fn history(db: &str) -> Vec<(i64, String)> {
    client(db)
        .query(
            "SELECT version, kind FROM padealing.padetl_schema_history ORDER BY version",
            &[],
        )
        .expect("history")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

pub(crate) fn run(dbs: &TestDbs, pipeline: &str) -> Value {
    json_of(padetl(&dbs.names[0], &dbs.names[1]).args(["run", pipeline, "--json", "--quiet"]))
}

fn migrate(dbs: &TestDbs, pipeline: &str) -> Value {
    json_of(padetl(&dbs.names[0], &dbs.names[1]).args(["migrate", pipeline, "--json", "--quiet"]))
}

/// Rows the upgrade must keep: v1 names mapped to their v3 names.
pub(crate) fn counts_as_v3(before: Vec<(String, i64)>) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = before
        .into_iter()
        .map(|(t, n)| {
            (
                if t == "audit_logs" {
                    "audit_log".into()
                } else {
                    t
                },
                n,
            )
        })
        .collect();
    out.sort();
    out
}

fn assert_v3(db: &str) {
    let plan_state =
        json_of(padetl("unused_source", db).args(["plan", "pipelines/dev.toml", "--json"]));
    assert_eq!(plan_state["action"], "use", "{plan_state:#}");
    assert!(all_in_state(&plan_state, "matches"), "{plan_state:#}");
    assert_eq!(plan_state["steps"], serde_json::json!([]));
}

#[test]
fn empty_target_is_created_and_plan_writes_nothing() {
    let dbs = seeded("s_empty");
    let tgt = &dbs.names[1];
    let (app, reference) = (
        schema_fingerprint(tgt, "padealing"),
        schema_fingerprint(tgt, "bo_airflow"),
    );
    let plan = plan_json(&dbs, "pipelines/dev.toml");
    assert_eq!(plan["action"], "create");
    assert!(all_in_state(&plan, "missing"), "{plan:#}");
    assert_eq!(
        schema_fingerprint(tgt, "padealing"),
        app,
        "plan wrote to the app schema"
    );
    assert_eq!(
        schema_fingerprint(tgt, "bo_airflow"),
        reference,
        "plan touched bo_airflow"
    );

    run(&dbs, "pipelines/dev.toml");
    assert_eq!(
        history(tgt),
        [
            (1, "applied".into()),
            (2, "applied".into()),
            (3, "applied".into())
        ]
    );
    assert_v3(tgt);
    assert_eq!(schema_fingerprint(tgt, "bo_airflow"), reference);
}

#[test]
fn v1_target_with_rows_is_baselined_then_upgraded_keeping_every_row() {
    let dbs = seeded("s_v1");
    let tgt = &dbs.names[1];
    v1_by_hand(tgt, 70);
    let before = row_counts(tgt, "padealing");
    let reference = schema_fingerprint(tgt, "bo_airflow");

    let plan = plan_json(&dbs, "pipelines/dev.toml");
    assert_eq!(
        (plan["shape_version"].as_i64(), &plan["action"]),
        (Some(1), &Value::from("upgrade"))
    );
    assert_eq!(
        (plan["from"].as_i64(), plan["to"].as_i64()),
        (Some(1), Some(3))
    );
    assert!(all_in_state(&plan, "outdated"), "{plan:#}");
    let audit = plan["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "audit_log")
        .unwrap();
    assert_eq!(audit["found_as"], "audit_logs");
    assert_eq!(
        plan["steps"][0],
        serde_json::json!({"step": "baseline", "versions": [1]})
    );

    migrate(&dbs, "pipelines/dev.toml");
    assert_eq!(counts_as_v3(before), row_counts(tgt, "padealing"));
    run(&dbs, "pipelines/dev.toml");
    assert_eq!(
        history(tgt),
        [
            (1, "baseline".into()),
            (2, "applied".into()),
            (3, "applied".into())
        ]
    );
    let converted: i64 = client(tgt)
        .query_one(
            "SELECT count(*) FROM padealing.pad_request WHERE id > 40 \
             AND direction IN ('buy', 'sell') AND reference_id LIKE 'PAD-%' AND updated_at = created_at",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        converted, 30,
        "target-only rows were not converted by the migrations"
    );
    assert_v3(tgt);
    assert_eq!(schema_fingerprint(tgt, "bo_airflow"), reference);
}

#[test]
fn v2_target_with_history_is_planned_and_upgraded() {
    let dbs = seeded("s_v2");
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let only_v1 = Workspace::new(&[V1], "");
    padetl(src, tgt)
        .args(["migrate", &only_v1.pipeline_arg(), "--quiet"])
        .assert()
        .success();
    seed_v1_rows(tgt, 60);
    let up_to_v2 = Workspace::new(&[V1, V2], "");
    padetl(src, tgt)
        .args(["migrate", &up_to_v2.pipeline_arg(), "--quiet"])
        .assert()
        .success();
    let before = row_counts(tgt, "padealing");
    let reference = schema_fingerprint(tgt, "bo_airflow");
    let app = schema_fingerprint(tgt, "padealing");

    let out = padetl(src, tgt)
        .args(["plan", "pipelines/dev.toml"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).replace(tgt.as_str(), "TARGET");
    insta::assert_snapshot!("plan_of_a_v2_target", text);
    assert_eq!(
        schema_fingerprint(tgt, "padealing"),
        app,
        "plan changed the target"
    );

    let migrated = migrate(&dbs, "pipelines/dev.toml");
    assert_eq!(migrated["action"], "upgrade");
    assert_eq!(before, row_counts(tgt, "padealing"));
    run(&dbs, "pipelines/dev.toml");
    assert_eq!(
        history(tgt),
        [
            (1, "applied".into()),
            (2, "applied".into()),
            (3, "applied".into())
        ]
    );
    assert_v3(tgt);
    assert_eq!(schema_fingerprint(tgt, "bo_airflow"), reference);
}

/// v2 as the app's old `create_all` would have made it: other column order,
/// bigserial instead of serial-then-bigint, inline constraints.
pub(crate) const HAND_MADE_V2: &str = "
CREATE SCHEMA padealing;
CREATE TABLE padealing.pad_request (
    id bigserial PRIMARY KEY, reference_id text NOT NULL UNIQUE,
    employee_id bigint NOT NULL, security_id bigint, ticker varchar(32) NOT NULL,
    direction char(1) NOT NULL, quantity integer NOT NULL, price numeric,
    currency varchar(3) NOT NULL, status varchar(20) NOT NULL, reason text,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE padealing.pad_approval (
    id bigserial PRIMARY KEY, request_id bigint NOT NULL REFERENCES padealing.pad_request (id),
    approver_id bigint NOT NULL, level varchar(20) NOT NULL, approved boolean,
    comment text, decided_at timestamptz);
CREATE TABLE padealing.pad_execution (
    id bigserial PRIMARY KEY, request_id bigint NOT NULL REFERENCES padealing.pad_request (id),
    exec_date date NOT NULL, exec_price numeric NOT NULL, exec_qty integer NOT NULL);
CREATE TABLE padealing.pad_breach (
    id bigserial PRIMARY KEY, request_id bigint REFERENCES padealing.pad_request (id),
    employee_id bigint NOT NULL, breach_type varchar(40) NOT NULL, details text,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE padealing.audit_log (
    id bigserial PRIMARY KEY, request_id bigint, action varchar(64) NOT NULL,
    actor_email text, payload text, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO padealing.pad_request (id, reference_id, employee_id, ticker, direction, quantity, currency, status, created_at)
VALUES (900001, 'PAD-2024-900001', 1, 'VOD', 'B', 10, 'gbp', 'pending', '2024-03-31 00:30+00');
INSERT INTO padealing.pad_approval (id, request_id, approver_id, level, approved) VALUES (900001, 900001, 2, 'MANAGER', NULL);
INSERT INTO padealing.audit_log (id, request_id, action, actor_email, payload) VALUES (900001, 900001, 'create', 'A@X.COM', '{not json');
";

#[test]
fn hand_made_v2_without_history_is_recognised_and_upgraded() {
    let dbs = seeded("s_hand");
    let tgt = &dbs.names[1];
    client(tgt)
        .batch_execute(HAND_MADE_V2)
        .expect("hand-made v2");
    let before = row_counts(tgt, "padealing");

    let plan = plan_json(&dbs, "pipelines/dev.toml");
    assert_eq!(plan["shape_version"], 2, "{plan:#}");
    assert!(plan["history"].is_null());
    assert_eq!(
        plan["steps"][0],
        serde_json::json!({"step": "baseline", "versions": [1, 2]})
    );

    migrate(&dbs, "pipelines/dev.toml");
    assert_eq!(before, row_counts(tgt, "padealing"));
    run(&dbs, "pipelines/dev.toml");
    let kept = client(tgt)
        .query_one(
            "SELECT r.direction || '/' || r.currency || '/' || r.status, a.decision, l.details::text \
             FROM padealing.pad_request r JOIN padealing.pad_approval a ON a.request_id = r.id \
             JOIN padealing.audit_log l ON l.entity_id = r.id WHERE r.id = 900001",
            &[],
        )
        .expect("the hand-made rows survive the upgrade");
    assert_eq!(kept.get::<_, String>(0), "buy/GBP/pending_manager_approval");
    assert_eq!(kept.get::<_, String>(1), "pending");
    assert_eq!(kept.get::<_, String>(2), r#"{"raw": "{not json"}"#);
    assert_eq!(
        history(tgt),
        [
            (1, "baseline".into()),
            (2, "baseline".into()),
            (3, "applied".into())
        ]
    );
    assert_v3(tgt);
}

#[test]
fn drifted_target_gets_the_safe_part_and_destructive_changes_need_the_flag() {
    let dbs = seeded("s_drift");
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    run(&dbs, "pipelines/dev.toml");
    client(tgt)
        .batch_execute(
            "ALTER TABLE padealing.pad_request ADD COLUMN note text; \
             DROP INDEX padealing.pad_execution_request_id_idx; \
             ALTER TABLE padealing.pad_request ALTER COLUMN estimated_price TYPE numeric(30,6)",
        )
        .expect("drift");
    let reference = schema_fingerprint(tgt, "bo_airflow");

    let mut plan = plan_json(&dbs, "pipelines/dev.toml");
    plan["target"] = "TARGET".into();
    insta::assert_json_snapshot!("plan_of_a_drifted_target", plan);

    run(&dbs, "pipelines/dev.toml");
    let index: i64 = client(tgt)
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'padealing' AND indexname = 'pad_execution_request_id_idx'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(index, 1, "the missing index was not created");
    let again = plan_json(&dbs, "pipelines/dev.toml");
    assert_eq!(
        again["steps"],
        serde_json::json!([]),
        "a second run would change more"
    );
    assert_eq!(again["not_applied"].as_array().map(Vec::len), Some(2));

    let app = schema_fingerprint(tgt, "padealing");
    run(&dbs, "pipelines/dev.toml");
    assert_eq!(
        schema_fingerprint(tgt, "padealing"),
        app,
        "a repeated run changed the target"
    );

    padetl(src, tgt)
        .args([
            "run",
            "pipelines/dev.toml",
            "--allow-destructive",
            "--quiet",
        ])
        .assert()
        .success();
    assert_v3(tgt);
    assert_eq!(schema_fingerprint(tgt, "bo_airflow"), reference);
}

#[test]
fn a_changed_migration_file_is_refused_by_name() {
    let dbs = seeded("s_sum");
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    run(&dbs, "pipelines/dev.toml");
    let ws = Workspace::new(&[V1, V3], "");
    let v2 = std::fs::read_to_string(repo().join("migrations").join(V2)).unwrap();
    ws.add_migration(V2, &format!("{v2}\n-- edited after it was applied\n"));
    let before = schema_fingerprint(tgt, "padealing");
    for cmd in ["plan", "run"] {
        padetl(src, tgt)
            .args([cmd, &ws.pipeline_arg(), "--quiet"])
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains(V2)
                    .and(predicate::str::contains("changed after it was applied")),
            );
    }
    assert_eq!(schema_fingerprint(tgt, "padealing"), before);
}

/// Holds padetl's run lock on the target's app schema, as another run would.
fn hold_run_lock(db: &str) -> postgres::Client {
    let mut holder = client(db);
    holder
        .execute("SELECT pg_advisory_lock(hashtext('padetl:padealing'))", &[])
        .expect("take the run lock");
    holder
}

#[test]
fn concurrent_runs_wait_for_each_other_and_apply_each_migration_once() {
    let dbs = seeded("s_conc");
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let holder = hold_run_lock(tgt);
    let bin = assert_cmd::cargo::cargo_bin("padetl");
    let spawn = || {
        StdCommand::new(&bin)
            .current_dir(repo())
            .args(["run", "pipelines/dev.toml"])
            .env("SOURCE_DATABASE_URL", url_for(src))
            .env("TARGET_DATABASE_URL", url_for(tgt))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start padetl")
    };
    let (a, b) = (spawn(), spawn());
    std::thread::sleep(std::time::Duration::from_millis(1500));
    drop(holder);
    for child in [a, b] {
        let out = child.wait_with_output().expect("padetl finishes");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stderr.contains("another padetl run holds the lock"),
            "{stderr}"
        );
    }
    assert_eq!(
        history(tgt),
        [
            (1, "applied".into()),
            (2, "applied".into()),
            (3, "applied".into())
        ]
    );
    assert_v3(tgt);
}

#[test]
fn a_run_gives_up_after_lock_timeout_and_changes_nothing() {
    let dbs = seeded("s_lock");
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let ws = Workspace::new(&[V1, V2, V3], "lock_timeout = \"1s\"");
    let _holder = hold_run_lock(tgt);
    let before = schema_fingerprint(tgt, "padealing");
    padetl(src, tgt)
        .args(["run", &ws.pipeline_arg()])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("gave up after lock_timeout 1s"));
    assert_eq!(schema_fingerprint(tgt, "padealing"), before);
}

#[test]
fn a_migration_naming_the_reference_schema_is_refused_before_anything_runs() {
    let dbs = seeded("s_ref");
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let ws = Workspace::new(&[V1, V2, V3], "");
    ws.add_migration(
        "0004_touch.sql",
        "-- tries what Alembic once did\nALTER TABLE bo_airflow.oracle_employee ADD COLUMN note text;\n",
    );
    let reference = schema_fingerprint(tgt, "bo_airflow");
    padetl(src, tgt)
        .args(["run", &ws.pipeline_arg(), "--quiet"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("0004_touch.sql").and(predicate::str::contains("line 2")));
    assert_eq!(schema_fingerprint(tgt, "bo_airflow"), reference);
    assert_eq!(
        row_counts(tgt, "padealing"),
        vec![],
        "the app schema was created anyway"
    );
}

#[test]
fn a_migration_reaching_the_reference_schema_indirectly_is_caught_and_rolled_back() {
    let dbs = seeded("s_ref2");
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let ws = Workspace::new(&[V1, V2, V3], "");
    ws.add_migration(
        "0004_sneaky.sql",
        "DO $$ BEGIN EXECUTE 'UPDATE ' || 'bo_' || 'airflow.oracle_employee SET email = upper(email)'; END $$;\n",
    );
    let reference = schema_fingerprint(tgt, "bo_airflow");
    for cmd in ["plan", "run"] {
        padetl(src, tgt)
            .args([cmd, &ws.pipeline_arg(), "--quiet"])
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains("reference schema bo_airflow was touched")
                    .and(predicate::str::contains("written to oracle_employee")),
            );
    }
    assert_eq!(schema_fingerprint(tgt, "bo_airflow"), reference);
    assert_eq!(row_counts(tgt, "padealing"), vec![]);
}

#[test]
fn a_history_that_disagrees_with_the_tables_is_refused() {
    let dbs = seeded("s_lies");
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    run(&dbs, "pipelines/dev.toml");
    // The app's alembic_version once recorded revisions its tables did not have.
    client(tgt)
        .batch_execute("DELETE FROM padealing.padetl_schema_history WHERE version = 3")
        .expect("make the history lie");
    let before = schema_fingerprint(tgt, "padealing");
    padetl(src, tgt)
        .args(["run", "pipelines/dev.toml", "--quiet"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "history says version 2, but its catalog says that every table equals version 3",
        ));
    assert_eq!(schema_fingerprint(tgt, "padealing"), before);
}

#[test]
fn a_migration_that_loses_rows_is_refused_without_allow_destructive() {
    let dbs = seeded("s_lose");
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    run(&dbs, "pipelines/dev.toml");
    let ws = Workspace::new(&[V1, V2, V3], "");
    ws.add_migration("0004_tidy.sql", "DELETE FROM audit_log WHERE id % 2 = 0;\n");
    let before = schema_fingerprint(tgt, "padealing");
    // A run counts rows only when its plan changes something: this one does.
    for command in ["migrate", "run"] {
        padetl(src, tgt)
            .args([command, &ws.pipeline_arg(), "--quiet"])
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains("would lose rows")
                    .and(predicate::str::contains("audit_log went from")),
            );
        assert_eq!(schema_fingerprint(tgt, "padealing"), before, "{command}");
    }
}

/// Counting a table reads all of it: a run that finds every table as it
/// should be leaves the counts out of its report; `plan` still gives them.
#[test]
fn a_run_counts_rows_only_when_the_schema_changes() {
    let dbs = TestDbs::reserve("s_counts", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    padetl(src, tgt)
        .args(["demo", "--rows", "40", "--quiet"])
        .assert()
        .success();
    let report = run(&dbs, "pipelines/dev.toml");
    assert_eq!(report["schema"]["action"], "use", "{report:#}");
    let tables = report["schema"]["tables"].as_array().expect("tables");
    assert_eq!(tables.len(), 5, "{report:#}");
    for t in tables {
        assert_eq!(t["state"], "matches", "{t:#}");
        assert!(t["rows"].is_null(), "a run counted {t:#}");
    }
    let plan = plan_json(&dbs, "pipelines/dev.toml");
    for t in plan["tables"].as_array().expect("tables") {
        let name = t["table"].as_str().expect("name");
        let rows = count(tgt, &format!("padealing.{name}"));
        assert_eq!(t["rows"].as_i64(), Some(rows), "{name}");
    }
}
