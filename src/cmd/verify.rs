//! Verify: after a load, is the target what the pipeline says it should be?
//!
//! The transformed source is staged exactly as a run stages it (checks and
//! quarantine included) and compared with the table by key: row counts, an
//! order-independent checksum of the loaded columns, the first keys that are
//! missing or differ. Then every foreign key inside the app schema, and the
//! reference schema against the fingerprint the last successful run
//! recorded in the ledger. Nothing is written but the ledger row.

use std::fmt::Write;

use super::{load, Context};
use crate::cli::PipelineArgs;
use crate::config::{LoadMode, Pipeline};
use crate::error::{exit, Error};
use crate::flow::{fingerprint_reference, run_flow, Options};
use crate::ledger::last_reference_fingerprint;
use crate::load::Comparison;
use crate::report::progress::Progress;
use crate::report::TableReport;
use crate::schema::{orphan_rows, ForeignKeyOrphans};
use crate::target::{connect, query_error, Mode};

/// `padetl verify`; exit 1 on any mismatch.
pub(crate) async fn verify(args: &PipelineArgs, ctx: &Context) -> Result<u8, Error> {
    let pipeline = load(args)?;
    let report = verify_target(&pipeline, &ctx.progress).await?;
    ctx.print(&report, || report.render())?;
    Ok(match report.ok {
        true => exit::OK,
        false => exit::CHECKS_FAILED,
    })
}

/// One table: what the source says it should hold against what it holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableVerdict {
    pub table: String,
    /// Source rows read.
    pub source_rows: u64,
    /// Minus rejected and quarantined: the rows the table should hold.
    pub expected_rows: u64,
    /// Expected rows whose key is not in the table.
    pub missing: u64,
    /// Expected rows whose key is there with other values.
    pub differing: u64,
    /// Rows of a `replace` table that the source no longer has.
    pub extra: u64,
    pub comparison: Comparison,
    pub ok: bool,
}

/// The reference schema now against the last successful run's record.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReferenceVerdict {
    /// Ledger id of the run whose fingerprint is compared.
    pub recorded_by: Option<String>,
    /// `None` when no run has recorded one yet.
    pub unchanged: Option<bool>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyReport {
    pub pipeline: String,
    pub env: String,
    pub target: String,
    pub tables: Vec<TableVerdict>,
    pub foreign_keys: Vec<ForeignKeyOrphans>,
    pub reference: ReferenceVerdict,
    pub ok: bool,
}

/// Runs every comparison; `ok` is false on any mismatch.
async fn verify_target(pipeline: &Pipeline, progress: &Progress) -> Result<VerifyReport, Error> {
    let run = run_flow(pipeline, Mode::Verify, Options::default(), progress).await?;
    let tables: Vec<TableVerdict> = run.tables.iter().map(TableVerdict::of).collect();
    let url = &pipeline.target.url;
    let client = connect(url).await?;
    let foreign_keys = orphan_rows(&client, pipeline.target.app_schema.as_str()).await?;
    let recorded = last_reference_fingerprint(&client, pipeline)
        .await
        .map_err(|e| query_error(url, "reading the run ledger", &e))?;
    let reference = match recorded {
        Some((id, fingerprint)) => ReferenceVerdict {
            recorded_by: Some(id),
            unchanged: Some(fingerprint_reference(pipeline).await? == fingerprint),
        },
        None => ReferenceVerdict {
            recorded_by: None,
            unchanged: None,
        },
    };
    let ok = tables.iter().all(|t| t.ok)
        && foreign_keys.iter().all(|f| f.orphans == 0)
        && reference.unchanged != Some(false);
    Ok(VerifyReport {
        pipeline: run.pipeline,
        env: run.env,
        target: run.target,
        tables,
        foreign_keys,
        reference,
        ok,
    })
}

impl TableVerdict {
    /// A table's verdict from what the verify pass counted and compared.
    fn of(t: &TableReport) -> Self {
        let comparison = t.comparison.clone().unwrap_or_default();
        let extra = match t.mode {
            LoadMode::Replace => t.deleted,
            _ => 0,
        };
        let ok = t.inserted == 0 && t.updated == 0 && extra == 0 && comparison.matches();
        TableVerdict {
            table: t.table.clone(),
            source_rows: t.read,
            expected_rows: t
                .read
                .saturating_sub(t.rejected.saturating_add(t.quarantined)),
            missing: t.inserted,
            differing: t.updated,
            extra,
            comparison,
            ok,
        }
    }
}

impl VerifyReport {
    /// The report for a terminal.
    fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "verify {} (env {}) against {}\n",
            self.pipeline, self.env, self.target
        );
        let _ = writeln!(
            out,
            "{:<16} {:>10} {:>10} {:>8} {:>9} {:>6}  result",
            "table", "source", "expected", "missing", "differing", "extra"
        );
        for t in &self.tables {
            let result = match t.ok {
                true => "ok".to_string(),
                false => format!(
                    "MISMATCH (checksum source {} / target {}; first keys: {})",
                    t.comparison.source_checksum,
                    t.comparison.target_checksum,
                    keys(&t.comparison.first_differing_keys)
                ),
            };
            let _ = writeln!(
                out,
                "{:<16} {:>10} {:>10} {:>8} {:>9} {:>6}  {result}",
                t.table, t.source_rows, t.expected_rows, t.missing, t.differing, t.extra
            );
        }
        out.push('\n');
        for f in &self.foreign_keys {
            let result = match f.orphans {
                0 => "ok".to_string(),
                n => format!("MISMATCH: {n} row(s) without a parent"),
            };
            let _ = writeln!(
                out,
                "foreign key {}.{} → {}: {result}",
                f.foreign_key.child, f.foreign_key.column, f.foreign_key.parent
            );
        }
        let reference = match (&self.reference.recorded_by, self.reference.unchanged) {
            (Some(id), Some(true)) => format!("unchanged since run {id}"),
            (Some(id), _) => format!("MISMATCH: changed since run {id}"),
            (None, _) => "no successful run has recorded a fingerprint yet".to_string(),
        };
        let _ = writeln!(out, "reference schema: {reference}");
        let verdict = match self.ok {
            true => "ok: the target holds what the pipeline loads",
            false => "MISMATCH: see the rows above",
        };
        let _ = writeln!(out, "\n{verdict}");
        out
    }
}

fn keys(k: &[i64]) -> String {
    match k.is_empty() {
        true => "none".into(),
        false => k.iter().map(i64::to_string).collect::<Vec<_>>().join(", "),
    }
}
