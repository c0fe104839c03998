//! One run of a pipeline, end to end, inside a single target transaction:
//! a failure anywhere (or a killed process) leaves the target as it was.

use std::time::Instant;

use tokio_postgres::{Client, Transaction};

use crate::config::{Keymap, Pipeline, Policy, TableSpec};
use crate::error::Error;
use crate::extract::{count_rows, partitions, stream_table, CxReader, ExtractError};
use crate::ledger::{self, Ledger};
use crate::load::{
    foreign_keys, load_order, quarantine_table, write_quarantine, LoadPath, PendingDelete,
    TableLoad, UniqueAction,
};
use crate::report::progress::Progress;
use crate::report::{RunReport, TableReport};
use crate::schema::{
    apply_plan, load_migrations, prepare, reference_fingerprint, Migration, ReferenceGuard,
    SchemaPlan,
};
use crate::target::{connect, query_error};
use crate::transform::{
    split_rejected, Checks, KeymapSummary, Rejections, TransformError, TransformSession,
};

/// Choices a user makes per run, beyond the pipeline file.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Apply destructive schema changes instead of refusing them.
    pub allow_destructive: bool,
    /// `check`: do everything up to the merge, count what it would do, run
    /// every check, then roll back. Nothing is written to a real table.
    pub dry: bool,
    /// `verify` (with `dry`): also compare the staged rows with the table.
    pub verify: bool,
    /// Leave the pipeline's checks out (benchmarks).
    pub skip_checks: bool,
}

/// Runs `pipeline`: reconcile, extract, transform, check, load, commit —
/// recorded in the run ledger whatever the outcome.
pub async fn run_pipeline(
    pipeline: &Pipeline,
    options: RunOptions,
    progress: &Progress,
) -> Result<RunReport, Error> {
    let run_id = run_id();
    let command = match (options.dry, options.verify) {
        (_, true) => ledger::Command::Verify,
        (true, false) => ledger::Command::Check,
        (false, false) => ledger::Command::Run,
    };
    let entry = Ledger::start(pipeline, command, &run_id).await?;
    let outcome = run_in_transaction(pipeline, options, progress, run_id).await;
    let reference = match (&outcome, options.dry) {
        (Ok(_), false) => match fingerprint_reference(pipeline).await {
            Ok(f) => Some(f),
            Err(e) => {
                progress.note(&format!(
                    "could not fingerprint the reference schema for the ledger: {e}"
                ));
                None
            }
        },
        _ => None,
    };
    if let Err(e) = entry.finish(&outcome, reference.as_deref()).await {
        progress.note(&format!(
            "could not record the outcome in the run ledger: {}",
            crate::target::describe(&e)
        ));
    }
    outcome
}

/// The reference schema's fingerprint now, on a connection of its own.
pub async fn fingerprint_reference(pipeline: &Pipeline) -> Result<String, Error> {
    let client = connect(&pipeline.target.url).await?;
    Ok(reference_fingerprint(&client, pipeline.target.reference_schema.as_str()).await?)
}

