//! Loading one table inside the run's transaction: stage with binary COPY,
//! then merge into the target.

use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use datafusion::arrow::array::Array;
use datafusion::arrow::record_batch::RecordBatch;
use futures_util::SinkExt;
use tokio_postgres::{CopyInSink, Transaction};

use super::bulk::Deferred;
use super::encode::{CopyEncoder, TargetColumn};
use super::merge::{
    bulk_insert_sql, bump_sequence_sql, compare_sql, conflicts_sql, copy_sql, count_missing_sql,
    create_stage_sql, delete_missing_sql, dry_merge_sql, insert_sql, merge_sql, unique_check_sql,
    UniqueAction,
};
use super::pgtype::PgType;
use super::LoadError;
use crate::config::{LoadMode, QualifiedName};
use crate::schema::{table_columns, CatalogColumn};

/// Bytes buffered before they are sent to the server.
const SEND_THRESHOLD: usize = 1 << 20;

/// Rows that reached the target table.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct MergeCounts {
    pub staged: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// What a unique check found: every violating key, a sample with rows.
#[derive(Debug, Default)]
pub struct UniqueFound {
    pub keys: Vec<i64>,
    pub sample: Vec<(i64, String, serde_json::Map<String, serde_json::Value>)>,
}

/// `verify`'s comparison of the staged (transformed source) rows with the
/// table's rows of the same keys.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Comparison {
    /// `rows:sum of row hashes` over the loaded columns, order-independent.
    pub source_checksum: String,
    pub target_checksum: String,
    /// First keys missing from the table or holding other values.
    pub first_differing_keys: Vec<i64>,
}

impl Comparison {
    pub fn matches(&self) -> bool {
        self.source_checksum == self.target_checksum && self.first_differing_keys.is_empty()
    }
}

/// A `replace` table's deletion of the rows it did not load. It runs after
/// every table is loaded, children first, so that a parent row is deleted
/// only once no child row still points at it.
#[derive(Debug, Clone)]
pub struct PendingDelete {
    pub table: QualifiedName,
    sql: String,
}

impl PendingDelete {
    /// Deletes; returns how many rows went.
    pub async fn run(&self, tx: &Transaction<'_>) -> Result<u64, LoadError> {
        let n: i64 = tx
            .query_one(self.sql.as_str(), &[])
            .await
            .map_err(|e| {
                LoadError::db(
                    &self.table,
                    "deleting rows that were not loaded (replace mode)",
                    &e,
                )
            })?
            .get(0);
        Ok(n as u64)
    }
}

/// How a table may be loaded.
#[derive(Debug, Clone, Copy)]
pub struct LoadPath {
    /// `check` and `verify`: nothing may be written to the table.
    pub dry: bool,
    /// Unique checks run on a stage, so the rows cannot go in directly.
    pub stage_checks: bool,
}

/// An open load of one table; [`TableLoad::finish`] merges and reports.
pub struct TableLoad<'t> {
    tx: &'t Transaction<'t>,
    table: QualifiedName,
    key: String,
    mode: LoadMode,
    stage: String,
    catalog: Vec<CatalogColumn>,
    copy: Option<OpenCopy>,
    /// The columns COPY wrote, once it has ended.
    columns: Option<Vec<CatalogColumn>>,
    /// COPY goes straight into the (empty) table: no stage, no merge.
    direct: bool,
    /// The table was empty and is locked against other writers: staged
    /// rows go in by a plain INSERT.
    bulk: bool,
    /// An empty table's indexes and foreign keys, dropped until the rows are in.
    deferred: Deferred,
    staged: u64,
}

struct OpenCopy {
    sink: Pin<Box<CopyInSink<Bytes>>>,
    encoder: CopyEncoder,
    columns: Vec<CatalogColumn>,
    buf: BytesMut,
}

