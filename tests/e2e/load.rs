//! A value that does not fit its target column stops the run with the
//! table, column and row key, and the target is left exactly as it was.

use predicates::prelude::*;

use crate::util::{
    catalog_fingerprint, client, count, json_of, padetl, schema_fingerprint, TestDbs, Workspace,
};

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
    // A value that does not fit is a `fail` finding of the fit check:
    // exit 1 like any failed check, naming column, count and key.
    let before = schema_fingerprint(tgt, "padealing");
    padetl(src, tgt)
        .args(["run", "pipelines/dev.toml", "--quiet"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("pad_request_estimated_price_fits on pad_request: 1 row(s)")
                .and(predicate::str::contains(format!(
                    "key {id}: `estimated_price`"
                )))
                .and(predicate::str::contains("more than 6 decimal places")),
        );
    assert_eq!(
        schema_fingerprint(tgt, "padealing"),
        before,
        "a refused run changed the target"
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
    fails_leaving_target_as_it_was(
        src,
        tgt,
        "pipelines/dev.toml",
        predicate::str::contains("column `price`")
            .and(predicate::str::contains(format!("id={id}")))
            .and(predicate::str::contains("more than 10 decimal places")),
    );
}

/// A table read in key ranges by several readers at once loads exactly what
/// one reader loads: the same rows, none twice, none lost.
#[test]
fn partitioned_reading_loads_the_same_rows_as_one_reader() {
    let dbs = TestDbs::reserve("partitions", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let one_reader = demo_then_empty(src, tgt);

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

/// A reader keeps one source connection for all its pages: a run of
/// hundreds of pages opens a few connections per table, not one per page
/// (each a TLS handshake and a password exchange against QA).
#[test]
fn a_reader_keeps_one_source_connection_for_all_its_pages() {
    let dbs = TestDbs::reserve("oneconn", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    padetl(src, tgt)
        .args(["demo", "--rows", "300", "--quiet"])
        .assert()
        .success();
    let ws = Workspace::new(&MIGRATIONS, "\n[settings]\nbatch_size = 7\nreaders = 2\n");
    let before = sessions_ended(src);
    let report = json_of(padetl(src, tgt).args(["run", &ws.pipeline_arg(), "--json", "--quiet"]));
    let tables = report["tables"].as_array().expect("tables in the report");
    let pages: i64 = tables
        .iter()
        .map(|t| (t["read"].as_i64().unwrap_or(0) + 6) / 7)
        .sum();
    // Per table: its readers, the first-row probe and the count; per keymap:
    // the source's key set; and the reachability checks.
    let most = 4 * tables.len() as i64 + 8;
    let opened = settled(|| sessions_ended(src) - before);
    assert!(pages > 200, "the run read only {pages} pages");
    assert!(
        (1..=most).contains(&opened),
        "{opened} source connections for {pages} pages (at most {most} expected)"
    );
}

/// Sessions of `db` that have ended, as the server counts them.
fn sessions_ended(db: &str) -> i64 {
    client("postgres")
        .query_one(
            "SELECT sessions FROM pg_stat_database WHERE datname = $1",
            &[&db],
        )
        .expect("pg_stat_database")
        .get(0)
}

/// `f`'s value once it has stopped changing: a closed connection's backend
/// reports its session when it exits, a moment after the client has gone.
fn settled(f: impl Fn() -> i64) -> i64 {
    let mut last = f();
    for _ in 0..20 {
        std::thread::sleep(std::time::Duration::from_millis(250));
        let now = f();
        if now == last {
            return now;
        }
        last = now;
    }
    last
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

/// A load into empty tables drops their indexes and foreign keys and
/// recreates them after the rows are in, the requests' primary key too
/// (its children are empty, so their keys wait with it, then with their own
/// table); what comes back is what was there: same names, definitions,
/// comments, and a NOT VALID foreign key stays so.
#[test]
fn a_bulk_load_into_empty_tables_gives_back_every_index_and_constraint() {
    let dbs = TestDbs::reserve("bulk", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let loaded = demo_then_empty(src, tgt);
    let mut c = client(tgt);
    let row = c
        .query_one(
            "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE conrelid = 'padealing.pad_breach'::regclass AND contype = 'f'",
            &[],
        )
        .expect("the breach's foreign key");
    let (breach_fk, breach_fk_def): (String, String) = (row.get(0), row.get(1));
    c.batch_execute(&format!(
        "COMMENT ON INDEX padealing.pad_request_employee_id_idx IS 'employee''s requests'; \
         COMMENT ON CONSTRAINT pad_request_reference_id_key ON padealing.pad_request IS 'one per request'; \
         ALTER TABLE padealing.pad_breach DROP CONSTRAINT \"{breach_fk}\"; \
         ALTER TABLE padealing.pad_breach ADD CONSTRAINT \"{breach_fk}\" {breach_fk_def} NOT VALID; \
         COMMENT ON CONSTRAINT \"{breach_fk}\" ON padealing.pad_breach IS 'checked later'"
    ))
    .expect("comments and a NOT VALID foreign key");
    let catalog = catalog_fingerprint(tgt, "padealing");
    // Every index; every foreign key twice: with the primary key it
    // references, then with its own table.
    let deferred: i64 = c
        .query_one(
            "SELECT (SELECT count(*) FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid \
                     JOIN pg_namespace n ON n.oid = t.relnamespace \
                     WHERE n.nspname = 'padealing' AND t.relname IN ('pad_request', 'pad_approval', 'pad_execution', 'pad_breach', 'audit_log')) \
                  + 2 * (SELECT count(*) FROM pg_constraint WHERE contype = 'f' \
                     AND connamespace = 'padealing'::regnamespace AND conrelid <> confrelid)",
            &[],
        )
        .expect("count indexes and foreign keys")
        .get(0);

    let (paths, log) = load_paths(src, tgt);
    let logged: i64 = paths.iter().map(|(_, n)| n).sum();
    assert_eq!(
        logged, deferred,
        "every index and foreign key waited for the rows:\n{log}"
    );
    assert_eq!(catalog_fingerprint(tgt, "padealing"), catalog);
    let data = |f: &str| f.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(data(&schema_fingerprint(tgt, "padealing")), data(&loaded));
    let validated: bool = c
        .query_one(
            "SELECT convalidated FROM pg_constraint WHERE conname = $1",
            &[&breach_fk],
        )
        .expect("the breach's foreign key after the load")
        .get(0);
    assert!(!validated, "a NOT VALID foreign key came back validated");
}

/// A hand-made table in the app schema with rows, whose foreign key
/// references the requests, pins their primary key: the bulk load keeps it
/// and leaves that table and its key as they were.
#[test]
fn a_primary_key_that_a_table_with_rows_references_stays_for_the_bulk_load() {
    let dbs = TestDbs::reserve("pinned", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    demo_then_empty(src, tgt);
    let mut c = client(tgt);
    c.batch_execute(
        "CREATE TABLE padealing.request_note (id int PRIMARY KEY, \
             request_id bigint REFERENCES padealing.pad_request (id), note text); \
         INSERT INTO padealing.request_note VALUES (1, NULL, 'kept by hand')",
    )
    .expect("a hand-made table beside the app's");
    let catalog = catalog_fingerprint(tgt, "padealing");

    let (paths, log) = load_paths(src, tgt);
    let deferred = paths
        .iter()
        .find(|(line, _)| line.contains("pad_request"))
        .map(|(_, n)| *n);
    // Three lookup indexes and the unique key; not the primary key.
    assert_eq!(deferred, Some(4), "{log}");
    assert_eq!(catalog_fingerprint(tgt, "padealing"), catalog);
    let note: String = c
        .query_one("SELECT note FROM padealing.request_note", &[])
        .expect("the hand-made row")
        .get(0);
    assert_eq!(note, "kept by hand");
    let requests: i64 = c
        .query_one("SELECT count(*) FROM padealing.pad_request", &[])
        .expect("count the requests")
        .get(0);
    assert!(requests > 0, "the requests were loaded");
}

/// An empty table of another schema whose foreign key references the
/// requests pins their primary key too: padetl never alters another
/// schema's tables, so the app schema's own children keep their keys as well.
#[test]
fn a_primary_key_that_another_schema_references_stays_for_the_bulk_load() {
    let dbs = TestDbs::reserve("pinned_out", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    demo_then_empty(src, tgt);
    client(tgt)
        .batch_execute(
            "CREATE SCHEMA notes; CREATE TABLE notes.request_note (id int PRIMARY KEY, \
                 request_id bigint REFERENCES padealing.pad_request (id))",
        )
        .expect("a table of another schema referencing the requests");
    let (notes, app) = (
        catalog_fingerprint(tgt, "notes"),
        catalog_fingerprint(tgt, "padealing"),
    );

    let (paths, log) = load_paths(src, tgt);
    let deferred = paths
        .iter()
        .find(|(line, _)| line.contains("pad_request"))
        .map(|(_, n)| *n);
    // Three lookup indexes and the unique key; no child's key, no primary key.
    assert_eq!(deferred, Some(4), "{log}");
    assert_eq!(catalog_fingerprint(tgt, "notes"), notes);
    assert_eq!(catalog_fingerprint(tgt, "padealing"), app);
}

/// Runs the dev pipeline with debug logs; returns each table's `load path`
/// line with how many indexes and keys it deferred, and the whole log.
fn load_paths(src: &str, tgt: &str) -> (Vec<(String, i64)>, String) {
    let out = padetl(src, tgt)
        .env("PADETL_LOG", "padetl=debug")
        .args(["run", "pipelines/dev.toml", "--quiet"])
        .assert()
        .success();
    let log = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    let paths = log
        .lines()
        .filter(|l| l.contains("load path"))
        .filter_map(|l| {
            let n = l.split("deferred=").nth(1)?.split_whitespace().next()?;
            Some((l.to_string(), n.parse::<i64>().ok()?))
        })
        .collect();
    (paths, log)
}

/// The demo's target with its five app tables emptied again, so that the
/// next run loads them in bulk; returns the loaded target's fingerprint.
fn demo_then_empty(src: &str, tgt: &str) -> String {
    padetl(src, tgt)
        .args(["demo", "--rows", "300", "--quiet"])
        .assert()
        .success();
    let loaded = schema_fingerprint(tgt, "padealing");
    client(tgt)
        .batch_execute(
            "DELETE FROM padealing.audit_log; DELETE FROM padealing.pad_breach; \
             DELETE FROM padealing.pad_execution; DELETE FROM padealing.pad_approval; \
             DELETE FROM padealing.pad_request",
        )
        .expect("empty the app tables");
    loaded
}

/// A table loaded in bulk is analysed in the run, so that the next run's
/// checks and merges against it are planned with its statistics.
#[test]
fn a_bulk_load_leaves_its_tables_analysed() {
    let dbs = TestDbs::reserve("analysed", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    padetl(src, tgt)
        .args(["demo", "--rows", "300", "--quiet"])
        .assert()
        .success();
    let mut c = client(tgt);
    // The run's connection reports its ANALYZEs to the statistics as it closes.
    let mut analysed = Vec::new();
    for _ in 0..50 {
        analysed = c
            .query(
                "SELECT relname::text FROM pg_stat_user_tables \
                 WHERE schemaname = 'padealing' AND last_analyze IS NOT NULL ORDER BY 1",
                &[],
            )
            .expect("pg_stat_user_tables")
            .iter()
            .map(|r| r.get(0))
            .collect::<Vec<String>>();
        if analysed.len() >= 5 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        analysed,
        [
            "audit_log",
            "pad_approval",
            "pad_breach",
            "pad_execution",
            "pad_request"
        ]
    );
    let estimated: f32 = c
        .query_one(
            "SELECT reltuples FROM pg_class WHERE oid = 'padealing.pad_request'::regclass",
            &[],
        )
        .expect("reltuples")
        .get(0);
    assert_eq!(estimated as i64, count(tgt, "padealing.pad_request"));
}

/// A source key that repeats is refused, whether both rows fall in one page
/// or one page ends on the key (paging would skip its twin), and the target
/// keeps what it had.
#[test]
fn a_repeated_source_key_fails_the_run_in_a_page_and_across_pages() {
    let dbs = TestDbs::reserve("dupkey", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    padetl(src, tgt)
        .args(["demo", "--rows", "100", "--quiet"])
        .assert()
        .success();
    let mut c = client(src);
    c.batch_execute("ALTER TABLE pa_dealing.audit_logs DROP CONSTRAINT audit_logs_pkey")
        .expect("drop the source's key constraint");
    // The seventh key, so that a page of seven rows ends on it.
    let seventh: i32 = c
        .query_one(
            "INSERT INTO pa_dealing.audit_logs SELECT * FROM pa_dealing.audit_logs \
             WHERE id = (SELECT id FROM pa_dealing.audit_logs ORDER BY id OFFSET 6 LIMIT 1) RETURNING id",
            &[],
        )
        .expect("a repeated audit key")
        .get(0);
    fails_leaving_target_as_it_was(
        src,
        tgt,
        "pipelines/dev.toml",
        predicate::str::contains("audit_logs").and(predicate::str::contains(format!(
            "duplicate values (first: {seventh})"
        ))),
    );

    let ws = Workspace::new(&MIGRATIONS, "\n[settings]\nbatch_size = 7\nreaders = 1\n");
    let rows = count(src, "pa_dealing.audit_logs");
    fails_leaving_target_as_it_was(
        src,
        tgt,
        &ws.pipeline_arg(),
        predicate::str::contains(format!("counted {rows} rows but read {}", rows - 1))
            .and(predicate::str::contains("duplicate values")),
    );
}

/// `run` exits 2 with `stderr` matching, and the target is as it was.
fn fails_leaving_target_as_it_was(
    src: &str,
    tgt: &str,
    pipeline: &str,
    stderr: impl predicates::Predicate<str>,
) {
    let before = schema_fingerprint(tgt, "padealing");
    padetl(src, tgt)
        .args(["run", pipeline, "--quiet"])
        .assert()
        .code(2)
        .stderr(stderr);
    assert_eq!(
        schema_fingerprint(tgt, "padealing"),
        before,
        "a failed run changed the target"
    );
}
