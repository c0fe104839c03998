//! `padetl bench`: the legacy dataset at a given scale, moved by the
//! practical limit (a binary COPY pipe between the same databases, no
//! transformation), by pgloader when it is installed, and by padetl without
//! and with its checks, each into a fresh target. Wall time, rows/s, MB/s
//! of source data, and peak RSS of each tool's processes (from
//! `/usr/bin/time -v`), written as Markdown and JSON. A developer's tool:
//! the other tools are in [`tools`], the rendering in [`render`].

mod incremental;
mod render;
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Instant;

use super::demo::{
    create_legacy_tables, drop_database, missing_pipeline_hint, recreate_database, seed_source,
    seed_target,
};
use super::Context;
use crate::cli::BenchArgs;
use crate::config::{load_pipeline, DatabaseUrl, Pipeline};
use crate::error::Error;
use crate::report::progress::Progress;
use crate::target::{connect, query_error};

use self::incremental::{incremental, INCREMENTAL_ROWS};
use self::render::{label, render_markdown};
use self::tools::{copy_pipe, dump_restore, measure, pgloader, timed};

/// `padetl bench`.
pub(crate) async fn bench_command(args: &BenchArgs, ctx: &Context) -> Result<u8, Error> {
    let scales = parse_rows(&args.rows).map_err(Error::Usage)?;
    let pipeline = load_pipeline(&args.pipeline, args.env_file.as_deref())
        .map_err(|e| missing_pipeline_hint(e, &args.pipeline))?;
    let results = bench(&pipeline, &scales, &args.out, &args.prefix, &ctx.progress).await?;
    ctx.print(&results, || {
        results
            .iter()
            .map(render_markdown)
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// The legacy tables, parents first.
const TABLES: [&str; 5] = [
    "pad_request",
    "pad_approval",
    "pad_execution",
    "pad_breach",
    "audit_logs",
];

/// One tool's measurement at one scale.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Measurement {
    pub tool: String,
    /// `None` when the tool did not run (not installed, or it failed).
    pub seconds: Option<f64>,
    pub rows_per_second: Option<f64>,
    pub mb_per_second: Option<f64>,
    pub peak_rss_mb: Option<f64>,
    /// Rows/s relative to the COPY pipe's.
    pub vs_copy_pipe: Option<f64>,
    /// Rows/s relative to `pg_dump | pg_restore`'s, the practical limit.
    pub vs_dump_restore: Option<f64>,
    pub note: String,
}

/// Everything measured at one scale.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct BenchResult {
    pub requests: u32,
    /// Rows of all five legacy tables.
    pub rows: u64,
    /// Heap size of the source tables.
    pub source_mb: f64,
    pub generate_seconds: f64,
    pub machine: Machine,
    pub measurements: Vec<Measurement>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Machine {
    pub cores: usize,
    pub memory_gb: f64,
    pub postgres: String,
    pub padetl: String,
}

/// Databases the bench creates (and drops on its next run) beside the
/// pipeline's target database.
pub(crate) struct Databases {
    source: DatabaseUrl,
    pipe: DatabaseUrl,
    pgloader: DatabaseUrl,
    restore: DatabaseUrl,
    target: DatabaseUrl,
}

/// Parses `1M,10M,500k,2000` into request counts.
fn parse_rows(s: &str) -> Result<Vec<u32>, String> {
    s.split(',')
        .map(|part| {
            let part = part.trim();
            let (digits, factor) = match part.chars().last() {
                Some('k' | 'K') => (&part[..part.len() - 1], 1_000u64),
                Some('m' | 'M') => (&part[..part.len() - 1], 1_000_000u64),
                _ => (part, 1),
            };
            digits
                .parse::<u64>()
                .ok()
                .map(|n| n * factor)
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("`{part}` is not a row count (write e.g. 1M, 500k or 2000)"))
        })
        .collect()
}

/// Runs the bench at every scale and writes `bench-<rows>.md` / `.json` into `out`.
async fn bench(
    pipeline: &Pipeline,
    scales: &[u32],
    out: &Path,
    prefix: &str,
    progress: &Progress,
) -> Result<Vec<BenchResult>, Error> {
    let dbs = databases(pipeline, prefix)?;
    std::fs::create_dir_all(out.join("tmp"))
        .map_err(|e| Error::Usage(format!("cannot create {}: {e}", out.display())))?;
    let mut results = Vec::new();
    for &n in scales {
        let result = bench_scale(pipeline, &dbs, n, out, progress).await?;
        let name = format!("bench-{}", label(n));
        write(&out.join(format!("{name}.md")), &render_markdown(&result))?;
        let json =
            serde_json::to_string_pretty(&result).map_err(|e| Error::Internal(e.to_string()))?;
        write(&out.join(format!("{name}.json")), &json)?;
        progress.note(&format!(
            "wrote {}",
            out.join(format!("{name}.md")).display()
        ));
        results.push(result);
    }
    Ok(results)
}

async fn bench_scale(
    pipeline: &Pipeline,
    dbs: &Databases,
    n: u32,
    out: &Path,
    progress: &Progress,
) -> Result<BenchResult, Error> {
    progress.note(&format!("generating {} requests in {}", n, dbs.source));
    let started = Instant::now();
    recreate_database(&dbs.source).await?;
    seed_source(&dbs.source, n).await?;
    let generate_seconds = started.elapsed().as_secs_f64();
    let (rows, bytes) = source_size(&dbs.source).await?;
    let source_mb = bytes as f64 / 1e6;
    let machine = machine(&dbs.source).await?;

    let mut measurements = Vec::new();
    progress.note("COPY pipe");
    recreate_database(&dbs.pipe).await?;
    create_legacy_tables(&dbs.pipe).await?;
    measurements.push(measure(
        "COPY pipe (psql → psql, binary)",
        rows,
        source_mb,
        copy_pipe(dbs),
    ));
    // Each tool's copy is only measured: at 10M the five databases and a
    // check's sort spill did not fit in 70 GB.
    drop_database(&dbs.pipe).await?;

    progress.note("pg_dump | pg_restore");
    recreate_database(&dbs.restore).await?;
    measurements.push(measure(
        &format!(
            "pg_dump -Fd -j{0} | pg_restore -j{0} (legacy layout)",
            pipeline.readers
        ),
        rows,
        source_mb,
        dump_restore(dbs, pipeline.readers),
    ));
    drop_database(&dbs.restore).await?;

    measurements.extend(pgloader(dbs, n, rows, source_mb, progress).await?);

    let exe = std::env::current_exe().map_err(|e| Error::Internal(e.to_string()))?;
    for (tool, checks) in [
        ("padetl, no checks", false),
        ("padetl, re-keying + every check", true),
    ] {
        progress.note(tool);
        recreate_database(&dbs.target).await?;
        seed_target(&dbs.target, n).await?;
        let file = bench_pipeline(pipeline, out, checks)?;
        let mut cmd = Process::new(&exe);
        cmd.args(["run", &file.display().to_string(), "--quiet", "--json"]);
        cmd.args(["--env-file", &pipeline.env_file.display().to_string()]);
        if !checks {
            cmd.arg("--skip-checks");
        }
        cmd.env("SOURCE_DATABASE_URL", dbs.source.expose())
            .env("TARGET_DATABASE_URL", dbs.target.expose());
        measurements.push(measure(tool, rows, source_mb, timed(cmd)));
    }
    // The same run again: nothing changed in the source, so nothing is written.
    progress.note("padetl rerun, nothing changed");
    let file = bench_pipeline(pipeline, out, true)?;
    let mut cmd = Process::new(&exe);
    cmd.args(["run", &file.display().to_string(), "--quiet", "--json"]);
    cmd.args(["--env-file", &pipeline.env_file.display().to_string()]);
    cmd.env("SOURCE_DATABASE_URL", dbs.source.expose())
        .env("TARGET_DATABASE_URL", dbs.target.expose());
    measurements.push(measure(
        "padetl rerun, nothing changed (every check)",
        rows,
        source_mb,
        timed(cmd),
    ));
    // A failure here (a full disk, say) keeps the rows measured so far.
    match incremental(pipeline, dbs, out, &exe, rows, source_mb, progress).await {
        Ok(rows) => measurements.extend(rows),
        Err(e) => measurements.extend(
            INCREMENTAL_ROWS.map(|tool| measure(tool, rows, source_mb, Err(e.to_string()))),
        ),
    }
    let pipe = measurements[0].rows_per_second;
    let restore = measurements[1].rows_per_second;
    for m in &mut measurements {
        m.vs_copy_pipe = m.rows_per_second.zip(pipe).map(|(a, b)| a / b);
        m.vs_dump_restore = m.rows_per_second.zip(restore).map(|(a, b)| a / b);
    }
    Ok(BenchResult {
        requests: n,
        rows,
        source_mb,
        generate_seconds,
        machine,
        measurements,
    })
}

fn databases(pipeline: &Pipeline, prefix: &str) -> Result<Databases, Error> {
    crate::config::Ident::parse(prefix).map_err(|e| Error::Usage(format!("--prefix: {e}")))?;
    let at = |name: &str| {
        pipeline
            .target
            .url
            .with_database(&format!("{prefix}_{name}"))
            .map_err(Error::Usage)
    };
    Ok(Databases {
        source: at("source")?,
        pipe: at("pipe")?,
        pgloader: at("pgloader")?,
        restore: at("restore")?,
        target: at("target")?,
    })
}

/// Rows and heap bytes of the legacy tables.
async fn source_size(url: &DatabaseUrl) -> Result<(u64, u64), Error> {
    let client = connect(url).await?;
    let (mut rows, mut bytes) = (0u64, 0u64);
    for t in TABLES {
        let r = client
            .query_one(
                &format!("SELECT count(*), pg_relation_size('pa_dealing.{t}') FROM pa_dealing.{t}"),
                &[],
            )
            .await
            .map_err(|e| query_error(url, "sizing the source", &e))?;
        rows += r.get::<_, i64>(0) as u64;
        bytes += r.get::<_, i64>(1) as u64;
    }
    Ok((rows, bytes))
}

async fn machine(url: &DatabaseUrl) -> Result<Machine, Error> {
    let client = connect(url).await?;
    let postgres: String = client
        .query_one("SHOW server_version", &[])
        .await
        .map_err(|e| query_error(url, "reading the server version", &e))?
        .get(0);
    let memory_gb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|k| k.parse::<f64>().ok())
                })
        })
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    Ok(Machine {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_gb,
        postgres,
        padetl: env!("CARGO_PKG_VERSION").to_string(),
    })
}

