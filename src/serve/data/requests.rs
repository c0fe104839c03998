//! Requests: the list with its filters, and one request with everything
//! that hangs off it.

use serde::{Deserialize, Serialize};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::lists::{audit_rows, AuditRow};
use super::{like, num, ts, Person, Schemas, Security, PAGE};
use crate::serve::db::{Db, Read};
use crate::serve::PageError;

/// The statuses a request can have (the app's vocabulary).
pub(crate) const STATUSES: [&str; 7] = [
    "pending_manager_approval",
    "pending_compliance_approval",
    "approved",
    "rejected",
    "executed",
    "cancelled",
    "expired",
];

/// Longest filter text accepted.
pub(super) const MAX_FILTER: usize = 100;

/// Filter fields as the pages use them: trimmed, empty ones dropped, none
/// longer than [`MAX_FILTER`].
pub(super) fn tidy<const N: usize>(fields: [&mut Option<String>; N]) -> Result<(), PageError> {
    for field in fields {
        *field = field
            .take()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        if field
            .as_ref()
            .is_some_and(|s| s.chars().count() > MAX_FILTER)
        {
            return Err(PageError::BadRequest(format!(
                "a filter is longer than {MAX_FILTER} characters"
            )));
        }
    }
    Ok(())
}

/// The request list's filters, as the query string gives them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub(crate) struct RequestFilter {
    pub status: Option<String>,
    /// Part of the employee's name or mako_id, any case.
    pub employee: Option<String>,
    /// Part of the security's ticker, ISIN or description (as the
    /// reference data has them), any case.
    pub security: Option<String>,
    /// Created on or after this day (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Created before the end of this day (`YYYY-MM-DD`).
    pub to: Option<String>,
    /// Keyset: requests with a smaller id.
    pub after: Option<i64>,
}

impl RequestFilter {
    /// Empty fields are no filter; anything else must be well formed.
    pub fn checked(mut self) -> Result<Self, PageError> {
        tidy([
            &mut self.status,
            &mut self.employee,
            &mut self.security,
            &mut self.from,
            &mut self.to,
        ])?;
        if let Some(s) = &self.status {
            if !STATUSES.contains(&s.as_str()) {
                return Err(PageError::BadRequest(format!("unknown status `{s}`")));
            }
        }
        for day in [&self.from, &self.to].into_iter().flatten() {
            if chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_err() {
                return Err(PageError::BadRequest(format!(
                    "`{day}` is not a date (YYYY-MM-DD)"
                )));
            }
        }
        Ok(self)
    }

    /// The filters as query pairs, for links that keep them.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        vec![
            ("status", opt(&self.status)),
            ("employee", opt(&self.employee)),
            ("security", opt(&self.security)),
            ("from", opt(&self.from)),
            ("to", opt(&self.to)),
        ]
    }
}

/// One request as lists show it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RequestRow {
    pub id: i64,
    pub reference_id: String,
    pub created_at: String,
    pub employee: Person,
    pub security: Security,
    /// The codes the request itself carries.
    pub ticker: String,
    pub isin: Option<String>,
    pub direction: String,
    pub quantity: String,
    pub estimated_price: Option<String>,
    pub currency: String,
    pub status: String,
}

/// A page of requests.
#[derive(Debug, Serialize)]
pub(crate) struct RequestPage {
    pub filter: RequestFilter,
    pub rows: Vec<RequestRow>,
    /// `after` for the next page, when there is one.
    pub next: Option<i64>,
}

/// The columns of [`RequestRow::from_row`], over `r` (the request), `e`
/// (its employee) and `b` (its security).
fn request_columns() -> String {
    format!(
        "r.id, r.reference_id, {created}, {person}, {security}, r.ticker, r.isin, r.direction, {qty}, {price}, r.currency::text, r.status",
        created = ts("r.created_at"),
        person = Person::columns("r.employee_id", "e"),
        security = Security::columns("r.security_id", "b"),
        qty = num("r.quantity"),
        price = num("r.estimated_price"),
    )
}

/// `FROM` the requests of `base` (a table or a subquery giving the page's
/// rows) with their lookups: joined only for the rows shown.
fn request_joins(s: &Schemas, base: &str) -> String {
    format!(
        "FROM {base} r LEFT JOIN {} e ON e.id = r.employee_id LEFT JOIN {} b ON b.id = r.security_id",
        s.reference("oracle_employee"),
        s.reference("oracle_bloomberg")
    )
}

