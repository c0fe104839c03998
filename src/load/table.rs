//! Loading one table inside the run's transaction: begin (the table's
//! columns, its stage or the bulk path), then — after the COPY stream
//! ([`super::copy`]) and the stage's checks ([`super::stage`]) — finish:
//! merge, restore what a bulk load deferred, move the sequence.

use tokio_postgres::Client;

use super::bulk::{claim_if_empty, Deferred};
use super::copy::OpenCopy;
use super::merge::{
    bump_sequence_sql, count_missing_sql, create_stage_sql, delete_missing_sql, stage_table,
};
use super::sharing::Sharing;
use super::LoadError;
use crate::checks::SampledRow;
use crate::config::{LoadMode, QualifiedName};
use crate::schema::{table_columns, CatalogColumn};

/// Rows that reached the target table.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct MergeCounts {
    pub staged: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl MergeCounts {
    /// The counts of a merge of `staged` rows; the rest were unchanged. The
    /// numbers come from the database, so they are never trusted to add up.
    pub fn of(staged: u64, inserted: u64, updated: u64) -> Self {
        MergeCounts {
            staged,
            inserted,
            updated,
            unchanged: staged.saturating_sub(inserted.saturating_add(updated)),
        }
    }
}

/// What a stage check found: the violating keys, a sample with rows, and
/// how many in all (when only the first keys are read).
#[derive(Debug, Default)]
pub struct UniqueFound {
    pub keys: Vec<i64>,
    pub sample: Vec<SampledRow>,
    pub total: u64,
}

/// `verify`'s comparison of the staged (transformed source) rows with the
/// table's rows of the same keys.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
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
    pub async fn run(&self, tx: &Client) -> Result<u64, LoadError> {
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
    pub(super) tx: &'t Client,
    pub(super) table: QualifiedName,
    pub(super) key: String,
    pub(super) mode: LoadMode,
    pub(super) stage: String,
    pub(super) catalog: Vec<CatalogColumn>,
    pub(super) copy: Option<OpenCopy>,
    /// The columns COPY wrote, once it has ended.
    pub(super) columns: Option<Vec<CatalogColumn>>,
    /// COPY goes straight into the (empty) table: no stage, no merge.
    pub(super) direct: bool,
    /// The table was empty and is locked against other writers: staged
    /// rows go in by a plain INSERT.
    pub(super) bulk: bool,
    /// An empty table's indexes and foreign keys, dropped until the rows are in.
    deferred: Deferred,
    pub(super) staged: u64,
    /// How the load treats rows the app may have changed or created.
    pub(super) sharing: Sharing,
}

impl<'t> TableLoad<'t> {
    /// Reads the target's columns and creates the staging table. A run
    /// (not `dry`) into a table that is empty loads it in bulk: its indexes
    /// and foreign keys wait until the rows are in ([`Deferred`]), and
    /// without `stage_checks` the rows go in by COPY directly, without a
    /// stage and a merge: inside the run's transaction that is just as safe,
    /// and it writes every row once instead of twice.
    pub async fn begin(
        tx: &'t Client,
        table: QualifiedName,
        key: &str,
        mode: LoadMode,
        path: LoadPath,
        sharing: Sharing,
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
            sharing,
        })
    }

    /// Merges staging into the table as the mode says and moves its
    /// sequence; with `dry`, only counts what the merge would do (nothing
    /// is written to the table). A `replace` table also returns its deletion.
    pub async fn finish(
        mut self,
        dry: bool,
    ) -> Result<(MergeCounts, Option<PendingDelete>), LoadError> {
        self.end_copy().await?;
        let apps = self.sharing.app_ids_from;
        let pending = (!self.direct && self.mode == LoadMode::Replace).then(|| PendingDelete {
            table: self.table.clone(),
            sql: match dry {
                false => delete_missing_sql(&self.stage, &self.table, &self.key, apps),
                true => count_missing_sql(&self.stage, &self.table, &self.key, apps),
            },
        });
        let counts = self.move_rows(dry).await?;
        if !dry {
            std::mem::take(&mut self.deferred)
                .restore(self.tx, &self.table)
                .await?;
            if self.bulk && self.staged > 0 {
                self.analyze().await?;
            }
            if self.staged > 0 || apps.is_some() {
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

    /// Gives a table loaded in bulk its statistics now rather than when
    /// autovacuum gets to it (minutes for tens of millions of rows). Until
    /// then the next run's checks and merges against it are planned without
    /// a row estimate or column statistics: an incremental run just after a
    /// 10M first load joined whole tables and spilled one join to disk. A
    /// role that does not own the table gets a warning from Postgres, not an
    /// error, and the table waits for autovacuum.
    async fn analyze(&self) -> Result<(), LoadError> {
        let sql = format!("ANALYZE {}", self.table.quoted());
        self.tx
            .batch_execute(&sql)
            .await
            .map_err(|e| LoadError::db(&self.table, "gathering statistics after the load", &e))
    }

    async fn bump_sequence(&self) -> Result<(), LoadError> {
        self.tx
            .execute(
                bump_sequence_sql(&self.table, &self.key, self.sharing.app_ids_from).as_str(),
                &[],
            )
            .await
            .map_err(|e| LoadError::db(&self.table, "moving the id sequence", &e))?;
        Ok(())
    }

    /// The id the table's identity or serial sequence hands out next, when
    /// it has one.
    pub async fn next_id(&self) -> Result<Option<i64>, LoadError> {
        let sql = "SELECT CASE WHEN s.seq IS NULL THEN NULL \
                   ELSE coalesce(pg_sequence_last_value(s.seq::regclass) + 1, \
                                 (SELECT start_value FROM pg_sequences q WHERE format('%I.%I', q.schemaname, q.sequencename)::regclass = s.seq::regclass)) END \
                   FROM (SELECT pg_get_serial_sequence($1, $2) AS seq) s";
        let row = self
            .tx
            .query_one(sql, &[&self.table.quoted(), &self.key])
            .await
            .map_err(|e| LoadError::db(&self.table, "reading the id sequence", &e))?;
        Ok(row.get(0))
    }

    /// Whether the table was empty when its load began (and is locked
    /// against other writers since): nothing in it can collide.
    pub fn started_empty(&self) -> bool {
        self.bulk
    }

    /// Where COPY writes: the stage, or the table itself when it was empty.
    pub(super) fn copy_target(&self) -> String {
        match self.direct {
            true => self.table.quoted(),
            false => stage_table(&self.stage),
        }
    }

    fn counts(&self, inserted: u64, updated: u64) -> MergeCounts {
        MergeCounts::of(self.staged, inserted, updated)
    }
}

#[cfg(test)]
mod tests {
    use super::MergeCounts;

    #[test]
    fn counts_that_do_not_add_up_never_wrap() {
        let c = MergeCounts::of(10, 4, 3);
        assert_eq!(c.unchanged, 3);
        assert_eq!(MergeCounts::of(2, 4, 3).unchanged, 0);
        assert_eq!(MergeCounts::of(1, u64::MAX, 1).unchanged, 0);
    }
}
