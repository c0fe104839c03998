//! The rights a command needs on the target, looked at before any work so
//! that a least-privilege role hears which grant is missing, on what, and
//! for which step — not "permission denied" halfway through a load.
//!
//! What padetl needs, in all (docs/privileges.md has it as one SQL snippet):
//! `CONNECT` and `TEMPORARY` on the database, ownership of the app schema
//! and its tables, `USAGE` and `SELECT` on the reference schema. `CREATE` on
//! the database only while the app schema does not exist yet.

use tokio_postgres::Client;

use super::{query_error, DbError};
use crate::config::{quote, Pipeline};

/// A grant the role lacks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MissingPrivilege {
    /// The right, e.g. `TEMPORARY`.
    pub privilege: String,
    /// What it is on: `database pad`, `schema bo_airflow`, `table …`.
    pub on: String,
    /// The step that needs it.
    pub needed_for: String,
    /// The statement that grants it (for a DBA to run).
    pub grant: String,
}

impl std::fmt::Display for MissingPrivilege {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} on {}, needed for {}: {};",
            self.privilege, self.on, self.needed_for, self.grant
        )
    }
}

/// What a command does on the target, as far as rights go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `plan`: read the app tables, build scratch shapes.
    Plan,
    /// `run`, `migrate`, `check`, `verify`: reconcile (rolled back or not),
    /// stage, load, read the reference schema, write the ledger.
    Pass,
}

/// Facts about the role's rights, read in one query.
struct Rights {
    role: String,
    database: String,
    temporary: bool,
    create_on_database: bool,
    /// `None` when the app schema does not exist.
    app_usage_create: Option<(bool, bool)>,
    /// `None` when the reference schema does not exist.
    reference_usage: Option<bool>,
}

/// Fails with every missing right, on a connection of its own, before any
/// other work (the ledger included: it writes to the app schema).
pub async fn require_privileges(pipeline: &Pipeline, need: Need) -> Result<(), DbError> {
    let missing = privileges_of(pipeline, need).await?;
    match missing.is_empty() {
        true => Ok(()),
        false => Err(DbError::Privileges {
            target: pipeline.target.url.to_string(),
            missing,
        }),
    }
}

/// Every right the role lacks for `need`, on a connection of its own.
pub async fn privileges_of(
    pipeline: &Pipeline,
    need: Need,
) -> Result<Vec<MissingPrivilege>, DbError> {
    let client = super::connect(&pipeline.target.url).await?;
    missing_privileges(&client, pipeline, need).await
}

/// Every right the role lacks for `need`; empty when it has them all.
async fn missing_privileges(
    client: &Client,
    pipeline: &Pipeline,
    need: Need,
) -> Result<Vec<MissingPrivilege>, DbError> {
    let t = &pipeline.target;
    let (app, reference) = (t.app_schema.as_str(), t.reference_schema.as_str());
    let err = |e| query_error(&t.url, "reading the role's privileges", &e);
    let r = client
        .query_one(
            "SELECT current_user::text, current_database()::text, \
               has_database_privilege(current_database(), 'TEMPORARY'), \
               has_database_privilege(current_database(), 'CREATE'), \
               CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) \
                 THEN ARRAY[has_schema_privilege($1, 'USAGE'), has_schema_privilege($1, 'CREATE')] END, \
               CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $2) \
                 THEN has_schema_privilege($2, 'USAGE') END",
            &[&app, &reference],
        )
        .await
        .map_err(err)?;
    let app_rights: Option<Vec<bool>> = r.get(4);
    let rights = Rights {
        role: r.get(0),
        database: r.get(1),
        temporary: r.get(2),
        create_on_database: r.get(3),
        app_usage_create: app_rights.map(|v| (v[0], v[1])),
        reference_usage: r.get(5),
    };
    let not_owned = tables_where(client, app, "NOT pg_has_role(c.relowner, 'USAGE')")
        .await
        .map_err(err)?;
    let unreadable = match need {
        Need::Pass => tables_where(
            client,
            reference,
            "NOT has_table_privilege(c.oid, 'SELECT')",
        )
        .await
        .map_err(err)?,
        Need::Plan => vec![],
    };
    let unreadable_app = match need {
        Need::Plan => tables_where(client, app, "NOT has_table_privilege(c.oid, 'SELECT')")
            .await
            .map_err(err)?,
        Need::Pass => vec![],
    };
    let schemas = Schemas { app, reference };
    Ok(findings(
        &rights,
        need,
        schemas,
        &not_owned,
        &unreadable,
        &unreadable_app,
    ))
}

/// Tables and views of `schema` for which `condition` holds.
async fn tables_where(
    client: &Client,
    schema: &str,
    condition: &str,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm') AND {condition} ORDER BY 1"
    );
    let rows = client.query(sql.as_str(), &[&schema]).await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The app and reference schemas' names.
#[derive(Clone, Copy)]
struct Schemas<'a> {
    app: &'a str,
    reference: &'a str,
}

