//! A failed connection in plain words: which of the usual causes it was
//! (wrong password, untrusted certificate, host name mismatch, a server that
//! requires TLS, an unknown host, nobody listening, no answer in time), then
//! what the driver said. Never the password: callers scrub the text too.

use std::time::Duration;

use tokio_postgres::error::SqlState;

use crate::config::DatabaseUrl;

/// The driver's error, and above it what it means.
pub fn describe_connect_error(e: &tokio_postgres::Error, url: &DatabaseUrl) -> String {
    let detail = chain(e);
    match cause(e, &detail, url) {
        Some(cause) => format!("{cause} ({detail})"),
        None => detail,
    }
}

/// No answer within the deadline.
pub fn timed_out(deadline: Duration) -> String {
    format!(
        "no answer within {} s (connect_timeout): the host is down, a firewall drops the packets, or the server is overloaded",
        deadline.as_secs()
    )
}

/// The error and its causes as one line; the server's message when there is one.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut next = e.source();
    while let Some(inner) = next {
        if let Some(db) = inner.downcast_ref::<tokio_postgres::error::DbError>() {
            return crate::target::describe_db(db);
        }
        parts.push(inner.to_string());
        next = inner.source();
    }
    let mut kept: Vec<String> = Vec::new();
    for part in parts {
        // OpenSSL's errors repeat their own stack at each level of the chain.
        if !kept.iter().any(|k| k.contains(part.as_str())) {
            kept.push(part);
        }
    }
    kept.join(": ")
}

fn cause(e: &tokio_postgres::Error, detail: &str, url: &DatabaseUrl) -> Option<String> {
    let lower = detail.to_ascii_lowercase();
    let code = e.code();
    let root = url
        .sslrootcert
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "sslrootcert".into());
    if code == Some(&SqlState::INVALID_PASSWORD) || lower.contains("password authentication failed")
    {
        return Some(format!(
            "wrong password for user {}: the server refused it; check the password in the URL or the env file",
            url.user
        ));
    }
    if lower.contains("no encryption") && lower.contains("pg_hba.conf") {
        return Some("the server accepts only TLS connections: use sslmode=verify-full with the server's CA (sslrootcert)".into());
    }
    if lower.contains("hostname mismatch") || lower.contains("ip address mismatch") {
        return Some(format!(
            "host name mismatch: the server's certificate is not issued for {} (sslmode=verify-full checks it); connect by a name the certificate lists",
            url.host
        ));
    }
    if lower.contains("certificate verify failed") {
        return Some(format!(
            "untrusted certificate: the server's certificate is not signed by the CA in {root}; check sslrootcert / PGSSLROOTCERT"
        ));
    }
    if lower.contains("server does not support tls") {
        return Some("the server does not offer TLS, and sslmode requires it".into());
    }
    if lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
        || lower.contains("no such host")
    {
        return Some(format!(
            "unknown host {}: its name does not resolve",
            url.host
        ));
    }
    if lower.contains("connection refused") {
        return Some(format!(
            "nothing listens on {}:{} (connection refused)",
            url.host, url.port
        ));
    }
    if code == Some(&SqlState::INVALID_CATALOG_NAME) {
        return Some(format!("database {} does not exist", url.database));
    }
    None
}
