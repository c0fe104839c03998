//! The bench's incremental rows: change columns on the generated source,
//! one run to set the marks, then a rerun with nothing new and one after 1%
//! new and 1% changed requests.

use std::path::Path;
use std::process::Command as Process;

use super::tools::{measure, timed};
use super::{write, Databases, Measurement, BENCH_CHECKS};
use crate::config::Pipeline;
use crate::error::Error;
use crate::report::progress::Progress;
use crate::target::{connect, query_error};

/// Incremental refresh: the tables get change columns (requests and
/// approvals) or growing keys (the rest); one run sets the marks, then a
/// rerun with nothing new, then one after 1% new and 1% changed requests
/// (with their approvals and audit rows). rows/s is over the whole dataset.
pub(super) async fn incremental(
    pipeline: &Pipeline,
    dbs: &Databases,
    out: &Path,
    exe: &Path,
    rows: u64,
    source_mb: f64,
    progress: &Progress,
) -> Result<Vec<Measurement>, Error> {
    let source = connect(&dbs.source).await?;
    let run_sql = |sql: &'static str, what: &'static str| {
        let source = &source;
        async move {
            source
                .batch_execute(sql)
                .await
                .map_err(|e| query_error(&dbs.source, what, &e))
        }
    };
    run_sql(CHANGE_COLUMNS, "adding change columns to the bench source").await?;
    let path = out.join("tmp").join("bench-incremental.toml");
    let base = std::fs::canonicalize(&pipeline.path)
        .map_err(|e| Error::Usage(format!("{}: {e}", pipeline.path.display())))?;
    write(
        &path,
        &format!(
            "include = [\"{}\"]\n{INCREMENTAL}{BENCH_CHECKS}",
            base.display()
        ),
    )?;
    let run = || {
        let mut cmd = Process::new(exe);
        cmd.args(["run", &path.display().to_string(), "--quiet", "--json"]);
        cmd.args(["--env-file", &pipeline.env_file.display().to_string()]);
        cmd.env("SOURCE_DATABASE_URL", dbs.source.expose())
            .env("TARGET_DATABASE_URL", dbs.target.expose());
        timed(cmd)
    };
    progress.note("padetl incremental: setting the marks");
    run().map_err(|e| Error::Internal(format!("the incremental bench's first run {e}")))?;
    let incremental_run = |tool: &str| {
        progress.note(tool);
        let mut m = measure(tool, rows, source_mb, run());
        m.note = "reads what changed since the marks; rows/s over the whole dataset".into();
        m
    };
    let [nothing, one_percent] = INCREMENTAL_ROWS;
    let unchanged = incremental_run(nothing);
    run_sql(ONE_PERCENT, "changing 1% of the bench source").await?;
    let changed = incremental_run(one_percent);
    Ok(vec![unchanged, changed])
}

/// The two rows this part of the bench measures.
pub(super) const INCREMENTAL_ROWS: [&str; 2] = [
    "padetl incremental rerun, nothing changed",
    "padetl incremental, 1% new + 1% changed requests",
];

/// Change columns as a legacy app would keep them: each row stamped with
/// the time it last changed (here its creation or decision), so that the
/// stamps spread as they would in production, with the index a DBA adds
/// for incremental extraction (docs/pipelines.md), and the statistics a
/// database in use has (the generated source has none until then).
const CHANGE_COLUMNS: &str = "\
ALTER TABLE pa_dealing.pad_request ADD COLUMN IF NOT EXISTS updated_at timestamp;
UPDATE pa_dealing.pad_request SET updated_at = created_at;
ALTER TABLE pa_dealing.pad_approval ADD COLUMN IF NOT EXISTS updated_at timestamp;
UPDATE pa_dealing.pad_approval SET updated_at = coalesce(decided_at, TIMESTAMP '2023-01-01');
CREATE INDEX IF NOT EXISTS pad_request_updated_at_idx ON pa_dealing.pad_request (updated_at);
CREATE INDEX IF NOT EXISTS pad_approval_updated_at_idx ON pa_dealing.pad_approval (updated_at);
ANALYZE pa_dealing.pad_request;
ANALYZE pa_dealing.pad_approval;
ANALYZE pa_dealing.pad_execution;
ANALYZE pa_dealing.pad_breach;
ANALYZE pa_dealing.audit_logs;";

const INCREMENTAL: &str = r#"
[[tables]]
name = "pad_request"
incremental = { column = "updated_at", overlap = "5m" }

[[tables]]
name = "pad_approval"
incremental = { column = "updated_at", overlap = "5m" }

[[tables]]
name = "pad_execution"
incremental = { key = "id" }

[[tables]]
name = "pad_breach"
incremental = { key = "id" }

[[tables]]
name = "audit_log"
incremental = { key = "id" }
"#;

/// 1% new requests (copies of existing ones under new ids, with their
/// approvals and audit rows) and 1% changed requests and approvals.
const ONE_PERCENT: &str = "\
CREATE TEMP TABLE bench_new AS
  SELECT id AS old_id, (SELECT max(id) FROM pa_dealing.pad_request) + row_number() OVER (ORDER BY id) AS new_id
  FROM pa_dealing.pad_request WHERE id % 100 = 7;
INSERT INTO pa_dealing.pad_request (id, employee_id, security_id, ticker, direction, quantity, price, currency, status, reason, created_at, updated_at)
  SELECT n.new_id, r.employee_id, r.security_id, r.ticker, r.direction, r.quantity, r.price, r.currency, r.status, r.reason, r.created_at, '2026-02-01'
  FROM pa_dealing.pad_request r JOIN bench_new n ON n.old_id = r.id;
INSERT INTO pa_dealing.pad_approval (id, request_id, approver_id, level, approved, comment, decided_at, updated_at)
  SELECT (SELECT max(id) FROM pa_dealing.pad_approval) + row_number() OVER (ORDER BY a.id), n.new_id,
         a.approver_id, a.level, a.approved, a.comment, a.decided_at, '2026-02-01'
  FROM pa_dealing.pad_approval a JOIN bench_new n ON n.old_id = a.request_id;
INSERT INTO pa_dealing.audit_logs (id, request_id, action, actor_email, payload, created_at)
  SELECT (SELECT max(id) FROM pa_dealing.audit_logs) + row_number() OVER (ORDER BY l.id), n.new_id,
         l.action, l.actor_email, l.payload, l.created_at
  FROM pa_dealing.audit_logs l JOIN bench_new n ON n.old_id = l.request_id;
UPDATE pa_dealing.pad_request SET reason = coalesce(reason, '') || ' (amended)', updated_at = '2026-02-01' WHERE id % 100 = 11;
UPDATE pa_dealing.pad_approval SET comment = coalesce(comment, '') || ' (amended)', updated_at = '2026-02-01' WHERE id % 100 = 13;
DROP TABLE bench_new;";
