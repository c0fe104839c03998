//! Load modes, set per table (here by overriding the shared pipeline's
//! tables from an including file): `insert` never rewrites a row, `replace`
//! leaves the table exactly the loaded rows; both change nothing on a rerun.

use predicates::prelude::*;
use serde_json::Value;

use crate::util::{client, count, json_of, padetl, schema_fingerprint, TestDbs, Workspace};

const MIGRATIONS: [&str; 3] = [
    "0001_v1_legacy_layout.sql",
    "0002_v2_padealing.sql",
    "0003_v3_current.sql",
];

fn demo(tag: &str) -> TestDbs {
    let dbs = TestDbs::reserve(tag, 2);
    padetl(&dbs.names[0], &dbs.names[1])
        .args(["demo", "--rows", "200", "--quiet"])
        .assert()
        .success();
    dbs
}

fn with_mode(table: &str, mode: &str) -> Workspace {
    let ws = Workspace::new(&MIGRATIONS, "");
    let toml = std::fs::read_to_string(ws.pipeline()).unwrap();
    std::fs::write(
        ws.pipeline(),
        format!("{toml}\n[[tables]]\nname = \"{table}\"\nmode = \"{mode}\"\n"),
    )
    .unwrap();
    ws
}

fn table_report<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tables"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["table"] == name))
        .expect("table in the report")
}

#[test]
fn insert_mode_adds_new_rows_and_refuses_to_rewrite_one() {
    let dbs = demo("m_insert");
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let ws = with_mode("audit_log", "insert");
    let run = || {
        let mut cmd = padetl(src, tgt);
        cmd.args(["run", &ws.pipeline_arg(), "--json", "--quiet"]);
        cmd
    };

    let again = json_of(&mut run());
    assert_eq!(table_report(&again, "audit_log")["mode"], "insert");
    assert_eq!(
        again["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["inserted"].as_i64().unwrap() + t["updated"].as_i64().unwrap())
            .sum::<i64>(),
        0
    );

    client(src)
        .batch_execute(
            "INSERT INTO pa_dealing.audit_logs (id, request_id, action, actor_email, payload, created_at) \
             VALUES (999999, NULL, 'nightly_check', NULL, '{}', '2024-06-01 12:00')",
        )
        .unwrap();
    let added = json_of(&mut run());
    assert_eq!(table_report(&added, "audit_log")["inserted"], 1);

    let id: i32 = client(src)
        .query_one(
            "UPDATE pa_dealing.audit_logs SET action = 'rewritten' WHERE id = 7 RETURNING id",
            &[],
        )
        .unwrap()
        .get(0);
    let before = schema_fingerprint(tgt, "padealing");
    run().assert().code(2).stderr(
        predicate::str::contains("insert mode").and(predicate::str::contains(format!("id={id}"))),
    );
    assert_eq!(schema_fingerprint(tgt, "padealing"), before);
}

#[test]
fn replace_mode_deletes_rows_no_longer_in_the_source() {
    let dbs = demo("m_replace");
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let ws = with_mode("pad_breach", "replace");
    let gone: i32 = client(src)
        .query_one("DELETE FROM pa_dealing.pad_breach WHERE id = (SELECT min(id) FROM pa_dealing.pad_breach) RETURNING id", &[])
        .unwrap()
        .get(0);
    let report = json_of(padetl(src, tgt).args(["run", &ws.pipeline_arg(), "--json", "--quiet"]));
    assert_eq!(table_report(&report, "pad_breach")["deleted"], 1);
    let left: i64 = client(tgt)
        .query_one(
            "SELECT count(*) FROM padealing.pad_breach WHERE id = $1",
            &[&i64::from(gone)],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);

    let before = schema_fingerprint(tgt, "padealing");
    let again = json_of(padetl(src, tgt).args(["run", &ws.pipeline_arg(), "--json", "--quiet"]));
    assert_eq!(table_report(&again, "pad_breach")["deleted"], 0);
    assert_eq!(schema_fingerprint(tgt, "padealing"), before);
}

/// `not_shrink` guards a `replace` table against a source that lost rows:
/// the run stops before it commits, with both counts. The same check on an
/// `upsert` table, which cannot shrink, holds.
#[test]
fn a_replace_table_that_would_shrink_fails_its_not_shrink_check() {
    let dbs = demo("m_shrink");
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let check = "\n[[checks]]\nname = \"breaches_kept\"\ntable = \"pad_breach\"\nkind = \"row_count\"\nnot_shrink = true\npolicy = \"fail\"\n";
    let replace = with_mode("pad_breach", "replace");
    let upsert = with_mode("pad_breach", "upsert");
    for ws in [&replace, &upsert] {
        let toml = std::fs::read_to_string(ws.pipeline()).unwrap();
        std::fs::write(ws.pipeline(), format!("{toml}{check}")).unwrap();
    }
    let rows = count(tgt, "padealing.pad_breach");
    client(src)
        .batch_execute(
            "DELETE FROM pa_dealing.pad_breach WHERE id IN \
             (SELECT id FROM pa_dealing.pad_breach ORDER BY id LIMIT 2)",
        )
        .unwrap();
    let before = schema_fingerprint(tgt, "padealing");
    padetl(src, tgt)
        .args(["run", &replace.pipeline_arg(), "--quiet"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("breaches_kept").and(predicate::str::contains(format!(
                "the table would shrink from {rows} to {}",
                rows - 2
            ))),
        );
    assert_eq!(schema_fingerprint(tgt, "padealing"), before);

    let kept = json_of(padetl(src, tgt).args(["run", &upsert.pipeline_arg(), "--json", "--quiet"]));
    assert_eq!(table_report(&kept, "pad_breach")["deleted"], 0);
    let result = kept["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "breaches_kept"))
        .expect("the check in the report");
    assert_eq!(result["violations"], 0, "{result:#}");
    assert_eq!(count(tgt, "padealing.pad_breach"), rows);
}

#[test]
fn an_unknown_mode_names_file_and_line() {
    let ws = with_mode("pad_breach", "merge");
    padetl("unused", "unused")
        .args(["validate", &ws.pipeline_arg()])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("p.toml:").and(predicate::str::contains(
                "mode `merge` is not one of upsert, insert, replace",
            )),
        );
}
