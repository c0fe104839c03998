//! The library's error at the edge: every layer's error, and the exit code
//! each one means to a script.

use crate::config::ConfigError;
use crate::extract::ExtractError;
use crate::load::{EncodeError, LoadError};
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
            Error::Extract(ExtractError::Query { .. }) => exit::DATABASE,
            Error::Extract(_) => exit::BAD_INPUT,
            Error::Load(LoadError::Db { .. }) => exit::DATABASE,
            Error::Load(LoadError::Schema(SchemaError::Db { .. })) => exit::DATABASE,
            Error::Load(LoadError::Encode(EncodeError::ValueDoesNotFit { .. }) | _) => {
                exit::BAD_INPUT
            }
            Error::ChecksFailed(_) => exit::CHECKS_FAILED,
            Error::Internal(_) => exit::INTERNAL,
        }
    }
}
