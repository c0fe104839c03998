//! The connection to the target Postgres: TLS as libpq's `sslmode` means it,
//! and errors that name host, port and database but never a credential.

use native_tls::{Certificate, TlsConnector};
use postgres_native_tls::MakeTlsConnector;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls};

use crate::config::DatabaseUrl;

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
}

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
    let mode = parsed
        .query_pairs()
        .find(|(k, _)| k == "sslmode")
        .map(|(_, v)| v.into_owned());
    let mode = mode
        .or_else(|| std::env::var("PGSSLMODE").ok())
        .unwrap_or_else(|| "prefer".into());
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
    let (ssl, verify) = match mode.as_str() {
        "disable" => (SslMode::Disable, Verify::None),
        "allow" | "prefer" => (SslMode::Prefer, Verify::None),
        "require" => (SslMode::Require, Verify::None),
        "verify-ca" => (SslMode::Require, Verify::Ca),
        "verify-full" => (SslMode::Require, Verify::Full),
        other => {
            return Err(format!(
                "unknown sslmode `{other}` (disable, prefer, require, verify-ca, verify-full)"
            ))
        }
    };
    config.ssl_mode(ssl);
    config.application_name("padetl");
    config.connect_timeout(std::time::Duration::from_secs(10));
    Ok((config, verify))
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
        let mut s = db.message().to_string();
        if let Some(d) = db.detail() {
            s.push_str(&format!(" ({d})"));
        }
        if let Some(h) = db.hint() {
            s.push_str(&format!("; hint: {h}"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    s
}

/// A query error on `url`, with what was being done.
pub fn query_error(url: &DatabaseUrl, what: &str, e: &tokio_postgres::Error) -> DbError {
    DbError::Query {
        target: url.to_string(),
        what: what.to_string(),
        message: url.scrub(&describe(e)),
    }
}
