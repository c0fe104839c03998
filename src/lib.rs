//! padetl moves the PA Dealing application's tables from a source database
//! into a target environment: the target ends up with the current schema and
//! complete, consistent data whose links to the target's read-only reference
//! tables are re-pointed through natural keys.
//!
//! # Layout
//! The modules follow the data flow of one run:
//! - [`config`]: pipeline TOML, env files, `${VAR}`, validation, secrets;
//! - `target`: connections and the one transaction a command works in;
//! - `schema`: migrations, the schema plan and its application, catalog reads;
//! - `extract`: source pages as Arrow batches (connectorx);
//! - [`transform`]: DataFusion SQL, keymaps, rejected rows;
//! - [`checks`]: the pipeline's checks and their policies, between transform and load;
//! - [`load`]: Arrow → binary COPY, staging, merge, bulk loads;
//! - `report`: the run report, its renderings and progress; `ledger`: every pass recorded;
//! - `flow`: one pass of the flow (run, check, verify) in one transaction;
//! - `serve`: the read-only dashboard over the target;
//! - `cmd`: one file per command; [`cli`] parses and dispatches, [`error`] maps exit codes.

pub mod checks;
pub mod cli;
mod cmd;
pub mod config;
pub mod error;
mod extract;
mod flow;
mod ledger;
pub mod load;
mod pg;
mod report;
mod schema;
mod serve;
mod target;
pub mod transform;

pub use error::Error;
