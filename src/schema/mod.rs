//! Schema reconciliation of the target's app schema. The desired schema is
//! `migrations/*.sql`, read by Postgres itself on scratch tables
//! ([`desired`]); the actual schema is the catalog ([`introspect`]); both
//! are [`shape`]s, so they can be diffed. The plan ([`plan_schema`]) is pure
//! and computed before anything runs; [`apply_plan`] carries it out in the
//! run's transaction. The reference schema is guarded throughout ([`guard`]).

mod apply;
mod catalog;
mod ddl;
mod desired;
mod guard;
mod introspect;
mod migrations;
mod plan;
mod rehearse;
mod shape;
mod statements;

pub use apply::{apply_plan, prepare, RowCounts, HISTORY_TABLE};

/// Tables of the app schema named `padetl_*` are padetl's own (history,
/// quarantine): never part of the app's schema, never reported as unmanaged.
pub const PADETL_PREFIX: &str = "padetl_";
pub use catalog::{
    catalog_edges, create_schema_if_missing, droppable_indexes, foreign_keys, local_foreign_keys,
    orphan_rows, referencing_foreign_keys, table_columns, CatalogColumn, ForeignKey,
    ForeignKeyOrphans,
};
pub use ddl::literal;
pub use guard::{reference_fingerprint, ReferenceGuard};
pub use migrations::{load_migrations, Migration};
pub use plan::{join as join_versions, Action, NotApplied, SchemaPlan, Step, TableState};
pub use statements::Statement;

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("migration {file}: {message}")]
    Migration { file: String, message: String },
    #[error("{file} failed, nothing was changed: {message}")]
    Apply { file: String, message: String },
    #[error("migration file {file} (version {version}) changed after it was applied to this target; restore it, or add a new migration instead of editing an applied one")]
    ChecksumMismatch { file: String, version: i64 },
    #[error("the target's history records migration {version}, which migrations/ does not have; is this padetl older than the one that last ran here?")]
    UnknownVersion { version: i64 },
    #[error("the target's history says version {recorded}, but its catalog says {shape}; the history must agree with the tables. Find out what changed them, then correct the history table ({HISTORY_TABLE})")]
    HistoryDisagrees { recorded: i64, shape: String },
    #[error("cannot reconcile tables {}: {reason}", tables.join(", "))]
    Unrecognised { tables: Vec<String>, reason: String },
    #[error("the app schema {app_schema} cannot be reconciled, so nothing was changed:\n{}\n`padetl plan` shows every table's differences and the steps that would run", refused.iter().map(|r| format!("  - {r}")).collect::<Vec<_>>().join("\n"))]
    Refused {
        app_schema: String,
        refused: Vec<plan::Refusal>,
    },
    #[error("the migrations would lose rows, so nothing was changed: {}. Rerun with --allow-destructive only if that is intended", lost.join("; "))]
    RowsLost { lost: Vec<String> },
    #[error("the reference schema {schema} was touched while {during}: {}; everything was rolled back. padetl never writes the reference schema: remove the statement that does", found.join("; "))]
    ReferenceTouched {
        schema: String,
        during: String,
        found: Vec<String>,
    },
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