/// The pipeline the padetl runs use: the given one, plus a check of every
/// kind (all `warn`, so that the run loads what it would load without them).
fn bench_pipeline(pipeline: &Pipeline, out: &Path, checks: bool) -> Result<PathBuf, Error> {
    let path = out.join("tmp").join(format!(
        "bench-{}.toml",
        if checks { "checks" } else { "plain" }
    ));
    let base = std::fs::canonicalize(&pipeline.path)
        .map_err(|e| Error::Usage(format!("{}: {e}", pipeline.path.display())))?;
    let mut toml = format!("include = [\"{}\"]\n", base.display());
    if checks {
        toml.push_str(BENCH_CHECKS);
    }
    write(&path, &toml)?;
    Ok(path)
}

const BENCH_CHECKS: &str = r#"
[[checks]]
name = "bench_request_employee"
table = "pad_request"
kind = "references"
keymap = "employee"
column = "employee_id"
policy = "warn"

[[checks]]
name = "bench_request_quantity"
table = "pad_request"
kind = "range"
column = "quantity"
min = 0.0001
policy = "warn"

[[checks]]
name = "bench_request_currency"
table = "pad_request"
kind = "accepted_values"
column = "currency"
values = ["GBP", "USD", "EUR", "CHF"]
policy = "warn"

[[checks]]
name = "bench_approval_decision"
table = "pad_approval"
kind = "not_null"
column = "decision"
policy = "warn"

[[checks]]
name = "bench_requests_not_shrinking"
table = "pad_request"
kind = "row_count"
not_shrink = true
policy = "warn"
"#;

fn write(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text)
        .map_err(|e| Error::Usage(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_counts_take_suffixes() {
        assert_eq!(parse_rows("1M,10M").unwrap(), vec![1_000_000, 10_000_000]);
        assert_eq!(parse_rows("500k, 2000").unwrap(), vec![500_000, 2000]);
        assert!(parse_rows("1G").unwrap_err().contains("`1G`"));
        assert!(parse_rows("0").is_err());
        assert_eq!(label(10_000_000), "10M");
        assert_eq!(label(2500), "2500");
    }
}
