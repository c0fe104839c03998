//! Command-line interface: arguments (clap derive) and dispatch. No logic of
//! its own beyond choosing what to call and how to print it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{load_pipeline, Pipeline};
use crate::error::Error;
use crate::report::progress::Progress;
use crate::report::{render_html, render_markdown, render_text, RunReport};
use crate::run::RunOptions;

/// Moves the PA Dealing application's data between environments.
#[derive(Debug, Parser)]
#[command(name = "padetl", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    /// Print the result as JSON on stdout (progress stays on stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress output.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 ok · 1 failed checks · 2 bad input or configuration · 3 connection or database error · 4 internal error";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Reconcile the target schema, extract, re-key, load; all in one transaction.
    Run(RunArgs),
    /// Pre-flight report: what a run would do to every table and what every
    /// check finds, without writing anything. Exit 1 when a `fail` check fires.
    Check(CheckArgs),
    /// After a load: compare the target with the transformed source (counts,
    /// checksums, first differing keys), foreign keys, and the reference
    /// schema with the last run's fingerprint. Exit 1 on any mismatch.
    Verify(PipelineArgs),
    /// Show what schema reconciliation would do, and the SQL, without changing anything.
    Plan(PlanArgs),
    /// Reconcile the target schema only (create, upgrade or repair), without loading data.
    Migrate(MigrateArgs),
    /// Parse and validate a pipeline and its env file, without connecting.
    Validate(PipelineArgs),
    /// Seed a local legacy source and dev target, then run pipelines/dev.toml.
    Demo(DemoArgs),
    /// Benchmark on generated data: COPY pipe, pgloader (if installed) and
    /// padetl with and without checks, into fresh databases; writes
    /// Markdown and JSON results.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Legacy requests per scale, comma-separated (1M = one million; the
    /// other tables scale with it: about 6.2 rows per request in all).
    #[arg(long, default_value = "1M")]
    pub rows: String,
    /// Folder for bench-<rows>.md and .json.
    #[arg(long, default_value = "benches/results")]
    pub out: PathBuf,
    /// Pipeline whose target server hosts the bench databases
    /// (padetl_bench_*), and which the padetl runs use.
    #[arg(long, default_value = "pipelines/dev.toml")]
    pub pipeline: PathBuf,
    /// Env file to use instead of envs/.env.dev.
    #[arg(long)]
    pub env_file: Option<PathBuf>,
    /// Names of the bench databases: <prefix>_source, _pipe, _pgloader, _target.
    #[arg(long, default_value = "padetl_bench")]
    pub prefix: String,
}

#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// Pipeline file, e.g. pipelines/qa.toml.
    pub pipeline: PathBuf,
    /// Env file to use instead of envs/.env.<env>.
    #[arg(long)]
    pub env_file: Option<PathBuf>,
}

/// `run`: everything `migrate` takes, and more.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub schema: MigrateArgs,
    /// Do not evaluate the pipeline's checks (for benchmarks; a real run
    /// should keep them).
    #[arg(long)]
    pub skip_checks: bool,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub target: PipelineArgs,
    /// Confirms a run on an environment that requires it (e.g. `--confirm prod`).
    #[arg(long, value_name = "ENV")]
    pub confirm: Option<String>,
    /// Also apply destructive schema changes (drop a column or constraint,
    /// narrow a type) that `padetl plan` lists as not applied.
    #[arg(long)]
    pub allow_destructive: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub target: PipelineArgs,
    /// Show the plan as it would be with --allow-destructive.
    #[arg(long)]
    pub allow_destructive: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub target: PipelineArgs,
    /// Print the report as Markdown (for a change ticket).
    #[arg(long, conflicts_with = "html")]
    pub markdown: bool,
    /// Print the report as one self-contained HTML file.
    #[arg(long)]
    pub html: bool,
    /// Count and check with destructive schema changes applied (see `plan`).
    #[arg(long)]
    pub allow_destructive: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Legacy requests to generate (approvals, executions, breaches and audit rows scale with it).
    #[arg(long, default_value_t = crate::demo::DEFAULT_ROWS)]
    pub rows: u32,
    /// Pipeline to run after seeding.
    #[arg(long, default_value = "pipelines/dev.toml")]
    pub pipeline: PathBuf,
    /// Env file to use instead of envs/.env.dev.
    #[arg(long)]
    pub env_file: Option<PathBuf>,
}

