//! The report as one self-contained HTML file: inline style, no script, no
//! network, so it can be attached to a ticket and opened anywhere.

use super::{render_markdown, RunReport};

/// Renders `report` as one self-contained HTML file.
pub fn render_html(report: &RunReport) -> String {
    let status = verdict_class(report);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>padetl {} {}</title><style>{STYLE}</style></head>\
         <body class=\"{status}\">\n{}</body></html>\n",
        report.pipeline,
        report.env,
        render_html_body(report)
    )
}

/// The report's content as HTML elements, every value escaped: the body
/// of [`render_html`], and of a run's page on the dashboard. The Markdown
/// report is the single source of its content; this turns its headings,
/// lists and tables into HTML.
pub fn render_html_body(report: &RunReport) -> String {
    let markdown = render_markdown(report);
    let mut body = String::new();
    let mut in_table = false;
    let mut in_list = false;
    for line in markdown.lines() {
        let is_row = line.starts_with('|');
        let is_item = line.starts_with("- ");
        if in_table && !is_row {
            body.push_str("</table>\n");
            in_table = false;
        }
        if in_list && !is_item {
            body.push_str("</ul>\n");
            in_list = false;
        }
        if is_row {
            if line.starts_with("|---") {
                continue;
            }
            let tag = if in_table { "td" } else { "th" };
            if !in_table {
                body.push_str("<table>\n");
                in_table = true;
            }
            body.push_str("<tr>");
            for c in split_row(line) {
                let class = match tag == "td" && is_number(&c) {
                    true => " class=\"n\"",
                    false => "",
                };
                body.push_str(&format!("<{tag}{class}>{}</{tag}>", inline(&c)));
            }
            body.push_str("</tr>\n");
        } else if is_item {
            if !in_list {
                body.push_str("<ul>\n");
                in_list = true;
            }
            body.push_str(&format!("<li>{}</li>\n", inline(&line[2..])));
        } else if let Some(v) = line.strip_prefix("**Verdict:** ") {
            body.push_str(&format!(
                "<p class=\"verdict {}\"><strong>Verdict:</strong> {}</p>\n",
                verdict_class(report),
                inline(v)
            ));
        } else if let Some(h) = line.strip_prefix("### ") {
            body.push_str(&format!("<h3{}>{}</h3>\n", section_id(h), inline(h)));
        } else if let Some(h) = line.strip_prefix("## ") {
            body.push_str(&format!("<h2>{}</h2>\n", inline(h)));
        } else if let Some(h) = line.strip_prefix("# ") {
            body.push_str(&format!("<h1>{}</h1>\n", inline(h)));
        } else if !line.trim().is_empty() {
            body.push_str(&format!("<p>{}</p>\n", inline(line)));
        }
    }
    if in_table {
        body.push_str("</table>\n");
    }
    if in_list {
        body.push_str("</ul>\n");
    }
    body
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em;color:#222}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;vertical-align:top}\
th{background:#f3f3f3}code{font-family:ui-monospace,monospace;font-size:90%;word-break:break-all}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
.verdict{padding:.75em 1em;border-radius:4px;font-size:110%}\
.verdict.ok{background:#e6f4ea;border:1px solid #8c8}.verdict.warn{background:#fff4e0;border:1px solid #e0b050}\
.verdict.fail{background:#fde8e8;border:1px solid #d66}body.fail h1{color:#a00}";

/// The verdict's colour: `fail` when a run would stop, `warn` when it would
/// go on with warnings, quarantined or not-loaded rows, `ok` otherwise.
fn verdict_class(report: &RunReport) -> &'static str {
    if !report.failed_checks().is_empty() || !report.privileges.is_empty() {
        return "fail";
    }
    let warned = report
        .checks
        .iter()
        .any(|c| c.violations > 0 && c.policy != crate::config::Policy::Fail);
    let held = report.tables.iter().any(|t| t.quarantined > 0);
    match warned || held {
        true => "warn",
        false => "ok",
    }
}

/// A count or a change (`1234`, `+12`, `-3`, `±0`, `–`): right-aligned.
fn is_number(cell: &str) -> bool {
    let digits = cell.trim_start_matches(['+', '-', '±']);
    cell == "–" || (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()))
}

/// The id of a finding's section, `### name (table, policy): …`, which the
/// summary's link points at.
fn section_id(heading: &str) -> String {
    let Some((name, rest)) = heading.split_once(" (") else {
        return String::new();
    };
    let table = rest.split([',', ')']).next().unwrap_or_default();
    format!(" id=\"{}\"", escape(&super::markdown::anchor(table, name)))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Cells of a Markdown table row, honouring `\|`.
fn split_row(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cell)),
            c => cell.push(c),
        }
    }
    cells.push(cell);
    cells.into_iter().map(|c| c.trim().to_string()).collect()
}

/// Escapes HTML, then turns `code` and **bold** into tags.
fn inline(s: &str) -> String {
    let escaped = escape(s);
    let mut out = String::new();
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str(&format!("<code>{part}</code>"));
        } else if let Some(link) = link(part) {
            out.push_str(&link);
        } else {
            let mut bold = false;
            for (j, piece) in part.split("**").enumerate() {
                if j > 0 {
                    out.push_str(if bold { "</strong>" } else { "<strong>" });
                    bold = !bold;
                }
                out.push_str(piece);
            }
            if bold {
                out.push_str("</strong>");
            }
        }
    }
    out
}

/// `[text](#anchor)`, the whole of a cell, as a link within the page.
fn link(part: &str) -> Option<String> {
    let (text, target) = part
        .strip_prefix('[')?
        .strip_suffix(')')?
        .split_once("](#")?;
    Some(format!("<a href=\"#{target}\">{text}</a>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_keep_escaped_bars_and_html_is_escaped() {
        assert_eq!(split_row("| a \\| b | c |"), vec!["a | b", "c"]);
        assert_eq!(
            inline("<x> `y` **z**"),
            "&lt;x&gt; <code>y</code> <strong>z</strong>"
        );
        assert_eq!(
            inline("[a_fits](#t-a_fits)"),
            "<a href=\"#t-a_fits\">a_fits</a>"
        );
        assert_eq!(section_id("a_fits (t, fail): 3 row(s)"), " id=\"t-a_fits\"");
        assert!(is_number("+12") && is_number("40") && !is_number("fail"));
    }
}
