//! Configuration: pipeline TOML, env files, `${VAR}` interpolation and
//! validation with file:line errors. Opens no connection.

mod checks;
mod env;
mod error;
mod load;
mod model;
mod names;
mod raw;
mod resolve;
mod secret;
mod settings;
mod tables;
mod url;

pub use error::{ConfigError, Problem};
pub use model::{
    CheckKind, CheckSpec, Incremental, Keymap, LoadMode, Pipeline, Policy, SourceConfig, TableSpec,
    TargetChange, TargetConfig, Timeout,
};
pub use names::{quote, Ident, QualifiedName, TableName};
pub use resolve::load_pipeline;
pub use url::{DatabaseUrl, DbKind, SslMode};
