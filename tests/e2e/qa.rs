//! QA for real, on the QA-like server: `pipelines/qa.toml` with an env file
//! written like `envs/.env.qa.example` (verify-full on every connection,
//! the QA host's name), a least-privilege role, connection failures said in
//! plain words, and a password that never shows.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;

use crate::qa_server::{qa_server, QaDbs};
use crate::util::{repo, schema_fingerprint_of, unique_name};

/// padetl with no database settings of its own: everything from the env file.
fn padetl_qa() -> Command {
    let mut cmd = Command::cargo_bin("padetl").expect("padetl binary");
    cmd.current_dir(repo())
        .env_remove("SOURCE_DATABASE_URL")
        .env_remove("TARGET_DATABASE_URL")
        .env_remove("PGSSLROOTCERT")
        .env_remove("PGSSLMODE")
        .env_remove("PADETL_LOG")
        .arg("--quiet");
    cmd
}

/// `padetl <command> pipelines/qa.toml --env-file <env> <extra…>`.
fn qa(env: &Path, command: &str, extra: &[&str]) -> Command {
    let mut cmd = padetl_qa();
    cmd.args([command, "pipelines/qa.toml", "--env-file"])
        .arg(env)
        .args(extra);
    cmd
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name("qaenv"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn json(cmd: &mut Command) -> serde_json::Value {
    let out = cmd.assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).expect("--json prints JSON")
}

fn written(report: &serde_json::Value) -> u64 {
    report["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|t| t["inserted"].as_u64().unwrap_or(0) + t["updated"].as_u64().unwrap_or(0))
        .sum()
}

#[test]
fn qa_end_to_end_with_verify_full_on_every_connection() {
    let dbs = QaDbs::new("qae2e", 300);
    let dir = temp_dir();
    let env = dbs.env_file(&dir);
    let server = qa_server();
    let mut admin = server.admin(&dbs.target);
    let reference_before = schema_fingerprint_of(&mut admin, "bo_airflow");

    qa(&env, "validate", &[]).assert().success().stdout(
        predicate::str::contains("pad_app_user@uk02vddb004:5433")
            .and(predicate::str::contains(&server.password).not()),
    );
    qa(&env, "plan", &[])
        .assert()
        .success()
        .stdout(predicate::str::contains("missing"));
    qa(&env, "migrate", &[]).assert().success();
    let check = json(&mut qa(&env, "check", &["--json"]));
    let expected = written(&check);
    assert!(expected > 0, "{check}");
    let first = json(&mut qa(&env, "run", &["--json"]));
    assert_eq!(written(&first), expected, "the run does what check said");
    let second = json(&mut qa(&env, "run", &["--json"]));
    assert_eq!(written(&second), 0, "a second run changes nothing");
    qa(&env, "verify", &[])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok: the target holds what the pipeline loads",
        ));

    let requests: i64 = admin
        .query_one("SELECT count(*) FROM padealing.pad_request", &[])
        .expect("count")
        .get(0);
    assert_eq!(
        requests as u64,
        first["tables"][0]["inserted"].as_u64().unwrap()
    );
    let owners: Vec<String> = admin
        .query(
            "SELECT DISTINCT tableowner::text FROM pg_tables WHERE schemaname = 'padealing'",
            &[],
        )
        .expect("owners")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(owners, ["pad_app_user"]);
    assert_eq!(
        schema_fingerprint_of(&mut admin, "bo_airflow"),
        reference_before,
        "bo_airflow is never written"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_role_without_temporary_is_told_the_grant_and_run_stops_before_any_work() {
    let dbs = QaDbs::new("qapriv", 50);
    let dir = temp_dir();
    let env = dbs.env_file(&dir);
    let mut admin = qa_server().admin(&dbs.target);
    admin
        .batch_execute(&format!(
            "REVOKE TEMPORARY ON DATABASE \"{}\" FROM pad_app_user",
            dbs.target
        ))
        .expect("revoke");
    let grant = format!(
        "GRANT TEMPORARY ON DATABASE \"{}\" TO \"pad_app_user\"",
        dbs.target
    );
    let before = schema_fingerprint_of(&mut admin, "padealing");

    let report = qa(&env, "check", &["--json"])
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&report).expect("JSON");
    let privileges = report["privileges"].as_array().expect("privileges");
    assert_eq!(privileges.len(), 1, "{report}");
    assert_eq!(privileges[0]["privilege"], "TEMPORARY");
    assert_eq!(privileges[0]["grant"], grant.as_str());
    assert!(privileges[0]["needed_for"]
        .as_str()
        .unwrap()
        .contains("staging rows"));
    qa(&env, "check", &["--markdown"]).assert().code(3).stdout(
        predicate::str::contains("## Missing privileges").and(predicate::str::contains(&grant)),
    );
    qa(&env, "check", &[])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("CANNOT CHECK"));
    qa(&env, "run", &[]).assert().code(3).stderr(
        predicate::str::contains(&grant)
            .and(predicate::str::contains("nothing was done"))
            .and(predicate::str::contains("TEMPORARY on database")),
    );
    qa(&env, "plan", &[])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(&grant));
    assert_eq!(
        schema_fingerprint_of(&mut admin, "padealing"),
        before,
        "nothing was done: not even a ledger"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A TCP server that accepts and never answers.
fn silent_listener() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    (listener, port)
}

