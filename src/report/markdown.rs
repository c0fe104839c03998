//! The report as Markdown: the pre-flight report users paste into a change
//! ticket before they touch QA or prod.

use std::fmt::Write;

use super::{row_text, RunReport};

/// Renders `report` as a Markdown document (headings, tables, samples).
pub fn render_markdown(report: &RunReport) -> String {
    let mut out = String::new();
    let title = if report.dry_run {
        "Pre-flight check"
    } else {
        "Run report"
    };
    let _ = writeln!(
        out,
        "# {title}: pipeline `{}` (env `{}`)\n",
        report.pipeline, report.env
    );
    let _ = writeln!(out, "- source: `{}`", report.source);
    let _ = writeln!(out, "- target: `{}`", report.target);
    let _ = writeln!(out, "- run id: `{}`", report.run_id);
    let _ = writeln!(out, "\n**Verdict:** {}\n", cell(&report.verdict()));
    for note in &report.notes {
        let _ = writeln!(out, "- note: {}", cell(note));
    }
    if !report.notes.is_empty() {
        out.push('\n');
    }
    if let Some(plan) = &report.schema {
        let _ = writeln!(out, "## Schema\n\n{}\n", cell(&plan.summary()));
    }
    if !report.privileges.is_empty() {
        let _ = writeln!(out, "## Missing privileges\n");
        let _ = writeln!(out, "| privilege | on | needed for | grant |");
        let _ = writeln!(out, "|---|---|---|---|");
        for m in &report.privileges {
            let _ = writeln!(
                out,
                "| {} | {} | {} | `{}` |",
                m.privilege,
                cell(&m.on),
                cell(&m.needed_for),
                cell(&m.grant)
            );
        }
        out.push('\n');
    }
    if !report.keymaps.is_empty() {
        let _ = writeln!(out, "## Keymaps\n");
        let _ = writeln!(
            out,
            "| keymap | source rows | matched | orphan | ambiguous |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|");
        for km in &report.keymaps {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                km.name,
                km.source_rows,
                km.count(crate::transform::MATCHED),
                km.count(crate::transform::ORPHAN),
                km.count(crate::transform::AMBIGUOUS)
            );
        }
        out.push('\n');
    }
    let (ins, upd) = match report.dry_run {
        true => ("would insert", "would update"),
        false => ("inserted", "updated"),
    };
    let _ = writeln!(out, "## Tables\n");
    let _ = writeln!(
        out,
        "| table | mode | read | {ins} | {upd} | unchanged | deleted | rejected | quarantined |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for t in &report.tables {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            t.table,
            t.mode.as_str(),
            t.read,
            t.inserted,
            t.updated,
            t.unchanged,
            t.deleted,
            t.rejected,
            t.quarantined
        );
    }
    let reasons: Vec<String> = report
        .tables
        .iter()
        .flat_map(|t| {
            t.rejected_by_reason.iter().map(move |(r, n)| {
                format!("- {}: {n} rejected by the transform: {}", t.table, cell(r))
            })
        })
        .collect();
    if !reasons.is_empty() {
        let _ = writeln!(out, "\n{}", reasons.join("\n"));
    }
    if report.checks.is_empty() {
        let _ = writeln!(out, "\n## Checks\n\nThe pipeline declares no checks.");
        return out;
    }
    let _ = writeln!(out, "\n## Checks\n");
    let _ = writeln!(out, "| check | table | kind | policy | violations |");
    let _ = writeln!(out, "|---|---|---|---|---:|");
    for c in &report.checks {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            c.name,
            c.table,
            c.kind,
            c.policy.as_str(),
            c.violations
        );
    }
    for c in report.checks.iter().filter(|c| c.violations > 0) {
        let _ = writeln!(
            out,
            "\n### {} ({}, {}): {} row(s)\n",
            c.name,
            c.table,
            c.policy.as_str(),
            c.violations
        );
        let _ = writeln!(out, "| key | problem | row |");
        let _ = writeln!(out, "|---:|---|---|");
        for v in &c.sample {
            let row = match v.row.is_empty() {
                true => String::new(),
                false => format!("`{}`", cell(&row_text(&v.row)).replace('`', "'")),
            };
            let _ = writeln!(out, "| {} | {} | {row} |", v.key, cell(&v.detail));
        }
        if c.violations > c.sample.len() as u64 {
            let _ = writeln!(out, "\n…and {} more.", c.violations - c.sample.len() as u64);
        }
    }
    out
}

/// Text safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
