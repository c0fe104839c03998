//! The one transaction a command works in on the target: opened, bounded
//! by the pipeline's timeouts, locked against a second run, and ended as
//! its [`Mode`] says. Nothing commits but a [`Mode::Run`]; a session that is
//! dropped without [`TargetSession::end`] closes its connection, and the
//! server rolls the transaction back.

use tokio_postgres::Client;

use super::{connect, query_error, DbError};
use crate::config::{DatabaseUrl, Pipeline};
use crate::report::progress::Progress;

/// What a pass over a pipeline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Reconcile and load, then commit.
    Run,
    /// Everything up to the merge, counted instead of written, rolled back.
    Check,
    /// As `Check`, and the staged rows compared with the tables.
    Verify,
}

impl Mode {
    /// The name the run ledger records.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Run => "run",
            Mode::Check => "check",
            Mode::Verify => "verify",
        }
    }

    /// True when the pass may write the app's tables and commits.
    pub fn writes(self) -> bool {
        self == Mode::Run
    }
}

/// An open transaction on the pipeline's target.
pub struct TargetSession {
    client: Client,
    url: DatabaseUrl,
    commit: bool,
}

impl TargetSession {
    /// Connects, begins, sets the timeouts and takes the run lock: one run
    /// (or check, or verify) per app schema at a time.
    pub async fn begin(
        pipeline: &Pipeline,
        mode: Mode,
        progress: &Progress,
    ) -> Result<Self, DbError> {
        let session = Self::open(pipeline, mode.writes()).await?;
        session.lock(pipeline, progress).await?;
        Ok(session)
    }

    /// For `plan`: a transaction that is always rolled back and takes no
    /// lock, so a plan can be read while a run is going.
    pub async fn scratch(pipeline: &Pipeline) -> Result<Self, DbError> {
        Self::open(pipeline, false).await
    }

    async fn open(pipeline: &Pipeline, commit: bool) -> Result<Self, DbError> {
        let target = &pipeline.target;
        let url = target.url.clone();
        let client = connect(&url).await?;
        client
            .batch_execute("BEGIN")
            .await
            .map_err(|e| query_error(&url, "starting the transaction", &e))?;
        // Both timeouts hold for the whole transaction: a lock that cannot be
        // had (another run, a long query on a table to alter) fails cleanly.
        client
            .execute(
                "SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)",
                &[&target.lock_timeout.as_str(), &target.statement_timeout.as_str()],
            )
            .await
            .map_err(|e| query_error(&url, "setting lock_timeout and statement_timeout", &e))?;
        Ok(TargetSession {
            client,
            url,
            commit,
        })
    }

    /// A second run waits and says so, and gives up after `lock_timeout`.
    async fn lock(&self, pipeline: &Pipeline, progress: &Progress) -> Result<(), DbError> {
        let schema = &pipeline.target.app_schema;
        let key = format!("padetl:{schema}");
        let got: bool = self
            .client
            .query_one("SELECT pg_try_advisory_xact_lock(hashtext($1))", &[&key])
            .await
            .map_err(|e| query_error(&self.url, "taking the run lock", &e))?
            .get(0);
        if got {
            return Ok(());
        }
        let timeout = &pipeline.target.lock_timeout;
        progress.note(&format!(
            "another padetl run holds the lock on {schema}; waiting up to {timeout} (lock_timeout)"
        ));
        self.client
            .execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key])
            .await
            .map_err(|e| {
                let what = format!(
                    "waiting for another padetl run on {schema} to finish (gave up after lock_timeout {timeout})"
                );
                query_error(&self.url, &what, &e)
            })?;
        Ok(())
    }

    /// The connection, inside the transaction.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Commits a run's work; rolls back everything else.
    pub async fn end(self) -> Result<(), DbError> {
        let (sql, what) = match self.commit {
            true => ("COMMIT", "committing"),
            false => ("ROLLBACK", "rolling back"),
        };
        self.client
            .batch_execute(sql)
            .await
            .map_err(|e| query_error(&self.url, what, &e))
    }
}