#[test]
fn connection_failures_are_said_in_plain_words_within_seconds() {
    let server = qa_server();
    let dbs = QaDbs::new("qaconn", 20);
    let dir = temp_dir();
    let env = dbs.env_file(&dir);
    let (pw, db, ca) = (server.encoded_password(), &dbs.target, server.ca());
    let (_silent, silent_port) = silent_listener();
    let cases = [
        (
            format!("postgresql://pad_app_user:Wr0ngPassw0rd9@uk02vddb004:5433/{db}?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={}", ca.display()),
            "wrong password for user pad_app_user",
        ),
        (
            format!("postgresql://pad_app_user:{pw}@uk02vddb004:5433/{db}?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={}", server.wrong_ca().display()),
            "untrusted certificate",
        ),
        (
            format!("postgresql://pad_app_user:{pw}@uk02vddb999:5433/{db}?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={}", ca.display()),
            "host name mismatch",
        ),
        (
            format!("postgresql://pad_app_user:{pw}@uk02vddb004:5433/{db}?hostaddr=127.0.0.1&sslmode=disable"),
            "the server accepts only TLS connections",
        ),
        (
            format!("postgresql://pad_app_user:{pw}@no-such-host.invalid:5433/{db}?sslmode=verify-full&sslrootcert={}", ca.display()),
            "unknown host no-such-host.invalid",
        ),
        (
            format!("postgresql://pad_app_user:{pw}@127.0.0.1:{silent_port}/{db}?sslmode=verify-full&sslrootcert={}&connect_timeout=2", ca.display()),
            "no answer within 2 s",
        ),
    ];
    for (url, says) in cases {
        let started = Instant::now();
        let out = padetl_qa()
            .args(["plan", "pipelines/qa.toml", "--env-file"])
            .arg(&env)
            .env("TARGET_DATABASE_URL", &url)
            .assert()
            .code(3)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "expected `{says}` in: {stderr}");
        assert!(
            stderr.contains(&format!("/{db}")),
            "names the database: {stderr}"
        );
        assert!(
            !stderr.contains(&server.password) && !stderr.contains(&pw),
            "{stderr}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "`{says}` took {:?}",
            started.elapsed()
        );
    }
    // The source side says the same, in as little time.
    let started = Instant::now();
    let wrong = format!(
        "postgresql://pad_legacy_reader:Wr0ngPassw0rd9@uk02vddb004:5433/{}?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={}",
        dbs.source,
        ca.display()
    );
    qa(&env, "check", &[])
        .env("SOURCE_DATABASE_URL", &wrong)
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains(
                "cannot connect to the source postgresql://pad_legacy_reader@uk02vddb004:5433/",
            )
            .and(predicate::str::contains("wrong password")),
        );
    assert!(started.elapsed() < Duration::from_secs(8));
    let _ = std::fs::remove_dir_all(dir);
}
