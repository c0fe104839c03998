//! Keymaps: how a surrogate id of the source environment's reference table
//! becomes the id of the same thing in the target environment.
//!
//! Natural keys are tried in order; the first key that finds anything decides.
//! Exactly one target row is a match; two or more is *ambiguous* and never
//! guessed; none on every key is an *orphan*.

use std::sync::Arc;

use datafusion::arrow::array::{
    new_empty_array, Array, ArrayRef, AsArray, Int64Array, Int64Builder, LargeStringArray,
    StringBuilder,
};
use datafusion::arrow::compute::{cast, concat};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;

use crate::config::Keymap;

/// Status values a keymap row can have.
pub const MATCHED: &str = "matched";
pub const AMBIGUOUS: &str = "ambiguous";
pub const ORPHAN: &str = "orphan";

/// Builds `keymap.<name>` from the two key sets (`id` and each key, as
/// [`crate::extract::Dialect::keys_sql`] reads them): one row per source
/// row, columns `source_id`, `target_id`, `status`, `matched_by`, then the
/// source's natural keys (so transforms can also look rows up by a natural
/// key), one output batch per source batch.
///
/// The target's rows are sorted by each key and searched, rather than joined
/// by DataFusion: a join held every key's grouped copy and hash table at once,
/// the peak of a whole 10M-request run; this holds the key sets and four
/// bytes per target row and key.
pub fn build(
    km: &Keymap,
    source: &[RecordBatch],
    target: &[RecordBatch],
) -> Result<Vec<RecordBatch>, String> {
    let target = Lookup::new(km, target)?;
    source.iter().map(|b| target.map(km, b)).collect()
}

/// The target's key set, searchable by each natural key.
struct Lookup {
    ids: Int64Array,
    /// Per natural key, in the keymap's order: the values, and the rows
    /// that have one sorted by it.
    keys: Vec<(LargeStringArray, Vec<u32>)>,
}

/// What one natural key finds for one value.
enum Found {
    One(Option<i64>),
    Several,
}

impl Lookup {
    fn new(km: &Keymap, target: &[RecordBatch]) -> Result<Self, String> {
        let ids = whole(target, "id", &DataType::Int64)?;
        let ids = ids.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        if u32::try_from(ids.len()).is_err() {
            return Err(format!(
                "the target's key set has {} rows, more than a keymap can hold",
                ids.len()
            ));
        }
        let keys = km
            .keys
            .iter()
            .map(|k| {
                let values = whole(target, k.as_str(), &DataType::LargeUtf8)?;
                let values = values.as_string::<i64>().clone();
                let mut rows: Vec<u32> = (0..values.len() as u32)
                    .filter(|&r| values.is_valid(r as usize))
                    .collect();
                rows.sort_unstable_by(|&a, &b| {
                    values.value(a as usize).cmp(values.value(b as usize))
                });
                Ok((values, rows))
            })
            .collect::<Result<_, String>>()?;
        Ok(Lookup {
            ids: ids.clone(),
            keys,
        })
    }

    fn find(&self, key: usize, value: &str) -> Option<Found> {
        let (values, rows) = &self.keys[key];
        let at = |r: u32| values.value(r as usize);
        let start = rows.partition_point(|&r| at(r) < value);
        let equal = rows[start..].partition_point(|&r| at(r) == value);
        match equal {
            0 => None,
            1 => {
                let row = rows[start] as usize;
                Some(Found::One(
                    self.ids.is_valid(row).then(|| self.ids.value(row)),
                ))
            }
            _ => Some(Found::Several),
        }
    }

    fn map(&self, km: &Keymap, source: &RecordBatch) -> Result<RecordBatch, String> {
        let source_id = cast(column(source, "id", "source")?, &DataType::Int64)
            .map_err(|e| format!("the source's `id`: {e}"))?;
        let originals = km
            .keys
            .iter()
            .map(|k| column(source, k.as_str(), "source").cloned())
            .collect::<Result<Vec<ArrayRef>, String>>()?;
        let texts = originals
            .iter()
            .zip(&km.keys)
            .map(|(a, k)| {
                cast(a, &DataType::LargeUtf8).map_err(|e| format!("the source's `{k}`: {e}"))
            })
            .collect::<Result<Vec<ArrayRef>, String>>()?;
        let texts: Vec<&LargeStringArray> = texts.iter().map(|a| a.as_string::<i64>()).collect();
        let rows = source.num_rows();
        let mut target_id = Int64Builder::with_capacity(rows);
        let mut status = StringBuilder::with_capacity(rows, rows * MATCHED.len());
        let mut matched_by = StringBuilder::new();
        for row in 0..rows {
            let found = texts.iter().enumerate().find_map(|(i, values)| {
                values
                    .is_valid(row)
                    .then(|| self.find(i, values.value(row)).map(|f| (i, f)))
                    .flatten()
            });
            match found {
                Some((i, Found::One(id))) => {
                    target_id.append_option(id);
                    status.append_value(MATCHED);
                    matched_by.append_value(km.keys[i].as_str());
                }
                Some((i, Found::Several)) => {
                    target_id.append_null();
                    status.append_value(AMBIGUOUS);
                    matched_by.append_value(km.keys[i].as_str());
                }
                None => {
                    target_id.append_null();
                    status.append_value(ORPHAN);
                    matched_by.append_null();
                }
            }
        }
        let mut fields = vec![
            Field::new("source_id", DataType::Int64, true),
            Field::new("target_id", DataType::Int64, true),
            Field::new("status", DataType::Utf8, false),
            Field::new("matched_by", DataType::Utf8, true),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            source_id,
            Arc::new(target_id.finish()),
            Arc::new(status.finish()),
            Arc::new(matched_by.finish()),
        ];
        for (k, original) in km.keys.iter().zip(originals) {
            fields.push(Field::new(k.as_str(), original.data_type().clone(), true));
            columns.push(original);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| e.to_string())
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str, side: &str) -> Result<&'a ArrayRef, String> {
    batch
        .column_by_name(name)
        .ok_or_else(|| format!("the {side}'s key set has no column `{name}`"))
}

