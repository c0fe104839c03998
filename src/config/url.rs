//! Database URLs: parsed once, shown only without their password, with the
//! TLS settings libpq would use for them (`sslmode`, `sslrootcert`: the
//! URL first, then `PGSSLMODE` / `PGSSLROOTCERT` from the environment or
//! the env file, then libpq's defaults).

use std::fmt;
use std::path::{Path, PathBuf};

use super::names::{quote, QualifiedName};
use super::secret::Secret;

/// Which kind of database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DbKind {
    Postgres,
    Oracle,
}

impl DbKind {
    /// A plain identifier (as validated by [`super::Ident`]) quoted so that
    /// this database reads the name the pipeline means. Postgres folds an
    /// unquoted name to lower case and Oracle to upper case, so a name
    /// written `pad_request` in a pipeline is `"pad_request"` for Postgres
    /// and `"PAD_REQUEST"` for Oracle: the table either created without
    /// quotes, which is how both are normally created.
    pub fn ident(self, name: &str) -> String {
        match self {
            DbKind::Postgres => quote(name),
            DbKind::Oracle => quote(&name.to_ascii_uppercase()),
        }
    }

    /// `schema.table`, each part quoted as [`DbKind::ident`] does.
    pub fn qualified(self, name: &QualifiedName) -> String {
        format!(
            "{}.{}",
            self.ident(name.schema.as_str()),
            self.ident(name.table.as_str())
        )
    }
}

/// libpq's `sslmode`: how much of TLS a connection insists on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub const NAMES: [&'static str; 6] = [
        "disable",
        "allow",
        "prefer",
        "require",
        "verify-ca",
        "verify-full",
    ];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "disable" => Ok(SslMode::Disable),
            "allow" => Ok(SslMode::Allow),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(format!(
                "unknown sslmode `{other}` ({})",
                Self::NAMES.join(", ")
            )),
        }
    }
}

/// A connection URL. The full text (with any password) is a [`Secret`];
/// `Display` shows `scheme://user@host:port/database` and nothing more.
#[derive(Clone)]
pub struct DatabaseUrl {
    full: Secret,
    /// As decoded for the server, and as written in the URL (`%2B`…): both
    /// are masked wherever text might echo them.
    password: Option<Secret>,
    password_encoded: Option<Secret>,
    pub kind: DbKind,
    pub user: String,
    pub host: String,
    pub port: u16,
    pub database: String,
    /// `sslmode` as the URL or the environment says; `None`: libpq's `prefer`.
    pub sslmode: Option<SslMode>,
    /// The CA file that must have signed the server's certificate.
    pub sslrootcert: Option<PathBuf>,
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let parsed = url::Url::parse(raw).map_err(|e| {
            format!("not a database URL ({e}); expected postgresql://user@host:port/database")
        })?;
        let kind = match parsed.scheme() {
            "postgres" | "postgresql" => DbKind::Postgres,
            "oracle" => DbKind::Oracle,
            other => {
                return Err(format!(
                    "unsupported URL scheme `{other}` (use postgresql:// or oracle://)"
                ))
            }
        };
        let host = parsed.host_str().unwrap_or("localhost").to_string();
        let default_port = if kind == DbKind::Oracle { 1521 } else { 5432 };
        let database = parsed.path().trim_start_matches('/').to_string();
        if database.is_empty() {
            return Err(format!("the URL for {host} names no database (…/DATABASE)"));
        }
        let password = parsed.password().map(|p| Secret::new(percent_decode(p)));
        let password_encoded = parsed.password().map(Secret::new);
        let param = |name: &str| {
            parsed
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let sslmode = param("sslmode").map(|v| SslMode::parse(&v)).transpose()?;
        let sslrootcert = param("sslrootcert").map(PathBuf::from);
        Ok(DatabaseUrl {
            full: Secret::new(raw),
            password,
            password_encoded,
            kind,
            user: percent_decode(parsed.username()),
            host,
            port: parsed.port().unwrap_or(default_port),
            database,
            sslmode,
            sslrootcert,
        })
    }

    /// Fills what the URL does not say as libpq would: `PGSSLMODE`,
    /// `PGSSLROOTCERT` (through `lookup`: the process environment, then the
    /// env file), then `~/.postgresql/root.crt` when it exists under `home`.
    pub fn with_env_defaults(
        mut self,
        lookup: &dyn Fn(&str) -> Option<String>,
        home: Option<&Path>,
    ) -> Result<Self, String> {
        if self.sslmode.is_none() {
            self.sslmode = lookup("PGSSLMODE")
                .map(|v| SslMode::parse(&v).map_err(|e| format!("PGSSLMODE: {e}")))
                .transpose()?;
        }
        if self.sslrootcert.is_none() {
            self.sslrootcert = lookup("PGSSLROOTCERT").map(PathBuf::from).or_else(|| {
                home.map(|h| h.join(".postgresql/root.crt"))
                    .filter(|p| p.is_file())
            });
        }
        Ok(self)
    }

    /// The effective `sslmode`.
    pub fn ssl_mode(&self) -> SslMode {
        self.sslmode.unwrap_or(SslMode::Prefer)
    }

