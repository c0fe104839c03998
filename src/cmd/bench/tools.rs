//! The other tools the bench measures, and how a tool is timed: wall time
//! and peak RSS from `/usr/bin/time -v`.

use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::time::Instant;

use super::super::demo::{drop_database, recreate_database};
use super::render::label;
use super::{source_size, Databases, Measurement, TABLES};
use crate::error::Error;
use crate::report::progress::Progress;

/// `COPY … TO STDOUT (FORMAT binary)` piped into `COPY … FROM STDIN`, table by table.
pub(super) fn copy_pipe(dbs: &Databases) -> Result<Timed, String> {
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

/// `pg_dump -Fd -j N -Z0` of the legacy schema into a private directory,
/// then `pg_restore -j N` into an empty database: data, then indexes and
/// keys built `N` at a time. What a Postgres user reaches for first, and the
/// practical limit on this machine (it does no transformation).
pub(super) fn dump_restore(dbs: &Databases, jobs: usize) -> Result<Timed, String> {
    let dir = private_dir().map_err(|e| e.to_string())?;
    let dump = dir.path().join("dump");
    let script = format!(
        "pg_dump -Fd -j {jobs} -Z0 -n pa_dealing -f \"$PADETL_BENCH_DIR\" \"$PADETL_BENCH_FROM\" && \
         pg_restore -j {jobs} -d \"$PADETL_BENCH_TO\" \"$PADETL_BENCH_DIR\""
    );
    let mut cmd = Process::new("sh");
    cmd.args(["-ec", &script])
        .env("PADETL_BENCH_DIR", &dump)
        .env("PADETL_BENCH_FROM", dbs.source.expose())
        .env("PADETL_BENCH_TO", dbs.restore.expose());
    timed(cmd)
}

pub(super) async fn pgloader(
    dbs: &Databases,
    n: u32,
    rows: u64,
    source_mb: f64,
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
        // The load file holds both URLs with their credentials: it lives in
        // a private folder (0700, the file 0600) that is removed afterwards.
        let private = private_dir()?;
        let file = private.path().join(format!("pgloader-{}.load", label(n)));
        // `data only` into tables made beforehand trips pgloader 3.6.7's
        // catalog ("NIL is not of type INDEX"); it creates the tables itself,
        // without indexes (an advantage over the pipe, which keeps the keys).
        let load = format!(
            "LOAD DATABASE\n  FROM {}\n  INTO {}\n  WITH create no indexes, no foreign keys{with}\n  INCLUDING ONLY TABLE NAMES MATCHING {} IN SCHEMA 'pa_dealing';\n",
            dbs.source.expose(),
            dbs.pgloader.expose(),
            TABLES.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ")
        );
        write_private(&file, &load)?;
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
        drop(private);
    }
    drop_database(&dbs.pgloader).await?;
    Ok(out_rows)
}

/// A temporary folder only its owner can enter, removed when dropped.
fn private_dir() -> Result<tempfile::TempDir, Error> {
    use std::os::unix::fs::PermissionsExt;
    let fail =
        |e: std::io::Error| Error::Usage(format!("cannot create a private temporary folder: {e}"));
    let dir = tempfile::Builder::new()
        .prefix("padetl-bench-")
        .tempdir()
        .map_err(fail)?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
    Ok(dir)
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| Error::Usage(format!("cannot write {}: {e}", path.display())))
}

/// A finished child process: wall time and peak RSS of its largest process.
pub(super) struct Timed {
    seconds: f64,
    peak_rss_kb: Option<u64>,
}

/// Runs `cmd` under `/usr/bin/time -v`; fails with the tail of its stderr.
pub(super) fn timed(cmd: Process) -> Result<Timed, String> {
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

pub(super) fn measure(
    tool: &str,
    rows: u64,
    source_mb: f64,
    timed: Result<Timed, String>,
) -> Measurement {
    match timed {
        Ok(t) => Measurement {
            tool: tool.into(),
            seconds: Some(t.seconds),
            rows_per_second: Some(rows as f64 / t.seconds),
            mb_per_second: Some(source_mb / t.seconds),
            peak_rss_mb: t.peak_rss_kb.map(|k| k as f64 / 1024.0),
            vs_copy_pipe: None,
            vs_dump_restore: None,
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
        vs_dump_restore: None,
        note: note.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::{private_dir, write_private};
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_file_with_credentials_is_readable_by_its_owner_only() {
        let dir = private_dir().expect("temp dir");
        let path = dir.path().join("x.load");
        write_private(&path, "postgresql://u:secret@h/db").expect("written");
        let mode = std::fs::metadata(&path).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(dir.path())
            .expect("dir")
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o077, 0, "the folder is private too");
        assert!(write_private(&path, "again").is_err(), "never overwrites");
    }
}
