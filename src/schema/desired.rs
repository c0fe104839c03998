//! The desired schema at every version, computed by the only thing that
//! reads migration SQL exactly: Postgres. The migrations are applied to
//! empty temporary tables (the session's `pg_temp`, which needs no CREATE
//! right) inside a savepoint that is always rolled back, and each version's
//! result is introspected like the real target.

use tokio_postgres::GenericClient;

use super::guard::ReferenceGuard;
use super::introspect::introspect;
use super::migrations::Migration;
use super::shape::SchemaShape;
use super::SchemaError;

/// The shape after each migration, in order: `shapes[i]` is the schema at
/// `migrations[i].version`. Tables keep their catalog oid across renames, so
/// a table's lineage can be followed from version to version.
#[derive(Debug, Clone)]
pub struct VersionShapes {
    pub versions: Vec<(i64, SchemaShape)>,
}

impl VersionShapes {
    pub fn head(&self) -> Option<&(i64, SchemaShape)> {
        self.versions.last()
    }
}

/// Applies `migrations` to scratch tables on `tx` and reads each version.
/// The guard is checked before the rollback, so a migration that reaches
/// the reference schema by any route is caught here too.
pub async fn desired_shapes<C: GenericClient>(
    tx: &C,
    migrations: &[Migration],
    guard: &ReferenceGuard,
) -> Result<VersionShapes, SchemaError> {
    exec(tx, "SAVEPOINT padetl_desired").await?;
    let result = build(tx, migrations, guard).await;
    exec(tx, "ROLLBACK TO SAVEPOINT padetl_desired").await?;
    exec(tx, "RELEASE SAVEPOINT padetl_desired").await?;
    result
}

async fn build<C: GenericClient>(
    tx: &C,
    migrations: &[Migration],
    guard: &ReferenceGuard,
) -> Result<VersionShapes, SchemaError> {
    tx.execute("SELECT set_config('search_path', 'pg_temp', true)", &[])
        .await
        .map_err(|e| SchemaError::db("preparing scratch tables", &e))?;
    let mut versions = Vec::new();
    for m in migrations {
        tx.batch_execute(&m.sql)
            .await
            .map_err(|e| scratch_error(m, &e))?;
        let schema = scratch_schema(tx).await?;
        versions.push((m.version, introspect(tx, &schema, "pg_temp").await?));
    }
    guard
        .verify(tx, "applying migrations to scratch tables")
        .await?;
    Ok(VersionShapes { versions })
}

/// A migration that fails on empty scratch tables is a bad file when the
/// server refused its SQL (exit 2), else a database problem (exit 3).
fn scratch_error(m: &Migration, e: &tokio_postgres::Error) -> SchemaError {
    let message = format!(
        "{} (while reading the desired schema on empty scratch tables)",
        crate::target::describe(e)
    );
    let file = m.file.clone();
    match e.code().is_some_and(crate::target::blames_the_sql) {
        true => SchemaError::Migration { file, message },
        false => SchemaError::Apply { file, message },
    }
}

/// The session's temporary schema exists only once something temporary was
/// made, so its name is read after each migration.
async fn scratch_schema<C: GenericClient>(tx: &C) -> Result<String, SchemaError> {
    tx.query_one(
        "SELECT coalesce((SELECT nspname::text FROM pg_namespace WHERE oid = pg_my_temp_schema()), '')",
        &[],
    )
    .await
    .map(|r| r.get(0))
    .map_err(|e| SchemaError::db("finding the scratch schema", &e))
}

async fn exec<C: GenericClient>(tx: &C, sql: &str) -> Result<(), SchemaError> {
    tx.batch_execute(sql)
        .await
        .map_err(|e| SchemaError::db("managing the scratch savepoint", &e))
}
