//! Schema reconciliation of the target's app schema: the desired schema is
//! `migrations/*.sql`; the plan ([`plan_schema`]) is computed before anything
//! runs and applied in the run's transaction. The reference schema is never
//! named by a statement padetl runs.

mod apply;
mod catalog;
mod migrations;
mod plan;

pub use apply::{apply_plan, read_state, HISTORY_TABLE};
pub use catalog::{table_columns, CatalogColumn};
pub use migrations::{load_migrations, mentions_schema, Migration};
pub use plan::{plan_schema, SchemaPlan, TargetState};

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("migration {file}: {message}")]
    Migration { file: String, message: String },
    #[error("migration {file} failed, nothing was changed: {message}")]
    Apply { file: String, message: String },
    #[error("migration file {file} (version {version}) changed after it was applied to this target; restore it, or add a new migration instead of editing an applied one")]
    ChecksumMismatch { file: String, version: i64 },
    #[error("the target's history records migration {version}, which migrations/ does not have; is this padetl older than the one that last ran here?")]
    UnknownVersion { version: i64 },
    #[error("cannot reconcile tables {}: {reason}", tables.join(", "))]
    Unrecognised { tables: Vec<String>, reason: String },
    #[error("table {table} does not exist in the target")]
    MissingTable { table: String },
    #[error("{what}: {message}")]
    Db { what: String, message: String },
}

impl SchemaError {
    pub fn db(what: &str, e: &tokio_postgres::Error) -> Self {
        SchemaError::Db {
            what: what.to_string(),
            message: crate::target::describe(e),
        }
    }
}