async fn run_in_transaction(
    pipeline: &Pipeline,
    options: RunOptions,
    progress: &Progress,
    run_id: String,
) -> Result<RunReport, Error> {
    let started = Instant::now();
    let (migrations, mut client) = open_target(pipeline).await?;
    let url = &pipeline.target.url;
    let tx = client
        .transaction()
        .await
        .map_err(|e| query_error(url, "starting the transaction", &e))?;
    set_timeouts(&tx, pipeline).await?;
    lock_target(&tx, pipeline, progress).await?;

    let (guard, schema) = reconcile(&tx, pipeline, &migrations, options, progress).await?;

    let source = CxReader::new(pipeline.source.url.clone(), "source");
    let target = CxReader::new(pipeline.target.url.clone(), "target");
    let session = TransformSession::new()?;
    for t in &pipeline.tables {
        session.set_rejected(t.name.as_str(), &[])?;
    }
    let mut keymaps = Vec::new();
    for km in &pipeline.keymaps {
        keymaps.push(build_keymap(&session, km, &source, &target).await?);
    }
    let fks = foreign_keys(&tx, pipeline.target.app_schema.as_str()).await?;
    let mut checks = Checks::new(pipeline, fks, !options.skip_checks);
    let mut tables = Vec::new();
    let mut loads = Vec::new();
    for spec in load_order(&tx, pipeline).await? {
        let mut step = TableStep {
            tx: &tx,
            session: &session,
            pipeline,
            spec,
            checks: &mut checks,
            options,
            run_id: &run_id,
        };
        let (report, loaded) = step.load(&source, progress).await?;
        tables.push(report);
        loads.push(loaded);
    }
    for (i, loaded) in loads.iter().enumerate().rev() {
        if let Some(delete) = &loaded.delete {
            tables[i].deleted = delete.run(&tx).await?;
        }
    }
    for (t, loaded) in tables.iter().zip(&loads) {
        if let Some(before) = loaded.rows_before {
            let after = before + (t.inserted as i64) - (t.deleted as i64);
            checks.row_counts(&t.table, before, after);
        }
    }
    if !options.dry {
        stop_on_failed_checks(&checks, None)?;
    }
    guard.verify(&tx, "loading").await?;
    if options.dry {
        tx.rollback()
            .await
            .map_err(|e| query_error(url, "rolling back the check", &e))?;
    } else {
        tx.commit()
            .await
            .map_err(|e| query_error(url, "committing", &e))?;
    }
    Ok(RunReport {
        pipeline: pipeline.name.clone(),
        env: pipeline.env.clone(),
        source: pipeline.source.url.to_string(),
        target: pipeline.target.url.to_string(),
        schema,
        keymaps,
        tables,
        checks: checks.results().to_vec(),
        dry_run: options.dry,
        run_id,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A `fail` check that found rows stops the run; the transaction rolls back.
fn stop_on_failed_checks(checks: &Checks, table: Option<&str>) -> Result<(), Error> {
    let failed = checks.failed(table);
    if failed.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = failed
        .iter()
        .map(|c| {
            let first: Vec<String> = c.sample.iter().map(|v| v.detail.clone()).take(3).collect();
            format!(
                "{} on {}: {} row(s) (first: {})",
                c.name,
                c.table,
                c.violations,
                first.join("; ")
            )
        })
        .collect();
    Err(Error::ChecksFailed(list.join("\n  ")))
}

/// Names a run in the quarantine table: UTC start time and process id.
fn run_id() -> String {
    format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        std::process::id()
    )
}

/// Reconciles the target schema only (`padetl migrate`): the same step a
/// run starts with, committed on its own.
pub async fn migrate(
    pipeline: &Pipeline,
    options: RunOptions,
    progress: &Progress,
) -> Result<SchemaPlan, Error> {
    let (migrations, mut client) = open_target(pipeline).await?;
    let url = &pipeline.target.url;
    let tx = client
        .transaction()
        .await
        .map_err(|e| query_error(url, "starting the transaction", &e))?;
    set_timeouts(&tx, pipeline).await?;
    lock_target(&tx, pipeline, progress).await?;
    let (_, plan) = reconcile(&tx, pipeline, &migrations, options, progress).await?;
    tx.commit()
        .await
        .map_err(|e| query_error(url, "committing", &e))?;
    Ok(plan)
}

/// Plans and applies the schema inside `tx`; returns the guard that later
/// steps re-check before commit.
async fn reconcile(
    tx: &Transaction<'_>,
    pipeline: &Pipeline,
    migrations: &[Migration],
    options: RunOptions,
    progress: &Progress,
) -> Result<(ReferenceGuard, SchemaPlan), Error> {
    let guard = ReferenceGuard::capture(tx, pipeline.target.reference_schema.as_str()).await?;
    let prepared = prepare(
        tx,
        pipeline.target.app_schema.as_str(),
        migrations,
        &guard,
        options.allow_destructive,
    )
    .await?;
    if !prepared.plan.is_noop() {
        progress.note(&format!(
            "schema {}: {}",
            pipeline.target.app_schema,
            prepared.plan.summary()
        ));
    }
    apply_plan(tx, &prepared, migrations, &guard, options.allow_destructive).await?;
    Ok((guard, prepared.plan))
}

/// Reads the migrations (refusing any that touch the reference schema)
/// before connecting, so a bad file fails without touching the target.
pub async fn open_target(pipeline: &Pipeline) -> Result<(Vec<Migration>, Client), Error> {
    let migrations = load_migrations(
        &pipeline.target.migrations_dir,
        pipeline.target.app_schema.as_str(),
        pipeline.target.reference_schema.as_str(),
    )?;
    let client = connect(&pipeline.target.url).await?;
    Ok((migrations, client))
}

/// Both timeouts hold for the whole transaction: a lock that cannot be had
/// (another run, a long query on a table to alter) fails the run cleanly.
pub async fn set_timeouts(tx: &Transaction<'_>, pipeline: &Pipeline) -> Result<(), Error> {
    let t = &pipeline.target;
    tx.execute(
        "SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)",
        &[&t.lock_timeout.as_str(), &t.statement_timeout.as_str()],
    )
    .await
    .map_err(|e| query_error(&t.url, "setting lock_timeout and statement_timeout", &e))?;
    Ok(())
}

/// One run per target app schema at a time; a second one waits and says so,
/// and gives up after `lock_timeout`.
async fn lock_target(
    tx: &Transaction<'_>,
    pipeline: &Pipeline,
    progress: &Progress,
) -> Result<(), Error> {
    let url = &pipeline.target.url;
    let key = format!("padetl:{}", pipeline.target.app_schema);
    let got: bool = tx
        .query_one("SELECT pg_try_advisory_xact_lock(hashtext($1))", &[&key])
        .await
        .map_err(|e| query_error(url, "taking the run lock", &e))?
        .get(0);
    if !got {
        progress.note(&format!(
            "another padetl run holds the lock on {}; waiting up to {} (lock_timeout)",
            pipeline.target.app_schema, pipeline.target.lock_timeout
        ));
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key])
            .await
            .map_err(|e| {
                query_error(
                    url,
                    &format!(
                        "waiting for another padetl run on {} to finish (gave up after lock_timeout {})",
                        pipeline.target.app_schema, pipeline.target.lock_timeout
                    ),
                    &e,
                )
            })?;
    }
    Ok(())
}

