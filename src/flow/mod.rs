//! One pass of the data flow over a pipeline, inside a single target
//! transaction: reconcile the schema, build the keymaps, then per table
//! extract → transform → check → load ([`table`]). A [`Mode::Run`] commits;
//! `check` and `verify` roll back. A failure anywhere (or a killed process)
//! leaves the target as it was; the run ledger records every pass.

mod marks;
mod table;

use std::time::Instant;

use tokio_postgres::Client;

use crate::checks::Checks;
use crate::config::{Incremental, Pipeline, TableSpec};
use crate::error::Error;
use crate::extract::{source_keys, target_keys, CxReader};
use crate::ledger::{padetl_transactions, Ledger};
use crate::load::{load_order, Provenance, Sharing};
use crate::report::progress::Progress;
use crate::report::{RunReport, TableReport};
use crate::schema::{
    apply_plan, foreign_keys, load_migrations, prepare, reference_fingerprint, ForeignKey,
    Migration, ReferenceGuard, RowCounts, SchemaPlan,
};
use crate::target::{connect, privileges_of, query_error, DbError, Mode, Need, TargetSession};
use crate::transform::{SqlUse, TransformSession};

use self::marks::{Marks, Read};
use self::table::TableStep;

/// Choices a user makes per pass, beyond the pipeline file and the mode.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Apply destructive schema changes instead of refusing them.
    pub allow_destructive: bool,
    /// Leave the pipeline's checks out (benchmarks).
    pub skip_checks: bool,
    /// Read incremental tables in full.
    pub full: bool,
}

