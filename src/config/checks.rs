//! The pipeline's `[[checks]]`, validated: each needs a known table, a
//! policy, and the fields of its kind.

use super::model::{CheckKind, CheckSpec, Keymap, Policy, TableSpec};
use super::names::Ident;
use super::raw::{RawCheck, RawNumber};
use super::resolve::Resolver;

impl Resolver<'_> {
    pub(super) fn checks(&mut self, tables: &[TableSpec], keymaps: &[Keymap]) -> Vec<CheckSpec> {
        let raw = self.files.raw.checks.clone();
        let mut out = Vec::new();
        for c in self.first_of_each("check", &raw, |c| &c.name) {
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
            "fit" => {
                if policy == Policy::Warn {
                    problem(
                        self,
                        "a value that does not fit its column cannot be stored, so `warn` would lose it; use fail or quarantine (or round it in the transform SQL: docs/checks.md)".into(),
                    );
                    return None;
                }
                let column = match &c.column {
                    Some(col) => Some(self.ident(col, "check column")?),
                    None => None,
                };
                CheckKind::Fit { column }
            }
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
}
