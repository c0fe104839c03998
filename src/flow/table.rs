//! One table's pass: count its source rows and open its load, pump its
//! pages through the transform and the page checks into the COPY stream,
//! then close: stage checks, comparison, quarantine, merge, report.

use std::time::Instant;

use tokio_postgres::Client;

use super::stop_on_failed_checks;
use crate::checks::{Checks, StageCheck, StageFinding};
use crate::config::{Pipeline, Policy, TableSpec};
use crate::error::Error;
use crate::extract::{
    count_rows, partitions, stream_table, CxReader, ExtractError, KeyRange, SourceCount,
};
use crate::load::{
    quarantine_table, write_quarantine, LoadPath, PendingDelete, TableLoad, UniqueAction,
};
use crate::report::progress::{Progress, TableProgress};
use crate::report::TableReport;
use crate::target::Mode;
use crate::transform::{split_rejected, Rejections, TransformError, TransformSession};

/// What a loaded table leaves for the end of the run.
#[derive(Default)]
pub(crate) struct Loaded {
    pub delete: Option<PendingDelete>,
    /// Rows before the load, for tables with a row-count check.
    pub rows_before: Option<i64>,
    /// What `check` says about the table's ids and the app's.
    pub id_note: Option<String>,
    /// The largest key read (the count's, taken before the pages).
    pub max_key: Option<i64>,
}

/// Loading one table inside the run's transaction.
pub(super) struct TableStep<'a> {
    pub tx: &'a Client,
    pub transform: &'a TransformSession,
    pub pipeline: &'a Pipeline,
    pub spec: &'a TableSpec,
    pub mode: Mode,
    pub run_id: &'a str,
    pub shared: &'a super::SharedTarget,
    pub marks: &'a super::marks::Marks,
    /// Keys earlier runs held back that this pass does not read: they stay
    /// in `rejected.<table>` for the children.
    pub carried: &'a [i64],
}

/// A table's load between its pages: the open load, what the pages left.
struct Open<'a> {
    load: TableLoad<'a>,
    count: SourceCount,
    bar: TableProgress,
    rows_before: Option<i64>,
    /// One source reader per key range.
    ranges: Vec<KeyRange>,
    started: Instant,
    /// Where the table's ids and the source's meet, for `check`'s note.
    id_note: Option<String>,
}

/// What the pages of one table produced besides the rows loaded.
#[derive(Default)]
struct Pumped {
    read: u64,
    rejections: Rejections,
    quarantine: Vec<crate::checks::QuarantinedRow>,
}

impl<'a> TableStep<'a> {
    pub async fn load(
        &self,
        checks: &mut Checks,
        source: &CxReader,
        progress: &Progress,
    ) -> Result<(TableReport, Loaded), Error> {
        let mut open = self.count_and_begin(checks, source, progress).await?;
        let pumped = self.pump(&mut open, checks, source).await?;
        self.close(open, pumped, checks).await
    }

