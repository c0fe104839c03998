//! padetl's own tables in the app schema: the run ledger (`padetl_runs`)
//! and the quarantine (`padetl_quarantine`). Either may not exist yet.

use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use super::lists::masked_json_text;
use super::overview::table_exists;
use super::requests::MAX_FILTER;
use super::{ts, Schemas, PAGE};
use crate::report::RunReport;
use crate::serve::db::{Db, Read};
use crate::serve::PageError;

/// One ledger row as the list shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunRow {
    pub id: String,
    pub command: String,
    pub pipeline: String,
    pub env: String,
    pub db_user: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    pub error: Option<String>,
    /// Rows written across its tables (inserted, updated, deleted).
    pub written: Option<i64>,
    /// Checks that found rows.
    pub checks_with_findings: Option<i64>,
}

const RUN_COLUMNS: &str = "id, command, pipeline, env, db_user, {started}, {finished}, status, error, \
    (SELECT sum((t->>'inserted')::bigint + (t->>'updated')::bigint + (t->>'deleted')::bigint)::bigint FROM jsonb_array_elements(tables) t), \
    (SELECT count(*) FROM jsonb_array_elements(checks) c WHERE (c->>'violations')::bigint > 0)";

fn run_columns() -> String {
    RUN_COLUMNS
        .replace("{started}", &ts("started_at"))
        .replace("{finished}", &ts("finished_at"))
}

fn run_row(r: &Row) -> RunRow {
    RunRow {
        id: r.get(0),
        command: r.get(1),
        pipeline: r.get(2),
        env: r.get(3),
        db_user: r.get(4),
        started_at: r.get(5),
        finished_at: r.get(6),
        status: r.get(7),
        error: r.get(8),
        written: r.get(9),
        checks_with_findings: r.get(10),
    }
}

