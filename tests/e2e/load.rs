//! A value that does not fit its target column stops the run with the
//! table, column and row key, and the target is left exactly as it was.

use predicates::prelude::*;

use crate::util::{client, count, json_of, padetl, schema_fingerprint, TestDbs, Workspace};

const MIGRATIONS: [&str; 3] = [
    "0001_v1_legacy_layout.sql",
    "0002_v2_padealing.sql",
    "0003_v3_current.sql",
];

#[test]
fn a_value_that_does_not_fit_fails_the_run_and_changes_nothing() {
    let dbs = TestDbs::reserve("nofit", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    padetl(src, tgt)
        .args(["demo", "--rows", "200", "--quiet"])
        .assert()
        .success();
    // estimated_price is numeric(20,6): seven decimals would be rounded by Postgres.
    let id: i32 = client(src)
        .query_one(
            "UPDATE pa_dealing.pad_request SET price = 1.1234567 \
             WHERE id = (SELECT min(id) FROM pa_dealing.pad_request WHERE employee_id % 37 <> 5) RETURNING id",
            &[],
        )
        .expect("make a value that does not fit")
        .get(0);
    let before = schema_fingerprint(tgt, "padealing");
    padetl(src, tgt)
        .args(["run", "pipelines/dev.toml", "--quiet"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("pad_request")
                .and(predicate::str::contains("estimated_price"))
                .and(predicate::str::contains(format!("id={id}")))
                .and(predicate::str::contains("more than 6 decimal places")),
        );
    assert_eq!(
        schema_fingerprint(tgt, "padealing"),
        before,
        "a failed run changed the target"
    );
}

/// connectorx would round a numeric with more than 10 decimal places before
/// padetl saw it; the run stops first, naming column and key.
#[test]
fn a_source_numeric_the_reader_would_round_is_refused() {
    let dbs = TestDbs::reserve("cxnum", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    padetl(src, tgt)
        .args(["demo", "--rows", "100", "--quiet"])
        .assert()
        .success();
    let id: i32 = client(src)
        .query_one(
            "UPDATE pa_dealing.pad_request SET price = 1.123456789012 \
             WHERE id = (SELECT max(id) FROM pa_dealing.pad_request) RETURNING id",
            &[],
        )
        .expect("a value with 12 decimal places")
        .get(0);
    let before = schema_fingerprint(tgt, "padealing");
    padetl(src, tgt)
        .args(["run", "pipelines/dev.toml", "--quiet"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("column `price`")
                .and(predicate::str::contains(format!("id={id}")))
                .and(predicate::str::contains("more than 10 decimal places")),
        );
    assert_eq!(schema_fingerprint(tgt, "padealing"), before);
}

/// A table read in key ranges by several readers at once loads exactly what
/// one reader loads: the same rows, none twice, none lost.
#[test]
fn partitioned_reading_loads_the_same_rows_as_one_reader() {
    let dbs = TestDbs::reserve("partitions", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    padetl(src, tgt)
        .args(["demo", "--rows", "300", "--quiet"])
        .assert()
        .success();
    let one_reader = schema_fingerprint(tgt, "padealing");
    client(tgt)
        .batch_execute(
            "DELETE FROM padealing.audit_log; DELETE FROM padealing.pad_breach; \
             DELETE FROM padealing.pad_execution; DELETE FROM padealing.pad_approval; \
             DELETE FROM padealing.pad_request",
        )
        .expect("empty the app tables");

    let ws = Workspace::new(&MIGRATIONS, "\n[settings]\nbatch_size = 7\nreaders = 3\n");
    let report = json_of(padetl(src, tgt).args(["run", &ws.pipeline_arg(), "--json", "--quiet"]));
    let requests = report["tables"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["table"] == "pad_request"))
        .expect("pad_request in the report");
    assert_eq!(requests["readers"], 3, "{requests}");
    assert_eq!(
        requests["read"].as_i64(),
        Some(count(src, "pa_dealing.pad_request"))
    );
    assert_eq!(schema_fingerprint(tgt, "padealing"), one_reader);
}

/// A request id of seven digits keeps every digit in its reference: cut to
/// six, ids 1234567 and 123456 would share one and break its uniqueness.
#[test]
fn long_request_ids_keep_every_digit_in_their_reference() {
    let dbs = TestDbs::reserve("refid", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    padetl(src, tgt)
        .args(["demo", "--rows", "200", "--quiet"])
        .assert()
        .success();
    client(src)
        .batch_execute(
            "INSERT INTO pa_dealing.pad_request SELECT 1234567, employee_id, security_id, ticker, direction, \
             quantity, price, currency, status, reason, created_at FROM pa_dealing.pad_request \
             WHERE id = (SELECT min(id) FROM pa_dealing.pad_request WHERE security_id IS NOT NULL)",
        )
        .expect("a request with a long id");
    padetl(src, tgt)
        .args(["run", "pipelines/dev.toml", "--quiet"])
        .assert()
        .success();
    let reference: Option<String> = client(tgt)
        .query_opt(
            "SELECT reference_id FROM padealing.pad_request WHERE id = 1234567",
            &[],
        )
        .expect("query")
        .map(|r| r.get(0));
    let reference = reference.expect("the request was loaded (its employee is not a leaver?)");
    assert!(reference.ends_with("-1234567"), "{reference}");
}
