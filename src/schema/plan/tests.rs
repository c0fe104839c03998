//! The planner, on hand-made shapes.

use super::*;
use crate::schema::desired::VersionShapes;
use crate::schema::migrations::Migration;
use crate::schema::shape::{
    ColumnShape, ConstraintKind, ConstraintShape, IndexShape, SchemaShape, TableShape,
};
use crate::schema::SchemaError;

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
    assert!(sql.contains(&"ALTER TABLE \"app\".\"req\" ALTER COLUMN \"qty\" TYPE numeric(20,4)"));
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
