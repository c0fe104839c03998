//! Incremental refresh: an `incremental` table's high-water mark, kept in
//! the app schema's `padetl_marks` with the run that reached it and a hash
//! of what produced it, read and advanced inside the run's transaction (a
//! failed or killed run does not advance it). A run reads only the rows past
//! the mark; `--full`, `replace` mode or a change of the table's source
//! query, transform, keymaps or checks (the hash) read everything, and say so.
//!
//! Children of rows that an earlier run held back (rejected, or quarantined
//! and never loaded) must still be held back when only they are read: the
//! rejected keys of every table are kept in `padetl_rejected`, and both
//! sets, less the keys the target holds by now, seed `rejected.<table>`.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use crate::config::{quote, Incremental, LoadMode, Pipeline, TableSpec};
use crate::error::Error;
use crate::extract::CxReader;
use crate::target::{query_error, Mode};

const MARKS: &str = "padetl_marks";
const REJECTED: &str = "padetl_rejected";

/// The marks of one pipeline and env on one target.
pub(super) struct Marks {
    /// No table of the pipeline is incremental: nothing is read or kept.
    enabled: bool,
    marks: String,
    rejected: String,
    stored: BTreeMap<String, (String, String)>,
    full: bool,
}

/// How one table is read this time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Read {
    /// Every row; `why` says why an incremental table is read in full.
    Full { why: Option<String> },
    /// Only the rows past `mark`.
    Since { mark: String },
}

