//! An Oracle source on a machine without Oracle: no server listens and no
//! Instant Client is installed. What can be proven here is that padetl says
//! so plainly and quickly, with the right exit code and never the password:
//! built with `--features oracle`, the missing Instant Client (exit 3);
//! built without it, that the feature is missing (exit 2). The Oracle SQL
//! itself is pinned by unit tests (`src/extract/dialect.rs`).

use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::util::{json_of, padetl, padetl_bare, TestDbs};

const PASSWORD: &str = "oracle-secret-never-print";
const PIPELINE: &str = "pipelines/oracle-dev.toml";
const ENV_FILE: &str = "envs/.env.oracle.example";

fn oracle_url() -> String {
    format!("oracle://pa_dealing:{PASSWORD}@127.0.0.1:1521/FREEPDB1")
}

#[test]
fn the_oracle_pipeline_is_valid_without_connecting() {
    let out = padetl_bare()
        .args(["validate", PIPELINE, "--env-file", ENV_FILE, "--json"])
        .env("SOURCE_DATABASE_URL", oracle_url())
        .assert()
        .success()
        .stderr(predicate::str::contains(PASSWORD).not())
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8_lossy(&out);
    assert!(!text.contains(PASSWORD), "{text}");
    let p: serde_json::Value = serde_json::from_str(&text).expect("--json prints JSON");
    assert_eq!(p["source"], "oracle://pa_dealing@127.0.0.1:1521/FREEPDB1");
    // The same tables and keymaps as every other environment.
    let dev = json_of(padetl_bare().args(["validate", "pipelines/dev.toml", "--json"]));
    assert_eq!(p["tables"], dev["tables"]);
    assert_eq!(p["keymaps"], dev["keymaps"]);
}

#[test]
fn an_oracle_source_says_what_is_missing_within_seconds() {
    let dbs = TestDbs::reserve("oracle", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    // A real target with reference data; the source becomes Oracle below.
    padetl(src, tgt)
        .args(["demo", "--rows", "20", "--quiet"])
        .assert()
        .success();
    let started = Instant::now();
    let assert = padetl(src, tgt)
        .env("SOURCE_DATABASE_URL", oracle_url())
        .args(["run", PIPELINE, "--env-file", ENV_FILE, "--quiet"])
        .timeout(Duration::from_secs(60))
        .assert();
    let took = started.elapsed();
    let (code, message) = if cfg!(feature = "oracle") {
        (
            3,
            "Oracle Instant Client (libclntsh) was not found: install it and set LD_LIBRARY_PATH; see docs/oracle.md",
        )
    } else {
        (
            2,
            "this padetl was built without the `oracle` feature; build it with `cargo build --release --features oracle` (docs/oracle.md)",
        )
    };
    assert
        .code(code)
        .stderr(
            predicate::str::contains(message)
                .and(predicate::str::contains(
                    "oracle://pa_dealing@127.0.0.1:1521/FREEPDB1",
                ))
                .and(predicate::str::contains(PASSWORD).not())
                .and(predicate::str::contains("panicked").not()),
        )
        .stdout(predicate::str::contains(PASSWORD).not());
    assert!(took < Duration::from_secs(10), "took {took:?}");
}
