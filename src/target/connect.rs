//! Opening a Postgres connection: TLS as libpq's `sslmode` means it, and
//! errors that name host, port and database but never a credential.

use native_tls::{Certificate, TlsConnector};
use postgres_native_tls::MakeTlsConnector;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls};

use super::DbError;
use crate::config::{DatabaseUrl, SslMode as Mode};

/// Connects to `url`. The connection task runs in the background until the
/// client is dropped; dropping it mid-transaction rolls the transaction back.
pub async fn connect(url: &DatabaseUrl) -> Result<Client, DbError> {
    let fail = |message: String| DbError::Connect {
        target: url.to_string(),
        message: url.scrub(&message),
    };
    let (config, verify) = parse_config(url).map_err(fail)?;
    let client = if config.get_ssl_mode() == SslMode::Disable {
        let (client, conn) = config
            .connect(NoTls)
            .await
            .map_err(|e| fail(describe(&e)))?;
        tokio::spawn(async move { drop(conn.await) });
        client
    } else {
        let tls = tls_connector(verify).map_err(fail)?;
        let (client, conn) = config.connect(tls).await.map_err(|e| fail(describe(&e)))?;
        tokio::spawn(async move { drop(conn.await) });
        client
    };
    Ok(client)
}

/// Certificate checks implied by `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verify {
    /// `require`/`prefer`: encrypted, unchecked (as in libpq).
    None,
    /// `verify-ca`: chain checked, host name not.
    Ca,
    /// `verify-full`: chain and host name checked.
    Full,
}

fn parse_config(url: &DatabaseUrl) -> Result<(Config, Verify), String> {
    let mut parsed = url::Url::parse(url.expose()).map_err(|e| e.to_string())?;
    let mode = match (url.sslmode, std::env::var("PGSSLMODE")) {
        (Some(mode), _) => mode,
        (None, Ok(env)) => Mode::parse(&env).map_err(|e| format!("PGSSLMODE: {e}"))?,
        (None, Err(_)) => Mode::Prefer,
    };
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != "sslmode" && k != "sslrootcert" && k != "cxprotocol")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    let text = parsed.as_str().trim_end_matches('?').to_string();
    let mut config: Config = text
        .parse()
        .map_err(|e: tokio_postgres::Error| e.to_string())?;
    let (ssl, verify) = tls_of(mode);
    config.ssl_mode(ssl);
    config.application_name("padetl");
    config.connect_timeout(std::time::Duration::from_secs(10));
    Ok((config, verify))
}

/// libpq's `sslmode` as the driver's mode (which knows only disable,
/// prefer, require) plus the certificate checks padetl adds itself.
fn tls_of(mode: Mode) -> (SslMode, Verify) {
    match mode {
        Mode::Disable => (SslMode::Disable, Verify::None),
        Mode::Allow | Mode::Prefer => (SslMode::Prefer, Verify::None),
        Mode::Require => (SslMode::Require, Verify::None),
        Mode::VerifyCa => (SslMode::Require, Verify::Ca),
        Mode::VerifyFull => (SslMode::Require, Verify::Full),
    }
}

fn tls_connector(verify: Verify) -> Result<MakeTlsConnector, String> {
    let mut builder = TlsConnector::builder();
    builder.danger_accept_invalid_certs(verify == Verify::None);
    builder.danger_accept_invalid_hostnames(verify != Verify::Full);
    if let Ok(path) = std::env::var("PGSSLROOTCERT") {
        let pem = std::fs::read(&path).map_err(|e| format!("PGSSLROOTCERT {path}: {e}"))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| format!("PGSSLROOTCERT {path}: {e}"))?;
        builder.add_root_certificate(cert);
    }
    let connector = builder.build().map_err(|e| e.to_string())?;
    Ok(MakeTlsConnector::new(connector))
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
    use super::*;
    use tokio_postgres::error::SqlState;

    #[test]
    fn every_sslmode_maps_to_a_driver_mode_and_checks() {
        assert_eq!(tls_of(Mode::Disable), (SslMode::Disable, Verify::None));
        assert_eq!(tls_of(Mode::Allow), (SslMode::Prefer, Verify::None));
        assert_eq!(tls_of(Mode::Prefer), (SslMode::Prefer, Verify::None));
        assert_eq!(tls_of(Mode::Require), (SslMode::Require, Verify::None));
        assert_eq!(tls_of(Mode::VerifyCa), (SslMode::Require, Verify::Ca));
        assert_eq!(tls_of(Mode::VerifyFull), (SslMode::Require, Verify::Full));
    }

    #[test]
    fn mistakes_in_sql_are_told_from_missing_rights() {
        assert!(blames_the_sql(&SqlState::UNDEFINED_TABLE));
        assert!(blames_the_sql(&SqlState::SYNTAX_ERROR));
        assert!(blames_the_sql(&SqlState::UNDEFINED_COLUMN));
        assert!(!blames_the_sql(&SqlState::INSUFFICIENT_PRIVILEGE));
        assert!(!blames_the_sql(&SqlState::CONNECTION_FAILURE));
    }
}
