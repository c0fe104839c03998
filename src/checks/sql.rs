//! The checks' SQL. Page checks are DataFusion queries that return the
//! violating rows as `(key, detail)`; they see `source.<table>` (the page
//! as read) and `output.<table>` (the rows the transform would load,
//! rejected rows already removed). Uniqueness needs the whole table and what
//! the target already holds, so it is Postgres SQL over the load's staging
//! table ([`unique_violations_sql`]); row counts run after the load.

use crate::config::{quote, CheckKind, CheckSpec, Ident, QualifiedName, TableSpec};
use crate::transform::MATCHED;

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
        CheckKind::Unique { .. }
        | CheckKind::RowCount { .. }
        | CheckKind::Identity { .. }
        | CheckKind::Fit { .. } => None,
    }
}

/// Rows of a child page whose foreign key points at a quarantined parent row:
/// they follow their parent into quarantine.
pub fn follows_parent_sql(spec: &TableSpec, column: &str, parent: &str) -> String {
    let (key, c) = (spec.key.quoted(), quote(column));
    let label = sql_literal(&format!("{column} "));
    let reason = sql_literal(&format!(": its {parent} row is quarantined"));
    format!(
        "SELECT CAST(o.{key} AS BIGINT) AS key, concat({label}, CAST(o.{c} AS VARCHAR), {reason}) AS detail \
         FROM output.{table} o JOIN quarantined.{parent} q ON q.key = o.{c}",
        table = spec.name.as_str(),
    )
}

/// Staged rows whose `column` is staged more than once, or is held by a
/// table row of another key that the load leaves as it is: `(key, detail)`.
/// Postgres SQL over the load's staging table `stage` (in `pg_temp`).
pub fn unique_violations_sql(
    stage: &str,
    table: &QualifiedName,
    key: &str,
    column: &str,
) -> String {
    let (k, c, label) = (
        quote(key),
        quote(column),
        sql_literal(&format!("{column} = ")),
    );
    let stage = format!("pg_temp.{}", quote(stage));
    format!(
        "SELECT s.{k}::bigint AS key, concat({label}, s.{c}::text, ' is loaded ', d.n, ' times') AS detail, NULL::jsonb AS other \
           FROM {stage} s JOIN (SELECT {c} AS v, count(*) AS n FROM {stage} \
             WHERE {c} IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d ON d.v = s.{c} \
         UNION ALL \
         SELECT s.{k}::bigint, concat({label}, s.{c}::text, ' is already in the table, key ', t.{k}::text), NULL::jsonb \
           FROM {stage} s JOIN {target} t ON t.{c} = s.{c} AND t.{k} <> s.{k} \
          WHERE NOT EXISTS (SELECT 1 FROM {stage} s2 WHERE s2.{k} = t.{k} \
                              AND s2.{c} IS DISTINCT FROM t.{c}) \
         ORDER BY 1",
        target = table.quoted()
    )
}

/// Staged rows whose key the target holds as another entity (its `columns`
/// differ): `(key, detail, the target's row)`. Such a row is never an
/// update: the target's row is someone else's (the app's, most likely).
pub fn identity_violations_sql(
    stage: &str,
    table: &QualifiedName,
    key: &str,
    columns: &[Ident],
) -> String {
    let k = quote(key);
    let side = |alias: &str| {
        let cols: Vec<String> = columns
            .iter()
            .map(|c| format!("{alias}.{}", c.quoted()))
            .collect();
        cols.join(", ")
    };
    let names: Vec<&str> = columns.iter().map(Ident::as_str).collect();
    let label = sql_literal(&format!(" is ({}) ", names.join(", ")));
    format!(
        "SELECT s.{k}::bigint AS key, \
                concat('key ', s.{k}::text, {label}, ROW({s})::text, ' here but ', ROW({t})::text, ' in the target') AS detail, \
                to_jsonb(t) AS other \
         FROM pg_temp.{stage} s JOIN {target} t ON t.{k} = s.{k} \
         WHERE ({s}) IS DISTINCT FROM ({t}) ORDER BY 1",
        s = side("s"),
        t = side("t"),
        stage = quote(stage),
        target = table.quoted()
    )
}

/// A SQL string literal.
fn sql_literal(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::config::{LoadMode, Policy};

    pub(in crate::checks) fn spec() -> TableSpec {
        TableSpec {
            name: Ident::parse("pad_request").unwrap(),
            source_query: String::new(),
            source_label: String::new(),
            key: Ident::parse("id").unwrap(),
            transform_path: "t.sql".into(),
            transform_sql: String::new(),
            mode: LoadMode::Upsert,
            origin: "p.toml:1".into(),
            identity: vec![],
            collision: Policy::Fail,
            on_target_change: crate::config::TargetChange::Fail,
            incremental: None,
        }
    }

    pub(in crate::checks) fn check(kind: CheckKind) -> CheckSpec {
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