async fn build_keymap(
    session: &TransformSession,
    km: &Keymap,
    source: &CxReader,
    target: &CxReader,
) -> Result<KeymapSummary, Error> {
    let what = format!("keymap {} keys", km.name);
    let src = blocking_query(source.clone(), km.source_query.clone(), what.clone()).await?;
    let tgt = blocking_query(target.clone(), km.target_query.clone(), what).await?;
    Ok(session.add_keymap(km, src, tgt).await?)
}

async fn blocking_query(
    reader: CxReader,
    sql: String,
    what: String,
) -> Result<Vec<datafusion::arrow::record_batch::RecordBatch>, Error> {
    tokio::task::spawn_blocking(move || reader.query(&sql, &what))
        .await
        .map_err(|e| Error::Internal(format!("extract task: {e}")))?
        .map_err(Error::from)
}

/// What a loaded table leaves for the end of the run.
struct Loaded {
    delete: Option<PendingDelete>,
    /// Rows before the load, for tables with a row-count check.
    rows_before: Option<i64>,
}

/// Loading one table: extract, transform, check, stage, merge.
struct TableStep<'a, 't> {
    tx: &'a Transaction<'t>,
    session: &'a TransformSession,
    pipeline: &'a Pipeline,
    spec: &'a TableSpec,
    checks: &'a mut Checks,
    options: RunOptions,
    run_id: &'a str,
}

