//! The overview: the environment, the schema, the last run, the tiles, the
//! chart of requests per month and the last audit entries.
//!
//! The tiles and the chart count whole tables (requests by status, pending
//! approvals, rows whose reference id has no row *now*…): they are counted
//! apart from any page view and kept (`serve::tiles`), so that a page view
//! does not scan millions of rows; the page says when they were counted.

use std::time::Duration;

use serde::Serialize;

use super::ledger::{last_run, RunRow};
use super::lists::AuditRow;
use super::{counts, Count, Schemas};
use crate::serve::db::{Db, Read};
use crate::serve::PageError;

/// How old counted tiles may be before a page view has them counted again
/// (in the background: that view still shows the older ones).
pub(crate) const TTL: Duration = Duration::from_secs(30);

/// Everything the overview shows.
#[derive(Debug, Serialize)]
pub(crate) struct Overview {
    pub schema: SchemaInfo,
    pub last_run: Option<RunRow>,
    #[serde(flatten)]
    pub tiles: Tiles,
}

/// The app schema's version by shape, as the last pass over it found it
/// (or left it, after a run that reached the last version), and what
/// padetl's history records.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SchemaInfo {
    pub version: Option<i64>,
    /// How that is known: `after the run …` or `found by the check …`.
    pub basis: Option<String>,
    pub head: Option<i64>,
    pub history: Vec<i64>,
}

/// The counted tiles.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Tiles {
    /// When they were counted (UTC).
    pub counted_at: String,
    pub requests_by_status: Vec<Count>,
    /// Pending approvals by type (`manager`, `compliance`).
    pub pending_approvals: Vec<Count>,
    pub approved_not_executed: i64,
    /// Approved more than two days ago and still not executed.
    pub overdue: i64,
    pub open_breaches: Vec<Count>,
    /// Quarantined rows by table.
    pub quarantined: Vec<Count>,
    /// Rows whose reference id has no row in the reference tables now, by
    /// `table.column`.
    pub orphans: Vec<Count>,
    pub per_month: Vec<MonthCount>,
    /// The last 10 audit entries by time.
    pub recent_audit: Vec<AuditRow>,
}

/// Requests created in one month with one status.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MonthCount {
    pub month: String,
    pub status: String,
    pub n: i64,
}

pub(crate) async fn overview(db: &Db, s: &Schemas, tiles: Tiles) -> Result<Overview, PageError> {
    let read = db.read().await?;
    let schema = schema_info(db, &read, s).await;
    let run = last_run(db, &read, s).await;
    read.end().await;
    Ok(Overview {
        schema: schema?,
        last_run: run?,
        tiles,
    })
}

/// Counts the tiles in a read of their own.
pub(crate) async fn tiles(db: &Db, s: &Schemas) -> Result<Tiles, PageError> {
    let read = db.read().await?;
    let tiles = count_tiles(db, &read, s).await;
    read.end().await;
    tiles
}

async fn count_tiles(db: &Db, read: &Read, s: &Schemas) -> Result<Tiles, PageError> {
    let tx = read.client();
    let err = |e| db.error(&e);
    let all = |sql: String| async move { tx.query(sql.as_str(), &[]).await.map_err(err) };
    let (request, approval, breach) = (
        s.app("pad_request"),
        s.app("pad_approval"),
        s.app("pad_breach"),
    );
    let counted_at: String = tx
        .query_one(
            "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')",
            &[],
        )
        .await
        .map_err(err)?
        .get(0);
    let requests_by_status = counts(
        &all(format!(
            "SELECT status, count(*) FROM {request} GROUP BY 1 ORDER BY 1"
        ))
        .await?,
    );
    let pending_approvals = counts(
        &all(format!(
            "SELECT approval_type, count(*) FROM {approval} WHERE decision = 'pending' GROUP BY 1 ORDER BY 1"
        ))
        .await?,
    );
    let approved = tx
        .query_one(
            &format!(
                "SELECT count(*), count(*) FILTER (WHERE coalesce(a.decided_at, r.updated_at) < now() - interval '2 days') \
                 FROM {request} r LEFT JOIN {approval} a ON a.request_id = r.id AND a.approval_type = 'compliance' \
                 WHERE r.status = 'approved'"
            ),
            &[],
        )
        .await
        .map_err(err)?;
    let open_breaches = counts(
        &all(format!(
            "SELECT severity, count(*) FROM {breach} WHERE resolved_at IS NULL GROUP BY 1 ORDER BY 1"
        ))
        .await?,
    );
    let quarantined = match table_exists(db, read, &s.app("padetl_quarantine")).await? {
        true => counts(
            &all(format!(
                "SELECT table_name, count(*) FROM {} GROUP BY 1 ORDER BY 1",
                s.app("padetl_quarantine")
            ))
            .await?,
        ),
        false => vec![],
    };
    let per_month = all(format!(
        "SELECT to_char(date_trunc('month', created_at AT TIME ZONE 'UTC'), 'YYYY-MM'), status, count(*) FROM {request} \
         WHERE created_at >= date_trunc('month', now()) - interval '23 months' GROUP BY 1, 2 ORDER BY 1, 2"
    ))
    .await?
    .iter()
    .map(|r| MonthCount {
        month: r.get(0),
        status: r.get(1),
        n: r.get(2),
    })
    .collect();
    Ok(Tiles {
        counted_at,
        requests_by_status,
        pending_approvals,
        approved_not_executed: approved.get(0),
        overdue: approved.get(1),
        open_breaches,
        quarantined,
        orphans: orphans(db, read, s).await?,
        per_month,
        recent_audit: super::lists::recent_audit(db, read, s, 10).await?,
    })
}

