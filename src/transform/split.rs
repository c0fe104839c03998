//! Splitting a transformed batch into rows to load and rows rejected.
//!
//! A transform marks a row it cannot load by giving it a non-NULL
//! `_reject_reason` (low-cardinality text, e.g. `orphan employee`). Rejected
//! rows are counted by reason and their keys kept so that child tables can
//! reject the rows that point at them.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::{cast, filter_record_batch, is_null};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;

/// The column by which a transform rejects a row.
pub const REJECT_COLUMN: &str = "_reject_reason";

/// Rows rejected so far for one table.
#[derive(Debug, Default, Clone)]
pub struct Rejections {
    pub by_reason: BTreeMap<String, u64>,
    pub keys: Vec<i64>,
}

impl Rejections {
    pub fn total(&self) -> u64 {
        self.by_reason.values().sum()
    }
}

/// Returns the rows to load (without the reject column) and records the rest.
pub fn split_rejected(
    batch: &RecordBatch,
    key: &str,
    into: &mut Rejections,
) -> Result<RecordBatch, String> {
    let schema = batch.schema();
    let Ok(reason_idx) = schema.index_of(REJECT_COLUMN) else {
        return Ok(batch.clone());
    };
    let key_idx = schema
        .index_of(key)
        .map_err(|_| format!("the transform's output has no key column `{key}`"))?;
    let reasons = cast(batch.column(reason_idx), &DataType::Utf8).map_err(|e| e.to_string())?;
    let reasons = reasons.as_string::<i32>();
    let keys =
        cast(batch.column(key_idx), &DataType::Int64).map_err(|e| format!("key `{key}`: {e}"))?;
    let keys = keys.as_primitive::<Int64Type>();
    for row in 0..batch.num_rows() {
        if reasons.is_valid(row) {
            *into
                .by_reason
                .entry(reasons.value(row).to_string())
                .or_default() += 1;
            if keys.is_valid(row) {
                into.keys.push(keys.value(row));
            }
        }
    }
    let keep = is_null(reasons).map_err(|e| e.to_string())?;
    let mut kept = filter_record_batch(batch, &keep).map_err(|e| e.to_string())?;
    kept.remove_column(reason_idx);
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    #[test]
    fn rejected_rows_are_counted_and_removed() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new(REJECT_COLUMN, DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
                Arc::new(StringArray::from(vec![
                    None,
                    Some("orphan employee"),
                    None,
                    Some("orphan employee"),
                ])),
            ],
        )
        .unwrap();
        let mut r = Rejections::default();
        let kept = split_rejected(&batch, "id", &mut r).unwrap();
        assert_eq!(kept.num_rows(), 2);
        assert_eq!(kept.num_columns(), 1);
        assert_eq!(r.by_reason["orphan employee"], 2);
        assert_eq!(r.keys, vec![2, 4]);
    }
}
