//! The desired schema: ordered SQL files in `migrations/`, each with a
//! checksum so that a file changed after it was applied is caught.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::SchemaError;

/// One migration file, `NNNN_description.sql`.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: i64,
    pub name: String,
    /// The file's path as messages show it: relative to the working
    /// directory when it is inside it.
    pub file: String,
    pub sql: String,
    /// Hex SHA-256 of the file's bytes.
    pub checksum: String,
}

/// Reads every `*.sql` in `dir`, ordered by version; refuses bad names,
/// duplicate versions, and any file that names the reference schema or the
/// app schema (migrations run unqualified, with `search_path` set, so that
/// the same file builds the scratch shapes and the real tables).
pub fn load_migrations(
    dir: &Path,
    app_schema: &str,
    reference_schema: &str,
) -> Result<Vec<Migration>, SchemaError> {
    let read_err = |e: std::io::Error| SchemaError::Migration {
        file: display_path(dir),
        message: e.to_string(),
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("sql") {
            continue;
        }
        out.push(read_migration(&path, app_schema, reference_schema)?);
    }
    out.sort_by_key(|m| m.version);
    for pair in out.windows(2) {
        if pair[0].version == pair[1].version {
            return Err(SchemaError::Migration {
                file: pair[1].file.clone(),
                message: format!(
                    "version {} is used twice (also by {})",
                    pair[1].version, pair[0].file
                ),
            });
        }
    }
    if out.is_empty() {
        return Err(SchemaError::Migration {
            file: dir.display().to_string(),
            message: "no migration files (NNNN_name.sql)".into(),
        });
    }
    Ok(out)
}

fn read_migration(
    path: &Path,
    app_schema: &str,
    reference_schema: &str,
) -> Result<Migration, SchemaError> {
    let file = display_path(path);
    let err = |message: String| SchemaError::Migration {
        file: file.clone(),
        message,
    };
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let (num, name) = stem
        .split_once('_')
        .ok_or_else(|| err("name must be NNNN_description.sql".into()))?;
    let version = num
        .parse::<i64>()
        .map_err(|_| err(format!("`{num}` is not a version number")))?;
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let sql = String::from_utf8(bytes.clone()).map_err(|_| err("not UTF-8".into()))?;
    if let Some(line) = mentions_schema(&sql, reference_schema) {
        return Err(err(format!(
            "line {line} touches the reference schema `{reference_schema}`, which padetl never writes; remove that statement"
        )));
    }
    if let Some(line) = mentions_schema(&sql, app_schema) {
        return Err(err(format!(
            "line {line} names the app schema `{app_schema}`; write names unqualified (padetl sets search_path)"
        )));
    }
    let checksum = hex(&Sha256::digest(&bytes));
    Ok(Migration {
        version,
        name: name.to_string(),
        file,
        sql,
        checksum,
    })
}

/// Line of the first mention of `schema` as an identifier (outside `--` comments).
pub fn mentions_schema(sql: &str, schema: &str) -> Option<usize> {
    let needle = schema.to_ascii_lowercase();
    sql.lines().enumerate().find_map(|(i, line)| {
        let code = line.split("--").next().unwrap_or("").to_ascii_lowercase();
        let hit = code.match_indices(&needle).any(|(at, _)| {
            let before = code[..at].chars().next_back();
            let after = code[at + needle.len()..].chars().next();
            let ident = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            !ident(before) && !ident(after)
        });
        hit.then_some(i + 1)
    })
}

/// `path` relative to the working directory when it is inside it: what a
/// user typed, and the same on every machine.
fn display_path(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or(path)
        .display()
        .to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_reference_schema_as_identifier_only() {
        assert_eq!(
            mentions_schema("ALTER TABLE bo_airflow.x ADD y int;", "bo_airflow"),
            Some(1)
        );
        assert_eq!(
            mentions_schema("select 1;\n\"BO_AIRFLOW\".t", "bo_airflow"),
            Some(2)
        );
        assert_eq!(
            mentions_schema("-- bo_airflow is read only\nselect 1", "bo_airflow"),
            None
        );
        assert_eq!(
            mentions_schema("create table bo_airflow_copy()", "bo_airflow"),
            None
        );
    }
}
