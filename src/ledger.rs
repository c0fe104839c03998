//! The run ledger: one row per `run`, `check` and `verify` in the app
//! schema's `padetl_runs`, written on a connection of its own so that it
//! survives the run's rollback. A row is inserted as `running` before any
//! work and finished with the outcome, the counts, the check results and the
//! whole report as JSON; a killed run's row stays `running`.
//!
//! It is the only thing a failed run leaves in the target, and the only thing
//! a repeated run adds: the dashboard's data source.

use tokio_postgres::Client;

use crate::config::{quote, Pipeline};
use crate::error::Error;
use crate::report::{Compared, RunReport};
use crate::schema::create_schema_if_missing;
use crate::target::{connect, query_error, Mode};

/// padetl's own table beside the schema history and the quarantine.
pub const LEDGER_TABLE: &str = "padetl_runs";

/// An open ledger row.
pub struct Ledger {
    client: Client,
    table: String,
    id: String,
}

impl Ledger {
    /// Creates the ledger table if needed and records the start of `command`.
    pub async fn start(pipeline: &Pipeline, mode: Mode, id: &str) -> Result<Self, Error> {
        let url = &pipeline.target.url;
        let client = connect(url).await?;
        let schema = pipeline.target.app_schema.quoted();
        let table = format!("{schema}.{}", quote(LEDGER_TABLE));
        // Two runs starting at once would race on IF NOT EXISTS; the lock
        // makes the second wait for the first's commit.
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {table} (\
               id text PRIMARY KEY, command text NOT NULL, pipeline text NOT NULL, env text NOT NULL, \
               os_user text, db_user text NOT NULL DEFAULT current_user, \
               started_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz, \
               status text NOT NULL, error text, tables jsonb, checks jsonb, report jsonb, \
               reference_fingerprint text); \
             ALTER TABLE {table} ADD COLUMN IF NOT EXISTS transaction_id bigint; \
             COMMIT"
        );
        let err = |e| query_error(url, "creating the run ledger", &e);
        client
            .batch_execute("BEGIN; SELECT pg_advisory_xact_lock(hashtext('padetl:ledger'))")
            .await
            .map_err(err)?;
        create_schema_if_missing(&client, pipeline.target.app_schema.as_str())
            .await
            .map_err(err)?;
        client.batch_execute(&create).await.map_err(err)?;
        client
            .execute(
                &format!(
                    "INSERT INTO {table} (id, command, pipeline, env, os_user, status) \
                     VALUES ($1, $2, $3, $4, $5, 'running')"
                ),
                &[
                    &id,
                    &mode.as_str(),
                    &pipeline.name,
                    &pipeline.env,
                    &os_user(),
                ],
            )
            .await
            .map_err(|e| query_error(url, "recording the run in the ledger", &e))?;
        Ok(Ledger {
            client,
            table,
            id: id.to_string(),
        })
    }

    /// The latest finished `check` or `run` of the same pipeline and env
    /// that left a report, for the "since" columns of this one's.
    pub async fn previous(&self, pipeline: &Pipeline) -> Option<Previous> {
        let row = self
            .client
            .query_opt(
                &format!(
                    "SELECT id, command, to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'), report::text \
                     FROM {} WHERE pipeline = $1 AND env = $2 AND command IN ('run', 'check') \
                     AND report IS NOT NULL AND finished_at IS NOT NULL AND id <> $3 \
                     ORDER BY finished_at DESC LIMIT 1",
                    self.table
                ),
                &[&pipeline.name, &pipeline.env, &self.id],
            )
            .await
            .map_err(|e| tracing::warn!("reading the previous report from the ledger: {e}"))
            .ok()??;
        let report: String = row.get(3);
        let report = serde_json::from_str(&report)
            .map_err(|e| tracing::warn!("the previous report in the ledger cannot be read: {e}"))
            .ok()?;
        Some(Previous {
            run: Compared {
                run_id: row.get(0),
                command: row.get(1),
                finished: row.get(2),
            },
            report,
        })
    }

    /// Records the outcome. `reference` is the reference schema's fingerprint
    /// after a successful run, for `verify` to compare with later.
    pub async fn finish(
        &self,
        outcome: &Result<RunReport, Error>,
        reference: Option<&str>,
    ) -> Result<(), tokio_postgres::Error> {
        let (status, error, report) = match outcome {
            Ok(r) if !r.failed_checks().is_empty() => ("checks_failed", None, Some(r)),
            Ok(r) => ("succeeded", None, Some(r)),
            Err(Error::ChecksFailed(_)) => ("checks_failed", Some(outcome_error(outcome)), None),
            Err(_) => ("failed", Some(outcome_error(outcome)), None),
        };
        let transaction = report.and_then(|r| r.transaction);
        let json = |v: serde_json::Value| v.to_string();
        let (tables, checks, whole) = match report {
            Some(r) => (
                serde_json::to_value(&r.tables).ok().map(json),
                serde_json::to_value(&r.checks).ok().map(json),
                serde_json::to_value(r).ok().map(json),
            ),
            None => (None, None, None),
        };
        self.client
            .execute(
                &format!(
                    "UPDATE {} SET finished_at = now(), status = $2, error = $3, \
                     tables = $4::text::jsonb, checks = $5::text::jsonb, report = $6::text::jsonb, \
                     reference_fingerprint = $7, transaction_id = $8 WHERE id = $1",
                    self.table
                ),
                &[
                    &self.id,
                    &status,
                    &error,
                    &tables,
                    &checks,
                    &whole,
                    &reference,
                    &transaction,
                ],
            )
            .await
            .map(|_| ())
    }
}

/// An earlier pass's report, as the ledger kept it.
pub struct Previous {
    pub run: Compared,
    pub report: RunReport,
}

/// The reference fingerprint the last successful run recorded.
pub async fn last_reference_fingerprint(
    client: &Client,
    pipeline: &Pipeline,
) -> Result<Option<(String, String)>, tokio_postgres::Error> {
    let table = format!(
        "{}.{}",
        pipeline.target.app_schema.quoted(),
        quote(LEDGER_TABLE)
    );
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = client
        .query_opt(
            &format!(
                "SELECT id, reference_fingerprint FROM {table} WHERE command = 'run' \
                 AND status = 'succeeded' AND reference_fingerprint IS NOT NULL \
                 ORDER BY finished_at DESC LIMIT 1"
            ),
            &[],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

fn outcome_error(outcome: &Result<RunReport, Error>) -> String {
    match outcome {
        Err(e) => e.to_string(),
        Ok(_) => String::new(),
    }
}

fn os_user() -> Option<String> {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .ok()
}

/// The transaction ids (64-bit) of every successful run on this app
/// schema, oldest first: the rows they wrote are padetl's.
pub async fn padetl_transactions(
    client: &Client,
    pipeline: &Pipeline,
) -> Result<Vec<i64>, tokio_postgres::Error> {
    let table = format!(
        "{}.{}",
        pipeline.target.app_schema.quoted(),
        quote(LEDGER_TABLE)
    );
    let exists: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'transaction_id' AND NOT attisdropped)",
            &[&table],
        )
        .await?
        .get(0);
    if !exists {
        return Ok(vec![]);
    }
    let rows = client
        .query(
            &format!(
                "SELECT transaction_id FROM {table} WHERE command = 'run' AND status = 'succeeded' \
                 AND transaction_id IS NOT NULL ORDER BY transaction_id"
            ),
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
