//! The resolved pipeline: everything validated, every path absolute, every
//! variable substituted. Later stages take this and never see raw TOML.

use std::path::PathBuf;

use super::names::{Ident, QualifiedName, TableName};
use super::url::DatabaseUrl;

/// One validated pipeline for one environment.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub path: PathBuf,
    /// File stem, e.g. `qa` for `pipelines/qa.toml`.
    pub name: String,
    pub env: String,
    pub env_file: PathBuf,
    pub description: Option<String>,
    /// Runs must be confirmed with `--confirm <env>`.
    pub confirm: bool,
    pub source: SourceConfig,
    pub target: TargetConfig,
    pub batch_size: usize,
    /// Source readers per table (key ranges read at once); memory is about
    /// `batch_size` × (readers + 2) rows per table.
    pub readers: usize,
    pub keymaps: Vec<Keymap>,
    /// In load order: parents before children.
    pub tables: Vec<TableSpec>,
    pub checks: Vec<CheckSpec>,
    /// Violating rows shown per check in reports.
    pub sample_rows: usize,
    /// Columns shown as `***` in reports.
    pub mask_columns: Vec<String>,
    /// Said to the user before anything runs (an env file others can read).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub url: DatabaseUrl,
    /// Zone in which the source wrote its naive timestamps.
    pub timezone: chrono_tz::Tz,
}

#[derive(Debug, Clone)]
pub struct TargetConfig {
    pub url: DatabaseUrl,
    pub app_schema: Ident,
    /// Read-only on every path (rule 1).
    pub reference_schema: Ident,
    pub migrations_dir: PathBuf,
    /// `lock_timeout` for the run's transaction: also bounds the wait for
    /// another run's lock.
    pub lock_timeout: Timeout,
    /// `statement_timeout` for the run's transaction.
    pub statement_timeout: Timeout,
    /// Where the app's own ids start in the target (see `[target]`).
    pub app_ids_from: Option<i64>,
}

/// A Postgres duration setting such as `60s`, `15min` or `0` (no limit),
/// checked when the pipeline is read so that a typo is a config error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeout(String);

