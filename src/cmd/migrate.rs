//! `padetl migrate`: the schema step a run starts with, committed on its own.

use super::{confirm, load, Context};
use crate::cli::MigrateArgs;
use crate::error::Error;
use crate::flow::{migrations, reconcile, Options};
use crate::schema::RowCounts;
use crate::target::{require_privileges, Mode, Need, TargetSession};

pub(crate) async fn migrate(args: &MigrateArgs, ctx: &Context) -> Result<u8, Error> {
    let pipeline = load(&args.target)?;
    confirm(&pipeline, args.confirm.as_deref())?;
    let options = Options {
        allow_destructive: args.allow_destructive,
        ..Options::default()
    };
    let migrations = migrations(&pipeline)?;
    require_privileges(&pipeline, Need::Pass).await?;
    let session = TargetSession::begin(&pipeline, Mode::Run, &ctx.progress).await?;
    let (_, plan) = reconcile(
        session.client(),
        &pipeline,
        &migrations,
        options,
        RowCounts::Every,
        &ctx.progress,
    )
    .await?;
    session.end().await?;
    ctx.print(&plan, || {
        format!("schema {}: {}\n", plan.app_schema, plan.summary())
    })
}
