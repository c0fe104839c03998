//! The target database: connections ([`connect`]) and the one transaction
//! a command works in ([`TargetSession`]).

mod connect;
mod privileges;
mod session;

pub use connect::{blames_the_sql, connect, describe, describe_db, query_error};
pub use privileges::{privileges_of, require_privileges, MissingPrivilege, Need};
pub use session::{Mode, TargetSession};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },
    #[error("{target}: {what}: {message}")]
    Query {
        target: String,
        what: String,
        message: String,
    },
    #[error("{}", privileges::describe(target, missing))]
    Privileges {
        target: String,
        missing: Vec<MissingPrivilege>,
    },
}
