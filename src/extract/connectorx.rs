//! Reading the source through connectorx.
//!
//! connectorx's own streaming iterator buffers batches in an unbounded
//! channel and panics when its writer fails, so padetl pages instead: one
//! query per key range of `batch_size` rows (keyset pagination on an
//! integer key). Memory is one page per reader, whatever the table size.
//!
//! A Postgres source is read with connectorx's lower-level API and padetl's
//! own [`Connector`]: connectorx would parse the URL itself, refuse
//! `sslmode=verify-full`, never check the server's host name, and report a
//! wrong password only after its pool's 30-second wait.
//!
//! An Oracle source goes through connectorx's own URL handling, after one
//! connection of padetl's that says in plain words what is missing (see
//! [`super::oracle`]); a binary built without the `oracle` feature refuses
//! it before reading anything.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};

use connectorx::prelude::{get_arrow, ArrowDestination, CXQuery, Dispatcher, SourceConn};
use connectorx::sources::postgres::{BinaryProtocol, PostgresSource, PostgresSourceError};
use connectorx::transports::PostgresArrowTransport;
use datafusion::arrow::record_batch::RecordBatch;
use postgres_openssl::MakeTlsConnector;

use crate::config::{DatabaseUrl, DbKind};
use crate::pg::Connector;

use super::{Dialect, ExtractError};

type Transport = PostgresArrowTransport<BinaryProtocol, MakeTlsConnector>;

/// A connection description for connectorx; no connection is held between queries.
#[derive(Clone)]
pub struct CxReader {
    url: DatabaseUrl,
    /// `None` for a source that is not Postgres (connectorx's own URL handling).
    connector: Option<Connector>,
    /// Set once a connection succeeded: later failures are the query's.
    reachable: Arc<OnceLock<()>>,
    /// What this reader reads, for messages.
    side: &'static str,
    /// The SQL dialect of every query sent through this reader.
    dialect: Dialect,
}

impl CxReader {
    pub fn new(url: DatabaseUrl, side: &'static str) -> Result<Self, ExtractError> {
        let connector = match url.kind {
            DbKind::Postgres => {
                Some(
                    Connector::new(&url).map_err(|message| ExtractError::Connect {
                        side,
                        database: url.to_string(),
                        message: url.scrub(&message),
                    })?,
                )
            }
            DbKind::Oracle => {
                if !cfg!(feature = "oracle") {
                    return Err(ExtractError::Unsupported {
                        side,
                        database: url.to_string(),
                        message: super::oracle::NOT_BUILT.into(),
                    });
                }
                None
            }
        };
        Ok(CxReader {
            dialect: Dialect::of(url.kind),
            url,
            connector,
            reachable: Arc::new(OnceLock::new()),
            side,
        })
    }

