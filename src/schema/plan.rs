//! The schema plan: a pure function of the target's shape, its history
//! table (a hint that must agree with the shape), the desired shape of every
//! version and a few row facts. Unit-tested without a database; the
//! executor in [`super::apply`] only carries it out.

use std::collections::BTreeMap;

use serde::Serialize;

use super::ddl;
use super::desired::VersionShapes;
use super::migrations::Migration;
use super::shape::{type_change, ConstraintKind, Difference, SchemaShape, TableShape, TypeChange};
use super::SchemaError;

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

/// What reconciling will do, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub table: String,
    pub change: String,
    pub why: String,
    #[serde(rename = "not_applied_because")]
    pub kind: NotApplied,
    /// What would run with `--allow-destructive`.
    pub sql: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

/// One table followed across versions by its catalog oid.
struct Lineage<'a> {
    head: &'a TableShape,
    /// `(version, shape)` for the versions in which the table exists.
    versions: Vec<(i64, &'a TableShape)>,
}

fn lineages(desired: &VersionShapes) -> Vec<Lineage<'_>> {
    let Some((_, head)) = desired.head() else {
        return vec![];
    };
    head.tables
        .values()
        .map(|t| Lineage {
            head: t,
            versions: desired
                .versions
                .iter()
                .filter_map(|(v, s)| s.tables.values().find(|x| x.oid == t.oid).map(|x| (*v, x)))
                .collect(),
        })
        .collect()
}

impl Lineage<'_> {
    fn name_at(&self, version: i64) -> Option<&str> {
        self.versions
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, t)| t.name.as_str())
    }

    /// The actual table of this lineage: under its current name first.
    fn found<'s>(&self, actual: &'s SchemaShape) -> Option<&'s TableShape> {
        actual.tables.get(&self.head.name).or_else(|| {
            self.versions
                .iter()
                .rev()
                .find_map(|(_, t)| actual.tables.get(&t.name))
        })
    }

    /// Matches, outdated or missing by shape; a drifted table is compared
    /// with the version the history names (the hint), else with the version
    /// it differs least from.
    fn classify(
        &self,
        actual: &SchemaShape,
        head: i64,
        hint: Option<i64>,
    ) -> (TableState, Vec<Difference>) {
        let Some(found) = self.found(actual) else {
            return (TableState::Missing, vec![]);
        };
        let mut candidates: Vec<(i64, Vec<Difference>)> = self
            .versions
            .iter()
            .filter(|(_, t)| t.name == found.name)
            .map(|(v, t)| (*v, found.differences(t)))
            .collect();
        if let Some((v, _)) = candidates.iter().rev().find(|(_, d)| d.is_empty()) {
            let state = if *v == head {
                TableState::Matches
            } else {
                TableState::Outdated { version: *v }
            };
            return (state, vec![]);
        }
        let hinted = hint.and_then(|h| candidates.iter().position(|(v, _)| *v == h));
        let (closest, diffs) = match hinted {
            Some(i) => candidates.swap_remove(i),
            None => candidates
                .into_iter()
                .rev()
                .min_by_key(|(_, d)| d.len())
                .unwrap_or((head, vec![])),
        };
        (TableState::Drifted { closest }, diffs)
    }
}

/// Columns whose NULLs must be counted before the plan can be made: those
/// the last version wants NOT NULL and the target allows NULL in.
pub fn null_probes(actual: &SchemaShape, desired: &VersionShapes) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for l in lineages(desired) {
        let Some(found) = actual.tables.get(&l.head.name) else {
            continue;
        };
        for d in found.differences(l.head) {
            if let Difference::Nullability {
                column,
                desired_not_null: true,
            } = d
            {
                out.push((found.name.clone(), column));
            }
        }
    }
    out
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
        .filter(|t| !managed.contains(&t.as_str()) && !t.starts_with(super::PADETL_PREFIX))
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
                    file: super::migrations::display_path(&m.path),
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

