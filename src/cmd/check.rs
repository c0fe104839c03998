//! `padetl check`: the pre-flight report. Everything a run would do up to
//! the merge, counted, every check evaluated, then rolled back.

use super::{load, Context};
use crate::cli::CheckArgs;
use crate::error::{exit, Error};
use crate::flow::{run_flow, Options};
use crate::report::{render_html, render_markdown};
use crate::target::Mode;

pub(crate) async fn check(args: &CheckArgs, ctx: &Context) -> Result<u8, Error> {
    let pipeline = load(&args.target)?;
    let options = Options {
        allow_destructive: args.allow_destructive,
        full: args.full,
        ..Options::default()
    };
    let report = run_flow(&pipeline, Mode::Check, options, &ctx.progress).await?;
    if args.markdown {
        print!("{}", render_markdown(&report));
    } else if args.html {
        print!("{}", render_html(&report));
    } else {
        ctx.print_report(&report)?;
    }
    Ok(
        match (
            report.privileges.is_empty(),
            report.failed_checks().is_empty(),
        ) {
            (false, _) => exit::DATABASE,
            (true, true) => exit::OK,
            (true, false) => exit::CHECKS_FAILED,
        },
    )
}
