//! SQL of the staging → target step. Built from catalog column names only,
//! every identifier quoted by [`quote`]. Pure functions, unit-tested without
//! a database.

use crate::config::{quote, QualifiedName};
use crate::schema::{literal, CatalogColumn};

/// The staging table `stage` in the session's temporary schema.
pub fn stage_table(stage: &str) -> String {
    format!("pg_temp.{}", quote(stage))
}

/// `CREATE TEMP TABLE` shaped like the target, dropped at commit or rollback.
pub fn create_stage_sql(stage: &str, table: &QualifiedName) -> String {
    format!(
        "CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP",
        quote(stage),
        table.quoted()
    )
}

/// `COPY relation (cols) FROM STDIN (FORMAT binary)`; `relation` is quoted.
pub fn copy_sql(relation: &str, columns: &[CatalogColumn]) -> String {
    format!(
        "COPY {relation} ({}) FROM STDIN (FORMAT binary)",
        column_list(columns, "")
    )
}

/// Upsert by `key` that touches only rows whose values differ, returning
/// `(inserted, updated)` so a second identical run reports zero changes.
/// A target row for which `guard` holds (changed in the target since padetl
/// wrote it) is left as it is, judged as it is when the merge reaches it.
pub fn merge_sql(
    stage: &str,
    table: &QualifiedName,
    key: &str,
    columns: &[CatalogColumn],
    guard: Option<&str>,
) -> String {
    let non_key: Vec<&CatalogColumn> = columns.iter().filter(|c| c.name != key).collect();
    let on_conflict = if non_key.is_empty() {
        "DO NOTHING".to_string()
    } else {
        let set: Vec<String> = non_key
            .iter()
            .map(|c| format!("{0} = EXCLUDED.{0}", quote(&c.name)))
            .collect();
        let guard = guard.map(|g| format!(" AND NOT {g}")).unwrap_or_default();
        format!(
            "DO UPDATE SET {} WHERE {}{guard}",
            set.join(", "),
            differs("t", "EXCLUDED", &non_key)
        )
    };
    format!(
        "WITH merged AS ({} ON CONFLICT ({}) {on_conflict} RETURNING (xmax = 0) AS inserted) \
         SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged",
        insert_from_stage(stage, &format!("{} AS t", table.quoted()), columns),
        quote(key)
    )
}

/// Every staged row into a table that was empty when the load began and is
/// locked against other writers since: no conflict is possible, so no
/// `ON CONFLICT`, and key order lets the table's index grow at its end.
pub fn bulk_insert_sql(
    stage: &str,
    table: &QualifiedName,
    key: &str,
    columns: &[CatalogColumn],
) -> String {
    format!(
        "{} ORDER BY {}",
        insert_from_stage(stage, &table.quoted(), columns),
        quote(key)
    )
}

/// `insert` mode: new keys only. Rows whose key exists are checked by
/// [`conflicts_sql`] first, so `DO NOTHING` skips only equal rows.
pub fn insert_sql(
    stage: &str,
    table: &QualifiedName,
    key: &str,
    columns: &[CatalogColumn],
) -> String {
    format!(
        "WITH ins AS ({} ON CONFLICT ({}) DO NOTHING RETURNING 1) SELECT count(*) FROM ins",
        insert_from_stage(stage, &table.quoted(), columns),
        quote(key)
    )
}

/// Staged rows whose key is already in the table with other values: how
/// many, and the first few keys.
pub fn conflicts_sql(
    stage: &str,
    table: &QualifiedName,
    key: &str,
    columns: &[CatalogColumn],
) -> String {
    let (differs, k) = (stage_row_differs(key, columns), quote(key));
    format!(
        "SELECT count(*) OVER (), s.{k}::text FROM {stage} s \
         JOIN {target} t ON t.{k} = s.{k} WHERE {differs} ORDER BY s.{k} LIMIT 5",
        stage = stage_table(stage),
        target = table.quoted()
    )
}

/// `replace` mode: rows whose key was not loaded, deleted; returns how many.
/// Keys from `app_ids_from` on are the app's: never deleted.
pub fn delete_missing_sql(
    stage: &str,
    table: &QualifiedName,
    key: &str,
    app_ids_from: Option<i64>,
) -> String {
    format!(
        "WITH gone AS (DELETE FROM {} RETURNING 1) SELECT count(*) FROM gone",
        not_staged(stage, table, key, app_ids_from)
    )
}

