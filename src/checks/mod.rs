//! Checks: the stage between transform and load. What the pipeline's
//! checks found over a whole run, and what their policies do to each page:
//! `warn` only counts, `fail` counts (the run stops at the end of the
//! table), `quarantine` takes the rows out of the load. A row of a child
//! table whose foreign key points at a quarantined row follows it.
//!
//! Where each kind runs: page checks as DataFusion queries over each page
//! ([`sql`]); `unique` and identity on the load's staging table in
//! Postgres ([`stage`]), which reports back through
//! [`Checks::record_stage`]; values that do not fit their column, found by
//! the COPY encoder ([`fit`]); `row_count` after every table is loaded
//! ([`Checks::row_counts`]).

mod fit;
mod sql;
mod stage;

use std::collections::{BTreeMap, BTreeSet};

use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::record_batch::RecordBatch;
use serde_json::{Map, Value};

use sql::{follows_parent_sql, page_check_sql};
use stage::identity_check;
pub use stage::{SampledRow, StageCheck, StageFinding};

use crate::config::{CheckKind, CheckSpec, LoadMode, Pipeline, Policy, TableSpec};
use crate::schema::ForeignKey;
use crate::transform::{TransformError, TransformSession};

/// One check's result over the run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub table: String,
    pub kind: String,
    pub policy: Policy,
    pub violations: u64,
    /// The first violating rows (sensitive columns masked).
    pub sample: Vec<Violation>,
    /// Violations found by the previous `check` or `run` of the same
    /// pipeline and env (`None`: the check is new, or nothing ran before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<u64>,
}

/// One violating row, for the report.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Violation {
    pub key: i64,
    pub detail: String,
    pub row: Map<String, Value>,
}

/// A row on its way to the quarantine table, unmasked.
#[derive(Debug, Clone)]
pub struct QuarantinedRow {
    pub table: String,
    pub key: i64,
    pub check: String,
    pub reason: String,
    pub row: Value,
}

/// Every check's running result, and the keys quarantined so far.
pub struct Checks {
    specs: Vec<CheckSpec>,
    /// The `kind = "fit"` checks: policies of the built-in fit check.
    fits: Vec<CheckSpec>,
    foreign_keys: Vec<ForeignKey>,
    results: Vec<CheckResult>,
    quarantined: BTreeMap<String, BTreeSet<i64>>,
    /// Keys a `fail` fit finding left out of the load; children follow them.
    left_out: BTreeMap<String, BTreeSet<i64>>,
    sample_rows: usize,
    mask: Vec<String>,
}

/// The part of a page to load, and the rows that go to quarantine instead.
pub struct PageOutcome {
    pub keep: RecordBatch,
    pub quarantine: Vec<QuarantinedRow>,
}

const MASK: &str = "***";

impl Checks {
    /// `enabled = false` leaves the pipeline's checks out (benchmarks); the
    /// identity checks of tables that declare one always run: they keep a
    /// run from writing over another entity's row, and so do the fit
    /// checks' policies: a value that does not fit is never loaded.
    pub fn new(pipeline: &Pipeline, foreign_keys: Vec<ForeignKey>, enabled: bool) -> Self {
        let (fits, others): (Vec<CheckSpec>, Vec<CheckSpec>) = pipeline
            .checks
            .iter()
            .cloned()
            .partition(|c| matches!(c.kind, CheckKind::Fit { .. }));
        let mut specs = match enabled {
            true => others,
            false => vec![],
        };
        specs.extend(pipeline.tables.iter().filter_map(identity_check));
        let results = specs
            .iter()
            .map(|c| CheckResult {
                name: c.name.to_string(),
                table: c.table.to_string(),
                kind: c.kind.name().to_string(),
                policy: c.policy,
                violations: 0,
                sample: vec![],
                previous: None,
            })
            .collect();
        Checks {
            specs,
            fits,
            foreign_keys,
            results,
            quarantined: BTreeMap::new(),
            left_out: BTreeMap::new(),
            sample_rows: pipeline.sample_rows,
            mask: pipeline.mask_columns.clone(),
        }
    }

    /// The DataFusion queries this run's page checks will send, whatever
    /// the page: what the transform session must keep for them.
    pub fn page_queries(&self, tables: &[TableSpec]) -> Vec<String> {
        self.specs
            .iter()
            .filter_map(|c| {
                let spec = tables.iter().find(|t| t.name == c.table)?;
                page_check_sql(c, spec)
            })
            .collect()
    }

