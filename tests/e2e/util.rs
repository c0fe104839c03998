//! Test helpers: fresh databases on the real Postgres, the padetl binary,
//! and fingerprints of the reference schema.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use assert_cmd::Command;
use postgres::{Client, NoTls};

/// Server the tests use; override with PADETL_TEST_DATABASE_URL.
pub fn server_url() -> String {
    std::env::var("PADETL_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgresql://root@127.0.0.1:5432/postgres".into())
}

pub fn url_for(db: &str) -> String {
    let base = server_url();
    let (prefix, _) = base
        .rsplit_once('/')
        .expect("PADETL_TEST_DATABASE_URL must end in /database");
    format!("{prefix}/{db}?sslmode=disable")
}

/// A client on `db`; fails the test with a clear message when Postgres is down.
pub fn client(db: &str) -> Client {
    Client::connect(&url_for(db), NoTls).unwrap_or_else(|e| {
        panic!(
            "Postgres is not reachable at {} ({e}). Start it with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
             or set PADETL_TEST_DATABASE_URL.",
            url_for(db)
        )
    })
}

/// A database name unique to this test process and call.
pub fn unique_name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "padetl_t_{tag}_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Database names owned by one test, dropped when it ends (pass or fail).
pub struct TestDbs {
    pub names: Vec<String>,
}

impl TestDbs {
    /// Reserves `n` unique names; nothing is created yet.
    pub fn reserve(tag: &str, n: usize) -> Self {
        let _ = client("postgres");
        TestDbs {
            names: (0..n).map(|_| unique_name(tag)).collect(),
        }
    }
}

