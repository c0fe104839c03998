//! The run ledger and the quarantine.

use maud::{html, Markup};

use super::super::data::ledger::{QuarantinePage, RunDetail, RunPage, RunRow};
use super::super::html::{badge, count, pager, trusted};
use super::{opt, url_path};
use crate::report::render_html_body;

pub(in crate::serve) fn runs(page: &RunPage) -> Markup {
    html! {
        @if page.rows.is_empty() { p.muted { "No run, check or verify recorded yet." } } @else {
            div.scroll { table {
                thead { tr {
                    th { "Run" } th { "Command" } th { "Status" } th { "Started (UTC)" } th { "Finished (UTC)" }
                    th.num { "Rows written" } th.num { "Checks with findings" } th { "By" } th.wide { "Error" }
                } }
                tbody { @for r in &page.rows { (run_row(r)) } }
            } }
        }
        (pager("/runs", &[], page.next.clone()))
    }
}

fn run_row(r: &RunRow) -> Markup {
    html! {
        tr {
            td { a href=(format!("/runs/{}", url_path(&r.id))) { (r.id) } }
            td { (r.command) " " span.muted { (r.pipeline) } }
            td { (badge(&r.status)) }
            td { (r.started_at) }
            td { (opt(r.finished_at.as_deref())) }
            td.num { @match r.written { Some(n) => (count(n)), None => span.muted { "–" } } }
            td.num { @match r.checks_with_findings { Some(n) => (count(n)), None => span.muted { "–" } } }
            td { (r.db_user) }
            td.wide { (opt(r.error.as_deref().map(first_line))) }
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

pub(in crate::serve) fn run(d: &RunDetail) -> Markup {
    let r = &d.run;
    html! {
        dl.kv {
            dt { "Command" } dd { (r.command) " of pipeline " code { (r.pipeline) } " (env " (r.env) ")" }
            dt { "Status" } dd { (badge(&r.status)) }
            dt { "By" } dd { (r.db_user) }
            dt { "Started" } dd { (r.started_at) " UTC" }
            dt { "Finished" } dd { (opt(r.finished_at.as_deref())) }
        }
        @if let Some(e) = &r.error { h2 { "Error" } pre { (e) } }
        @match &d.report {
            Some(report) => {
                div class=(format!("banner {}", if report.failed_checks().is_empty() { "ok" } else { "fail" })) {
                    (report.verdict())
                }
                div.report { (trusted(render_html_body(report))) }
            }
            None => p.muted { "This run left no report (it failed, or is still running)." },
        }
    }
}

pub(in crate::serve) fn quarantine(page: &QuarantinePage) -> Markup {
    let table = page.filter.table.clone().unwrap_or_default();
    html! {
        form.filters method="get" action="/quarantine" {
            label { "Table" input type="search" name="table" maxlength="100" value=(table); }
            button type="submit" { "Filter" }
            a href="/quarantine" { "Clear" }
        }
        @if page.rows.is_empty() { p.muted { "Nothing is held in quarantine." } } @else {
            div.scroll { table {
                thead { tr { th { "Table" } th.num { "Key" } th { "Check" } th { "Reason" } th { "Run" } th { "Held since (UTC)" } th.wide { "Row" } } }
                tbody { @for q in &page.rows { tr {
                    td { (q.table_name) } td.num { (q.row_key) } td { (q.check_name) } td { (q.reason) }
                    td { a href=(format!("/runs/{}", url_path(&q.run_id))) { (q.run_id) } }
                    td { (q.quarantined_at) } td.wide { pre { (q.row) } }
                } } }
            } }
        }
        (pager("/quarantine", &[("table", table)], page.next.clone()))
    }
}
