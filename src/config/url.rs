//! Database URLs: parsed once, shown only without their password.

use std::fmt;

use super::secret::Secret;

/// Which kind of database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DbKind {
    Postgres,
    Oracle,
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
    password: Option<Secret>,
    pub kind: DbKind,
    pub user: String,
    pub host: String,
    pub port: u16,
    pub database: String,
    /// The URL's `sslmode`, when it names one.
    pub sslmode: Option<SslMode>,
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
        let sslmode = parsed
            .query_pairs()
            .find(|(k, _)| k == "sslmode")
            .map(|(_, v)| SslMode::parse(&v))
            .transpose()?;
        Ok(DatabaseUrl {
            full: Secret::new(raw),
            password,
            kind,
            user: percent_decode(parsed.username()),
            host,
            port: parsed.port().unwrap_or(default_port),
            database,
            sslmode,
        })
    }

    /// The real URL, for the connector only.
    pub fn expose(&self) -> &str {
        self.full.expose()
    }

    /// Masks the URL and its password wherever a driver echoed them.
    pub fn scrub(&self, text: &str) -> String {
        let text = self.full.scrub(text);
        match &self.password {
            Some(p) => p.scrub(&text),
            None => text,
        }
    }

    /// Same server, another database: the demo and the tests create and drop
    /// databases from a connection to `postgres`.
    pub fn with_database(&self, database: &str) -> Result<Self, String> {
        let mut u = url::Url::parse(self.full.expose()).map_err(|e| e.to_string())?;
        u.set_path(&format!("/{database}"));
        DatabaseUrl::parse(u.as_str())
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
    fn rejects_what_is_not_a_database_url() {
        assert!(DatabaseUrl::parse("mysql://x@h/db").is_err());
        assert!(DatabaseUrl::parse("postgresql://x@h").is_err());
        assert!(DatabaseUrl::parse("nonsense").is_err());
    }
}
