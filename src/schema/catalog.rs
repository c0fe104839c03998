//! Catalog reads of the target that the stages after reconciliation need:
//! a table's columns (what the load encodes to and the merge compares), the
//! app schema's foreign keys (load order, quarantine, verify), and the
//! indexes and constraints a bulk load drops and recreates.

use tokio_postgres::GenericClient;

use super::SchemaError;
use crate::config::{quote, QualifiedName};

/// One column as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogColumn {
    pub name: String,
    /// `pg_type.typname`, e.g. `int8`, `numeric`, `bpchar`.
    pub typname: String,
    /// `pg_attribute.atttypmod` (-1 when none).
    pub typmod: i32,
    pub not_null: bool,
    /// `pg_get_constraintdef` of the CHECK constraints on this column alone.
    pub checks: Vec<String>,
}

/// Columns of `table` in their physical order.
pub async fn table_columns<C: GenericClient>(
    client: &C,
    table: &QualifiedName,
) -> Result<Vec<CatalogColumn>, SchemaError> {
    let rows = client
        .query(
            "SELECT a.attname::text, t.typname::text, a.atttypmod, a.attnotnull, \
             ARRAY(SELECT pg_get_constraintdef(co.oid) FROM pg_constraint co \
                   WHERE co.conrelid = c.oid AND co.contype = 'c' AND co.conkey = ARRAY[a.attnum] \
                   ORDER BY co.conname) \
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&table.schema.as_str(), &table.table.as_str()],
        )
        .await
        .map_err(|e| SchemaError::db(&format!("reading the columns of {table}"), &e))?;
    if rows.is_empty() {
        return Err(SchemaError::MissingTable {
            table: table.to_string(),
        });
    }
    Ok(rows
        .iter()
        .map(|r| CatalogColumn {
            name: r.get(0),
            typname: r.get(1),
            typmod: r.get(2),
            not_null: r.get(3),
            checks: r.get(4),
        })
        .collect())
}

/// A foreign key of the app schema by one column:
/// `child.column → parent.parent_column`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ForeignKey {
    pub parent: String,
    pub child: String,
    pub column: String,
    pub parent_column: String,
}

/// Foreign keys between tables of the app schema, as `(parent, child)`.
pub async fn catalog_edges<C: GenericClient>(
    client: &C,
    app_schema: &str,
) -> Result<Vec<(String, String)>, SchemaError> {
    let rows = client
        .query(
            "SELECT p.relname::text, c.relname::text FROM pg_constraint k \
             JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace \
             JOIN pg_class p ON p.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace \
             WHERE k.contype = 'f' AND cn.nspname = $1 AND pn.nspname = $1 AND c.oid <> p.oid",
            &[&app_schema],
        )
        .await
        .map_err(|e| SchemaError::db("reading foreign keys", &e))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Single-column foreign keys between tables of the app schema: a child row
/// follows its parent into quarantine through these, and `verify` counts the
/// rows that find no parent.
pub async fn foreign_keys<C: GenericClient>(
    client: &C,
    app_schema: &str,
) -> Result<Vec<ForeignKey>, SchemaError> {
    let rows = client
        .query(
            "SELECT p.relname::text, c.relname::text, a.attname::text, pa.attname::text FROM pg_constraint k \
             JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace \
             JOIN pg_class p ON p.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.conkey[1] \
             JOIN pg_attribute pa ON pa.attrelid = p.oid AND pa.attnum = k.confkey[1] \
             WHERE k.contype = 'f' AND cn.nspname = $1 AND pn.nspname = $1 \
               AND array_length(k.conkey, 1) = 1 ORDER BY 2, 3",
            &[&app_schema],
        )
        .await
        .map_err(|e| SchemaError::db("reading foreign keys", &e))?;
    Ok(rows
        .iter()
        .map(|r| ForeignKey {
            parent: r.get(0),
            child: r.get(1),
            column: r.get(2),
            parent_column: r.get(3),
        })
        .collect())
}

/// Rows of a child table whose foreign key finds no parent row (possible
/// when a constraint is `NOT VALID` or was disabled).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ForeignKeyOrphans {
    #[serde(flatten)]
    pub foreign_key: ForeignKey,
    pub orphans: i64,
}

/// [`ForeignKeyOrphans`] for every single-column foreign key of the app schema.
pub async fn orphan_rows<C: GenericClient>(
    client: &C,
    app_schema: &str,
) -> Result<Vec<ForeignKeyOrphans>, SchemaError> {
    let mut out = Vec::new();
    for fk in foreign_keys(client, app_schema).await? {
        let sql = format!(
            "SELECT count(*) FROM {schema}.{c} x WHERE x.{col} IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM {schema}.{p} y WHERE y.{pc} = x.{col})",
            schema = quote(app_schema),
            c = quote(&fk.child),
            col = quote(&fk.column),
            p = quote(&fk.parent),
            pc = quote(&fk.parent_column),
        );
        let orphans: i64 = client
            .query_one(sql.as_str(), &[])
            .await
            .map_err(|e| SchemaError::db("counting rows without a parent", &e))?
            .get(0);
        out.push(ForeignKeyOrphans {
            foreign_key: fk,
            orphans,
        });
    }
    Ok(out)
}

