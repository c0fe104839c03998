//! The decision: which of use, create, upgrade or repair fits the target,
//! or why none does. Pure: everything it needs is in [`PlanInput`].

use std::collections::BTreeMap;

use super::lineage::{lineages, Lineage};
use super::repair::repair;
use super::{Action, SchemaPlan, Step, TablePlan, TableState};
use crate::schema::desired::VersionShapes;
use crate::schema::migrations::Migration;
use crate::schema::shape::{Difference, SchemaShape};
use crate::schema::SchemaError;

/// Row facts the plan needs to tell a safe change from a destructive one.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Rows per app table.
    pub rows: BTreeMap<String, i64>,
    /// NULLs per `(table, column)` for columns that should become NOT NULL.
    pub nulls: BTreeMap<(String, String), i64>,
}

/// Everything the plan is computed from.
pub struct PlanInput<'a> {
    pub app_schema: &'a str,
    pub actual: &'a SchemaShape,
    pub desired: &'a VersionShapes,
    /// `(version, checksum)` rows of the history table; `None` when it does
    /// not exist.
    pub history: Option<&'a [(i64, String)]>,
    pub migrations: &'a [Migration],
    pub facts: &'a Facts,
    pub allow_destructive: bool,
}

/// Decides the plan, or refuses a target it cannot reconcile safely.
pub fn plan_schema(input: &PlanInput<'_>) -> Result<SchemaPlan, SchemaError> {
    check_history(input)?;
    let head = input.migrations.last().map(|m| m.version).unwrap_or(0);
    let hint = input.history.and_then(|h| h.iter().map(|(v, _)| *v).max());
    let lineages = lineages(input.desired);
    let classified: Vec<(&Lineage, TableState, Vec<Difference>)> = lineages
        .iter()
        .map(|l| {
            let (state, diffs) = l.classify(input.actual, head, hint);
            (l, state, diffs)
        })
        .collect();
    let tables = classified
        .iter()
        .map(|(l, state, diffs)| {
            let found = l.found(input.actual);
            TablePlan {
                table: l.head.name.clone(),
                found_as: found.map(|t| t.name.clone()),
                state: *state,
                rows: found.and_then(|t| input.facts.rows.get(&t.name).copied()),
                differences: diffs.iter().map(|d| d.to_string()).collect(),
                foreign_references: found
                    .map(|t| t.foreign_references.clone())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let managed: Vec<&str> = lineages
        .iter()
        .flat_map(|l| l.versions.iter().map(|(_, t)| t.name.as_str()))
        .collect();
    let unmanaged = input
        .actual
        .tables
        .keys()
        .filter(|t| !managed.contains(&t.as_str()) && !t.starts_with(crate::schema::PADETL_PREFIX))
        .cloned()
        .collect();
    let recorded: Option<Vec<i64>> = input.history.map(|h| h.iter().map(|(v, _)| *v).collect());
    let mut plan = SchemaPlan {
        app_schema: input.app_schema.to_string(),
        head,
        history: recorded.clone(),
        shape_version: shape_version(&lineages, input.actual, input.desired, hint),
        action: Action::Use,
        tables,
        steps: vec![],
        not_applied: vec![],
        unmanaged,
    };
    let last_recorded = recorded.as_ref().and_then(|r| r.iter().max().copied());
    match plan.shape_version {
        Some(k) => {
            if let Some(r) = last_recorded.filter(|r| *r != k) {
                return Err(SchemaError::HistoryDisagrees {
                    recorded: r,
                    shape: describe_shape(k),
                });
            }
            plan.action = match k {
                0 => Action::Create,
                k if k == head => Action::Use,
                k => Action::Upgrade { from: k, to: head },
            };
            baseline(&mut plan, recorded.as_deref(), input.migrations, k);
            for m in input.migrations.iter().filter(|m| m.version > k) {
                plan.steps.push(Step::Migration {
                    version: m.version,
                    file: m.file.clone(),
                    checksum: m.checksum.clone(),
                    sql: m.sql.clone(),
                });
            }
        }
        None => {
            refuse_mixed(&classified, input.actual, head)?;
            if let Some(r) = last_recorded.filter(|r| *r != head) {
                return Err(SchemaError::HistoryDisagrees {
                    recorded: r,
                    shape: "that the tables equal no single version (some match the last one, the rest are missing or drifted)".into(),
                });
            }
            plan.action = Action::Repair;
            repair(&mut plan, input, &classified);
            if plan.reaches_head() {
                baseline(&mut plan, recorded.as_deref(), input.migrations, head);
            }
        }
    }
    Ok(plan)
}

fn describe_shape(k: i64) -> String {
    match k {
        0 => "that no table exists".into(),
        k => format!("that every table equals version {k}"),
    }
}

/// A recorded step whose file changed, or a version no file has, stops
/// everything: the history would no longer describe what ran.
fn check_history(input: &PlanInput<'_>) -> Result<(), SchemaError> {
    for (version, checksum) in input.history.unwrap_or_default() {
        match input.migrations.iter().find(|m| m.version == *version) {
            Some(m) if &m.checksum == checksum => {}
            Some(m) => {
                return Err(SchemaError::ChecksumMismatch {
                    file: m.file.clone(),
                    version: *version,
                })
            }
            None => return Err(SchemaError::UnknownVersion { version: *version }),
        }
    }
    Ok(())
}

/// The version `k` whose every table the target has, exactly, and nothing
/// of the other versions' names; 0 when no managed table exists. Versions
/// that differ only in data (an `UPDATE`-only migration) have one shape:
/// then the history's last version decides, else the latest one.
fn shape_version(
    lineages: &[Lineage],
    actual: &SchemaShape,
    desired: &VersionShapes,
    hint: Option<i64>,
) -> Option<i64> {
    if lineages.iter().all(|l| l.found(actual).is_none()) {
        return Some(0);
    }
    let equal: Vec<i64> = desired
        .versions
        .iter()
        .map(|(v, _)| *v)
        .filter(|v| {
            lineages
                .iter()
                .all(|l| match (l.name_at(*v), l.found(actual)) {
                    (Some(name), Some(found)) => {
                        found.name == name
                            && l.versions
                                .iter()
                                .any(|(x, t)| x == v && found.same_structure(t))
                    }
                    (None, None) => true,
                    _ => false,
                })
        })
        .collect();
    match hint {
        Some(h) if equal.contains(&h) => Some(h),
        _ => equal.last().copied(),
    }
}

/// Versions up to `k` not yet recorded are recorded without running.
fn baseline(plan: &mut SchemaPlan, recorded: Option<&[i64]>, migrations: &[Migration], k: i64) {
    let versions: Vec<i64> = migrations
        .iter()
        .map(|m| m.version)
        .filter(|v| *v <= k && !recorded.unwrap_or_default().contains(v))
        .collect();
    if !versions.is_empty() {
        plan.steps.push(Step::Baseline { versions });
    }
}

/// Tables at different versions cannot be upgraded by migration files,
/// which move the whole schema one version at a time.
fn refuse_mixed(
    classified: &[(&Lineage, TableState, Vec<Difference>)],
    actual: &SchemaShape,
    head: i64,
) -> Result<(), SchemaError> {
    let behind: Vec<String> = classified
        .iter()
        .filter(|(l, state, _)| match state {
            TableState::Outdated { .. } => true,
            TableState::Drifted { closest } => {
                *closest != head || l.found(actual).is_some_and(|t| t.name != l.head.name)
            }
            _ => false,
        })
        .map(|(l, state, _)| format!("{} {state}", l.head.name))
        .collect();
    if behind.is_empty() {
        return Ok(());
    }
    let all: Vec<String> = classified
        .iter()
        .map(|(l, state, _)| format!("{} {state}", l.head.name))
        .collect();
    Err(SchemaError::Unrecognised {
        tables: behind,
        reason: format!(
            "the tables are not all at one version ({}); migrations move a whole schema one version at a time. \
             Bring these tables to one version (or restore a backup), then run again",
            all.join("; ")
        ),
    })
}
