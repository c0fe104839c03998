//! End-to-end tests: the real `padetl` binary against the real Postgres,
//! each test on databases of its own.

mod bad_input;
mod bench;
mod checks;
mod dashboard;
mod demo;
mod errors;
mod fit;
mod incremental;
mod kill;
mod load;
mod modes;
mod monolith;
mod oracle;
mod pipelines;
mod qa;
mod qa_secrets;
mod qa_server;
mod reconcile;
mod roundtrip;
mod schema;
mod sharing;
mod util;
mod verify;
