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