    /// The dialect of the SQL this reader's database reads.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Runs `sql` and returns all its batches. Blocking: call from a blocking
    /// thread. Only for results bounded by design (one page, key sets, counts).
    /// `what` and `origin` (the pipeline entry, `file:line`) name the query
    /// in an error.
    pub fn query(
        &self,
        sql: &str,
        what: &str,
        origin: &str,
    ) -> Result<Vec<RecordBatch>, ExtractError> {
        let Some(connector) = &self.connector else {
            return self.query_by_url(sql, what, origin);
        };
        self.ensure_reachable(connector)?;
        // connectorx panics on some driver failures; a panic here is a query
        // failure for the user, not a crash.
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| run(connector, sql)));
        let cause = match result {
            Ok(Ok(batches)) => return Ok(batches),
            Ok(Err(Failed::Pool)) => match connector.check_blocking() {
                Err(message) => return Err(self.unreachable(message)),
                Ok(()) => Cause {
                    message: "timed out waiting for a connection from connectorx's pool".into(),
                    sql_mistake: false,
                },
            },
            Ok(Err(Failed::Query(cause))) => cause,
            Err(panic) => Cause {
                message: panic_message(panic.as_ref()),
                sql_mistake: false,
            },
        };
        Err(self.error(what, origin, cause))
    }

    /// The first query of this reader (and its clones) connects once on its
    /// own, within the connect deadline, so that a wrong password or an
    /// untrusted certificate is said at once and in plain words.
    fn ensure_reachable(&self, connector: &Connector) -> Result<(), ExtractError> {
        if self.reachable.get().is_some() {
            return Ok(());
        }
        connector
            .check_blocking()
            .map_err(|message| self.unreachable(message))?;
        let _ = self.reachable.set(());
        Ok(())
    }

    fn unreachable(&self, message: String) -> ExtractError {
        ExtractError::Connect {
            side: self.side,
            database: self.url.to_string(),
            message: self.url.scrub(&message),
        }
    }

    /// connectorx's own path, for sources other than Postgres (Oracle): its
    /// upper-case column names are lower-cased, so that the transform sees
    /// the names it sees for a Postgres source.
    fn query_by_url(
        &self,
        sql: &str,
        what: &str,
        origin: &str,
    ) -> Result<Vec<RecordBatch>, ExtractError> {
        if self.reachable.get().is_none() {
            super::oracle::ensure_reachable(&self.url)
                .map_err(|message| self.unreachable(message))?;
            let _ = self.reachable.set(());
        }
        let failed = |mut cause: Cause| {
            cause.sql_mistake = super::oracle::blames_the_sql(&cause.message);
            self.error(what, origin, cause)
        };
        let conn = SourceConn::try_from(self.url.expose()).map_err(|e| failed(Cause::of(&e)))?;
        let queries = [CXQuery::from(sql)];
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            get_arrow(&conn, None, &queries, None).and_then(|d| d.arrow().map_err(Into::into))
        }));
        match result {
            Ok(Ok(batches)) => {
                super::oracle::lower_case_names(batches).map_err(|e| failed(Cause::of(&e)))
            }
            Ok(Err(e)) => Err(failed(Cause::of(&e))),
            Err(panic) => Err(failed(Cause {
                message: super::oracle::explain_panic(panic_message(panic.as_ref())),
                sql_mistake: false,
            })),
        }
    }

    fn error(&self, what: &str, origin: &str, cause: Cause) -> ExtractError {
        ExtractError::Query {
            side: self.side,
            database: self.url.to_string(),
            what: what.to_string(),
            origin: origin.to_string(),
            message: self.url.scrub(&first_line(&cause.message)),
            sql_mistake: cause.sql_mistake,
        }
    }
}

/// Why [`run`] failed.
enum Failed {
    /// connectorx's pool gave up waiting for a connection (its error keeps
    /// only text): the cause is found by connecting again.
    Pool,
    Query(Cause),
}

/// One query into Arrow over one pooled connection made by `connector`.
fn run(connector: &Connector, sql: &str) -> Result<Vec<RecordBatch>, Failed> {
    let source = PostgresSource::<BinaryProtocol, MakeTlsConnector>::new(
        connector.blocking_config(),
        connector.tls(),
        1,
    )
    .map_err(|e| match e {
        PostgresSourceError::PostgresPoolError(_) => Failed::Pool,
        e => Failed::Query(Cause::of(&e)),
    })?;
    let mut destination = ArrowDestination::new();
    Dispatcher::<_, _, Transport>::new(source, &mut destination, &[sql], None)
        .run()
        .map_err(|e| Failed::Query(Cause::of(&e)))?;
    destination
        .arrow()
        .map_err(|e| Failed::Query(Cause::of(&e)))
}

/// Why a query failed, as the server said it when it did.
struct Cause {
    message: String,
    /// The server refused the SQL itself (an unknown table or column, a
    /// syntax error): a mistake in the pipeline, not in the database.
    sql_mistake: bool,
}

impl Cause {
    /// The Postgres error inside connectorx's wrappers (their own text is
    /// only "db error"), else the chain of causes.
    fn of(e: &(dyn std::error::Error + 'static)) -> Cause {
        let mut parts = vec![e.to_string()];
        let mut next = e.source();
        while let Some(inner) = next {
            if let Some(db) = inner.downcast_ref::<tokio_postgres::error::DbError>() {
                return Cause {
                    message: crate::target::describe_db(db),
                    sql_mistake: crate::target::blames_the_sql(db.code()),
                };
            }
            parts.push(inner.to_string());
            next = inner.source();
        }
        parts.dedup();
        Cause {
            message: parts.join(": "),
            sql_mistake: false,
        }
    }
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_string()
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "the connector failed".to_string()
    }
}
