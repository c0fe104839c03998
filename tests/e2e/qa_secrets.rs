//! The QA password (it holds `+ @ : / % &`) never shows: not on stdout or
//! stderr of any command, succeeding or failing, with trace logging and
//! backtraces on; not in any report format; not in any row padetl writes;
//! not in `pg_stat_activity`; not in the server's log. And an env file
//! holding it that others can read is warned about.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

use crate::qa_server::{qa_server, QaDbs};
use crate::util::{repo, unique_name};

const SERVER_LOG: &str = "/var/log/postgresql/postgresql-15-padetl_qa.log";

/// Every form of the password a leak could take.
fn forms() -> Vec<String> {
    let server = qa_server();
    vec![server.password.clone(), server.encoded_password()]
}

fn assert_clean(what: &str, text: &str) {
    for form in forms() {
        assert!(!text.contains(&form), "{what} shows the password: {text}");
    }
}

/// A pipeline over `pipelines/qa.toml` with a check that quarantines rows,
/// so that every table padetl writes has rows.
fn pipeline_with_quarantine(dir: &Path) -> String {
    let path = dir.join("qa-quarantine.toml");
    let text = format!(
        "include = [\"{}\"]\n\n[[checks]]\nname = \"big_requests\"\ntable = \"pad_request\"\nkind = \"range\"\ncolumn = \"quantity\"\nmax = 500\npolicy = \"quarantine\"\n",
        repo().join("pipelines/qa.toml").display()
    );
    std::fs::write(&path, text).expect("pipeline");
    path.display().to_string()
}

/// `padetl <args…> --env-file <env>` with trace logging and backtraces.
fn padetl(env: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("padetl").expect("padetl binary");
    cmd.current_dir(repo())
        .env_remove("SOURCE_DATABASE_URL")
        .env_remove("TARGET_DATABASE_URL")
        .env_remove("PGSSLROOTCERT")
        .env("PADETL_LOG", "trace")
        .env("RUST_BACKTRACE", "1")
        .args(args)
        .arg("--env-file")
        .arg(env);
    cmd
}

#[test]
fn the_qa_password_never_shows() {
    let server = qa_server();
    let dbs = QaDbs::new("qasecret", 200);
    let dir = std::env::temp_dir().join(unique_name("qasecret"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let env = dbs.env_file(&dir);
    let pipeline = pipeline_with_quarantine(&dir);
    let log_before = std::fs::metadata(SERVER_LOG).map(|m| m.len()).unwrap_or(0);

    let runs: Vec<Vec<&str>> = vec![
        vec!["validate", &pipeline],
        vec!["plan", &pipeline],
        vec!["migrate", &pipeline],
        vec!["check", &pipeline],
        vec!["check", &pipeline, "--json"],
        vec!["check", &pipeline, "--markdown"],
        vec!["check", &pipeline, "--html"],
        vec!["run", &pipeline, "--json"],
        vec!["run", &pipeline],
        vec!["verify", &pipeline, "--json"],
    ];
    for args in runs {
        let out = padetl(&env, &args).output().expect("padetl runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_clean(
            &format!("stdout of {args:?}"),
            &String::from_utf8_lossy(&out.stdout),
        );
        assert_clean(
            &format!("stderr of {args:?}"),
            &String::from_utf8_lossy(&out.stderr),
        );
    }
    // Failures: a wrong password, a query the server refuses.
    let wrong = dir.join("wrong.toml");
    std::fs::write(
        &wrong,
        format!(
            "include = [\"{pipeline}\"]\n\n[[tables]]\nname = \"pad_breach\"\nsource = \"pa_dealing.no_such_table\"\n"
        ),
    )
    .expect("pipeline");
    let bad_password = server.url("pad_app_user", &dbs.target).replace(
        &server.encoded_password(),
        &format!("{}x", server.encoded_password()),
    );
    let failures = [
        padetl(&env, &["run", &wrong.display().to_string()])
            .output()
            .expect("runs"),
        padetl(&env, &["run", &pipeline])
            .env("TARGET_DATABASE_URL", &bad_password)
            .output()
            .expect("runs"),
    ];
    for out in failures {
        assert!(!out.status.success());
        assert_clean("a failure's stderr", &String::from_utf8_lossy(&out.stderr));
        assert_clean("a failure's stdout", &String::from_utf8_lossy(&out.stdout));
    }

    let mut admin = server.admin(&dbs.target);
    for table in ["padetl_runs", "padetl_quarantine", "padetl_schema_history"] {
        let rows: Vec<String> = admin
            .query(&format!("SELECT t::text FROM padealing.{table} t"), &[])
            .expect("rows")
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(!rows.is_empty(), "{table} has rows");
        assert_clean(table, &rows.join("\n"));
    }
    let runs: i64 = admin
        .query_one(
            "SELECT count(*) FROM padealing.padetl_runs WHERE status = 'failed'",
            &[],
        )
        .expect("count")
        .get(0);
    assert!(runs >= 1, "the failed run is in the ledger");

    // While a run waits for another's lock, its sessions are visible.
    let mut holder = server.admin(&dbs.target);
    holder
        .batch_execute("BEGIN; SELECT pg_advisory_xact_lock(hashtext('padetl:padealing'))")
        .expect("hold the run lock");
    let mut waiting = std::process::Command::new(env!("CARGO_BIN_EXE_padetl"));
    waiting
        .current_dir(repo())
        .env_remove("SOURCE_DATABASE_URL")
        .env_remove("TARGET_DATABASE_URL")
        .args(["run", &pipeline, "--quiet", "--env-file"])
        .arg(&env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = waiting.spawn().expect("padetl starts");
    let mut names: Vec<String> = Vec::new();
    for _ in 0..100 {
        names = admin
            .query(
                "SELECT application_name::text FROM pg_stat_activity WHERE usename = 'pad_app_user' AND datname = current_database()",
                &[],
            )
            .expect("pg_stat_activity")
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !names.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    holder.batch_execute("COMMIT").expect("release");
    let _ = child.wait();
    assert!(names.iter().all(|n| n == "padetl"), "{names:?}");
    assert!(!names.is_empty(), "saw padetl's session");
    assert_clean("pg_stat_activity", &names.join(","));

    let log = std::fs::read(SERVER_LOG).unwrap_or_default();
    let new = String::from_utf8_lossy(&log[(log_before as usize).min(log.len())..]);
    assert!(new.contains("pad_app_user"), "the log saw the failed login");
    assert_clean("the server's log", &new);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_env_file_others_can_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dbs = QaDbs::new("qamode", 10);
    let dir = std::env::temp_dir().join(unique_name("qamode"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let env = dbs.env_file(&dir);
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    padetl(&env, &["validate", "pipelines/qa.toml"])
        .assert()
        .success()
        .stderr(
            predicate::str::contains("readable by others (mode 644)")
                .and(predicate::str::contains("chmod 600")),
        );
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    padetl(&env, &["validate", "pipelines/qa.toml"])
        .assert()
        .success()
        .stderr(predicate::str::contains("readable by others").not());
    let _ = std::fs::remove_dir_all(dir);
}
