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
) -> SchemaPlan {
    plan_with(actual, history, allow_destructive, &migs())
}

fn plan_with(
    actual: &SchemaShape,
    history: Option<Vec<(i64, String)>>,
    allow_destructive: bool,
    migrations: &[Migration],
) -> SchemaPlan {
    let (desired, facts) = (desired(), Facts::default());
    plan_schema(&PlanInput {
        app_schema: "app",
        actual,
        desired: &desired,
        history: history.as_deref(),
        migrations,
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
    let plan = plan_for(&SchemaShape::default(), None, false);
    assert_eq!(plan.action, Action::Create);
    assert_eq!(plan.migration_versions(), [1, 2, 3]);
    assert_eq!(states(&plan), [TableState::Missing, TableState::Missing]);
}

#[test]
fn current_target_is_used_as_it_is() {
    let plan = plan_for(&v(3), history(3), false);
    assert_eq!(plan.action, Action::Use);
    assert!(plan.is_noop());
    assert_eq!(states(&plan), [TableState::Matches, TableState::Matches]);
}

#[test]
fn outdated_target_is_upgraded_by_the_later_migrations() {
    let plan = plan_for(&v(2), history(2), false);
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
    let plan = plan_for(&v(1), None, false);
    assert_eq!(plan.shape_version, Some(1));
    let log = plan.tables.iter().find(|t| t.table == "log").unwrap();
    assert_eq!(log.found_as.as_deref(), Some("logs"));
}

#[test]
fn a_target_without_history_is_baselined_at_the_version_it_equals() {
    let plan = plan_for(&v(2), None, false);
    assert_eq!(
        plan.steps[0],
        Step::Baseline {
            versions: vec![1, 2]
        }
    );
    assert_eq!(plan.migration_versions(), [3]);
}

fn refusals(plan: &SchemaPlan) -> Vec<String> {
    plan.refused.iter().map(|r| r.to_string()).collect()
}

#[test]
fn a_history_that_disagrees_with_the_tables_is_refused_with_the_plan() {
    let plan = plan_for(&v(2), history(3), false);
    assert_eq!(
        refusals(&plan),
        [SchemaError::HistoryDisagrees {
            recorded: 3,
            shape: "that every table equals version 2".into()
        }
        .to_string()]
    );
    assert_eq!(plan.migration_versions(), [3], "the plan is still shown");
    assert!(!plan.reaches_head());
}

#[test]
fn a_changed_file_is_refused_by_name() {
    let mut h = history(2).unwrap();
    h[1].1 = "edited".into();
    let plan = plan_for(&v(2), Some(h), false);
    let reasons = refusals(&plan);
    assert_eq!(reasons.len(), 1);
    assert!(
        reasons[0].starts_with("migration file 2.sql (version 2) changed"),
        "{reasons:?}"
    );
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
    });
    assert_eq!(plan.action, Action::Upgrade { from: 3, to: 4 });
    assert_eq!(plan.migration_versions(), [4]);
}

/// Migrations whose last file has one section per table; `coupled` makes
/// `log`'s section read `req` before `req`'s section has run.
fn sectioned(coupled: bool) -> Vec<Migration> {
    let mut m = migs();
    m[2].sql = match coupled {
        false => "ALTER TABLE req ALTER COLUMN qty TYPE numeric(20,4);\nCREATE INDEX req_idx ON req (qty);\n\
                  ALTER TABLE log ADD COLUMN details jsonb;\nUPDATE log l SET details = to_jsonb(r.qty) FROM req r WHERE r.id = l.id;\n"
            .into(),
        true => "ALTER TABLE log ADD COLUMN details jsonb;\nUPDATE log l SET details = to_jsonb(r.qty) FROM req r WHERE r.id = l.id;\n\
                 ALTER TABLE req ALTER COLUMN qty TYPE numeric(20,4);\nCREATE INDEX req_idx ON req (qty);\n"
            .into(),
    };
    m
}

fn mixed() -> SchemaShape {
    let mut mixed = v(3);
    mixed
        .tables
        .insert("log".into(), v(2).tables["log"].clone());
    mixed
}

#[test]
fn tables_at_different_versions_are_upgraded_each_by_its_own_statements() {
    let plan = plan_with(&mixed(), None, false, &sectioned(false));
    assert_eq!(plan.action, Action::UpgradeEach { from: 2, to: 3 });
    assert!(plan.refused.is_empty(), "{:?}", plan.refused);
    assert_eq!(
        plan.steps[0],
        Step::Baseline {
            versions: vec![1, 2]
        }
    );
    let Step::MigrationPart {
        version,
        tables,
        statements,
        ..
    } = &plan.steps[1]
    else {
        panic!("expected a part of migration 3: {:?}", plan.steps);
    };
    assert_eq!(
        (*version, tables.as_slice()),
        (3, ["log".to_string()].as_slice())
    );
    let lines: Vec<usize> = statements.iter().map(|s| s.line).collect();
    assert_eq!(
        lines,
        [3, 4],
        "only log's statements, reading req as 3 left it"
    );
    let log = plan.tables.iter().find(|t| t.table == "log").unwrap();
    assert_eq!(
        (log.outcome.version_found, log.outcome.upgraded_to),
        (Some(2), Some(3))
    );
    let req = plan.tables.iter().find(|t| t.table == "req").unwrap();
    assert_eq!(req.outcome.upgraded_to, None);
}

