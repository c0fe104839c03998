//! Extract: source rows as bounded Arrow record batches.
//!
//! A table is read in key-ordered pages on a blocking thread and handed over
//! through a channel of capacity [`CHANNEL_DEPTH`], so at most that many pages
//! plus the one being consumed are in memory. Naive timestamps are localized
//! here (see [`timezone`]).

mod connectorx;
pub mod timezone;

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use tokio::sync::mpsc;

pub use self::connectorx::{count_sql, page_sql, CxReader};

use crate::config::TableSpec;

/// Pages waiting in the channel while the consumer works on one.
pub const CHANNEL_DEPTH: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{side} {database}: reading {what} failed: {message}")]
    Query {
        side: &'static str,
        database: String,
        what: String,
        message: String,
    },
    #[error("source {what}: key column `{key}` {problem}")]
    Key {
        what: String,
        key: String,
        problem: String,
    },
    #[error("source {what}: {message}")]
    Data { what: String, message: String },
}

/// Row counts of a source query, taken before paging.
#[derive(Debug, Clone, Copy)]
pub struct SourceCount {
    pub rows: u64,
}

/// Counts the rows `spec` will read and proves its key is usable for paging.
pub fn count_rows(reader: &CxReader, spec: &TableSpec) -> Result<SourceCount, ExtractError> {
    let sql = count_sql(&spec.source_query, &spec.key.quoted());
    let batches = reader.query(&sql, &spec.source_label)?;
    let value = |col: usize| -> Result<u64, ExtractError> {
        batches
            .first()
            .and_then(|b| int_at(b, col, 0))
            .map(|v| v as u64)
            .ok_or_else(|| ExtractError::Data {
                what: spec.source_label.clone(),
                message: "count query returned nothing".into(),
            })
    };
    let (rows, keyed, distinct) = (value(0)?, value(1)?, value(2)?);
    let key_error = |problem: String| ExtractError::Key {
        what: spec.source_label.clone(),
        key: spec.key.to_string(),
        problem,
    };
    if keyed != rows {
        return Err(key_error(format!(
            "is NULL in {} of {rows} rows; every row needs a key",
            rows - keyed
        )));
    }
    if distinct != rows {
        return Err(key_error(format!(
            "has {} duplicate values; the key must be unique",
            rows - distinct
        )));
    }
    if rows > 0 {
        check_numerics(reader, spec)?;
    }
    Ok(SourceCount { rows })
}

/// connectorx reads `numeric` as Decimal128(38, 10): a value with non-zero
/// digits past 10 decimal places, more integer digits, or NaN would be
/// rounded or lost
/// before padetl sees it. Such a value stops the run here, by column and key.
fn check_numerics(reader: &CxReader, spec: &TableSpec) -> Result<(), ExtractError> {
    let probe = format!(
        "SELECT * FROM ({}) AS padetl_probe LIMIT 1",
        spec.source_query
    );
    let batches = reader.query(&probe, &spec.source_label)?;
    let Some(schema) = batches.first().map(|b| b.schema()) else {
        return Ok(());
    };
    let numeric: Vec<String> = schema
        .fields()
        .iter()
        .filter(|f| matches!(f.data_type(), DataType::Decimal128(_, s) if *s == CX_NUMERIC_SCALE))
        .map(|f| f.name().clone())
        .collect();
    let Some(sql) = numeric_check_sql(&spec.source_query, &spec.key.quoted(), &numeric) else {
        return Ok(());
    };
    let found = reader.query(&sql, &spec.source_label)?;
    let Some(batch) = found.iter().find(|b| b.num_rows() > 0) else {
        return Ok(());
    };
    let key = int_at(batch, 0, 0)
        .map(|k| k.to_string())
        .unwrap_or_default();
    let column = datafusion::arrow::util::display::array_value_to_string(batch.column(1), 0)
        .unwrap_or_default();
    Err(ExtractError::Data {
        what: spec.source_label.clone(),
        message: format!(
            "column `{column}` in the row with key {}={key} holds a numeric with more than {CX_NUMERIC_SCALE} decimal places, more than {} integer digits, or NaN, which the reader (connectorx) would round; round or cast it in the table's query",
            spec.key,
            38 - CX_NUMERIC_SCALE
        ),
    })
}

