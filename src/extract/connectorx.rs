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

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};

use connectorx::prelude::{get_arrow, ArrowDestination, CXQuery, Dispatcher, SourceConn};
use connectorx::sources::postgres::{BinaryProtocol, PostgresSource, PostgresSourceError};
use connectorx::transports::PostgresArrowTransport;
use datafusion::arrow::record_batch::RecordBatch;
use postgres_openssl::MakeTlsConnector;

use crate::config::{DatabaseUrl, DbKind};
use crate::pg::Connector;

use super::ExtractError;

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
            DbKind::Oracle => None,
        };
        Ok(CxReader {
            url,
            connector,
            reachable: Arc::new(OnceLock::new()),
            side,
        })
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

    /// connectorx's own path, for sources other than Postgres.
    fn query_by_url(
        &self,
        sql: &str,
        what: &str,
        origin: &str,
    ) -> Result<Vec<RecordBatch>, ExtractError> {
        let failed = |cause: Cause| self.error(what, origin, cause);
        let conn = SourceConn::try_from(self.url.expose()).map_err(|e| failed(Cause::of(&e)))?;
        let queries = [CXQuery::from(sql)];
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            get_arrow(&conn, None, &queries, None).and_then(|d| d.arrow().map_err(Into::into))
        }));
        match result {
            Ok(Ok(batches)) => Ok(batches),
            Ok(Err(e)) => Err(failed(Cause::of(&e))),
            Err(panic) => Err(failed(Cause {
                message: panic_message(panic.as_ref()),
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

/// SQL for one page of `base` after key `after` and up to key `upto`
/// (both optional), ordered by `key`.
///
/// The upper bound filters outside the `LIMIT`, so Postgres sees only
/// "after this key, in key order, this many rows": an index scan that stops
/// after one page. With both bounds inside, a planner that expects few rows
/// in the range (no statistics yet, say) scans the whole range and sorts it
/// for every page: measured on 3M rows, 500 ms a page instead of 9 ms. A
/// range's last page may read up to a page past its end; the filter drops
/// those rows and the shorter page ends the range.
pub fn page_sql(
    base: &str,
    key: &str,
    after: Option<i64>,
    upto: Option<i64>,
    limit: usize,
) -> String {
    let filter = match after {
        Some(k) => format!(" WHERE padetl_page.{key} > {k}"),
        None => String::new(),
    };
    let page = format!(
        "SELECT * FROM ({base}) AS padetl_page{filter} ORDER BY padetl_page.{key} LIMIT {limit}"
    );
    match upto {
        Some(k) => format!("SELECT * FROM ({page}) AS padetl_range WHERE padetl_range.{key} <= {k} ORDER BY padetl_range.{key}"),
        None => page,
    }
}

/// SQL counting rows and rows with a key, so that a NULL key (which paging
/// would skip) is caught instead of silently losing rows; the key's range is
/// what partitioned reading splits. Duplicate keys are caught while paging
/// (adjacent in a page, or fewer rows read than counted), not by a
/// `count(DISTINCT)`, which sorts the whole table on the source's disk.
pub fn count_sql(base: &str, key: &str) -> String {
    format!(
        "SELECT count(*) AS n, count(padetl_count.{key}) AS keyed, min(padetl_count.{key}) AS min_key, max(padetl_count.{key}) AS max_key FROM ({base}) AS padetl_count"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_continue_after_the_last_key() {
        assert_eq!(
            page_sql("SELECT * FROM \"a\".\"b\"", "\"id\"", None, None, 10),
            "SELECT * FROM (SELECT * FROM \"a\".\"b\") AS padetl_page ORDER BY padetl_page.\"id\" LIMIT 10"
        );
        assert!(
            page_sql("q", "\"id\"", Some(42), None, 10).contains("WHERE padetl_page.\"id\" > 42")
        );
        assert_eq!(
            page_sql("q", "\"id\"", Some(42), Some(99), 10),
            "SELECT * FROM (SELECT * FROM (q) AS padetl_page WHERE padetl_page.\"id\" > 42 ORDER BY padetl_page.\"id\" LIMIT 10) \
             AS padetl_range WHERE padetl_range.\"id\" <= 99 ORDER BY padetl_range.\"id\""
        );
    }
}
