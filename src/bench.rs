//! `padetl bench`: the legacy dataset at a given scale, moved by the
//! practical limit (a binary COPY pipe between the same databases, no
//! transformation), by pgloader when it is installed, and by padetl without
//! and with its checks, each into a fresh target. Wall time, rows/s, MB/s
//! of source data, and peak RSS of each tool's processes (from
//! `/usr/bin/time -v`), written as Markdown and JSON.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::Instant;

use crate::config::{DatabaseUrl, Pipeline};
use crate::demo::{create_legacy_tables, recreate_database, seed_source, seed_target};
use crate::error::Error;
use crate::report::progress::Progress;
use crate::target::{connect, query_error};

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
pub struct Measurement {
    pub tool: String,
    /// `None` when the tool did not run (not installed, or it failed).
    pub seconds: Option<f64>,
    pub rows_per_second: Option<f64>,
    pub mb_per_second: Option<f64>,
    pub peak_rss_mb: Option<f64>,
    /// Rows/s relative to the COPY pipe's.
    pub vs_copy_pipe: Option<f64>,
    pub note: String,
}

/// Everything measured at one scale.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchResult {
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
pub struct Machine {
    pub cores: usize,
    pub memory_gb: f64,
    pub postgres: String,
    pub padetl: String,
}

/// Databases the bench creates (and drops on its next run) beside the
/// pipeline's target database.
struct Databases {
    source: DatabaseUrl,
    pipe: DatabaseUrl,
    pgloader: DatabaseUrl,
    target: DatabaseUrl,
}

