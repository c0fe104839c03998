//! The decision: the version each table is at (equal or nearest), and what
//! brings every table to the last one — use, create, upgrade, repair then
//! upgrade, or upgrade table by table — or why nothing safely can. Pure:
//! everything it needs is in [`PlanInput`].

use std::collections::BTreeMap;

use super::lineage::{lineages, Lineage};
use super::repair::{repair_towards, Statements};
use super::{parts, Action, Refusal, SchemaPlan, Step, TableOutcome, TablePlan, TableState};
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
#[derive(Clone, Copy)]
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

/// One table as found: its lineage, state and differences.
pub(super) type Classified<'a> = (&'a Lineage<'a>, TableState, Vec<Difference>);

/// Decides the plan. A target that cannot be reconciled safely still gets a
/// full plan (states, differences, steps), with the reasons in `refused`.
pub fn plan_schema(input: &PlanInput<'_>) -> SchemaPlan {
    let head = input.migrations.last().map(|m| m.version).unwrap_or(0);
    let hint = input.history.and_then(|h| h.iter().map(|(v, _)| *v).max());
    let lineages = lineages(input.desired);
    let classified: Vec<Classified> = lineages
        .iter()
        .map(|l| {
            let (state, diffs) = l.classify(input.actual, head, hint);
            (l, state, diffs)
        })
        .collect();
    let recorded: Option<Vec<i64>> = input.history.map(|h| h.iter().map(|(v, _)| *v).collect());
    let mut plan = SchemaPlan {
        app_schema: input.app_schema.to_string(),
        head,
        history: recorded.clone(),
        shape_version: shape_version(&lineages, input.actual, input.desired, hint),
        action: Action::Use,
        tables: table_plans(input, &classified, head),
        steps: vec![],
        not_applied: vec![],
        unmanaged: unmanaged(input.actual, &lineages),
        refused: history_refusals(input),
    };
    let last_recorded = recorded.as_ref().and_then(|r| r.iter().max().copied());
    match plan.shape_version {
        Some(k) => {
            disagreeing_history(&mut plan, last_recorded, k, describe_shape(k));
            plan.action = match k {
                0 => Action::Create,
                k if k == head => Action::Use,
                k => Action::Upgrade { from: k, to: head },
            };
            baseline(&mut plan, recorded.as_deref(), input.migrations, k);
            whole_migrations(&mut plan, input.migrations, k);
        }
        None => {
            let found: Vec<i64> = classified
                .iter()
                .filter_map(|(_, s, _)| version_of(*s, head))
                .collect();
            let (lo, hi) = (
                found.iter().min().copied().unwrap_or(head),
                found.iter().max().copied().unwrap_or(head),
            );
            let shape = match lo == hi {
                true => format!("that every table is at version {lo}, some with drift or missing"),
                false => format!("that its oldest table is at version {lo}"),
            };
            disagreeing_history(&mut plan, last_recorded, lo, shape);
            let mut statements = Statements::default();
            plan.not_applied = repair_towards(&mut statements, input, &classified, lo);
            plan.steps.extend(statements.into_steps());
            plan.action = match (lo == hi, lo == head) {
                (true, true) => Action::Repair,
                (true, false) => Action::RepairAndUpgrade { from: lo, to: head },
                (false, _) => Action::UpgradeEach { from: lo, to: head },
            };
            if lo < head || plan.reaches_head() {
                baseline(&mut plan, recorded.as_deref(), input.migrations, lo);
            }
            if lo == hi {
                whole_migrations(&mut plan, input.migrations, lo);
            } else {
                let starts = parts::starts(&classified, head, lo);
                match parts::migration_steps(input.migrations, lo, &starts) {
                    Ok(steps) => plan.steps.extend(steps),
                    Err(refusals) => plan.refused.extend(refusals),
                }
            }
        }
    }
    super::finish::fill_outcomes(&mut plan, &lineages);
    plan
}

/// The version a table is at (equal or nearest); `None` when missing.
pub(super) fn version_of(state: TableState, head: i64) -> Option<i64> {
    match state {
        TableState::Matches => Some(head),
        TableState::Missing => None,
        TableState::Outdated { version } => Some(version),
        TableState::Drifted { closest } => Some(closest),
    }
}

fn table_plans(input: &PlanInput<'_>, classified: &[Classified], head: i64) -> Vec<TablePlan> {
    classified
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
                outcome: TableOutcome {
                    version_found: version_of(*state, head),
                    ..TableOutcome::default()
                },
            }
        })
        .collect()
}

fn unmanaged(actual: &SchemaShape, lineages: &[Lineage]) -> Vec<String> {
    let managed: Vec<&str> = lineages
        .iter()
        .flat_map(|l| l.versions.iter().map(|(_, t)| t.name.as_str()))
        .collect();
    actual
        .tables
        .keys()
        .filter(|t| !managed.contains(&t.as_str()) && !t.starts_with(crate::schema::PADETL_PREFIX))
        .cloned()
        .collect()
}

fn whole_migrations(plan: &mut SchemaPlan, migrations: &[Migration], after: i64) {
    for m in migrations.iter().filter(|m| m.version > after) {
        plan.steps.push(Step::Migration {
            version: m.version,
            file: m.file.clone(),
            checksum: m.checksum.clone(),
            sql: m.sql.clone(),
        });
    }
}

fn describe_shape(k: i64) -> String {
    match k {
        0 => "that no table exists".into(),
        k => format!("that every table equals version {k}"),
    }
}

/// The history must record exactly the version the oldest table is at.
fn disagreeing_history(plan: &mut SchemaPlan, recorded: Option<i64>, at: i64, shape: String) {
    if let Some(recorded) = recorded.filter(|r| *r != at) {
        plan.refused.push(Refusal {
            table: None,
            reason: SchemaError::HistoryDisagrees { recorded, shape }.to_string(),
            fix: vec![],
        });
    }
}

/// A recorded step whose file changed, or a version no file has, stops
/// everything: the history would no longer describe what ran.
fn history_refusals(input: &PlanInput<'_>) -> Vec<Refusal> {
    let mut out = Vec::new();
    for (version, checksum) in input.history.unwrap_or_default() {
        let error = match input.migrations.iter().find(|m| m.version == *version) {
            Some(m) if &m.checksum == checksum => continue,
            Some(m) => SchemaError::ChecksumMismatch {
                file: m.file.clone(),
                version: *version,
            },
            None => SchemaError::UnknownVersion { version: *version },
        };
        out.push(Refusal {
            table: None,
            reason: error.to_string(),
            fix: vec![],
        });
    }
    out
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
