//! Connections to the target and the errors of its queries: host, port and
//! database named, never a credential. How a connection is made (TLS,
//! deadline, plain-worded failures) is [`crate::pg`]'s.

use tokio_postgres::Client;

use super::DbError;
use crate::config::DatabaseUrl;

/// Connects to `url`. The connection task runs in the background until the
/// client is dropped; dropping it mid-transaction rolls the transaction back.
pub async fn connect(url: &DatabaseUrl) -> Result<Client, DbError> {
    crate::pg::connect(url)
        .await
        .map_err(|message| DbError::Connect {
            target: url.to_string(),
            message: url.scrub(&message),
        })
}

/// A driver error as one readable line: the server's message, detail and
/// hint when there are any, else the chain of causes.
pub fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return describe_db(db);
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    s
}

/// The server's message, detail and hint as one line.
pub fn describe_db(db: &tokio_postgres::error::DbError) -> String {
    let mut s = db.message().to_string();
    if let Some(d) = db.detail() {
        s.push_str(&format!(" ({d})"));
    }
    if let Some(h) = db.hint() {
        s.push_str(&format!("; hint: {h}"));
    }
    s
}

/// True when the server refused a statement for what it says (a syntax
/// error, an unknown table, column or function, a type mismatch: SQLSTATE
/// class 42) rather than for who sent it (42501, a missing privilege): the
/// SQL came from a file the user wrote, so it is bad input.
pub fn blames_the_sql(code: &tokio_postgres::error::SqlState) -> bool {
    code.code().starts_with("42")
        && *code != tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE
}

/// A query error on `url`, with what was being done.
pub fn query_error(url: &DatabaseUrl, what: &str, e: &tokio_postgres::Error) -> DbError {
    DbError::Query {
        target: url.to_string(),
        what: what.to_string(),
        message: url.scrub(&describe(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::blames_the_sql;
    use tokio_postgres::error::SqlState;

    #[test]
    fn mistakes_in_sql_are_told_from_missing_rights() {
        assert!(blames_the_sql(&SqlState::UNDEFINED_TABLE));
        assert!(blames_the_sql(&SqlState::SYNTAX_ERROR));
        assert!(blames_the_sql(&SqlState::UNDEFINED_COLUMN));
        assert!(!blames_the_sql(&SqlState::INSUFFICIENT_PRIVILEGE));
        assert!(!blames_the_sql(&SqlState::CONNECTION_FAILURE));
    }
}
