//! Report: what a run did, as one serialisable model and its renderings
//! (terminal text, JSON). Progress while it runs lives in [`progress`].

pub mod progress;
mod text;

use std::collections::BTreeMap;

use crate::config::LoadMode;
use crate::schema::SchemaPlan;
use crate::transform::KeymapSummary;

pub use text::render_text;

/// The outcome of one `run` (or the demo's run).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunReport {
    pub pipeline: String,
    pub env: String,
    /// Source and target as `postgresql://user@host:port/db` (never a password).
    pub source: String,
    pub target: String,
    pub schema: SchemaPlan,
    pub keymaps: Vec<KeymapSummary>,
    pub tables: Vec<TableReport>,
    pub seconds: f64,
}

/// One table's counts. `read = inserted + updated + unchanged + rejected`.
#[derive(Debug, Clone, Default, serde::Serialize)]
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
    /// Source connections that read the table at once (key ranges).
    pub readers: usize,
    pub seconds: f64,
}

impl TableReport {
    /// Rows written (inserted, changed or deleted).
    pub fn written(&self) -> u64 {
        self.inserted + self.updated + self.deleted
    }
}

impl RunReport {
    /// Rows written across all tables: 0 on a repeated run.
    pub fn written(&self) -> u64 {
        self.tables.iter().map(TableReport::written).sum()
    }
}
