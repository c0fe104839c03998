//! Report: what a run, check or verify did, as one serialisable model and
//! its renderings: terminal text ([`render_text`]), Markdown
//! ([`render_markdown`]), one self-contained HTML file ([`render_html`]) and
//! JSON (serde). Progress while it runs lives in [`progress`].

mod compare;
mod html;
mod markdown;
pub mod progress;
mod text;

use std::collections::BTreeMap;

use crate::checks::CheckResult;
use crate::config::LoadMode;
use crate::load::Comparison;
use crate::schema::SchemaPlan;
use crate::target::MissingPrivilege;
use crate::transform::KeymapSummary;

pub use compare::{change, Compared};
pub use html::{render_html, render_html_body};
pub use markdown::render_markdown;
pub use text::render_text;

/// The outcome of one `run` (or the demo's run).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RunReport {
    pub pipeline: String,
    pub env: String,
    /// Source and target as `postgresql://user@host:port/db` (never a password).
    pub source: String,
    pub target: String,
    /// `None` when the pass could not begin (see `privileges`).
    pub schema: Option<SchemaPlan>,
    /// Rights the target's role lacks; a pass with any did nothing else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub privileges: Vec<MissingPrivilege>,
    pub keymaps: Vec<KeymapSummary>,
    pub tables: Vec<TableReport>,
    /// Every check's violations, with a sample of rows.
    pub checks: Vec<CheckResult>,
    /// Things a person should know that are not findings of a check (the
    /// app's ids and the source's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The target transaction the run wrote in (the ledger keeps it: rows
    /// of other transactions since were written by someone else).
    #[serde(skip)]
    pub transaction: Option<i64>,
    /// `check` computed what a run would do and wrote nothing.
    pub dry_run: bool,
    /// Names the run in the quarantine table.
    pub run_id: String,
    pub seconds: f64,
    /// The earlier pass the "since" numbers compare with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compared_with: Option<Compared>,
}

/// One table's counts.
/// `read = inserted + updated + unchanged + rejected + quarantined`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct TableReport {
    pub table: String,
    pub mode: LoadMode,
    pub read: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Rows a `replace` table had that were not loaded.
    pub deleted: u64,
    pub rejected: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Rows a `quarantine` check took out of the load (or its parent's did).
    pub quarantined: u64,
    /// Rows with a value that does not fit its column under a `fail`
    /// policy: not loaded (a run stops; `check` counts them).
    #[serde(default)]
    pub left_out: u64,
    /// Rows changed in the target since padetl wrote them that the run left
    /// as the target has them (`on_target_change = "target_wins"`).
    #[serde(default)]
    pub left_alone: u64,
    /// Source connections that read the table at once (key ranges).
    pub readers: usize,
    /// `check` only: why the table could not be checked (its source query
    /// failed, its transform failed, a parent could not be checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_checked: Option<String>,
    /// An incremental table: what was read ("incremental: rows with id >
    /// 41", or why it was read in full).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<String>,
    /// The same table's counts in the previous `check` or `run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousCounts>,
    /// `verify` only: the transformed source compared with the table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    pub seconds: f64,
}

/// A table's counts in an earlier report, for the "since" columns.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PreviousCounts {
    pub read: u64,
    pub written: u64,
    pub rejected: u64,
    pub quarantined: u64,
    #[serde(default)]
    pub left_out: u64,
}

impl TableReport {
    /// A table `check` could not check, and why.
    pub fn not_checked(spec: &crate::config::TableSpec, reason: String) -> Self {
        TableReport {
            table: spec.name.to_string(),
            mode: spec.mode,
            not_checked: Some(reason),
            ..TableReport::default()
        }
    }

    /// The counts an later report compares with.
    pub fn counts(&self) -> PreviousCounts {
        PreviousCounts {
            read: self.read,
            written: self.written(),
            rejected: self.rejected,
            quarantined: self.quarantined,
            left_out: self.left_out,
        }
    }

    /// Rows written (inserted, changed or deleted).
    pub fn written(&self) -> u64 {
        self.inserted + self.updated + self.deleted
    }
}

impl RunReport {
    /// A report with nothing in it yet.
    pub fn empty(pipeline: &str, env: &str) -> Self {
        RunReport {
            pipeline: pipeline.to_string(),
            env: env.to_string(),
            source: String::new(),
            target: String::new(),
            schema: None,
            privileges: vec![],
            keymaps: vec![],
            tables: vec![],
            checks: vec![],
            notes: vec![],
            transaction: None,
            dry_run: true,
            run_id: String::new(),
            seconds: 0.0,
            compared_with: None,
        }
    }

    /// A check that could not begin: the role lacks `privileges`.
    pub fn cannot_begin(
        pipeline: &crate::config::Pipeline,
        run_id: String,
        privileges: Vec<MissingPrivilege>,
    ) -> Self {
        RunReport {
            source: pipeline.source.url.to_string(),
            target: pipeline.target.url.to_string(),
            privileges,
            run_id,
            ..RunReport::empty(&pipeline.name, &pipeline.env)
        }
    }

    /// Rows written across all tables: 0 on a repeated run.
    pub fn written(&self) -> u64 {
        self.tables.iter().map(TableReport::written).sum()
    }

    /// `fail` checks that found rows: a run would stop, `check` exits 1.
    pub fn failed_checks(&self) -> Vec<&CheckResult> {
        self.checks
            .iter()
            .filter(|c| c.policy == crate::config::Policy::Fail && c.violations > 0)
            .collect()
    }

    /// One line: what a run would do (check) or did.
    pub fn verdict(&self) -> String {
        if !self.privileges.is_empty() {
            return format!(
                "CANNOT CHECK: the target's role lacks {} privilege(s) (listed in this report); nothing was read or written",
                self.privileges.len()
            );
        }
        let failed = self.failed_checks();
        let warned: u64 = self
            .checks
            .iter()
            .filter(|c| c.policy == crate::config::Policy::Warn)
            .map(|c| c.violations)
            .sum();
        let quarantined: u64 = self.tables.iter().map(|t| t.quarantined).sum();
        let written = self.written();
        let mut notes = Vec::new();
        if warned > 0 {
            notes.push(format!("{warned} warning(s)"));
        }
        if quarantined > 0 {
            notes.push(format!("{quarantined} row(s) quarantined"));
        }
        let notes = match notes.is_empty() {
            true => String::new(),
            false => format!(" ({})", notes.join(", ")),
        };
        if !failed.is_empty() {
            let reasons: Vec<String> = failed
                .iter()
                .map(|c| match c.kind.as_str() {
                    "not_checked" => format!("{} not checked", c.table),
                    _ => format!("{} on {}: {} row(s)", c.name, c.table, c.violations),
                })
                .collect();
            return format!(
                "FAIL: {} finding(s) with policy fail ({}); a run would stop before writing anything",
                failed.len(),
                reasons.join("; ")
            );
        }
        let change = match (self.dry_run, written) {
            (true, 0) => "a run would change nothing".to_string(),
            (true, n) => format!("a run would write {n} rows"),
            (false, 0) => "nothing to change".to_string(),
            (false, n) => format!("{n} rows written"),
        };
        format!("ok: {change}{notes}")
    }
}

/// A JSON row as one line, for tables in reports.
fn row_text(row: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(row.clone()).to_string()
}
