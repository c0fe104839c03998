//! The dashboard's URLs: each page as HTML, the same data as JSON under
//! `/api/…`, `/healthz`, and the stylesheet.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use maud::Markup;
use serde::Serialize;

use super::data::ledger::{QuarantineFilter, RunFilter};
use super::data::lists::ListFilter;
use super::data::requests::RequestFilter;
use super::data::{ledger, lists, overview, requests};
use super::html::{page, Frame, CSS};
use super::{guard, pages, App, PageError};

type AppState = State<Arc<App>>;

pub(super) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(overview_page))
        .route("/requests", get(requests_page))
        .route("/requests/{reference_id}", get(request_page))
        .route("/approvals", get(approvals_page))
        .route("/executions", get(executions_page))
        .route("/breaches", get(breaches_page))
        .route("/audit", get(audit_page))
        .route("/runs", get(runs_page))
        .route("/runs/{id}", get(run_page))
        .route("/quarantine", get(quarantine_page))
        .route("/api/overview", get(overview_api))
        .route("/api/requests", get(requests_api))
        .route("/api/requests/{reference_id}", get(request_api))
        .route("/api/approvals", get(approvals_api))
        .route("/api/executions", get(executions_api))
        .route("/api/breaches", get(breaches_api))
        .route("/api/audit", get(audit_api))
        .route("/api/runs", get(runs_api))
        .route("/api/runs/{id}", get(run_api))
        .route("/api/quarantine", get(quarantine_api))
        .route("/healthz", get(healthz))
        .route("/static/app.css", get(stylesheet))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            guard::guard,
        ))
        .with_state(app)
}

impl App {
    fn frame(&self) -> Frame<'_> {
        Frame {
            env: &self.env,
            target: &self.target,
        }
    }

    /// A page in the layout, or the error's page.
    async fn html(
        &self,
        active: &str,
        title: &str,
        body: impl Future<Output = Result<Markup, PageError>>,
    ) -> Response {
        match body.await {
            Ok(markup) => page(&self.frame(), active, title, markup).into_response(),
            Err(e) => {
                e.log();
                let message = maud::html! { p.banner.fail { (e.public()) } };
                (
                    e.status(),
                    page(&self.frame(), active, "Not shown", message),
                )
                    .into_response()
            }
        }
    }
}

/// The same data as JSON; an error as `{"error": …}`.
async fn json<T: Serialize>(body: impl Future<Output = Result<T, PageError>>) -> Response {
    match body.await {
        Ok(value) => Json(value).into_response(),
        Err(e) => {
            e.log();
            let error = serde_json::json!({ "error": e.public() });
            (e.status(), Json(error)).into_response()
        }
    }
}

async fn overview_data(app: &Arc<App>) -> Result<overview::Overview, PageError> {
    let tiles = super::tiles::current(app).await?;
    overview::overview(&app.db, &app.schemas, tiles).await
}

async fn overview_page(State(app): AppState) -> Response {
    app.html("/", "Overview", async {
        let o = overview_data(&app).await?;
        Ok(pages::overview::overview(
            &app.frame(),
            &o,
            &app.app_schema,
            &app.reference_schema,
        ))
    })
    .await
}

async fn overview_api(State(app): AppState) -> Response {
    json(overview_data(&app)).await
}

async fn requests_page(State(app): AppState, Query(f): Query<RequestFilter>) -> Response {
    app.html("/requests", "Requests", async {
        let page = requests::requests(&app.db, &app.schemas, f.checked()?).await?;
        Ok(pages::requests::list(&page))
    })
    .await
}

async fn requests_api(State(app): AppState, Query(f): Query<RequestFilter>) -> Response {
    json(async { requests::requests(&app.db, &app.schemas, f.checked()?).await }).await
}

async fn request_detail(
    app: &App,
    reference_id: &str,
) -> Result<requests::RequestDetail, PageError> {
    requests::request(&app.db, &app.schemas, reference_id)
        .await?
        .ok_or_else(|| PageError::NotFound(format!("There is no request {reference_id}.")))
}

async fn request_page(State(app): AppState, Path(reference_id): Path<String>) -> Response {
    let title = format!("Request {reference_id}");
    app.html("/requests", &title, async {
        Ok(pages::requests::detail(
            &request_detail(&app, &reference_id).await?,
        ))
    })
    .await
}