impl Timeout {
    pub const UNITS: [&'static str; 5] = ["ms", "s", "min", "h", "d"];

    pub fn parse(s: &str) -> Result<Self, String> {
        let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let unit = &s[digits.len()..];
        let number_ok = !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit());
        let unit_ok = Self::UNITS.contains(&unit) || (unit.is_empty() && digits == "0");
        if number_ok && unit_ok {
            Ok(Timeout(s.to_string()))
        } else {
            Err(format!(
                "`{s}` is not a duration: write a whole number with a unit ({}), e.g. 60s, or 0 for no limit",
                Self::UNITS.join(", ")
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Re-points surrogate ids of one reference table through natural keys.
#[derive(Debug, Clone)]
pub struct Keymap {
    pub name: Ident,
    /// Query on the source returning `id` and one column per key.
    pub source_query: String,
    /// Query on the target returning `id` and one column per key.
    pub target_query: String,
    /// Natural keys, most trusted first.
    pub keys: Vec<Ident>,
    /// `file:line` of its declaration, for messages about its queries.
    pub origin: String,
}

/// One application table: where its rows come from and how they are shaped.
#[derive(Debug, Clone)]
pub struct TableSpec {
    pub name: TableName,
    /// Source query (a whole table becomes `SELECT * FROM schema.table`).
    pub source_query: String,
    /// What the source query reads, for messages.
    pub source_label: String,
    /// Integer key: pages of the extraction, merge key of the load.
    pub key: Ident,
    pub transform_path: PathBuf,
    pub transform_sql: String,
    pub mode: LoadMode,
    /// `file:line` of its `[[tables]]` entry, for messages about its query.
    pub origin: String,
    /// Columns that say which entity a row is; empty: none declared.
    pub identity: Vec<Ident>,
    /// What a collision (same key, other identity) does: fail or quarantine.
    pub collision: Policy,
    /// What a run does with a row changed in the target since padetl wrote it.
    pub on_target_change: TargetChange,
    /// Read only what changed since the last successful run.
    pub incremental: Option<Incremental>,
}

/// How a table finds what changed since its high-water mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incremental {
    /// Rows whose `column` is above the mark (it only grows).
    Key { column: Ident },
    /// Rows whose `column` is at or after the mark less `overlap_seconds`.
    Column { column: Ident, overlap_seconds: u64 },
}

impl Incremental {
    /// The column the mark is taken on.
    pub fn column(&self) -> &Ident {
        match self {
            Incremental::Key { column } | Incremental::Column { column, .. } => column,
        }
    }
}

/// What a run does with a row the target changed since padetl wrote it and
/// the source would change too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetChange {
    /// Stop before writing anything (exit 1), naming the rows.
    #[default]
    Fail,
    /// Write the source's version over the target's (counted).
    SourceWins,
    /// Keep the target's version (counted).
    TargetWins,
}

impl TargetChange {
    pub const NAMES: [&'static str; 3] = ["fail", "source_wins", "target_wins"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fail" => Some(TargetChange::Fail),
            "source_wins" => Some(TargetChange::SourceWins),
            "target_wins" => Some(TargetChange::TargetWins),
            _ => None,
        }
    }
}

/// How staged rows reach a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    /// Insert new keys, update changed rows, leave equal rows alone.
    #[default]
    Upsert,
    /// Insert new keys; a key already there with other values is an error
    /// (append-only tables such as the audit log are never rewritten).
    Insert,
    /// The table ends up exactly the loaded rows: upsert, then delete the
    /// rows whose key was not loaded (children first, after every table).
    Replace,
}

impl LoadMode {
    pub const NAMES: [&'static str; 3] = ["upsert", "insert", "replace"];

    pub fn parse(s: &str) -> Option<Self> {
        [LoadMode::Upsert, LoadMode::Insert, LoadMode::Replace]
            .into_iter()
            .find(|m| m.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LoadMode::Upsert => "upsert",
            LoadMode::Insert => "insert",
            LoadMode::Replace => "replace",
        }
    }
}

impl Pipeline {
    /// `app_schema.table`.
    pub fn target_table(&self, table: &TableName) -> QualifiedName {
        QualifiedName::new(self.target.app_schema.clone(), table.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::Timeout;

    #[test]
    fn timeouts_need_a_unit() {
        assert!(Timeout::parse("60s").is_ok());
        assert!(Timeout::parse("15min").is_ok());
        assert!(Timeout::parse("0").is_ok());
        assert!(Timeout::parse("60").is_err());
        assert!(Timeout::parse("1.5s").is_err());
        assert!(Timeout::parse("60s; DROP").is_err());
    }
}

/// What happens to the rows a check finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// The run stops before anything is committed; `check` exits 1.
    Fail,
    /// The rows load; the report counts them and shows a sample.
    Warn,
    /// The rows go to the quarantine table instead of their table, and the
    /// rows of child tables that point at them follow.
    Quarantine,
}

impl Policy {
    pub const NAMES: [&'static str; 3] = ["fail", "warn", "quarantine"];

    pub fn as_str(&self) -> &'static str {
        match self {
            Policy::Fail => "fail",
            Policy::Warn => "warn",
            Policy::Quarantine => "quarantine",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fail" => Some(Policy::Fail),
            "warn" => Some(Policy::Warn),
            "quarantine" => Some(Policy::Quarantine),
            _ => None,
        }
    }
}

/// One check of one table's transformed rows.
#[derive(Debug, Clone)]
pub struct CheckSpec {
    pub name: Ident,
    pub table: TableName,
    pub kind: CheckKind,
    pub policy: Policy,
}

/// What a check looks for. Numbers are kept as validated SQL literals.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    /// The source column's id must re-point through the keymap to exactly one
    /// target reference row: an orphan or an ambiguous natural key violates.
    References {
        keymap: Ident,
        column: Ident,
    },
    NotNull {
        column: Ident,
    },
    /// Unique among the loaded rows and the rows already in the target.
    Unique {
        column: Ident,
    },
    AcceptedValues {
        column: Ident,
        values: Vec<String>,
    },
    Range {
        column: Ident,
        min: Option<String>,
        max: Option<String>,
    },
    /// A DataFusion query over `source.<table>` / `output.<table>` returning
    /// the violating rows' key column.
    Sql {
        query: String,
    },
    /// The table after the load: at least `min_rows`, and/or no smaller than before.
    RowCount {
        min_rows: Option<u64>,
        not_shrink: bool,
    },
    /// Built in for a table with `identity`: a loaded row whose key the
    /// target holds with another identity.
    Identity {
        columns: Vec<Ident>,
    },
    /// The policy of the built-in fit check (values that the target column
    /// cannot store) for a table, or one of its columns; `fail` without one.
    Fit {
        column: Option<Ident>,
    },
}

impl CheckKind {
    pub const NAMES: [&'static str; 8] = [
        "fit",
        "references",
        "not_null",
        "unique",
        "accepted_values",
        "range",
        "sql",
        "row_count",
    ];

    /// The kind's name as the pipeline file writes it.
    pub fn name(&self) -> &'static str {
        match self {
            CheckKind::References { .. } => "references",
            CheckKind::NotNull { .. } => "not_null",
            CheckKind::Unique { .. } => "unique",
            CheckKind::AcceptedValues { .. } => "accepted_values",
            CheckKind::Range { .. } => "range",
            CheckKind::Sql { .. } => "sql",
            CheckKind::RowCount { .. } => "row_count",
            CheckKind::Identity { .. } => "identity",
            CheckKind::Fit { .. } => "fit",
        }
    }
}