impl Marks {
    /// Reads the stored marks (creating padetl's tables when the pipeline
    /// has an incremental table). `full`: the user asked for a full read.
    pub async fn read(tx: &Client, pipeline: &Pipeline, full: bool) -> Result<Self, Error> {
        let schema = pipeline.target.app_schema.quoted();
        let mut marks = Marks {
            enabled: pipeline.tables.iter().any(|t| t.incremental.is_some()),
            marks: format!("{schema}.{}", quote(MARKS)),
            rejected: format!("{schema}.{}", quote(REJECTED)),
            stored: BTreeMap::new(),
            full,
        };
        if !marks.enabled {
            return Ok(marks);
        }
        let url = &pipeline.target.url;
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {} (pipeline text NOT NULL, env text NOT NULL, \
               table_name text NOT NULL, mark text NOT NULL, spec_hash text NOT NULL, \
               run_id text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), \
               PRIMARY KEY (pipeline, env, table_name)); \
             CREATE TABLE IF NOT EXISTS {} (pipeline text NOT NULL, env text NOT NULL, \
               table_name text NOT NULL, row_key bigint NOT NULL, \
               PRIMARY KEY (pipeline, env, table_name, row_key))",
            marks.marks, marks.rejected
        );
        tx.batch_execute(&create)
            .await
            .map_err(|e| query_error(url, "creating padetl's incremental marks", &e))?;
        let rows = tx
            .query(
                &format!(
                    "SELECT table_name, mark, spec_hash FROM {} WHERE pipeline = $1 AND env = $2",
                    marks.marks
                ),
                &[&pipeline.name, &pipeline.env],
            )
            .await
            .map_err(|e| query_error(url, "reading the incremental marks", &e))?;
        marks.stored = rows
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2))))
            .collect();
        Ok(marks)
    }

    /// How `spec` is read in this pass.
    pub fn decide(&self, pipeline: &Pipeline, spec: &TableSpec, mode: Mode) -> Read {
        let Some(_) = &spec.incremental else {
            return Read::Full { why: None };
        };
        let why = |w: &str| Read::Full {
            why: Some(w.to_string()),
        };
        if self.full {
            return why("full read: --full");
        }
        if mode == Mode::Verify {
            return why("full read: verify compares every row");
        }
        if spec.mode == LoadMode::Replace {
            return why("full read: replace mode deletes what it does not read");
        }
        match self.stored.get(spec.name.as_str()) {
            None => why("full read: no mark yet"),
            Some((_, hash)) if *hash != spec_hash(pipeline, spec) => why(
                "full read: the source (URL, time zone) or the table's source query, transform, keymaps or checks changed since the mark",
            ),
            Some((mark, _)) => Read::Since { mark: mark.clone() },
        }
    }

    /// The next mark of `spec`: the largest value of its incremental column
    /// in the source now (less the overlap for a change column), before its
    /// rows are read (rows written during the run are read again next time;
    /// the merge makes that harmless).
    pub async fn next_mark(source: &CxReader, spec: &TableSpec) -> Result<Option<String>, Error> {
        let Some(inc) = &spec.incremental else {
            return Ok(None);
        };
        let sql = source.dialect().mark_sql(&spec.source_query, inc);
        let (reader, label, origin) = (
            source.clone(),
            spec.source_label.clone(),
            spec.origin.clone(),
        );
        let batches = tokio::task::spawn_blocking(move || reader.query(&sql, &label, &origin))
            .await
            .map_err(|e| Error::Internal(format!("mark task: {e}")))??;
        let first = batches.iter().find(|b| b.num_rows() > 0);
        let value = first.and_then(|b| {
            let column = b.column(0);
            (!column.is_null(0))
                .then(|| datafusion::arrow::util::display::array_value_to_string(column, 0).ok())
                .flatten()
        });
        Ok(value)
    }

    /// Stores `mark` for `spec` when it moved (a run that reads nothing new
    /// writes nothing).
    pub async fn advance(
        &self,
        tx: &Client,
        pipeline: &Pipeline,
        spec: &TableSpec,
        mark: &str,
        run_id: &str,
    ) -> Result<(), Error> {
        let hash = spec_hash(pipeline, spec);
        tx.execute(
            &format!(
                "INSERT INTO {m} AS m (pipeline, env, table_name, mark, spec_hash, run_id) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (pipeline, env, table_name) DO UPDATE SET mark = excluded.mark, \
                   spec_hash = excluded.spec_hash, run_id = excluded.run_id, updated_at = now() \
                 WHERE m.mark IS DISTINCT FROM excluded.mark OR m.spec_hash IS DISTINCT FROM excluded.spec_hash",
                m = self.marks
            ),
            &[
                &pipeline.name,
                &pipeline.env,
                &spec.name.as_str(),
                &mark,
                &hash,
                &run_id,
            ],
        )
        .await
        .map_err(|e| query_error(&pipeline.target.url, "advancing the incremental mark", &e))?;
        Ok(())
    }

    /// Keys of `spec`'s table that earlier runs held back (rejected, or
    /// quarantined) and that the target still does not hold, sorted.
    ///
    /// `all`: a child's query reads the table's `rejected.*`, so every key
    /// is needed. Otherwise the keys only matter if there are few enough to
    /// read again ([`MAX_HELD`]), and at most one more is read: at 10M
    /// requests an earlier run held back 1.37M approvals, whose anti-join
    /// against the target took 7 s of an incremental run.
    pub async fn held_earlier(
        &self,
        tx: &Client,
        pipeline: &Pipeline,
        spec: &TableSpec,
        all: bool,
    ) -> Result<Vec<i64>, Error> {
        if !self.enabled {
            return Ok(vec![]);
        }
        let table = pipeline.target_table(&spec.name);
        let quarantine = format!("{}.padetl_quarantine", pipeline.target.app_schema.quoted());
        let url = &pipeline.target.url;
        let exists: bool = tx
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&quarantine])
            .await
            .map_err(|e| query_error(url, "looking for the quarantine table", &e))?
            .get(0);
        let quarantined = match exists {
            true => format!(" UNION ALL SELECT row_key FROM {quarantine} WHERE table_name = $3"),
            false => String::new(),
        };
        let limit = match all {
            true => String::new(),
            false => format!(" LIMIT {}", MAX_HELD + 1),
        };
        let sql = format!(
            "SELECT k FROM (SELECT row_key AS k FROM {} WHERE pipeline = $1 AND env = $2 \
               AND table_name = $3{quarantined}) held \
             WHERE NOT EXISTS (SELECT 1 FROM {} t WHERE t.{} = held.k){limit}",
            self.rejected,
            table.quoted(),
            quote(spec.key.as_str())
        );
        let failed = |e| query_error(url, "reading the rows earlier runs held back", &e);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
            [&pipeline.name, &pipeline.env, &spec.name.as_str()];
        let rows = tx.query_raw(&sql, params).await.map_err(failed)?;
        let mut rows = std::pin::pin!(rows);
        // One key at a time: a million driver rows held at once took 200 MB.
        let mut keys = Vec::new();
        while let Some(row) = rows.try_next().await.map_err(failed)? {
            keys.push(row.try_get::<_, i64>(0).map_err(failed)?);
        }
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }

    /// Keeps the keys this run rejected, for later incremental runs.
    pub async fn keep_rejected(
        &self,
        tx: &Client,
        pipeline: &Pipeline,
        spec: &TableSpec,
        keys: &[i64],
    ) -> Result<(), Error> {
        if !self.enabled || keys.is_empty() {
            return Ok(());
        }
        tx.execute(
            &format!(
                "INSERT INTO {} (pipeline, env, table_name, row_key) \
                 SELECT $1, $2, $3, k FROM unnest($4::bigint[]) k ON CONFLICT DO NOTHING",
                self.rejected
            ),
            &[&pipeline.name, &pipeline.env, &spec.name.as_str(), &keys],
        )
        .await
        .map_err(|e| query_error(&pipeline.target.url, "keeping the rejected keys", &e))?;
        Ok(())
    }
}

