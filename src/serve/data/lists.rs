//! The other lists: approvals, executions, breaches and the audit log, each
//! newest first, a page at a time, with the filters a compliance officer
//! uses.

use serde::{Deserialize, Serialize};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::requests::{page_end, tidy};
use super::{looks_like_email, num, ts, Person, Schemas, MASK, PAGE};
use crate::serve::db::{Db, Read};
use crate::serve::PageError;

/// Filters of the lists other than requests; each list reads the ones it has.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub(crate) struct ListFilter {
    /// Approvals: `1` for pending ones only.
    pub pending: Option<String>,
    /// Approvals: `manager` or `compliance`; breaches: the breach type.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Breaches: `low`, `medium`, `high`.
    pub severity: Option<String>,
    /// Breaches: `1` for open ones only.
    pub open: Option<String>,
    /// Audit log: part of the actor's name or mako_id.
    pub actor: Option<String>,
    pub after: Option<i64>,
}

impl ListFilter {
    pub fn checked(mut self) -> Result<Self, PageError> {
        tidy([
            &mut self.pending,
            &mut self.kind,
            &mut self.severity,
            &mut self.open,
            &mut self.actor,
        ])?;
        Ok(self)
    }

    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        vec![
            ("pending", opt(&self.pending)),
            ("type", opt(&self.kind)),
            ("severity", opt(&self.severity)),
            ("open", opt(&self.open)),
            ("actor", opt(&self.actor)),
        ]
    }

    fn flag(v: &Option<String>) -> bool {
        v.as_deref()
            .is_some_and(|v| v == "1" || v == "on" || v == "true")
    }
}

