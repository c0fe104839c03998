//! Repair: the statements that bring a drifted table back to the version
//! it is compared with — the safe ones applied, in phases, the rest held
//! with the reason and the SQL a person could run.

use super::decide::{Classified, PlanInput};
use super::{Change, NotApplied, Step, TableState};
use crate::config::quote;
use crate::schema::ddl;
use crate::schema::shape::{type_change, ConstraintKind, Difference, TableShape, TypeChange};

/// When a statement runs among the others: parents exist before their
/// children's foreign keys, columns before the constraints on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Create,
    Destructive,
    Columns,
    Constraints,
    ForeignKeys,
    Indexes,
}

impl Phase {
    fn of_constraint(kind: ConstraintKind) -> Phase {
        match kind {
            ConstraintKind::ForeignKey => Phase::ForeignKeys,
            _ => Phase::Constraints,
        }
    }
}

/// A difference that is not applied, and why.
struct Held {
    kind: NotApplied,
    why: String,
    /// What would bring the table in line (run by `--allow-destructive`
    /// when the change is only destructive).
    sql: Vec<String>,
}

/// What to do about one difference.
enum Planned {
    /// Safe: run in this phase.
    Apply(Phase, Vec<String>),
    Hold(Held),
}

fn held(kind: NotApplied, why: impl Into<String>, sql: Vec<String>) -> Planned {
    Planned::Hold(Held {
        kind,
        why: why.into(),
        sql,
    })
}

/// The statements of a repair, collected out of order and sorted by phase.
#[derive(Default)]
pub(super) struct Statements(Vec<(Phase, Step)>);

impl Statements {
    fn push(&mut self, phase: Phase, table: &str, change: String, destructive: bool, sql: String) {
        let step = Step::Statement {
            table: table.to_string(),
            change,
            destructive,
            sql,
        };
        self.0.push((phase, step));
    }

    pub fn into_steps(mut self) -> impl Iterator<Item = Step> {
        self.0.sort_by_key(|(phase, _)| *phase);
        self.0.into_iter().map(|(_, s)| s)
    }
}

/// The table a repair brings into line, and what is known about it.
pub(super) struct Repair<'a> {
    /// The shape to reach.
    pub desired: &'a TableShape,
    /// The table as it is (or will be, after the migrations).
    pub actual: &'a TableShape,
    pub rows: i64,
}

/// Before any migration runs: missing tables are created as `create_at`
/// defines them (a later migration creates those it does not have), and
/// drifted ones get the safe part of their drift towards the version they
/// are nearest. Returns what is held.
pub(super) fn repair_towards(
    out: &mut Statements,
    input: &PlanInput<'_>,
    classified: &[Classified],
    create_at: i64,
) -> Vec<Change> {
    let mut held = Vec::new();
    for (l, state, diffs) in classified {
        match state {
            TableState::Missing => {
                if let Some(t) = l.at(create_at) {
                    create_missing(out, input.app_schema, t);
                }
            }
            TableState::Drifted { closest } => {
                let (Some(desired), Some(actual)) = (l.at(*closest), l.found(input.actual)) else {
                    continue;
                };
                let rows = input.facts.rows.get(&actual.name).copied().unwrap_or(0);
                let repair = Repair {
                    desired,
                    actual,
                    rows,
                };
                held.extend(repair_drift(out, input, &repair, diffs));
            }
            _ => {}
        }
    }
    held
}

/// The change a missing table's creation is listed under.
pub(super) const CREATE_MISSING: &str = "create the missing table";

/// A missing table: its sequences, the table, then its constraints and
/// indexes.
fn create_missing(out: &mut Statements, schema: &str, t: &TableShape) {
    for sql in ddl::create_table(schema, t) {
        out.push(Phase::Create, &t.name, CREATE_MISSING.into(), false, sql);
    }
    for c in &t.constraints {
        for sql in ddl::add_constraint(schema, &t.name, c) {
            let change = format!("add constraint {}", c.name);
            out.push(Phase::of_constraint(c.kind), &t.name, change, false, sql);
        }
    }
    for i in &t.indexes {
        let sql = ddl::create_index(schema, &t.name, i);
        out.push(
            Phase::Indexes,
            &t.name,
            format!("add index {}", i.name),
            false,
            sql,
        );
    }
}

/// A drifted table: the safe part of its differences, and the destructive
/// part when allowed; returns what is held.
pub(super) fn repair_drift(
    out: &mut Statements,
    input: &PlanInput<'_>,
    repair: &Repair<'_>,
    diffs: &[Difference],
) -> Vec<Change> {
    let t = repair.desired;
    let mut not_applied = Vec::new();
    for d in diffs {
        match diff_change(input.app_schema, repair, d, input) {
            Planned::Apply(phase, sql) => {
                for s in sql {
                    out.push(phase, &t.name, d.to_string(), false, s);
                }
            }
            Planned::Hold(h) if h.kind == NotApplied::Destructive && input.allow_destructive => {
                for s in h.sql {
                    out.push(Phase::Destructive, &t.name, d.to_string(), true, s);
                }
            }
            Planned::Hold(h) => not_applied.push(Change {
                table: t.name.clone(),
                change: d.to_string(),
                why: h.why,
                kind: h.kind,
                sql: h.sql,
            }),
        }
    }
    not_applied
}