async fn request_api(State(app): AppState, Path(reference_id): Path<String>) -> Response {
    json(request_detail(&app, &reference_id)).await
}

async fn approvals_page(State(app): AppState, Query(f): Query<ListFilter>) -> Response {
    app.html("/approvals", "Approvals", async {
        Ok(pages::lists::approvals(
            &lists::approvals(&app.db, &app.schemas, f.checked()?).await?,
        ))
    })
    .await
}

async fn approvals_api(State(app): AppState, Query(f): Query<ListFilter>) -> Response {
    json(async { lists::approvals(&app.db, &app.schemas, f.checked()?).await }).await
}

async fn executions_page(State(app): AppState, Query(f): Query<ListFilter>) -> Response {
    app.html("/executions", "Executions", async {
        Ok(pages::lists::executions(
            &lists::executions(&app.db, &app.schemas, f.checked()?).await?,
        ))
    })
    .await
}

async fn executions_api(State(app): AppState, Query(f): Query<ListFilter>) -> Response {
    json(async { lists::executions(&app.db, &app.schemas, f.checked()?).await }).await
}

async fn breaches_page(State(app): AppState, Query(f): Query<ListFilter>) -> Response {
    app.html("/breaches", "Breaches", async {
        Ok(pages::lists::breaches(
            &lists::breaches(&app.db, &app.schemas, f.checked()?).await?,
        ))
    })
    .await
}

async fn breaches_api(State(app): AppState, Query(f): Query<ListFilter>) -> Response {
    json(async { lists::breaches(&app.db, &app.schemas, f.checked()?).await }).await
}

async fn audit_page(State(app): AppState, Query(f): Query<ListFilter>) -> Response {
    app.html("/audit", "Audit log", async {
        Ok(pages::lists::audit(
            &lists::audit(&app.db, &app.schemas, f.checked()?).await?,
        ))
    })
    .await
}

async fn audit_api(State(app): AppState, Query(f): Query<ListFilter>) -> Response {
    json(async { lists::audit(&app.db, &app.schemas, f.checked()?).await }).await
}

async fn runs_page(State(app): AppState, Query(f): Query<RunFilter>) -> Response {
    app.html("/runs", "Runs", async {
        Ok(pages::ledger::runs(
            &ledger::runs(&app.db, &app.schemas, f).await?,
        ))
    })
    .await
}

async fn runs_api(State(app): AppState, Query(f): Query<RunFilter>) -> Response {
    json(ledger::runs(&app.db, &app.schemas, f)).await
}

async fn run_detail(app: &App, id: &str) -> Result<ledger::RunDetail, PageError> {
    ledger::run(&app.db, &app.schemas, id)
        .await?
        .ok_or_else(|| PageError::NotFound(format!("There is no run {id} in the ledger.")))
}

async fn run_page(State(app): AppState, Path(id): Path<String>) -> Response {
    let title = format!("Run {id}");
    app.html("/runs", &title, async {
        Ok(pages::ledger::run(&run_detail(&app, &id).await?))
    })
    .await
}

async fn run_api(State(app): AppState, Path(id): Path<String>) -> Response {
    json(run_detail(&app, &id)).await
}

async fn quarantine_page(State(app): AppState, Query(f): Query<QuarantineFilter>) -> Response {
    app.html("/quarantine", "Quarantine", async {
        Ok(pages::ledger::quarantine(
            &ledger::quarantine(&app.db, &app.schemas, f).await?,
        ))
    })
    .await
}

async fn quarantine_api(State(app): AppState, Query(f): Query<QuarantineFilter>) -> Response {
    json(ledger::quarantine(&app.db, &app.schemas, f)).await
}

/// 200 when a read transaction on the target works, 503 otherwise.
async fn healthz(State(app): AppState) -> Response {
    match app.db.read().await {
        Ok(read) => {
            read.end().await;
            (StatusCode::OK, "ok").into_response()
        }
        Err(e) => {
            e.log();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the target does not answer",
            )
                .into_response()
        }
    }
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
}

async fn not_found(State(app): AppState) -> Response {
    app.html("", "Not found", async {
        Err::<Markup, _>(PageError::NotFound("There is no such page.".into()))
    })
    .await
}
