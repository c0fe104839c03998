//! The OpenSSL connector for one `sslmode`: libpq's checks, never weaker.
//! A CA file is the only trust: the system's roots are not added, as libpq
//! trusts only `sslrootcert`.

use std::path::Path;

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::X509;
use postgres_openssl::MakeTlsConnector;

/// What of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Encrypted, unchecked (`prefer`, `require` without a CA file).
    None,
    /// Signed by the CA file (`verify-ca`, `require` with a CA file).
    Chain,
    /// And issued for the host name in the URL (`verify-full`).
    ChainAndHost,
}

/// A connector that checks what `verify` says, trusting only `root`.
pub fn connector(verify: Verify, root: Option<&Path>) -> Result<MakeTlsConnector, String> {
    let fail = |e: openssl::error::ErrorStack| format!("cannot set up TLS: {e}");
    let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(fail)?;
    match (verify, root) {
        (Verify::None, _) => builder.set_verify(SslVerifyMode::NONE),
        (_, Some(root)) => {
            let mut store = X509StoreBuilder::new().map_err(fail)?;
            for cert in read_certificates(root)? {
                store.add_cert(cert).map_err(fail)?;
            }
            builder.set_cert_store(store.build());
            builder.set_verify(SslVerifyMode::PEER);
        }
        (_, None) => {
            return Err("a certificate check needs a CA file (sslrootcert or PGSSLROOTCERT)".into())
        }
    }
    let mut tls = MakeTlsConnector::new(builder.build());
    if verify != Verify::ChainAndHost {
        tls.set_callback(|config, _domain| {
            config.set_verify_hostname(false);
            Ok(())
        });
    }
    Ok(tls)
}

/// Every certificate of a PEM file (a bundle may hold several).
fn read_certificates(path: &Path) -> Result<Vec<X509>, String> {
    let pem = std::fs::read(path)
        .map_err(|e| format!("cannot read sslrootcert {}: {e}", path.display()))?;
    let certs = X509::stack_from_pem(&pem).map_err(|e| {
        format!(
            "sslrootcert {} is not a PEM certificate: {e}",
            path.display()
        )
    })?;
    match certs.is_empty() {
        true => Err(format!(
            "sslrootcert {} holds no certificate",
            path.display()
        )),
        false => Ok(certs),
    }
}
