//! Queries on one table's staging table: unique checks, the comparison
//! `verify` makes, and the ways staged rows move into (or are counted
//! against) the table.

use super::merge::{
    bulk_insert_sql, compare_sql, conflicts_sql, dry_merge_sql, insert_sql, merge_sql,
    unique_check_sql, UniqueAction,
};
use super::table::{Comparison, TableLoad, UniqueFound};
use super::LoadError;
use crate::checks::SampledRow;
use crate::schema::CatalogColumn;

impl TableLoad<'_> {
    /// Runs a unique check on the stage (after [`end_copy`](Self::end_copy)):
    /// the violating keys, and `(key, detail, row)` for the first `sample`.
    /// With [`UniqueAction::Quarantine`] the rows move to the quarantine
    /// table inside Postgres (`check` names the check, `run_id` the run).
    pub async fn unique_check(
        &mut self,
        column: &str,
        action: UniqueAction<'_>,
        check: &str,
        run_id: &str,
        sample: usize,
    ) -> Result<UniqueFound, LoadError> {
        if let UniqueAction::Quarantine(q) = action {
            super::quarantine::ensure_quarantine_table(self.tx, q).await?;
        }
        let sql = unique_check_sql(&self.stage, &self.table, &self.key, column, action);
        let limit = sample as i64;
        let table = self.table.table.to_string();
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = match action {
            UniqueAction::Quarantine(_) => vec![&limit, &check, &run_id, &table],
            _ => vec![&limit],
        };
        let rows = self.tx.query(sql.as_str(), &params).await.map_err(|e| {
            LoadError::db(
                &self.table,
                &format!("checking that {column} is unique"),
                &e,
            )
        })?;
        let mut found = UniqueFound::default();
        for r in &rows {
            let key: i64 = r.get(0);
            found.keys.push(key);
            let (detail, row): (Option<String>, Option<String>) = (r.get(1), r.get(2));
            if let (Some(detail), Some(row)) = (detail, row) {
                let row = match serde_json::from_str(&row) {
                    Ok(serde_json::Value::Object(map)) => map,
                    _ => serde_json::Map::new(),
                };
                found.sample.push(SampledRow { key, detail, row });
            }
        }
        if !matches!(action, UniqueAction::Report) {
            self.staged = self.staged.saturating_sub(found.keys.len() as u64);
        }
        Ok(found)
    }

    /// Compares the staged rows with the table (after [`end_copy`](Self::end_copy)).
    pub async fn compare(&self) -> Result<Comparison, LoadError> {
        let columns = self.columns.clone().unwrap_or_else(|| self.catalog.clone());
        let sql = compare_sql(&self.stage, &self.table, &self.key, &columns);
        let row =
            self.tx.query_one(sql.as_str(), &[]).await.map_err(|e| {
                LoadError::db(&self.table, "comparing with the transformed source", &e)
            })?;
        Ok(Comparison {
            source_checksum: row.get(0),
            target_checksum: row.get(1),
            first_differing_keys: row.get(2),
        })
    }

    /// Rows in the target table now.
    pub async fn target_rows(&self) -> Result<i64, LoadError> {
        let sql = format!("SELECT count(*) FROM {}", self.table.quoted());
        Ok(self
            .tx
            .query_one(sql.as_str(), &[])
            .await
            .map_err(|e| LoadError::db(&self.table, "counting rows", &e))?
            .get(0))
    }

    pub(super) async fn would_merge(
        &self,
        columns: &[CatalogColumn],
    ) -> Result<(u64, u64), LoadError> {
        let sql = dry_merge_sql(&self.stage, &self.table, &self.key, columns);
        let row =
            self.tx.query_one(sql.as_str(), &[]).await.map_err(|e| {
                LoadError::db(&self.table, "comparing staged rows with the table", &e)
            })?;
        let (inserted, updated): (i64, i64) = (row.get(0), row.get(1));
        Ok((inserted as u64, updated as u64))
    }

    pub(super) async fn merge(&self, columns: &[CatalogColumn]) -> Result<(u64, u64), LoadError> {
        let sql = merge_sql(&self.stage, &self.table, &self.key, columns);
        let row = self
            .tx
            .query_one(sql.as_str(), &[])
            .await
            .map_err(|e| LoadError::db(&self.table, "merging into the table", &e))?;
        let (inserted, updated): (i64, i64) = (row.get(0), row.get(1));
        Ok((inserted as u64, updated as u64))
    }

    pub(super) async fn bulk_insert(&self, columns: &[CatalogColumn]) -> Result<u64, LoadError> {
        let sql = bulk_insert_sql(&self.stage, &self.table, &self.key, columns);
        self.tx
            .execute(sql.as_str(), &[])
            .await
            .map_err(|e| LoadError::db(&self.table, "inserting into the empty table", &e))
    }

    /// New keys only; an existing key with other values stops the run.
    pub(super) async fn insert(&self, columns: &[CatalogColumn]) -> Result<u64, LoadError> {
        self.refuse_conflicts(columns).await?;
        let sql = insert_sql(&self.stage, &self.table, &self.key, columns);
        let n: i64 = self
            .tx
            .query_one(sql.as_str(), &[])
            .await
            .map_err(|e| LoadError::db(&self.table, "inserting into the table", &e))?
            .get(0);
        Ok(n as u64)
    }

    pub(super) async fn refuse_conflicts(
        &self,
        columns: &[CatalogColumn],
    ) -> Result<(), LoadError> {
        let sql = conflicts_sql(&self.stage, &self.table, &self.key, columns);
        let rows = self
            .tx
            .query(sql.as_str(), &[])
            .await
            .map_err(|e| LoadError::db(&self.table, "looking for key conflicts", &e))?;
        if let Some(first) = rows.first() {
            return Err(LoadError::KeyConflict {
                table: self.table.to_string(),
                count: first.get(0),
                keys: rows
                    .iter()
                    .map(|r| format!("{}={}", self.key, r.get::<_, String>(1)))
                    .collect(),
            });
        }
        Ok(())
    }
}
