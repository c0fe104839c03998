//! The pipeline's `[[tables]]`, validated: where each table's rows come
//! from, its transform, load mode, how it shares the target with the app,
//! and how it is read incrementally.

use std::path::PathBuf;

use super::error::Problem;
use super::model::{Incremental, LoadMode, Policy, TableSpec, TargetChange};
use super::names::{Ident, QualifiedName};
use super::raw::{RawIncremental, RawTable};
use super::resolve::Resolver;
use super::url::DbKind;

impl Resolver<'_> {
    pub(super) fn tables(&mut self, source: DbKind) -> Vec<TableSpec> {
        let raw: Vec<RawTable> = self.files.raw.tables.clone();
        if raw.is_empty() {
            self.problems.push(Problem::new(
                &self.top,
                None,
                "no `[[tables]]`: nothing to move",
            ));
        }
        let mut out = Vec::new();
        for t in self.first_of_each("table", &raw, |t| &t.name) {
            if let Some(spec) = self.table(t, source) {
                out.push(spec);
            }
        }
        out
    }

    fn table(&mut self, t: &RawTable, source: DbKind) -> Option<TableSpec> {
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
                (
                    format!("SELECT * FROM {}", source.qualified(&q)),
                    q.to_string(),
                )
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
        let origin = self.origin(&[
            &format!("name = \"{}\"", t.name),
            &format!("\"{}\"", t.name),
        ]);
        let (identity, collision, on_target_change) = self.sharing(t)?;
        let incremental = match &t.incremental {
            Some(raw) => Some(self.incremental(&t.name, raw, source)?),
            None => None,
        };
        Some(TableSpec {
            name: name?,
            source_query,
            source_label,
            key: key?,
            transform_path,
            transform_sql,
            mode: mode?,
            origin,
            identity,
            collision,
            on_target_change,
            incremental,
        })
    }

    /// A table's `incremental`: exactly one of `key` or `column`, an
    /// overlap only with `column`, and a Postgres source.
    fn incremental(
        &mut self,
        table: &str,
        raw: &RawIncremental,
        source: DbKind,
    ) -> Option<Incremental> {
        let at = format!("\"{table}\"");
        let problem = |r: &mut Self, m: &str| {
            r.problem_at(&at, format!("table `{table}`: incremental: {m}"));
        };
        if source != DbKind::Postgres {
            problem(self, "is only supported for a Postgres source so far; leave it out to read the whole table");
            return None;
        }
        match (&raw.key, &raw.column, &raw.overlap) {
            (Some(key), None, None) => Some(Incremental::Key {
                column: self.ident(key, "incremental key")?,
            }),
            (None, Some(column), overlap) => {
                let overlap = overlap.as_deref().unwrap_or("0s");
                let Some(overlap_seconds) = parse_overlap(overlap) else {
                    problem(
                        self,
                        &format!("overlap `{overlap}` is not a duration like 30s, 5m, 1h or 1d"),
                    );
                    return None;
                };
                Some(Incremental::Column {
                    column: self.ident(column, "incremental column")?,
                    overlap_seconds,
                })
            }
            (Some(_), None, Some(_)) => {
                problem(self, "`overlap` goes with `column`, not with `key`");
                None
            }
            _ => {
                problem(
                    self,
                    "needs exactly one of `key = \"id\"` (a column that only grows) or `column = \"updated_at\"` (the time of every change)",
                );
                None
            }
        }
    }

    /// How a table shares the target with the app: its identity columns, what
    /// a collision does, what a change in the target does.
    fn sharing(&mut self, t: &RawTable) -> Option<(Vec<Ident>, Policy, TargetChange)> {
        let declared = t.identity.clone().unwrap_or_default();
        let identity: Vec<Ident> = declared
            .iter()
            .filter_map(|c| self.ident(c, &format!("table `{}` identity", t.name)))
            .collect();
        let collision_raw = t.collision.as_deref().unwrap_or("fail");
        let collision = match Policy::parse(collision_raw) {
            Some(p @ (Policy::Fail | Policy::Quarantine)) => Some(p),
            _ => {
                self.problem_at(
                    "collision",
                    format!(
                        "table `{}`: collision `{collision_raw}` must be fail or quarantine (a row that would overwrite another entity is never just loaded)",
                        t.name
                    ),
                );
                None
            }
        };
        let change_raw = t.on_target_change.as_deref().unwrap_or("fail");
        let on_target_change = TargetChange::parse(change_raw).or_else(|| {
            self.problem_at(
                "on_target_change",
                format!(
                    "table `{}`: on_target_change `{change_raw}` is not one of {}",
                    t.name,
                    TargetChange::NAMES.join(", ")
                ),
            );
            None
        });
        if identity.len() != declared.len() {
            return None;
        }
        Some((identity, collision?, on_target_change?))
    }
}

/// `30s`, `5m`, `1h`, `1d` → seconds.
fn parse_overlap(s: &str) -> Option<u64> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = n.parse().ok()?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overlap_is_a_number_and_a_unit() {
        assert_eq!(parse_overlap("5m"), Some(300));
        assert_eq!(parse_overlap("90s"), Some(90));
        assert_eq!(parse_overlap("2h"), Some(7200));
        assert_eq!(parse_overlap("5 minutes"), None);
    }
}
