//! Reading the target's state and carrying out a [`SchemaPlan`] inside the
//! run's transaction, each migration recorded with its checksum and time.

use std::time::Instant;

use tokio_postgres::GenericClient;

use super::migrations::Migration;
use super::plan::{SchemaPlan, TargetState};
use super::SchemaError;
use crate::config::{Ident, Pipeline};

/// padetl's migration history, kept in the app schema.
pub const HISTORY_TABLE: &str = "padetl_schema_history";

/// Which pipeline tables exist, and the history if there is one.
pub async fn read_state<C: GenericClient>(
    client: &C,
    pipeline: &Pipeline,
) -> Result<TargetState, SchemaError> {
    let schema = pipeline.target.app_schema.as_str();
    let rows = client
        .query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
            &[&schema],
        )
        .await
        .map_err(|e| SchemaError::db("reading the app schema's tables", &e))?;
    let present: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let (existing_tables, missing_tables) = pipeline
        .tables
        .iter()
        .map(|t| t.name.to_string())
        .partition(|t| present.contains(t));
    let history = if present.iter().any(|t| t == HISTORY_TABLE) {
        let sql = format!(
            "SELECT version, checksum FROM {}.\"{HISTORY_TABLE}\" WHERE success ORDER BY version",
            pipeline.target.app_schema.quoted()
        );
        let rows = client
            .query(sql.as_str(), &[])
            .await
            .map_err(|e| SchemaError::db("reading the schema history", &e))?;
        Some(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    } else {
        None
    };
    Ok(TargetState {
        existing_tables,
        missing_tables,
        history,
    })
}

/// Applies `plan` on `tx` (the caller's transaction): all of it, or nothing.
pub async fn apply_plan<C: GenericClient>(
    tx: &C,
    app_schema: &Ident,
    plan: &SchemaPlan,
    migrations: &[Migration],
) -> Result<(), SchemaError> {
    if plan.versions().is_empty() {
        return Ok(());
    }
    let schema = app_schema.quoted();
    let setup = format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}; \
         CREATE TABLE IF NOT EXISTS {schema}.\"{HISTORY_TABLE}\" (\
           version bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, \
           applied_at timestamptz NOT NULL DEFAULT now(), execution_ms bigint NOT NULL, success boolean NOT NULL)"
    );
    tx.batch_execute(setup.as_str())
        .await
        .map_err(|e| SchemaError::db("creating the app schema", &e))?;
    for version in plan.versions() {
        let Some(m) = migrations.iter().find(|m| m.version == *version) else {
            continue;
        };
        apply_one(tx, &schema, m).await?;
    }
    Ok(())
}

async fn apply_one<C: GenericClient>(
    tx: &C,
    schema: &str,
    m: &Migration,
) -> Result<(), SchemaError> {
    let started = Instant::now();
    let scoped = format!("SET LOCAL search_path TO {schema}; {}", m.sql);
    tx.batch_execute(scoped.as_str())
        .await
        .map_err(|e| SchemaError::Apply {
            file: m.path.display().to_string(),
            message: crate::target::describe(&e),
        })?;
    tx.batch_execute("SET LOCAL search_path TO DEFAULT")
        .await
        .map_err(|e| SchemaError::db("resetting search_path", &e))?;
    let ms = started.elapsed().as_millis() as i64;
    let record = format!("INSERT INTO {schema}.\"{HISTORY_TABLE}\" (version, name, checksum, execution_ms, success) VALUES ($1, $2, $3, $4, true)");
    tx.execute(record.as_str(), &[&m.version, &m.name, &m.checksum, &ms])
        .await
        .map_err(|e| SchemaError::db("recording the migration", &e))?;
    Ok(())
}
