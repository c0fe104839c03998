//! Extract: source rows as bounded Arrow record batches.
//!
//! A table is read in key-ordered pages on blocking threads and handed over
//! through one channel of capacity [`CHANNEL_DEPTH`]. A table of more than one
//! page per reader is split into key ranges ([`partitions`]), each paged by its
//! own reader at the same time, so the source's latency overlaps with
//! transforming and copying. At most the channel's pages, one page per reader
//! and the one being consumed are in memory, whatever the table size. Naive
//! timestamps are localized here (see [`timezone`]). Every SQL text sent to
//! the source comes from its [`Dialect`].

mod connectorx;
mod dialect;
mod oracle;
mod reference;
pub mod timezone;

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use tokio::sync::mpsc;

pub use self::connectorx::{CxReader, Session};
pub use self::dialect::Dialect;
pub use self::reference::{source_keys, target_keys};

use self::dialect::CX_NUMERIC_SCALE;
use crate::config::TableSpec;

/// Pages waiting in the channel while the consumer works on one.
pub const CHANNEL_DEPTH: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{side} {database}: reading {what} (declared at {origin}) failed: {message}")]
    Query {
        side: &'static str,
        database: String,
        what: String,
        /// The pipeline entry that led there, `file:line`.
        origin: String,
        message: String,
        /// The server refused the SQL itself: the pipeline is wrong (exit 2).
        sql_mistake: bool,
    },
    #[error("source {what}: key column `{key}` {problem}")]
    Key {
        what: String,
        key: String,
        problem: String,
    },
    #[error("source {what}: {message}")]
    Data { what: String, message: String },
    #[error("cannot connect to the {side} {database}: {message}")]
    Connect {
        side: &'static str,
        database: String,
        message: String,
    },
    /// A source this binary cannot read (an `oracle://` URL without the
    /// `oracle` feature): said before anything is read.
    #[error("{side} {database}: {message}")]
    Unsupported {
        side: &'static str,
        database: String,
        message: String,
    },
}

/// Row counts of a source query, taken before paging.
#[derive(Debug, Clone, Copy)]
pub struct SourceCount {
    pub rows: u64,
    /// Smallest and largest key; `None` for an empty table.
    pub keys: Option<(i64, i64)>,
}

/// One reader's share of a table: keys after `after` up to `upto`
/// (`None` = unbounded on that side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRange {
    pub after: Option<i64>,
    pub upto: Option<i64>,
}

impl KeyRange {
    pub const ALL: KeyRange = KeyRange {
        after: None,
        upto: None,
    };
}

/// Splits a table into at most `readers` key ranges of about equal width,
/// never more than one per page of rows. The first range is open below and
/// the last open above, so together they cover every key whatever its value.
pub fn partitions(count: &SourceCount, readers: usize, batch_size: usize) -> Vec<KeyRange> {
    let pages = count.rows.div_ceil(batch_size.max(1) as u64);
    let parts = (readers as u64).min(pages).max(1);
    let Some((min, max)) = count.keys.filter(|_| parts > 1) else {
        return vec![KeyRange::ALL];
    };
    let width = (i128::from(max) - i128::from(min) + 1) / i128::from(parts);
    if width < 1 {
        return vec![KeyRange::ALL];
    }
    let bound = |i: u64| (i128::from(min) + width * i128::from(i) - 1) as i64;
    (0..parts)
        .map(|i| KeyRange {
            after: (i > 0).then(|| bound(i)),
            upto: (i + 1 < parts).then(|| bound(i + 1)),
        })
        .collect()
}

