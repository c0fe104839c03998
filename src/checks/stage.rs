//! The checks that run on a table's staging table in Postgres, after its
//! COPY: `unique` (within the load and against the target) and the
//! built-in identity check; and the rows changed in the target since padetl
//! wrote them, recorded as a finding with the table's `on_target_change`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::sql::{identity_violations_sql, unique_violations_sql};
use super::{CheckResult, Checks};
use crate::config::{CheckKind, CheckSpec, Ident, Policy, QualifiedName, TableSpec, TargetChange};

/// A check of one table that the load runs on its staging table: `unique`
/// (within the load and against the target) or the built-in identity
/// check (a loaded row whose key the target holds as another entity).
#[derive(Debug, Clone)]
pub struct StageCheck {
    /// Position among the pipeline's checks.
    index: usize,
    pub name: String,
    pub policy: Policy,
    kind: StageKind,
}

#[derive(Debug, Clone)]
enum StageKind {
    Unique(Ident),
    Identity(Vec<Ident>),
}

impl StageCheck {
    /// The check's query over the stage: `(key, detail, other)`.
    pub fn violations(&self, stage: &str, table: &QualifiedName, key: &str) -> String {
        match &self.kind {
            StageKind::Unique(column) => unique_violations_sql(stage, table, key, column.as_str()),
            StageKind::Identity(columns) => identity_violations_sql(stage, table, key, columns),
        }
    }

    /// Only compares with the rows already in the target: a table that was
    /// empty when its load began cannot violate it.
    pub fn needs_target_rows(&self) -> bool {
        matches!(self.kind, StageKind::Identity(_))
    }
}

/// A violating row with its detail and the row itself, for the report.
#[derive(Debug, Clone)]
pub struct SampledRow {
    pub key: i64,
    pub detail: String,
    pub row: Map<String, Value>,
}

/// What a stage check found.
#[derive(Debug, Clone, Default)]
pub struct StageFinding {
    /// Violating rows in all.
    pub total: u64,
    /// The first violating rows (up to `sample_rows`).
    pub sample: Vec<SampledRow>,
    /// Keys that moved to quarantine (the rows went there in Postgres).
    pub moved: Vec<i64>,
}

impl Checks {
    /// The unique checks of `table`, for the load to run on its staging table.
    pub fn stage_checks(&self, table: &str) -> Vec<StageCheck> {
        self.specs
            .iter()
            .enumerate()
            .filter(|(_, c)| c.table.as_str() == table)
            .filter_map(|(index, c)| {
                let kind = match &c.kind {
                    CheckKind::Unique { column } => StageKind::Unique(column.clone()),
                    CheckKind::Identity { columns } => StageKind::Identity(columns.clone()),
                    _ => return None,
                };
                Some(StageCheck {
                    index,
                    name: c.name.to_string(),
                    policy: c.policy,
                    kind,
                })
            })
            .collect()
    }

    /// Records what a stage check found on `table`'s staging table.
    pub fn record_stage(&mut self, check: &StageCheck, table: &str, finding: StageFinding) {
        let violations: Vec<(i64, String)> = finding
            .sample
            .iter()
            .map(|s| (s.key, s.detail.clone()))
            .collect();
        let rows: BTreeMap<i64, Map<String, Value>> =
            finding.sample.into_iter().map(|s| (s.key, s.row)).collect();
        self.record(check.index, &violations, &rows);
        let unsampled = finding.total.saturating_sub(violations.len() as u64);
        self.results[check.index].violations += unsampled;
        self.quarantined
            .entry(table.to_string())
            .or_default()
            .extend(finding.moved);
    }

    /// Records the rows of `spec`'s table that changed in the target since
    /// padetl wrote them and that the source would change too, as a finding
    /// whose policy is the table's `on_target_change` (fail stops the run);
    /// returns how many the run leaves as the target has them.
    pub fn record_target_changes(
        &mut self,
        spec: &TableSpec,
        total: u64,
        sample: Vec<SampledRow>,
    ) -> u64 {
        if total == 0 {
            return 0;
        }
        let (policy, what) = match spec.on_target_change {
            TargetChange::Fail => (Policy::Fail, "not written: the run stops"),
            TargetChange::TargetWins => (Policy::Warn, "left as the target has it"),
            TargetChange::SourceWins => (Policy::Warn, "the source's version written over it"),
        };
        let index = self.results.len();
        self.results.push(CheckResult {
            name: format!("{}_changed_in_target", spec.name),
            table: spec.name.to_string(),
            kind: "changed_in_target".into(),
            policy,
            violations: 0,
            sample: vec![],
            previous: None,
        });
        let violations: Vec<(i64, String)> = sample
            .iter()
            .map(|s| (s.key, format!("{}; {what}", s.detail)))
            .collect();
        let rows: BTreeMap<i64, Map<String, Value>> =
            sample.into_iter().map(|s| (s.key, s.row)).collect();
        self.record(index, &violations, &rows);
        let unsampled = total.saturating_sub(violations.len() as u64);
        self.results[index].violations += unsampled;
        match spec.on_target_change {
            TargetChange::TargetWins => total,
            _ => 0,
        }
    }
}

/// The built-in identity check of a table that declares `identity`.
pub(super) fn identity_check(spec: &TableSpec) -> Option<CheckSpec> {
    if spec.identity.is_empty() {
        return None;
    }
    let name = Ident::parse(&format!("{}_identity", spec.name)).ok()?;
    Some(CheckSpec {
        name,
        table: spec.name.clone(),
        kind: CheckKind::Identity {
            columns: spec.identity.clone(),
        },
        policy: spec.collision,
    })
}