/// The scale connectorx gives every Postgres `numeric`.
const CX_NUMERIC_SCALE: i8 = 10;

/// First key (and column) whose numeric value connectorx cannot hold.
fn numeric_check_sql(base: &str, key: &str, columns: &[String]) -> Option<String> {
    if columns.is_empty() {
        return None;
    }
    let bad = |c: &str| {
        let c = format!("padetl_num.\"{}\"", c.replace('"', "\"\""));
        format!(
            "({c} <> round({c}, {CX_NUMERIC_SCALE}) OR abs({c}) >= 1e{} OR {c} = 'NaN')",
            38 - CX_NUMERIC_SCALE
        )
    };
    let which: Vec<String> = columns
        .iter()
        .map(|c| format!("WHEN {} THEN '{}'", bad(c), c.replace('\'', "''")))
        .collect();
    let any: Vec<String> = columns.iter().map(|c| bad(c)).collect();
    Some(format!(
        "SELECT padetl_num.{key} AS key, CASE {} END AS column_name FROM ({base}) AS padetl_num WHERE {} ORDER BY 1 LIMIT 1",
        which.join(" "),
        any.join(" OR ")
    ))
}

/// Streams `spec`'s rows as pages of at most `batch_size` rows.
/// The receiver yields pages in key order, then closes; an error ends the stream.
pub fn stream_table(
    reader: CxReader,
    spec: TableSpec,
    batch_size: usize,
    tz: chrono_tz::Tz,
) -> mpsc::Receiver<Result<RecordBatch, ExtractError>> {
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    tokio::task::spawn_blocking(move || {
        let mut after = None;
        loop {
            let page = read_page(&reader, &spec, after, batch_size, tz);
            let (batch, last_key) = match page {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            };
            let full = batch.num_rows() == batch_size;
            if tx.blocking_send(Ok(batch)).is_err() || !full {
                break;
            }
            after = Some(last_key);
        }
    });
    rx
}

fn read_page(
    reader: &CxReader,
    spec: &TableSpec,
    after: Option<i64>,
    limit: usize,
    tz: chrono_tz::Tz,
) -> Result<Option<(RecordBatch, i64)>, ExtractError> {
    let sql = page_sql(&spec.source_query, &spec.key.quoted(), after, limit);
    let batches = reader.query(&sql, &spec.source_label)?;
    let data_error = |message: String| ExtractError::Data {
        what: spec.source_label.clone(),
        message,
    };
    let non_empty: Vec<RecordBatch> = batches.into_iter().filter(|b| b.num_rows() > 0).collect();
    let Some(first) = non_empty.first() else {
        return Ok(None);
    };
    let batch = datafusion::arrow::compute::concat_batches(&first.schema(), &non_empty)
        .map_err(|e| data_error(e.to_string()))?;
    let key_index = batch.schema().index_of(spec.key.as_str()).map_err(|_| {
        data_error(format!(
            "the query returns no column `{}` (the table's key)",
            spec.key
        ))
    })?;
    let last_key = int_at(&batch, key_index, batch.num_rows() - 1)
        .ok_or_else(|| data_error(format!("key `{}` is not an integer column", spec.key)))?;
    let batch = timezone::localize_batch(&batch, tz).map_err(data_error)?;
    Ok(Some((batch, last_key)))
}

/// Integer value at (`col`, `row`), whatever the integer width.
fn int_at(batch: &RecordBatch, col: usize, row: usize) -> Option<i64> {
    let column = batch.columns().get(col)?;
    if !column.data_type().is_integer() {
        return None;
    }
    let as_i64 = cast(column, &DataType::Int64).ok()?;
    let ints = as_i64.as_any().downcast_ref::<Int64Array>()?;
    (row < ints.len() && ints.is_valid(row)).then(|| ints.value(row))
}