/// Rows whose employee or security id has no row in the reference tables
/// now (the reference sync can change under the app).
async fn orphans(db: &Db, read: &Read, s: &Schemas) -> Result<Vec<Count>, PageError> {
    let (employee, security) = (
        s.reference("oracle_employee"),
        s.reference("oracle_bloomberg"),
    );
    let checks = [
        ("pad_request", "employee_id", &employee),
        ("pad_request", "security_id", &security),
        ("pad_approval", "approver_id", &employee),
        ("pad_breach", "employee_id", &employee),
        ("audit_log", "actor_id", &employee),
    ];
    let parts: Vec<String> = checks
        .iter()
        .map(|(table, column, reference)| {
            format!(
                "SELECT '{table}.{column}', count(*) FROM {} x WHERE x.{c} IS NOT NULL \
                 AND NOT EXISTS (SELECT 1 FROM {reference} y WHERE y.id = x.{c})",
                s.app(table),
                c = crate::config::quote(column)
            )
        })
        .collect();
    let rows = read
        .client()
        .query(parts.join(" UNION ALL ").as_str(), &[])
        .await
        .map_err(|e| db.error(&e))?;
    Ok(counts(&rows))
}

async fn schema_info(db: &Db, read: &Read, s: &Schemas) -> Result<SchemaInfo, PageError> {
    let tx = read.client();
    let err = |e| db.error(&e);
    let history_table = s.app("padetl_schema_history");
    let history = match table_exists(db, read, &history_table).await? {
        true => tx
            .query(
                &format!("SELECT version FROM {history_table} WHERE success ORDER BY 1"),
                &[],
            )
            .await
            .map_err(err)?
            .iter()
            .map(|r| r.get(0))
            .collect(),
        false => vec![],
    };
    let runs = s.app("padetl_runs");
    let last = match table_exists(db, read, &runs).await? {
        true => tx
            .query_opt(
                &format!(
                    "SELECT command, status, {}, (report->'schema')::text \
                     FROM {runs} WHERE report->'schema' IS NOT NULL AND report->'schema' <> 'null' \
                     ORDER BY finished_at DESC NULLS LAST LIMIT 1",
                    super::ts("finished_at")
                ),
                &[],
            )
            .await
            .map_err(err)?,
        false => None,
    };
    let mut info = SchemaInfo {
        version: None,
        basis: None,
        head: None,
        history,
    };
    let Some(row) = last else {
        return Ok(info);
    };
    let (command, status, at, plan): (String, String, Option<String>, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    let Ok(plan) = serde_json::from_str::<crate::schema::SchemaPlan>(&plan) else {
        return Ok(info);
    };
    let at = at.unwrap_or_default();
    info.head = Some(plan.head);
    (info.version, info.basis) = match (command.as_str(), status.as_str()) {
        ("run", "succeeded") if plan.reaches_head() => {
            (Some(plan.head), Some(format!("after the run of {at} UTC")))
        }
        _ => (
            plan.shape_version,
            Some(format!("as the {command} of {at} UTC found it")),
        ),
    };
    Ok(info)
}

/// Whether `table` (quoted and qualified) exists.
pub(super) async fn table_exists(db: &Db, read: &Read, table: &str) -> Result<bool, PageError> {
    Ok(read
        .client()
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await
        .map_err(|e| db.error(&e))?
        .get(0))
}
