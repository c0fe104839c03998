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
//! wrong password only after its pool's 30-second wait. Its `Dispatcher`
//! would also open a new connection (a pool with three threads of its own)
//! and prepare the query again for every page; a [`Session`] holds one
//! connection for all the pages of one reader and learns the columns' types
//! once, then drives connectorx's parser into its Arrow writer itself.
//!
//! An Oracle source goes through connectorx's own URL handling, after one
//! connection of padetl's that says in plain words what is missing (see
//! [`super::oracle`]); a binary built without the `oracle` feature refuses
//! it before reading anything.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};

use connectorx::constants::RECORD_BATCH_SIZE;
use connectorx::prelude::{
    get_arrow, ArrowDestination, CXQuery, DataOrder, Destination, DestinationPartition,
    PartitionParser, SourceConn, SourcePartition,
};
use connectorx::sources::postgres::{
    BinaryProtocol, PostgresSourcePartition, PostgresTypePairs, PostgresTypeSystem,
};
use connectorx::transports::PostgresArrowTransport;
use connectorx::typesystem::Transport as _;
use datafusion::arrow::record_batch::RecordBatch;
use postgres_openssl::MakeTlsConnector;
use r2d2_postgres::PostgresConnectionManager;
use scheduled_thread_pool::ScheduledThreadPool;

use crate::config::{quote, DatabaseUrl, DbKind};
use crate::pg::Connector;

use super::{Dialect, ExtractError};

/// connectorx's conversions from Postgres's binary values to Arrow.
type PgArrow = PostgresArrowTransport<BinaryProtocol, MakeTlsConnector>;

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
        self.session(RECORD_BATCH_SIZE).query(sql, what, origin)
    }

    /// A connection of its own for a run of queries that all return the
    /// same columns (the pages of one table): connected at its first query,
    /// closed when dropped. Results come in batches of up to `batch_rows`
    /// rows, whose columns are allocated at that size up front.
    pub fn session(&self, batch_rows: usize) -> Session<'_> {
        Session {
            reader: self,
            batch_rows: batch_rows.max(1),
            held: None,
        }
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

/// One reader's connection to a source, held across its queries. A source
/// that is not Postgres (Oracle) goes through connectorx's own path each time.
pub struct Session<'r> {
    reader: &'r CxReader,
    batch_rows: usize,
    held: Option<Held>,
}

/// The open connection (a pool of one, which connectorx's partition needs)
/// and the columns of the session's query, learnt at its first page.
struct Held {
    pool: Pool,
    columns: Option<Columns>,
}

type Pool = r2d2::Pool<PostgresConnectionManager<MakeTlsConnector>>;

impl Session<'_> {
    /// The dialect of the SQL this session's database reads.
    pub fn dialect(&self) -> Dialect {
        self.reader.dialect
    }

    /// Runs `sql` on this session's connection; see [`CxReader::query`]. A
    /// failed query closes the connection (a COPY cut short leaves it
    /// unusable); the next query opens another.
    pub fn query(
        &mut self,
        sql: &str,
        what: &str,
        origin: &str,
    ) -> Result<Vec<RecordBatch>, ExtractError> {
        let reader = self.reader;
        let Some(connector) = &reader.connector else {
            return reader.query_by_url(sql, what, origin);
        };
        reader.ensure_reachable(connector)?;
        // connectorx panics on some driver failures; a panic here is a query
        // failure for the user, not a crash.
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| self.run(connector, sql)));
        self.held = self.held.take().filter(|_| matches!(result, Ok(Ok(_))));
        let cause = match result {
            Ok(Ok(batches)) => return Ok(batches),
            Ok(Err(Failed::Pool)) => match connector.check_blocking() {
                Err(message) => return Err(reader.unreachable(message)),
                Ok(()) => Cause {
                    message: "timed out waiting for a connection to the source".into(),
                    sql_mistake: false,
                },
            },
            Ok(Err(Failed::Query(cause))) => cause,
            Err(panic) => Cause {
                message: panic_message(panic.as_ref()),
                sql_mistake: false,
            },
        };
        Err(reader.error(what, origin, cause))
    }

    fn run(&mut self, connector: &Connector, sql: &str) -> Result<Vec<RecordBatch>, Failed> {
        let held = match &mut self.held {
            Some(held) => held,
            None => self.held.insert(Held {
                pool: open(connector)?,
                columns: None,
            }),
        };
        let mut conn = held.pool.get().map_err(|_| Failed::Pool)?;
        let columns = match &held.columns {
            Some(columns) => columns,
            None => held.columns.insert(Columns::of(&mut conn, sql)?),
        };
        read(conn, sql, columns, self.batch_rows).map_err(|e| Failed::Query(Cause::of(e.as_ref())))
    }
}