/// Column `name` of all of `batches` in one array of type `to`.
fn whole(batches: &[RecordBatch], name: &str, to: &DataType) -> Result<ArrayRef, String> {
    let parts = batches
        .iter()
        .map(|b| {
            cast(column(b, name, "target")?, to).map_err(|e| format!("the target's `{name}`: {e}"))
        })
        .collect::<Result<Vec<ArrayRef>, String>>()?;
    match parts.as_slice() {
        [] => Ok(new_empty_array(to)),
        [one] => Ok(one.clone()),
        many => {
            let refs: Vec<&dyn Array> = many.iter().map(|a| a.as_ref()).collect();
            concat(&refs).map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::config::Ident;
    use datafusion::arrow::array::StringArray;

    /// The shared pipeline's employee keymap: by mako_id, else e-mail.
    pub(in crate::transform) fn employee() -> Keymap {
        Keymap {
            name: Ident::parse("employee").expect("name"),
            source_query: String::new(),
            target_query: String::new(),
            keys: vec![
                Ident::parse("mako_id").expect("key"),
                Ident::parse("email").expect("key"),
            ],
            origin: "p.toml:1".into(),
        }
    }

    /// A key set of that keymap, as the key queries return it.
    pub(in crate::transform) fn keys(
        ids: &[i64],
        mako: &[Option<&str>],
        email: &[Option<&str>],
    ) -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(ids.to_vec())) as _),
            ("mako_id", Arc::new(StringArray::from(mako.to_vec())) as _),
            ("email", Arc::new(StringArray::from(email.to_vec())) as _),
        ])
        .expect("key set")
    }

    /// `(source_id, target_id, status, matched_by)` of every row.
    fn rows(batches: &[RecordBatch]) -> Vec<(i64, Option<i64>, String, Option<String>)> {
        let mut out = vec![];
        for b in batches {
            let source = b
                .column(0)
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            let target = b
                .column(1)
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            let status = b.column(2).as_string::<i32>();
            let by = b.column(3).as_string::<i32>();
            for r in 0..b.num_rows() {
                out.push((
                    source.value(r),
                    target.is_valid(r).then(|| target.value(r)),
                    status.value(r).to_string(),
                    by.is_valid(r).then(|| by.value(r).to_string()),
                ));
            }
        }
        out
    }

    #[test]
    fn keys_are_tried_in_order_and_the_first_that_finds_anything_decides() {
        let target = keys(
            &[10, 20, 30, 40],
            &[Some("M1"), Some("M2"), Some("M2"), None],
            &[Some("a@x"), Some("b@x"), Some("c@x"), Some("d@x")],
        );
        let source = [
            keys(
                &[1, 2],
                &[Some("M1"), Some("M2")],
                &[Some("d@x"), Some("b@x")],
            ),
            keys(
                &[3, 4, 5],
                &[Some("M9"), None, Some("M9")],
                &[Some("c@x"), Some("d@x"), Some("z@x")],
            ),
        ];
        let km = build(&employee(), &source, &[target]).expect("keymap");
        assert_eq!(km.len(), 2, "one output batch per source batch");
        let m = |s: &str| Some(s.to_string());
        assert_eq!(
            rows(&km),
            [
                (1, Some(10), MATCHED.into(), m("mako_id")),
                (2, None, AMBIGUOUS.into(), m("mako_id")),
                (3, Some(30), MATCHED.into(), m("email")),
                (4, Some(40), MATCHED.into(), m("email")),
                (5, None, ORPHAN.into(), None),
            ]
        );
        let names: Vec<String> = km[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(
            names,
            [
                "source_id",
                "target_id",
                "status",
                "matched_by",
                "mako_id",
                "email"
            ]
        );
    }

    #[test]
    fn an_empty_target_leaves_every_row_an_orphan() {
        let source = [keys(&[1], &[Some("M1")], &[Some("a@x")])];
        let km = build(&employee(), &source, &[]).expect("keymap");
        assert_eq!(rows(&km), [(1, None, ORPHAN.into(), None)]);
    }

    #[test]
    fn a_missing_key_column_is_named() {
        let source = RecordBatch::try_from_iter(vec![(
            "id",
            Arc::new(Int64Array::from(vec![1])) as ArrayRef,
        )])
        .expect("batch");
        let target = keys(&[10], &[Some("M1")], &[Some("a@x")]);
        let err = build(&employee(), &[source], &[target]).expect_err("no mako_id");
        assert_eq!(err, "the source's key set has no column `mako_id`");
    }
}