/// Parses `1M,10M,500k,2000` into request counts.
pub fn parse_rows(s: &str) -> Result<Vec<u32>, String> {
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
pub async fn bench(
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

    measurements.extend(pgloader(dbs, n, rows, source_mb, out, progress).await?);

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
    let pipe = measurements[0].rows_per_second;
    for m in &mut measurements {
        m.vs_copy_pipe = m.rows_per_second.zip(pipe).map(|(a, b)| a / b);
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

/// `COPY … TO STDOUT (FORMAT binary)` piped into `COPY … FROM STDIN`, table by table.
fn copy_pipe(dbs: &Databases) -> Result<Timed, String> {
    let script = TABLES
        .iter()
        .map(|t| {
            format!(
                "psql \"$PADETL_BENCH_FROM\" -Atqc 'COPY pa_dealing.{t} TO STDOUT (FORMAT binary)' | \
                 psql \"$PADETL_BENCH_TO\" -Atqc 'COPY pa_dealing.{t} FROM STDIN (FORMAT binary)'"
            )
        })
        .collect::<Vec<_>>()
        .join(" && ");
    let mut cmd = Process::new("sh");
    cmd.args(["-ec", &script])
        .env("PADETL_BENCH_FROM", dbs.source.expose())
        .env("PADETL_BENCH_TO", dbs.pipe.expose());
    timed(cmd)
}

async fn pgloader(
    dbs: &Databases,
    n: u32,
    rows: u64,
    source_mb: f64,
    out: &Path,
    progress: &Progress,
) -> Result<Vec<Measurement>, Error> {
    let tuned = "pgloader, tuned (4 GB heap, 10k prefetch/batch, 2 workers)";
    let defaults = "pgloader, defaults";
    if Process::new("pgloader").arg("--version").output().is_err() {
        let note = "not installed (`apt-get install pgloader`); skipped";
        return Ok(vec![skipped(defaults, note), skipped(tuned, note)]);
    }
    let mut out_rows = Vec::new();
    for (tool, with, heap) in [
        (defaults, "", None),
        (
            tuned,
            ", prefetch rows = 10000, batch rows = 10000, workers = 2, concurrency = 1",
            Some("4096"),
        ),
    ] {
        progress.note(tool);
        recreate_database(&dbs.pgloader).await?;
        let file = out.join("tmp").join(format!("pgloader-{}.load", label(n)));
        // `data only` into tables made beforehand trips pgloader 3.6.7's
        // catalog ("NIL is not of type INDEX"); it creates the tables itself,
        // without indexes (an advantage over the pipe, which keeps the keys).
        let load = format!(
            "LOAD DATABASE\n  FROM {}\n  INTO {}\n  WITH create no indexes, no foreign keys{with}\n  INCLUDING ONLY TABLE NAMES MATCHING {} IN SCHEMA 'pa_dealing';\n",
            dbs.source.expose(),
            dbs.pgloader.expose(),
            TABLES.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ")
        );
        write(&file, &load)?;
        let mut cmd = Process::new("timeout");
        cmd.args(["1800", "pgloader"]);
        if let Some(heap) = heap {
            cmd.args(["--dynamic-space-size", heap]);
        }
        cmd.arg(&file);
        let mut m = measure(tool, rows, source_mb, timed(cmd));
        // pgloader exits 0 after some failures: count what arrived.
        if m.seconds.is_some() {
            let (loaded, _) = source_size(&dbs.pgloader).await.unwrap_or((0, 0));
            if loaded != rows {
                m = skipped(
                    tool,
                    &format!("finished, but loaded {loaded} of {rows} rows"),
                );
            }
        }
        out_rows.push(m);
    }
    Ok(out_rows)
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

/// A finished child process: wall time and peak RSS of its largest process.
struct Timed {
    seconds: f64,
    peak_rss_kb: Option<u64>,
}

/// Runs `cmd` under `/usr/bin/time -v`; fails with the tail of its stderr.
fn timed(cmd: Process) -> Result<Timed, String> {
    let mut wrapped = Process::new("/usr/bin/time");
    wrapped
        .arg("-v")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    wrapped.stdout(Stdio::null()).stderr(Stdio::piped());
    let started = Instant::now();
    let output = wrapped
        .output()
        .map_err(|e| format!("cannot start /usr/bin/time ({e}); install the `time` package"))?;
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let first = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("Command "))
            .unwrap_or("no message");
        let first: String = first.chars().take(100).collect();
        return Err(format!("failed ({}): {first}", output.status));
    }
    let peak_rss_kb = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok());
    Ok(Timed {
        seconds,
        peak_rss_kb,
    })
}

fn measure(tool: &str, rows: u64, source_mb: f64, timed: Result<Timed, String>) -> Measurement {
    match timed {
        Ok(t) => Measurement {
            tool: tool.into(),
            seconds: Some(t.seconds),
            rows_per_second: Some(rows as f64 / t.seconds),
            mb_per_second: Some(source_mb / t.seconds),
            peak_rss_mb: t.peak_rss_kb.map(|k| k as f64 / 1024.0),
            vs_copy_pipe: None,
            note: String::new(),
        },
        Err(note) => skipped(tool, &note),
    }
}

fn skipped(tool: &str, note: &str) -> Measurement {
    Measurement {
        tool: tool.into(),
        seconds: None,
        rows_per_second: None,
        mb_per_second: None,
        peak_rss_mb: None,
        vs_copy_pipe: None,
        note: note.into(),
    }
}

/// `1000000` → `1M`, `500000` → `500k`.
fn label(n: u32) -> String {
    match n {
        n if n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// The result as a Markdown section.
pub fn render_markdown(r: &BenchResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# padetl bench: {} requests ({} rows in 5 tables, {:.0} MB of heap)\n",
        label(r.requests),
        r.rows,
        r.source_mb
    );
    let _ = writeln!(
        out,
        "Machine: {} cores, {:.1} GiB, PostgreSQL {} on the same machine; padetl {}. \
         Dataset generated server-side in {:.1} s.\n",
        r.machine.cores,
        r.machine.memory_gb,
        r.machine.postgres,
        r.machine.padetl,
        r.generate_seconds
    );
    let _ = writeln!(
        out,
        "| tool | wall | rows/s | MB/s | peak RSS | vs COPY pipe | note |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---|");
    let num = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map(f).unwrap_or_else(|| "–".into());
    for m in &r.measurements {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            m.tool,
            num(m.seconds, &|s| format!("{s:.1} s")),
            num(m.rows_per_second, &|v| format!("{:.0}", v)),
            num(m.mb_per_second, &|v| format!("{v:.1}")),
            num(m.peak_rss_mb, &|v| format!("{v:.0} MB")),
            num(m.vs_copy_pipe, &|v| format!("{v:.2}×")),
            m.note
        );
    }
    out
}

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
