//! Configuration: pipeline TOML, env files, `${VAR}` interpolation and
//! validation with file:line errors. Opens no connection.

mod env;
mod error;
mod load;
mod model;
mod names;
mod raw;
mod resolve;
mod secret;
mod url;

pub use env::{interpolate, EnvVars};
pub use error::{ConfigError, Problem};
pub use model::{
    CheckKind, CheckSpec, Keymap, LoadMode, Pipeline, Policy, SourceConfig, TableSpec,
    TargetConfig, Timeout,
};
pub use names::{Ident, QualifiedName, TableName};
pub use resolve::load_pipeline;
pub use secret::Secret;
pub use url::{DatabaseUrl, DbKind};
