//! The COPY stream of one table's load: opened on the first batch with the
//! columns the transform returns, fed encoded batches, flushed in chunks,
//! ended before the stage is checked and merged.

use std::pin::Pin;

use std::collections::BTreeSet;

use bytes::{Bytes, BytesMut};
use datafusion::arrow::record_batch::RecordBatch;
use futures_util::SinkExt;
use tokio_postgres::CopyInSink;

use super::encode::{CopyEncoder, Misfit, TargetColumn};
use super::merge::copy_sql;
use super::pgtype::PgType;
use super::rule::Rule;
use super::table::TableLoad;
use super::LoadError;
use crate::config::QualifiedName;
use crate::schema::CatalogColumn;

/// Bytes buffered before they are sent to the server.
const SEND_THRESHOLD: usize = 1 << 20;

/// An open `COPY … FROM STDIN (FORMAT binary)`.
pub(super) struct OpenCopy {
    sink: Pin<Box<CopyInSink<Bytes>>>,
    encoder: CopyEncoder,
    columns: Vec<CatalogColumn>,
    buf: BytesMut,
}

impl TableLoad<'_> {
    /// Encodes `batch` into the COPY stream (opened on the first batch);
    /// returns the values that do not fit, whose rows were left out.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<Vec<Misfit>, LoadError> {
        if batch.num_rows() == 0 {
            return Ok(vec![]);
        }
        if self.copy.is_none() {
            self.copy = Some(self.open_copy(batch).await?);
        }
        let Some(copy) = self.copy.as_mut() else {
            return Ok(vec![]);
        };
        let misfits = copy.encoder.encode_fitting(batch, &mut copy.buf)?;
        let left_out: BTreeSet<usize> = misfits.iter().map(|m| m.row).collect();
        self.staged += (batch.num_rows() - left_out.len()) as u64;
        if copy.buf.len() >= SEND_THRESHOLD {
            copy.send_buffered(&self.table).await?;
        }
        Ok(misfits)
    }

    async fn open_copy(&self, batch: &RecordBatch) -> Result<OpenCopy, LoadError> {
        let schema = batch.schema();
        for field in schema.fields() {
            if !self.catalog.iter().any(|c| &c.name == field.name()) {
                return Err(LoadError::Shape {
                    table: self.table.to_string(),
                    message: format!(
                        "the transform returns column `{}`, which the table does not have",
                        field.name()
                    ),
                });
            }
        }
        let columns: Vec<CatalogColumn> = self
            .catalog
            .iter()
            .filter(|c| schema.index_of(&c.name).is_ok())
            .cloned()
            .collect();
        let targets = columns
            .iter()
            .map(|c| {
                let pg_type =
                    PgType::from_catalog(&c.typname, c.typmod).ok_or_else(|| LoadError::Shape {
                        table: self.table.to_string(),
                        message: format!(
                            "column `{}` has type {}, which padetl cannot load",
                            c.name, c.typname
                        ),
                    })?;
                Ok(TargetColumn {
                    name: c.name.clone(),
                    pg_type,
                    not_null: c.not_null,
                    // Blank-padded and case-insensitive text compare
                    // otherwise than bytes: the server judges those.
                    rules: match c.typname.as_str() {
                        "bpchar" | "citext" => vec![],
                        _ => c
                            .checks
                            .iter()
                            .filter_map(|def| Rule::parse(&c.name, def))
                            .collect(),
                    },
                })
            })
            .collect::<Result<Vec<_>, LoadError>>()?;
        let encoder = CopyEncoder::new(&self.table.to_string(), targets, &schema)?;
        let sink = self
            .tx
            .copy_in::<_, Bytes>(copy_sql(&self.copy_target(), &columns).as_str())
            .await
            .map_err(|e| LoadError::db(&self.table, "starting COPY", &e))?;
        let mut buf = BytesMut::with_capacity(SEND_THRESHOLD * 2);
        CopyEncoder::write_header(&mut buf);
        Ok(OpenCopy {
            sink: Box::pin(sink),
            encoder,
            columns,
            buf,
        })
    }

    /// Ends the COPY, so that the staged rows can be checked and merged.
    pub async fn end_copy(&mut self) -> Result<(), LoadError> {
        if let Some(mut copy) = self.copy.take() {
            CopyEncoder::write_trailer(&mut copy.buf);
            copy.send_buffered(&self.table).await?;
            copy.sink
                .as_mut()
                .finish()
                .await
                .map_err(|e| LoadError::db(&self.table, "finishing COPY", &e))?;
            self.columns = Some(copy.columns);
        }
        Ok(())
    }
}

impl OpenCopy {
    /// Sends what is buffered to the server.
    async fn send_buffered(&mut self, table: &QualifiedName) -> Result<(), LoadError> {
        let chunk = self.buf.split().freeze();
        self.sink
            .as_mut()
            .send(chunk)
            .await
            .map_err(|e| LoadError::db(table, "sending COPY data", &e))
    }
}
