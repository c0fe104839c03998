//! The schema plan: a pure function of the target's shape, its history
//! table (a hint that must agree with the shape), the desired shape of every
//! version and a few row facts. Unit-tested without a database; the
//! executor in [`super::apply`] only carries it out.
//!
//! - this file: the plan as a value (what it says, how it is printed);
//! - [`lineage`]: one table followed across versions, and classified;
//! - [`decide`]: which version each table is at, and what brings it to the
//!   last one — or why nothing safely can;
//! - [`parts`]: a migration's statements split by table, for targets whose
//!   tables sit at different versions;
//! - [`repair`]: the statements that bring a drifted table back;
//! - [`finish`]: the plan completed from a rehearsal on scratch copies.

mod decide;
mod finish;
mod lineage;
mod parts;
mod repair;

use serde::Serialize;

pub use decide::{plan_schema, Facts, PlanInput};
pub use finish::{finish, Failure, Rehearsal};
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
    /// Why nothing can run; empty when the plan can be carried out.
    #[serde(default)]
    pub refused: Vec<Refusal>,
}

/// Something that stops the whole plan, said so that a person can act.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Refusal {
    /// The table it is about; `None` for the history or the files.
    pub table: Option<String>,
    pub reason: String,
    /// SQL that would remove the obstacle, when the fix is mechanical.
    pub fix: Vec<String>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.table {
            Some(t) => write!(f, "{t}: {}", self.reason)?,
            None => write!(f, "{}", self.reason)?,
        }
        for sql in &self.fix {
            write!(f, "\n      {sql};")?;
        }
        Ok(())
    }
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
    /// Tables equal no version but all are nearest the last one: missing
    /// ones are created, drifted ones get the safe part of their diff.
    Repair,
    /// Every table equals or is drifted from one earlier version: the safe
    /// part of the drift towards it, then the later migrations.
    RepairAndUpgrade { from: i64, to: i64 },
    /// Tables sit at different versions: each is brought along its own
    /// lineage by the statements of each later migration that concern it.
    UpgradeEach { from: i64, to: i64 },
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
    /// What reconciling does to it, for the report and the ledger.
    #[serde(default)]
    pub outcome: TableOutcome,
}

/// Per table: the version found, and what was repaired, upgraded and left.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TableOutcome {
    /// The version it equals or is nearest; `None` when missing.
    pub version_found: Option<i64>,
    /// Created (missing from the target) at this version.
    pub created_at: Option<i64>,
    /// The differences the plan's statements fix.
    pub repaired: Vec<String>,
    /// The version the migrations bring it to, when any run for it.
    pub upgraded_to: Option<i64>,
    /// Drift left alone that the migrations themselves make moot (a wider
    /// column a later version converts anyway).
    #[serde(default)]
    pub resolved_by_upgrade: Vec<String>,
    /// Differences left as they are (see `not_applied`).
    pub waiting: Vec<String>,
}

impl TableOutcome {
    /// What the plan does to one table, in a line; `None` when nothing.
    pub fn describe(&self) -> Option<String> {
        let o = self;
        let mut parts = Vec::new();
        if let Some(v) = o.created_at {
            parts.push(format!("created at version {v}"));
        }
        if !o.repaired.is_empty() {
            parts.push(format!("{} difference(s) repaired", o.repaired.len()));
        }
        if let Some(v) = o.upgraded_to {
            parts.push(format!("upgraded to version {v}"));
        }
        if !o.resolved_by_upgrade.is_empty() {
            parts.push(format!(
                "{} made moot by the upgrade",
                o.resolved_by_upgrade.len()
            ));
        }
        if !o.waiting.is_empty() {
            parts.push(format!("{} left waiting", o.waiting.len()));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
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
    /// Run the statements of a migration file that concern some tables
    /// only: the others are already past this version.
    MigrationPart {
        version: i64,
        file: String,
        checksum: String,
        /// The tables it brings to this version.
        tables: Vec<String>,
        statements: Vec<crate::schema::statements::Statement>,
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
    /// The SQL it runs, as one script.
    pub fn sql(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Step::Migration { sql, .. } | Step::Statement { sql, .. } => Some(sql.into()),
            Step::MigrationPart { statements, .. } => Some(
                statements
                    .iter()
                    .map(|s| format!("{};\n", s.sql))
                    .collect::<String>()
                    .into(),
            ),
            Step::Baseline { .. } => None,
        }
    }

    /// The migration it runs (whole or in part).
    pub fn version(&self) -> Option<i64> {
        match self {
            Step::Migration { version, .. } | Step::MigrationPart { version, .. } => Some(*version),
            _ => None,
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
        self.steps.is_empty() && self.refused.is_empty()
    }

    /// True when nothing runs and every table is as the last version has
    /// it: the plan is the same whatever the tables hold.
    pub fn uses_as_found(&self) -> bool {
        self.is_noop() && self.tables.iter().all(|t| t.state == TableState::Matches)
    }

    pub fn is_refused(&self) -> bool {
        !self.refused.is_empty()
    }

    /// Whether the steps must be rehearsed on scratch copies before they
    /// are trusted: everything but running whole files on tables that equal
    /// the versions those files were written for.
    pub fn needs_rehearsal(&self) -> bool {
        let repairs = matches!(
            self.action,
            Action::Repair | Action::RepairAndUpgrade { .. } | Action::UpgradeEach { .. }
        );
        repairs && !self.is_refused() && self.steps.iter().any(|s| s.sql().is_some())
    }

    /// Versions whose migration files run, whole or in part.
    pub fn migration_versions(&self) -> Vec<i64> {
        self.steps.iter().filter_map(Step::version).collect()
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
        // A constraint added NOT VALID and then validated is one repair.
        let mut repairs: Vec<(&str, &str)> = self
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Statement { table, change, .. } => Some((table.as_str(), change.as_str())),
                _ => None,
            })
            .collect();
        repairs.dedup();
        let statements = repairs.len();
        if self.is_refused() {
            return format!(
                "refused, nothing changed: {}",
                self.refused
                    .iter()
                    .map(|r| r.to_string().lines().next().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
        let repaired = match statements {
            0 => String::new(),
            n => format!("{n} difference(s) repaired, then "),
        };
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
            Action::Repair => format!("{statements} difference(s) repaired{held}{baseline}"),
            Action::RepairAndUpgrade { from, to } => format!(
                "at version {from} with drift: {repaired}upgraded to {to} (migrations {}){held}{baseline}",
                join(&self.migration_versions())
            ),
            Action::UpgradeEach { from, to } => format!(
                "tables at versions {from}–{}: {repaired}each upgraded to {to} (migrations {}, split by table){held}{baseline}",
                self.tables
                    .iter()
                    .filter_map(|t| t.outcome.version_found)
                    .max()
                    .unwrap_or(to),
                join(&self.migration_versions())
            ),
        }
    }

    /// True when, once applied, every table will equal the last version.
    pub fn reaches_head(&self) -> bool {
        !self.is_refused() && !self.not_applied.iter().any(|c| c.kind != NotApplied::Kept)
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