impl TableStep<'_, '_> {
    async fn load(
        &mut self,
        source: &CxReader,
        progress: &Progress,
    ) -> Result<(TableReport, Loaded), Error> {
        let (spec, pipeline, session) = (self.spec, self.pipeline, self.session);
        let started = Instant::now();
        let (reader, s) = (source.clone(), spec.clone());
        let count = tokio::task::spawn_blocking(move || count_rows(&reader, &s))
            .await
            .map_err(|e| Error::Internal(format!("count task: {e}")))??;
        let mut bar = progress.table(spec.name.as_str(), count.rows);
        let path = LoadPath {
            dry: self.options.dry,
            stage_checks: !self.checks.stage_checks(spec.name.as_str()).is_empty(),
        };
        let mut load = TableLoad::begin(
            self.tx,
            pipeline.target_table(&spec.name),
            spec.key.as_str(),
            spec.mode,
            path,
        )
        .await?;
        // A full count of the table, only for its row-count checks.
        let rows_before = match self.checks.counts_rows(spec.name.as_str()) {
            true => Some(load.target_rows().await?),
            false => None,
        };
        let ranges = partitions(&count, pipeline.readers, pipeline.batch_size);
        let readers = ranges.len();
        let mut pages = stream_table(
            source.clone(),
            spec.clone(),
            ranges,
            pipeline.batch_size,
            pipeline.source.timezone,
        );
        let mut rejections = Rejections::default();
        let mut quarantine = Vec::new();
        let mut read = 0u64;
        while let Some(page) = pages.recv().await {
            let page = page?;
            let n = page.num_rows() as u64;
            read += n;
            let mut out_rows = 0u64;
            for out in session.transform(spec, page).await? {
                out_rows += out.num_rows() as u64;
                let kept = split_rejected(&out, spec.key.as_str(), &mut rejections).map_err(
                    |message| TransformError::Output {
                        table: spec.name.to_string(),
                        message,
                    },
                )?;
                let outcome = self.checks.page(session, spec, kept).await?;
                quarantine.extend(outcome.quarantine);
                load.write(&outcome.keep).await?;
            }
            check_no_rows_lost(spec, n, out_rows)?;
            bar.advance(n);
        }
        if read != count.rows {
            return Err(ExtractError::Data {
                what: spec.source_label.clone(),
                message: format!("counted {} rows but read {read}: the key `{}` has duplicate values (paging skips a repeated key at a page's end), or something wrote to the source during the run", count.rows, spec.key),
            }
            .into());
        }
        load.end_copy().await?;
        self.stage_checks(&mut load).await?;
        let comparison = match self.options.verify {
            true => Some(load.compare().await?),
            false => None,
        };
        if !self.options.dry {
            stop_on_failed_checks(self.checks, Some(spec.name.as_str()))?;
            write_quarantine(
                self.tx,
                pipeline.target.app_schema.as_str(),
                self.run_id,
                &quarantine,
            )
            .await?;
        }
        let (merged, delete) = load.finish(self.options.dry).await?;
        session.set_rejected(spec.name.as_str(), &rejections.keys)?;
        let quarantined = self.checks.close_table(session, spec.name.as_str())?;
        let report = TableReport {
            table: spec.name.to_string(),
            mode: spec.mode,
            deleted: 0,
            read,
            inserted: merged.inserted,
            updated: merged.updated,
            unchanged: merged.unchanged,
            rejected: rejections.total(),
            rejected_by_reason: rejections.by_reason,
            quarantined,
            readers,
            comparison,
            seconds: started.elapsed().as_secs_f64(),
        };
        bar.finish(&format!(
            "{read} read, {} written, {} rejected, {quarantined} quarantined",
            report.written(),
            report.rejected
        ));
        Ok((
            report,
            Loaded {
                delete,
                rows_before,
            },
        ))
    }

    /// Uniqueness, checked on the whole staged table and against the
    /// target; quarantined rows move to the quarantine table in Postgres.
    async fn stage_checks(&mut self, load: &mut TableLoad<'_>) -> Result<(), Error> {
        let table = self.spec.name.as_str();
        let quarantine = quarantine_table(self.pipeline.target.app_schema.as_str())?;
        for (index, name, column, policy) in self.checks.stage_checks(table) {
            let action = match (policy, self.options.dry) {
                (Policy::Quarantine, false) => UniqueAction::Quarantine(&quarantine),
                (Policy::Quarantine, true) => UniqueAction::Unstage,
                _ => UniqueAction::Report,
            };
            let found = load
                .unique_check(
                    &column,
                    action,
                    &name,
                    self.run_id,
                    self.pipeline.sample_rows,
                )
                .await?;
            let moved = match action {
                UniqueAction::Report => vec![],
                _ => found.keys.clone(),
            };
            self.checks
                .record_stage(index, table, found.keys.len() as u64, found.sample, moved);
        }
        Ok(())
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