    /// Counts the source rows (proving the key usable) and opens the load.
    async fn count_and_begin(
        &self,
        checks: &Checks,
        source: &CxReader,
        progress: &Progress,
    ) -> Result<Open<'a>, Error> {
        let (spec, pipeline) = (self.spec, self.pipeline);
        let started = Instant::now();
        let (reader, s) = (source.clone(), spec.clone());
        let count = tokio::task::spawn_blocking(move || count_rows(&reader, &s))
            .await
            .map_err(|e| Error::Internal(format!("count task: {e}")))??;
        let bar = progress.table(spec.name.as_str(), count.rows);
        // Identity checks compare with rows already there: an empty table
        // can still take its rows by COPY directly.
        let stage_checks = checks.stage_checks(spec.name.as_str());
        let path = LoadPath {
            dry: !self.mode.writes(),
            stage_checks: stage_checks.iter().any(|c| !c.needs_target_rows()),
        };
        let load = TableLoad::begin(
            self.tx,
            pipeline.target_table(&spec.name),
            spec.key.as_str(),
            spec.mode,
            path,
            self.shared.sharing(pipeline, spec),
        )
        .await?;
        // A full count of the table, only for its row-count checks.
        let rows_before = match checks.counts_rows(spec) {
            true => Some(load.target_rows().await?),
            false => None,
        };
        let id_note = self.id_spaces(&count, &load).await?;
        let ranges = partitions(&count, pipeline.readers, pipeline.batch_size);
        Ok(Open {
            load,
            count,
            bar,
            rows_before,
            ranges,
            started,
            id_note,
        })
    }

    /// The source's ids and the app's apart: a source that already reaches
    /// `app_ids_from` is refused; without `app_ids_from`, `check` says that
    /// the target's identity hands out ids the source hands out too.
    async fn id_spaces(
        &self,
        count: &SourceCount,
        load: &TableLoad<'a>,
    ) -> Result<Option<String>, Error> {
        let (spec, target) = (self.spec, &self.pipeline.target);
        let source_max = count.keys.map(|(_, max)| max);
        if let (Some(from), Some(max)) = (target.app_ids_from, source_max) {
            if max >= from {
                return Err(Error::Usage(format!(
                    "table {}: the source's largest key is {max}, at or above [target] app_ids_from = {from}: the source's ids and the app's would meet. Set app_ids_from above any id the source will reach",
                    spec.name
                )));
            }
        }
        if self.mode.writes() || target.app_ids_from.is_some() {
            return Ok(None);
        }
        let (Some(next), Some(max)) = (load.next_id().await?, source_max) else {
            return Ok(None);
        };
        if !ids_can_meet(next, max) {
            return Ok(None);
        }
        Ok(Some(format!(
            "{} from {next} (the source's largest is {max})",
            spec.name
        )))
    }

    /// Every page: transform, split off rejected rows, page checks, COPY.
    async fn pump(
        &self,
        open: &mut Open<'a>,
        checks: &mut Checks,
        source: &CxReader,
    ) -> Result<Pumped, Error> {
        let (spec, pipeline) = (self.spec, self.pipeline);
        let mut pages = stream_table(
            source.clone(),
            spec.clone(),
            open.ranges.clone(),
            pipeline.batch_size,
            pipeline.source.timezone,
        );
        let mut pumped = Pumped::default();
        while let Some(page) = pages.recv().await {
            let page = page?;
            let n = page.num_rows() as u64;
            pumped.read += n;
            let mut out_rows = 0u64;
            for out in self.transform.transform(spec, page).await? {
                out_rows += out.num_rows() as u64;
                let kept = split_rejected(&out, spec.key.as_str(), &mut pumped.rejections)
                    .map_err(|message| TransformError::Output {
                        table: spec.name.to_string(),
                        message,
                    })?;
                let outcome = checks.page(self.transform, spec, kept).await?;
                pumped.quarantine.extend(outcome.quarantine);
                let misfits = open.load.write(&outcome.keep).await?;
                let held = checks
                    .misfits(self.transform, spec, &outcome.keep, misfits)
                    .await?;
                pumped.quarantine.extend(held);
            }
            check_no_rows_lost(spec, n, out_rows)?;
            open.bar.advance(n);
        }
        if pumped.read != open.count.rows {
            return Err(ExtractError::Data {
                what: spec.source_label.clone(),
                message: format!("counted {} rows but read {}: the key `{}` has duplicate values (paging skips a repeated key at a page's end), or something wrote to the source during the run", open.count.rows, pumped.read, spec.key),
            }
            .into());
        }
        Ok(pumped)
    }

    /// Stage checks, comparison (verify), quarantine, merge, the report.
    async fn close(
        &self,
        mut open: Open<'a>,
        pumped: Pumped,
        checks: &mut Checks,
    ) -> Result<(TableReport, Loaded), Error> {
        let (spec, pipeline) = (self.spec, self.pipeline);
        open.load.end_copy().await?;
        self.stage_checks(&mut open.load, checks).await?;
        let changed = open.load.target_changes(pipeline.sample_rows).await?;
        let left_alone = checks.record_target_changes(spec, changed.total, changed.sample);
        let comparison = match self.mode {
            Mode::Verify => Some(open.load.compare().await?),
            _ => None,
        };
        if self.mode.writes() {
            stop_on_failed_checks(checks, Some(spec.name.as_str()))?;
            write_quarantine(
                self.tx,
                pipeline.target.app_schema.as_str(),
                self.run_id,
                &pumped.quarantine,
            )
            .await?;
        }
        let (merged, delete) = open.load.finish(!self.mode.writes()).await?;
        self.hold_back_rejected(&pumped.rejections.keys).await?;
        let quarantined = checks.close_table(self.transform, spec.name.as_str())?;
        let read = pumped.read;
        let report = TableReport {
            table: spec.name.to_string(),
            mode: spec.mode,
            deleted: 0,
            read,
            inserted: merged.inserted,
            updated: merged.updated,
            unchanged: merged.unchanged,
            rejected: pumped.rejections.total(),
            rejected_by_reason: pumped.rejections.by_reason,
            quarantined,
            left_out: checks.left_out(spec.name.as_str()),
            left_alone,
            readers: open.ranges.len(),
            comparison,
            not_checked: None,
            previous: None,
            incremental: None,
            seconds: open.started.elapsed().as_secs_f64(),
        };
        open.bar.finish(&format!(
            "{read} read, {} written, {} rejected, {quarantined} quarantined",
            report.written(),
            report.rejected
        ));
        let loaded = Loaded {
            delete,
            rows_before: open.rows_before,
            id_note: open.id_note,
            max_key: open.count.keys.map(|(_, max)| max),
        };
        Ok((report, loaded))
    }

    /// Makes `rejected.<table>` hold this pass's rejected keys for the
    /// children, with the held keys this pass did not read again; a run
    /// keeps this pass's for later incremental runs.
    async fn hold_back_rejected(&self, now: &[i64]) -> Result<(), Error> {
        let (spec, pipeline) = (self.spec, self.pipeline);
        if self.mode.writes() {
            self.marks
                .keep_rejected(self.tx, pipeline, spec, now)
                .await?;
        }
        if !self.transform.keeps_rejected(spec.name.as_str()) {
            return Ok(());
        }
        let mut held: Vec<i64> = self.carried.iter().chain(now).copied().collect();
        held.sort_unstable();
        held.dedup();
        self.transform.set_rejected(spec.name.as_str(), &held)?;
        Ok(())
    }

    /// Uniqueness, checked on the whole staged table and against the
    /// target; quarantined rows move to the quarantine table in Postgres.
    async fn stage_checks(
        &self,
        load: &mut TableLoad<'_>,
        checks: &mut Checks,
    ) -> Result<(), Error> {
        let table = self.spec.name.as_str();
        let quarantine = quarantine_table(self.pipeline.target.app_schema.as_str())?;
        for check in checks.stage_checks(table) {
            if check.needs_target_rows() && load.started_empty() {
                continue;
            }
            let action = unique_action(&check, self.mode, &quarantine);
            let found = load
                .stage_check(
                    |stage, table, key| check.violations(stage, table, key),
                    action,
                    &check.name,
                    self.run_id,
                    self.pipeline.sample_rows,
                )
                .await?;
            let moved = match action {
                UniqueAction::Report => vec![],
                _ => found.keys.clone(),
            };
            let finding = StageFinding {
                total: found.total,
                sample: found.sample,
                moved,
            };
            checks.record_stage(&check, table, finding);
        }
        Ok(())
    }
}