/// What a table's rows depend on: the source (URL without password, time
/// zone), its entry (query, transform, key, mode), every keymap and the
/// table's checks. A change reads the table in full.
pub(super) fn spec_hash(pipeline: &Pipeline, spec: &TableSpec) -> String {
    let checks: Vec<String> = pipeline
        .checks
        .iter()
        .filter(|c| c.table.as_str() == spec.name.as_str())
        .map(|c| format!("{c:?}"))
        .collect();
    let keymaps: Vec<String> = pipeline
        .keymaps
        .iter()
        .map(|k| format!("{}|{}|{}", k.source_query, k.target_query, k.keys.len()))
        .collect();
    let text = format!(
        "{}\n{}\n{}\n{}\n{}\n{:?}\n{:?}\n{}\n{}",
        pipeline.source.url,
        pipeline.source.timezone,
        spec.source_query,
        spec.transform_sql,
        spec.key,
        spec.mode,
        spec.incremental,
        keymaps.join("\n"),
        checks.join("\n")
    );
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// `spec` narrowed to the rows past `mark`, and the rows `held` back by
/// earlier runs (read again: their cause may be gone).
pub(super) fn since(spec: &TableSpec, mark: &str, held: &[i64], source: &CxReader) -> TableSpec {
    let mut narrowed = spec.clone();
    if let Some(inc) = &spec.incremental {
        narrowed.source_query =
            source
                .dialect()
                .since_mark_sql(&spec.source_query, inc, mark, spec.key.as_str(), held);
    }
    narrowed
}

/// An incremental key that is the table's own key: its next mark is the
/// largest key the pass's count found (the pages read up to it), with no
/// query of its own.
pub(super) fn by_table_key(spec: &TableSpec) -> bool {
    matches!(&spec.incremental, Some(Incremental::Key { column }) if column == &spec.key)
}

/// The next mark of a table read [`by_table_key`]: the largest key read,
/// unless only rows below the old mark were (held rows read again).
pub(super) fn key_mark(spec: &TableSpec, read: &Read, max_key: Option<i64>) -> Option<String> {
    let max = max_key.filter(|_| by_table_key(spec))?;
    match read {
        Read::Since { mark } if mark.parse::<i64>().is_ok_and(|m| m >= max) => None,
        _ => Some(max.to_string()),
    }
}

/// More held-back keys than this are not named in the source query: they
/// stay held for the children, and `--full` reads them again.
pub(super) const MAX_HELD: usize = 10_000;