    /// Runs the page checks of `spec`'s table over `kept` (the rows the
    /// transform would load from the current `source.<table>` page).
    pub async fn page(
        &mut self,
        session: &TransformSession,
        spec: &TableSpec,
        kept: RecordBatch,
    ) -> Result<PageOutcome, TransformError> {
        let table = spec.name.as_str();
        let mut found: Vec<(usize, Vec<(i64, String)>)> = Vec::new();
        let has_checks = self.specs.iter().any(|c| c.table.as_str() == table);
        let parents = self.quarantined_parents(table);
        if (!has_checks && parents.is_empty()) || kept.num_rows() == 0 {
            return Ok(PageOutcome {
                keep: kept,
                quarantine: vec![],
            });
        }
        session.set_output(table, kept.clone())?;
        for i in 0..self.specs.len() {
            let spec_i = &self.specs[i];
            if spec_i.table.as_str() != table {
                continue;
            }
            if let Some(sql) = page_check_sql(spec_i, spec) {
                let v = session
                    .violations(table, spec_i.name.as_str(), &sql)
                    .await?;
                found.push((i, v));
            }
        }
        for fk in parents {
            let i = self.follower(&fk);
            let sql = follows_parent_sql(spec, &fk.column, &fk.parent);
            let v = session
                .violations(table, &self.results[i].name, &sql)
                .await?;
            found.push((i, v));
        }
        let rows = self.sampled_rows(session, spec, &found).await?;
        let mut quarantine = Vec::new();
        let mut taken = BTreeSet::new();
        for (i, violations) in found {
            self.record(i, &violations, &rows);
            if self.results[i].policy != Policy::Quarantine {
                continue;
            }
            quarantine.extend(self.to_quarantine(table, i, violations, &rows, &mut taken));
        }
        let keep = without_keys(&kept, spec.key.as_str(), &taken).map_err(|message| {
            TransformError::Output {
                table: table.to_string(),
                message,
            }
        })?;
        self.quarantined
            .entry(table.to_string())
            .or_default()
            .extend(taken);
        Ok(PageOutcome { keep, quarantine })
    }

    /// A table `check` could not check: a `fail` finding `<table>_checked`
    /// carrying the reason, so that the verdict lists it.
    pub fn not_checked(&mut self, table: &str, reason: &str) {
        self.results.push(CheckResult {
            name: format!("{table}_checked"),
            table: table.to_string(),
            kind: "not_checked".into(),
            policy: Policy::Fail,
            violations: 1,
            sample: vec![Violation {
                key: 0,
                detail: reason.to_string(),
                row: Map::new(),
            }],
            previous: None,
        });
    }

    /// Whether `spec`'s row-count checks need its rows before the load (a
    /// full scan). Only `replace` deletes rows: in the other modes a table
    /// cannot shrink, and `not_shrink` alone holds without counting.
    pub fn counts_rows(&self, spec: &TableSpec) -> bool {
        self.specs.iter().any(|c| counts_before(c, spec))
    }

    /// The row-count checks of `table`, given its rows before and after the load.
    pub fn row_counts(&mut self, table: &str, before: i64, after: i64) {
        for i in 0..self.specs.len() {
            let CheckKind::RowCount {
                min_rows,
                not_shrink,
            } = &self.specs[i].kind
            else {
                continue;
            };
            if self.specs[i].table.as_str() != table {
                continue;
            }
            let mut problems = Vec::new();
            if *not_shrink && after < before {
                problems.push(format!(
                    "the table would shrink from {before} to {after} rows"
                ));
            }
            if let Some(min) = min_rows.filter(|m| (after as u64) < *m) {
                problems.push(format!(
                    "the table would hold {after} rows, fewer than {min}"
                ));
            }
            if !problems.is_empty() {
                let r = &mut self.results[i];
                r.violations += 1;
                r.sample.push(Violation {
                    key: 0,
                    detail: problems.join("; "),
                    row: Map::new(),
                });
            }
        }
    }

    /// Makes `quarantined.<table>` hold the rows held back from the load
    /// (quarantined, or left out by a fit finding), for its children;
    /// returns how many were quarantined.
    pub fn close_table(
        &self,
        session: &TransformSession,
        table: &str,
    ) -> Result<u64, TransformError> {
        let keys: Vec<i64> = self.held_back(table).into_iter().collect();
        session.set_quarantined(table, &keys)?;
        Ok(self.quarantined.get(table).map_or(0, |k| k.len() as u64))
    }

    /// Keys of `table` that are not loaded because a check held them back.
    fn held_back(&self, table: &str) -> BTreeSet<i64> {
        [&self.quarantined, &self.left_out]
            .into_iter()
            .filter_map(|m| m.get(table))
            .flatten()
            .copied()
            .collect()
    }

    /// `fail` checks of `table` that found something.
    pub fn failed(&self, table: Option<&str>) -> Vec<&CheckResult> {
        self.results
            .iter()
            .filter(|r| r.policy == Policy::Fail && r.violations > 0)
            .filter(|r| table.is_none_or(|t| r.table == t))
            .collect()
    }

    pub fn results(&self) -> &[CheckResult] {
        &self.results
    }

