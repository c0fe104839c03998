//! Environment files and `${VAR}` interpolation.
//!
//! Interpolation is a pure function over a lookup, so it is unit-tested
//! without touching the process environment. The process environment wins
//! over the env file (twelve-factor), so CI and tests can override one value.

use std::collections::BTreeMap;
use std::path::Path;

/// Variables from an env file, with the process environment layered on top.
#[derive(Debug, Default, Clone)]
pub struct EnvVars {
    file: BTreeMap<String, String>,
    /// Said once, as ssh does for a key others can read: the file holds a
    /// password and its mode lets group or others read it.
    pub warning: Option<String>,
}

impl EnvVars {
    /// Reads `path` with dotenvy without exporting anything into the process.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let iter = dotenvy::from_path_iter(path).map_err(|e| describe_dotenv_error(&e))?;
        let mut file = BTreeMap::new();
        for item in iter {
            let (k, v) = item.map_err(|e| describe_dotenv_error(&e))?;
            file.insert(k, v);
        }
        let warning = readable_by_others(path)
            .filter(|_| file.iter().any(|(k, v)| holds_password(k, v)))
            .map(|mode| {
                format!(
                    "{} holds a password and is readable by others (mode {mode:o}): run `chmod 600 {}`",
                    path.display(),
                    path.display()
                )
            });
        Ok(EnvVars { file, warning })
    }

    /// A lookup: the process environment first, then the file.
    pub fn get(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .or_else(|| self.file.get(name).cloned())
    }
}

/// The file's permission bits when group or others may read it.
fn readable_by_others(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o044 != 0).then_some(mode)
}

/// A password variable, or a URL with a password in it.
fn holds_password(name: &str, value: &str) -> bool {
    if name.to_ascii_uppercase().contains("PASSWORD") && !value.is_empty() {
        return true;
    }
    url::Url::parse(value).is_ok_and(|u| u.password().is_some_and(|p| !p.is_empty()))
}

fn describe_dotenv_error(e: &dotenvy::Error) -> String {
    match e {
        // The offending line may hold a secret: name its number, never its text.
        dotenvy::Error::LineParse(_, index) => {
            format!("cannot parse the line at byte {index} (expected NAME=value)")
        }
        dotenvy::Error::Io(io) => io.to_string(),
        other => other
            .to_string()
            .split(':')
            .next()
            .unwrap_or("invalid")
            .to_string(),
    }
}

/// Why a text could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolateError {
    /// A `${` without its closing `}`.
    Unterminated,
    /// Every variable that is not set (not just the first), so that the user
    /// fixes them at once.
    Unset(Vec<String>),
}

/// Replaces `${NAME}` and `${NAME:-default}` in `text`; `$${` is a literal `${`.
pub fn interpolate(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolateError> {
    let mut out = String::with_capacity(text.len());
    let mut missing = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(stripped) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = stripped;
        } else if let Some(body) = after.strip_prefix("${") {
            let end = body.find('}').ok_or(InterpolateError::Unterminated)?;
            let expr = &body[..end];
            let (name, default) = match expr.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (expr, None),
            };
            match (lookup(name), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => missing.push(name.to_string()),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    match missing.is_empty() {
        true => Ok(out),
        false => Err(InterpolateError::Unset(missing)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.local".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn replaces_known_and_reports_every_unknown() {
        assert_eq!(
            interpolate("pg://${HOST}/x", &vars).unwrap(),
            "pg://db.local/x"
        );
        assert_eq!(interpolate("a${EMPTY}b", &vars).unwrap(), "ab");
        assert_eq!(interpolate("${NOPE:-d}", &vars).unwrap(), "d");
        assert_eq!(
            interpolate("cost $5 $${HOST}", &vars).unwrap(),
            "cost $5 ${HOST}"
        );
        assert_eq!(
            interpolate("${A} ${HOST} ${B}", &vars).unwrap_err(),
            InterpolateError::Unset(vec!["A".to_string(), "B".to_string()])
        );
    }

    #[test]
    fn a_password_in_a_file_others_can_read_is_warned_about() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(".env.qa");
        std::fs::write(&path, "URL=postgresql://u:s3cret@h/db\nA=1\n").expect("env file");
        let mode = |m: u32| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m));
        mode(0o644).expect("chmod");
        let warning = EnvVars::from_file(&path)
            .expect("read")
            .warning
            .expect("a warning");
        assert!(warning.contains("chmod 600"), "{warning}");
        assert!(!warning.contains("s3cret"), "{warning}");
        mode(0o600).expect("chmod");
        assert!(EnvVars::from_file(&path).expect("read").warning.is_none());
        std::fs::write(&path, "URL=postgresql://u@h/db\n").expect("env file");
        mode(0o644).expect("chmod");
        assert!(EnvVars::from_file(&path).expect("read").warning.is_none());
    }

    #[test]
    fn an_unterminated_reference_is_its_own_error() {
        assert_eq!(
            interpolate("pg://${HOST/x", &vars).unwrap_err(),
            InterpolateError::Unterminated
        );
    }
}
