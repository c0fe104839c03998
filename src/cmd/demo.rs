//! `padetl demo`: a legacy source and a dev target on the local Postgres,
//! seeded by the same SQL that `docker-compose.yml` runs (seed/), then a run
//! of `pipelines/dev.toml`. The source also gets the pre-app monolith
//! (`pa_dealing.personal_account_dealing`) for `pipelines/dev-monolith.toml`.
//! It drops only databases that it created itself.

use super::Context;
use crate::cli::DemoArgs;
use crate::config::{load_pipeline, DatabaseUrl, Ident, Pipeline};
use crate::error::Error;
use crate::flow::{run_flow, Options};
use crate::target::{connect, query_error, Mode};
use tokio_postgres::Client;

/// `padetl demo`: seed, then run the pipeline.
pub(crate) async fn demo(args: &DemoArgs, ctx: &Context) -> Result<u8, Error> {
    let pipeline = load_pipeline(&args.pipeline, args.env_file.as_deref())
        .map_err(|e| missing_pipeline_hint(e, &args.pipeline))?;
    ctx.progress.note(&format!(
        "seeding {} and {} with {} requests",
        pipeline.source.url, pipeline.target.url, args.rows
    ));
    seed_demo(&pipeline, args.rows).await?;
    let report = run_flow(&pipeline, Mode::Run, Options::default(), &ctx.progress).await?;
    ctx.print_report(&report)
}

/// A pipeline the demo or the bench expects by default is missing when they
/// run from elsewhere than the repository's root: say so.
pub(crate) fn missing_pipeline_hint(
    e: crate::config::ConfigError,
    path: &std::path::Path,
) -> Error {
    if !path.exists() {
        return Error::Usage(format!(
            "{} not found: run `padetl demo` from the repository root, or pass --pipeline",
            path.display()
        ));
    }
    e.into()
}

/// The comment that marks a database as the demo's own.
pub(crate) const DEMO_MARK: &str = "created by padetl demo; padetl demo may drop it";

/// The seed SQL, compiled in so the demo works from any directory.
const REFERENCE_SQL: &str = include_str!("../../seed/reference.sql");
const LEGACY_SQL: &str = include_str!("../../seed/legacy.sql");
/// The monolith's table and generator: the demo's source only, not the
/// benchmark's (which measures the v1 tables).
const MONOLITH_SQL: &str = include_str!("../../seed/monolith.sql");
/// The legacy source's tables are the v1 layout, applied in schema `pa_dealing`.
const V1_LAYOUT_SQL: &str = include_str!("../../migrations/0001_v1_legacy_layout.sql");
const LEGACY_SCHEMA_OPEN: &str = "CREATE SCHEMA pa_dealing; SET search_path TO pa_dealing";
const LEGACY_SCHEMA_CLOSE: &str = "SET search_path TO DEFAULT";

/// Default number of legacy requests; docker's init script uses the same.
pub(crate) const DEFAULT_ROWS: u32 = 2000;

/// Recreates and seeds the pipeline's source and target databases.
async fn seed_demo(pipeline: &Pipeline, rows: u32) -> Result<(), Error> {
    let source = &pipeline.source.url;
    let target = &pipeline.target.url;
    if source.host == target.host
        && source.port == target.port
        && source.database == target.database
    {
        return Err(Error::Usage("the demo needs two databases: SOURCE_DATABASE_URL and TARGET_DATABASE_URL name the same one".into()));
    }
    recreate_database(source).await?;
    recreate_database(target).await?;
    seed_source(source, rows).await?;
    seed_monolith(source, rows).await?;
    seed_target(target, rows).await
}

/// The monolith's rows (a tenth of `rows`) in a source that
/// [`seed_source`] seeded with the same `rows`: the same steps as
/// seed/docker/init.sql.
async fn seed_monolith(url: &DatabaseUrl, rows: u32) -> Result<(), Error> {
    seed(
        url,
        &[MONOLITH_SQL],
        "SELECT padetl_seed_monolith($1)",
        seed_rows(rows)?,
    )
    .await
}