    /// What is wrong with the TLS settings before any connection: a mode
    /// that checks certificates needs a CA file. (Whether the file exists is
    /// a fact of the machine that connects, said when it connects.)
    pub fn tls_problem(&self) -> Option<String> {
        let mode = self.ssl_mode();
        let checks = matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull);
        (checks && self.sslrootcert.is_none()).then(|| {
            format!(
                "sslmode={} needs the CA certificate that signed the server's: add sslrootcert=/path/to/ca.crt to the URL or set PGSSLROOTCERT",
                mode.as_str()
            )
        })
    }

    /// The real URL, for the connector only.
    pub fn expose(&self) -> &str {
        self.full.expose()
    }

    /// Masks the URL and its password (decoded or as written) wherever a
    /// driver echoed them.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = self.full.scrub(text);
        for secret in [&self.password, &self.password_encoded]
            .into_iter()
            .flatten()
        {
            text = secret.scrub(&text);
        }
        text
    }

    /// Same server, another database: the demo and the tests create and drop
    /// databases from a connection to `postgres`.
    pub fn with_database(&self, database: &str) -> Result<Self, String> {
        let mut u = url::Url::parse(self.full.expose()).map_err(|e| e.to_string())?;
        u.set_path(&format!("/{database}"));
        let mut other = DatabaseUrl::parse(u.as_str())?;
        other.sslmode = self.sslmode;
        other.sslrootcert.clone_from(&self.sslrootcert);
        Ok(other)
    }
}

/// A URL's user or password as the driver decodes it: `%XX` only; a `+`
/// is a plus (this is not a web form).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.kind {
            DbKind::Postgres => "postgresql",
            DbKind::Oracle => "oracle",
        };
        write!(
            f,
            "{scheme}://{}@{}:{}/{}",
            self.user, self.host, self.port, self.database
        )
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

impl serde::Serialize for DatabaseUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_debug_hide_the_password() {
        let u = DatabaseUrl::parse("postgresql://app:s3cr%40t@qa.example:6432/pad?sslmode=require")
            .unwrap();
        assert_eq!(u.to_string(), "postgresql://app@qa.example:6432/pad");
        assert!(!format!("{u:?}").contains("s3cr"));
        assert_eq!(u.scrub("password s3cr@t rejected"), "password *** rejected");
        assert_eq!(u.with_database("postgres").unwrap().database, "postgres");
    }

    #[test]
    fn a_password_is_decoded_as_the_driver_decodes_it() {
        let u = DatabaseUrl::parse("postgresql://app:pa+d%40%3A%2F%25%26x@h/db").unwrap();
        assert_eq!(
            u.scrub("auth failed: pa+d@:/%&x and pa%2Bd"),
            "auth failed: *** and pa%2Bd"
        );
        assert_eq!(u.scrub("echoed pa+d%40%3A%2F%25%26x"), "echoed ***");
    }

    #[test]
    fn sslmode_is_checked_without_connecting() {
        let u = DatabaseUrl::parse("postgresql://a@h/db?sslmode=verify-full").unwrap();
        assert_eq!(u.sslmode, Some(SslMode::VerifyFull));
        assert_eq!(
            DatabaseUrl::parse("postgresql://a@h/db").unwrap().sslmode,
            None
        );
        let e = DatabaseUrl::parse("postgresql://a@h/db?sslmode=verify_full").unwrap_err();
        assert!(e.contains("unknown sslmode `verify_full`"), "{e}");
    }

    #[test]
    fn tls_settings_come_from_the_url_then_the_environment() {
        let env = |name: &str| match name {
            "PGSSLMODE" => Some("verify-full".to_string()),
            "PGSSLROOTCERT" => Some("/etc/env-ca.pem".to_string()),
            _ => None,
        };
        let none = |_: &str| None;
        let u = DatabaseUrl::parse("postgresql://a@h/db?sslmode=require&sslrootcert=/u.pem")
            .unwrap()
            .with_env_defaults(&env, None)
            .unwrap();
        assert_eq!(u.ssl_mode(), SslMode::Require);
        assert_eq!(u.sslrootcert.as_deref(), Some(Path::new("/u.pem")));
        let u = DatabaseUrl::parse("postgresql://a@h/db")
            .unwrap()
            .with_env_defaults(&env, None)
            .unwrap();
        assert_eq!(u.ssl_mode(), SslMode::VerifyFull);
        assert_eq!(u.sslrootcert.as_deref(), Some(Path::new("/etc/env-ca.pem")));
        assert_eq!(u.tls_problem(), None);
        let u = DatabaseUrl::parse("postgresql://a@h/db?sslmode=verify-ca")
            .unwrap()
            .with_env_defaults(&none, None)
            .unwrap();
        assert!(u
            .tls_problem()
            .unwrap()
            .contains("needs the CA certificate"));
        let bad = |n: &str| (n == "PGSSLMODE").then(|| "sometimes".to_string());
        let e = DatabaseUrl::parse("postgresql://a@h/db")
            .unwrap()
            .with_env_defaults(&bad, None)
            .err()
            .unwrap();
        assert!(e.contains("PGSSLMODE: unknown sslmode `sometimes`"), "{e}");
    }

    #[test]
    fn each_kind_quotes_a_plain_name_as_it_folds_it() {
        let q = QualifiedName::parse("pa_dealing.pad_request").unwrap();
        assert_eq!(
            DbKind::Postgres.qualified(&q),
            "\"pa_dealing\".\"pad_request\""
        );
        assert_eq!(
            DbKind::Oracle.qualified(&q),
            "\"PA_DEALING\".\"PAD_REQUEST\""
        );
        assert_eq!(DbKind::Oracle.ident("id"), "\"ID\"");
        assert_eq!(DbKind::Postgres.ident("id"), "\"id\"");
        let oracle = DatabaseUrl::parse("oracle://u:pw@h/FREEPDB1").unwrap();
        assert_eq!(oracle.kind, DbKind::Oracle);
        assert_eq!(oracle.port, 1521);
    }

    #[test]
    fn rejects_what_is_not_a_database_url() {
        assert!(DatabaseUrl::parse("mysql://x@h/db").is_err());
        assert!(DatabaseUrl::parse("postgresql://x@h").is_err());
        assert!(DatabaseUrl::parse("nonsense").is_err());
    }
}
