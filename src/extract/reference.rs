//! The reference keys the keymaps join on. The source's are read through
//! the source reader; the target's inside the run's own transaction, so they
//! are the run's snapshot and come over the session's connection, with the
//! TLS checks the user asked for and no second connection to the target.
//! Both sides are cast alike (`id` as a 64-bit integer, each key as text,
//! see [`Dialect::keys_sql`]), so the keymap compares like with like
//! whatever the reference columns' types and the source's database.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, LargeStringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use tokio_postgres::Client;

use super::{CxReader, Dialect, ExtractError};
use crate::config::{DatabaseUrl, Keymap};

/// The source's keys of `km`. Blocking: call from a blocking thread.
pub fn source_keys(reader: &CxReader, km: &Keymap) -> Result<Vec<RecordBatch>, ExtractError> {
    let sql = reader.dialect().keys_sql(&km.source_query, km);
    reader.query(&sql, &what(km), &km.origin)
}

/// The target's keys of `km`, read in the transaction `tx` on `url` (the
/// target is always Postgres).
pub async fn target_keys(
    tx: &Client,
    url: &DatabaseUrl,
    km: &Keymap,
) -> Result<Vec<RecordBatch>, ExtractError> {
    let sql = Dialect::Postgres.keys_sql(&km.target_query, km);
    let rows = tx
        .query(sql.as_str(), &[])
        .await
        .map_err(|e| ExtractError::Query {
            side: "target",
            database: url.to_string(),
            what: what(km),
            origin: km.origin.clone(),
            message: url.scrub(&crate::target::describe(&e)),
            sql_mistake: e.code().is_some_and(crate::target::blames_the_sql),
        })?;
    let ids: Int64Array = rows.iter().map(|r| r.get::<_, Option<i64>>(0)).collect();
    let mut fields = vec![Field::new("id", DataType::Int64, true)];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(ids)];
    for (i, key) in km.keys.iter().enumerate() {
        let values: LargeStringArray = rows
            .iter()
            .map(|r| r.get::<_, Option<String>>(i + 1))
            .collect();
        fields.push(Field::new(key.as_str(), DataType::LargeUtf8, true));
        columns.push(Arc::new(values));
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| {
        ExtractError::Data {
            what: what(km),
            message: e.to_string(),
        }
    })?;
    Ok(vec![batch])
}

fn what(km: &Keymap) -> String {
    format!("the keys of keymap {}", km.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Ident;

    #[test]
    fn both_sides_are_cast_alike() {
        let km = Keymap {
            name: Ident::parse("employee").unwrap(),
            source_query: String::new(),
            target_query: String::new(),
            keys: vec![Ident::parse("mako_id").unwrap()],
            origin: "p.toml:1".into(),
        };
        assert_eq!(
            Dialect::Postgres.keys_sql("SELECT 1", &km),
            "SELECT CAST(q.id AS bigint) AS id, CAST(q.\"mako_id\" AS text) AS \"mako_id\" FROM (SELECT 1) AS q"
        );
    }
}
