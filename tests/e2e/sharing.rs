//! Sharing the target with the live app: a row padetl did not write is
//! never overwritten. The legacy app and the new app hand out the same id
//! (a collision: refused, or held in quarantine); a row the app edited since
//! the last run (fail, target_wins, source_wins); `app_ids_from` keeps the
//! two id spaces apart; a run while the app writes.

use serde_json::Value;

use crate::util::{client, json_of, padetl, schema_fingerprint, TestDbs, Workspace};

const MIGRATIONS: [&str; 3] = [
    "0001_v1_legacy_layout.sql",
    "0002_v2_padealing.sql",
    "0003_v3_current.sql",
];

fn demo(tag: &str, rows: &str) -> TestDbs {
    let dbs = TestDbs::reserve(tag, 2);
    padetl(&dbs.names[0], &dbs.names[1])
        .args(["demo", "--rows", rows, "--quiet"])
        .assert()
        .success();
    dbs
}

/// The shared pipeline with `extra` TOML appended.
fn pipeline(extra: &str) -> Workspace {
    let ws = Workspace::new(&MIGRATIONS, "");
    let toml = std::fs::read_to_string(ws.pipeline()).expect("pipeline");
    std::fs::write(ws.pipeline(), format!("{toml}\n{extra}\n")).expect("pipeline");
    ws
}

fn fingerprints(db: &str) -> (String, String) {
    (
        schema_fingerprint(db, "padealing"),
        schema_fingerprint(db, "bo_airflow"),
    )
}

/// The app, in the target, and the legacy app, in the source, both create
/// their next request under the same id; returns it.
fn same_id_on_both_sides(src: &str, tgt: &str) -> i64 {
    let id: i64 = client(src)
        .query_one(
            "SELECT max(id)::bigint + 1 FROM pa_dealing.pad_request",
            &[],
        )
        .expect("next legacy id")
        .get(0);
    client(tgt)
        .execute(
            "INSERT INTO padealing.pad_request (id, reference_id, employee_id, ticker, direction, quantity, currency, status) \
             SELECT $1, 'PAD-QA-APP-2', employee_id, 'APPY', 'buy', 5, 'GBP', 'pending_manager_approval' \
             FROM padealing.pad_request ORDER BY id LIMIT 1",
            &[&id],
        )
        .expect("the app's request");
    client(src)
        .execute(
            "INSERT INTO pa_dealing.pad_request (id, employee_id, security_id, ticker, direction, quantity, price, currency, status, reason, created_at) \
             SELECT $1, employee_id, security_id, 'LEGY', 'B', 7, 10.5, 'GBP', 'APPROVED', 'legacy new 2', now() \
             FROM pa_dealing.pad_request ORDER BY id LIMIT 1",
            &[&(id as i32)],
        )
        .expect("the legacy request");
    client(src)
        .execute(
            "INSERT INTO pa_dealing.pad_approval (request_id, approver_id, level, approved, comment, decided_at) \
             SELECT $1, approver_id, 'MANAGER', true, 'ok', now() FROM pa_dealing.pad_approval ORDER BY id LIMIT 1",
            &[&(id as i32)],
        )
        .expect("its approval");
    id
}

fn request_of(tgt: &str, id: i64) -> (String, String) {
    let r = client(tgt)
        .query_one(
            "SELECT reference_id, ticker FROM padealing.pad_request WHERE id = $1",
            &[&id],
        )
        .expect("the row");
    (r.get(0), r.get(1))
}