/// `replace` mode in `check`: how many rows the deletion would take.
pub fn count_missing_sql(
    stage: &str,
    table: &QualifiedName,
    key: &str,
    app_ids_from: Option<i64>,
) -> String {
    format!(
        "SELECT count(*) FROM {}",
        not_staged(stage, table, key, app_ids_from)
    )
}

/// `table t WHERE` its key is not staged (and is not the app's).
fn not_staged(stage: &str, table: &QualifiedName, key: &str, app_ids_from: Option<i64>) -> String {
    let k = quote(key);
    let apps = app_ids_from
        .map(|from| format!(" AND t.{k} < {from}"))
        .unwrap_or_default();
    format!(
        "{} t WHERE NOT EXISTS (SELECT 1 FROM {} s WHERE s.{k} = t.{k}){apps}",
        table.quoted(),
        stage_table(stage)
    )
}

/// What [`merge_sql`] would do, as `(inserted, updated)`, without writing.
pub fn dry_merge_sql(
    stage: &str,
    table: &QualifiedName,
    key: &str,
    columns: &[CatalogColumn],
    guard: Option<&str>,
) -> String {
    let (differs, k) = (stage_row_differs(key, columns), quote(key));
    let guard = guard.map(|g| format!(" AND NOT {g}")).unwrap_or_default();
    format!(
        "SELECT count(*) FILTER (WHERE t.{k} IS NULL), \
                count(*) FILTER (WHERE t.{k} IS NOT NULL AND {differs}{guard}) \
         FROM {stage} s LEFT JOIN {target} t ON t.{k} = s.{k}",
        stage = stage_table(stage),
        target = table.quoted()
    )
}

/// `verify`: an order-independent checksum (`count:sum of row hashes`) of
/// the staged rows' `columns` and of the same keys' rows in the table, and
/// the first keys that are missing from the table or differ.
pub fn compare_sql(
    stage: &str,
    table: &QualifiedName,
    key: &str,
    columns: &[CatalogColumn],
) -> String {
    let row = |alias: &str| {
        let cols: Vec<String> = columns.iter().map(|c| comparable(alias, c)).collect();
        format!(
            "hashtextextended(ROW({})::text, 0)::numeric",
            cols.join(", ")
        )
    };
    let (differs, k) = (stage_row_differs(key, columns), quote(key));
    format!(
        "SELECT (SELECT count(*)::text || ':' || coalesce(sum({s_row}), 0)::text FROM {stage} s), \
                (SELECT count(*)::text || ':' || coalesce(sum({t_row}), 0)::text FROM {target} t \
                   WHERE EXISTS (SELECT 1 FROM {stage} s WHERE s.{k} = t.{k})), \
                ARRAY(SELECT s.{k}::bigint FROM {stage} s LEFT JOIN {target} t ON t.{k} = s.{k} \
                      WHERE t.{k} IS NULL OR {differs} ORDER BY 1 LIMIT 5)",
        s_row = row("s"),
        t_row = row("t"),
        stage = stage_table(stage),
        target = table.quoted()
    )
}

/// A table row `t` differs from its staged row `s` in a non-key column.
pub fn stage_row_differs(key: &str, columns: &[CatalogColumn]) -> String {
    let non_key: Vec<&CatalogColumn> = columns.iter().filter(|c| c.name != key).collect();
    match non_key.is_empty() {
        true => "false".to_string(),
        false => differs("t", "s", &non_key),
    }
}

/// What to do with the rows a unique check finds on the stage.
#[derive(Debug, Clone, Copy)]
pub enum UniqueAction<'a> {
    /// Report only (`warn`, `fail`).
    Report,
    /// Take them out of the stage (`quarantine` in `check`: nothing kept).
    Unstage,
    /// Move them from the stage into this quarantine table (`$2` check,
    /// `$3` run id, `$4` table name).
    Quarantine(&'a QualifiedName),
}

