//! The report as one self-contained HTML file: inline style, no script, no
//! network, so it can be attached to a ticket and opened anywhere.

use super::{render_markdown, RunReport};

/// Renders `report` as one self-contained HTML file.
pub fn render_html(report: &RunReport) -> String {
    let status = if report.failed_checks().is_empty() {
        "ok"
    } else {
        "fail"
    };
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
                body.push_str(&format!("<{tag}>{}</{tag}>", inline(&c)));
            }
            body.push_str("</tr>\n");
        } else if is_item {
            if !in_list {
                body.push_str("<ul>\n");
                in_list = true;
            }
            body.push_str(&format!("<li>{}</li>\n", inline(&line[2..])));
        } else if let Some(h) = line.strip_prefix("### ") {
            body.push_str(&format!("<h3>{}</h3>\n", inline(h)));
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
body.fail h1{color:#a00}";

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
    let escaped = s
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let mut out = String::new();
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str(&format!("<code>{part}</code>"));
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
    }
}
