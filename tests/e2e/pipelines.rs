//! The committed pipelines parse and validate, and differ only by environment.

use predicates::prelude::*;

use crate::util::padetl_bare;

fn validate_json(pipeline: &str, env_file: &str) -> serde_json::Value {
    let out = padetl_bare()
        .args(["validate", pipeline, "--env-file", env_file, "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).expect("validate --json prints JSON")
}

#[test]
fn committed_pipelines_validate_and_share_their_tables() {
    let dev = validate_json("pipelines/dev.toml", "envs/.env.dev");
    let qa = validate_json("pipelines/qa.toml", "envs/.env.qa.example");
    let prod = validate_json("pipelines/prod.toml", "envs/.env.prod.example");
    for (p, env) in [(&dev, "dev"), (&qa, "qa"), (&prod, "prod")] {
        assert_eq!(p["env"], env);
        assert_eq!(p["tables"], dev["tables"], "tables differ in {env}");
        assert_eq!(p["keymaps"], dev["keymaps"], "keymaps differ in {env}");
        assert_eq!(p["reference_schema"], "bo_airflow");
    }
    let tables: Vec<&str> = dev["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert_eq!(
        tables,
        [
            "pad_request",
            "pad_approval",
            "pad_execution",
            "pad_breach",
            "audit_log"
        ]
    );
}

#[test]
fn the_monolith_pipelines_validate_and_share_their_tables() {
    let dev = validate_json("pipelines/dev-monolith.toml", "envs/.env.dev");
    let qa = validate_json("pipelines/qa-monolith.toml", "envs/.env.qa.example");
    let prod = validate_json("pipelines/prod-monolith.toml", "envs/.env.prod.example");
    for (p, env) in [(&dev, "dev"), (&qa, "qa"), (&prod, "prod")] {
        assert_eq!(p["env"], env);
        assert_eq!(p["tables"], dev["tables"], "tables differ in {env}");
        assert_eq!(p["keymaps"], dev["keymaps"], "keymaps differ in {env}");
    }
    assert_eq!(
        dev["tables"],
        serde_json::json!(["pad_request", "pad_approval", "pad_execution", "audit_log"])
    );
}

#[test]
fn validate_never_prints_a_password() {
    padetl_bare()
        .args([
            "validate",
            "pipelines/qa.toml",
            "--env-file",
            "envs/.env.qa.example",
        ])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("uk02vddb004.uk.makoglobal.com")
                .and(predicate::str::contains("CHANGE_ME").not()),
        );
}
