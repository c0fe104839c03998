//! Queries on one table's staging table: unique checks, the comparison
//! `verify` makes, and the ways staged rows move into (or are counted
//! against) the table.

use super::merge::{
    bulk_insert_sql, compare_sql, conflicts_sql, dry_merge_sql, insert_sql, merge_sql,
    stage_check_sql, stage_row_differs, stage_table, UniqueAction,
};
use super::sharing::target_changes_sql;
use super::table::{Comparison, TableLoad, UniqueFound};
use super::LoadError;
use crate::checks::SampledRow;
use crate::config::{LoadMode, QualifiedName};
use crate::schema::CatalogColumn;

impl TableLoad<'_> {
    /// Runs a check on the stage (after [`end_copy`](Self::end_copy)):
    /// `violations(stage, table, key)` gives its query. Returns the
    /// violating keys, and `(key, detail, row)` for the first `sample`. With
    /// [`UniqueAction::Quarantine`] the rows move to the quarantine table
    /// inside Postgres (`check` names the check, `run_id` the run).
    pub async fn stage_check(
        &mut self,
        violations: impl Fn(&str, &QualifiedName, &str) -> String,
        action: UniqueAction<'_>,
        check: &str,
        run_id: &str,
        sample: usize,
    ) -> Result<UniqueFound, LoadError> {
        if let UniqueAction::Quarantine(q) = action {
            super::quarantine::ensure_quarantine_table(self.tx, q).await?;
        }
        let violations = violations(&self.stage, &self.table, &self.key);
        let sql = stage_check_sql(&self.stage, &self.key, &violations, action);
        let limit = sample as i64;
        let table = self.table.table.to_string();
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = match action {
            UniqueAction::Quarantine(_) => vec![&limit, &check, &run_id, &table],
            _ => vec![&limit],
        };
        let rows = self
            .tx
            .query(sql.as_str(), &params)
            .await
            .map_err(|e| LoadError::db(&self.table, &format!("running check {check}"), &e))?;
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
        found.total = found.keys.len() as u64;
        if !matches!(action, UniqueAction::Report) {
            self.staged = self.staged.saturating_sub(found.total);
        }
        Ok(found)
    }

    /// Staged rows whose target row differs and changed in the target since
    /// padetl wrote it (after [`end_copy`](Self::end_copy)): how many, and
    /// the first `sample` with both versions.
    pub async fn target_changes(&self, sample: usize) -> Result<UniqueFound, LoadError> {
        if self.direct || self.bulk || self.staged == 0 || self.mode == LoadMode::Insert {
            return Ok(UniqueFound::default());
        }
        let columns = self.columns.clone().unwrap_or_else(|| self.catalog.clone());
        let changed = self.sharing.changed();
        if changed == "false" {
            return Ok(UniqueFound::default());
        }
        let differs = stage_row_differs(&self.key, &columns);
        let by_key = self.few_staged().await?;
        tracing::debug!(table = %self.table, by_key, "looking for rows changed in the target");
        let sql = target_changes_sql(
            &stage_table(&self.stage),
            &self.table,
            &self.key,
            &differs,
            &changed,
            by_key,
        );
        let limit = sample.max(1) as i64;
        let rows = self.tx.query(sql.as_str(), &[&limit]).await.map_err(|e| {
            LoadError::db(&self.table, "looking for rows changed in the target", &e)
        })?;
        let mut found = UniqueFound::default();
        let total: i64 = rows.first().map_or(0, |r| r.get(3));
        for r in rows.iter().take(sample) {
            let key: i64 = r.get(0);
            let json = |i: usize| {
                serde_json::from_str::<serde_json::Value>(&r.get::<_, String>(i))
                    .unwrap_or_default()
            };
            let mut row = serde_json::Map::new();
            row.insert("incoming".into(), json(1));
            row.insert("in_target".into(), json(2));
            found.sample.push(SampledRow {
                key,
                detail: format!(
                    "{}={key} changed in the target since padetl wrote it",
                    self.key
                ),
                row,
            });
        }
        found.keys = rows.iter().map(|r| r.get(0)).collect();
        found.total = total.max(0) as u64;
        Ok(found)
    }

    /// Whether the staged rows are at most a tenth of the table's rows as
    /// the planner last counted them (none counted: no).
    async fn few_staged(&self) -> Result<bool, LoadError> {
        let sql = "SELECT coalesce(max(c.reltuples), -1)::float8 FROM pg_class c WHERE c.oid = to_regclass($1)";
        let estimate: f64 = self
            .tx
            .query_one(sql, &[&self.table.quoted()])
            .await
            .map_err(|e| LoadError::db(&self.table, "reading the table's row estimate", &e))?
            .get(0);
        Ok(estimate > 0.0 && (self.staged as f64) * 10.0 <= estimate)
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
        let guard = self.sharing.dry_guard();
        let sql = dry_merge_sql(
            &self.stage,
            &self.table,
            &self.key,
            columns,
            guard.as_deref(),
        );
        let row =
            self.tx.query_one(sql.as_str(), &[]).await.map_err(|e| {
                LoadError::db(&self.table, "comparing staged rows with the table", &e)
            })?;
        let (inserted, updated): (i64, i64) = (row.get(0), row.get(1));
        Ok((inserted as u64, updated as u64))
    }

    pub(super) async fn merge(&self, columns: &[CatalogColumn]) -> Result<(u64, u64), LoadError> {
        let guard = self.sharing.merge_guard();
        let sql = merge_sql(
            &self.stage,
            &self.table,
            &self.key,
            columns,
            guard.as_deref(),
        );
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