/// Runs `pipeline` in `mode`, recorded in the run ledger whatever the outcome.
pub async fn run_flow(
    pipeline: &Pipeline,
    mode: Mode,
    options: Options,
    progress: &Progress,
) -> Result<RunReport, Error> {
    let run_id = run_id();
    let missing = privileges_of(pipeline, Need::Pass).await?;
    if !missing.is_empty() {
        if mode == Mode::Check {
            return Ok(RunReport::cannot_begin(pipeline, run_id, missing));
        }
        let target = pipeline.target.url.to_string();
        return Err(DbError::Privileges { target, missing }.into());
    }
    let entry = Ledger::start(pipeline, mode, &run_id).await?;
    let mut outcome = in_transaction(pipeline, mode, options, progress, run_id).await;
    if let (Ok(report), Some(previous)) = (&mut outcome, entry.previous(pipeline).await) {
        report.compare_with(previous.run, &previous.report);
    }
    let reference = match (&outcome, mode) {
        (Ok(_), Mode::Run) => match fingerprint_reference(pipeline).await {
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

/// Reads the migrations, refusing any that touch the reference schema,
/// before connecting: a bad file fails without touching the target.
pub fn migrations(pipeline: &Pipeline) -> Result<Vec<Migration>, Error> {
    Ok(load_migrations(
        &pipeline.target.migrations_dir,
        pipeline.target.app_schema.as_str(),
        pipeline.target.reference_schema.as_str(),
    )?)
}

async fn in_transaction(
    pipeline: &Pipeline,
    mode: Mode,
    options: Options,
    progress: &Progress,
    run_id: String,
) -> Result<RunReport, Error> {
    let started = Instant::now();
    let migrations = migrations(pipeline)?;
    let session = TargetSession::begin(pipeline, mode, progress).await?;
    let tx = session.client();
    // A run's report can do without the rows of tables it finds as they should be.
    let counts = match mode {
        Mode::Run => RowCounts::WhenChanging,
        Mode::Check | Mode::Verify => RowCounts::Every,
    };
    let (guard, schema) = reconcile(tx, pipeline, &migrations, options, counts, progress).await?;

    let source = CxReader::new(pipeline.source.url.clone(), "source")?;
    let fks = foreign_keys(tx, pipeline.target.app_schema.as_str()).await?;
    let mut checks = Checks::new(pipeline, fks.clone(), !options.skip_checks);
    let page_checks = checks.page_queries(&pipeline.tables);
    let queries = pipeline.tables.iter().map(|t| t.transform_sql.as_str());
    let transform = TransformSession::new()?.keeping_only(SqlUse::of(
        queries.chain(page_checks.iter().map(String::as_str)),
    ));
    let marks = Marks::read(tx, pipeline, options.full).await?;
    // Parents pass before their children, and each pass sets its table's
    // `rejected.*` for them.
    for t in &pipeline.tables {
        transform.set_rejected(t.name.as_str(), &[])?;
    }
    let mut keymaps = Vec::new();
    for km in &pipeline.keymaps {
        let src = {
            let (reader, km) = (source.clone(), km.clone());
            tokio::task::spawn_blocking(move || source_keys(&reader, &km))
                .await
                .map_err(|e| Error::Internal(format!("extract task: {e}")))??
        };
        let tgt = target_keys(tx, &pipeline.target.url, km).await?;
        keymaps.push(transform.add_keymap(km, src, tgt)?);
    }
    let shared = SharedTarget::read(tx, pipeline).await?;
    let mut tables = Vec::new();
    let mut loads = Vec::new();
    let mut unchecked = Unchecked::default();
    for spec in load_order(tx, pipeline).await? {
        if let Some(reason) = unchecked.blocks(spec, &fks) {
            checks.not_checked(spec.name.as_str(), &reason);
            tables.push(TableReport::not_checked(spec, reason));
            loads.push(table::Loaded::default());
            continue;
        }
        let read = marks.decide(pipeline, spec, mode);
        let for_children = transform.keeps_rejected(spec.name.as_str());
        let mut held = match &read {
            Read::Since { .. } => marks.held_earlier(tx, pipeline, spec, for_children).await?,
            Read::Full { .. } => vec![],
        };
        // Held rows read again are rejected again or loaded now; held rows
        // not read again stay held for the children.
        let carried = match held.len() > marks::MAX_HELD {
            true => std::mem::take(&mut held),
            false => vec![],
        };
        // Without children reading them, held keys past the limit were not counted.
        let not_retried = match (carried.len(), for_children) {
            (0, _) => Some(0),
            (n, true) => Some(n),
            (_, false) => None,
        };
        // Only a run advances a mark.
        let next_mark = match (mode.writes(), marks::by_table_key(spec)) {
            (true, false) => Marks::next_mark(&source, spec).await?,
            _ => None,
        };
        let narrowed = match &read {
            Read::Since { mark } => marks::since(spec, mark, &held, &source),
            Read::Full { .. } => spec.clone(),
        };
        let step = TableStep {
            tx,
            transform: &transform,
            pipeline,
            spec: &narrowed,
            mode,
            run_id: &run_id,
            shared: &shared,
            marks: &marks,
            carried: &carried,
        };
        let loaded = match mode {
            Mode::Check => one_table_of_many(tx, step.load(&mut checks, &source, progress)).await?,
            _ => Ok(step.load(&mut checks, &source, progress).await?),
        };
        match loaded {
            Ok((mut report, loaded)) => {
                report.incremental = describe_read(spec, &read, held.len(), not_retried);
                let mark = next_mark.or_else(|| marks::key_mark(spec, &read, loaded.max_key));
                if let (true, Some(mark)) = (mode.writes(), &mark) {
                    marks.advance(tx, pipeline, spec, mark, &run_id).await?;
                }
                tables.push(report);
                loads.push(loaded);
            }
            Err(e) => {
                let reason = e.to_string();
                progress.note(&format!("{}: not checked: {reason}", spec.name));
                checks.not_checked(spec.name.as_str(), &reason);
                unchecked.add(spec);
                tables.push(TableReport::not_checked(spec, reason));
                loads.push(table::Loaded::default());
            }
        }
    }
    for (i, loaded) in loads.iter().enumerate().rev() {
        if let Some(delete) = &loaded.delete {
            tables[i].deleted = delete.run(tx).await?;
        }
    }
    for (t, loaded) in tables.iter().zip(&loads) {
        if let Some(before) = loaded.rows_before {
            let after = before + (t.inserted as i64) - (t.deleted as i64);
            checks.row_counts(&t.table, before, after);
        }
    }
    if mode.writes() {
        stop_on_failed_checks(&checks, None)?;
    }
    guard.verify(tx, "loading").await?;
    session.end().await?;
    Ok(RunReport {
        pipeline: pipeline.name.clone(),
        env: pipeline.env.clone(),
        source: pipeline.source.url.to_string(),
        target: pipeline.target.url.to_string(),
        schema: Some(schema),
        privileges: vec![],
        keymaps,
        tables,
        checks: checks.results().to_vec(),
        notes: id_spaces_note(&loads).into_iter().collect(),
        transaction: Some(shared.transaction),
        dry_run: !mode.writes(),
        run_id,
        seconds: started.elapsed().as_secs_f64(),
        compared_with: None,
    })
}

/// `check` goes on past a table it cannot check: the table's work runs
/// under a savepoint, and a failure rolls back to it and becomes the
/// table's finding (`Ok(Err(_))`). A failure to roll back ends the pass.
async fn one_table_of_many<T>(
    tx: &Client,
    work: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<Result<T, Error>, Error> {
    let db = |what: &str, e: &tokio_postgres::Error| {
        Error::Internal(format!("{what}: {}", crate::target::describe(e)))
    };
    tx.batch_execute("SAVEPOINT padetl_table")
        .await
        .map_err(|e| db("setting a savepoint before the table", &e))?;
    let outcome = work.await;
    let end = match outcome.is_ok() {
        true => "RELEASE SAVEPOINT padetl_table",
        false => "ROLLBACK TO SAVEPOINT padetl_table",
    };
    match (tx.batch_execute(end).await, outcome) {
        (Ok(()), outcome) => Ok(outcome),
        (Err(e), Ok(_)) => Err(db("releasing the table's savepoint", &e)),
        (Err(_), Err(e)) => Err(e),
    }
}

/// How an incremental table was read, for its report line: the mark, and
/// how many rows held back by earlier runs were read again (or not).
fn describe_read(
    spec: &TableSpec,
    read: &Read,
    retried: usize,
    not_retried: Option<usize>,
) -> Option<String> {
    let inc = spec.incremental.as_ref()?;
    let since = match (read, inc) {
        (Read::Full { why }, _) => return Some(why.clone().unwrap_or_else(|| "full read".into())),
        (Read::Since { mark }, Incremental::Key { column }) => {
            format!("incremental: rows with {column} > {mark}")
        }
        (Read::Since { mark }, Incremental::Column { column, overlap_seconds }) => format!(
            "incremental: rows with {column} at or after {mark} (the last mark less the {overlap_seconds} s overlap)"
        ),
    };
    Some(match (retried, not_retried) {
        (0, Some(0)) => since,
        (n, Some(0)) => format!("{since}, and {n} rows held back earlier, read again"),
        (_, Some(n)) => format!(
            "{since}; {n} rows held back earlier are not read again (more than {}): `--full` retries them",
            marks::MAX_HELD
        ),
        (_, None) => format!(
            "{since}; more than {} rows held back earlier are not read again: `--full` retries them",
            marks::MAX_HELD
        ),
    })
}

/// The tables `check` could not check, whose children cannot be either.
#[derive(Default)]
struct Unchecked(Vec<String>);

impl Unchecked {
    fn add(&mut self, spec: &TableSpec) {
        self.0.push(spec.name.to_string());
    }

    /// Why `spec` cannot be checked: a parent of it was not (load order
    /// puts parents first). Marks `spec` unchecked too.
    fn blocks(&mut self, spec: &TableSpec, fks: &[ForeignKey]) -> Option<String> {
        let parent = fks
            .iter()
            .filter(|fk| fk.child == spec.name.as_str() && fk.parent != fk.child)
            .find(|fk| self.0.contains(&fk.parent))?;
        let reason = format!(
            "not checked: its parent table {} could not be checked",
            parent.parent
        );
        self.add(spec);
        Some(reason)
    }
}

/// What the loads need to know about the target they share with the app.
pub(super) struct SharedTarget {
    /// This run's transaction.
    pub transaction: i64,
    /// `None` before padetl's first successful run on this target.
    pub provenance: Option<Provenance>,
}

impl SharedTarget {
    async fn read(tx: &Client, pipeline: &Pipeline) -> Result<Self, Error> {
        let url = &pipeline.target.url;
        let transaction: i64 = tx
            .query_one("SELECT pg_current_xact_id()::text::bigint", &[])
            .await
            .map_err(|e| query_error(url, "reading the run's transaction id", &e))?
            .get(0);
        let earlier = padetl_transactions(tx, pipeline)
            .await
            .map_err(|e| query_error(url, "reading the run ledger", &e))?;
        let provenance = earlier.first().copied().map(|first| Provenance {
            transactions: earlier.iter().copied().chain([transaction]).collect(),
            first,
        });
        Ok(SharedTarget {
            transaction,
            provenance,
        })
    }

    /// What `spec`'s load needs of it.
    pub fn sharing(&self, pipeline: &Pipeline, spec: &TableSpec) -> Sharing {
        Sharing {
            on_change: spec.on_target_change,
            provenance: self.provenance.clone(),
            app_ids_from: pipeline.target.app_ids_from,
        }
    }
}

/// Without `app_ids_from`, where the app's new ids and the source's meet.
fn id_spaces_note(loads: &[table::Loaded]) -> Option<String> {
    let tables: Vec<&str> = loads.iter().filter_map(|l| l.id_note.as_deref()).collect();
    (!tables.is_empty()).then(|| {
        format!(
            "the app's new rows take ids the legacy source hands out too ({}): a row the app creates and one the source creates can get the same id, a collision. Set [target] app_ids_from (e.g. 100000000) to keep them apart (docs/sharing.md)",
            tables.join("; ")
        )
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
            let first: Vec<String> = c
                .sample
                .iter()
                .take(3)
                .map(|v| match v.row.is_empty() && v.key == 0 {
                    true => v.detail.clone(),
                    false => format!("key {}: {}", v.key, v.detail),
                })
                .collect();
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

/// Names a run in the ledger and the quarantine table: UTC start time and
/// process id.
fn run_id() -> String {
    format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        std::process::id()
    )
}

/// Plans and applies the schema inside the session's transaction; returns
/// the guard that later steps re-check before commit.
pub async fn reconcile(
    tx: &Client,
    pipeline: &Pipeline,
    migrations: &[Migration],
    options: Options,
    counts: RowCounts,
    progress: &Progress,
) -> Result<(ReferenceGuard, SchemaPlan), Error> {
    let guard = ReferenceGuard::capture(tx, pipeline.target.reference_schema.as_str()).await?;
    let prepared = prepare(
        tx,
        pipeline.target.app_schema.as_str(),
        migrations,
        &guard,
        options.allow_destructive,
        counts,
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