/// Why [`Session::run`] failed.
enum Failed {
    /// The pool gave up waiting for a connection (its error keeps only
    /// text): the cause is found by connecting again.
    Pool,
    Query(Cause),
}

/// A pool of one connection made by `connector`. Every pool shares one
/// maintenance thread: r2d2 would start three for each.
fn open(connector: &Connector) -> Result<Pool, Failed> {
    static THREADS: OnceLock<Arc<ScheduledThreadPool>> = OnceLock::new();
    let threads = THREADS.get_or_init(|| Arc::new(ScheduledThreadPool::new(1)));
    let manager = PostgresConnectionManager::new(connector.blocking_config(), connector.tls());
    r2d2::Pool::builder()
        .max_size(1)
        .test_on_check_out(false)
        .thread_pool(Arc::clone(threads))
        .build(manager)
        .map_err(|_| Failed::Pool)
}

/// The names and types of a query's columns, as connectorx's source learns
/// them (`PostgresSource::fetch_metadata`).
struct Columns {
    names: Vec<String>,
    types: Vec<PostgresTypeSystem>,
    pg_types: Vec<postgres::types::Type>,
}

impl Columns {
    fn of(conn: &mut postgres::Client, sql: &str) -> Result<Columns, Failed> {
        let statement = conn
            .prepare(sql)
            .map_err(|e| Failed::Query(Cause::of(&e)))?;
        let (names, pg_types): (Vec<String>, Vec<postgres::types::Type>) = statement
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), c.type_().clone()))
            .unzip();
        let types: Vec<PostgresTypeSystem> =
            pg_types.iter().map(PostgresTypeSystem::from).collect();
        let pg_types = types
            .iter()
            .zip(&pg_types)
            .map(|(t, pg)| PostgresTypePairs(pg, t).into())
            .collect();
        Ok(Columns {
            names,
            types,
            pg_types,
        })
    }

    /// `sql` with its range columns read as text, which connectorx's binary
    /// parser needs (as its `maybe_rewrite_range_query` does).
    fn readable(&self, sql: &str) -> String {
        if !self
            .types
            .iter()
            .any(|t| matches!(t, PostgresTypeSystem::Range(_)))
        {
            return sql.to_string();
        }
        let columns: Vec<String> = self
            .names
            .iter()
            .zip(&self.types)
            .map(|(name, t)| match t {
                PostgresTypeSystem::Range(_) => format!("{}::text", quote(name)),
                _ => quote(name),
            })
            .collect();
        format!("SELECT {} FROM ({sql}) AS _cx_sub", columns.join(", "))
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `sql`'s rows into Arrow over `conn`, by connectorx's binary COPY parser
/// and Arrow writer: the loop connectorx's `Dispatcher::run` runs for one
/// partition, without its pool, its second prepare or its thread hop.
fn read(
    conn: r2d2::PooledConnection<PostgresConnectionManager<MakeTlsConnector>>,
    sql: &str,
    columns: &Columns,
    batch_rows: usize,
) -> Result<Vec<RecordBatch>, BoxError> {
    let query = CXQuery::Naked(columns.readable(sql));
    let mut source = PostgresSourcePartition::<BinaryProtocol, MakeTlsConnector>::new(
        conn,
        &query,
        &columns.types,
        &columns.pg_types,
    );
    let arrow_types = columns
        .types
        .iter()
        .map(|&t| PgArrow::convert_typesystem(t))
        .collect::<Result<Vec<_>, _>>()?;
    let mut destination = ArrowDestination::new_with_batch_size(batch_rows);
    destination.allocate(0, &columns.names, &arrow_types, DataOrder::RowMajor)?;
    {
        let mut writer = destination
            .partition(1)?
            .pop()
            .ok_or("connectorx's Arrow writer made no partition")?;
        let processors = columns
            .types
            .iter()
            .zip(&arrow_types)
            .map(|(&from, &to)| PgArrow::processor(from, to))
            .collect::<Result<Vec<_>, _>>()?;
        let mut parser = source.parser()?;
        loop {
            let (rows, last) = parser.fetch_next()?;
            writer.aquire_row(rows)?;
            for _ in 0..rows {
                for process in &processors {
                    process(&mut parser, &mut writer)?;
                }
            }
            if last {
                break;
            }
        }
        writer.finalize()?;
    }
    // No rows still say their columns: one empty batch, not none.
    let empty = destination.empty_batch();
    let batches = destination.arrow()?;
    Ok(match batches.is_empty() {
        true => vec![empty],
        false => batches,
    })
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
