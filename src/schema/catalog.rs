//! Column facts of a target table, from `pg_catalog`: what the load encodes
//! to and what the merge compares.

use tokio_postgres::GenericClient;

use super::SchemaError;
use crate::config::QualifiedName;

/// One column as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogColumn {
    pub name: String,
    /// `pg_type.typname`, e.g. `int8`, `numeric`, `bpchar`.
    pub typname: String,
    /// `pg_attribute.atttypmod` (-1 when none).
    pub typmod: i32,
    pub not_null: bool,
}

/// Columns of `table` in their physical order.
pub async fn table_columns<C: GenericClient>(
    client: &C,
    table: &QualifiedName,
) -> Result<Vec<CatalogColumn>, SchemaError> {
    let rows = client
        .query(
            "SELECT a.attname::text, t.typname::text, a.atttypmod, a.attnotnull \
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
        })
        .collect())
}
