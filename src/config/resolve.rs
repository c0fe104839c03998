//! Raw → resolved: pick the env file, substitute `${VAR}`, validate every
//! field, and report every problem at once (Vector's habit). Pure apart from
//! reading files: no connection is opened here.

use std::path::{Path, PathBuf};

use super::env::{interpolate, EnvVars, InterpolateError};
use super::error::{ConfigError, Problem};
use super::load::{read_pipeline_files, LoadedFiles};
use super::model::{Keymap, Pipeline, SourceConfig, TargetConfig, Timeout};
use super::names::{Ident, QualifiedName};
use super::raw::{RawKey, RawKeymap};
use super::settings::{Bounded, BATCH_SIZE, READERS, SAMPLE_ROWS};
use super::url::{DatabaseUrl, DbKind};

const DEFAULT_BATCH_SIZE: usize = 50_000;
/// Two source connections per table: the source is read while the previous
/// pages are transformed and copied, without crowding a shared source.
const DEFAULT_READERS: usize = 2;

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

pub(super) struct Resolver<'a> {
    pub(super) top: PathBuf,
    pub(super) files: &'a LoadedFiles,
    pub(super) problems: Vec<Problem>,
    env: EnvVars,
}

impl Resolver<'_> {
    pub(super) fn problem_at(&mut self, needle: &str, message: impl Into<String>) {
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
    /// `file:line` of the first needle found: where an entry is declared.
    pub(super) fn origin(&self, needles: &[&str]) -> String {
        for needle in needles {
            if let (file, Some(line)) = self.files.locate(&self.top, needle) {
                return format!("{}:{line}", file.display());
            }
        }
        self.top.display().to_string()
    }

    pub(super) fn interp(&mut self, value: &str) -> String {
        let env = self.env.clone();
        match interpolate(value, &|n| env.get(n)) {
            Ok(v) => v,
            Err(InterpolateError::Unset(missing)) => {
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
            Err(InterpolateError::Unterminated) => {
                self.problem_at(
                    value,
                    "a `${` is not closed: write ${NAME} (or $${ for a literal ${)",
                );
                String::new()
            }
        }
    }

    /// The entries of a `[[kind]]` list in order, each name's first only: a
    /// name declared again is a problem at its entry, and that entry is
    /// left out.
    pub(super) fn first_of_each<'t, T>(
        &mut self,
        kind: &str,
        entries: &'t [T],
        name: impl Fn(&T) -> &str,
    ) -> Vec<&'t T> {
        let mut seen = std::collections::BTreeSet::new();
        let mut first = Vec::new();
        for entry in entries {
            let n = name(entry);
            if seen.insert(n) {
                first.push(entry);
            } else {
                self.problem_at(
                    &format!("\"{n}\""),
                    format!("{kind} `{n}` is declared twice"),
                );
            }
        }
        first
    }

    pub(super) fn ident(&mut self, value: &str, what: &str) -> Option<Ident> {
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
        let env = self.env.clone();
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let url = DatabaseUrl::parse(&value)
            .and_then(|u| u.with_env_defaults(&|n| env.get(n), home.as_deref()))
            .map_err(|e| self.problem_at(raw, format!("[{side}] url: {e}")))
            .ok()?;
        if let Some(problem) = url.tls_problem() {
            self.problem_at(raw, format!("[{side}] url: {problem}"));
            return None;
        }
        Some(url)
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
        let settings = self.files.raw.settings.as_ref();
        let (batch_size, readers) = (
            settings.and_then(|s| s.batch_size),
            settings.and_then(|s| s.readers),
        );
        let batch_size = self.bounded(BATCH_SIZE, batch_size, DEFAULT_BATCH_SIZE);
        let readers = self.bounded(READERS, readers, DEFAULT_READERS);
        // The source's SQL is generated in its own dialect; an unusable URL is
        // reported above, and the rest is still checked as if for Postgres.
        let source_kind = source_url.as_ref().map_or(DbKind::Postgres, |u| u.kind);
        let keymaps = self.keymaps(&reference, source_kind);
        let tables = self.tables(source_kind);
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
                app_ids_from: self.app_ids_from(target_raw.and_then(|t| t.app_ids_from)),
            },
            batch_size,
            readers,
            keymaps,
            tables,
            checks,
            sample_rows,
            mask_columns,
            warnings: self.env.warning.iter().cloned().collect(),
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

    fn app_ids_from(&mut self, value: Option<i64>) -> Option<i64> {
        let value = value?;
        if value < 2 {
            self.problem_at(
                "app_ids_from",
                format!("`app_ids_from` must be a whole number of 2 or more (found {value})"),
            );
            return None;
        }
        Some(value)
    }

    /// A bounded whole-number setting of `[settings]`, or its default.
    fn bounded(&mut self, rule: Bounded, value: Option<usize>, default: usize) -> usize {
        let value = value.unwrap_or(default);
        match rule.check(value as u64) {
            Ok(v) => v,
            Err(message) => {
                self.problem_at(rule.key, message);
                default
            }
        }
    }

    fn report_settings(&mut self) -> (usize, Vec<String>) {
        let settings = self.files.raw.settings.as_ref();
        let (sample, mask) = (
            settings.and_then(|s| s.sample_rows),
            settings.and_then(|s| s.mask_columns.clone()),
        );
        let sample = self.bounded(SAMPLE_ROWS, sample, 5);
        (sample, mask.unwrap_or_default())
    }

    fn keymaps(&mut self, reference: &str, source: DbKind) -> Vec<Keymap> {
        let raw: Vec<(String, &RawKeymap)> = self
            .files
            .raw
            .keymaps
            .iter()
            .map(|(k, v)| (k.clone(), v))
            .collect();
        raw.into_iter()
            .filter_map(|(name, km)| self.keymap(&name, km, reference, source))
            .collect()
    }

    /// A keymap; a query generated from `table` is written once for the
    /// source's database (`source`) and once for the target's (Postgres).
    fn keymap(
        &mut self,
        name: &str,
        km: &RawKeymap,
        reference: &str,
        source: DbKind,
    ) -> Option<Keymap> {
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
                let generate = |kind: DbKind| keymap_sql(kind, &table, &id, &keys_raw);
                Some((generate(source), generate(DbKind::Postgres)))
            }
            (None, _) => None,
        };
        let (generated_source, generated_target) = generated.unzip();
        let source_query = km
            .source_query
            .as_ref()
            .map(|q| self.interp(q))
            .or(generated_source);
        let target_query = km
            .target_query
            .as_ref()
            .map(|q| self.interp(q))
            .or(generated_target);
        match (source_query, target_query) {
            (Some(source_query), Some(target_query)) if keys.len() == keys_raw.len() => {
                Some(Keymap {
                    name: name_id,
                    source_query,
                    target_query,
                    keys,
                    origin: self
                        .origin(&[&format!("[keymaps.{name}]"), &format!("keymaps.{name}")]),
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
}

/// A keymap's query generated from its reference `table`, for a database
/// of `kind`: `id` and one column per key (its `expr`, else the column of
/// that name). A key's `expr` is the pipeline's SQL, passed as written.
fn keymap_sql(kind: DbKind, table: &QualifiedName, id: &Ident, keys: &[RawKey]) -> String {
    let cols: Vec<String> = keys
        .iter()
        .map(|k| {
            let name = kind.ident(&k.name);
            format!(
                "{} AS {name}",
                k.expr.clone().unwrap_or_else(|| name.clone())
            )
        })
        .collect();
    format!(
        "SELECT {} AS id, {} FROM {}",
        kind.ident(id.as_str()),
        cols.join(", "),
        kind.qualified(table)
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LoadMode;

    /// A folder with `pipelines/`, `envs/.env.t`, `migrations/` and the files given.
    fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for sub in ["pipelines", "envs", "migrations"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("folder");
        }
        std::fs::write(dir.path().join("envs/.env.t"), "URL=postgresql://u@h/db\n").expect("env");
        std::fs::write(dir.path().join("pipelines/t.sql"), "SELECT * FROM source.t").expect("sql");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("file");
        }
        dir
    }

    fn load(dir: &tempfile::TempDir, file: &str) -> Result<Pipeline, ConfigError> {
        load_pipeline(&dir.path().join(file), None)
    }

    #[test]
    fn every_problem_of_a_file_is_reported_at_once_with_its_line() {
        let dir = workspace(&[(
            "pipelines/p.toml",
            "env = \"t\"\n\
             [source]\nurl = \"${URL}\"\ntimezone = \"Mars/Olympus\"\n\
             [target]\nurl = \"${NOPE}\"\nlock_timeout = \"60\"\n\
             [settings]\nreaders = 0\n\
             [[tables]]\nname = \"t\"\nsource = \"a.t\"\nsql = \"t.sql\"\nmode = \"merge\"\n",
        )]);
        let e = load(&dir, "pipelines/p.toml").unwrap_err();
        let lines: Vec<(Option<usize>, &str)> = e
            .problems
            .iter()
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        let has = |line: usize, text: &str| {
            lines
                .iter()
                .any(|(l, m)| *l == Some(line) && m.contains(text))
        };
        assert!(has(6, "variable `NOPE` is not set"), "{lines:?}");
        assert!(has(4, "not an IANA zone"), "{lines:?}");
        assert!(has(7, "is not a duration"), "{lines:?}");
        assert!(
            has(9, "`readers` must be a whole number from 1 to 32 (found 0)"),
            "{lines:?}"
        );
        assert!(has(14, "mode `merge` is not one of"), "{lines:?}");
        assert_eq!(e.problems.len(), 5, "{lines:?}");
    }

    #[test]
    fn a_table_or_check_declared_twice_in_one_file_is_named() {
        let dir = workspace(&[(
            "pipelines/p.toml",
            "env = \"t\"\n\
             [source]\nurl = \"${URL}\"\n\
             [target]\nurl = \"${URL}\"\n\
             [[tables]]\nname = \"t\"\nsource = \"a.t\"\nsql = \"t.sql\"\n\
             [[tables]]\nname = \"t\"\nsource = \"a.u\"\nsql = \"t.sql\"\n\
             [[checks]]\nname = \"c\"\ntable = \"t\"\nkind = \"not_null\"\ncolumn = \"x\"\npolicy = \"warn\"\n\
             [[checks]]\nname = \"c\"\ntable = \"t\"\nkind = \"not_null\"\ncolumn = \"y\"\npolicy = \"warn\"\n",
        )]);
        let e = load(&dir, "pipelines/p.toml").unwrap_err();
        let messages: Vec<&str> = e.problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            ["table `t` is declared twice", "check `c` is declared twice"],
            "{messages:?}"
        );
    }

    #[test]
    fn an_including_file_overrides_its_include_field_by_field() {
        let dir = workspace(&[
            (
                "pipelines/shared.toml",
                "[source]\nurl = \"${URL}\"\ntimezone = \"Europe/London\"\n\
                 [target]\nurl = \"${URL}\"\nmigrations = \"../migrations\"\n\
                 [settings]\nbatch_size = 100\nreaders = 3\n\
                 [[tables]]\nname = \"t\"\nsource = \"a.t\"\nsql = \"t.sql\"\n\
                 [[checks]]\nname = \"c\"\ntable = \"t\"\nkind = \"not_null\"\ncolumn = \"x\"\npolicy = \"warn\"\n",
            ),
            (
                "pipelines/p.toml",
                "env = \"t\"\ninclude = [\"shared.toml\"]\n\
                 [settings]\nreaders = 4\n\
                 [[tables]]\nname = \"t\"\nmode = \"replace\"\n\
                 [[checks]]\nname = \"c\"\npolicy = \"fail\"\n",
            ),
        ]);
        let p = load(&dir, "pipelines/p.toml").expect("valid");
        assert_eq!((p.batch_size, p.readers), (100, 4));
        assert_eq!(p.source.timezone, chrono_tz::Europe::London);
        assert_eq!(p.tables.len(), 1);
        assert_eq!(p.tables[0].mode, LoadMode::Replace);
        assert_eq!(p.tables[0].source_query, "SELECT * FROM \"a\".\"t\"");
        assert_eq!(p.checks[0].policy, crate::config::Policy::Fail);
        assert!(matches!(
            p.checks[0].kind,
            crate::config::CheckKind::NotNull { .. }
        ));
        assert!(
            p.tables[0].origin.ends_with("p.toml:6"),
            "{}",
            p.tables[0].origin
        );
    }

    #[test]
    fn an_oracle_source_gets_oracle_sql_and_the_target_keeps_postgres() {
        let dir = workspace(&[(
            "pipelines/p.toml",
            "env = \"t\"\n\
             [source]\nurl = \"oracle://u:pw@h:1521/FREEPDB1\"\n\
             [target]\nurl = \"${URL}\"\nmigrations = \"../migrations\"\n\
             [keymaps.employee]\ntable = \"oracle_employee\"\n\
             [[keymaps.employee.keys]]\nname = \"mako_id\"\n\
             [[keymaps.employee.keys]]\nname = \"email\"\nexpr = \"lower(email)\"\n\
             [[tables]]\nname = \"t\"\nsource = \"pa_dealing.pad_request\"\nsql = \"t.sql\"\n",
        )]);
        let p = load(&dir, "pipelines/p.toml").expect("valid");
        assert_eq!(
            p.tables[0].source_query,
            "SELECT * FROM \"PA_DEALING\".\"PAD_REQUEST\""
        );
        let km = &p.keymaps[0];
        assert_eq!(
            km.source_query,
            "SELECT \"ID\" AS id, \"MAKO_ID\" AS \"MAKO_ID\", lower(email) AS \"EMAIL\" FROM \"BO_AIRFLOW\".\"ORACLE_EMPLOYEE\""
        );
        assert_eq!(
            km.target_query,
            "SELECT \"id\" AS id, \"mako_id\" AS \"mako_id\", lower(email) AS \"email\" FROM \"bo_airflow\".\"oracle_employee\""
        );
    }

    #[test]
    fn incremental_needs_one_of_key_or_column_and_a_duration() {
        let dir = workspace(&[
            ("pipelines/t.sql", "SELECT * FROM source.t"),
            (
                "pipelines/p.toml",
                "env = \"t\"\n[source]\nurl = \"postgresql://u@h/d\"\n[target]\nurl = \"postgresql://u@h/d\"\n\
                 [[tables]]\nname = \"t\"\nsource = \"a.t\"\nsql = \"t.sql\"\n\
                 incremental = { key = \"id\", column = \"updated_at\" }\n",
            ),
        ]);
        let e = load(&dir, "pipelines/p.toml").unwrap_err();
        assert!(e.to_string().contains("needs exactly one of"), "{e}");
    }

    #[test]
    fn an_include_cycle_is_refused_naming_the_file() {
        let dir = workspace(&[
            ("pipelines/a.toml", "env = \"t\"\ninclude = [\"b.toml\"]\n"),
            ("pipelines/b.toml", "include = [\"a.toml\"]\n"),
        ]);
        let e = load(&dir, "pipelines/a.toml").unwrap_err();
        assert!(
            e.problems
                .iter()
                .any(|p| p.message.contains("include cycle") && p.file.ends_with("a.toml")),
            "{e}"
        );
    }
}
