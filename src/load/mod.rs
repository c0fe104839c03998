//! Load: Arrow batches into the target with binary COPY, through a staging
//! table, merged by key inside the run's single transaction.
//!
//! - [`table`]: one table's load, begun and finished;
//! - [`copy`]: the COPY stream, fed by the encoder ([`encode`], ours);
//! - [`stage`]: queries on the staging table (unique checks, comparison, merge);
//! - [`merge`]: their SQL, pure;
//! - [`bulk`]: an empty table loaded as `pg_restore` would;
//! - [`order`]: parents before children; [`quarantine`]: held rows.

mod bulk;
mod copy;
mod encode;
mod merge;
mod numeric;
mod order;
mod pgtype;
mod quarantine;
mod rule;
mod sharing;
mod stage;
mod table;
mod values;

pub use encode::{CopyEncoder, EncodeError, Misfit, TargetColumn};
pub(crate) use merge::UniqueAction;
pub(crate) use order::load_order;
pub use pgtype::PgType;
pub(crate) use quarantine::{quarantine_table, write_quarantine};
pub(crate) use sharing::{Provenance, Sharing};
pub(crate) use table::{Comparison, LoadPath, PendingDelete, TableLoad};

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;

use crate::config::QualifiedName;
use crate::schema::SchemaError;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("table {table}: {message}")]
    Shape { table: String, message: String },
    #[error("table {table} is loaded in insert mode, but {count} row(s) have keys already in it with other values (first: {}); nothing was written. Use mode = \"upsert\" if they may change", keys.join(", "))]
    KeyConflict {
        table: String,
        count: i64,
        keys: Vec<String>,
    },
    #[error("table {table}: {what}: {message}")]
    Db {
        table: String,
        what: String,
        message: String,
    },
}

impl LoadError {
    pub fn db(table: &QualifiedName, what: &str, e: &tokio_postgres::Error) -> Self {
        LoadError::Db {
            table: table.to_string(),
            what: what.to_string(),
            message: crate::target::describe(e),
        }
    }
}

/// The key of `row`, for messages (`row N` when there is no key column).
pub fn key_at(batch: &RecordBatch, key: &str, row: usize) -> String {
    batch
        .column_by_name(key)
        .and_then(|a| array_value_to_string(a, row).ok())
        .map(|v| format!("{key}={v}"))
        .unwrap_or_else(|| format!("row {row}"))
}
