//! The schema plan: a pure function of the target's shape, its history
//! table (a hint that must agree with the shape), the desired shape of every
//! version and a few row facts. Unit-tested without a database; the
//! executor in [`super::apply`] only carries it out.
//!
//! - this file: the plan as a value (what it says, how it is printed);
//! - [`lineage`]: one table followed across versions, and classified;
//! - [`decide`]: use, create, upgrade or repair — or refuse;
//! - [`repair`]: the statements that bring a drifted table back.

mod decide;
mod lineage;
mod repair;

use serde::Serialize;

pub use decide::{plan_schema, Facts, PlanInput};
pub use lineage::null_probes;

/// What reconciling will do, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SchemaPlan {
    pub app_schema: String,
    /// The last migration's version.
    pub head: i64,
    /// Versions recorded in the history table; `None` when there is none.
    pub history: Option<Vec<i64>>,
    /// The version every table equals, when there is one (0: no tables).
    pub shape_version: Option<i64>,
    #[serde(flatten)]
    pub action: Action,
    pub tables: Vec<TablePlan>,
    /// What runs, in order.
    pub steps: Vec<Step>,
    /// Differences that are not changed: destructive ones without
    /// `--allow-destructive`, ones that cannot be applied, harmless extras.
    pub not_applied: Vec<Change>,
    /// Tables in the app schema that no migration defines; never touched.
    pub unmanaged: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Every table equals the last version.
    Use,
    /// No table exists: every migration runs.
    Create,
    /// Every table equals an earlier version: the later migrations run.
    Upgrade { from: i64, to: i64 },
    /// Tables equal no version: missing ones are created, drifted ones get
    /// the safe part of their diff.
    Repair,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TablePlan {
    /// The table's name at the last version.
    pub table: String,
    /// Its name in the target, when it exists (an old version may differ).
    pub found_as: Option<String>,
    #[serde(flatten)]
    pub state: TableState,
    pub rows: Option<i64>,
    /// How it differs from the version it is compared with.
    pub differences: Vec<String>,
    /// Foreign keys into other schemas (not compared).
    pub foreign_references: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TableState {
    Matches,
    Missing,
    Outdated { version: i64 },
    Drifted { closest: i64 },
}

impl std::fmt::Display for TableState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TableState::Matches => write!(f, "matches"),
            TableState::Missing => write!(f, "missing"),
            TableState::Outdated { version } => write!(f, "outdated (equals version {version})"),
            TableState::Drifted { closest } => write!(f, "drifted from version {closest}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Run a migration file as written.
    Migration {
        version: i64,
        file: String,
        checksum: String,
        sql: String,
    },
    /// Run one generated statement.
    Statement {
        table: String,
        change: String,
        destructive: bool,
        sql: String,
    },
    /// Record versions in the history without running anything: the shape
    /// already equals them.
    Baseline { versions: Vec<i64> },
}

impl Step {
    pub fn sql(&self) -> Option<&str> {
        match self {
            Step::Migration { sql, .. } | Step::Statement { sql, .. } => Some(sql),
            Step::Baseline { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Change {
    pub table: String,
    pub change: String,
    pub why: String,
    #[serde(rename = "not_applied_because")]
    pub kind: NotApplied,
    /// What would run with `--allow-destructive`.
    pub sql: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotApplied {
    /// Destructive: needs `--allow-destructive`.
    Destructive,
    /// Cannot be applied as things are (data must be fixed first).
    Blocked,
    /// Harmless and kept (an extra index).
    Kept,
}

impl SchemaPlan {
    /// True when nothing runs and nothing is recorded.
    pub fn is_noop(&self) -> bool {
        self.steps.is_empty()
    }

    /// Versions whose migration files run.
    pub fn migration_versions(&self) -> Vec<i64> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Migration { version, .. } => Some(*version),
                _ => None,
            })
            .collect()
    }

    /// One line for summaries: what the plan does to the schema.
    pub fn summary(&self) -> String {
        let baseline = self.steps.iter().find_map(|s| match s {
            Step::Baseline { versions } => Some(format!(
                "; history baselined at {}",
                versions.iter().max().copied().unwrap_or(0)
            )),
            _ => None,
        });
        let baseline = baseline.unwrap_or_default();
        let held = self
            .not_applied
            .iter()
            .filter(|c| c.kind != NotApplied::Kept)
            .count();
        let held = match held {
            0 => String::new(),
            n => format!("; {n} difference(s) not applied, see `padetl plan`"),
        };
        let statements = self
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Statement { .. }))
            .count();
        match self.action {
            Action::Use => format!("matches version {}{baseline}", self.head),
            Action::Create => format!(
                "created at version {} (migrations {})",
                self.head,
                join(&self.migration_versions())
            ),
            Action::Upgrade { from, to } => format!(
                "upgraded from version {from} to {to} (migrations {}){baseline}",
                join(&self.migration_versions())
            ),
            Action::Repair if statements == 0 => {
                format!(
                    "differs from version {}; nothing safe left to apply{held}",
                    self.head
                )
            }
            Action::Repair => format!("repaired with {statements} statement(s){held}{baseline}"),
        }
    }

    /// True when, once applied, every table will equal the last version.
    pub fn reaches_head(&self) -> bool {
        !self.not_applied.iter().any(|c| c.kind != NotApplied::Kept)
    }
}

/// `1, 2, 3`, for messages about versions.
pub fn join(v: &[i64]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
