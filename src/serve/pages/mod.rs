//! Each page's HTML, from its model. Every value goes through maud, which
//! escapes it; numbers are right-aligned; every list has a next-page link.

pub(super) mod ledger;
pub(super) mod lists;
pub(super) mod overview;
pub(super) mod requests;

use maud::{html, Markup};

use super::data::{Person, Security};
use super::html::unknown;

/// An employee: name and mako_id, or "unknown #id" when the reference
/// data has no row for the id now.
pub(super) fn person(p: &Person) -> Markup {
    match &p.name {
        Some(name) => html! {
            (name)
            @if let Some(m) = &p.mako_id { " " span.muted { (m) } }
        },
        None => unknown(p.id),
    }
}

/// A security: ticker and ISIN with its description, or "unknown #id".
pub(super) fn security(s: &Security) -> Markup {
    if !s.found {
        return unknown(s.id);
    }
    html! {
        strong { (s.ticker.as_deref().unwrap_or("–")) }
        @if let Some(isin) = &s.isin { " · " (isin) }
        @if let Some(d) = &s.description { br; span.muted { (d) } }
    }
}

/// A link to a request's page, or a dash.
pub(super) fn request_link(reference_id: Option<&str>) -> Markup {
    match reference_id {
        Some(r) => html! { a href=(format!("/requests/{}", url_path(r))) { (r) } },
        None => html! { span.muted { "–" } },
    }
}

/// Characters a path segment keeps as they are (RFC 3986's unreserved).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A path segment, percent-encoded.
pub(super) fn url_path(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}

/// An optional value, or a dash.
pub(super) fn opt(v: Option<&str>) -> Markup {
    match v {
        Some(v) => html! { (v) },
        None => html! { span.muted { "–" } },
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_reference_stays_readable_in_a_link() {
        assert_eq!(super::url_path("PAD-2025-000001"), "PAD-2025-000001");
        assert_eq!(super::url_path("a/b c?"), "a%2Fb%20c%3F");
    }
}
