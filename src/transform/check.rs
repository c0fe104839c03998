//! Checks over one page: each check kind becomes a DataFusion query that
//! returns the violating rows as `(key, detail)`.
//!
//! A page's checks see `source.<table>` (the page as read) and
//! `output.<table>` (the rows the transform would load, rejected rows
//! already removed). Uniqueness needs the whole table and what the target
//! already holds, so it runs on the staging table in Postgres (see
//! `load::stage_check`); row counts run after the load.

use crate::config::{CheckKind, CheckSpec, Ident, TableSpec};

use super::MATCHED;

/// `(key, detail)` query for a check evaluated page by page, or `None` for a
/// check that runs elsewhere (unique, row_count).
pub fn page_check_sql(check: &CheckSpec, spec: &TableSpec) -> Option<String> {
    let key = spec.key.quoted();
    let table = spec.name.as_str();
    let output = format!("output.{table}");
    let violating = |column: &Ident, condition: String, detail: String| {
        Some(format!(
            "SELECT CAST(o.{key} AS BIGINT) AS key, {detail} AS detail FROM {output} o WHERE {condition}",
            condition = condition.replace("{c}", &format!("o.{}", column.quoted())),
            detail = detail.replace("{c}", &format!("o.{}", column.quoted())),
        ))
    };
    let shown = |column: &Ident| {
        format!(
            "concat('{} = ', coalesce(CAST({{c}} AS VARCHAR), 'NULL'))",
            column.as_str()
        )
    };
    match &check.kind {
        CheckKind::References { keymap, column } => Some(format!(
            "SELECT CAST(o.{key} AS BIGINT) AS key, \
               concat('{col} ', CAST(s.{colq} AS VARCHAR), ': ', coalesce(k.status, 'not in the source''s {km}'), \
                      CASE WHEN k.status IS NOT NULL AND k.matched_by IS NOT NULL THEN concat(' by ', k.matched_by) ELSE '' END) AS detail \
             FROM {output} o JOIN source.{table} s ON s.{key} = o.{key} \
             LEFT JOIN keymap.{km} k ON k.source_id = s.{colq} \
             WHERE s.{colq} IS NOT NULL AND (k.status IS NULL OR k.status <> '{MATCHED}')",
            col = column.as_str(),
            colq = column.quoted(),
            km = keymap.as_str(),
        )),
        CheckKind::NotNull { column } => violating(
            column,
            "{c} IS NULL".into(),
            format!("'{} is NULL'", column.as_str()),
        ),
        CheckKind::AcceptedValues { column, values } => {
            let list: Vec<String> = values.iter().map(|v| sql_literal(v)).collect();
            violating(
                column,
                format!(
                    "{{c}} IS NOT NULL AND CAST({{c}} AS VARCHAR) NOT IN ({})",
                    list.join(", ")
                ),
                shown(column),
            )
        }
        CheckKind::Range { column, min, max } => {
            let mut outside = Vec::new();
            if let Some(min) = min {
                outside.push(format!("{{c}} < {min}"));
            }
            if let Some(max) = max {
                outside.push(format!("{{c}} > {max}"));
            }
            violating(column, format!("({})", outside.join(" OR ")), shown(column))
        }
        CheckKind::Sql { query } => Some(format!(
            "SELECT CAST(q.{key} AS BIGINT) AS key, 'returned by the check''s query' AS detail FROM ({query}) q"
        )),
        CheckKind::Unique { .. } | CheckKind::RowCount { .. } => None,
    }
}

/// Rows of a child page whose foreign key points at a quarantined parent row:
/// they follow their parent into quarantine.
pub fn follows_parent_sql(spec: &TableSpec, column: &str, parent: &str) -> String {
    let key = spec.key.quoted();
    format!(
        "SELECT CAST(o.{key} AS BIGINT) AS key, concat('{column} ', CAST(o.\"{column}\" AS VARCHAR), ': its {parent} row is quarantined') AS detail \
         FROM output.{table} o JOIN quarantined.{parent} q ON q.key = o.\"{column}\"",
        table = spec.name.as_str(),
    )
}

/// A SQL string literal.
fn sql_literal(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadMode, Policy};

    fn spec() -> TableSpec {
        TableSpec {
            name: Ident::parse("pad_request").unwrap(),
            source_query: String::new(),
            source_label: String::new(),
            key: Ident::parse("id").unwrap(),
            transform_path: "t.sql".into(),
            transform_sql: String::new(),
            mode: LoadMode::Upsert,
        }
    }

    fn check(kind: CheckKind) -> CheckSpec {
        CheckSpec {
            name: Ident::parse("c").unwrap(),
            table: Ident::parse("pad_request").unwrap(),
            kind,
            policy: Policy::Warn,
        }
    }

    #[test]
    fn accepted_values_are_quoted_literals() {
        let sql = page_check_sql(
            &check(CheckKind::AcceptedValues {
                column: Ident::parse("status").unwrap(),
                values: vec!["approved".into(), "it's".into()],
            }),
            &spec(),
        )
        .unwrap();
        assert!(sql.contains("NOT IN ('approved', 'it''s')"), "{sql}");
        assert!(sql.contains("o.\"status\" IS NOT NULL"), "{sql}");
    }

    #[test]
    fn a_range_may_be_open_on_one_side() {
        let sql = page_check_sql(
            &check(CheckKind::Range {
                column: Ident::parse("quantity").unwrap(),
                min: Some("0".into()),
                max: None,
            }),
            &spec(),
        )
        .unwrap();
        assert!(sql.contains("WHERE (o.\"quantity\" < 0)"), "{sql}");
    }

    #[test]
    fn unique_and_row_count_are_not_page_checks() {
        let unique = check(CheckKind::Unique {
            column: Ident::parse("reference_id").unwrap(),
        });
        assert!(page_check_sql(&unique, &spec()).is_none());
    }
}