#[test]
fn a_step_coupling_tables_at_different_versions_is_refused_by_file_and_line() {
    let plan = plan_with(&mixed(), None, false, &sectioned(true));
    let reasons = refusals(&plan);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].starts_with("log: 3.sql line 2 (`UPDATE log l SET details"),
        "{reasons:?}"
    );
    assert!(
        reasons[0].contains("using req, which is already at version 3"),
        "{reasons:?}"
    );
}

#[test]
fn drift_from_an_older_version_is_repaired_towards_it_then_upgraded() {
    let mut s = v(2);
    let req = s.tables.get_mut("req").unwrap();
    req.columns.push(col("note", "text"));
    req.indexes.push(IndexShape {
        unique: false,
        definition: "btree (id, qty)".into(),
        name: "req_extra".into(),
    });
    s.tables.remove("log");
    let plan = plan_for(&s, None, false);
    assert_eq!(plan.action, Action::RepairAndUpgrade { from: 2, to: 3 });
    let sql: Vec<String> = plan
        .steps
        .iter()
        .filter_map(|s| s.sql().map(|x| x.into_owned()))
        .collect();
    assert!(
        sql[0].starts_with("CREATE TABLE \"app\".\"log\""),
        "created as version 2 has it: {sql:?}"
    );
    assert!(!sql[0].contains("details"), "{sql:?}");
    assert_eq!(plan.migration_versions(), [3]);
    assert!(plan.needs_rehearsal());
    let log = plan.tables.iter().find(|t| t.table == "log").unwrap();
    assert_eq!(log.outcome.created_at, Some(2));
}

#[test]
fn the_rehearsal_decides_what_is_left_and_a_failed_step_refuses() {
    let mut s = v(2);
    s.tables
        .get_mut("req")
        .unwrap()
        .columns
        .push(col("note", "text"));
    let input_plan = |rehearsal: &Rehearsal| {
        let (desired, migrations, facts) = (desired(), migs(), Facts::default());
        let input = PlanInput {
            app_schema: "app",
            actual: &s,
            desired: &desired,
            history: None,
            migrations: &migrations,
            facts: &facts,
            allow_destructive: false,
        };
        let mut plan = plan_schema(&input);
        finish(&mut plan, &input, rehearsal);
        plan
    };
    let mut after = v(3);
    after
        .tables
        .get_mut("req")
        .unwrap()
        .columns
        .push(col("note", "text"));
    let plan = input_plan(&Rehearsal::Ran(after));
    assert!(plan.refused.is_empty());
    let req = plan.tables.iter().find(|t| t.table == "req").unwrap();
    assert_eq!(req.outcome.waiting, ["extra column note text"]);
    assert_eq!(req.outcome.upgraded_to, Some(3));

    let failed = Rehearsal::Failed(Failure {
        step: 1,
        line: Some(7),
        statement: "ALTER TABLE req ALTER COLUMN qty TYPE numeric(20,4)".into(),
        message: "column \"qty\" cannot be cast automatically".into(),
    });
    let plan = input_plan(&failed);
    let reasons = refusals(&plan);
    assert!(
        reasons[0].starts_with("req: 3.sql line 7 (`ALTER TABLE req ALTER COLUMN qty"),
        "{reasons:?}"
    );
    assert!(
        reasons[0].contains("drifted from version 2: extra column note text"),
        "{reasons:?}"
    );
    assert!(
        reasons[0].contains("DROP COLUMN \"note\""),
        "the fix is shown: {reasons:?}"
    );
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
    let plan = plan_for(&drifted(), history(3), false);
    assert_eq!(plan.action, Action::Repair);
    let sql: Vec<String> = plan
        .steps
        .iter()
        .filter_map(|s| s.sql().map(|x| x.into_owned()))
        .collect();
    let sql: Vec<&str> = sql.iter().map(String::as_str).collect();
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
    let plan = plan_for(&drifted(), history(3), true);
    let sql: Vec<String> = plan
        .steps
        .iter()
        .filter_map(|s| s.sql().map(|x| x.into_owned()))
        .collect();
    let sql: Vec<&str> = sql.iter().map(String::as_str).collect();
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
    });
    assert_eq!(plan.not_applied[0].kind, NotApplied::Blocked);
    assert!(plan.not_applied[0].why.contains("2 rows have NULL"));
}