impl Drop for TestDbs {
    fn drop(&mut self) {
        if let Ok(mut admin) = Client::connect(&url_for("postgres"), NoTls) {
            for name in &self.names {
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            }
        }
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The padetl binary, run from the repository root with source and target
/// pointed at `source`/`target` through the environment (which wins over
/// envs/.env.dev).
pub fn padetl(source: &str, target: &str) -> Command {
    let mut cmd = Command::cargo_bin("padetl").expect("padetl binary");
    cmd.current_dir(repo())
        .env("SOURCE_DATABASE_URL", url_for(source))
        .env("TARGET_DATABASE_URL", url_for(target))
        .env_remove("PADETL_LOG");
    cmd
}

/// The padetl binary with no database environment, for bad-input cases.
pub fn padetl_bare() -> Command {
    let mut cmd = Command::cargo_bin("padetl").expect("padetl binary");
    cmd.current_dir(repo())
        .env_remove("SOURCE_DATABASE_URL")
        .env_remove("TARGET_DATABASE_URL");
    cmd
}

/// A fingerprint of a schema's catalog (columns, constraints, indexes) and
/// of every row of every table in it, except the run ledger (`padetl_runs`),
/// which records every run, failed or not, by design.
pub fn schema_fingerprint(db: &str, schema: &str) -> String {
    schema_fingerprint_of(&mut client(db), schema)
}

/// [`schema_fingerprint`] over any connection (the QA-like server's too).
pub fn schema_fingerprint_of(c: &mut Client, schema: &str) -> String {
    let catalog = catalog_fingerprint_of(c, schema);
    let tables: Vec<String> = c
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = $1 AND tablename <> 'padetl_runs' ORDER BY 1",
            &[&schema],
        )
        .expect("list tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = format!("catalog {catalog}");
    for t in tables {
        let sql = format!("SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM \"{schema}\".\"{t}\" t");
        let data: String = c.query_one(&sql, &[]).expect("data fingerprint").get(0);
        out.push_str(&format!("\n{t} {data}"));
    }
    out
}

/// A fingerprint of a schema's catalog alone: columns, constraints (by name,
/// definition and whether validated), indexes, and their comments, except
/// the run ledger's.
pub fn catalog_fingerprint(db: &str, schema: &str) -> String {
    catalog_fingerprint_of(&mut client(db), schema)
}

fn catalog_fingerprint_of(c: &mut Client, schema: &str) -> String {
    c.query_one(
            "WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = $1) \
             SELECT coalesce(md5(string_agg(x, '|' ORDER BY x)), '') FROM ( \
               SELECT format('col %s.%s %s %s %s', table_name, column_name, data_type, is_nullable, column_default) AS x \
                 FROM information_schema.columns WHERE table_schema = $1 AND table_name <> 'padetl_runs' \
               UNION ALL SELECT format('con %s %s %s %s', conname, pg_get_constraintdef(oid), convalidated, obj_description(oid, 'pg_constraint')) \
                 FROM pg_constraint WHERE connamespace IN (SELECT oid FROM ns) AND conrelid <> coalesce(to_regclass(quote_ident($1) || '.padetl_runs'), 0) \
               UNION ALL SELECT format('idx %s %s', indexdef, obj_description(format('%I.%I', schemaname, indexname)::regclass, 'pg_class')) \
                 FROM pg_indexes WHERE schemaname = $1 AND tablename <> 'padetl_runs') s",
            &[&schema],
        )
        .expect("catalog fingerprint")
        .get(0)
}

pub fn count(db: &str, table: &str) -> i64 {
    client(db)
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .expect("count")
        .get(0)
}

/// A pipeline of its own in a temporary folder: the committed tables and
/// SQL, with a migrations folder the test controls and extra `[target]`
/// settings. Removed when dropped.
pub struct Workspace {
    pub dir: PathBuf,
}

impl Workspace {
    /// `migrations` are file names from the repository's `migrations/`;
    /// `target_extra` is TOML added under `[target]`.
    pub fn new(migrations: &[&str], target_extra: &str) -> Self {
        let dir = std::env::temp_dir().join(unique_name("ws"));
        for sub in ["pipelines", "envs", "migrations"] {
            std::fs::create_dir_all(dir.join(sub)).expect("workspace folder");
        }
        std::fs::write(dir.join("envs/.env.test"), "").expect("env file");
        let ws = Workspace { dir };
        for m in migrations {
            ws.add_migration(
                m,
                &std::fs::read_to_string(repo().join("migrations").join(m))
                    .expect("migration file"),
            );
        }
        let toml = format!(
            "env = \"test\"\ninclude = [\"{}\"]\n\n[source]\nurl = \"${{SOURCE_DATABASE_URL}}\"\n\n[target]\nurl = \"${{TARGET_DATABASE_URL}}\"\nmigrations = \"{}\"\n{target_extra}\n",
            repo().join("pipelines/shared/pa_dealing.toml").display(),
            ws.dir.join("migrations").display()
        );
        std::fs::write(ws.pipeline(), toml).expect("pipeline file");
        ws
    }

    pub fn add_migration(&self, name: &str, sql: &str) {
        std::fs::write(self.dir.join("migrations").join(name), sql).expect("migration file");
    }

    pub fn pipeline(&self) -> PathBuf {
        self.dir.join("pipelines/p.toml")
    }

    pub fn pipeline_arg(&self) -> String {
        self.pipeline().display().to_string()
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `cmd`, expects success, and parses its stdout as JSON.
pub fn json_of(cmd: &mut Command) -> serde_json::Value {
    let out = cmd.assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).expect("--json prints JSON")
}

/// Rows per table of a schema, for "every row kept" checks.
pub fn row_counts(db: &str, schema: &str) -> Vec<(String, i64)> {
    let mut c = client(db);
    let tables: Vec<String> = c
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = $1 AND tablename NOT IN ('padetl_schema_history', 'padetl_runs', 'padetl_quarantine') ORDER BY 1",
            &[&schema],
        )
        .expect("list tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    tables
        .into_iter()
        .map(|t| {
            let n = count(db, &format!("\"{schema}\".\"{t}\""));
            (t, n)
        })
        .collect()
}

/// Legacy rows for `n` requests in the v1 tables of `padealing` (the seed
/// writes to `pa_dealing`, so the schema is renamed around it).
pub fn seed_v1_rows(db: &str, n: i32) {
    let mut c = client(db);
    c.batch_execute("ALTER SCHEMA padealing RENAME TO pa_dealing")
        .expect("rename for the seed");
    c.batch_execute(&std::fs::read_to_string(repo().join("seed/legacy.sql")).unwrap())
        .expect("load the legacy seed");
    c.execute("SELECT padetl_seed_legacy($1)", &[&n])
        .expect("seed legacy rows");
    c.batch_execute("ALTER SCHEMA pa_dealing RENAME TO padealing")
        .expect("rename back");
}

/// v1 tables with rows, made without padetl (no history table).
pub fn v1_by_hand(db: &str, n: i32) {
    let v1 = std::fs::read_to_string(repo().join("migrations/0001_v1_legacy_layout.sql")).unwrap();
    client(db)
        .batch_execute(&format!(
            "CREATE SCHEMA padealing; SET search_path TO padealing; {v1}; SET search_path TO DEFAULT"
        ))
        .expect("v1 tables");
    seed_v1_rows(db, n);
}

/// `padetl check <pipeline> <format>`, expecting exit `code`: its stdout.
pub fn check_output(source: &str, target: &str, pipeline: &str, format: &str, code: i32) -> String {
    let out = padetl(source, target)
        .args(["check", pipeline, format, "--quiet"])
        .assert()
        .code(code)
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).expect("UTF-8 report")
}

/// A JSON report with what differs from run to run (ids, URLs, times)
/// replaced, for snapshots.
pub fn stable_report(mut json: serde_json::Value) -> serde_json::Value {
    let varies = || serde_json::Value::from("[varies]");
    for field in ["run_id", "source", "target", "seconds"] {
        json[field] = varies();
    }
    if json["compared_with"].is_object() {
        json["compared_with"]["run_id"] = varies();
        json["compared_with"]["finished"] = varies();
    }
    if let Some(tables) = json["tables"].as_array_mut() {
        for t in tables {
            t["seconds"] = varies();
        }
    }
    json
}

/// The entry for table `name` in a report's or plan's `tables`.
pub fn table<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["tables"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["table"] == name))
        .unwrap_or_else(|| panic!("no table {name} in {report:#}"))
}
