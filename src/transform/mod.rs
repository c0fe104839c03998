//! Transform: the pipeline's SQL over source batches, in DataFusion.
//!
//! Tables visible to a transform:
//! - `source.<table>`: the current page of this table's source rows;
//! - `keymap.<name>`: `source_id → target_id` for each keymap, with status;
//! - `rejected.<table>`: keys of rows already rejected in parent tables;
//! - `output.<table>`, `quarantined.<table>`: for checks (see [`check`]).
//!
//! Nothing here writes to a database.

mod check;
mod keymap;
mod outcome;
mod session;
mod split;
mod udf;

pub use check::{follows_parent_sql, page_check_sql};
pub use keymap::{keymap_sql, AMBIGUOUS, MATCHED, ORPHAN};
pub use outcome::{CheckResult, Checks, ForeignKey, PageOutcome, QuarantinedRow, Violation};
pub use session::{KeymapSummary, TransformSession};
pub use split::{split_rejected, Rejections, REJECT_COLUMN};

#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("transform {file} for table {table}: {message}")]
    Sql {
        table: String,
        file: String,
        message: String,
    },
    #[error("keymap {keymap}: {message}")]
    Keymap { keymap: String, message: String },
    #[error("table {table}: {message}")]
    Output { table: String, message: String },
    #[error("check {check} on {table}: {message}")]
    Check {
        check: String,
        table: String,
        message: String,
    },
}
