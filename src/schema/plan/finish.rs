//! The plan completed from its rehearsal: the steps were run on scratch
//! copies of the target's tables (`schema::rehearse`), so what the
//! migrations leave is known, not guessed. What still differs from the last
//! version is repaired or held by the same rules as any drift; a step that
//! failed refuses the plan, naming the step and the table it failed on.

use std::collections::BTreeSet;

use super::decide::PlanInput;
use super::lineage::{lineages, Lineage};
use super::repair::{repair_drift, Repair, Statements, CREATE_MISSING};
use super::{Action, Refusal, SchemaPlan, Step, TableState};
use crate::schema::shape::SchemaShape;
use crate::schema::statements::touches;

/// What running the plan's steps on scratch copies gave.
#[derive(Debug)]
pub enum Rehearsal {
    /// Every step ran; the scratch tables are now shaped like this.
    Ran(SchemaShape),
    Failed(Failure),
}

/// The first step that failed on the scratch copies.
#[derive(Debug)]
pub struct Failure {
    /// Index into the plan's steps.
    pub step: usize,
    /// The statement's line in its migration file, when it is from one.
    pub line: Option<usize>,
    pub statement: String,
    /// The server's message.
    pub message: String,
}

/// Completes `plan` (computed from `input`) with what its rehearsal showed.
pub fn finish(plan: &mut SchemaPlan, input: &PlanInput<'_>, rehearsal: &Rehearsal) {
    let lineages = lineages(input.desired);
    match rehearsal {
        Rehearsal::Ran(after) => after_the_steps(plan, input, &lineages, after),
        Rehearsal::Failed(failure) => refuse_failed(plan, &lineages, failure),
    }
    fill_outcomes(plan, &lineages);
}

/// Differences the steps leave: repaired when safe, else held.
fn after_the_steps(
    plan: &mut SchemaPlan,
    input: &PlanInput<'_>,
    lineages: &[Lineage],
    after: &SchemaShape,
) {
    let mut more = Statements::default();
    let mut held = Vec::new();
    for l in lineages {
        let Some(now) = l.found(after) else {
            continue;
        };
        let diffs = now.differences(l.head);
        let rows = l
            .found(input.actual)
            .and_then(|t| input.facts.rows.get(&t.name).copied())
            .unwrap_or(0);
        let repair = Repair {
            desired: l.head,
            actual: now,
            rows,
        };
        held.extend(repair_drift(&mut more, input, &repair, &diffs));
    }
    let planned: BTreeSet<String> = plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Statement { sql, .. } => Some(sql.clone()),
            _ => None,
        })
        .collect();
    for step in more.into_steps() {
        if step
            .sql()
            .is_some_and(|sql| !planned.contains(sql.as_ref()))
        {
            plan.steps.push(step);
        }
    }
    let before = std::mem::replace(&mut plan.not_applied, held);
    for change in before {
        let still = plan.not_applied.iter().any(|c| c.change == change.change);
        let lineage = lineages
            .iter()
            .find(|l| l.names().any(|n| n == change.table));
        let table = lineage.and_then(|l| plan.tables.iter_mut().find(|t| t.table == l.head.name));
        if let (false, Some(t)) = (still, table) {
            t.outcome.resolved_by_upgrade.push(change.change);
        }
    }
}

fn refuse_failed(plan: &mut SchemaPlan, lineages: &[Lineage], f: &Failure) {
    let Some(step) = plan.steps.get(f.step) else {
        return;
    };
    let names: Vec<String> = lineages
        .iter()
        .flat_map(|l| l.names().map(str::to_string))
        .collect();
    let named = match step {
        Step::Statement { table, .. } => Some(table.clone()),
        _ => touches(&f.statement, &names).changes,
    };
    let lineage = named
        .as_deref()
        .and_then(|n| lineages.iter().find(|l| l.names().any(|x| x == n)));
    let origin = match (step, f.line) {
        (Step::Migration { file, .. } | Step::MigrationPart { file, .. }, Some(line)) => {
            format!("{file} line {line}")
        }
        (Step::Statement { change, .. }, _) => format!("the repair \"{change}\""),
        _ => "a step".to_string(),
    };
    let statement: String = f.statement.split_whitespace().collect::<Vec<_>>().join(" ");
    let statement = match statement.char_indices().nth(100) {
        Some((i, _)) => format!("{}…", &statement[..i]),
        None => statement,
    };
    let Some(l) = lineage else {
        plan.refused.push(Refusal {
            table: None,
            reason: format!(
                "{origin} (`{statement}`) fails on the tables as the target has them: {}",
                f.message
            ),
            fix: vec![],
        });
        return;
    };
    let table = plan.tables.iter().find(|t| t.table == l.head.name);
    let found = match table {
        Some(t) if !t.differences.is_empty() => {
            format!(". The table is {}: {}", t.state, t.differences.join("; "))
        }
        Some(t) => format!(". The table is {}", t.state),
        None => String::new(),
    };
    let mine = |name: &str| l.names().any(|n| n == name);
    let fix: Vec<String> = plan
        .not_applied
        .iter()
        .filter(|c| mine(&c.table))
        .flat_map(|c| c.sql.iter().cloned())
        .collect();
    let version = table
        .and_then(|t| t.outcome.version_found)
        .map(|v| format!("version {v}"))
        .unwrap_or_else(|| "its version".into());
    let todo = match fix.is_empty() {
        true => format!("Bring {} to {version} by hand (or restore it from a backup), then run again", l.head.name),
        false => format!(
            "Bring {} to {version} first — the SQL below does it once its values convert — then run again",
            l.head.name
        ),
    };
    plan.refused.push(Refusal {
        table: Some(l.head.name.clone()),
        reason: format!(
            "{origin} (`{statement}`) fails on it as the target has it: {}{found}. {todo}",
            f.message
        ),
        fix,
    });
}

/// Per table: the version found, what the plan repairs, upgrades and leaves.
pub(super) fn fill_outcomes(plan: &mut SchemaPlan, lineages: &[Lineage]) {
    let created_at = match plan.action {
        Action::Repair => Some(plan.head),
        Action::RepairAndUpgrade { from, .. } | Action::UpgradeEach { from, .. } => Some(from),
        _ => None,
    };
    for t in plan.tables.iter_mut() {
        let Some(l) = lineages.iter().find(|l| l.head.name == t.table) else {
            continue;
        };
        let mine = |name: &str| l.names().any(|n| n == name);
        let mut repaired: Vec<String> = Vec::new();
        let mut created = false;
        let mut upgraded = false;
        for step in &plan.steps {
            match step {
                Step::Statement { table, change, .. } if mine(table) => {
                    created |= change == CREATE_MISSING;
                    if !repaired.contains(change) {
                        repaired.push(change.clone());
                    }
                }
                Step::Migration { .. } => upgraded = true,
                Step::MigrationPart { tables, .. } if tables.contains(&t.table) => upgraded = true,
                _ => {}
            }
        }
        let o = &mut t.outcome;
        o.created_at = match (t.state, created) {
            (TableState::Missing, true) => created_at,
            (TableState::Missing, false) if upgraded => l.versions.first().map(|(v, _)| *v),
            _ => None,
        };
        // A created table's constraints and indexes are part of making it.
        o.repaired = if created { vec![] } else { repaired };
        o.upgraded_to = upgraded.then_some(plan.head);
        o.waiting = plan
            .not_applied
            .iter()
            .filter(|c| mine(&c.table))
            .map(|c| c.change.clone())
            .collect();
    }
}