impl<'t> TableLoad<'t> {
    /// Reads the target's columns and creates the staging table. A run
    /// (not `dry`) into a table that is empty loads it in bulk: its indexes
    /// and foreign keys wait until the rows are in ([`Deferred`]), and
    /// without `stage_checks` the rows go in by COPY directly, without a
    /// stage and a merge: inside the run's transaction that is just as safe,
    /// and it writes every row once instead of twice.
    pub async fn begin(
        tx: &'t Transaction<'t>,
        table: QualifiedName,
        key: &str,
        mode: LoadMode,
        path: LoadPath,
    ) -> Result<TableLoad<'t>, LoadError> {
        let catalog = table_columns(tx, &table).await?;
        if !catalog.iter().any(|c| c.name == key) {
            return Err(LoadError::Shape {
                table: table.to_string(),
                message: format!("has no key column `{key}`"),
            });
        }
        let stage = format!("padetl_stage_{}", table.table);
        let bulk = !path.dry && claim_if_empty(tx, &table).await?;
        let direct = bulk && !path.stage_checks;
        if !direct {
            tx.batch_execute(create_stage_sql(&stage, &table).as_str())
                .await
                .map_err(|e| LoadError::db(&table, "creating the staging table", &e))?;
        }
        let deferred = match bulk {
            true => Deferred::defer(tx, &table).await?,
            false => Deferred::none(),
        };
        tracing::debug!(
            table = %table,
            direct,
            deferred = deferred.len(),
            "load path"
        );
        Ok(TableLoad {
            direct,
            bulk,
            deferred,
            tx,
            table,
            key: key.to_string(),
            mode,
            stage,
            catalog,
            copy: None,
            columns: None,
            staged: 0,
        })
    }

    /// Encodes `batch` into the COPY stream (opened on the first batch).
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<(), LoadError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.copy.is_none() {
            self.copy = Some(self.open_copy(batch).await?);
        }
        let Some(copy) = self.copy.as_mut() else {
            return Ok(());
        };
        check_not_null(&self.table, &copy.columns, batch, &self.key)?;
        copy.encoder
            .encode_batch(batch, Some(&self.key), &mut copy.buf)?;
        self.staged += batch.num_rows() as u64;
        if copy.buf.len() >= SEND_THRESHOLD {
            copy.send_buffered(&self.table).await?;
        }
        Ok(())
    }

    async fn open_copy(&self, batch: &RecordBatch) -> Result<OpenCopy, LoadError> {
        let schema = batch.schema();
        for field in schema.fields() {
            if !self.catalog.iter().any(|c| &c.name == field.name()) {
                return Err(LoadError::Shape {
                    table: self.table.to_string(),
                    message: format!(
                        "the transform returns column `{}`, which the table does not have",
                        field.name()
                    ),
                });
            }
        }
        let columns: Vec<CatalogColumn> = self
            .catalog
            .iter()
            .filter(|c| schema.index_of(&c.name).is_ok())
            .cloned()
            .collect();
        let targets = columns
            .iter()
            .map(|c| {
                let pg_type =
                    PgType::from_catalog(&c.typname, c.typmod).ok_or_else(|| LoadError::Shape {
                        table: self.table.to_string(),
                        message: format!(
                            "column `{}` has type {}, which padetl cannot load",
                            c.name, c.typname
                        ),
                    })?;
                Ok(TargetColumn {
                    name: c.name.clone(),
                    pg_type,
                })
            })
            .collect::<Result<Vec<_>, LoadError>>()?;
        let encoder = CopyEncoder::new(&self.table.to_string(), targets, &schema)?;
        let sink = self
            .tx
            .copy_in::<_, Bytes>(copy_sql(&self.copy_target(), &columns).as_str())
            .await
            .map_err(|e| LoadError::db(&self.table, "starting COPY", &e))?;
        let mut buf = BytesMut::with_capacity(SEND_THRESHOLD * 2);
        CopyEncoder::write_header(&mut buf);
        Ok(OpenCopy {
            sink: Box::pin(sink),
            encoder,
            columns,
            buf,
        })
    }

    /// Ends the COPY, so that the staged rows can be checked and merged.
    pub async fn end_copy(&mut self) -> Result<(), LoadError> {
        if let Some(mut copy) = self.copy.take() {
            CopyEncoder::write_trailer(&mut copy.buf);
            copy.send_buffered(&self.table).await?;
            copy.sink
                .as_mut()
                .finish()
                .await
                .map_err(|e| LoadError::db(&self.table, "finishing COPY", &e))?;
            self.columns = Some(copy.columns);
        }
        Ok(())
    }

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
                found.sample.push((key, detail, row));
            }
        }
        if !matches!(action, UniqueAction::Report) {
            self.staged -= found.keys.len() as u64;
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

    /// Merges staging into the table as the mode says and moves its
    /// sequence; with `dry`, only counts what the merge would do (nothing
    /// is written to the table). A `replace` table also returns its deletion.
    pub async fn finish(
        mut self,
        dry: bool,
    ) -> Result<(MergeCounts, Option<PendingDelete>), LoadError> {
        self.end_copy().await?;
        let pending = (!self.direct && self.mode == LoadMode::Replace).then(|| PendingDelete {
            table: self.table.clone(),
            sql: match dry {
                false => delete_missing_sql(&self.stage, &self.table, &self.key),
                true => count_missing_sql(&self.stage, &self.table, &self.key),
            },
        });
        let counts = self.move_rows(dry).await?;
        if !dry {
            std::mem::take(&mut self.deferred)
                .restore(self.tx, &self.table)
                .await?;
            if self.staged > 0 {
                self.bump_sequence().await?;
            }
        }
        Ok((counts, pending))
    }

    /// Moves the staged rows into the table as the mode says (or, `dry`,
    /// counts what that would do); rows copied directly are already there.
    async fn move_rows(&mut self, dry: bool) -> Result<MergeCounts, LoadError> {
        if self.direct {
            return Ok(self.counts(self.staged, 0));
        }
        if self.staged == 0 {
            return Ok(MergeCounts::default());
        }
        let columns = self.columns.take().unwrap_or_else(|| self.catalog.clone());
        if dry {
            if self.mode == LoadMode::Insert {
                self.refuse_conflicts(&columns).await?;
            }
            let (inserted, updated) = self.would_merge(&columns).await?;
            return Ok(self.counts(inserted, updated));
        }
        let (inserted, updated) = match self.mode {
            _ if self.bulk => (self.bulk_insert(&columns).await?, 0),
            LoadMode::Upsert | LoadMode::Replace => self.merge(&columns).await?,
            LoadMode::Insert => (self.insert(&columns).await?, 0),
        };
        Ok(self.counts(inserted, updated))
    }

    async fn bump_sequence(&self) -> Result<(), LoadError> {
        self.tx
            .execute(bump_sequence_sql(&self.table, &self.key).as_str(), &[])
            .await
            .map_err(|e| LoadError::db(&self.table, "moving the id sequence", &e))?;
        Ok(())
    }

    /// Where COPY writes: the stage, or the table itself when it was empty.
    fn copy_target(&self) -> String {
        match self.direct {
            true => self.table.quoted(),
            false => format!("pg_temp.\"{}\"", self.stage),
        }
    }

    fn counts(&self, inserted: u64, updated: u64) -> MergeCounts {
        MergeCounts {
            staged: self.staged,
            inserted,
            updated,
            unchanged: self.staged - inserted - updated,
        }
    }

    async fn would_merge(&self, columns: &[CatalogColumn]) -> Result<(u64, u64), LoadError> {
        let sql = dry_merge_sql(&self.stage, &self.table, &self.key, columns);
        let row =
            self.tx.query_one(sql.as_str(), &[]).await.map_err(|e| {
                LoadError::db(&self.table, "comparing staged rows with the table", &e)
            })?;
        let (inserted, updated): (i64, i64) = (row.get(0), row.get(1));
        Ok((inserted as u64, updated as u64))
    }

    async fn merge(&self, columns: &[CatalogColumn]) -> Result<(u64, u64), LoadError> {
        let sql = merge_sql(&self.stage, &self.table, &self.key, columns);
        let row = self
            .tx
            .query_one(sql.as_str(), &[])
            .await
            .map_err(|e| LoadError::db(&self.table, "merging into the table", &e))?;
        let (inserted, updated): (i64, i64) = (row.get(0), row.get(1));
        Ok((inserted as u64, updated as u64))
    }

    async fn bulk_insert(&self, columns: &[CatalogColumn]) -> Result<u64, LoadError> {
        let sql = bulk_insert_sql(&self.stage, &self.table, &self.key, columns);
        self.tx
            .execute(sql.as_str(), &[])
            .await
            .map_err(|e| LoadError::db(&self.table, "inserting into the empty table", &e))
    }

    /// New keys only; an existing key with other values stops the run.
    async fn insert(&self, columns: &[CatalogColumn]) -> Result<u64, LoadError> {
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

    async fn refuse_conflicts(&self, columns: &[CatalogColumn]) -> Result<(), LoadError> {
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

impl OpenCopy {
    /// Sends what is buffered to the server.
    async fn send_buffered(&mut self, table: &QualifiedName) -> Result<(), LoadError> {
        let chunk = self.buf.split().freeze();
        self.sink
            .as_mut()
            .send(chunk)
            .await
            .map_err(|e| LoadError::db(table, "sending COPY data", &e))
    }
}

/// Whether `table` is empty, and if so locks it against other writers
/// (readers go on) until the run ends, so that it stays empty but for the
/// run's own rows. A table that is not empty is left unlocked.
async fn claim_if_empty(tx: &Transaction<'_>, table: &QualifiedName) -> Result<bool, LoadError> {
    if !is_empty(tx, table).await? {
        return Ok(false);
    }
    let sql = format!("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE", table.quoted());
    tx.batch_execute(&sql)
        .await
        .map_err(|e| LoadError::db(table, "locking the empty table for a bulk load", &e))?;
    // Another writer may have come in between the look and the lock.
    is_empty(tx, table).await
}

async fn is_empty(tx: &Transaction<'_>, table: &QualifiedName) -> Result<bool, LoadError> {
    let sql = format!("SELECT NOT EXISTS (SELECT 1 FROM {})", table.quoted());
    Ok(tx
        .query_one(sql.as_str(), &[])
        .await
        .map_err(|e| LoadError::db(table, "looking whether the table is empty", &e))?
        .get(0))
}

/// A NULL bound for a NOT NULL column, named by row key instead of by the
/// server's "Failing row contains (…)", which would print the whole row.
fn check_not_null(
    table: &QualifiedName,
    columns: &[CatalogColumn],
    batch: &RecordBatch,
    key: &str,
) -> Result<(), LoadError> {
    for c in columns.iter().filter(|c| c.not_null) {
        let Some(array) = batch.column_by_name(&c.name) else {
            continue;
        };
        if array.null_count() == 0 {
            continue;
        }
        let row = (0..array.len()).find(|i| array.is_null(*i)).unwrap_or(0);
        return Err(LoadError::NullValue {
            table: table.to_string(),
            column: c.name.clone(),
            key: super::key_at(batch, key, row),
        });
    }
    Ok(())
}