/// The missing rights, from the facts: pure, so every case is unit-tested.
fn findings(
    r: &Rights,
    need: Need,
    schemas: Schemas<'_>,
    not_owned: &[String],
    unreadable_reference: &[String],
    unreadable_app: &[String],
) -> Vec<MissingPrivilege> {
    let (app, reference) = (schemas.app, schemas.reference);
    let (role, db) = (quote(&r.role), quote(&r.database));
    let mut out = Vec::new();
    let mut missing = |privilege: &str, on: String, needed_for: &str, grant: String| {
        out.push(MissingPrivilege {
            privilege: privilege.into(),
            on,
            needed_for: needed_for.into(),
            grant,
        })
    };
    if !r.temporary {
        missing(
            "TEMPORARY",
            format!("database {}", r.database),
            match need {
                Need::Plan => "reading the desired schema on scratch tables",
                Need::Pass => "reading the desired schema and staging rows in temporary tables",
            },
            format!("GRANT TEMPORARY ON DATABASE {db} TO {role}"),
        );
    }
    match (r.app_usage_create, need) {
        (None, Need::Pass) if !r.create_on_database => missing(
            "CREATE",
            format!("database {}", r.database),
            &format!("creating the app schema {app}, which does not exist yet"),
            format!(
                "CREATE SCHEMA {} AUTHORIZATION {role}  -- or: GRANT CREATE ON DATABASE {db} TO {role}",
                quote(app)
            ),
        ),
        (Some((usage, create)), _) if !usage || (need == Need::Pass && !create) => missing(
            "USAGE, CREATE",
            format!("schema {app}"),
            "creating and upgrading the app's tables, the ledger and the quarantine",
            format!("ALTER SCHEMA {} OWNER TO {role}", quote(app)),
        ),
        _ => {}
    }
    if need == Need::Pass {
        for table in not_owned {
            missing(
                "ownership",
                format!("table {app}.{table}"),
                "upgrading or repairing it, and loading it in bulk (indexes dropped and rebuilt)",
                format!(
                    "ALTER TABLE {}.{} OWNER TO {role}",
                    quote(app),
                    quote(table)
                ),
            );
        }
        if r.reference_usage == Some(false) {
            missing(
                "USAGE",
                format!("schema {reference}"),
                "reading the reference tables (keymaps, fingerprint)",
                format!("GRANT USAGE ON SCHEMA {} TO {role}", quote(reference)),
            );
        }
        for table in unreadable_reference {
            missing(
                "SELECT",
                format!("table {reference}.{table}"),
                "re-keying through the reference tables and fingerprinting them",
                format!(
                    "GRANT SELECT ON {}.{} TO {role}",
                    quote(reference),
                    quote(table)
                ),
            );
        }
    }
    for table in unreadable_app {
        missing(
            "SELECT",
            format!("table {app}.{table}"),
            "counting its rows for the plan",
            format!("GRANT SELECT ON {}.{} TO {role}", quote(app), quote(table)),
        );
    }
    out
}

/// The findings as an error's text: every grant, one per line.
pub fn describe(role_url: &str, missing: &[MissingPrivilege]) -> String {
    let lines: Vec<String> = missing.iter().map(|m| format!("  - {m}")).collect();
    format!(
        "the role of {role_url} lacks {} privilege(s); nothing was done:\n{}\nA DBA can grant them as docs/privileges.md shows.",
        missing.len(),
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Schemas<'static> = Schemas {
        app: "padealing",
        reference: "bo_airflow",
    };

    fn rights() -> Rights {
        Rights {
            role: "pad_app_user".into(),
            database: "pad".into(),
            temporary: true,
            create_on_database: false,
            app_usage_create: Some((true, true)),
            reference_usage: Some(true),
        }
    }

    #[test]
    fn the_least_privilege_role_lacks_nothing() {
        assert!(findings(&rights(), Need::Pass, P, &[], &[], &[]).is_empty());
    }

    #[test]
    fn each_missing_right_names_its_grant_and_step() {
        let mut r = rights();
        r.temporary = false;
        let f = findings(&r, Need::Pass, P, &[], &[], &[]);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].grant,
            "GRANT TEMPORARY ON DATABASE \"pad\" TO \"pad_app_user\""
        );
        assert!(f[0].needed_for.contains("staging rows"));
        r.app_usage_create = None;
        let f = findings(&r, Need::Pass, P, &[], &[], &[]);
        assert!(f[1]
            .grant
            .starts_with("CREATE SCHEMA \"padealing\" AUTHORIZATION"));
        let r = Rights {
            reference_usage: Some(false),
            ..rights()
        };
        let f = findings(
            &r,
            Need::Pass,
            P,
            &["pad_request".into()],
            &["oracle_employee".into()],
            &[],
        );
        let on: Vec<&str> = f.iter().map(|m| m.on.as_str()).collect();
        assert_eq!(
            on,
            [
                "table padealing.pad_request",
                "schema bo_airflow",
                "table bo_airflow.oracle_employee"
            ]
        );
        assert!(findings(&r, Need::Plan, P, &["pad_request".into()], &[], &[]).is_empty());
    }
}
