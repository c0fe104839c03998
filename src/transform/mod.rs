//! Transform: the pipeline's SQL over source batches, in DataFusion.
//!
//! Tables visible to a transform:
//! - `source.<table>`: the current page of this table's source rows;
//! - `keymap.<name>`: `source_id → target_id` for each keymap, with status;
//! - `rejected.<table>`: keys of rows already rejected in parent tables;
//! - `output.<table>`, `quarantined.<table>`: for the checks (see
//!   [`crate::checks`]).
//!
//! Nothing here writes to a database.

mod keymap;
mod session;
mod split;
mod udf;
mod usage;

pub(crate) use keymap::{AMBIGUOUS, MATCHED, ORPHAN};
pub use session::{KeymapSummary, TransformSession};
pub use split::{split_rejected, Rejections};
pub use usage::SqlUse;

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