/// Quarantine moves the rows (in `check`, only out of the stage); the
/// other policies report.
fn unique_action<'q>(
    check: &StageCheck,
    mode: Mode,
    quarantine: &'q crate::config::QualifiedName,
) -> UniqueAction<'q> {
    match (check.policy, mode.writes()) {
        (Policy::Quarantine, true) => UniqueAction::Quarantine(quarantine),
        (Policy::Quarantine, false) => UniqueAction::Unstage,
        _ => UniqueAction::Report,
    }
}

/// A transform maps each source row to one output row; dropping rows in SQL
/// would lose them silently, so rows must be rejected with a reason instead.
fn check_no_rows_lost(spec: &TableSpec, input: u64, output: u64) -> Result<(), TransformError> {
    if input == output {
        return Ok(());
    }
    Err(TransformError::Sql {
        table: spec.name.to_string(),
        file: spec.transform_path.display().to_string(),
        message: format!(
            "returned {output} rows for {input} source rows; a transform must return one row per source row (mark rows to skip with `_reject_reason` instead of filtering them out)"
        ),
    })
}

/// Whether the ids the app takes next (from `next` up) can meet the keys a
/// source hands out (up to `source_max` so far, growing). Keys of zero and
/// below, such as the monolith's derived negative keys, never reach ids from
/// one up, however many rows either side adds.
fn ids_can_meet(next: i64, source_max: i64) -> bool {
    !(source_max < 1 && next >= 1)
}

#[cfg(test)]
mod tests {
    use super::ids_can_meet;

    #[test]
    fn negative_source_keys_never_meet_the_apps_ids() {
        assert!(ids_can_meet(2001, 2000));
        assert!(!ids_can_meet(1, 0));
        assert!(!ids_can_meet(2001, -1));
        assert!(ids_can_meet(1, 1));
    }
}