/// Counts the rows `spec` will read and proves its key is usable for paging
/// and its decimals readable, in one scan of the source.
pub fn count_rows(reader: &CxReader, spec: &TableSpec) -> Result<SourceCount, ExtractError> {
    let numeric = numeric_columns(reader, spec)?;
    let sql = reader
        .dialect()
        .count_sql(&spec.source_query, spec.key.as_str(), &numeric);
    let batches = reader.query(&sql, &spec.source_label, &spec.origin)?;
    let at = |col: usize| batches.first().and_then(|b| int_at(b, col, 0));
    let value = |col: usize| -> Result<u64, ExtractError> {
        at(col).map(|v| v as u64).ok_or_else(|| ExtractError::Data {
            what: spec.source_label.clone(),
            message: "count query returned nothing".into(),
        })
    };
    let (rows, keyed) = (value(0)?, value(1)?);
    let key_error = |problem: String| ExtractError::Key {
        what: spec.source_label.clone(),
        key: spec.key.to_string(),
        problem,
    };
    if keyed != rows {
        return Err(key_error(format!(
            "is NULL in {} of {rows} rows; every row needs a key",
            rows.saturating_sub(keyed)
        )));
    }
    let first_bad = numeric
        .iter()
        .enumerate()
        .filter_map(|(i, column)| at(4 + i).map(|key| (key, column)))
        .min_by_key(|(key, _)| *key);
    if let Some((key, column)) = first_bad {
        return Err(ExtractError::Data {
            what: spec.source_label.clone(),
            message: format!(
                "column `{column}` in the row with key {}={key} holds a numeric with more than {CX_NUMERIC_SCALE} decimal places, more than {} integer digits, or NaN, which the reader (connectorx) would round; round or cast it in the table's query",
                spec.key,
                reader.dialect().numeric_integer_digits()
            ),
        });
    }
    let keys = at(2).zip(at(3));
    if rows > 0 && keys.is_none() {
        return Err(key_error(format!(
            "is not an integer column{}",
            reader.dialect().integer_key_hint()
        )));
    }
    Ok(SourceCount { rows, keys })
}

/// The columns of `spec`'s query that connectorx reads as Decimal128(38, 10):
/// a value with non-zero digits past 10 decimal places, more integer digits
/// than it keeps, or NaN would be rounded or lost before padetl sees it, so
/// [`count_rows`] looks for one and stops the run by column and key.
fn numeric_columns(reader: &CxReader, spec: &TableSpec) -> Result<Vec<String>, ExtractError> {
    let probe = reader.dialect().columns_sql(&spec.source_query);
    let batches = reader.query(&probe, &spec.source_label, &spec.origin)?;
    let Some(schema) = batches.first().map(|b| b.schema()) else {
        return Ok(vec![]);
    };
    Ok(schema
        .fields()
        .iter()
        .filter(|f| matches!(f.data_type(), DataType::Decimal128(_, s) if *s == CX_NUMERIC_SCALE))
        .map(|f| f.name().clone())
        .collect())
}

/// Streams `spec`'s rows as pages of at most `batch_size` rows, one reader
/// per range. Pages come in key order within a range, ranges interleaved;
/// the receiver closes when every range is read. An error ends the stream.
pub fn stream_table(
    reader: CxReader,
    spec: TableSpec,
    ranges: Vec<KeyRange>,
    batch_size: usize,
    tz: chrono_tz::Tz,
) -> mpsc::Receiver<Result<RecordBatch, ExtractError>> {
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    for range in ranges {
        let (reader, spec, tx) = (reader.clone(), spec.clone(), tx.clone());
        tokio::task::spawn_blocking(move || read_range(&reader, &spec, range, batch_size, tz, &tx));
    }
    rx
}

