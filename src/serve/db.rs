//! The dashboard's reads: a handful of connections, made as every padetl
//! connection is (`crate::pg`: TLS, deadline, plain-worded failures), and
//! each page in one read-only, repeatable-read transaction, always rolled
//! back. A page waits at most [`LOCK_TIMEOUT`] behind a lock (a bulk load
//! holds an exclusive one on the table it fills) and runs at most
//! [`STATEMENT_TIMEOUT`]. Nothing here can write.

use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, RecycleError, RecycleResult};
use tokio_postgres::Client;

use super::PageError;
use crate::config::{DatabaseUrl, Pipeline};
use crate::pg::Connector;

/// Pages served at once; more wait for a connection.
const CONNECTIONS: usize = 4;

/// A page is not a migration: it gives up rather than hold a connection.
pub(super) const STATEMENT_TIMEOUT: &str = "30s";
pub(super) const LOCK_TIMEOUT: &str = "5s";

/// Makes and checks the pool's connections.
pub(super) struct Manager {
    connector: Connector,
}

impl managed::Manager for Manager {
    type Type = Client;
    type Error = String;

    async fn create(&self) -> Result<Client, String> {
        self.connector.connect().await
    }

    /// A connection comes back from a page that may have failed halfway:
    /// whatever transaction it was in ends here, so every page begins clean.
    async fn recycle(&self, client: &mut Client, _: &Metrics) -> RecycleResult<String> {
        if client.is_closed() {
            return Err(RecycleError::message("the connection is closed"));
        }
        client
            .batch_execute("ROLLBACK")
            .await
            .map_err(|e| RecycleError::message(e.to_string()))
    }
}

/// The target, as the dashboard reads it.
pub(super) struct Db {
    pool: managed::Pool<Manager>,
    url: DatabaseUrl,
}

/// One page's transaction; [`Read::end`] rolls it back (so does the pool,
/// should a page fail before it ends).
pub(super) struct Read {
    client: Object<Manager>,
}

impl Db {
    pub fn new(pipeline: &Pipeline) -> Result<Self, String> {
        let url = pipeline.target.url.clone();
        let connector = Connector::new(&url)?;
        let pool = managed::Pool::builder(Manager { connector })
            .max_size(CONNECTIONS)
            .runtime(deadpool::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Db { pool, url })
    }

    /// Begins a page's read-only transaction.
    pub async fn read(&self) -> Result<Read, PageError> {
        let client = self.pool.get().await.map_err(|e| match e {
            managed::PoolError::Backend(message) => PageError::Database(self.url.scrub(&message)),
            other => PageError::Database(format!("no connection to the target: {other}")),
        })?;
        client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(|e| self.error(&e))?;
        client
            .execute(
                "SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $2, true)",
                &[&STATEMENT_TIMEOUT, &LOCK_TIMEOUT],
            )
            .await
            .map_err(|e| self.error(&e))?;
        Ok(Read { client })
    }

    /// A database error, for the log: the server's words, never a credential.
    pub fn error(&self, e: &tokio_postgres::Error) -> PageError {
        PageError::Database(self.url.scrub(&crate::target::describe(e)))
    }
}

impl Read {
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub async fn end(self) {
        let _ = self.client.batch_execute("ROLLBACK").await;
    }
}