/// The ledger's list: a page, newest first; `after` is the last id shown.
#[derive(Debug, Default, Deserialize, Serialize)]
pub(crate) struct RunFilter {
    pub after: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct RunPage {
    pub rows: Vec<RunRow>,
    pub next: Option<String>,
}

pub(crate) async fn runs(db: &Db, s: &Schemas, filter: RunFilter) -> Result<RunPage, PageError> {
    let after = filter.after.filter(|a| a.len() <= MAX_FILTER);
    let read = db.read().await?;
    let rows = read_runs(db, &read, s, after).await;
    read.end().await;
    let mut rows = rows?;
    let next = match rows.len() as i64 > PAGE {
        true => {
            rows.truncate(PAGE as usize);
            rows.last().map(|r| r.id.clone())
        }
        false => None,
    };
    Ok(RunPage { rows, next })
}

async fn read_runs(
    db: &Db,
    read: &Read,
    s: &Schemas,
    after: Option<String>,
) -> Result<Vec<RunRow>, PageError> {
    let table = s.app("padetl_runs");
    if !table_exists(db, read, &table).await? {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT {} FROM {table} WHERE ($1::text IS NULL OR id < $1) ORDER BY id DESC LIMIT {}",
        run_columns(),
        PAGE + 1
    );
    let rows = read
        .client()
        .query(sql.as_str(), &[&after])
        .await
        .map_err(|e| db.error(&e))?;
    Ok(rows.iter().map(run_row).collect())
}

/// The newest ledger row.
pub(super) async fn last_run(
    db: &Db,
    read: &Read,
    s: &Schemas,
) -> Result<Option<RunRow>, PageError> {
    Ok(read_runs(db, read, s, None).await?.into_iter().next())
}

/// One run: its row, and its report when it finished with one.
#[derive(Debug, Serialize)]
pub(crate) struct RunDetail {
    pub run: RunRow,
    pub report: Option<RunReport>,
}

pub(crate) async fn run(db: &Db, s: &Schemas, id: &str) -> Result<Option<RunDetail>, PageError> {
    if id.len() > MAX_FILTER {
        return Ok(None);
    }
    let read = db.read().await?;
    let detail = read_run(db, &read, s, id).await;
    read.end().await;
    detail
}

async fn read_run(
    db: &Db,
    read: &Read,
    s: &Schemas,
    id: &str,
) -> Result<Option<RunDetail>, PageError> {
    let table = s.app("padetl_runs");
    if !table_exists(db, read, &table).await? {
        return Ok(None);
    }
    let sql = format!(
        "SELECT {}, report::text FROM {table} WHERE id = $1",
        run_columns()
    );
    let Some(row) = read
        .client()
        .query_opt(sql.as_str(), &[&id])
        .await
        .map_err(|e| db.error(&e))?
    else {
        return Ok(None);
    };
    let report: Option<String> = row.get(11);
    let report = report.and_then(|text| serde_json::from_str::<RunReport>(&text).ok());
    Ok(Some(RunDetail {
        run: run_row(&row),
        report,
    }))
}

/// A held row.
#[derive(Debug, Serialize)]
pub(crate) struct QuarantineRow {
    pub table_name: String,
    pub row_key: i64,
    pub check_name: String,
    pub reason: String,
    pub run_id: String,
    /// The row as it would have loaded, masked per `mask_columns`.
    pub row: String,
    pub quarantined_at: String,
}

/// The quarantine's list, by table then key; `after` is `table:key:check`.
#[derive(Debug, Default, Deserialize, Serialize)]
pub(crate) struct QuarantineFilter {
    pub table: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct QuarantinePage {
    pub filter: QuarantineFilter,
    pub rows: Vec<QuarantineRow>,
    pub next: Option<String>,
}

pub(crate) async fn quarantine(
    db: &Db,
    s: &Schemas,
    filter: QuarantineFilter,
) -> Result<QuarantinePage, PageError> {
    let cursor = filter
        .after
        .as_deref()
        .filter(|a| a.len() <= MAX_FILTER * 3)
        .and_then(parse_cursor);
    let table_filter = filter
        .table
        .clone()
        .filter(|t| !t.is_empty() && t.len() <= MAX_FILTER);
    let read = db.read().await?;
    let rows = read_quarantine(db, &read, s, table_filter, cursor).await;
    read.end().await;
    let mut rows = rows?;
    let next = match rows.len() as i64 > PAGE {
        true => {
            rows.truncate(PAGE as usize);
            rows.last()
                .map(|r| format!("{}:{}:{}", r.table_name, r.row_key, r.check_name))
        }
        false => None,
    };
    Ok(QuarantinePage { filter, rows, next })
}

fn parse_cursor(after: &str) -> Option<(String, i64, String)> {
    let mut parts = after.splitn(3, ':');
    let table = parts.next()?.to_string();
    let key = parts.next()?.parse().ok()?;
    let check = parts.next()?.to_string();
    Some((table, key, check))
}

async fn read_quarantine(
    db: &Db,
    read: &Read,
    s: &Schemas,
    table_filter: Option<String>,
    cursor: Option<(String, i64, String)>,
) -> Result<Vec<QuarantineRow>, PageError> {
    let table = s.app("padetl_quarantine");
    if !table_exists(db, read, &table).await? {
        return Ok(vec![]);
    }
    let (t, k, c) = match cursor {
        Some((t, k, c)) => (Some(t), Some(k), Some(c)),
        None => (None, None, None),
    };
    let sql = format!(
        "SELECT table_name, row_key, check_name, reason, run_id, row_data::text, {} FROM {table} \
         WHERE ($1::text IS NULL OR table_name = $1) \
           AND ($2::text IS NULL OR (table_name, row_key, check_name) > ($2, $3::bigint, $4::text)) \
         ORDER BY table_name, row_key, check_name LIMIT {}",
        ts("quarantined_at"),
        PAGE + 1
    );
    let rows = read
        .client()
        .query(sql.as_str(), &[&table_filter, &t, &k, &c])
        .await
        .map_err(|e| db.error(&e))?;
    Ok(rows
        .iter()
        .map(|r| {
            let row: String = r.get(5);
            QuarantineRow {
                table_name: r.get(0),
                row_key: r.get(1),
                check_name: r.get(2),
                reason: r.get(3),
                run_id: r.get(4),
                row: masked_json_text(s, &row),
                quarantined_at: r.get(6),
            }
        })
        .collect())
}