    fn record(
        &mut self,
        index: usize,
        violations: &[(i64, String)],
        rows: &BTreeMap<i64, Map<String, Value>>,
    ) {
        let room = self.sample_rows;
        let masked = |row: &Map<String, Value>| -> Map<String, Value> {
            let mut row = Value::Object(row.clone());
            mask_keys(&mut row, &self.mask);
            match row {
                Value::Object(map) => map,
                _ => Map::new(),
            }
        };
        let mut sample = Vec::new();
        let have = self.results[index].sample.len();
        for (key, detail) in violations.iter().take(room.saturating_sub(have)) {
            sample.push(Violation {
                key: *key,
                detail: detail.clone(),
                row: rows.get(key).map(masked).unwrap_or_default(),
            });
        }
        let r = &mut self.results[index];
        r.violations += violations.len() as u64;
        r.sample.extend(sample);
    }

    /// Result `i`'s violations as rows for the quarantine table, each row
    /// once across the checks of one page (`taken`).
    fn to_quarantine(
        &self,
        table: &str,
        i: usize,
        violations: Vec<(i64, String)>,
        rows: &BTreeMap<i64, Map<String, Value>>,
        taken: &mut BTreeSet<i64>,
    ) -> Vec<QuarantinedRow> {
        violations
            .into_iter()
            .filter(|(key, _)| taken.insert(*key))
            .map(|(key, reason)| QuarantinedRow {
                table: table.to_string(),
                key,
                check: self.results[i].name.clone(),
                reason,
                row: Value::Object(rows.get(&key).cloned().unwrap_or_default()),
            })
            .collect()
    }

    /// Foreign keys from `table` to another table with quarantined rows (a
    /// table's own rows are checked page by page, not against each other).
    fn quarantined_parents(&self, table: &str) -> Vec<ForeignKey> {
        self.foreign_keys
            .iter()
            .filter(|fk| fk.child == table && fk.parent != table)
            .filter(|fk| {
                [&self.quarantined, &self.left_out]
                    .iter()
                    .any(|m| m.get(&fk.parent).is_some_and(|k| !k.is_empty()))
            })
            .cloned()
            .collect()
    }

    /// The result that counts rows following `fk.parent` into quarantine.
    fn follower(&mut self, fk: &ForeignKey) -> usize {
        let name = format!("follows_{}", fk.parent);
        if let Some(i) = self
            .results
            .iter()
            .position(|r| r.name == name && r.table == fk.child)
        {
            return i;
        }
        self.results.push(CheckResult {
            name,
            table: fk.child.clone(),
            kind: "follows_parent".into(),
            policy: Policy::Quarantine,
            violations: 0,
            sample: vec![],
            previous: None,
        });
        self.results.len() - 1
    }
}

/// Masks the values of `keys` at any depth (a sample may hold a row and,
/// beside it, the target's row).
fn mask_keys(value: &mut Value, keys: &[String]) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if keys.contains(k) && !v.is_null() {
                    *v = Value::String(MASK.into());
                } else {
                    mask_keys(v, keys);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| mask_keys(v, keys)),
        _ => {}
    }
}

/// `batch` without the rows whose `key` is in `drop`.
fn without_keys(
    batch: &RecordBatch,
    key: &str,
    drop: &BTreeSet<i64>,
) -> Result<RecordBatch, String> {
    if drop.is_empty() {
        return Ok(batch.clone());
    }
    let keep: BooleanArray = fit::row_keys(batch, key)?
        .into_iter()
        .map(|k| Some(!k.is_some_and(|k| drop.contains(&k))))
        .collect();
    filter_record_batch(batch, &keep).map_err(|e| e.to_string())
}

fn counts_before(check: &CheckSpec, spec: &TableSpec) -> bool {
    check.table == spec.name
        && match check.kind {
            CheckKind::RowCount { min_rows, .. } if min_rows.is_some() => true,
            CheckKind::RowCount { not_shrink, .. } => not_shrink && spec.mode == LoadMode::Replace,
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::sql::tests::{check, spec};
    use super::*;
    use crate::config::Ident;

    #[test]
    fn only_a_table_that_can_shrink_or_has_a_minimum_is_counted() {
        let row_count = |min_rows, not_shrink| {
            check(CheckKind::RowCount {
                min_rows,
                not_shrink,
            })
        };
        let replace = TableSpec {
            mode: LoadMode::Replace,
            ..spec()
        };
        assert!(!counts_before(&row_count(None, true), &spec()));
        assert!(counts_before(&row_count(None, true), &replace));
        assert!(counts_before(&row_count(Some(10), false), &spec()));
        assert!(counts_before(&row_count(Some(10), true), &spec()));
        let other = TableSpec {
            name: Ident::parse("pad_approval").unwrap(),
            ..replace
        };
        assert!(!counts_before(&row_count(Some(10), true), &other));
    }
}
