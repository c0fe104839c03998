//! Raw → resolved: pick the env file, substitute `${VAR}`, validate every
//! field, and report every problem at once (Vector's habit). Pure apart from
//! reading files: no connection is opened here.

use std::path::{Path, PathBuf};

use super::env::{interpolate, EnvVars};
use super::error::{ConfigError, Problem};
use super::load::{read_pipeline_files, LoadedFiles};
use super::model::{
    CheckKind, CheckSpec, Keymap, LoadMode, Pipeline, Policy, SourceConfig, TableSpec,
    TargetConfig, Timeout,
};
use super::names::{Ident, QualifiedName};
use super::raw::{RawCheck, RawKeymap, RawNumber, RawTable};
use super::url::DatabaseUrl;

const DEFAULT_BATCH_SIZE: usize = 50_000;
/// Two source connections per table: the source is read while the previous
/// pages are transformed and copied, without crowding a shared source.
const DEFAULT_READERS: usize = 2;
const MAX_READERS: usize = 32;

/// Loads, merges, interpolates and validates a pipeline file.
/// `env_file` replaces the conventional `envs/.env.<env>` next to `pipelines/`.
pub fn load_pipeline(path: &Path, env_file: Option<&Path>) -> Result<Pipeline, ConfigError> {
    let files = read_pipeline_files(path)?;
    let mut r = Resolver {
        top: path.to_path_buf(),
        files: &files,
        problems: Vec::new(),
        env: EnvVars::default(),
    };
    let (env, env_file) = r.env(env_file).ok_or_else(|| ConfigError {
        problems: r.problems.clone(),
    })?;
    let pipeline = r.pipeline(env, env_file);
    match pipeline {
        Some(p) if r.problems.is_empty() => Ok(p),
        _ => Err(ConfigError {
            problems: r.problems,
        }),
    }
}

struct Resolver<'a> {
    top: PathBuf,
    files: &'a LoadedFiles,
    problems: Vec<Problem>,
    env: EnvVars,
}

