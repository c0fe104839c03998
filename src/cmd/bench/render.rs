//! A bench result as Markdown.

use std::fmt::Write as _;

use super::BenchResult;

/// `1000000` → `1M`, `500000` → `500k`.
pub(super) fn label(n: u32) -> String {
    match n {
        n if n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// The result as a Markdown section.
pub(super) fn render_markdown(r: &BenchResult) -> String {
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
        "| tool | wall | rows/s | MB/s | peak RSS | vs COPY pipe | vs pg_dump/restore | note |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---|");
    let num = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map(f).unwrap_or_else(|| "–".into());
    for m in &r.measurements {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            m.tool,
            num(m.seconds, &|s| format!("{s:.1} s")),
            num(m.rows_per_second, &|v| format!("{:.0}", v)),
            num(m.mb_per_second, &|v| format!("{v:.1}")),
            num(m.peak_rss_mb, &|v| format!("{v:.0} MB")),
            num(m.vs_copy_pipe, &|v| format!("{v:.2}×")),
            num(m.vs_dump_restore, &|v| format!("{v:.2}×")),
            m.note
        );
    }
    let _ = writeln!(out, "\n{WORK}");
    out
}

/// What each tool does for its time, so that the ratios compare like with like.
const WORK: &str =
    "What each row does: the COPY pipe copies the legacy tables as they are into the same \
legacy layout with its primary and foreign keys in place (one foreign-key check per row). \
`pg_dump | pg_restore` copies the same layout, loading bare tables, then building indexes and \
validating keys in parallel: no transformation, the practical limit of the machine. pgloader \
loads into tables without indexes. padetl re-keys every employee and security against the \
target's reference tables, converts local times, turns text into jsonb, loads the v3 layout \
(fourteen indexes: five primary keys, two unique, seven lookups; three \
foreign keys) in one transaction, and with checks evaluates every check; the \
rerun reads everything again and writes nothing.";
