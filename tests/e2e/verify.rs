//! `padetl verify` after a load: a faithful target passes; a changed row, a
//! missing row, a row without its parent and a changed reference table are
//! each found, named by table and key, with exit 1. Verify writes nothing
//! but its ledger row.

use serde_json::Value;

use crate::util::{client, padetl, schema_fingerprint, table, TestDbs};

fn verify(src: &str, tgt: &str, code: i32) -> Value {
    let out = padetl(src, tgt)
        .args(["verify", "pipelines/dev.toml", "--json", "--quiet"])
        .assert()
        .code(code)
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).expect("JSON report")
}

#[test]
fn verify_passes_a_faithful_target_and_names_every_mismatch() {
    let dbs = TestDbs::reserve("verify", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    padetl(src, tgt)
        .args(["demo", "--rows", "200", "--quiet"])
        .assert()
        .success();

    let before = schema_fingerprint(tgt, "padealing");
    let clean = verify(src, tgt, 0);
    assert_eq!(clean["ok"], true, "{clean}");
    assert_eq!(clean["reference"]["unchanged"], true);
    let requests = table(&clean, "pad_request");
    assert_eq!(
        requests["comparison"]["source_checksum"],
        requests["comparison"]["target_checksum"]
    );
    assert_eq!(schema_fingerprint(tgt, "padealing"), before, "verify wrote");

    let mut t = client(tgt);
    let (changed, gone): (i64, i64) = {
        let r = t
            .query_one(
                "SELECT min(id), (SELECT max(request_id) FROM padealing.pad_approval) FROM padealing.pad_request",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    t.batch_execute(&format!(
        "UPDATE padealing.pad_request SET reason = 'edited by hand' WHERE id = {changed}; \
         SET session_replication_role = replica; \
         DELETE FROM padealing.pad_request WHERE id = {gone}; \
         SET session_replication_role = origin; \
         UPDATE bo_airflow.oracle_position SET quantity = quantity + 1 \
           WHERE inst_symbol = (SELECT min(inst_symbol) FROM bo_airflow.oracle_position)"
    ))
    .unwrap();
    let children: i64 = t
        .query_one(
            "SELECT (SELECT count(*) FROM padealing.pad_approval WHERE request_id = $1) \
                  + (SELECT count(*) FROM padealing.pad_execution WHERE request_id = $1) \
                  + (SELECT count(*) FROM padealing.pad_breach WHERE request_id = $1)",
            &[&gone],
        )
        .unwrap()
        .get(0);
    assert!(children > 0, "the deleted request had approvals");

    let report = verify(src, tgt, 1);
    assert_eq!(report["ok"], false);
    let requests = table(&report, "pad_request");
    assert_eq!(requests["ok"], false);
    assert_eq!(
        (requests["missing"].as_i64(), requests["differing"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        requests["comparison"]["first_differing_keys"],
        serde_json::json!([changed, gone])
    );
    assert_ne!(
        requests["comparison"]["source_checksum"],
        requests["comparison"]["target_checksum"]
    );
    assert_eq!(table(&report, "audit_log")["ok"], true);
    let orphans: i64 = report["foreign_keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["parent"] == "pad_request")
        .map(|f| f["orphans"].as_i64().unwrap())
        .sum();
    assert_eq!(orphans, children, "{}", report["foreign_keys"]);
    assert_eq!(report["reference"]["unchanged"], false);
}
