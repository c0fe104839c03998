//! Reading the target (shape, history, row facts) into a [`SchemaPlan`], and
//! carrying the plan out inside the caller's transaction: each migration
//! recorded with its checksum and time, rows counted before and after, the
//! reference schema checked, and the result compared with what was planned.

use std::collections::BTreeMap;
use std::time::Instant;

use tokio_postgres::GenericClient;

use super::catalog::create_schema_if_missing;
use super::ddl::qualified;
use super::desired::{desired_shapes, VersionShapes};
use super::guard::ReferenceGuard;
use super::introspect::introspect;
use super::migrations::Migration;
use super::plan::{finish, null_probes, plan_schema, Facts, PlanInput, SchemaPlan, Step};
use super::rehearse::rehearse;
use super::shape::SchemaShape;
use super::SchemaError;
use crate::config::quote;

/// padetl's migration history, kept in the app schema.
pub const HISTORY_TABLE: &str = "padetl_schema_history";

/// A plan together with what it was computed from, for [`apply_plan`].
#[derive(Debug)]
pub struct Prepared {
    pub plan: SchemaPlan,
    /// Rows per table oid before anything runs: every one must survive.
    rows_by_oid: BTreeMap<u32, (String, i64)>,
}

/// Which tables' rows [`prepare`] counts. A count reads the whole table,
/// which an incremental run that changes a few rows cannot afford (30M
/// audit rows at every run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowCounts {
    /// Every table's, for a report that shows them (`plan`, `check`).
    Every,
    /// Only when the plan, made without any count, changes something or a
    /// table is not as it should be: then every row must survive, and
    /// repairs depend on the rows and NULLs counted. Otherwise the plan
    /// made without counts is the plan.
    WhenChanging,
}

/// Reads the target's app schema and computes the plan. Writes nothing that
/// outlives the call: the desired shapes are built in a rolled-back savepoint.
pub async fn prepare<C: GenericClient>(
    tx: &C,
    app_schema: &str,
    migrations: &[Migration],
    guard: &ReferenceGuard,
    allow_destructive: bool,
    counts: RowCounts,
) -> Result<Prepared, SchemaError> {
    let desired = desired_shapes(tx, migrations, guard).await?;
    let actual = introspect(tx, app_schema, &quote(app_schema)).await?;
    let history = read_history(tx, app_schema, &actual).await?;
    let no_facts = Facts::default();
    let without_facts = PlanInput {
        app_schema,
        actual: &actual,
        desired: &desired,
        history: history.as_deref(),
        migrations,
        facts: &no_facts,
        allow_destructive,
    };
    if counts == RowCounts::WhenChanging {
        let plan = plan_schema(&without_facts);
        if plan.uses_as_found() {
            return Ok(Prepared {
                plan,
                rows_by_oid: BTreeMap::new(),
            });
        }
    }
    let rows_by_oid = count_rows(tx, app_schema, &actual).await?;
    let facts = Facts {
        rows: rows_by_oid.values().cloned().collect(),
        nulls: count_nulls(tx, app_schema, &actual, &desired).await?,
    };
    let input = PlanInput {
        facts: &facts,
        ..without_facts
    };
    let mut plan = plan_schema(&input);
    if plan.needs_rehearsal() {
        let scratch = plan_schema(&PlanInput {
            app_schema: "pg_temp",
            ..input
        });
        let rehearsal = rehearse(tx, app_schema, &actual, &scratch, migrations, guard).await?;
        finish(&mut plan, &input, &rehearsal);
    }
    Ok(Prepared { plan, rows_by_oid })
}

/// NULLs in the columns the plan would make NOT NULL.
async fn count_nulls<C: GenericClient>(
    tx: &C,
    app_schema: &str,
    actual: &SchemaShape,
    desired: &VersionShapes,
) -> Result<BTreeMap<(String, String), i64>, SchemaError> {
    let mut out = BTreeMap::new();
    for (table, column) in null_probes(actual, desired) {
        let sql = format!(
            "SELECT count(*) FROM {} WHERE {} IS NULL",
            qualified(app_schema, &table),
            quote(&column)
        );
        let nulls: i64 = tx
            .query_one(sql.as_str(), &[])
            .await
            .map_err(|e| SchemaError::db(&format!("counting NULLs in {table}.{column}"), &e))?
            .get(0);
        out.insert((table, column), nulls);
    }
    Ok(out)
}

async fn read_history<C: GenericClient>(
    tx: &C,
    app_schema: &str,
    actual: &SchemaShape,
) -> Result<Option<Vec<(i64, String)>>, SchemaError> {
    if !actual.tables.contains_key(HISTORY_TABLE) {
        return Ok(None);
    }
    let sql = format!(
        "SELECT version, checksum FROM {} WHERE success ORDER BY version",
        qualified(app_schema, HISTORY_TABLE)
    );
    let rows = tx
        .query(sql.as_str(), &[])
        .await
        .map_err(|e| SchemaError::db("reading the schema history", &e))?;
    Ok(Some(rows.iter().map(|r| (r.get(0), r.get(1))).collect()))
}

async fn count_rows<C: GenericClient>(
    tx: &C,
    app_schema: &str,
    actual: &SchemaShape,
) -> Result<BTreeMap<u32, (String, i64)>, SchemaError> {
    let mut out = BTreeMap::new();
    for t in actual.tables.values() {
        let sql = format!("SELECT count(*) FROM {}", qualified(app_schema, &t.name));
        let n: i64 = tx
            .query_one(sql.as_str(), &[])
            .await
            .map_err(|e| SchemaError::db(&format!("counting rows of {}", t.name), &e))?
            .get(0);
        out.insert(t.oid, (t.name.clone(), n));
    }
    Ok(out)
}

