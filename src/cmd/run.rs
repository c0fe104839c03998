//! `padetl run`: the whole flow, committed.

use super::{confirm, load, Context};
use crate::cli::RunArgs;
use crate::error::Error;
use crate::flow::{run_flow, Options};
use crate::target::Mode;

pub(crate) async fn run(args: &RunArgs, ctx: &Context) -> Result<u8, Error> {
    let pipeline = load(&args.schema.target)?;
    confirm(&pipeline, args.schema.confirm.as_deref())?;
    let options = Options {
        allow_destructive: args.schema.allow_destructive,
        skip_checks: args.skip_checks,
        full: args.full,
    };
    let report = run_flow(&pipeline, Mode::Run, options, &ctx.progress).await?;
    ctx.print_report(&report)
}
