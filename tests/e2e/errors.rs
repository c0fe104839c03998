//! Errors that name their cause: the server's own message and the pipeline
//! entry (file:line) that led to a failing query, a bad migration file or
//! URL as bad input (exit 2), a typed setting's rule.

use predicates::prelude::*;

use crate::util::{client, padetl, padetl_bare, TestDbs, Workspace};

const FIXTURE_ENV: &str = "tests/fixtures/envs/.env.fixture";

const MIGRATIONS: [&str; 3] = [
    "0001_v1_legacy_layout.sql",
    "0002_v2_padealing.sql",
    "0003_v3_current.sql",
];

/// A workspace pipeline with `extra` TOML appended.
fn pipeline_with(extra: &str) -> Workspace {
    let ws = Workspace::new(&MIGRATIONS, "");
    let toml = std::fs::read_to_string(ws.pipeline()).expect("pipeline");
    std::fs::write(ws.pipeline(), format!("{toml}\n{extra}\n")).expect("pipeline");
    ws
}

/// Line of the first line of `file` that contains `needle`.
fn line_of(file: &std::path::Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(file).expect("file");
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle")
        + 1
}

#[test]
fn a_failing_source_query_names_the_servers_message_and_the_pipeline_entry() {
    let dbs = TestDbs::reserve("errsrc", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    padetl(src, tgt)
        .args(["demo", "--rows", "50", "--quiet"])
        .assert()
        .success();
    let cases = [
        (
            "[[tables]]\nname = \"pad_breach\"\nsource = \"pa_dealing.no_such_table\"\n",
            "name = \"pad_breach\"",
            "relation \"pa_dealing.no_such_table\" does not exist",
        ),
        (
            "[keymaps.security]\ntable = \"oracle_nope\"\n",
            "[keymaps.security]",
            "relation \"bo_airflow.oracle_nope\" does not exist",
        ),
        (
            "[keymaps.employee]\nkeys = [{ name = \"no_such_key\" }]\n",
            "[keymaps.employee]",
            "column \"no_such_key\" does not exist",
        ),
    ];
    for (i, (extra, entry, message)) in cases.into_iter().enumerate() {
        let ws = pipeline_with(extra);
        let at = format!("p.toml:{}", line_of(&ws.pipeline(), entry));
        if i == 0 {
            // A table whose source cannot be read is `check`'s finding: the
            // report still renders, exit 1.
            padetl(src, tgt)
                .args(["check", &ws.pipeline_arg(), "--quiet"])
                .assert()
                .code(1)
                .stdout(
                    predicate::str::contains("pad_breach_checked")
                        .and(predicate::str::contains(message))
                        .and(predicate::str::contains(at.as_str()))
                        .and(predicate::str::contains("audit_log")),
                );
        }
        let command = if i == 0 { "run" } else { "check" };
        padetl(src, tgt)
            .args([command, &ws.pipeline_arg(), "--quiet"])
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains(message)
                    .and(predicate::str::contains(at))
                    .and(predicate::str::contains("db error").not()),
            );
    }
}

#[test]
fn a_migration_with_a_syntax_error_is_bad_input() {
    let dbs = TestDbs::reserve("errmig", 1);
    let db = &dbs.names[0];
    client("postgres")
        .batch_execute(&format!("CREATE DATABASE \"{db}\""))
        .expect("create");
    let ws = Workspace::new(&MIGRATIONS, "");
    ws.add_migration("0004_broken.sql", "ALTER TABLE pad_request ADD COLUMN;\n");
    padetl(db, db)
        .args(["plan", &ws.pipeline_arg()])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("0004_broken.sql")
                .and(predicate::str::contains("syntax error")),
        );
}

#[test]
fn an_unknown_sslmode_is_bad_input_found_without_connecting() {
    padetl_bare()
        .args(["validate", "pipelines/dev.toml"])
        .env(
            "SOURCE_DATABASE_URL",
            "postgresql://x@127.0.0.1:1/db?sslmode=disable",
        )
        .env(
            "TARGET_DATABASE_URL",
            "postgresql://x@127.0.0.1:1/db?sslmode=verify_full",
        )
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("unknown sslmode `verify_full`")
                .and(predicate::str::contains("pipelines/dev.toml")),
        );
}

#[test]
fn a_typed_setting_of_the_wrong_kind_names_the_key_and_the_rule() {
    padetl_bare()
        .args([
            "validate",
            "tests/fixtures/pipelines/bad_settings.toml",
            "--env-file",
            FIXTURE_ENV,
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "bad_settings.toml:11: `batch_size` must be a whole number from 1 to 10000000 (found -5)",
        ));
}

#[test]
fn an_unterminated_variable_is_its_own_error() {
    padetl_bare()
        .args([
            "validate",
            "tests/fixtures/pipelines/unterminated_var.toml",
            "--env-file",
            FIXTURE_ENV,
        ])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("unterminated_var.toml:8:")
                .and(predicate::str::contains("is not closed"))
                .and(predicate::str::contains("is not set").not()),
        );
}
