//! The plan rehearsed before it is trusted: the target's tables are copied,
//! empty, to the session's temporary schema (their columns, sequences,
//! constraints and indexes, as the catalog has them), every step of the
//! plan runs there statement by statement inside a savepoint that is always
//! rolled back, and the result is read back. So a target that is "v2 with
//! drift" or has tables at different versions gets a plan whose migrations
//! are known to run on it, and what they leave is known, not guessed. Like
//! the desired shapes, this needs only the TEMPORARY right.

use tokio_postgres::GenericClient;

use super::ddl;
use super::guard::ReferenceGuard;
use super::introspect::introspect;
use super::migrations::Migration;
use super::plan::{Failure, Rehearsal, SchemaPlan, Step};
use super::shape::{ConstraintKind, SchemaShape, TableShape};
use super::statements::split;
use super::SchemaError;
use crate::config::quote;

/// Runs `plan` (made for the schema `pg_temp`) on empty copies of the
/// tables of `actual` it manages. Changes nothing that outlives the call.
pub async fn rehearse<C: GenericClient>(
    tx: &C,
    app_schema: &str,
    actual: &SchemaShape,
    plan: &SchemaPlan,
    migrations: &[Migration],
    guard: &ReferenceGuard,
) -> Result<Rehearsal, SchemaError> {
    exec(tx, "SAVEPOINT padetl_rehearsal").await?;
    let result = run(tx, app_schema, actual, plan, migrations, guard).await;
    exec(tx, "ROLLBACK TO SAVEPOINT padetl_rehearsal").await?;
    exec(tx, "RELEASE SAVEPOINT padetl_rehearsal").await?;
    result
}

async fn run<C: GenericClient>(
    tx: &C,
    app_schema: &str,
    actual: &SchemaShape,
    plan: &SchemaPlan,
    migrations: &[Migration],
    guard: &ReferenceGuard,
) -> Result<Rehearsal, SchemaError> {
    // Types and functions of the app schema stay visible to the copies.
    let path = format!("pg_temp, {}", quote(app_schema));
    tx.execute("SELECT set_config('search_path', $1, true)", &[&path])
        .await
        .map_err(|e| SchemaError::db("preparing the rehearsal", &e))?;
    let copied: Vec<&TableShape> = plan
        .tables
        .iter()
        .filter_map(|t| t.found_as.as_ref())
        .filter_map(|name| actual.tables.get(name))
        .collect();
    copy(tx, &copied).await?;
    for (index, step) in plan.steps.iter().enumerate() {
        for (line, sql) in statements_of(step, migrations) {
            if let Err(e) = tx.batch_execute(&sql).await {
                if e.code().is_none() {
                    return Err(SchemaError::db("rehearsing the plan on scratch tables", &e));
                }
                // The server's hint is advice for the file's author; the plan
                // says what to do about the target.
                let message = e
                    .as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or_else(|| crate::target::describe(&e));
                return Ok(Rehearsal::Failed(Failure {
                    step: index,
                    line,
                    statement: sql,
                    message,
                }));
            }
        }
    }
    guard
        .verify(tx, "rehearsing the plan on scratch tables")
        .await?;
    let schema: String = tx
        .query_one(
            "SELECT nspname::text FROM pg_namespace WHERE oid = pg_my_temp_schema()",
            &[],
        )
        .await
        .map_err(|e| SchemaError::db("finding the scratch schema", &e))?
        .get(0);
    Ok(Rehearsal::Ran(introspect(tx, &schema, "pg_temp").await?))
}

/// A step as the statements it runs, each with its line in its file.
fn statements_of(step: &Step, migrations: &[Migration]) -> Vec<(Option<usize>, String)> {
    match step {
        Step::Migration { version, .. } => migrations
            .iter()
            .filter(|m| m.version == *version)
            .flat_map(|m| split(&m.sql))
            .map(|s| (Some(s.line), s.sql))
            .collect(),
        Step::MigrationPart { statements, .. } => statements
            .iter()
            .map(|s| (Some(s.line), s.sql.clone()))
            .collect(),
        Step::Statement { sql, .. } => vec![(None, sql.clone())],
        Step::Baseline { .. } => vec![],
    }
}

/// Empty copies: tables (with sequences), then keys, checks and unique
/// constraints, then foreign keys between copies, then indexes.
async fn copy<C: GenericClient>(tx: &C, tables: &[&TableShape]) -> Result<(), SchemaError> {
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    let mut sql = Vec::new();
    for t in tables {
        sql.extend(ddl::create_table("pg_temp", t));
    }
    for foreign in [false, true] {
        for t in tables {
            for c in &t.constraints {
                let is_fk = c.kind == ConstraintKind::ForeignKey;
                if is_fk != foreign || (is_fk && !references_one_of(&c.definition, &names)) {
                    continue;
                }
                sql.extend(ddl::add_constraint("pg_temp", &t.name, c));
            }
        }
    }
    for t in tables {
        for i in &t.indexes {
            sql.push(ddl::create_index("pg_temp", &t.name, i));
        }
    }
    for statement in sql {
        tx.batch_execute(&statement)
            .await
            .map_err(|e| SchemaError::Apply {
                file: "copying the target's tables for the rehearsal".into(),
                message: crate::target::describe(&e),
            })?;
    }
    Ok(())
}

/// Whether a foreign key's definition references one of `names` (a copy);
/// a key to another table of the app schema cannot be copied.
fn references_one_of(definition: &str, names: &[&str]) -> bool {
    let Some((_, rest)) = definition.split_once("REFERENCES ") else {
        return false;
    };
    let target = rest
        .split('(')
        .next()
        .unwrap_or_default()
        .trim()
        .trim_matches('"');
    names.contains(&target)
}

async fn exec<C: GenericClient>(tx: &C, sql: &str) -> Result<(), SchemaError> {
    tx.batch_execute(sql)
        .await
        .map_err(|e| SchemaError::db("managing the rehearsal savepoint", &e))
}

#[cfg(test)]
mod tests {
    use super::references_one_of;

    #[test]
    fn a_foreign_key_is_copied_only_between_copies() {
        let def = "FOREIGN KEY (request_id) REFERENCES pad_request(id)";
        assert!(references_one_of(def, &["pad_request"]));
        assert!(!references_one_of(def, &["pad_breach"]));
    }
}
