//! padetl moves the PA Dealing application's tables from a source database
//! into a target environment: the target ends up with the current schema and
//! complete, consistent data whose links to the target's read-only reference
//! tables are re-pointed through natural keys.
//!
//! # Layout
//! The modules follow the data flow of one run:
//! - [`config`]: pipeline TOML, env files, `${VAR}`, validation, secrets;
//! - [`target`]: the target connection (TLS, credential-free errors);
//! - [`schema`]: migrations, schema plan and its application;
//! - [`extract`]: source pages as Arrow batches (connectorx);
//! - [`transform`]: DataFusion SQL, keymaps, rejected rows;
//! - [`load`]: Arrow → binary COPY, staging and merge;
//! - [`report`]: the run report, its renderings and progress;
//! - [`run`]: one run, orchestrated in one transaction;
//! - [`plan`], [`demo`]: the `plan`/`validate` and `demo` commands;
//! - [`cli`], [`error`]: arguments and exit codes.

pub mod bench;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod extract;
pub mod ledger;
pub mod load;
pub mod plan;
pub mod report;
pub mod run;
pub mod schema;
pub mod target;
pub mod transform;
pub mod verify;

pub use error::Error;