impl RequestRow {
    fn from_row(r: &Row) -> Self {
        RequestRow {
            id: r.get(0),
            reference_id: r.get(1),
            created_at: r.get(2),
            employee: Person::from_row(r, 3),
            security: Security::from_row(r, 6),
            ticker: r.get(11),
            isin: r.get(12),
            direction: r.get(13),
            quantity: r.get(14),
            estimated_price: r.get(15),
            currency: r.get(16),
            status: r.get(17),
        }
    }
}

/// A page of requests, newest first, as `filter` narrows them.
pub(crate) async fn requests(
    db: &Db,
    s: &Schemas,
    filter: RequestFilter,
) -> Result<RequestPage, PageError> {
    let read = db.read().await?;
    let rows = read_requests(db, &read, s, &filter).await;
    read.end().await;
    let mut rows = rows?;
    let next = page_end(&mut rows, |r| r.id);
    Ok(RequestPage { filter, rows, next })
}

async fn read_requests(
    db: &Db,
    read: &Read,
    s: &Schemas,
    filter: &RequestFilter,
) -> Result<Vec<RequestRow>, PageError> {
    // The employee and security filters become lists of reference ids
    // first: the planner then knows how many there are, and takes the
    // index on the id for a few and the newest requests for many.
    let employees = match &filter.employee {
        Some(text) => Some(employee_ids(db, read, s, text).await?),
        None => None,
    };
    let securities = match &filter.security {
        Some(text) => Some(security_ids(db, read, s, text).await?),
        None => None,
    };
    // The page's rows are found in the requests alone, then joined to
    // their lookups.
    let page = format!(
        "(SELECT * FROM {} r WHERE ($1::bigint IS NULL OR r.id < $1) \
           AND ($2::text IS NULL OR r.status = $2) \
           AND ($3::bigint[] IS NULL OR r.employee_id = ANY($3)) \
           AND ($4::bigint[] IS NULL OR r.security_id = ANY($4)) \
           AND ($5::text IS NULL OR r.created_at >= $5::text::date) \
           AND ($6::text IS NULL OR r.created_at < $6::text::date + 1) \
         ORDER BY r.id DESC LIMIT {})",
        s.app("pad_request"),
        PAGE + 1
    );
    let sql = format!(
        "SELECT {} {} ORDER BY r.id DESC",
        request_columns(),
        request_joins(s, &page)
    );
    let params: [&(dyn ToSql + Sync); 6] = [
        &filter.after,
        &filter.status,
        &employees,
        &securities,
        &filter.from,
        &filter.to,
    ];
    let rows = read
        .client()
        .query(sql.as_str(), &params)
        .await
        .map_err(|e| db.error(&e))?;
    Ok(rows.iter().map(RequestRow::from_row).collect())
}

/// Ids of the employees whose name or mako_id holds `text`, any case.
pub(super) async fn employee_ids(
    db: &Db,
    read: &Read,
    s: &Schemas,
    text: &str,
) -> Result<Vec<i64>, PageError> {
    let sql = format!(
        "SELECT id FROM {} e WHERE e.mako_id ILIKE $1 OR concat_ws(' ', e.first_name, e.last_name) ILIKE $1",
        s.reference("oracle_employee")
    );
    ids(db, read, &sql, text).await
}

/// Ids of the securities whose ticker, ISIN or description holds `text`.
async fn security_ids(
    db: &Db,
    read: &Read,
    s: &Schemas,
    text: &str,
) -> Result<Vec<i64>, PageError> {
    let sql = format!(
        "SELECT id FROM {} b WHERE b.ticker ILIKE $1 OR b.isin ILIKE $1 OR b.description ILIKE $1",
        s.reference("oracle_bloomberg")
    );
    ids(db, read, &sql, text).await
}

