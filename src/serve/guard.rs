//! What keeps a dashboard without a login safe on a shared network: only
//! GET and HEAD; a `Host` header that is not the address it was bound to is
//! refused (a page of another site cannot reach it by DNS rebinding); and
//! headers that forbid scripts from anywhere, framing, sniffing, referrers
//! and caching.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::App;

/// No script, no frame, styles and images from the dashboard itself only.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The `Host` values the dashboard answers: the bound address, `localhost`
/// on a loopback address, and whatever `--allow-host` adds.
pub(super) fn allowed_hosts(bound: SocketAddr, extra: &[String]) -> Vec<String> {
    let mut hosts = vec![bound.to_string()];
    if bound.ip().is_loopback() {
        hosts.push(format!("localhost:{}", bound.port()));
    }
    hosts.extend(extra.iter().map(|h| h.to_ascii_lowercase()));
    hosts
}

/// The checks before a page, and the headers after it.
pub(super) async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        let mut response = (
            StatusCode::METHOD_NOT_ALLOWED,
            "The dashboard only reads: GET and HEAD.",
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return secured(response);
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    if !host.is_some_and(|h| app.hosts.contains(&h)) {
        let response = (
            StatusCode::MISDIRECTED_REQUEST,
            "This dashboard answers only at the address it was started on.",
        )
            .into_response();
        return secured(response);
    }
    secured(next.run(request).await)
}

fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_answers_to_its_address_and_localhost() {
        let bound: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(
            allowed_hosts(bound, &["Dash.Example:8080".into()]),
            ["127.0.0.1:8080", "localhost:8080", "dash.example:8080"]
        );
        let wide: SocketAddr = "10.1.2.3:80".parse().unwrap();
        assert_eq!(allowed_hosts(wide, &[]), ["10.1.2.3:80"]);
    }
}