/// A run that fails its checks (exit 1); its stderr.
fn refused_run(src: &str, tgt: &str) -> String {
    let out = padetl(src, tgt)
        .args(["run", "pipelines/dev.toml", "--quiet"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_collision_is_refused_naming_both_rows_and_changes_nothing() {
    let dbs = demo("sh_coll", "200");
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let id = same_id_on_both_sides(src, tgt);
    let before = fingerprints(tgt);

    let stderr = refused_run(src, tgt);
    assert!(stderr.contains("pad_request_identity"), "{stderr}");
    assert!(stderr.contains(&format!("key {id}")), "{stderr}");
    assert!(
        stderr.contains("PAD-QA-APP-2"),
        "names the app's row: {stderr}"
    );
    assert!(
        stderr.contains(&format!("-000{id}")) || stderr.contains(&id.to_string()),
        "{stderr}"
    );
    assert_eq!(fingerprints(tgt), before, "nothing changed");
    assert_eq!(request_of(tgt, id), ("PAD-QA-APP-2".into(), "APPY".into()));

    let out = padetl(src, tgt)
        .args(["check", "pipelines/dev.toml", "--json", "--quiet"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report: Value = serde_json::from_slice(&out).expect("JSON");
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "pad_request_identity")
        .expect("the identity check");
    assert_eq!(check["violations"], 1);
    let sample = &check["sample"][0]["row"];
    assert_eq!(
        sample["in_target"]["reference_id"], "PAD-QA-APP-2",
        "{sample}"
    );
    assert_eq!(sample["incoming"]["ticker"], "LEGY", "{sample}");
}

#[test]
fn a_collision_in_quarantine_keeps_the_apps_row_and_holds_the_legacy_one() {
    let dbs = demo("sh_quar", "200");
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let id = same_id_on_both_sides(src, tgt);
    let reference = schema_fingerprint(tgt, "bo_airflow");
    let ws = pipeline("[[tables]]\nname = \"pad_request\"\ncollision = \"quarantine\"\n");
    let report = json_of(padetl(src, tgt).args(["run", &ws.pipeline_arg(), "--json", "--quiet"]));
    assert_eq!(
        request_of(tgt, id),
        ("PAD-QA-APP-2".into(), "APPY".into()),
        "the app's row is intact"
    );
    let held: Vec<(String, String)> = client(tgt)
        .query(
            "SELECT table_name, check_name FROM padealing.padetl_quarantine WHERE row_key = $1 OR \
             (table_name = 'pad_approval' AND row_data->>'request_id' = $1::text) ORDER BY 1",
            &[&id],
        )
        .expect("quarantine")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(
        held.contains(&("pad_request".into(), "pad_request_identity".into())),
        "{held:?}"
    );
    assert!(
        held.iter()
            .any(|(t, c)| t == "pad_approval" && c == "follows_pad_request"),
        "its approval follows: {held:?}"
    );
    assert!(report["tables"][0]["quarantined"].as_u64().unwrap() >= 1);
    assert_eq!(schema_fingerprint(tgt, "bo_airflow"), reference);
}

/// A request the app edited since the last run, that the legacy source
/// changed too; returns its id.
fn edited_on_both_sides(src: &str, tgt: &str) -> i64 {
    let id: i64 = client(tgt)
        .query_one("SELECT min(id) FROM padealing.pad_request", &[])
        .expect("a request")
        .get(0);
    client(tgt)
        .execute(
            "UPDATE padealing.pad_request SET reason = 'edited in QA', updated_at = now() WHERE id = $1",
            &[&id],
        )
        .expect("the app edits");
    client(src)
        .execute(
            "UPDATE pa_dealing.pad_request SET reason = 'changed in legacy' WHERE id = $1",
            &[&(id as i32)],
        )
        .expect("the legacy app edits");
    id
}

fn reason(tgt: &str, id: i64) -> String {
    client(tgt)
        .query_one(
            "SELECT reason FROM padealing.pad_request WHERE id = $1",
            &[&id],
        )
        .expect("the row")
        .get(0)
}

fn finding<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report:#}"))
}

#[test]
fn a_row_edited_in_the_target_since_the_last_run_is_never_silently_overwritten() {
    let dbs = demo("sh_edit", "150");
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let id = edited_on_both_sides(src, tgt);
    let before = fingerprints(tgt);

    // fail (the default): exit 1, nothing written, the row named.
    let stderr = refused_run(src, tgt);
    assert!(stderr.contains("pad_request_changed_in_target"), "{stderr}");
    assert!(
        stderr.contains(&format!("id={id} changed in the target")),
        "{stderr}"
    );
    assert_eq!(fingerprints(tgt), before);

    // target_wins: the app's version stays, counted; again on a rerun.
    let keep = pipeline("[[tables]]\nname = \"pad_request\"\non_target_change = \"target_wins\"\n");
    for _ in 0..2 {
        let report =
            json_of(padetl(src, tgt).args(["run", &keep.pipeline_arg(), "--json", "--quiet"]));
        assert_eq!(reason(tgt, id), "edited in QA");
        assert_eq!(report["tables"][0]["left_alone"], 1, "{report:#}");
        assert_eq!(
            finding(&report, "pad_request_changed_in_target")["violations"],
            1
        );
    }

    // source_wins: the source's version is written over it, counted.
    let take = pipeline("[[tables]]\nname = \"pad_request\"\non_target_change = \"source_wins\"\n");
    let report = json_of(padetl(src, tgt).args(["run", &take.pipeline_arg(), "--json", "--quiet"]));
    assert_eq!(reason(tgt, id), "changed in legacy");
    assert_eq!(
        finding(&report, "pad_request_changed_in_target")["violations"],
        1
    );
    assert_eq!(report["tables"][0]["updated"], 1);
    // Now padetl wrote it: a rerun has nothing to say.
    let again = json_of(padetl(src, tgt).args(["run", "pipelines/dev.toml", "--json", "--quiet"]));
    assert!(again["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["name"] != "pad_request_changed_in_target"));
}

#[test]
fn app_ids_from_keeps_the_apps_ids_and_the_sources_apart() {
    let dbs = TestDbs::reserve("sh_ids", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let ws = pipeline("");
    let toml = std::fs::read_to_string(ws.pipeline()).unwrap();
    std::fs::write(
        ws.pipeline(),
        toml.replace("[target]\n", "[target]\napp_ids_from = 1000000\n"),
    )
    .unwrap();
    padetl(src, tgt)
        .args([
            "demo",
            "--rows",
            "100",
            "--quiet",
            "--pipeline",
            &ws.pipeline_arg(),
        ])
        .assert()
        .success();

    // The app creates a request with the target's identity; the legacy app
    // creates one with its own sequence.
    let app_id: i64 = client(tgt)
        .query_one(
            "INSERT INTO padealing.pad_request (reference_id, employee_id, ticker, direction, quantity, currency, status) \
             SELECT 'PAD-APP-1', employee_id, 'APPY', 'buy', 5, 'GBP', 'approved' FROM padealing.pad_request LIMIT 1 RETURNING id",
            &[],
        )
        .expect("the app's request")
        .get(0);
    assert_eq!(app_id, 1_000_000, "the app's ids start at app_ids_from");
    let legacy_id: i32 = client(src)
        .query_one(
            "INSERT INTO pa_dealing.pad_request (employee_id, security_id, ticker, direction, quantity, price, currency, status, reason, created_at) \
             SELECT employee_id, security_id, 'LEGY', 'B', 7, 10.5, 'GBP', 'APPROVED', 'legacy new', now() FROM pa_dealing.pad_request LIMIT 1 RETURNING id",
            &[],
        )
        .expect("the legacy request")
        .get(0);
    let report = json_of(padetl(src, tgt).args(["run", &ws.pipeline_arg(), "--json", "--quiet"]));
    assert_eq!(
        report["tables"][0]["inserted"], 1,
        "the legacy request arrives"
    );
    assert_eq!(request_of(tgt, app_id).0, "PAD-APP-1");
    assert!(request_of(tgt, legacy_id as i64).0.starts_with("PAD-"));
    let next: i64 = client(tgt)
        .query_one(
            "SELECT pg_sequence_last_value(pg_get_serial_sequence('padealing.pad_request', 'id'))",
            &[],
        )
        .expect("sequence")
        .get(0);
    assert!(
        next >= 1_000_000,
        "the bump never pulls the identity back: {next}"
    );
    // Without app_ids_from, check says where the two id spaces meet.
    let report =
        json_of(padetl(src, tgt).args(["check", "pipelines/dev.toml", "--json", "--quiet"]));
    let notes = report["notes"].as_array().expect("notes");
    assert!(
        notes
            .iter()
            .any(|n| n.as_str().unwrap().contains("Set [target] app_ids_from")),
        "{notes:?}"
    );
}

#[test]
fn a_run_alongside_the_apps_writes_completes_and_leaves_the_apps_rows_alone() {
    let dbs = TestDbs::reserve("sh_live", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    let ws = pipeline(
        "[settings]\nbatch_size = 500\n\n[[tables]]\nname = \"pad_request\"\non_target_change = \"target_wins\"\n",
    );
    let toml = std::fs::read_to_string(ws.pipeline()).unwrap();
    std::fs::write(
        ws.pipeline(),
        toml.replace(
            "[target]\n",
            "[target]\napp_ids_from = 1000000\nlock_timeout = \"20s\"\n",
        ),
    )
    .unwrap();
    padetl(src, tgt)
        .args([
            "demo",
            "--rows",
            "6000",
            "--quiet",
            "--pipeline",
            &ws.pipeline_arg(),
        ])
        .assert()
        .success();
    // The legacy app moves on: a rerun has work to do.
    client(src)
        .batch_execute(
            "UPDATE pa_dealing.pad_request SET reason = reason || ' (updated)' WHERE id % 10 = 0",
        )
        .expect("legacy changes");
    let reference = schema_fingerprint(tgt, "bo_airflow");

    // The app: 20 transactions a second, each inserting a request, an
    // approval for it and an audit row, and editing an earlier app request;
    // every fifth also edits a legacy request the run is about to update.
    let legacy_row: i64 = client(tgt)
        .query_one(
            "SELECT min(id) FROM padealing.pad_request WHERE id % 10 = 0",
            &[],
        )
        .expect("a legacy row the run updates")
        .get(0);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let app = {
        let (stop, tgt) = (stop.clone(), tgt.clone());
        std::thread::spawn(move || {
            let mut c = client(&tgt);
            let mut made: Vec<i64> = Vec::new();
            let mut errors = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let n = made.len();
                let result = (|| -> Result<i64, postgres::Error> {
                    let mut tx = c.transaction()?;
                    let id: i64 = tx
                        .query_one(
                            "INSERT INTO padealing.pad_request (reference_id, employee_id, ticker, direction, quantity, currency, status) \
                             SELECT 'PAD-LIVE-' || $1::text, employee_id, 'LIVE', 'buy', 1, 'GBP', 'pending_manager_approval' \
                             FROM padealing.pad_request ORDER BY id LIMIT 1 RETURNING id",
                            &[&n.to_string()],
                        )?
                        .get(0);
                    tx.execute(
                        "INSERT INTO padealing.pad_approval (request_id, approver_id, approval_type, decision) \
                         SELECT $1, approver_id, 'manager', 'pending' FROM padealing.pad_approval ORDER BY id LIMIT 1",
                        &[&id],
                    )?;
                    tx.execute(
                        "INSERT INTO padealing.audit_log (entity_type, entity_id, action, actor_identifier, occurred_at) \
                         VALUES ('pad_request', $1, 'request_created', 'live-app', now())",
                        &[&id],
                    )?;
                    if let Some(earlier) = made.first() {
                        tx.execute(
                            "UPDATE padealing.pad_request SET reason = 'edited live', updated_at = now() WHERE id = $1",
                            &[earlier],
                        )?;
                    }
                    if n % 5 == 0 {
                        tx.execute(
                            "UPDATE padealing.pad_request SET reason = 'edited live', updated_at = now() WHERE id = $1",
                            &[&legacy_row],
                        )?;
                    }
                    tx.commit()?;
                    Ok(id)
                })();
                match result {
                    Ok(id) => made.push(id),
                    Err(e) => errors.push(e.to_string()),
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            (made, errors)
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = padetl(src, tgt)
        .args(["run", &ws.pipeline_arg(), "--json", "--quiet"])
        .output()
        .expect("padetl runs");
    std::thread::sleep(std::time::Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (made, errors) = app.join().expect("the app thread");
    assert!(
        errors.is_empty(),
        "no app transaction failed or deadlocked: {errors:?}"
    );
    assert!(
        made.len() >= 3,
        "the app wrote during the run: {}",
        made.len()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || (out.status.code() == Some(3) && stderr.contains("lock")),
        "the run completes or gives up cleanly: {stderr}"
    );
    let mut c = client(tgt);
    let live: i64 = c
        .query_one(
            "SELECT count(*) FROM padealing.pad_request WHERE reference_id LIKE 'PAD-LIVE-%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(live as usize, made.len(), "every app request is there");
    assert!(
        made.iter().all(|id| *id >= 1_000_000),
        "the app's ids stay in its range"
    );
    let edited: String = c
        .query_one(
            "SELECT reason FROM padealing.pad_request WHERE id = $1",
            &[&made[0]],
        )
        .unwrap()
        .get(0);
    assert_eq!(edited, "edited live", "the app's edit is not overwritten");
    let legacy: String = c
        .query_one(
            "SELECT reason FROM padealing.pad_request WHERE id = $1",
            &[&legacy_row],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        legacy, "edited live",
        "the app's edit of a legacy row is not overwritten"
    );
    let audit: i64 = c
        .query_one(
            "SELECT count(*) FROM padealing.audit_log WHERE actor_identifier = 'live-app'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(audit as usize, made.len());
    if out.status.success() {
        let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert!(
            report["tables"][0]["updated"].as_u64().unwrap() > 0,
            "the legacy changes arrived"
        );
    }
    assert_eq!(schema_fingerprint(tgt, "bo_airflow"), reference);
}
