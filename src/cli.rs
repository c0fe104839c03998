//! Command-line interface: arguments (clap derive) and dispatch to
//! [`crate::cmd`]. No logic of its own.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::cmd::{self, Context};
use crate::error::Error;
use crate::report::progress::Progress;

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
    /// Read-only web dashboard over the target environment (requests with
    /// their employees and securities as the target's reference data has
    /// them, approvals, executions, breaches, audit log, runs, quarantine).
    Serve(ServeArgs),
    /// Benchmark on generated data: COPY pipe, pgloader (if installed) and
    /// padetl with and without checks, into fresh databases; writes
    /// Markdown and JSON results.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub target: PipelineArgs,
    /// Address to listen on. The default answers this machine only; any
    /// other is reachable by whoever can reach it, and there is no login.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
    /// A host name (with port) the dashboard may be reached by, besides the
    /// bound address (e.g. dash.example:8080 behind a tunnel or proxy).
    #[arg(long, value_name = "HOST:PORT")]
    pub allow_host: Vec<String>,
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
    /// Read every row of incremental tables, not only what changed since
    /// their marks (`incremental` in docs/pipelines.md).
    #[arg(long)]
    pub full: bool,
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
    /// Read every row of incremental tables, as `run --full` would.
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Legacy requests to generate (approvals, executions, breaches and audit rows scale with it).
    #[arg(long, default_value_t = crate::cmd::demo::DEFAULT_ROWS)]
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
    let ctx = Context {
        json: cli.json,
        progress: Progress::new(cli.quiet),
    };
    match &cli.command {
        Command::Run(args) => cmd::run::run(args, &ctx).await,
        Command::Check(args) => cmd::check::check(args, &ctx).await,
        Command::Verify(args) => cmd::verify::verify(args, &ctx).await,
        Command::Plan(args) => cmd::plan::plan(args, &ctx).await,
        Command::Migrate(args) => cmd::migrate::migrate(args, &ctx).await,
        Command::Validate(args) => cmd::plan::validate(args, &ctx),
        Command::Demo(args) => cmd::demo::demo(args, &ctx).await,
        Command::Serve(args) => cmd::serve::serve(args, &ctx).await,
        Command::Bench(args) => cmd::bench::bench_command(args, &ctx).await,
    }
}