/// The legacy source of `rows` requests (and reference data) in an empty
/// database: the same steps, in the same order, as seed/docker/init.sql.
pub(crate) async fn seed_source(url: &DatabaseUrl, rows: u32) -> Result<(), Error> {
    let steps = [
        REFERENCE_SQL,
        LEGACY_SCHEMA_OPEN,
        V1_LAYOUT_SQL,
        LEGACY_SCHEMA_CLOSE,
        LEGACY_SQL,
    ];
    seed(
        url,
        &steps,
        "SELECT padetl_seed_source($1)",
        seed_rows(rows)?,
    )
    .await
}

/// The target's reference data for a source of `rows` requests.
pub(crate) async fn seed_target(url: &DatabaseUrl, rows: u32) -> Result<(), Error> {
    seed(
        url,
        &[REFERENCE_SQL],
        "SELECT padetl_seed_target($1)",
        seed_rows(rows)?,
    )
    .await
}

/// Empty legacy (v1) tables in schema pa_dealing, as the source has them.
pub(crate) async fn create_legacy_tables(url: &DatabaseUrl) -> Result<(), Error> {
    let client = connect(url).await?;
    for script in [LEGACY_SCHEMA_OPEN, V1_LAYOUT_SQL, LEGACY_SCHEMA_CLOSE] {
        client
            .batch_execute(script)
            .await
            .map_err(|e| query_error(url, "creating the legacy tables", &e))?;
    }
    Ok(())
}

fn seed_rows(rows: u32) -> Result<i32, Error> {
    i32::try_from(rows).map_err(|_| Error::Usage(format!("--rows {rows} is too large")))
}

async fn seed(url: &DatabaseUrl, scripts: &[&str], call: &str, n: i32) -> Result<(), Error> {
    let client = connect(url).await?;
    for script in scripts {
        client
            .batch_execute(script)
            .await
            .map_err(|e| query_error(url, "loading the seed SQL", &e))?;
    }
    client
        .execute(call, &[&n])
        .await
        .map_err(|e| query_error(url, "seeding", &e))?;
    Ok(())
}

/// Drops `url`'s database if the demo made it, then creates it afresh.
pub(crate) async fn recreate_database(url: &DatabaseUrl) -> Result<(), Error> {
    let (admin, name) = drop_database(url).await?;
    // Two statements: CREATE DATABASE cannot share a simple-query batch.
    let create = format!("CREATE DATABASE {}", name.quoted());
    admin
        .batch_execute(create.as_str())
        .await
        .map_err(|e| query_error(url, "creating the demo database", &e))?;
    let mark = format!("COMMENT ON DATABASE {} IS '{DEMO_MARK}'", name.quoted());
    admin
        .batch_execute(mark.as_str())
        .await
        .map_err(|e| query_error(url, "marking the demo database", &e))?;
    Ok(())
}

/// Drops `url`'s database if the demo made it; refuses one it did not make.
/// Returns the server's `postgres` database connection and the name.
pub(crate) async fn drop_database(url: &DatabaseUrl) -> Result<(Client, Ident), Error> {
    let name = Ident::parse(&url.database)
        .map_err(|e| Error::Usage(format!("demo database name: {e}")))?;
    let admin_url = url.with_database("postgres").map_err(Error::Usage)?;
    let admin = connect(&admin_url).await?;
    let row = admin
        .query_opt(
            "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = $1",
            &[&name.as_str()],
        )
        .await
        .map_err(|e| query_error(url, "looking up the demo database", &e))?;
    if let Some(row) = row {
        let comment: String = row.get(0);
        if comment != DEMO_MARK {
            return Err(Error::Usage(format!(
                "database {} already exists and was not created by padetl demo; drop it yourself or point envs/.env.dev at another name",
                name
            )));
        }
        let drop = format!("DROP DATABASE {} WITH (FORCE)", name.quoted());
        admin
            .batch_execute(drop.as_str())
            .await
            .map_err(|e| query_error(url, "dropping the old demo database", &e))?;
    }
    Ok((admin, name))
}
