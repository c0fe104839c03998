//! `padetl serve`: the dashboard, until Ctrl-C.

use super::{load, Context};
use crate::cli::ServeArgs;
use crate::error::{exit, Error};
use crate::serve::{serve as run_dashboard, ServeOptions};

pub(crate) async fn serve(args: &ServeArgs, ctx: &Context) -> Result<u8, Error> {
    let pipeline = load(&args.target)?;
    let options = ServeOptions {
        bind: args.bind,
        allow_hosts: args.allow_host.clone(),
    };
    run_dashboard(&pipeline, options, &ctx.progress).await?;
    Ok(exit::OK)
}