/// What a stage check found: every violating key once, and its detail and
/// row as JSON for the first `$1` keys. `violations` is the check's query
/// over the stage, `(key, detail, other)`: `other`, when not NULL, is the
/// target's row the staged one is shown beside. Rows that move to
/// quarantine do so inside Postgres: only the first `$1` reach padetl.
pub fn stage_check_sql(
    stage: &str,
    key: &str,
    violations: &str,
    action: UniqueAction<'_>,
) -> String {
    let found = format!("v AS (SELECT DISTINCT ON (1) * FROM ({violations}) x ORDER BY 1)");
    let (stage_sql, k) = (stage_table(stage), quote(key));
    let row = "CASE WHEN v.other IS NULL THEN to_jsonb(s) \
               ELSE jsonb_build_object('incoming', to_jsonb(s), 'in_target', v.other) END";
    let moved = format!(
        "moved AS (DELETE FROM {stage_sql} s USING v WHERE s.{k} = v.key \
           RETURNING v.key, v.detail, {row} AS row)"
    );
    let rows = match action {
        UniqueAction::Report => format!(
            "r AS (SELECT v.key, v.detail, {row} AS row FROM v JOIN {stage_sql} s ON s.{k} = v.key)"
        ),
        UniqueAction::Unstage => format!("{moved}, r AS (SELECT * FROM moved)"),
        UniqueAction::Quarantine(q) => format!(
            "{moved}, kept AS ({}), r AS (SELECT * FROM moved)",
            super::quarantine::upsert_quarantine_sql(
                q,
                "SELECT $4, key, $2, detail, $3, row FROM moved"
            )
        ),
    };
    format!(
        "WITH {found}, {rows} \
         SELECT key, CASE WHEN n <= $1 THEN detail END, CASE WHEN n <= $1 THEN row::text END \
         FROM (SELECT r.*, row_number() OVER (ORDER BY key) AS n FROM r) x ORDER BY key"
    )
}

/// `(old cols) IS DISTINCT FROM (new cols)`: NULL-safe, all columns at once.
fn differs(old: &str, new: &str, columns: &[&CatalogColumn]) -> String {
    let side = |alias: &str| {
        columns
            .iter()
            .map(|c| comparable(alias, c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) IS DISTINCT FROM ({})", side(old), side(new))
}

/// `json` has no equality operator; compare its text instead.
fn comparable(alias: &str, c: &CatalogColumn) -> String {
    match c.typname.as_str() {
        "json" => format!("{alias}.{}::text", quote(&c.name)),
        _ => format!("{alias}.{}", quote(&c.name)),
    }
}

/// `INSERT INTO target (cols) SELECT cols FROM` the stage, which every way
/// of moving staged rows into the table starts with; `target` is SQL.
fn insert_from_stage(stage: &str, target: &str, columns: &[CatalogColumn]) -> String {
    let cols = column_list(columns, "");
    format!(
        "INSERT INTO {target} ({cols}) SELECT {cols} FROM {}",
        stage_table(stage)
    )
}

fn column_list(columns: &[CatalogColumn], prefix: &str) -> String {
    columns
        .iter()
        .map(|c| format!("{prefix}{}", quote(&c.name)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Moves `table`'s identity/serial sequence past the largest `key` and, with
/// `app_ids_from`, to at least that: never back.
pub fn bump_sequence_sql(table: &QualifiedName, key: &str, app_ids_from: Option<i64>) -> String {
    let t = table.quoted();
    let floor = app_ids_from.map_or("NULL".to_string(), |f| (f - 1).to_string());
    format!(
        "SELECT setval(s.seq, m.next) FROM \
           (SELECT pg_get_serial_sequence({lit}, {key_lit}) AS seq) s, \
           (SELECT greatest(max({k}), {floor}) AS next FROM {t}) m \
         WHERE s.seq IS NOT NULL AND m.next IS NOT NULL \
           AND m.next > coalesce(pg_sequence_last_value(s.seq::regclass), 0)",
        lit = literal(&t),
        key_lit = literal(key),
        k = quote(key)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::QualifiedName;

    fn col(name: &str, typname: &str) -> CatalogColumn {
        CatalogColumn {
            name: name.into(),
            typname: typname.into(),
            typmod: -1,
            not_null: false,
            checks: vec![],
        }
    }

    #[test]
    fn merge_updates_only_changed_rows() {
        let t = QualifiedName::parse("padealing.pad_request").unwrap();
        let sql = merge_sql(
            "stage",
            &t,
            "id",
            &[
                col("id", "int8"),
                col("status", "text"),
                col("details", "json"),
            ],
            Some("(guarded)"),
        );
        assert!(sql.contains("ON CONFLICT (\"id\") DO UPDATE SET \"status\" = EXCLUDED.\"status\""));
        assert!(sql.contains("IS DISTINCT FROM (EXCLUDED.\"status\", EXCLUDED.\"details\"::text)"));
        assert!(!sql.contains("SET \"id\""));
        assert!(
            sql.contains("EXCLUDED.\"details\"::text) AND NOT (guarded)"),
            "{sql}"
        );
        let key_only = merge_sql("stage", &t, "id", &[col("id", "int8")], None);
        assert!(key_only.contains("DO NOTHING"));
    }
}
