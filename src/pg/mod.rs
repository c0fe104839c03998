//! Postgres connections as libpq makes them, for every connection padetl
//! opens (the target's session and ledger, the source's readers): the
//! `sslmode` and `sslrootcert` the user wrote, honoured with one OpenSSL
//! connector that checks the certificate chain (`verify-ca`) and the host
//! name (`verify-full`); one deadline (`connect_timeout`, default 10 s) for
//! the whole connect, TCP, TLS and authentication; and a failure said in
//! plain words ([`failure`]).
//!
//! The source is read through connectorx, which would parse the URL itself
//! and could do neither `verify-full` nor the deadline: [`Connector`] gives
//! it the same configuration and connector (see `extract::connectorx`).

mod failure;
mod tls;

use std::time::Duration;

use postgres_openssl::MakeTlsConnector;
use tokio_postgres::config::SslMode as DriverMode;
use tokio_postgres::{Client, Config};

pub use failure::describe_connect_error;
pub(crate) use tls::Verify;

use crate::config::{DatabaseUrl, SslMode};

/// Used when the URL sets no `connect_timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// URL parameters that are libpq's or connectorx's, not the driver's.
const NOT_FOR_THE_DRIVER: [&str; 7] = [
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "sslnegotiation",
    "cxprotocol",
];

/// Everything needed to open connections to one URL.
#[derive(Clone)]
pub struct Connector {
    config: Config,
    tls: MakeTlsConnector,
    deadline: Duration,
    url: DatabaseUrl,
}

impl Connector {
    /// The driver's configuration and the TLS connector for `url`.
    pub fn new(url: &DatabaseUrl) -> Result<Self, String> {
        let mut config: Config = driver_url(url.expose())
            .parse()
            .map_err(|e: tokio_postgres::Error| url.scrub(&failure::chain(&e)))?;
        let (mode, verify) = modes(url.ssl_mode(), url.sslrootcert.is_some());
        config.ssl_mode(mode);
        if config.get_application_name().is_none() {
            config.application_name("padetl");
        }
        let deadline = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        config.connect_timeout(deadline);
        let tls = tls::connector(verify, url.sslrootcert.as_deref())?;
        Ok(Connector {
            config,
            tls,
            deadline,
            url: url.clone(),
        })
    }

    /// Connects within the deadline; the connection task runs until the
    /// client is dropped.
    pub async fn connect(&self) -> Result<Client, String> {
        let attempt = self.config.connect(self.tls.clone());
        match tokio::time::timeout(self.deadline, attempt).await {
            Ok(Ok((client, connection))) => {
                tokio::spawn(async move { drop(connection.await) });
                Ok(client)
            }
            Ok(Err(e)) => Err(self.url.scrub(&describe_connect_error(&e, &self.url))),
            Err(_) => Err(failure::timed_out(self.deadline)),
        }
    }

    /// [`connect`](Self::connect) and close, from a blocking thread (the
    /// source's readers): a wrong password or an untrusted certificate is
    /// said at once, not after connectorx's pool has waited 30 seconds.
    pub fn check_blocking(&self) -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a runtime to connect: {e}"))?;
        runtime.block_on(async {
            let client = self.connect().await?;
            drop(client);
            Ok(())
        })
    }

    /// The configuration for the blocking driver (connectorx's pool).
    pub fn blocking_config(&self) -> postgres::Config {
        postgres::Config::from(self.config.clone())
    }

    /// The TLS connector, for connectorx's pool.
    pub fn tls(&self) -> MakeTlsConnector {
        self.tls.clone()
    }
}

/// Connects to `url` as libpq would (see the module's documentation).
pub async fn connect(url: &DatabaseUrl) -> Result<Client, String> {
    Connector::new(url)?.connect().await
}

/// libpq's `sslmode` as the driver's mode (it knows only disable, prefer
/// and require) plus the checks padetl's connector makes. As in libpq,
/// `require` with a CA file checks the chain too.
fn modes(mode: SslMode, has_root_cert: bool) -> (DriverMode, Verify) {
    match mode {
        SslMode::Disable => (DriverMode::Disable, Verify::None),
        SslMode::Allow | SslMode::Prefer => (DriverMode::Prefer, Verify::None),
        SslMode::Require if has_root_cert => (DriverMode::Require, Verify::Chain),
        SslMode::Require => (DriverMode::Require, Verify::None),
        SslMode::VerifyCa => (DriverMode::Require, Verify::Chain),
        SslMode::VerifyFull => (DriverMode::Require, Verify::ChainAndHost),
    }
}

/// The URL without the parameters the driver would refuse, every other
/// byte as written (re-encoding would turn a space in `options` into `+`).
fn driver_url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            !pair.is_empty() && !NOT_FOR_THE_DRIVER.contains(&key)
        })
        .collect();
    match kept.is_empty() {
        true => base.to_string(),
        false => format!("{base}?{}", kept.join("&")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sslmode_maps_to_a_driver_mode_and_checks() {
        use DriverMode as D;
        use SslMode as M;
        assert_eq!(modes(M::Disable, true), (D::Disable, Verify::None));
        assert_eq!(modes(M::Allow, false), (D::Prefer, Verify::None));
        assert_eq!(modes(M::Prefer, true), (D::Prefer, Verify::None));
        assert_eq!(modes(M::Require, false), (D::Require, Verify::None));
        assert_eq!(modes(M::Require, true), (D::Require, Verify::Chain));
        assert_eq!(modes(M::VerifyCa, true), (D::Require, Verify::Chain));
        assert_eq!(
            modes(M::VerifyFull, true),
            (D::Require, Verify::ChainAndHost)
        );
    }

    #[test]
    fn the_driver_sees_its_parameters_only_and_as_written() {
        assert_eq!(
            driver_url("postgresql://u:p%2B@h/db?sslmode=verify-full&hostaddr=127.0.0.1&sslrootcert=/a b.pem&options=-c%20x=1"),
            "postgresql://u:p%2B@h/db?hostaddr=127.0.0.1&options=-c%20x=1"
        );
        assert_eq!(
            driver_url("postgresql://u@h/db?sslmode=disable"),
            "postgresql://u@h/db"
        );
        assert_eq!(driver_url("postgresql://u@h/db"), "postgresql://u@h/db");
    }

    #[test]
    fn a_url_with_a_host_name_and_an_address_keeps_the_name_for_tls() {
        let url = DatabaseUrl::parse(
            "postgresql://u:pa+d%40@uk02vddb004:5433/pad?hostaddr=127.0.0.1&sslmode=require",
        )
        .unwrap();
        let c = Connector::new(&url).unwrap();
        assert_eq!(c.config.get_password(), Some(&b"pa+d@"[..]));
        assert_eq!(c.config.get_hostaddrs().len(), 1);
        assert_eq!(c.deadline, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(c.config.get_application_name(), Some("padetl"));
    }
}
