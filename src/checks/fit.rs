//! The built-in fit check: a value that its target column cannot store
//! (precision, scale, length, range, JSON, NOT NULL, a simple CHECK) is a
//! finding of `<table>_<column>_fits`, counted over the whole table. The
//! encoder has already left its row out of the load; the policy (`fail`
//! unless a `kind = "fit"` check says `quarantine`) decides what the run
//! does with it. `warn` is refused when the pipeline is read: a value that
//! cannot be stored cannot be loaded with a warning either.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use serde_json::{Map, Value};

use super::{CheckResult, Checks, QuarantinedRow};
use crate::config::{CheckKind, Policy, TableSpec};
use crate::load::Misfit;
use crate::transform::{TransformError, TransformSession};

impl Checks {
    /// Records the values of one page of `spec`'s table that did not fit
    /// (their rows are already out of the load); returns the rows that go
    /// to quarantine.
    pub async fn misfits(
        &mut self,
        session: &TransformSession,
        spec: &TableSpec,
        batch: &RecordBatch,
        misfits: Vec<Misfit>,
    ) -> Result<Vec<QuarantinedRow>, TransformError> {
        if misfits.is_empty() {
            return Ok(vec![]);
        }
        let table = spec.name.as_str();
        let keys =
            row_keys(batch, spec.key.as_str()).map_err(|message| TransformError::Output {
                table: table.to_string(),
                message,
            })?;
        let mut by_column: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
        for m in misfits {
            let Some(key) = keys.get(m.row).copied().flatten() else {
                return Err(TransformError::Output {
                    table: table.to_string(),
                    message: format!(
                        "a row has no key: `{}` is NULL (and `{}` {}); a transform must give every row its key",
                        spec.key, m.column, m.reason
                    ),
                });
            };
            by_column
                .entry(m.column.clone())
                .or_default()
                .push((key, format!("`{}` {}", m.column, m.reason)));
        }
        let found: Vec<(usize, Vec<(i64, String)>)> = by_column
            .into_iter()
            .map(|(column, v)| (self.fit_result(table, &column), v))
            .collect();
        let rows = self.sampled_rows(session, spec, &found).await?;
        let mut quarantine = Vec::new();
        let mut taken = BTreeSet::new();
        for (i, violations) in found {
            self.record(i, &violations, &rows);
            let keys = violations.iter().map(|(k, _)| *k);
            if self.results[i].policy != Policy::Quarantine {
                self.left_out
                    .entry(table.to_string())
                    .or_default()
                    .extend(keys);
                continue;
            }
            quarantine.extend(self.to_quarantine(table, i, violations, &rows, &mut taken));
        }
        self.quarantined
            .entry(table.to_string())
            .or_default()
            .extend(taken);
        Ok(quarantine)
    }

    /// Rows of `table` that a `fail` fit finding left out of the load.
    pub fn left_out(&self, table: &str) -> u64 {
        self.left_out.get(table).map_or(0, |k| k.len() as u64)
    }

    /// The source rows of the violations that a report or the quarantine
    /// will show: all for quarantine, the first `sample_rows` otherwise.
    pub(super) async fn sampled_rows(
        &self,
        session: &TransformSession,
        spec: &TableSpec,
        found: &[(usize, Vec<(i64, String)>)],
    ) -> Result<BTreeMap<i64, Map<String, Value>>, TransformError> {
        let wanted: Vec<i64> = found
            .iter()
            .flat_map(|(i, v)| {
                let take = match self.results[*i].policy {
                    Policy::Quarantine => v.len(),
                    _ => self.sample_rows,
                };
                v.iter().take(take).map(|(k, _)| *k)
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        Ok(session
            .source_rows(spec, &wanted)
            .await?
            .into_iter()
            .collect())
    }

    /// The result of `table`'s fit check on `column`, made on its first finding.
    fn fit_result(&mut self, table: &str, column: &str) -> usize {
        let name = format!("{table}_{column}_fits");
        if let Some(i) = self
            .results
            .iter()
            .position(|r| r.name == name && r.table == table && r.kind == "fit")
        {
            return i;
        }
        self.results.push(CheckResult {
            name,
            table: table.to_string(),
            kind: "fit".into(),
            policy: self.fit_policy(table, column),
            violations: 0,
            sample: vec![],
            previous: None,
        });
        self.results.len() - 1
    }

    /// A `kind = "fit"` check naming the column wins over one for the table.
    fn fit_policy(&self, table: &str, column: &str) -> Policy {
        let for_table = |want: Option<&str>| {
            self.fits.iter().find(|c| {
                c.table.as_str() == table
                    && matches!(&c.kind, CheckKind::Fit { column: col } if col.as_ref().map(|c| c.as_str()) == want)
            })
        };
        for_table(Some(column))
            .or_else(|| for_table(None))
            .map_or(Policy::Fail, |c| c.policy)
    }
}

/// The key of every row of `batch` (`None` for a NULL key).
pub(super) fn row_keys(batch: &RecordBatch, key: &str) -> Result<Vec<Option<i64>>, String> {
    let column = batch
        .column_by_name(key)
        .ok_or_else(|| format!("the transform's output has no key column `{key}`"))?;
    let keys = cast(column, &DataType::Int64).map_err(|e| e.to_string())?;
    let keys = keys
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| format!("key `{key}` is not an integer"))?;
    Ok(keys.iter().collect())
}