/// Pages through one key range; stops at its end, at an error, or when the
/// consumer has gone (a failed run).
fn read_range(
    reader: &CxReader,
    spec: &TableSpec,
    range: KeyRange,
    batch_size: usize,
    tz: chrono_tz::Tz,
    tx: &mpsc::Sender<Result<RecordBatch, ExtractError>>,
) {
    let mut session = reader.session(batch_size);
    let mut after = range.after;
    loop {
        let page = read_page(&mut session, spec, after, range.upto, batch_size, tz);
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
}

fn read_page(
    session: &mut Session,
    spec: &TableSpec,
    after: Option<i64>,
    upto: Option<i64>,
    limit: usize,
    tz: chrono_tz::Tz,
) -> Result<Option<(RecordBatch, i64)>, ExtractError> {
    let sql = session
        .dialect()
        .page_sql(&spec.source_query, spec.key.as_str(), after, upto, limit);
    let batches = session.query(&sql, &spec.source_label, &spec.origin)?;
    let data_error = |message: String| ExtractError::Data {
        what: spec.source_label.clone(),
        message,
    };
    let mut non_empty: Vec<RecordBatch> =
        batches.into_iter().filter(|b| b.num_rows() > 0).collect();
    let batch = match non_empty.len() {
        0 => return Ok(None),
        1 => non_empty.remove(0),
        _ => datafusion::arrow::compute::concat_batches(&non_empty[0].schema(), &non_empty)
            .map_err(|e| data_error(e.to_string()))?,
    };
    let key_index = batch.schema().index_of(spec.key.as_str()).map_err(|_| {
        data_error(format!(
            "the query returns no column `{}` (the table's key)",
            spec.key
        ))
    })?;
    // NULL keys were ruled out by the count; one now means the source changed.
    let keys = int_column(&batch, key_index)
        .filter(|k| k.null_count() == 0)
        .ok_or_else(|| {
            data_error(format!(
                "key `{}` is not an integer column{}",
                spec.key,
                session.dialect().integer_key_hint()
            ))
        })?;
    if let Some(k) = first_repeated(keys.values()) {
        return Err(ExtractError::Key {
            what: spec.source_label.clone(),
            key: spec.key.to_string(),
            problem: format!("has duplicate values (first: {k}); the key must be unique"),
        });
    }
    let last_key = keys.values()[keys.len() - 1];
    let batch = timezone::localize_batch(&batch, tz).map_err(data_error)?;
    Ok(Some((batch, last_key)))
}

/// Column `col` as i64, whatever the integer width; `None` if it is not an
/// integer column.
fn int_column(batch: &RecordBatch, col: usize) -> Option<Int64Array> {
    let column = batch.columns().get(col)?;
    if !column.data_type().is_integer() {
        return None;
    }
    let as_i64 = cast(column, &DataType::Int64).ok()?;
    as_i64.as_any().downcast_ref::<Int64Array>().cloned()
}

/// The first key equal to the one before it. A page is in key order, so a
/// duplicate inside it is adjacent; one split across two pages is skipped
/// by the next page's `>` and shows as fewer rows read than counted.
fn first_repeated(sorted: &[i64]) -> Option<i64> {
    sorted.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
}

/// Integer value at (`col`, `row`), whatever the integer width.
fn int_at(batch: &RecordBatch, col: usize, row: usize) -> Option<i64> {
    let ints = int_column(batch, col)?;
    (row < ints.len() && ints.is_valid(row)).then(|| ints.value(row))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_in_a_page_is_found() {
        assert_eq!(first_repeated(&[1, 2, 3, 3, 4, 4]), Some(3));
        assert_eq!(first_repeated(&[1, 2, 5]), None);
        assert_eq!(first_repeated(&[]), None);
    }

    fn count(rows: u64, min: i64, max: i64) -> SourceCount {
        SourceCount {
            rows,
            keys: Some((min, max)),
        }
    }

    /// Every key in `min..=max` (and beyond) falls in exactly one range.
    fn covers_once(ranges: &[KeyRange], keys: impl Iterator<Item = i64>) -> bool {
        keys.into_iter().all(|k| {
            ranges
                .iter()
                .filter(|r| r.after.is_none_or(|a| k > a) && r.upto.is_none_or(|u| k <= u))
                .count()
                == 1
        })
    }

    #[test]
    fn a_table_of_one_page_is_read_whole() {
        assert_eq!(partitions(&count(10, 1, 10), 4, 100), vec![KeyRange::ALL]);
        assert_eq!(
            partitions(&count(1000, 1, 1000), 1, 100),
            vec![KeyRange::ALL]
        );
        let empty = SourceCount {
            rows: 0,
            keys: None,
        };
        assert_eq!(partitions(&empty, 4, 100), vec![KeyRange::ALL]);
    }

    #[test]
    fn ranges_cover_every_key_once() {
        let ranges = partitions(&count(1000, 1, 1000), 4, 100);
        assert_eq!(ranges.len(), 4);
        assert_eq!(ranges[0].after, None);
        assert_eq!(ranges[3].upto, None);
        assert!(covers_once(&ranges, -5..1010));
        let ranges = partitions(&count(300, -7, 293), 3, 100);
        assert_eq!(ranges.len(), 3);
        assert!(covers_once(&ranges, -20..300));
    }

    #[test]
    fn no_more_ranges_than_pages_or_keys() {
        assert_eq!(partitions(&count(250, 1, 250), 8, 100).len(), 3);
        // Three rows but a page of one each: keys 5, 6, 7 split fine; a
        // range of width zero never appears.
        assert_eq!(partitions(&count(3, 5, 7), 8, 1).len(), 3);
        assert_eq!(partitions(&count(2, 5, 5), 2, 1), vec![KeyRange::ALL]);
    }

    #[test]
    fn extreme_keys_do_not_overflow() {
        let ranges = partitions(&count(1_000_000, i64::MIN, i64::MAX), 4, 1000);
        assert_eq!(ranges.len(), 4);
        assert!(covers_once(
            &ranges,
            [i64::MIN, -1, 0, 1, i64::MAX].into_iter()
        ));
    }
}
