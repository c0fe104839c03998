//! The actual schema: one namespace read from `pg_catalog` into a
//! [`SchemaShape`]. Catalog functions print names unqualified only when they
//! are visible, so `search_path` is pointed at the namespace for the reading
//! and put back afterwards.

use std::collections::BTreeMap;

use tokio_postgres::GenericClient;

use super::shape::{
    ColumnShape, ConstraintKind, ConstraintShape, Identity, IndexShape, SchemaShape, TableShape,
};
use super::SchemaError;

const TABLES: &str = "SELECT c.oid, c.relname::text FROM pg_class c \
    JOIN pg_namespace n ON n.oid = c.relnamespace \
    WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')";

const COLUMNS: &str = "SELECT a.attrelid, a.attname::text, format_type(a.atttypid, a.atttypmod), \
    a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity::text \
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
    JOIN pg_namespace n ON n.oid = c.relnamespace \
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
    WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped";

const CONSTRAINTS: &str = "SELECT con.conrelid, con.conname::text, con.contype::text, \
    pg_get_constraintdef(con.oid), fn.nspname::text \
    FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
    JOIN pg_namespace n ON n.oid = c.relnamespace \
    LEFT JOIN pg_class fc ON fc.oid = con.confrelid \
    LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace \
    WHERE n.nspname = $1 AND con.contype IN ('p', 'u', 'c', 'f', 'x')";

const INDEXES: &str = "SELECT i.indrelid, ic.relname::text, i.indisunique, pg_get_indexdef(i.indexrelid) \
    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
    JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
    WHERE n.nspname = $1 AND NOT EXISTS (SELECT 1 FROM pg_constraint con \
      WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x'))";

/// Reads every table of `schema`. `visible_as` is how `search_path` names
/// it (`pg_temp` for the session's temporary schema).
pub async fn introspect<C: GenericClient>(
    client: &C,
    schema: &str,
    visible_as: &str,
) -> Result<SchemaShape, SchemaError> {
    let saved: String = query_one(client, "SELECT current_setting('search_path')", &[]).await?;
    set_search_path(client, visible_as).await?;
    let shape = read(client, schema).await;
    set_search_path(client, &saved).await?;
    shape
}

async fn read<C: GenericClient>(client: &C, schema: &str) -> Result<SchemaShape, SchemaError> {
    let err = |what: &'static str| move |e| SchemaError::db(what, &e);
    let mut by_oid: BTreeMap<u32, TableShape> = BTreeMap::new();
    for r in client
        .query(TABLES, &[&schema])
        .await
        .map_err(err("listing tables"))?
    {
        let oid: u32 = r.get(0);
        by_oid.insert(oid, empty_table(r.get(1), oid));
    }
    for r in client
        .query(COLUMNS, &[&schema])
        .await
        .map_err(err("reading columns"))?
    {
        let Some(t) = by_oid.get_mut(&r.get::<_, u32>(0)) else {
            continue;
        };
        let identity: String = r.get(5);
        t.columns.push(ColumnShape {
            name: r.get(1),
            data_type: r.get(2),
            not_null: r.get(3),
            default: r.get::<_, Option<String>>(4).map(|d| normalize_default(&d)),
            identity: Identity::from_catalog(&identity),
        });
    }
    for r in client
        .query(CONSTRAINTS, &[&schema])
        .await
        .map_err(err("reading constraints"))?
    {
        let Some(t) = by_oid.get_mut(&r.get::<_, u32>(0)) else {
            continue;
        };
        let (name, code, definition): (String, String, String) = (r.get(1), r.get(2), r.get(3));
        let referenced: Option<String> = r.get(4);
        if referenced.as_deref().is_some_and(|s| s != schema) {
            t.foreign_references.push(format!("{name}: {definition}"));
            continue;
        }
        if let Some(kind) = ConstraintKind::from_catalog(&code) {
            t.constraints.push(ConstraintShape {
                kind,
                definition,
                name,
            });
        }
    }
    for r in client
        .query(INDEXES, &[&schema])
        .await
        .map_err(err("reading indexes"))?
    {
        let Some(t) = by_oid.get_mut(&r.get::<_, u32>(0)) else {
            continue;
        };
        let def: String = r.get(3);
        t.indexes.push(IndexShape {
            unique: r.get(2),
            definition: index_body(&def).to_string(),
            name: r.get(1),
        });
    }
    let mut shape = SchemaShape::default();
    for (_, mut t) in by_oid {
        t.columns.sort_by(|a, b| a.name.cmp(&b.name));
        t.constraints.sort();
        t.indexes.sort();
        t.foreign_references.sort();
        shape.tables.insert(t.name.clone(), t);
    }
    Ok(shape)
}

fn empty_table(name: String, oid: u32) -> TableShape {
    TableShape {
        name,
        oid,
        columns: vec![],
        constraints: vec![],
        indexes: vec![],
        foreign_references: vec![],
    }
}

/// Sequence names differ between a migrated and a hand-made table; what
/// matters is that the column draws from one.
fn normalize_default(expr: &str) -> String {
    if expr.starts_with("nextval(") {
        "nextval()".to_string()
    } else {
        expr.to_string()
    }
}

/// `CREATE INDEX name ON schema.table USING btree (col)` → `btree (col)`.
fn index_body(def: &str) -> &str {
    def.split_once(" USING ")
        .map(|(_, body)| body)
        .unwrap_or(def)
}

async fn set_search_path<C: GenericClient>(client: &C, path: &str) -> Result<(), SchemaError> {
    let _: String = query_one(
        client,
        "SELECT set_config('search_path', $1, true)",
        &[&path],
    )
    .await?;
    Ok(())
}

async fn query_one<C: GenericClient, T: for<'a> tokio_postgres::types::FromSql<'a>>(
    client: &C,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<T, SchemaError> {
    client
        .query_one(sql, params)
        .await
        .map(|r| r.get(0))
        .map_err(|e| SchemaError::db("reading the catalog", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_body_drops_name_and_table() {
        assert_eq!(
            index_body("CREATE UNIQUE INDEX x ON padealing.t USING btree (a, b)"),
            "btree (a, b)"
        );
    }

    #[test]
    fn serial_defaults_compare_equal() {
        assert_eq!(
            normalize_default("nextval('pad_request_id_seq'::regclass)"),
            normalize_default("nextval('padealing.other_seq'::regclass)")
        );
    }
}
