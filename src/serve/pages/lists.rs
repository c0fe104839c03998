//! Approvals, executions, breaches and the audit log.

use maud::{html, Markup};

use super::super::data::lists::{ApprovalRow, AuditRow, BreachRow, ExecutionRow, Page};
use super::super::html::{badge, pager};
use super::{opt, person, request_link};

const BREACH_TYPES: [&str; 5] = [
    "no_preclearance",
    "holding_period",
    "restricted_security",
    "quantity_exceeded",
    "late_execution",
];

fn next(page_next: Option<i64>) -> Option<String> {
    page_next.map(|n| n.to_string())
}

fn checked(v: &Option<String>) -> bool {
    v.as_deref()
        .is_some_and(|v| v == "1" || v == "on" || v == "true")
}

pub(in crate::serve) fn approvals(page: &Page<ApprovalRow>) -> Markup {
    let f = &page.filter;
    html! {
        form.filters method="get" action="/approvals" {
            label.check { input type="checkbox" name="pending" value="1" checked[checked(&f.pending)]; "pending only" }
            label { "Type"
                select name="type" {
                    option value="" { "any" }
                    @for t in ["manager", "compliance"] { option value=(t) selected[f.kind.as_deref() == Some(t)] { (t) } }
                }
            }
            button type="submit" { "Filter" }
            a href="/approvals" { "Clear" }
        }
        @if page.rows.is_empty() { p.muted { "No approvals match." } } @else {
            div.scroll { table {
                thead { tr { th { "Request" } th { "Type" } th { "Approver" } th { "Decision" } th { "Comments" } th { "Decided (UTC)" } } }
                tbody { @for a in &page.rows { tr {
                    td { (request_link(a.reference_id.as_deref())) } td { (a.approval_type) } td { (person(&a.approver)) }
                    td { (badge(&a.decision)) } td { (opt(a.comments.as_deref())) } td { (opt(a.decided_at.as_deref())) }
                } } }
            } }
        }
        (pager("/approvals", &f.pairs(), next(page.next)))
    }
}

pub(in crate::serve) fn executions(page: &Page<ExecutionRow>) -> Markup {
    html! {
        @if page.rows.is_empty() { p.muted { "No executions." } } @else {
            div.scroll { table {
                thead { tr { th { "Request" } th { "Executed (UTC)" } th.num { "Quantity" } th.num { "Price" } th { "Ccy" } th { "Broker reference" } } }
                tbody { @for x in &page.rows { tr {
                    td { (request_link(x.reference_id.as_deref())) } td { (x.executed_at) } td.num { (x.quantity) }
                    td.num { (x.price) } td { (x.currency) } td { (opt(x.broker_reference.as_deref())) }
                } } }
            } }
        }
        (pager("/executions", &page.filter.pairs(), next(page.next)))
    }
}

pub(in crate::serve) fn breaches(page: &Page<BreachRow>) -> Markup {
    let f = &page.filter;
    html! {
        form.filters method="get" action="/breaches" {
            label { "Severity"
                select name="severity" {
                    option value="" { "any" }
                    @for s in ["low", "medium", "high"] { option value=(s) selected[f.severity.as_deref() == Some(s)] { (s) } }
                }
            }
            label { "Type"
                select name="type" {
                    option value="" { "any" }
                    @for t in BREACH_TYPES { option value=(t) selected[f.kind.as_deref() == Some(t)] { (t.replace('_', " ")) } }
                }
            }
            label.check { input type="checkbox" name="open" value="1" checked[checked(&f.open)]; "open only" }
            button type="submit" { "Filter" }
            a href="/breaches" { "Clear" }
        }
        @if page.rows.is_empty() { p.muted { "No breaches match." } } @else {
            div.scroll { table {
                thead { tr { th { "Request" } th { "Employee" } th { "Type" } th { "Severity" } th { "Details" } th { "Detected (UTC)" } th { "Resolved (UTC)" } } }
                tbody { @for b in &page.rows { tr {
                    td { (request_link(b.reference_id.as_deref())) } td { (person(&b.employee)) }
                    td { (b.breach_type.replace('_', " ")) } td { (badge(&b.severity)) } td { (opt(b.details.as_deref())) }
                    td { (b.detected_at) } td { (opt(b.resolved_at.as_deref())) }
                } } }
            } }
        }
        (pager("/breaches", &f.pairs(), next(page.next)))
    }
}

pub(in crate::serve) fn audit(page: &Page<AuditRow>) -> Markup {
    let f = &page.filter;
    html! {
        form.filters method="get" action="/audit" {
            label { "Actor" input type="search" name="actor" maxlength="100" placeholder="name or mako_id" value=(f.actor.clone().unwrap_or_default()); }
            button type="submit" { "Filter" }
            a href="/audit" { "Clear" }
        }
        (audit_table(&page.rows))
        (pager("/audit", &f.pairs(), next(page.next)))
    }
}

/// Audit entries as a table (the audit page, a request's trail, the overview).
pub(in crate::serve) fn audit_table(rows: &[AuditRow]) -> Markup {
    if rows.is_empty() {
        return html! { p.muted { "No audit entries." } };
    }
    html! {
        div.scroll { table {
            thead { tr { th { "When (UTC)" } th { "About" } th { "Action" } th { "Actor" } th.wide { "Details" } } }
            tbody { @for a in rows { tr {
                td { (a.occurred_at) }
                td {
                    @match &a.reference_id {
                        Some(r) => (request_link(Some(r))),
                        None => { (a.entity_type) " #" (a.entity_id) },
                    }
                }
                td { (a.action.replace('_', " ")) }
                td {
                    @if a.actor.id.is_some() { (person(&a.actor)) } @else { span.muted { (a.actor_identifier) } }
                }
                td.wide { @if let Some(d) = &a.details { pre { (d) } } }
            } } }
        } }
    }
}
