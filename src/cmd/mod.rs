//! The commands, one file each, as `cli` dispatches them. Each loads what
//! it needs, calls the stages, prints, and returns the exit code it means
//! (see [`crate::error::exit`]).

pub(crate) mod bench;
pub(crate) mod check;
pub(crate) mod demo;
pub(crate) mod migrate;
pub(crate) mod plan;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod verify;

use crate::cli::PipelineArgs;
use crate::config::{load_pipeline, Pipeline};
use crate::error::{exit, Error};
use crate::report::progress::Progress;
use crate::report::{render_text, RunReport};

/// What every command gets besides its own arguments.
pub(crate) struct Context {
    /// Print JSON on stdout instead of text.
    pub json: bool,
    pub progress: Progress,
}

impl Context {
    /// `value` as JSON, or `text()` for a person; exit 0.
    pub fn print<T: serde::Serialize>(
        &self,
        value: &T,
        text: impl FnOnce() -> String,
    ) -> Result<u8, Error> {
        if self.json {
            let s =
                serde_json::to_string_pretty(value).map_err(|e| Error::Internal(e.to_string()))?;
            println!("{s}");
        } else {
            print!("{}", text());
        }
        Ok(exit::OK)
    }

    /// A run's report as JSON or as the terminal table.
    pub fn print_report(&self, report: &RunReport) -> Result<u8, Error> {
        self.print(report, || render_text(report))
    }
}

/// The pipeline the arguments name, with its env file; its warnings are
/// said on stderr whatever `--quiet` says.
pub(crate) fn load(args: &PipelineArgs) -> Result<Pipeline, Error> {
    let pipeline = load_pipeline(&args.pipeline, args.env_file.as_deref())?;
    for warning in &pipeline.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(pipeline)
}

/// A pipeline that asks for confirmation runs only with `--confirm <env>`.
pub(crate) fn confirm(pipeline: &Pipeline, given: Option<&str>) -> Result<(), Error> {
    if !pipeline.confirm || given == Some(pipeline.env.as_str()) {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "{} targets `{}`, which requires confirmation: run again with --confirm {}",
        pipeline.path.display(),
        pipeline.env,
        pipeline.env
    )))
}