/// Creates missing tables and plans the diff of drifted ones.
fn repair(
    plan: &mut SchemaPlan,
    input: &PlanInput<'_>,
    classified: &[(&Lineage, TableState, Vec<Difference>)],
) {
    let schema = input.app_schema;
    let mut staged: Vec<(u8, Step)> = Vec::new();
    let mut push = |phase: u8, table: &str, change: String, destructive: bool, sql: String| {
        staged.push((
            phase,
            Step::Statement {
                table: table.to_string(),
                change,
                destructive,
                sql,
            },
        ));
    };
    for (l, state, diffs) in classified {
        let t = l.head;
        match state {
            TableState::Missing => {
                push(
                    0,
                    &t.name,
                    "create the missing table".into(),
                    false,
                    ddl::create_table(schema, t),
                );
                for c in &t.constraints {
                    let phase = if c.kind == ConstraintKind::ForeignKey {
                        4
                    } else {
                        3
                    };
                    for sql in ddl::add_constraint(schema, &t.name, c) {
                        push(
                            phase,
                            &t.name,
                            format!("add constraint {}", c.name),
                            false,
                            sql,
                        );
                    }
                }
                for i in &t.indexes {
                    push(
                        5,
                        &t.name,
                        format!("add index {}", i.name),
                        false,
                        ddl::create_index(schema, &t.name, i),
                    );
                }
            }
            TableState::Drifted { .. } => {
                let rows = input.facts.rows.get(&t.name).copied().unwrap_or(0);
                for d in diffs {
                    match diff_change(schema, t, d, rows, input) {
                        Planned::Apply(phase, sql) => {
                            for s in sql {
                                push(phase, &t.name, d.to_string(), false, s);
                            }
                        }
                        Planned::Hold(kind, why, sql) => {
                            if kind == NotApplied::Destructive && input.allow_destructive {
                                for s in &sql {
                                    push(1, &t.name, d.to_string(), true, s.clone());
                                }
                            } else {
                                plan.not_applied.push(Change {
                                    table: t.name.clone(),
                                    change: d.to_string(),
                                    why,
                                    kind,
                                    sql,
                                });
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    staged.sort_by_key(|(phase, _)| *phase);
    plan.steps.extend(staged.into_iter().map(|(_, s)| s));
}

enum Planned {
    /// Safe: run in this phase (0 create, 1 destructive, 2 columns,
    /// 3 constraints, 4 foreign keys, 5 indexes).
    Apply(u8, Vec<String>),
    Hold(NotApplied, String, Vec<String>),
}

fn diff_change(
    schema: &str,
    t: &TableShape,
    d: &Difference,
    rows: i64,
    input: &PlanInput<'_>,
) -> Planned {
    let facts = input.facts;
    use Difference::*;
    let alter = |action: String| ddl::alter(schema, &t.name, &action);
    let q = ddl::quote;
    match d {
        MissingColumn { column } => {
            let can_be_not_null = rows == 0 || column.default.is_some() || column.identity.is_some();
            let add = alter(format!("ADD COLUMN {}", ddl::column_definition(column, can_be_not_null)));
            if can_be_not_null || !column.not_null {
                Planned::Apply(2, vec![add])
            } else {
                Planned::Hold(
                    NotApplied::Blocked,
                    format!("{rows} existing rows would have no value for it and it has no default; add it, fill it, then set NOT NULL"),
                    vec![add, alter(format!("ALTER COLUMN {} SET NOT NULL", q(&column.name)))],
                )
            }
        }
        ExtraColumn { column } => {
            let blocks = column.not_null && column.default.is_none() && column.identity.is_none();
            Planned::Hold(
                NotApplied::Destructive,
                format!(
                    "dropping it loses what it holds in the table's {rows} rows{}",
                    if blocks { "; it is NOT NULL without a default, so loading rows will fail while it stays" } else { "; loads leave it NULL or default" }
                ),
                vec![alter(format!("DROP COLUMN {}", q(&column.name)))],
            )
        }
        ColumnType { column, actual, desired } => {
            let sql = vec![alter(format!("ALTER COLUMN {} TYPE {desired}", q(column)))];
            match type_change(actual, desired) {
                TypeChange::Widen => Planned::Apply(2, sql),
                TypeChange::Narrow => Planned::Hold(
                    NotApplied::Destructive,
                    format!("{actual} holds values that {desired} would round, cut or refuse"),
                    sql,
                ),
                TypeChange::Incompatible => Planned::Hold(
                    NotApplied::Destructive,
                    format!("{actual} and {desired} mean different things; converting needs a migration that says how"),
                    sql,
                ),
            }
        }
        Nullability { column, desired_not_null: true } => {
            let nulls = facts.nulls.get(&(t.name.clone(), column.clone())).copied().unwrap_or(0);
            let sql = vec![alter(format!("ALTER COLUMN {} SET NOT NULL", q(column)))];
            if nulls == 0 {
                Planned::Apply(3, sql)
            } else {
                Planned::Hold(NotApplied::Blocked, format!("{nulls} rows have NULL in it; fill them first"), sql)
            }
        }
        Nullability { column, desired_not_null: false } => Planned::Hold(
            NotApplied::Destructive,
            "dropping NOT NULL drops a constraint".into(),
            vec![alter(format!("ALTER COLUMN {} DROP NOT NULL", q(column)))],
        ),
        Default { column, desired, .. } => match desired.as_deref() {
            Some("nextval()") => Planned::Hold(NotApplied::Blocked, "a sequence default must be made by a migration".into(), vec![]),
            Some(expr) => Planned::Apply(2, vec![alter(format!("ALTER COLUMN {} SET DEFAULT {expr}", q(column)))]),
            None => Planned::Apply(2, vec![alter(format!("ALTER COLUMN {} DROP DEFAULT", q(column)))]),
        },
        Identity { column, .. } => Planned::Hold(
            NotApplied::Blocked,
            format!("identity of {column} differs; converting it needs a migration that keeps the sequence position"),
            vec![],
        ),
        MissingConstraint { constraint } => {
            let taken = !input.allow_destructive
                && input
                    .actual
                    .tables
                    .get(&t.name)
                    .is_some_and(|a| a.constraints.iter().any(|c| c.name == constraint.name));
            let phase = if constraint.kind == ConstraintKind::ForeignKey { 4 } else { 3 };
            let sql = ddl::add_constraint(schema, &t.name, constraint);
            if taken {
                Planned::Hold(
                    NotApplied::Blocked,
                    format!("a different constraint is named {}; it is replaced only with --allow-destructive", constraint.name),
                    sql,
                )
            } else {
                Planned::Apply(phase, sql)
            }
        }
        ExtraConstraint { constraint } => Planned::Hold(
            NotApplied::Destructive,
            "dropping a constraint loosens what the table accepts".into(),
            vec![alter(format!("DROP CONSTRAINT {}", q(&constraint.name)))],
        ),
        MissingIndex { index } => Planned::Apply(5, vec![ddl::create_index(schema, &t.name, index)]),
        ExtraIndex { .. } => Planned::Hold(NotApplied::Kept, "an extra index loses nothing; it is kept".into(), vec![]),
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
mod tests {
    use super::*;
    use crate::schema::shape::{ColumnShape, ConstraintShape, IndexShape};
    use std::path::PathBuf;

    fn col(name: &str, ty: &str) -> ColumnShape {
        ColumnShape {
            name: name.into(),
            data_type: ty.into(),
            not_null: name == "id",
            default: None,
            identity: None,
        }
    }

    fn table(name: &str, oid: u32, columns: &[(&str, &str)], indexes: &[&str]) -> TableShape {
        TableShape {
            name: name.into(),
            oid,
            columns: columns.iter().map(|(n, t)| col(n, t)).collect(),
            constraints: vec![ConstraintShape {
                kind: ConstraintKind::PrimaryKey,
                definition: "PRIMARY KEY (id)".into(),
                name: format!("{name}_pkey"),
            }],
            indexes: indexes
                .iter()
                .map(|d| IndexShape {
                    unique: false,
                    definition: d.to_string(),
                    name: format!("{name}_idx"),
                })
                .collect(),
            foreign_references: vec![],
        }
    }

    fn schema(tables: Vec<TableShape>) -> SchemaShape {
        SchemaShape {
            tables: tables.into_iter().map(|t| (t.name.clone(), t)).collect(),
        }
    }

    fn v(n: i64) -> SchemaShape {
        match n {
            1 => schema(vec![
                table("req", 1, &[("id", "integer"), ("qty", "integer")], &[]),
                table("logs", 2, &[("id", "integer")], &[]),
            ]),
            2 => schema(vec![
                table("req", 1, &[("id", "bigint"), ("qty", "integer")], &[]),
                table("log", 2, &[("id", "bigint")], &[]),
            ]),
            _ => schema(vec![
                table(
                    "req",
                    1,
                    &[("id", "bigint"), ("qty", "numeric(20,4)")],
                    &["btree (qty)"],
                ),
                table("log", 2, &[("id", "bigint"), ("details", "jsonb")], &[]),
            ]),
        }
    }

    fn desired() -> VersionShapes {
        VersionShapes {
            versions: (1..=3).map(|n| (n, v(n))).collect(),
        }
    }

    fn migs() -> Vec<Migration> {
        (1..=3)
            .map(|v| Migration {
                version: v,
                name: format!("v{v}"),
                path: PathBuf::from(format!("{v}.sql")),
                file: format!("{v}.sql"),
                sql: format!("-- v{v}"),
                checksum: format!("c{v}"),
            })
            .collect()
    }

    fn plan_for(
        actual: &SchemaShape,
        history: Option<Vec<(i64, String)>>,
        allow_destructive: bool,
    ) -> Result<SchemaPlan, SchemaError> {
        let (desired, migrations, facts) = (desired(), migs(), Facts::default());
        plan_schema(&PlanInput {
            app_schema: "app",
            actual,
            desired: &desired,
            history: history.as_deref(),
            migrations: &migrations,
            facts: &facts,
            allow_destructive,
        })
    }

    fn history(upto: i64) -> Option<Vec<(i64, String)>> {
        Some((1..=upto).map(|v| (v, format!("c{v}"))).collect())
    }

    fn states(plan: &SchemaPlan) -> Vec<TableState> {
        plan.tables.iter().map(|t| t.state).collect()
    }

    #[test]
    fn empty_target_is_created_from_every_migration() {
        let plan = plan_for(&SchemaShape::default(), None, false).unwrap();
        assert_eq!(plan.action, Action::Create);
        assert_eq!(plan.migration_versions(), [1, 2, 3]);
        assert_eq!(states(&plan), [TableState::Missing, TableState::Missing]);
    }

    #[test]
    fn current_target_is_used_as_it_is() {
        let plan = plan_for(&v(3), history(3), false).unwrap();
        assert_eq!(plan.action, Action::Use);
        assert!(plan.is_noop());
        assert_eq!(states(&plan), [TableState::Matches, TableState::Matches]);
    }

    #[test]
    fn outdated_target_is_upgraded_by_the_later_migrations() {
        let plan = plan_for(&v(2), history(2), false).unwrap();
        assert_eq!(plan.action, Action::Upgrade { from: 2, to: 3 });
        assert_eq!(plan.migration_versions(), [3]);
        assert_eq!(
            states(&plan),
            [
                TableState::Outdated { version: 2 },
                TableState::Outdated { version: 2 }
            ]
        );
    }

    #[test]
    fn a_renamed_table_is_followed_to_its_old_name() {
        let plan = plan_for(&v(1), None, false).unwrap();
        assert_eq!(plan.shape_version, Some(1));
        let log = plan.tables.iter().find(|t| t.table == "log").unwrap();
        assert_eq!(log.found_as.as_deref(), Some("logs"));
    }

    #[test]
    fn a_target_without_history_is_baselined_at_the_version_it_equals() {
        let plan = plan_for(&v(2), None, false).unwrap();
        assert_eq!(
            plan.steps[0],
            Step::Baseline {
                versions: vec![1, 2]
            }
        );
        assert_eq!(plan.migration_versions(), [3]);
    }

    #[test]
    fn a_history_that_disagrees_with_the_tables_is_refused() {
        assert!(matches!(
            plan_for(&v(2), history(3), false),
            Err(SchemaError::HistoryDisagrees { recorded: 3, .. })
        ));
    }

    #[test]
    fn a_changed_file_is_refused_by_name() {
        let mut h = history(2).unwrap();
        h[1].1 = "edited".into();
        match plan_for(&v(2), Some(h), false) {
            Err(SchemaError::ChecksumMismatch { file, version: 2 }) => assert_eq!(file, "2.sql"),
            other => panic!("expected a checksum mismatch, got {other:?}"),
        }
    }

    #[test]
    fn a_data_only_migration_is_told_apart_by_the_history() {
        let mut desired = desired();
        desired.versions.push((4, v(3)));
        let mut migrations = migs();
        migrations.push(Migration {
            version: 4,
            name: "v4".into(),
            path: PathBuf::from("4.sql"),
            file: "4.sql".into(),
            sql: "UPDATE req SET qty = qty".into(),
            checksum: "c4".into(),
        });
        let facts = Facts::default();
        let plan = plan_schema(&PlanInput {
            app_schema: "app",
            actual: &v(3),
            desired: &desired,
            history: history(3).as_deref(),
            migrations: &migrations,
            facts: &facts,
            allow_destructive: false,
        })
        .unwrap();
        assert_eq!(plan.action, Action::Upgrade { from: 3, to: 4 });
        assert_eq!(plan.migration_versions(), [4]);
    }

    #[test]
    fn tables_at_different_versions_are_refused() {
        let mut mixed = v(3);
        mixed
            .tables
            .insert("req".into(), v(2).tables["req"].clone());
        assert!(matches!(
            plan_for(&mixed, history(3), false),
            Err(SchemaError::Unrecognised { .. })
        ));
    }

    fn drifted() -> SchemaShape {
        let mut s = v(3);
        let req = s.tables.get_mut("req").unwrap();
        req.indexes.clear();
        req.columns.push(col("note", "text"));
        req.columns[1].data_type = "numeric(30,4)".into();
        s.tables.remove("log");
        s
    }

    #[test]
    fn drift_gets_the_additive_part_and_reports_the_rest() {
        let plan = plan_for(&drifted(), history(3), false).unwrap();
        assert_eq!(plan.action, Action::Repair);
        let sql: Vec<&str> = plan.steps.iter().filter_map(Step::sql).collect();
        assert!(
            sql[0].starts_with("CREATE TABLE \"app\".\"log\""),
            "{sql:?}"
        );
        assert!(sql.contains(&"CREATE INDEX \"req_idx\" ON \"app\".\"req\" USING btree (qty)"));
        assert!(!sql.iter().any(|s| s.contains("DROP") || s.contains("TYPE")));
        let held: Vec<(&str, NotApplied)> = plan
            .not_applied
            .iter()
            .map(|c| (c.change.as_str(), c.kind))
            .collect();
        assert_eq!(
            held,
            [
                (
                    "column qty is numeric(30,4), not numeric(20,4)",
                    NotApplied::Destructive
                ),
                ("extra column note text", NotApplied::Destructive),
            ]
        );
        assert!(!plan.reaches_head());
    }

    #[test]
    fn allow_destructive_applies_the_rest() {
        let plan = plan_for(&drifted(), history(3), true).unwrap();
        let sql: Vec<&str> = plan.steps.iter().filter_map(Step::sql).collect();
        assert!(sql.contains(&"ALTER TABLE \"app\".\"req\" DROP COLUMN \"note\""));
        assert!(
            sql.contains(&"ALTER TABLE \"app\".\"req\" ALTER COLUMN \"qty\" TYPE numeric(20,4)")
        );
        assert!(plan.not_applied.is_empty());
        assert!(plan.reaches_head());
    }

    #[test]
    fn not_null_is_set_only_when_no_row_is_null() {
        let mut s = v(3);
        s.tables.get_mut("req").unwrap().columns[0].not_null = false;
        let (desired, migrations) = (desired(), migs());
        let mut facts = Facts::default();
        facts.nulls.insert(("req".into(), "id".into()), 2);
        let plan = plan_schema(&PlanInput {
            app_schema: "app",
            actual: &s,
            desired: &desired,
            history: history(3).as_deref(),
            migrations: &migrations,
            facts: &facts,
            allow_destructive: true,
        })
        .unwrap();
        assert_eq!(plan.not_applied[0].kind, NotApplied::Blocked);
        assert!(plan.not_applied[0].why.contains("2 rows have NULL"));
    }
}
