//! The reference keys the keymaps join on. The source's are read through
//! the source reader; the target's inside the run's own transaction, so they
//! are the run's snapshot and come over the session's connection, with the
//! TLS checks the user asked for and no second connection to the target.
//! Both sides are cast alike (`id` as a 64-bit integer, each key as text,
//! see [`Dialect::keys_sql`]), so the keymap compares like with like
//! whatever the reference columns' types and the source's database.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Builder, LargeStringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use futures_util::TryStreamExt;
use tokio_postgres::Client;

use super::{CxReader, Dialect, ExtractError};
use crate::config::{DatabaseUrl, Keymap};

/// The source's keys of `km`. Blocking: call from a blocking thread.
pub fn source_keys(reader: &CxReader, km: &Keymap) -> Result<Vec<RecordBatch>, ExtractError> {
    let sql = reader.dialect().keys_sql(&km.source_query, km);
    reader.query(&sql, &what(km), &km.origin)
}

/// The target's keys of `km`, read in the transaction `tx` on `url` (the
/// target is always Postgres). Rows go straight into Arrow builders as they
/// arrive: a reference table of half a million rows held as driver rows
/// first took more than twice the memory of the key set itself.
pub async fn target_keys(
    tx: &Client,
    url: &DatabaseUrl,
    km: &Keymap,
) -> Result<Vec<RecordBatch>, ExtractError> {
    let sql = Dialect::Postgres.keys_sql(&km.target_query, km);
    let failed = |e: tokio_postgres::Error| ExtractError::Query {
        side: "target",
        database: url.to_string(),
        what: what(km),
        origin: km.origin.clone(),
        message: url.scrub(&crate::target::describe(&e)),
        sql_mistake: e.code().is_some_and(crate::target::blames_the_sql),
    };
    let rows = tx
        .query_raw(sql.as_str(), std::iter::empty::<i64>())
        .await
        .map_err(failed)?;
    let mut rows = std::pin::pin!(rows);
    let mut ids = Int64Builder::new();
    let mut keys: Vec<LargeStringBuilder> =
        km.keys.iter().map(|_| LargeStringBuilder::new()).collect();
    while let Some(row) = rows.try_next().await.map_err(failed)? {
        ids.append_option(row.try_get::<_, Option<i64>>(0).map_err(failed)?);
        for (i, builder) in keys.iter_mut().enumerate() {
            builder.append_option(row.try_get::<_, Option<&str>>(i + 1).map_err(failed)?);
        }
    }
    let mut fields = vec![Field::new("id", DataType::Int64, true)];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(ids.finish())];
    for (key, mut builder) in km.keys.iter().zip(keys) {
        fields.push(Field::new(key.as_str(), DataType::LargeUtf8, true));
        columns.push(Arc::new(builder.finish()));
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
