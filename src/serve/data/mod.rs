//! What the dashboard shows, read from the target: one model per page,
//! serialisable (the `/api/…` routes return the same values as JSON), each
//! read in one transaction of [`super::db`]. Employees and securities are
//! looked up in the target's reference tables *now*; a lookup that misses
//! keeps the row and its id.

pub(super) mod ledger;
pub(super) mod lists;
pub(super) mod overview;
pub(super) mod requests;

use serde::Serialize;
use serde_json::Value;
use tokio_postgres::Row;

use crate::config::Pipeline;

/// Rows per page of every list.
pub(super) const PAGE: i64 = 50;

/// The target's schemas, quoted for SQL.
#[derive(Clone)]
pub(super) struct Schemas {
    pub app: String,
    pub reference: String,
    /// Columns shown as `***`, also as keys inside JSON.
    pub mask: Vec<String>,
}

impl Schemas {
    pub fn of(pipeline: &Pipeline) -> Self {
        Schemas {
            app: pipeline.target.app_schema.quoted(),
            reference: pipeline.target.reference_schema.quoted(),
            mask: pipeline.mask_columns.clone(),
        }
    }

    /// `"app"."table"`.
    pub fn app(&self, table: &str) -> String {
        format!("{}.{}", self.app, crate::config::quote(table))
    }

    /// `"reference"."table"`.
    pub fn reference(&self, table: &str) -> String {
        format!("{}.{}", self.reference, crate::config::quote(table))
    }

    /// A JSON value with every key named in `mask_columns` masked, however
    /// deep; and text that is an e-mail address masked too.
    pub fn mask_json(&self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if self.mask.iter().any(|m| m == k) && !v.is_null() {
                        *v = Value::String(MASK.into());
                    } else {
                        self.mask_json(v);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.mask_json(v)),
            Value::String(s) if looks_like_email(s) => *s = MASK.into(),
            _ => {}
        }
    }
}

pub(super) const MASK: &str = "***";

/// Text that holds an e-mail address (`x@y.z`).
pub(super) fn looks_like_email(s: &str) -> bool {
    s.split_whitespace().any(|w| {
        w.split_once('@')
            .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'))
    })
}

/// A count of something by a key (a status, a severity, a table).
#[derive(Debug, Clone, Serialize)]
pub(super) struct Count {
    pub key: String,
    pub n: i64,
}

pub(super) fn counts(rows: &[Row]) -> Vec<Count> {
    rows.iter()
        .map(|r| Count {
            key: r.get(0),
            n: r.get(1),
        })
        .collect()
}

/// An employee as the target's reference data has them now.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Person {
    pub id: Option<i64>,
    /// `None` when the id has no row in the reference table.
    pub name: Option<String>,
    pub mako_id: Option<String>,
}

impl Person {
    /// Columns `id, name, mako_id` starting at `at`.
    pub fn from_row(row: &Row, at: usize) -> Self {
        Person {
            id: row.get(at),
            name: row.get(at + 1),
            mako_id: row.get(at + 2),
        }
    }

    /// `e.id`-based SQL columns for [`Person::from_row`]: the row's id
    /// column, then name and mako_id from the reference row `e`.
    pub fn columns(id: &str, e: &str) -> String {
        format!(
            "{id}, nullif(trim(concat_ws(' ', {e}.first_name, {e}.last_name)), ''), {e}.mako_id"
        )
    }
}

/// A security as the target's reference data has it now.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Security {
    pub id: Option<i64>,
    pub found: bool,
    pub ticker: Option<String>,
    pub isin: Option<String>,
    pub description: Option<String>,
}

impl Security {
    /// Columns `id, found, ticker, isin, description` starting at `at`.
    pub fn from_row(row: &Row, at: usize) -> Self {
        Security {
            id: row.get(at),
            found: row.get(at + 1),
            ticker: row.get(at + 2),
            isin: row.get(at + 3),
            description: row.get(at + 4),
        }
    }

    pub fn columns(id: &str, b: &str) -> String {
        format!("{id}, {b}.id IS NOT NULL, {b}.ticker, {b}.isin, {b}.description")
    }
}

/// A timestamp as the pages show it (UTC).
pub(super) fn ts(column: &str) -> String {
    format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')")
}

/// A numeric as text without trailing zeros.
pub(super) fn num(column: &str) -> String {
    format!("trim_scale({column})::text")
}

/// `%text%` for ILIKE, with the user's `%`, `_` and `\` taken literally.
pub(super) fn like(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schemas() -> Schemas {
        Schemas {
            app: "\"padealing\"".into(),
            reference: "\"bo_airflow\"".into(),
            mask: vec!["email".into(), "account_number".into()],
        }
    }

    #[test]
    fn masked_keys_and_emails_anywhere_in_json() {
        let mut v = serde_json::json!({
            "email": "a@b.com",
            "nested": {"account_number": "GB12", "note": "write to x.y@mako.com today"},
            "list": [{"email": null}, "plain"],
            "n": 1
        });
        schemas().mask_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({
                "email": "***",
                "nested": {"account_number": "***", "note": "***"},
                "list": [{"email": null}, "plain"],
                "n": 1
            })
        );
    }

    #[test]
    fn filters_match_literally() {
        assert_eq!(like("50%_a\\"), "%50\\%\\_a\\\\%");
        assert!(looks_like_email("bob.smith34@mako.com"));
        assert!(!looks_like_email("system"));
        assert!(!looks_like_email("@handle"));
    }
}
