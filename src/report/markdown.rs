//! The report as Markdown: the pre-flight report users paste into a change
//! ticket before they touch QA or prod.

use std::fmt::Write;

use super::{change, row_text, PreviousCounts, RunReport};
use crate::schema::SchemaPlan;

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
    if let Some(c) = &report.compared_with {
        let _ = writeln!(
            out,
            "- compared with: the `{}` of {} (run id `{}`)",
            c.command, c.finished, c.run_id
        );
    }
    let _ = writeln!(out, "\n**Verdict:** {}\n", cell(&report.verdict()));
    for note in &report.notes {
        let _ = writeln!(out, "- note: {}", cell(note));
    }
    if !report.notes.is_empty() {
        out.push('\n');
    }
    if let Some(plan) = &report.schema {
        render_schema(&mut out, plan);
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
    let since = report.compared_with.is_some();
    let _ = writeln!(
        out,
        "| table | mode | read | {ins} | {upd} | unchanged | deleted | rejected | quarantined | left out |{}",
        if since { " since |" } else { "" }
    );
    let _ = writeln!(
        out,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|{}",
        if since { "---|" } else { "" }
    );
    for t in &report.tables {
        let since = match (since, &t.previous) {
            (false, _) => String::new(),
            (true, None) => " – |".into(),
            (true, Some(p)) => format!(" {} |", table_change(&t.counts(), p)),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |{since}",
            t.table,
            t.mode.as_str(),
            t.read,
            t.inserted,
            t.updated,
            t.unchanged,
            t.deleted,
            t.rejected,
            t.quarantined,
            t.left_out
        );
    }
    for t in &report.tables {
        if let Some(read) = &t.incremental {
            let _ = writeln!(out, "\n- {}: {}", t.table, cell(read));
        }
        if let Some(why) = &t.not_checked {
            let _ = writeln!(out, "\n- {}: **not checked**: {}", t.table, cell(why));
        }
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
    let since = report.compared_with.is_some();
    let _ = writeln!(
        out,
        "| check | table | kind | policy | violations |{}",
        if since { " since |" } else { "" }
    );
    let _ = writeln!(
        out,
        "|---|---|---|---|---:|{}",
        if since { "---:|" } else { "" }
    );
    for c in &report.checks {
        let name = match c.violations {
            0 => c.name.clone(),
            _ => format!("[{}](#{})", c.name, anchor(&c.table, &c.name)),
        };
        let since = match (since, c.previous) {
            (false, _) => String::new(),
            (true, None) => " new |".into(),
            (true, Some(p)) => format!(" {} |", change(c.violations, p)),
        };
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} |{since}",
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

/// The schema plan: each table's state, its differences from the version
/// it is nearest to, and what the pass did about them.
fn render_schema(out: &mut String, plan: &SchemaPlan) {
    let _ = writeln!(out, "## Schema\n\n{}\n", cell(&plan.summary()));
    let _ = writeln!(out, "| table | rows | state | outcome |");
    let _ = writeln!(out, "|---|---:|---|---|");
    for t in &plan.tables {
        let rows = t.rows.map_or_else(|| "–".into(), |r| r.to_string());
        let outcome = t.outcome.describe().unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {rows} | {} | {} |",
            t.table,
            cell(&t.state.to_string()),
            cell(&outcome)
        );
    }
    for t in plan.tables.iter().filter(|t| !t.differences.is_empty()) {
        let _ = writeln!(out, "\nDifferences of {}:\n", t.table);
        for d in &t.differences {
            let _ = writeln!(out, "- {}", cell(&d.to_string()));
        }
    }
    for r in &plan.refused {
        let _ = writeln!(out, "\n- refused: {}", cell(&r.to_string()));
    }
    out.push('\n');
}

/// "read +12, rejected -3": the counts that changed since `before`.
fn table_change(now: &PreviousCounts, before: &PreviousCounts) -> String {
    let pairs = [
        ("read", now.read, before.read),
        ("written", now.written, before.written),
        ("rejected", now.rejected, before.rejected),
        ("quarantined", now.quarantined, before.quarantined),
        ("left out", now.left_out, before.left_out),
    ];
    let changed: Vec<String> = pairs
        .iter()
        .filter(|(_, n, b)| n != b)
        .map(|(what, n, b)| format!("{what} {}", change(*n, *b)))
        .collect();
    match changed.is_empty() {
        true => "±0".into(),
        false => changed.join(", "),
    }
}

/// The id of a check's section, linked from the summary table.
pub(super) fn anchor(table: &str, check: &str) -> String {
    format!("{table}-{check}")
}

/// Text safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