impl Resolver<'_> {
    fn problem_at(&mut self, needle: &str, message: impl Into<String>) {
        let (file, line) = self.files.locate(&self.top, needle);
        self.problems.push(Problem::new(&file, line, message));
    }

    fn env(&mut self, env_file: Option<&Path>) -> Option<(String, PathBuf)> {
        let Some(env) = self.files.raw.env.clone() else {
            self.problems.push(Problem::new(
                &self.top,
                None,
                "missing `env = \"…\"` (dev, qa, prod, …)",
            ));
            return None;
        };
        let path = match env_file {
            Some(p) => p.to_path_buf(),
            None => default_env_dir(&self.top).join(format!(".env.{env}")),
        };
        if !path.is_file() {
            let msg = match env_file {
                Some(_) => format!("env file {} does not exist", path.display()),
                None => unknown_env_message(&env, &path),
            };
            self.problem_at("env", msg);
            return None;
        }
        match EnvVars::from_file(&path) {
            Ok(vars) => self.env = vars,
            Err(e) => {
                self.problems.push(Problem::new(&path, None, e));
                return None;
            }
        }
        Some((env, path))
    }

    /// Substitutes variables; an unset one is reported where it is written.
    fn interp(&mut self, value: &str) -> String {
        let env = self.env.clone();
        match interpolate(value, &|n| env.get(n)) {
            Ok(v) => v,
            Err(missing) => {
                for name in missing {
                    self.problem_at(
                        &format!("${{{name}"),
                        format!(
                            "variable `{name}` is not set (in the env file or the environment)"
                        ),
                    );
                }
                String::new()
            }
        }
    }

    fn ident(&mut self, value: &str, what: &str) -> Option<Ident> {
        Ident::parse(value)
            .map_err(|e| self.problem_at(value, format!("{what}: {e}")))
            .ok()
    }

    fn url(&mut self, raw: Option<&String>, side: &str) -> Option<DatabaseUrl> {
        let Some(raw) = raw else {
            self.problems.push(Problem::new(
                &self.top,
                None,
                format!("missing `[{side}] url`"),
            ));
            return None;
        };
        let value = self.interp(raw);
        if value.is_empty() {
            return None;
        }
        DatabaseUrl::parse(&value)
            .map_err(|e| self.problem_at(raw, format!("[{side}] url: {e}")))
            .ok()
    }

    fn pipeline(&mut self, env: String, env_file: PathBuf) -> Option<Pipeline> {
        let raw = &self.files.raw;
        let (source_raw, target_raw) = (raw.source.as_ref(), raw.target.as_ref());
        let source_url = self.url(source_raw.and_then(|s| s.url.as_ref()), "source");
        let target_url = self.url(target_raw.and_then(|t| t.url.as_ref()), "target");
        let tz_raw = source_raw
            .and_then(|s| s.timezone.clone())
            .unwrap_or_else(|| "UTC".into());
        let tz_value = self.interp(&tz_raw);
        let timezone = tz_value.parse::<chrono_tz::Tz>().map_err(|_| {
            self.problem_at(
                &tz_raw,
                format!("[source] timezone `{tz_value}` is not an IANA zone (e.g. Europe/London)"),
            )
        });
        let app = target_raw
            .and_then(|t| t.app_schema.clone())
            .unwrap_or_else(|| "padealing".into());
        let reference = target_raw
            .and_then(|t| t.reference_schema.clone())
            .unwrap_or_else(|| "bo_airflow".into());
        let app_schema = self.ident(&app, "[target] app_schema");
        let reference_schema = self.ident(&reference, "[target] reference_schema");
        if app == reference {
            self.problem_at("app_schema", "[target] app_schema and reference_schema must differ: the reference schema is never written");
        }
        let migrations_dir = self.migrations_dir(target_raw.and_then(|t| t.migrations.clone()));
        let lock_timeout = self.timeout(
            target_raw.and_then(|t| t.lock_timeout.clone()),
            "lock_timeout",
            "60s",
        );
        let statement_timeout = self.timeout(
            target_raw.and_then(|t| t.statement_timeout.clone()),
            "statement_timeout",
            "1h",
        );
        let batch_size = self.batch_size();
        let readers = self.readers();
        let keymaps = self.keymaps(&reference);
        let tables = self.tables();
        let checks = self.checks(&tables, &keymaps);
        let (sample_rows, mask_columns) = self.report_settings();
        let name = self
            .top
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Some(Pipeline {
            path: self.top.clone(),
            name,
            env,
            env_file,
            description: raw.description.clone(),
            confirm: raw.confirm.unwrap_or(false),
            source: SourceConfig {
                url: source_url?,
                timezone: timezone.ok()?,
            },
            target: TargetConfig {
                url: target_url?,
                app_schema: app_schema?,
                reference_schema: reference_schema?,
                migrations_dir,
                lock_timeout: lock_timeout?,
                statement_timeout: statement_timeout?,
            },
            batch_size,
            readers,
            keymaps,
            tables,
            checks,
            sample_rows,
            mask_columns,
        })
    }

    fn timeout(&mut self, raw: Option<String>, key: &str, default: &str) -> Option<Timeout> {
        let raw = raw.unwrap_or_else(|| default.to_string());
        let value = self.interp(&raw);
        Timeout::parse(&value)
            .map_err(|e| self.problem_at(key, format!("[target] {key}: {e}")))
            .ok()
    }

    fn migrations_dir(&mut self, raw: Option<String>) -> PathBuf {
        let dir = raw
            .map(PathBuf::from)
            .unwrap_or_else(|| default_env_dir(&self.top).with_file_name("migrations"));
        if !dir.is_dir() {
            self.problem_at(
                "migrations",
                format!("migrations folder {} does not exist", dir.display()),
            );
        }
        dir
    }

    fn batch_size(&mut self) -> usize {
        let size = self
            .files
            .raw
            .settings
            .as_ref()
            .and_then(|s| s.batch_size)
            .unwrap_or(DEFAULT_BATCH_SIZE);
        if !(1..=10_000_000).contains(&size) {
            self.problem_at(
                "batch_size",
                format!("batch_size {size} must be between 1 and 10000000"),
            );
        }
        size
    }

    fn readers(&mut self) -> usize {
        let readers = self
            .files
            .raw
            .settings
            .as_ref()
            .and_then(|s| s.readers)
            .unwrap_or(DEFAULT_READERS);
        if !(1..=MAX_READERS).contains(&readers) {
            self.problem_at(
                "readers",
                format!("readers {readers} must be between 1 and {MAX_READERS}"),
            );
        }
        readers
    }

    fn report_settings(&mut self) -> (usize, Vec<String>) {
        let settings = self.files.raw.settings.as_ref();
        let sample = settings.and_then(|s| s.sample_rows).unwrap_or(5);
        let mask = settings
            .and_then(|s| s.mask_columns.clone())
            .unwrap_or_default();
        if sample > 1000 {
            self.problem_at(
                "sample_rows",
                format!("sample_rows {sample} must be at most 1000"),
            );
        }
        (sample, mask)
    }

    fn checks(&mut self, tables: &[TableSpec], keymaps: &[Keymap]) -> Vec<CheckSpec> {
        let raw = self.files.raw.checks.clone();
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for c in &raw {
            if !seen.insert(c.name.clone()) {
                self.problem_at(
                    &format!("\"{}\"", c.name),
                    format!("check `{}` is declared twice", c.name),
                );
                continue;
            }
            if let Some(check) = self.check(c, tables, keymaps) {
                out.push(check);
            }
        }
        out
    }

    fn check(
        &mut self,
        c: &RawCheck,
        tables: &[TableSpec],
        keymaps: &[Keymap],
    ) -> Option<CheckSpec> {
        let at = format!("\"{}\"", c.name);
        let name = self.ident(&c.name, "check name")?;
        let problem = |r: &mut Self, message: String| {
            r.problem_at(&at, format!("check `{}`: {message}", c.name));
        };
        let Some(table) = &c.table else {
            problem(self, "needs `table`".into());
            return None;
        };
        if !tables.iter().any(|t| t.name.as_str() == table) {
            problem(
                self,
                format!("table `{table}` is not one of the pipeline's [[tables]]"),
            );
            return None;
        }
        let table = self.ident(table, "check table")?;
        let policy_raw = c.policy.as_deref().unwrap_or("fail");
        let Some(policy) = Policy::parse(policy_raw) else {
            problem(
                self,
                format!(
                    "policy `{policy_raw}` is not one of {}",
                    Policy::NAMES.join(", ")
                ),
            );
            return None;
        };
        let kind_raw = c.kind.as_deref().unwrap_or("");
        let column = |r: &mut Self| -> Option<Ident> {
            match &c.column {
                Some(col) => r.ident(col, "check column"),
                None => {
                    r.problem_at(
                        &at,
                        format!("check `{}`: kind `{kind_raw}` needs `column`", c.name),
                    );
                    None
                }
            }
        };
        let kind = match kind_raw {
            "references" => {
                let column = column(self)?;
                let Some(km) = c.keymap.as_deref() else {
                    problem(self, "kind `references` needs `keymap`".into());
                    return None;
                };
                if !keymaps.iter().any(|k| k.name.as_str() == km) {
                    problem(self, format!("keymap `{km}` is not declared in [keymaps]"));
                    return None;
                }
                CheckKind::References {
                    keymap: self.ident(km, "keymap")?,
                    column,
                }
            }
            "not_null" => CheckKind::NotNull {
                column: column(self)?,
            },
            "unique" => CheckKind::Unique {
                column: column(self)?,
            },
            "accepted_values" => {
                let column = column(self)?;
                let Some(values) = c.values.clone().filter(|v| !v.is_empty()) else {
                    problem(
                        self,
                        "kind `accepted_values` needs `values = [\"…\"]`".into(),
                    );
                    return None;
                };
                CheckKind::AcceptedValues { column, values }
            }
            "range" => {
                let column = column(self)?;
                let literal = |n: RawNumber| match n {
                    RawNumber::Int(i) => i.to_string(),
                    RawNumber::Float(f) => format!("{f:?}"),
                };
                if c.min.is_none() && c.max.is_none() {
                    problem(self, "kind `range` needs `min`, `max` or both".into());
                    return None;
                }
                CheckKind::Range {
                    column,
                    min: c.min.map(literal),
                    max: c.max.map(literal),
                }
            }
            "sql" => match &c.sql {
                Some(q) => CheckKind::Sql {
                    query: self.interp(q),
                },
                None => {
                    problem(
                        self,
                        "kind `sql` needs `sql = \"SELECT <key> FROM …\"`".into(),
                    );
                    return None;
                }
            },
            "row_count" => {
                if policy == Policy::Quarantine {
                    problem(
                        self,
                        "a `row_count` check has no rows to quarantine; use fail or warn".into(),
                    );
                    return None;
                }
                if c.min_rows.is_none() && c.not_shrink.is_none() {
                    problem(
                        self,
                        "kind `row_count` needs `min_rows`, `not_shrink = true` or both".into(),
                    );
                    return None;
                }
                CheckKind::RowCount {
                    min_rows: c.min_rows,
                    not_shrink: c.not_shrink.unwrap_or(false),
                }
            }
            other => {
                problem(
                    self,
                    format!(
                        "kind `{other}` is not one of {}",
                        CheckKind::NAMES.join(", ")
                    ),
                );
                return None;
            }
        };
        Some(CheckSpec {
            name,
            table,
            kind,
            policy,
        })
    }

    fn keymaps(&mut self, reference: &str) -> Vec<Keymap> {
        let raw: Vec<(String, &RawKeymap)> = self
            .files
            .raw
            .keymaps
            .iter()
            .map(|(k, v)| (k.clone(), v))
            .collect();
        raw.into_iter()
            .filter_map(|(name, km)| self.keymap(&name, km, reference))
            .collect()
    }

    fn keymap(&mut self, name: &str, km: &RawKeymap, reference: &str) -> Option<Keymap> {
        let name_id = self.ident(name, "keymap name")?;
        let keys_raw = km.keys.clone().unwrap_or_default();
        if keys_raw.is_empty() {
            self.problem_at(
                &format!("keymaps.{name}"),
                format!("keymap `{name}` needs at least one `[[keymaps.{name}.keys]]`"),
            );
            return None;
        }
        let keys: Vec<Ident> = keys_raw
            .iter()
            .filter_map(|k| self.ident(&k.name, "key name"))
            .collect();
        let generated = match (&km.table, &km.id) {
            (Some(table), id) => {
                let table = QualifiedName::new(
                    self.ident(reference, "reference schema")?,
                    self.ident(table, "keymap table")?,
                );
                let id = self.ident(id.as_deref().unwrap_or("id"), "keymap id")?;
                let cols: Vec<String> = keys_raw
                    .iter()
                    .map(|k| {
                        format!(
                            "{} AS \"{}\"",
                            k.expr.clone().unwrap_or_else(|| format!("\"{}\"", k.name)),
                            k.name
                        )
                    })
                    .collect();
                Some(format!(
                    "SELECT {} AS id, {} FROM {}",
                    id.quoted(),
                    cols.join(", "),
                    table.quoted()
                ))
            }
            (None, _) => None,
        };
        let source_query = km
            .source_query
            .as_ref()
            .map(|q| self.interp(q))
            .or_else(|| generated.clone());
        let target_query = km
            .target_query
            .as_ref()
            .map(|q| self.interp(q))
            .or(generated);
        match (source_query, target_query) {
            (Some(source_query), Some(target_query)) if keys.len() == keys_raw.len() => {
                Some(Keymap {
                    name: name_id,
                    source_query,
                    target_query,
                    keys,
                })
            }
            (Some(_), Some(_)) => None,
            _ => {
                self.problem_at(
                    &format!("keymaps.{name}"),
                    format!(
                        "keymap `{name}` needs `table` or both `source_query` and `target_query`"
                    ),
                );
                None
            }
        }
    }

    fn tables(&mut self) -> Vec<TableSpec> {
        let raw: Vec<RawTable> = self.files.raw.tables.clone();
        if raw.is_empty() {
            self.problems.push(Problem::new(
                &self.top,
                None,
                "no `[[tables]]`: nothing to move",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for t in &raw {
            if !seen.insert(t.name.clone()) {
                self.problem_at(
                    &format!("\"{}\"", t.name),
                    format!("table `{}` is declared twice", t.name),
                );
                continue;
            }
            if let Some(spec) = self.table(t) {
                out.push(spec);
            }
        }
        out
    }

    fn table(&mut self, t: &RawTable) -> Option<TableSpec> {
        let name = self.ident(&t.name, "table name");
        let mode_raw = t.mode.as_deref().unwrap_or("upsert");
        let mode = LoadMode::parse(mode_raw).or_else(|| {
            self.problem_at(
                &format!("\"{mode_raw}\""),
                format!(
                    "table `{}`: mode `{mode_raw}` is not one of {}",
                    t.name,
                    LoadMode::NAMES.join(", ")
                ),
            );
            None
        });
        let key = self.ident(t.key.as_deref().unwrap_or("id"), "table key");
        let (source_query, source_label) = match (&t.source, &t.query) {
            (Some(src), None) => {
                let q = QualifiedName::parse(src)
                    .map_err(|e| self.problem_at(src, format!("table `{}` source: {e}", t.name)))
                    .ok()?;
                (format!("SELECT * FROM {}", q.quoted()), q.to_string())
            }
            (None, Some(query)) => (self.interp(query), format!("query for {}", t.name)),
            _ => {
                self.problem_at(
                    &format!("\"{}\"", t.name),
                    format!(
                        "table `{}` needs exactly one of `source` or `query`",
                        t.name
                    ),
                );
                return None;
            }
        };
        let Some(sql) = &t.sql else {
            self.problem_at(
                &format!("\"{}\"", t.name),
                format!("table `{}` needs `sql`: the transform file", t.name),
            );
            return None;
        };
        let transform_path = PathBuf::from(sql);
        let transform_sql = match std::fs::read_to_string(&transform_path) {
            Ok(sql) => sql,
            Err(e) => {
                let file_name = transform_path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                self.problem_at(
                    &file_name,
                    format!(
                        "table `{}`: cannot read transform {}: {e}",
                        t.name,
                        transform_path.display()
                    ),
                );
                return None;
            }
        };
        Some(TableSpec {
            name: name?,
            source_query,
            source_label,
            key: key?,
            transform_path,
            transform_sql,
            mode: mode?,
        })
    }
}

/// `pipelines/qa.toml` → `envs/` beside `pipelines/`.
fn default_env_dir(pipeline: &Path) -> PathBuf {
    let dir = pipeline.parent().unwrap_or(Path::new("."));
    let base = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    base.join("..").join("envs")
}

fn unknown_env_message(env: &str, expected: &Path) -> String {
    let dir = expected.parent().unwrap_or(Path::new("envs"));
    let mut known: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter_map(|n| {
                    n.strip_prefix(".env.")
                        .map(|r| r.trim_end_matches(".example").to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    known.sort();
    known.dedup();
    let example = expected.with_file_name(format!(".env.{env}.example"));
    let hint = if example.is_file() {
        format!(
            "; copy {} to {} and fill it in",
            example.display(),
            expected.display()
        )
    } else {
        String::new()
    };
    format!(
        "unknown env `{env}`: {} does not exist (known: {}){hint}",
        expected.display(),
        known.join(", ")
    )
}