/// A page of any list.
#[derive(Debug, Serialize)]
pub(crate) struct Page<T> {
    pub filter: ListFilter,
    pub rows: Vec<T>,
    pub next: Option<i64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ApprovalRow {
    pub id: i64,
    pub reference_id: Option<String>,
    pub approval_type: String,
    pub approver: Person,
    pub decision: String,
    pub comments: Option<String>,
    pub decided_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ExecutionRow {
    pub id: i64,
    pub reference_id: Option<String>,
    pub executed_at: String,
    pub quantity: String,
    pub price: String,
    pub currency: String,
    pub broker_reference: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct BreachRow {
    pub id: i64,
    pub reference_id: Option<String>,
    pub employee: Person,
    pub breach_type: String,
    pub severity: String,
    pub details: Option<String>,
    pub detected_at: String,
    pub resolved_at: Option<String>,
}

/// One audit entry, the actor by name when the reference data knows them.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AuditRow {
    pub id: i64,
    pub occurred_at: String,
    pub entity_type: String,
    pub entity_id: i64,
    /// The request's reference, when the entry is about a request.
    pub reference_id: Option<String>,
    pub action: String,
    pub actor: Person,
    /// Masked when it is an e-mail address.
    pub actor_identifier: String,
    /// `details` as JSON text, masked per `mask_columns`.
    pub details: Option<String>,
}

/// Runs a list's query in its own read; rows newest first, one more than a
/// page to know whether there is a next one.
async fn list<T>(
    db: &Db,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    row: impl Fn(&Row) -> T,
    key: impl Fn(&T) -> i64,
    filter: ListFilter,
) -> Result<Page<T>, PageError> {
    let read = db.read().await?;
    let rows = read
        .client()
        .query(sql, params)
        .await
        .map_err(|e| db.error(&e));
    read.end().await;
    let mut rows: Vec<T> = rows?.iter().map(row).collect();
    let next = page_end(&mut rows, key);
    Ok(Page { filter, rows, next })
}

pub(crate) async fn approvals(
    db: &Db,
    s: &Schemas,
    filter: ListFilter,
) -> Result<Page<ApprovalRow>, PageError> {
    let sql = format!(
        "SELECT a.id, r.reference_id, a.approval_type, {}, a.decision, a.comments, {} \
         FROM (SELECT * FROM {} a WHERE ($1::bigint IS NULL OR a.id < $1) \
                 AND (NOT $2 OR a.decision = 'pending') AND ($3::text IS NULL OR a.approval_type = $3) \
               ORDER BY a.id DESC LIMIT {}) a \
         LEFT JOIN {} r ON r.id = a.request_id LEFT JOIN {} e ON e.id = a.approver_id \
         ORDER BY a.id DESC",
        Person::columns("a.approver_id", "e"),
        ts("a.decided_at"),
        s.app("pad_approval"),
        PAGE + 1,
        s.app("pad_request"),
        s.reference("oracle_employee"),
    );
    let pending = ListFilter::flag(&filter.pending);
    let kind = filter.kind.clone();
    let row = |r: &Row| ApprovalRow {
        id: r.get(0),
        reference_id: r.get(1),
        approval_type: r.get(2),
        approver: Person::from_row(r, 3),
        decision: r.get(6),
        comments: r.get(7),
        decided_at: r.get(8),
    };
    let after = filter.after;
    list(db, &sql, &[&after, &pending, &kind], row, |r| r.id, filter).await
}

pub(crate) async fn executions(
    db: &Db,
    s: &Schemas,
    filter: ListFilter,
) -> Result<Page<ExecutionRow>, PageError> {
    let sql = format!(
        "SELECT x.id, r.reference_id, {}, {}, {}, x.currency::text, x.broker_reference \
         FROM (SELECT * FROM {} x WHERE ($1::bigint IS NULL OR x.id < $1) ORDER BY x.id DESC LIMIT {}) x \
         LEFT JOIN {} r ON r.id = x.request_id ORDER BY x.id DESC",
        ts("x.executed_at"),
        num("x.quantity"),
        num("x.price"),
        s.app("pad_execution"),
        PAGE + 1,
        s.app("pad_request"),
    );
    let row = |r: &Row| ExecutionRow {
        id: r.get(0),
        reference_id: r.get(1),
        executed_at: r.get(2),
        quantity: r.get(3),
        price: r.get(4),
        currency: r.get(5),
        broker_reference: r.get(6),
    };
    let after = filter.after;
    list(db, &sql, &[&after], row, |r| r.id, filter).await
}

pub(crate) async fn breaches(
    db: &Db,
    s: &Schemas,
    filter: ListFilter,
) -> Result<Page<BreachRow>, PageError> {
    let sql = format!(
        "SELECT k.id, r.reference_id, {}, k.breach_type, k.severity, k.details, {}, {} \
         FROM (SELECT * FROM {} k WHERE ($1::bigint IS NULL OR k.id < $1) AND ($2::text IS NULL OR k.severity = $2) \
                 AND ($3::text IS NULL OR k.breach_type = $3) AND (NOT $4 OR k.resolved_at IS NULL) \
               ORDER BY k.id DESC LIMIT {}) k \
         LEFT JOIN {} r ON r.id = k.request_id LEFT JOIN {} e ON e.id = k.employee_id \
         ORDER BY k.id DESC",
        Person::columns("k.employee_id", "e"),
        ts("k.detected_at"),
        ts("k.resolved_at"),
        s.app("pad_breach"),
        PAGE + 1,
        s.app("pad_request"),
        s.reference("oracle_employee"),
    );
    let open = ListFilter::flag(&filter.open);
    let (severity, kind) = (filter.severity.clone(), filter.kind.clone());
    let row = |r: &Row| BreachRow {
        id: r.get(0),
        reference_id: r.get(1),
        employee: Person::from_row(r, 2),
        breach_type: r.get(5),
        severity: r.get(6),
        details: r.get(7),
        detected_at: r.get(8),
        resolved_at: r.get(9),
    };
    let after = filter.after;
    let params: [&(dyn ToSql + Sync); 4] = [&after, &severity, &kind, &open];
    list(db, &sql, &params, row, |r| r.id, filter).await
}

pub(crate) async fn audit(
    db: &Db,
    s: &Schemas,
    filter: ListFilter,
) -> Result<Page<AuditRow>, PageError> {
    let read = db.read().await?;
    let rows = audit_rows(db, &read, s, None, filter.actor.as_deref(), filter.after).await;
    read.end().await;
    let mut rows = rows?;
    let next = page_end(&mut rows, |r| r.id);
    Ok(Page { filter, rows, next })
}

/// The last `n` audit entries by time.
pub(super) async fn recent_audit(
    db: &Db,
    read: &Read,
    s: &Schemas,
    n: i64,
) -> Result<Vec<AuditRow>, PageError> {
    select_audit(db, read, s, Order::Newest(n), None, None, None).await
}

/// How audit entries are read.
enum Order {
    /// The last `n` by time.
    Newest(i64),
    /// A request's trail, oldest first.
    Trail,
    /// A page of the log, by id from the newest.
    Page,
}

/// Audit entries: of one request (all of them, oldest first), or a page of
/// the whole log narrowed by `actor`, newest id first.
pub(super) async fn audit_rows(
    db: &Db,
    read: &Read,
    s: &Schemas,
    request: Option<i64>,
    actor: Option<&str>,
    after: Option<i64>,
) -> Result<Vec<AuditRow>, PageError> {
    let order = match request {
        Some(_) => Order::Trail,
        None => Order::Page,
    };
    select_audit(db, read, s, order, request, actor, after).await
}

async fn select_audit(
    db: &Db,
    read: &Read,
    s: &Schemas,
    order: Order,
    request: Option<i64>,
    actor: Option<&str>,
    after: Option<i64>,
) -> Result<Vec<AuditRow>, PageError> {
    let actors = match actor {
        Some(text) => Some(super::requests::employee_ids(db, read, s, text).await?),
        None => None,
    };
    let (order, limit) = match order {
        Order::Trail => ("a.occurred_at, a.id".to_string(), String::new()),
        Order::Page => ("a.id DESC".to_string(), format!("LIMIT {}", PAGE + 1)),
        Order::Newest(n) => (
            "a.occurred_at DESC, a.id DESC".to_string(),
            format!("LIMIT {n}"),
        ),
    };
    let sql = format!(
        "SELECT a.id, {}, a.entity_type, a.entity_id, r.reference_id, a.action, {}, a.actor_identifier, a.details::text \
         FROM (SELECT * FROM {} a \
               WHERE ($1::bigint IS NULL OR (a.entity_type = 'pad_request' AND a.entity_id = $1)) \
                 AND ($2::bigint[] IS NULL OR a.actor_id = ANY($2)) \
                 AND ($3::bigint IS NULL OR a.id < $3) \
               ORDER BY {order} {limit}) a \
         LEFT JOIN {} r ON a.entity_type = 'pad_request' AND r.id = a.entity_id \
         LEFT JOIN {} e ON e.id = a.actor_id \
         ORDER BY {order}",
        ts("a.occurred_at"),
        Person::columns("a.actor_id", "e"),
        s.app("audit_log"),
        s.app("pad_request"),
        s.reference("oracle_employee"),
    );
    let rows = read
        .client()
        .query(sql.as_str(), &[&request, &actors, &after])
        .await
        .map_err(|e| db.error(&e))?;
    Ok(rows.iter().map(|r| audit_row(r, s)).collect())
}

fn audit_row(r: &Row, s: &Schemas) -> AuditRow {
    let identifier: String = r.get(9);
    let details: Option<String> = r.get(10);
    AuditRow {
        id: r.get(0),
        occurred_at: r.get(1),
        entity_type: r.get(2),
        entity_id: r.get(3),
        reference_id: r.get(4),
        action: r.get(5),
        actor: Person::from_row(r, 6),
        actor_identifier: match looks_like_email(&identifier) {
            true => MASK.into(),
            false => identifier,
        },
        details: details.map(|d| masked_json_text(s, &d)),
    }
}

/// JSON text with the masked keys masked; text that is not JSON is shown
/// masked whole when it holds an e-mail address.
pub(super) fn masked_json_text(s: &Schemas, text: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(mut v) => {
            s.mask_json(&mut v);
            v.to_string()
        }
        Err(_) if looks_like_email(text) => MASK.into(),
        Err(_) => text.to_string(),
    }
}