/// Carries out `prepared.plan` on `tx` (the caller's transaction): all of
/// it or, on any error, nothing once the caller rolls back.
pub async fn apply_plan<C: GenericClient>(
    tx: &C,
    prepared: &Prepared,
    migrations: &[Migration],
    guard: &ReferenceGuard,
    allow_destructive: bool,
) -> Result<(), SchemaError> {
    let plan = &prepared.plan;
    if plan.is_refused() {
        return Err(SchemaError::Refused {
            app_schema: plan.app_schema.clone(),
            refused: plan.refused.clone(),
        });
    }
    if plan.is_noop() {
        return Ok(());
    }
    let schema = quote(&plan.app_schema);
    ensure_history_table(tx, &plan.app_schema).await?;
    for step in &plan.steps {
        let started = Instant::now();
        match step {
            Step::Migration { version, .. } => {
                let Some(m) = migrations.iter().find(|m| m.version == *version) else {
                    continue;
                };
                run_sql(tx, &schema, &m.sql, &m.file).await?;
            }
            Step::MigrationPart { file, .. } => {
                let sql = step.sql().unwrap_or_default();
                run_sql(tx, &schema, &sql, file).await?;
            }
            Step::Statement { sql, table, .. } => {
                run_sql(
                    tx,
                    &schema,
                    sql,
                    &format!("the plan's statement on {table}"),
                )
                .await?;
            }
            Step::Baseline { .. } => {}
        }
        let ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        record(tx, &schema, step, migrations, ms).await?;
    }
    if !plan.migration_versions().is_empty() && !allow_destructive {
        check_rows_kept(tx, prepared).await?;
    }
    guard.verify(tx, "reconciling the app schema").await?;
    let after = prepare(
        tx,
        &plan.app_schema,
        migrations,
        guard,
        allow_destructive,
        RowCounts::WhenChanging,
    )
    .await?;
    if plan.reaches_head() && !after.plan.is_noop() {
        return Err(SchemaError::Unrecognised {
            tables: after.plan.tables.iter().map(|t| t.table.clone()).collect(),
            reason: format!(
                "after reconciling, the schema still differs from version {}; nothing was changed (this is a padetl bug: please report the plan)",
                plan.head
            ),
        });
    }
    Ok(())
}

async fn ensure_history_table<C: GenericClient>(
    tx: &C,
    app_schema: &str,
) -> Result<(), SchemaError> {
    let err = |e| SchemaError::db("creating the schema history table", &e);
    create_schema_if_missing(tx, app_schema)
        .await
        .map_err(err)?;
    let (schema, history) = (quote(app_schema), quote(HISTORY_TABLE));
    let setup = format!(
        "CREATE TABLE IF NOT EXISTS {schema}.{history} (\
           version bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, \
           applied_at timestamptz NOT NULL DEFAULT now(), execution_ms bigint NOT NULL, success boolean NOT NULL, \
           kind text NOT NULL DEFAULT 'applied'); \
         ALTER TABLE {schema}.{history} ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'applied'"
    );
    tx.batch_execute(setup.as_str()).await.map_err(err)
}

async fn run_sql<C: GenericClient>(
    tx: &C,
    schema: &str,
    sql: &str,
    origin: &str,
) -> Result<(), SchemaError> {
    let scoped = format!("SET LOCAL search_path TO {schema}; {sql}");
    tx.batch_execute(scoped.as_str())
        .await
        .map_err(|e| SchemaError::Apply {
            file: origin.to_string(),
            message: crate::target::describe(&e),
        })?;
    tx.batch_execute("SET LOCAL search_path TO DEFAULT")
        .await
        .map_err(|e| SchemaError::db("resetting search_path", &e))
}

async fn record<C: GenericClient>(
    tx: &C,
    schema: &str,
    step: &Step,
    migrations: &[Migration],
    ms: i64,
) -> Result<(), SchemaError> {
    let (versions, kind): (Vec<i64>, &str) = match step {
        Step::Migration { version, .. } => (vec![*version], "applied"),
        Step::MigrationPart { version, .. } => (vec![*version], "per_table"),
        Step::Baseline { versions } => (versions.clone(), "baseline"),
        Step::Statement { .. } => return Ok(()),
    };
    let history = quote(HISTORY_TABLE);
    let sql = format!(
        "INSERT INTO {schema}.{history} (version, name, checksum, execution_ms, success, kind) \
         VALUES ($1, $2, $3, $4, true, $5)"
    );
    for v in versions {
        let Some(m) = migrations.iter().find(|m| m.version == v) else {
            continue;
        };
        tx.execute(
            sql.as_str(),
            &[&m.version, &m.name, &m.checksum, &ms, &kind],
        )
        .await
        .map_err(|e| SchemaError::db("recording the migration", &e))?;
    }
    Ok(())
}

/// A migration may rename, convert and add, but every row it found must
/// still be there (audit rows are kept seven years).
async fn check_rows_kept<C: GenericClient>(tx: &C, prepared: &Prepared) -> Result<(), SchemaError> {
    let schema = &prepared.plan.app_schema;
    let actual = introspect(tx, schema, &quote(schema)).await?;
    let now = count_rows(tx, schema, &actual).await?;
    let mut lost = Vec::new();
    for (oid, (name, before)) in &prepared.rows_by_oid {
        match now.get(oid) {
            None if *before > 0 => lost.push(format!("table {name} ({before} rows) was dropped")),
            Some((now_name, after)) if after < before => lost.push(format!(
                "table {now_name} went from {before} to {after} rows"
            )),
            _ => {}
        }
    }
    if lost.is_empty() {
        return Ok(());
    }
    Err(SchemaError::RowsLost { lost })
}