/// Runs the parsed command; returns the exit code on success.
pub async fn execute(cli: Cli) -> Result<u8, Error> {
    let progress = Progress::new(cli.quiet);
    match cli.command {
        Command::Run(args) => {
            let pipeline = load(&args.schema.target)?;
            confirm(&pipeline, args.schema.confirm.as_deref())?;
            let options = RunOptions {
                allow_destructive: args.schema.allow_destructive,
                skip_checks: args.skip_checks,
                ..RunOptions::default()
            };
            let report = crate::run::run_pipeline(&pipeline, options, &progress).await?;
            print_report(&report, cli.json)
        }
        Command::Bench(args) => {
            let scales = crate::bench::parse_rows(&args.rows).map_err(Error::Usage)?;
            let pipeline = load_pipeline(&args.pipeline, args.env_file.as_deref())
                .map_err(|e| demo_hint(e, &args.pipeline))?;
            let results =
                crate::bench::bench(&pipeline, &scales, &args.out, &args.prefix, &progress).await?;
            print_json_or(cli.json, &results, || {
                results
                    .iter()
                    .map(crate::bench::render_markdown)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        Command::Check(args) => {
            let pipeline = load(&args.target)?;
            let options = RunOptions {
                allow_destructive: args.allow_destructive,
                dry: true,
                ..RunOptions::default()
            };
            let report = crate::run::run_pipeline(&pipeline, options, &progress).await?;
            if args.markdown {
                print!("{}", render_markdown(&report));
            } else if args.html {
                print!("{}", render_html(&report));
            } else {
                print_report(&report, cli.json)?;
            }
            Ok(match report.failed_checks().is_empty() {
                true => crate::error::exit::OK,
                false => crate::error::exit::CHECKS_FAILED,
            })
        }
        Command::Migrate(args) => {
            let pipeline = load(&args.target)?;
            confirm(&pipeline, args.confirm.as_deref())?;
            let options = RunOptions {
                allow_destructive: args.allow_destructive,
                ..RunOptions::default()
            };
            let plan = crate::run::migrate(&pipeline, options, &progress).await?;
            print_json_or(cli.json, &plan, || {
                format!("schema {}: {}\n", plan.app_schema, plan.summary())
            })
        }
        Command::Verify(args) => {
            let pipeline = load(&args)?;
            let report = crate::verify::verify(&pipeline, &progress).await?;
            print_json_or(cli.json, &report, || report.render())?;
            Ok(match report.ok {
                true => crate::error::exit::OK,
                false => crate::error::exit::CHECKS_FAILED,
            })
        }
        Command::Plan(args) => {
            let pipeline = load(&args.target)?;
            let plan = crate::plan::plan_target(&pipeline, args.allow_destructive).await?;
            print_json_or(cli.json, &plan, || crate::plan::render_plan(&plan))
        }
        Command::Validate(args) => {
            let pipeline = load(&args)?;
            let summary = crate::plan::describe_pipeline(&pipeline);
            print_json_or(cli.json, &summary, || {
                format!("{} is valid\n{}", pipeline.path.display(), summary.render())
            })
        }
        Command::Demo(args) => {
            let pipeline = load_pipeline(&args.pipeline, args.env_file.as_deref())
                .map_err(|e| demo_hint(e, &args.pipeline))?;
            progress.note(&format!(
                "seeding {} and {} with {} requests",
                pipeline.source.url, pipeline.target.url, args.rows
            ));
            crate::demo::seed_demo(&pipeline, args.rows).await?;
            let report =
                crate::run::run_pipeline(&pipeline, RunOptions::default(), &progress).await?;
            print_report(&report, cli.json)
        }
    }
}

fn load(args: &PipelineArgs) -> Result<Pipeline, Error> {
    Ok(load_pipeline(&args.pipeline, args.env_file.as_deref())?)
}

fn demo_hint(e: crate::config::ConfigError, path: &std::path::Path) -> Error {
    if !path.exists() {
        return Error::Usage(format!(
            "{} not found: run `padetl demo` from the repository root, or pass --pipeline",
            path.display()
        ));
    }
    e.into()
}

fn confirm(pipeline: &Pipeline, given: Option<&str>) -> Result<(), Error> {
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

fn print_report(report: &RunReport, json: bool) -> Result<u8, Error> {
    print_json_or(json, report, || render_text(report))
}

fn print_json_or<T: serde::Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce() -> String,
) -> Result<u8, Error> {
    if json {
        let s = serde_json::to_string_pretty(value).map_err(|e| Error::Internal(e.to_string()))?;
        println!("{s}");
    } else {
        print!("{}", text());
    }
    Ok(crate::error::exit::OK)
}
