//! The quarantine table: rows a `quarantine` check took out of the load,
//! kept in the app schema with the check, the reason, the run and the row.
//!
//! Keyed by (table, row key, check): a second run that quarantines the same
//! row for the same reason changes nothing.

use tokio_postgres::Client;

use super::LoadError;
use crate::checks::QuarantinedRow;
use crate::config::QualifiedName;

/// padetl's own table in the app schema, beside the schema history.
pub const QUARANTINE_TABLE: &str = "padetl_quarantine";

/// `<app schema>.padetl_quarantine`.
pub fn quarantine_table(app_schema: &str) -> Result<QualifiedName, LoadError> {
    QualifiedName::parse(&format!("{app_schema}.{QUARANTINE_TABLE}")).map_err(|message| {
        LoadError::Shape {
            table: QUARANTINE_TABLE.into(),
            message,
        }
    })
}

/// Creates the quarantine table if it is not there.
pub async fn ensure_quarantine_table(tx: &Client, table: &QualifiedName) -> Result<(), LoadError> {
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {} (\
           table_name text NOT NULL, row_key bigint NOT NULL, check_name text NOT NULL, \
           reason text NOT NULL, run_id text NOT NULL, row_data jsonb NOT NULL, \
           quarantined_at timestamptz NOT NULL DEFAULT now(), \
           PRIMARY KEY (table_name, row_key, check_name))",
        table.quoted()
    ))
    .await
    .map_err(|e| LoadError::db(table, "creating the quarantine table", &e))
}

/// `INSERT INTO` the quarantine table the rows of `select` (table name, row
/// key, check, reason, run id, row as jsonb); a row already quarantined by
/// the same check for the same reason with the same values is left alone.
pub fn upsert_quarantine_sql(quarantine: &QualifiedName, select: &str) -> String {
    format!(
        "INSERT INTO {} AS q (table_name, row_key, check_name, reason, run_id, row_data) {select} \
         ON CONFLICT (table_name, row_key, check_name) DO UPDATE \
           SET reason = EXCLUDED.reason, run_id = EXCLUDED.run_id, row_data = EXCLUDED.row_data, quarantined_at = now() \
           WHERE (q.reason, q.row_data) IS DISTINCT FROM (EXCLUDED.reason, EXCLUDED.row_data)",
        quarantine.quoted()
    )
}

/// Creates the quarantine table if needed and writes `rows` into it.
pub async fn write_quarantine(
    tx: &Client,
    app_schema: &str,
    run_id: &str,
    rows: &[QuarantinedRow],
) -> Result<(), LoadError> {
    if rows.is_empty() {
        return Ok(());
    }
    let table = quarantine_table(app_schema)?;
    ensure_quarantine_table(tx, &table).await?;
    let tables: Vec<&str> = rows.iter().map(|r| r.table.as_str()).collect();
    let keys: Vec<i64> = rows.iter().map(|r| r.key).collect();
    let checks: Vec<&str> = rows.iter().map(|r| r.check.as_str()).collect();
    let reasons: Vec<&str> = rows.iter().map(|r| r.reason.as_str()).collect();
    let data: Vec<String> = rows.iter().map(|r| r.row.to_string()).collect();
    let sql = upsert_quarantine_sql(
        &table,
        "SELECT u.t, u.k, u.c, u.r, $6, u.d::jsonb FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[]) AS u(t, k, c, r, d)",
    );
    tx.execute(
        sql.as_str(),
        &[&tables, &keys, &checks, &reasons, &data, &run_id],
    )
    .await
    .map_err(|e| LoadError::db(&table, "writing quarantined rows", &e))?;
    Ok(())
}
