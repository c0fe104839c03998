//! The library's error at the edge: every layer's error, and the exit code
//! each one means to a script.

use crate::config::ConfigError;
use crate::extract::ExtractError;
use crate::load::LoadError;
use crate::schema::SchemaError;
use crate::target::DbError;
use crate::transform::TransformError;

/// Exit codes, documented in the README.
pub mod exit {
    pub const OK: u8 = 0;
    /// A check failed (reserved for `check`'s fail policy).
    pub const CHECKS_FAILED: u8 = 1;
    /// Bad input: configuration, pipeline SQL, migration files, data that does not fit.
    pub const BAD_INPUT: u8 = 2;
    /// Connection or database error.
    pub const DATABASE: u8 = 3;
    /// A bug in padetl.
    pub const INTERNAL: u8 = 4;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error(transparent)]
    Transform(#[from] TransformError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{0}")]
    Usage(String),
    #[error("a check with policy `fail` found rows; nothing was written:\n  {0}\nRun `padetl check` for the full report.")]
    ChecksFailed(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// What the failure means to a script (see [`exit`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Usage(_) | Error::Transform(_) => exit::BAD_INPUT,
            Error::Db(_) => exit::DATABASE,
            Error::Schema(SchemaError::Db { .. } | SchemaError::Apply { .. }) => exit::DATABASE,
            Error::Schema(_) => exit::BAD_INPUT,
            Error::Extract(ExtractError::Query { sql_mistake, .. }) => match sql_mistake {
                true => exit::BAD_INPUT,
                false => exit::DATABASE,
            },
            Error::Extract(ExtractError::Connect { .. }) => exit::DATABASE,
            // A source this binary cannot read: built without its feature.
            Error::Extract(ExtractError::Unsupported { .. }) => exit::BAD_INPUT,
            Error::Extract(_) => exit::BAD_INPUT,
            Error::Load(LoadError::Db { .. }) => exit::DATABASE,
            Error::Load(LoadError::Schema(SchemaError::Db { .. })) => exit::DATABASE,
            Error::Load(_) => exit::BAD_INPUT,
            Error::ChecksFailed(_) => exit::CHECKS_FAILED,
            Error::Internal(_) => exit::INTERNAL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigError, Problem};

    fn code(e: Error) -> u8 {
        e.exit_code()
    }

    #[test]
    fn every_error_means_one_exit_code() {
        let config = ConfigError::one(Problem::new(std::path::Path::new("p.toml"), Some(1), "x"));
        assert_eq!(code(Error::Config(config)), exit::BAD_INPUT);
        assert_eq!(code(Error::Usage("x".into())), exit::BAD_INPUT);
        let db = DbError::Connect {
            target: "t".into(),
            message: "m".into(),
        };
        assert_eq!(code(Error::Db(db)), exit::DATABASE);
        let migration = SchemaError::Migration {
            file: "0001.sql".into(),
            message: "syntax error".into(),
        };
        assert_eq!(code(Error::Schema(migration)), exit::BAD_INPUT);
        let apply = SchemaError::Apply {
            file: "0001.sql".into(),
            message: "lock timeout".into(),
        };
        assert_eq!(code(Error::Schema(apply)), exit::DATABASE);
        let query = |sql_mistake| {
            Error::Extract(ExtractError::Query {
                side: "source",
                database: "d".into(),
                what: "w".into(),
                origin: "p.toml:3".into(),
                message: "m".into(),
                sql_mistake,
            })
        };
        assert_eq!(code(query(true)), exit::BAD_INPUT);
        assert_eq!(code(query(false)), exit::DATABASE);
        let data = ExtractError::Data {
            what: "w".into(),
            message: "m".into(),
        };
        assert_eq!(code(Error::Extract(data)), exit::BAD_INPUT);
        let unsupported = ExtractError::Unsupported {
            side: "source",
            database: "oracle://u@h:1521/FREEPDB1".into(),
            message: "built without the `oracle` feature".into(),
        };
        assert_eq!(code(Error::Extract(unsupported)), exit::BAD_INPUT);
        let unreachable = ExtractError::Connect {
            side: "source",
            database: "oracle://u@h:1521/FREEPDB1".into(),
            message: "Oracle Instant Client (libclntsh) was not found".into(),
        };
        assert_eq!(code(Error::Extract(unreachable)), exit::DATABASE);
        let sql = TransformError::Sql {
            table: "t".into(),
            file: "f.sql".into(),
            message: "m".into(),
        };
        assert_eq!(code(Error::Transform(sql)), exit::BAD_INPUT);
        let load_db = LoadError::Db {
            table: "t".into(),
            what: "w".into(),
            message: "m".into(),
        };
        assert_eq!(code(Error::Load(load_db)), exit::DATABASE);
        let shape = LoadError::Shape {
            table: "t".into(),
            message: "m".into(),
        };
        assert_eq!(code(Error::Load(shape)), exit::BAD_INPUT);
        assert_eq!(code(Error::ChecksFailed("c".into())), exit::CHECKS_FAILED);
        assert_eq!(code(Error::Internal("bug".into())), exit::INTERNAL);
    }
}