fn diff_change(
    schema: &str,
    repair: &Repair<'_>,
    d: &Difference,
    input: &PlanInput<'_>,
) -> Planned {
    let (t, rows, facts) = (repair.desired, repair.rows, input.facts);
    use Difference::*;
    let alter = |action: String| ddl::alter(schema, &t.name, &action);
    let q = quote;
    match d {
        MissingColumn { column } => {
            let can_be_not_null = rows == 0 || column.default.is_some() || column.identity.is_some();
            let add = alter(format!("ADD COLUMN {}", ddl::column_definition(column, can_be_not_null)));
            if can_be_not_null || !column.not_null {
                Planned::Apply(Phase::Columns, vec![add])
            } else {
                held(
                    NotApplied::Blocked,
                    format!("{rows} existing rows would have no value for it and it has no default; add it, fill it, then set NOT NULL"),
                    vec![add, alter(format!("ALTER COLUMN {} SET NOT NULL", q(&column.name)))],
                )
            }
        }
        ExtraColumn { column } => {
            let blocks = column.not_null && column.default.is_none() && column.identity.is_none();
            held(
                NotApplied::Destructive,
                format!(
                    "dropping it loses what it holds in the table's {rows} rows{}",
                    if blocks { "; it is NOT NULL without a default, so loading rows will fail while it stays" } else { "; loads leave it NULL or default" }
                ),
                vec![alter(format!("DROP COLUMN {}", q(&column.name)))],
            )
        }
        ColumnType { column, actual, desired } => {
            let using = match type_change(actual, desired) {
                TypeChange::Incompatible => format!(" USING {}::{desired}", q(column)),
                _ => String::new(),
            };
            let sql = vec![alter(format!("ALTER COLUMN {} TYPE {desired}{using}", q(column)))];
            match type_change(actual, desired) {
                TypeChange::Widen => Planned::Apply(Phase::Columns, sql),
                TypeChange::Narrow => held(
                    NotApplied::Destructive,
                    format!("{actual} holds values that {desired} would round, cut or refuse"),
                    sql,
                ),
                TypeChange::Incompatible => held(
                    NotApplied::Destructive,
                    format!("{actual} and {desired} mean different things: check that every value converts as the cast says, or convert them by hand"),
                    sql,
                ),
            }
        }
        Nullability { column, desired_not_null: true } => {
            let nulls = facts.nulls.get(&(t.name.clone(), column.clone())).copied().unwrap_or(0);
            let sql = vec![alter(format!("ALTER COLUMN {} SET NOT NULL", q(column)))];
            if nulls == 0 {
                Planned::Apply(Phase::Constraints, sql)
            } else {
                held(NotApplied::Blocked, format!("{nulls} rows have NULL in it; fill them first"), sql)
            }
        }
        Nullability { column, desired_not_null: false } => held(
            NotApplied::Destructive,
            "dropping NOT NULL drops a constraint",
            vec![alter(format!("ALTER COLUMN {} DROP NOT NULL", q(column)))],
        ),
        Default { column, desired, .. } => match desired.as_deref() {
            Some("nextval()") => held(NotApplied::Blocked, "a sequence default must be made by a migration", vec![]),
            Some(expr) => Planned::Apply(Phase::Columns, vec![alter(format!("ALTER COLUMN {} SET DEFAULT {expr}", q(column)))]),
            None => Planned::Apply(Phase::Columns, vec![alter(format!("ALTER COLUMN {} DROP DEFAULT", q(column)))]),
        },
        Identity { column, .. } => held(
            NotApplied::Blocked,
            format!("identity of {column} differs; converting it needs a migration that keeps the sequence position"),
            vec![],
        ),
        MissingConstraint { constraint } => {
            let taken = !input.allow_destructive
                && repair.actual.constraints.iter().any(|c| c.name == constraint.name);
            let phase = Phase::of_constraint(constraint.kind);
            let sql = ddl::add_constraint(schema, &t.name, constraint);
            if taken {
                held(
                    NotApplied::Blocked,
                    format!("a different constraint is named {}; it is replaced only with --allow-destructive", constraint.name),
                    sql,
                )
            } else {
                Planned::Apply(phase, sql)
            }
        }
        ExtraConstraint { constraint } => held(
            NotApplied::Destructive,
            "dropping a constraint loosens what the table accepts",
            vec![alter(format!("DROP CONSTRAINT {}", q(&constraint.name)))],
        ),
        MissingIndex { index } => Planned::Apply(Phase::Indexes, vec![ddl::create_index(schema, &t.name, index)]),
        ExtraIndex { .. } => held(NotApplied::Kept, "an extra index loses nothing; it is kept", vec![]),
    }
}