async fn ids(db: &Db, read: &Read, sql: &str, text: &str) -> Result<Vec<i64>, PageError> {
    let rows = read
        .client()
        .query(sql, &[&like(text)])
        .await
        .map_err(|e| db.error(&e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Drops the row past the page and returns the keyset cursor for the next.
pub(super) fn page_end<T>(rows: &mut Vec<T>, key: impl Fn(&T) -> i64) -> Option<i64> {
    if rows.len() as i64 <= PAGE {
        return None;
    }
    rows.truncate(PAGE as usize);
    rows.last().map(key)
}

/// One request and everything that hangs off it.
#[derive(Debug, Serialize)]
pub(crate) struct RequestDetail {
    pub request: RequestRow,
    pub reason: Option<String>,
    pub broker: Option<String>,
    /// Masked when `account_number` is among `mask_columns`.
    pub account_number: Option<String>,
    pub updated_at: String,
    pub approvals: Vec<TimelineEntry>,
    pub executions: Vec<Execution>,
    pub breaches: Vec<Breach>,
    pub audit: Vec<AuditRow>,
}

/// One approval step.
#[derive(Debug, Serialize)]
pub(crate) struct TimelineEntry {
    pub approval_type: String,
    pub approver: Person,
    pub decision: String,
    pub comments: Option<String>,
    pub decided_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Execution {
    pub executed_at: String,
    pub quantity: String,
    pub price: String,
    pub currency: String,
    pub broker_reference: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Breach {
    pub breach_type: String,
    pub severity: String,
    pub details: Option<String>,
    pub detected_at: String,
    pub resolved_at: Option<String>,
}

/// The request whose `reference_id` is given; `None` when there is none.
pub(crate) async fn request(
    db: &Db,
    s: &Schemas,
    reference_id: &str,
) -> Result<Option<RequestDetail>, PageError> {
    if reference_id.chars().count() > MAX_FILTER {
        return Ok(None);
    }
    let read = db.read().await?;
    let detail = read_request(db, &read, s, reference_id).await;
    read.end().await;
    detail
}

async fn read_request(
    db: &Db,
    read: &Read,
    s: &Schemas,
    reference_id: &str,
) -> Result<Option<RequestDetail>, PageError> {
    let tx = read.client();
    let err = |e| db.error(&e);
    let sql = format!(
        "SELECT {}, r.reason, r.broker, r.account_number, {} {} WHERE r.reference_id = $1",
        request_columns(),
        ts("r.updated_at"),
        request_joins(s, &s.app("pad_request"))
    );
    let Some(row) = tx
        .query_opt(sql.as_str(), &[&reference_id])
        .await
        .map_err(err)?
    else {
        return Ok(None);
    };
    let request = RequestRow::from_row(&row);
    let masked = s.mask.iter().any(|m| m == "account_number");
    let account_number: Option<String> = row.get(20);
    let id = request.id;
    let approvals = tx
        .query(
            &format!(
                "SELECT a.approval_type, {}, a.decision, a.comments, {} FROM {} a LEFT JOIN {} e ON e.id = a.approver_id \
                 WHERE a.request_id = $1 ORDER BY a.decided_at NULLS LAST, a.id",
                Person::columns("a.approver_id", "e"),
                ts("a.decided_at"),
                s.app("pad_approval"),
                s.reference("oracle_employee")
            ),
            &[&id],
        )
        .await
        .map_err(err)?
        .iter()
        .map(|r| TimelineEntry {
            approval_type: r.get(0),
            approver: Person::from_row(r, 1),
            decision: r.get(4),
            comments: r.get(5),
            decided_at: r.get(6),
        })
        .collect();
    let executions = tx
        .query(
            &format!(
                "SELECT {}, {}, {}, currency::text, broker_reference FROM {} WHERE request_id = $1 ORDER BY executed_at, id",
                ts("executed_at"),
                num("quantity"),
                num("price"),
                s.app("pad_execution")
            ),
            &[&id],
        )
        .await
        .map_err(err)?
        .iter()
        .map(|r| Execution {
            executed_at: r.get(0),
            quantity: r.get(1),
            price: r.get(2),
            currency: r.get(3),
            broker_reference: r.get(4),
        })
        .collect();
    let breaches = tx
        .query(
            &format!(
                "SELECT breach_type, severity, details, {}, {} FROM {} WHERE request_id = $1 ORDER BY detected_at, id",
                ts("detected_at"),
                ts("resolved_at"),
                s.app("pad_breach")
            ),
            &[&id],
        )
        .await
        .map_err(err)?
        .iter()
        .map(|r| Breach {
            breach_type: r.get(0),
            severity: r.get(1),
            details: r.get(2),
            detected_at: r.get(3),
            resolved_at: r.get(4),
        })
        .collect();
    let audit = audit_rows(db, read, s, Some(id), None, None).await?;
    Ok(Some(RequestDetail {
        request,
        reason: row.get(18),
        broker: row.get(19),
        account_number: match masked {
            true => account_number.map(|_| super::MASK.to_string()),
            false => account_number,
        },
        updated_at: row.get(21),
        approvals,
        executions,
        breaches,
        audit,
    }))
}
