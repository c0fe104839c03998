//! A process killed with SIGKILL while it copies, merges or changes the
//! schema leaves the target exactly as before; the next run completes. The
//! test watches the target's `pg_stat_activity` and kills padetl the moment
//! its connection runs the statement of the phase under test.

use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use crate::util::{client, padetl, repo, schema_fingerprint, url_for, v1_by_hand, TestDbs};

const REQUESTS: &str = "20000";

fn start_run(src: &str, tgt: &str) -> Child {
    StdCommand::new(assert_cmd::cargo::cargo_bin("padetl"))
        .current_dir(repo())
        .args(["run", "pipelines/dev.toml", "--quiet"])
        .env("SOURCE_DATABASE_URL", url_for(src))
        .env("TARGET_DATABASE_URL", url_for(tgt))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start padetl")
}

/// Kills `child` as soon as a session on `db` runs a statement matching
/// `pattern` (SQL `LIKE`); returns the statement it saw.
fn kill_during(mut child: Child, db: &str, pattern: &str) -> String {
    let mut watcher = client(db);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let seen = watcher
            .query_opt(
                "SELECT left(query, 80) FROM pg_stat_activity WHERE datname = $1 \
                 AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE $2 LIMIT 1",
                &[&db, &pattern],
            )
            .expect("watch pg_stat_activity");
        if let Some(row) = seen {
            child.kill().expect("SIGKILL padetl");
            let _ = child.wait();
            wait_for_backends_to_end(&mut watcher, db);
            return row.get(0);
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("padetl finished ({status}) before any statement matched {pattern}");
        }
        assert!(
            Instant::now() < deadline,
            "no statement matched {pattern} in 120 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The server rolls back a dead client's transaction when it notices; the
/// fingerprint is taken after that.
fn wait_for_backends_to_end(watcher: &mut postgres::Client, db: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() \
                 AND backend_type = 'client backend'",
                &[&db],
            )
            .expect("count backends")
            .get(0);
        if n == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the killed run's session did not end"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Seeds both sides, loads once, then changes every source request so the
/// next run has rows to copy and merge.
fn loaded_with_pending_changes(tag: &str) -> TestDbs {
    let dbs = TestDbs::reserve(tag, 2);
    padetl(&dbs.names[0], &dbs.names[1])
        .args(["demo", "--rows", REQUESTS, "--quiet"])
        .assert()
        .success();
    client(&dbs.names[0])
        .batch_execute(
            "UPDATE pa_dealing.pad_request SET reason = coalesce(reason, '') || ' (amended)'; \
             UPDATE pa_dealing.audit_logs SET action = action || '_v2'",
        )
        .expect("change the source");
    dbs
}

fn assert_killed_run_changed_nothing_and_rerun_completes(dbs: &TestDbs, pattern: &str) {
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let before = (
        schema_fingerprint(tgt, "padealing"),
        schema_fingerprint(tgt, "bo_airflow"),
    );
    let seen = kill_during(start_run(src, tgt), tgt, pattern);
    let after = (
        schema_fingerprint(tgt, "padealing"),
        schema_fingerprint(tgt, "bo_airflow"),
    );
    assert!(
        after == before,
        "killed during `{seen}`, the target changed"
    );

    padetl(src, tgt)
        .args(["run", "pipelines/dev.toml", "--quiet"])
        .assert()
        .success();
    assert_ne!(
        schema_fingerprint(tgt, "padealing"),
        before.0,
        "the rerun loaded nothing"
    );
    assert_eq!(schema_fingerprint(tgt, "bo_airflow"), before.1);
}

#[test]
fn killed_during_copy() {
    let dbs = loaded_with_pending_changes("k_copy");
    assert_killed_run_changed_nothing_and_rerun_completes(
        &dbs,
        "COPY pg_temp.\"padetl_stage_audit_log\"%",
    );
}

#[test]
fn killed_during_merge() {
    let dbs = loaded_with_pending_changes("k_merge");
    assert_killed_run_changed_nothing_and_rerun_completes(
        &dbs,
        "WITH merged AS (INSERT INTO \"padealing\".\"audit_log\"%",
    );
}

#[test]
fn killed_during_schema_changes() {
    let dbs = loaded_with_pending_changes("k_schema");
    // Back to v1 with every row: the upgrade rewrites tables for a while.
    let tgt = &dbs.names[1];
    client(tgt)
        .batch_execute("DROP SCHEMA padealing CASCADE")
        .expect("reset the target");
    v1_by_hand(tgt, REQUESTS.parse().expect("a number"));
    assert_killed_run_changed_nothing_and_rerun_completes(
        &dbs,
        "SET LOCAL search_path TO \"padealing\";%ALTER TABLE%",
    );
}
