//! Bad input gets exit 2 (configuration) or 3 (connection) and a message
//! naming the file and line or the server — never a panic, never a password.

use predicates::prelude::*;

use crate::util::padetl_bare;

const FIXTURE_ENV: &str = "tests/fixtures/envs/.env.fixture";

fn run_fixture(pipeline: &str) -> assert_cmd::assert::Assert {
    padetl_bare()
        .args([
            "validate",
            &format!("tests/fixtures/pipelines/{pipeline}"),
            "--env-file",
            FIXTURE_ENV,
        ])
        .assert()
}

#[test]
fn missing_pipeline_file_names_it() {
    padetl_bare()
        .args(["run", "pipelines/nope.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "pipelines/nope.toml: no such pipeline file",
        ));
}

#[test]
fn bad_toml_names_file_and_line() {
    run_fixture("bad_toml.toml")
        .code(2)
        .stderr(predicate::str::contains("bad_toml.toml:4:"));
}

#[test]
fn unknown_key_names_file_line_and_key() {
    run_fixture("unknown_key.toml").code(2).stderr(
        predicate::str::contains("unknown_key.toml:6:").and(predicate::str::contains("hostname")),
    );
}

#[test]
fn unset_variable_names_file_line_and_variable() {
    run_fixture("unset_var.toml").code(2).stderr(
        predicate::str::contains("unset_var.toml:8:")
            .and(predicate::str::contains("PADETL_FIXTURE_NEVER_SET")),
    );
}

#[test]
fn unknown_env_names_the_env_and_the_known_ones() {
    padetl_bare()
        .args(["validate", "tests/fixtures/pipelines/unknown_env.toml"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("unknown env `staging`")
                .and(predicate::str::contains("fixture")),
        );
}

#[test]
fn unreachable_host_is_exit_3_without_the_password() {
    padetl_bare()
        .args([
            "run",
            "tests/fixtures/pipelines/unreachable.toml",
            "--env-file",
            FIXTURE_ENV,
        ])
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains("127.0.0.1:1/padetl_nowhere")
                .and(predicate::str::contains("hunter2").not())
                .and(predicate::str::contains("panicked").not()),
        );
}

#[test]
fn missing_database_is_exit_3_naming_it() {
    let url = crate::util::url_for("padetl_no_such_database_here");
    padetl_bare()
        .args(["plan", "pipelines/dev.toml"])
        .env("SOURCE_DATABASE_URL", &url)
        .env("TARGET_DATABASE_URL", &url)
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains("padetl_no_such_database_here")
                .and(predicate::str::contains("does not exist")),
        );
}

#[test]
fn prod_runs_need_confirmation() {
    padetl_bare()
        .args([
            "run",
            "pipelines/prod.toml",
            "--env-file",
            "envs/.env.prod.example",
        ])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("--confirm prod")
                .and(predicate::str::contains("CHANGE_ME").not()),
        );
}
