//! The request list and a request's own page.

use maud::{html, Markup};

use super::super::data::requests::{RequestDetail, RequestPage, RequestRow, STATUSES};
use super::super::html::{badge, pager};
use super::lists::audit_table;
use super::{opt, person, request_link, security};

pub(in crate::serve) fn list(page: &RequestPage) -> Markup {
    let f = &page.filter;
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    html! {
        form.filters method="get" action="/requests" {
            label { "Status"
                select name="status" {
                    option value="" { "any" }
                    @for s in STATUSES {
                        option value=(s) selected[f.status.as_deref() == Some(s)] { (s.replace('_', " ")) }
                    }
                }
            }
            label { "Employee" input type="search" name="employee" maxlength="100" placeholder="name or mako_id" value=(value(&f.employee)); }
            label { "Security" input type="search" name="security" maxlength="100" placeholder="ticker, ISIN, name" value=(value(&f.security)); }
            label { "Created from" input type="date" name="from" value=(value(&f.from)); }
            label { "to" input type="date" name="to" value=(value(&f.to)); }
            button type="submit" { "Filter" }
            a href="/requests" { "Clear" }
        }
        (request_table(&page.rows))
        (pager("/requests", &f.pairs(), page.next.map(|n| n.to_string())))
    }
}

pub(in crate::serve) fn request_table(rows: &[RequestRow]) -> Markup {
    if rows.is_empty() {
        return html! { p.muted { "No requests match." } };
    }
    html! {
        div.scroll { table {
            thead { tr {
                th { "Reference" } th { "Created (UTC)" } th { "Employee" } th { "Security" }
                th { "Side" } th.num { "Quantity" } th.num.wide { "Price" } th { "Ccy" } th { "Status" }
            } }
            tbody {
                @for r in rows {
                    tr {
                        td { (request_link(Some(&r.reference_id))) }
                        td { (r.created_at) }
                        td { (person(&r.employee)) }
                        td { (security(&r.security)) }
                        td { (r.direction) }
                        td.num { (r.quantity) }
                        td.num.wide { (opt(r.estimated_price.as_deref())) }
                        td { (r.currency) }
                        td { (badge(&r.status)) }
                    }
                }
            }
        } }
    }
}

pub(in crate::serve) fn detail(d: &RequestDetail) -> Markup {
    let r = &d.request;
    html! {
        p { (badge(&r.status)) " " span.muted { "id " (r.id) } }
        dl.kv {
            dt { "Employee" } dd { (person(&r.employee)) }
            dt { "Security" } dd { (security(&r.security)) }
            dt { "As requested" } dd { (r.ticker) @if let Some(i) = &r.isin { " · " (i) } }
            dt { "Direction" } dd { (r.direction) }
            dt { "Quantity" } dd { (r.quantity) }
            dt { "Estimated price" } dd { (opt(r.estimated_price.as_deref())) " " (r.currency) }
            dt { "Broker" } dd { (opt(d.broker.as_deref())) }
            dt { "Account" } dd { (opt(d.account_number.as_deref())) }
            dt { "Reason" } dd { (opt(d.reason.as_deref())) }
            dt { "Created" } dd { (r.created_at) " UTC" }
            dt { "Updated" } dd { (d.updated_at) " UTC" }
        }
        h2 { "Approval timeline" }
        @if d.approvals.is_empty() {
            p.muted { "No approvals recorded." }
        } @else {
            ul.timeline {
                @for a in &d.approvals {
                    li {
                        strong { (a.approval_type) } " " (badge(&a.decision))
                        " by " (person(&a.approver))
                        @if let Some(at) = &a.decided_at { " · " (at) " UTC" }
                        @if let Some(c) = &a.comments { br; span.muted { (c) } }
                    }
                }
            }
        }
        h2 { "Executions" }
        @if d.executions.is_empty() {
            p.muted { "Not executed." }
        } @else {
            table {
                thead { tr { th { "Executed (UTC)" } th.num { "Quantity" } th.num { "Price" } th { "Ccy" } th { "Broker reference" } } }
                tbody { @for x in &d.executions { tr {
                    td { (x.executed_at) } td.num { (x.quantity) } td.num { (x.price) } td { (x.currency) }
                    td { (opt(x.broker_reference.as_deref())) }
                } } }
            }
        }
        h2 { "Breaches" }
        @if d.breaches.is_empty() {
            p.muted { "None." }
        } @else {
            table {
                thead { tr { th { "Type" } th { "Severity" } th { "Details" } th { "Detected (UTC)" } th { "Resolved (UTC)" } } }
                tbody { @for b in &d.breaches { tr {
                    td { (b.breach_type.replace('_', " ")) } td { (badge(&b.severity)) } td { (opt(b.details.as_deref())) }
                    td { (b.detected_at) } td { (opt(b.resolved_at.as_deref())) }
                } } }
            }
        }
        h2 { "Audit trail" }
        (audit_table(&d.audit))
    }
}
