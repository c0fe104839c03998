//! `padetl serve`: a read-only web dashboard over the target environment,
//! so that after a run anyone can see that every request still points at
//! the right employee and security in *that* environment.
//!
//! - [`db`]: a handful of connections; each page one read-only transaction;
//! - [`data`]: what each page shows, read from the target (also `/api/…`);
//! - [`pages`], [`html`], [`chart`]: server-rendered HTML, no script;
//! - [`guard`]: loopback by default, GET and HEAD only, the `Host` header
//!   checked, strict security headers;
//! - [`routes`]: the URL of each page.

mod chart;
mod data;
mod db;
mod guard;
mod html;
mod pages;
mod routes;
mod tiles;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::config::Pipeline;
use crate::error::Error;
use crate::report::progress::Progress;

use self::data::Schemas;
use self::db::Db;
use self::tiles::TileCache;

/// Where to listen, and which `Host` headers to answer.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub bind: SocketAddr,
    /// Host names (with port) accepted besides the bound address.
    pub allow_hosts: Vec<String>,
}

/// What every page needs.
pub(crate) struct App {
    db: Db,
    schemas: Schemas,
    tiles: TileCache,
    env: String,
    /// `host:port/database`: never a user or a password.
    target: String,
    app_schema: String,
    reference_schema: String,
    hosts: Vec<String>,
}

/// Why a page could not be shown.
#[derive(Debug)]
pub(crate) enum PageError {
    /// Logged with the server's words; the page says only that it failed.
    Database(String),
    NotFound(String),
    BadRequest(String),
}

impl PageError {
    fn status(&self) -> StatusCode {
        match self {
            PageError::Database(_) => StatusCode::SERVICE_UNAVAILABLE,
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// What the visitor is told: never the database's message.
    fn public(&self) -> String {
        match self {
            PageError::Database(_) => {
                "The target database could not answer this page; the error is in padetl's log."
                    .into()
            }
            PageError::NotFound(what) | PageError::BadRequest(what) => what.clone(),
        }
    }

    /// The failure as the log has it, to hand to another view.
    fn public_detail(&self) -> String {
        match self {
            PageError::Database(message) => message.clone(),
            other => other.public(),
        }
    }

    fn log(&self) {
        if let PageError::Database(message) = self {
            tracing::error!(%message, "a dashboard page failed");
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.log();
        (self.status(), self.public()).into_response()
    }
}

/// Serves the dashboard until Ctrl-C.
pub async fn serve(
    pipeline: &Pipeline,
    options: ServeOptions,
    progress: &Progress,
) -> Result<(), Error> {
    let db = Db::new(pipeline).map_err(Error::Usage)?;
    // A first page's transaction, so that a wrong password or an untrusted
    // certificate is said now, in plain words, not on the first visit.
    db.read()
        .await
        .map_err(|e| match e {
            PageError::Database(message) => Error::Db(crate::target::DbError::Connect {
                target: pipeline.target.url.to_string(),
                message,
            }),
            other => Error::Internal(format!("{other:?}")),
        })?
        .end()
        .await;
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .map_err(|e| Error::Usage(format!("cannot listen on {}: {e}", options.bind)))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let url = &pipeline.target.url;
    let app = Arc::new(App {
        db,
        schemas: Schemas::of(pipeline),
        tiles: TileCache::default(),
        env: pipeline.env.clone(),
        target: format!("{}:{}/{}", url.host, url.port, url.database),
        app_schema: pipeline.target.app_schema.to_string(),
        reference_schema: pipeline.target.reference_schema.to_string(),
        hosts: guard::allowed_hosts(bound, &options.allow_hosts),
    });
    tiles::start(&app);
    if !bound.ip().is_loopback() {
        progress.note(&format!(
            "warning: listening on {bound}, beyond this machine: the dashboard has no login; prefer the default loopback address and an ssh tunnel (ssh -L 8080:127.0.0.1:8080 …)"
        ));
    }
    // stdout, so that a script (or a test) can read the address it got.
    println!(
        "padetl dashboard on http://{bound}/ (env {}, target {}, read only)",
        app.env, app.target
    );
    axum::serve(listener, routes::router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| Error::Internal(format!("the dashboard stopped: {e}")))
}