/// An index as the catalog defines it, with the constraint that owns it
/// (primary key, unique, exclusion) when one does.
#[derive(Debug, Clone)]
pub struct IndexDef {
    pub name: String,
    /// `pg_get_indexdef`.
    pub definition: String,
    /// `(name, pg_get_constraintdef)` of the owning constraint.
    pub constraint: Option<(String, String)>,
    /// The constraint's comment, else the index's.
    pub comment: Option<String>,
}

/// A constraint as the catalog defines it.
#[derive(Debug, Clone)]
pub struct ConstraintDef {
    pub name: String,
    /// `pg_get_constraintdef`.
    pub definition: String,
    pub comment: Option<String>,
}

/// Every valid index of `table`, the primary key included, except one that
/// a foreign key references (it cannot be dropped without that key): what
/// a bulk load may drop and recreate.
pub async fn droppable_indexes<C: GenericClient>(
    client: &C,
    table: &QualifiedName,
) -> Result<Vec<IndexDef>, SchemaError> {
    let rows = client
        .query(
            "SELECT ic.relname::text, pg_get_indexdef(x.indexrelid), con.conname::text, pg_get_constraintdef(con.oid), \
                    coalesce(obj_description(con.oid, 'pg_constraint'), obj_description(x.indexrelid, 'pg_class')) \
             FROM pg_index x \
             JOIN pg_class ic ON ic.oid = x.indexrelid \
             LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid AND con.contype IN ('p', 'u', 'x') \
             WHERE x.indrelid = $1::text::regclass AND x.indisvalid \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = x.indexrelid) \
             ORDER BY 1",
            &[&table.quoted()],
        )
        .await
        .map_err(|e| SchemaError::db(&format!("reading the indexes of {table}"), &e))?;
    Ok(rows
        .iter()
        .map(|r| {
            let constraint: Option<String> = r.get(2);
            let definition: Option<String> = r.get(3);
            IndexDef {
                name: r.get(0),
                definition: r.get(1),
                constraint: constraint.zip(definition),
                comment: r.get(4),
            }
        })
        .collect())
}

/// `table`'s foreign keys whose referenced table is in its own schema.
pub async fn local_foreign_keys<C: GenericClient>(
    client: &C,
    table: &QualifiedName,
) -> Result<Vec<ConstraintDef>, SchemaError> {
    let rows = client
        .query(
            "SELECT con.conname::text, pg_get_constraintdef(con.oid), obj_description(con.oid, 'pg_constraint') \
             FROM pg_constraint con \
             JOIN pg_class child ON child.oid = con.conrelid \
             JOIN pg_class parent ON parent.oid = con.confrelid \
             WHERE con.conrelid = $1::text::regclass AND con.contype = 'f' \
               AND parent.relnamespace = child.relnamespace \
             ORDER BY 1",
            &[&table.quoted()],
        )
        .await
        .map_err(|e| SchemaError::db(&format!("reading the foreign keys of {table}"), &e))?;
    Ok(rows
        .iter()
        .map(|r| ConstraintDef {
            name: r.get(0),
            definition: r.get(1),
            comment: r.get(2),
        })
        .collect())
}

/// A foreign key of another table that references `table`. While it
/// exists, `table`'s primary key cannot be dropped.
#[derive(Debug, Clone)]
pub struct ReferencingKey {
    /// The referencing table's name (within `table`'s schema when `droppable`).
    pub child: String,
    pub key: ConstraintDef,
    /// The run's role may drop and recreate it and read the child: a plain
    /// table in `table`'s own schema (padetl never alters another schema's
    /// tables) that it owns, or whose owner it is a member of, and may read.
    pub droppable: bool,
}

/// Foreign keys of the other tables, in any schema, that reference `table`.
pub async fn referencing_foreign_keys<C: GenericClient>(
    client: &C,
    table: &QualifiedName,
) -> Result<Vec<ReferencingKey>, SchemaError> {
    let rows = client
        .query(
            "SELECT child.relname::text, con.conname::text, pg_get_constraintdef(con.oid), \
                    obj_description(con.oid, 'pg_constraint'), \
                    child.relkind = 'r' AND child.relnamespace = parent.relnamespace \
                        AND pg_has_role(child.relowner, 'USAGE') \
                        AND has_table_privilege(child.oid, 'SELECT') \
             FROM pg_constraint con \
             JOIN pg_class child ON child.oid = con.conrelid \
             JOIN pg_class parent ON parent.oid = con.confrelid \
             WHERE con.confrelid = $1::text::regclass AND con.contype = 'f' \
               AND con.conrelid <> con.confrelid \
             ORDER BY 1, 2",
            &[&table.quoted()],
        )
        .await
        .map_err(|e| {
            SchemaError::db(
                &format!("reading the foreign keys that reference {table}"),
                &e,
            )
        })?;
    Ok(rows
        .iter()
        .map(|r| ReferencingKey {
            child: r.get(0),
            key: ConstraintDef {
                name: r.get(1),
                definition: r.get(2),
                comment: r.get(3),
            },
            droppable: r.get(4),
        })
        .collect())
}

/// Creates `schema` only when it does not exist: `CREATE SCHEMA IF NOT
/// EXISTS` needs CREATE on the database even when the schema is there, and
/// the app's role owns its schema without holding that right.
pub async fn create_schema_if_missing<C: GenericClient>(
    client: &C,
    schema: &str,
) -> Result<(), tokio_postgres::Error> {
    let exists: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&schema],
        )
        .await?
        .get(0);
    if !exists {
        client
            .batch_execute(&format!("CREATE SCHEMA {}", quote(schema)))
            .await?;
    }
    Ok(())
}
