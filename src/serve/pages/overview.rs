//! The overview page.

use maud::{html, Markup};

use super::super::chart;
use super::super::data::overview::{Overview, TTL};
use super::super::data::Count;
use super::super::html::{badge, count, encode_query, Frame};
use super::lists::audit_table;

pub(in crate::serve) fn overview(
    frame: &Frame<'_>,
    o: &Overview,
    app: &str,
    reference: &str,
) -> Markup {
    let t = &o.tiles;
    let total: i64 = t.requests_by_status.iter().map(|c| c.n).sum();
    let orphans: i64 = t.orphans.iter().map(|c| c.n).sum();
    let quarantined: i64 = t.quarantined.iter().map(|c| c.n).sum();
    html! {
        dl.kv {
            dt { "Environment" } dd { strong { (frame.env) } }
            dt { "Target" } dd { code { (frame.target) } " · app schema " code { (app) } " · reference schema " code { (reference) } " (read only)" }
            dt { "Schema" } dd { (schema_line(o)) }
            dt { "Last run" } dd {
                @match &o.last_run {
                    Some(r) => {
                        a href=(format!("/runs/{}", super::url_path(&r.id))) { (r.id) } " "
                        (r.command) " " (badge(&r.status))
                        @if let Some(f) = &r.finished_at { " · finished " (f) " UTC" }
                    }
                    None => span.muted { "no run recorded yet" },
                }
            }
        }
        h2 { "Now" }
        div.tiles {
            div.tile {
                h3 { "Requests" }
                div.big { (count(total)) }
                (count_list(&t.requests_by_status, |c| format!("/requests?{}", encode_query(&[("status", c.key.clone())]))))
            }
            div.tile {
                h3 { "Approvals pending" }
                div.big { (count(t.pending_approvals.iter().map(|c| c.n).sum())) }
                (count_list(&t.pending_approvals, |c| format!("/approvals?{}", encode_query(&[("pending", "1".into()), ("type", c.key.clone())]))))
            }
            div.tile {
                h3 { "Approved, not executed" }
                div.big { (count(t.approved_not_executed)) }
                dl { dt { a href="/requests?status=approved" { "overdue (over 2 days)" } } dd { (count(t.overdue)) } }
            }
            div.tile {
                h3 { "Open breaches" }
                div.big { (count(t.open_breaches.iter().map(|c| c.n).sum())) }
                (count_list(&t.open_breaches, |c| format!("/breaches?{}", encode_query(&[("open", "1".into()), ("severity", c.key.clone())]))))
            }
            div.tile class=[(quarantined > 0).then_some("alert")] {
                h3 { "Quarantined rows" }
                div.big { (count(quarantined)) }
                (count_list(&t.quarantined, |c| format!("/quarantine?{}", encode_query(&[("table", c.key.clone())]))))
            }
            div.tile class=[(orphans > 0).then_some("alert")] {
                h3 { "Ids without a reference row now" }
                div.big { (count(orphans)) }
                dl {
                    @for c in &t.orphans { dt { code { (c.key) } } dd { (count(c.n)) } }
                }
            }
        }
        p.muted { "Counted at " (t.counted_at) " UTC; counted again at most every " (TTL.as_secs()) " s." }
        h2 { "Requests per month, by status (last 24 months)" }
        (chart::per_month(&t.per_month))
        h2 { "Last 10 audit entries" }
        (audit_table(&o.tiles.recent_audit))
        p { a href="/audit" { "The whole audit log →" } }
    }
}

fn schema_line(o: &Overview) -> Markup {
    let s = &o.schema;
    let history = match s.history.is_empty() {
        true => "none".to_string(),
        false => s
            .history
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    };
    html! {
        @match (s.version, &s.basis) {
            (Some(v), Some(basis)) => { "version " strong { (v) } " by shape, " (basis) }
            (None, Some(basis)) => { "equals no single version, " (basis) }
            _ => span.muted { "not yet looked at by a pass" },
        }
        @if let Some(head) = s.head { " · migrations head " (head) }
        " · history: " (history)
    }
}

/// Counts by key, each key a link.
fn count_list(counts: &[Count], href: impl Fn(&Count) -> String) -> Markup {
    html! {
        dl {
            @for c in counts {
                dt { a href=(href(c)) { (c.key.replace('_', " ")) } }
                dd { (count(c.n)) }
            }
        }
    }
}
