//! The run summary as a terminal table.

use std::fmt::Write;

use super::RunReport;
use crate::schema::SchemaPlan;

/// Renders `report` for a person: schema outcome, keymaps, a row per table.
pub fn render_text(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "pipeline {} (env {}): {} → {}",
        report.pipeline, report.env, report.source, report.target
    );
    if let Some(plan) = &report.schema {
        let _ = writeln!(out, "schema: {}", describe_plan(plan));
    }
    if !report.privileges.is_empty() {
        let _ = writeln!(out, "\nmissing privileges on the target:");
        for m in &report.privileges {
            let _ = writeln!(out, "  - {m}");
        }
    }
    for km in &report.keymaps {
        let by: Vec<String> = km
            .matched_by
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let _ = writeln!(
            out,
            "keymap {}: {} source rows → {} matched ({}), {} orphan, {} ambiguous",
            km.name,
            km.source_rows,
            km.count(crate::transform::MATCHED),
            by.join(", "),
            km.count(crate::transform::ORPHAN),
            km.count(crate::transform::AMBIGUOUS)
        );
    }
    let width = report
        .tables
        .iter()
        .map(|t| t.table.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(
        out,
        "\n{:<width$} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>11} {:>8}",
        "table",
        "mode",
        "read",
        "inserted",
        "updated",
        "unchanged",
        "deleted",
        "rejected",
        "quarantined",
        "time"
    );
    for t in &report.tables {
        let mode = t.mode.as_str();
        let _ = writeln!(
            out,
            "{:<width$} {mode:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>11} {:>7.2}s",
            t.table,
            t.read,
            t.inserted,
            t.updated,
            t.unchanged,
            t.deleted,
            t.rejected,
            t.quarantined,
            t.seconds
        );
        for (reason, n) in &t.rejected_by_reason {
            let _ = writeln!(out, "{:<width$}   rejected {n}: {reason}", "");
        }
        if t.left_out > 0 {
            let _ = writeln!(
                out,
                "{:<width$}   left out {}: a value does not fit its column (checks below)",
                "", t.left_out
            );
        }
        if let Some(read) = &t.incremental {
            let _ = writeln!(out, "{:<width$}   {read}", "");
        }
        if let Some(why) = &t.not_checked {
            let _ = writeln!(out, "{:<width$}   NOT CHECKED: {why}", "");
        }
    }
    if !report.checks.is_empty() {
        let _ = match &report.compared_with {
            Some(p) => writeln!(out, "\nchecks (since the {} of {}):", p.command, p.finished),
            None => writeln!(out, "\nchecks:"),
        };
        for c in &report.checks {
            let since = match (&report.compared_with, c.previous) {
                (Some(_), Some(p)) => format!(", {} since", super::change(c.violations, p)),
                (Some(_), None) => ", new".into(),
                (None, _) => String::new(),
            };
            let _ = writeln!(
                out,
                "  {:<8} {} on {} ({}): {} row(s){since}",
                c.policy.as_str(),
                c.name,
                c.table,
                c.kind,
                c.violations
            );
            for v in &c.sample {
                let _ = writeln!(
                    out,
                    "           key {}: {}  {}",
                    v.key,
                    v.detail,
                    super::row_text(&v.row)
                );
            }
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "\nnote: {note}");
    }
    for t in report.tables.iter().filter(|t| t.left_alone > 0) {
        let _ = writeln!(
            out,
            "\n{}: {} row(s) changed in the target since padetl wrote them were left as the target has them",
            t.table, t.left_alone
        );
    }
    let _ = writeln!(out, "\n{} in {:.2}s", report.verdict(), report.seconds);
    out
}

/// The plan's one line, then per table what it found and did.
fn describe_plan(plan: &SchemaPlan) -> String {
    let mut out = plan.summary();
    if plan.is_noop() {
        return out;
    }
    for t in &plan.tables {
        let o = &t.outcome;
        let mut did = Vec::new();
        if let Some(v) = o.created_at {
            did.push(format!("created at version {v}"));
        }
        if !o.repaired.is_empty() {
            did.push(format!("repaired: {}", o.repaired.join("; ")));
        }
        if let Some(v) = o.upgraded_to {
            did.push(format!("upgraded to version {v}"));
        }
        if !o.resolved_by_upgrade.is_empty() {
            did.push(format!(
                "made moot by the upgrade: {}",
                o.resolved_by_upgrade.join("; ")
            ));
        }
        if !o.waiting.is_empty() {
            did.push(format!("waiting: {}", o.waiting.join("; ")));
        }
        if did.is_empty() {
            continue;
        }
        let found = match o.version_found {
            Some(v) => format!("found at version {v} ({})", t.state),
            None => "missing".to_string(),
        };
        let _ = write!(out, "\n  {}: {found}; {}", t.table, did.join("; "));
    }
    out
}
