//! The DataFusion session of one run: keymaps and rejected keys registered
//! once, then each source page transformed by its table's SQL.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::keymap;
use super::udf::{IsJson, JsonBuildObject, JsonOrRaw};
use super::usage::SqlUse;
use super::TransformError;
use crate::config::{Keymap, TableSpec};

const SCHEMAS: [&str; 5] = ["source", "keymap", "rejected", "output", "quarantined"];

/// Counts of one keymap, for the report.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct KeymapSummary {
    pub name: String,
    pub source_rows: u64,
    pub target_rows: u64,
    /// `matched` / `orphan` / `ambiguous` → rows.
    pub status: BTreeMap<String, u64>,
    /// Natural key that matched → rows.
    pub matched_by: BTreeMap<String, u64>,
}

impl KeymapSummary {
    /// Source rows with this `status` (`matched`, `orphan`, `ambiguous`).
    pub fn count(&self, status: &str) -> u64 {
        self.status.get(status).copied().unwrap_or(0)
    }
}

/// One DataFusion context for the whole run.
pub struct TransformSession {
    ctx: SessionContext,
    /// What the run's queries read; `None`: keep everything.
    used: Option<SqlUse>,
}

impl TransformSession {
    pub fn new() -> Result<Self, TransformError> {
        // One partition: a page is already bounded and ordered; more partitions
        // would only add repartitioning work for batch-sized inputs.
        let config = SessionConfig::new()
            .with_target_partitions(1)
            .with_information_schema(false);
        let ctx = SessionContext::new_with_config(config);
        let catalog = ctx
            .catalog("datafusion")
            .ok_or_else(|| TransformError::Keymap {
                keymap: "-".into(),
                message: "DataFusion has no default catalog".into(),
            })?;
        for schema in SCHEMAS {
            catalog
                .register_schema(schema, Arc::new(MemorySchemaProvider::new()))
                .map_err(|e| TransformError::Keymap {
                    keymap: "-".into(),
                    message: e.to_string(),
                })?;
        }
        ctx.register_udf(JsonOrRaw::udf());
        ctx.register_udf(IsJson::udf());
        ctx.register_udf(JsonBuildObject::udf());
        Ok(TransformSession { ctx, used: None })
    }

    /// Keeps, of the keymaps and rejected keys, only what `used` (every
    /// query the run will send: transforms and page checks) can read.
    pub fn keeping_only(self, used: SqlUse) -> Self {
        TransformSession {
            used: Some(used),
            ..self
        }
    }

    /// Whether a query of the run reads `rejected.<table>`: if none does,
    /// the table's rejected keys need not be collected for it.
    pub fn keeps_rejected(&self, table: &str) -> bool {
        self.used
            .as_ref()
            .is_none_or(|u| u.reads_table("rejected", table))
    }

    /// Builds `keymap.<name>` from both key sets of `km` and registers it.
    pub fn add_keymap(
        &self,
        km: &Keymap,
        source_keys: Vec<RecordBatch>,
        target_keys: Vec<RecordBatch>,
    ) -> Result<KeymapSummary, TransformError> {
        let err = |message: String| TransformError::Keymap {
            keymap: km.name.to_string(),
            message,
        };
        let source_rows = rows(&source_keys);
        let target_rows = rows(&target_keys);
        let batches = keymap::build(km, &source_keys, &target_keys).map_err(|e| {
            err(format!(
                "{e} (does each key query return `id` and every key column?)"
            ))
        })?;
        // The target's key set is only the keymap's input: at the size of a
        // real reference table it is tens of megabytes, held for nothing.
        drop((source_keys, target_keys));
        let summary = summarize(&km.name.to_string(), source_rows, target_rows, &batches);
        let batches = self.read_columns_only(batches).map_err(&err)?;
        tracing::debug!(
            keymap = %km.name,
            rows = rows(&batches),
            columns = batches.first().map_or(0, RecordBatch::num_columns),
            bytes = batches.iter().map(RecordBatch::get_array_memory_size).sum::<usize>(),
            "keymap built"
        );
        self.register(&format!("keymap.{}", km.name), batches)
            .map_err(&err)?;
        Ok(summary)
    }

    /// Makes `rejected.<table>` hold `keys` (a single `key` BIGINT column),
    /// or nothing if no query reads it.
    pub fn set_rejected(&self, table: &str, keys: &[i64]) -> Result<(), TransformError> {
        let keys = if self.keeps_rejected(table) {
            keys
        } else {
            &[]
        };
        self.set_keys("rejected", table, keys)
    }

    /// A keymap's columns that a query of the run reads: `source_id` and
    /// `target_id` always, the others (status, the key that matched, the
    /// natural keys) only where some query names them.
    fn read_columns_only(&self, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>, String> {
        let (Some(used), Some(first)) = (&self.used, batches.first()) else {
            return Ok(batches);
        };
        let keep: Vec<usize> = first
            .schema()
            .fields()
            .iter()
            .enumerate()
            .filter(|(i, f)| *i < 2 || used.reads_column(f.name()))
            .map(|(i, _)| i)
            .collect();
        batches
            .iter()
            .map(|b| b.project(&keep).map_err(|e| e.to_string()))
            .collect()
    }

    /// Makes `quarantined.<table>` hold `keys`, for the child tables' checks.
    pub fn set_quarantined(&self, table: &str, keys: &[i64]) -> Result<(), TransformError> {
        self.set_keys("quarantined", table, keys)
    }

    /// Makes `output.<table>` the rows the transform would load from this page.
    pub fn set_output(&self, table: &str, batch: RecordBatch) -> Result<(), TransformError> {
        self.register(&format!("output.{table}"), vec![batch])
            .map_err(|message| TransformError::Output {
                table: table.into(),
                message,
            })
    }

    /// Runs a check's `(key, detail)` query over the current page.
    pub async fn violations(
        &self,
        table: &str,
        check: &str,
        sql: &str,
    ) -> Result<Vec<(i64, String)>, TransformError> {
        let err = |message: String| TransformError::Check {
            check: check.into(),
            table: table.into(),
            message,
        };
        let batches = self.query(sql).await.map_err(err)?;
        let mut out = Vec::new();
        for b in &batches {
            let keys = cast(b.column(0), &DataType::Int64).map_err(|e| err(e.to_string()))?;
            let keys = keys.as_primitive::<Int64Type>();
            let details = cast(b.column(1), &DataType::Utf8).map_err(|e| err(e.to_string()))?;
            let details = details.as_string::<i32>();
            for row in 0..b.num_rows() {
                if keys.is_null(row) {
                    return Err(err("the check's query returned a row without a key".into()));
                }
                out.push((keys.value(row), details.value(row).to_string()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The current page's source rows with these keys, as JSON objects by key.
    pub async fn source_rows(
        &self,
        spec: &TableSpec,
        keys: &[i64],
    ) -> Result<Vec<(i64, serde_json::Map<String, serde_json::Value>)>, TransformError> {
        if keys.is_empty() {
            return Ok(vec![]);
        }
        let err = |message: String| TransformError::Output {
            table: spec.name.to_string(),
            message,
        };
        let list: Vec<String> = keys.iter().map(i64::to_string).collect();
        let sql = format!(
            "SELECT * FROM source.{} WHERE CAST({} AS BIGINT) IN ({})",
            spec.name,
            spec.key.quoted(),
            list.join(", ")
        );
        let batches = self.query(&sql).await.map_err(err)?;
        let mut rows = Vec::new();
        for b in &batches {
            let mut writer = datafusion::arrow::json::ArrayWriter::new(Vec::new());
            writer.write(b).map_err(|e| err(e.to_string()))?;
            writer.finish().map_err(|e| err(e.to_string()))?;
            let objects: Vec<serde_json::Map<String, serde_json::Value>> =
                serde_json::from_slice(&writer.into_inner()).map_err(|e| err(e.to_string()))?;
            for object in objects {
                let key = object
                    .get(spec.key.as_str())
                    .and_then(serde_json::Value::as_i64)
                    .ok_or_else(|| err(format!("row without an integer `{}`", spec.key)))?;
                rows.push((key, object));
            }
        }
        Ok(rows)
    }

    fn set_keys(&self, schema_name: &str, table: &str, keys: &[i64]) -> Result<(), TransformError> {
        let schema = Arc::new(Schema::new(vec![Field::new("key", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(keys.to_vec()))])
            .map_err(|e| TransformError::Output {
            table: table.into(),
            message: e.to_string(),
        })?;
        self.register(&format!("{schema_name}.{table}"), vec![batch])
            .map_err(|message| TransformError::Output {
                table: table.into(),
                message,
            })
    }

    /// Runs `spec`'s transform over one page of its source rows.
    pub async fn transform(
        &self,
        spec: &TableSpec,
        page: RecordBatch,
    ) -> Result<Vec<RecordBatch>, TransformError> {
        let err = |message: String| TransformError::Sql {
            table: spec.name.to_string(),
            file: spec.transform_path.display().to_string(),
            message,
        };
        let name = format!("source.{}", spec.name);
        self.register(&name, vec![page]).map_err(&err)?;
        self.query(&spec.transform_sql).await.map_err(err)
    }

    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, String> {
        let df = self.ctx.sql(sql).await.map_err(|e| e.to_string())?;
        df.collect().await.map_err(|e| e.to_string())
    }

    fn register(&self, name: &str, batches: Vec<RecordBatch>) -> Result<(), String> {
        let schema = match batches.first() {
            Some(b) => b.schema(),
            None => Arc::new(Schema::empty()),
        };
        let table = MemTable::try_new(schema, vec![batches]).map_err(|e| e.to_string())?;
        self.ctx.deregister_table(name).map_err(|e| e.to_string())?;
        self.ctx
            .register_table(name, Arc::new(table))
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

fn rows(batches: &[RecordBatch]) -> u64 {
    batches.iter().map(|b| b.num_rows() as u64).sum()
}

fn summarize(
    name: &str,
    source_rows: u64,
    target_rows: u64,
    batches: &[RecordBatch],
) -> KeymapSummary {
    let mut summary = KeymapSummary {
        name: name.to_string(),
        source_rows,
        target_rows,
        ..Default::default()
    };
    for b in batches {
        let text = |name: &str| {
            let column = b.column_by_name(name)?;
            cast(column, &DataType::Utf8).ok()
        };
        let (Some(status), Some(by)) = (text("status"), text("matched_by")) else {
            continue;
        };
        let (status, by) = (status.as_string::<i32>(), by.as_string::<i32>());
        for row in 0..b.num_rows() {
            if status.is_valid(row) {
                *summary
                    .status
                    .entry(status.value(row).to_string())
                    .or_default() += 1;
            }
            if by.is_valid(row) && status.is_valid(row) && status.value(row) == super::MATCHED {
                *summary
                    .matched_by
                    .entry(by.value(row).to_string())
                    .or_default() += 1;
            }
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::super::keymap::tests::{employee, keys};
    use super::*;
    use datafusion::arrow::array::StringViewArray;

    fn columns(batches: &[RecordBatch]) -> Vec<String> {
        batches[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    #[tokio::test]
    async fn a_run_keeps_only_what_its_queries_read() {
        let used = SqlUse::of([
            "SELECT k.target_id FROM source.t LEFT JOIN keymap.employee k ON k.email = lower(t.actor)",
        ]);
        let session = TransformSession::new().expect("session").keeping_only(used);
        let summary = session
            .add_keymap(
                &employee(),
                vec![keys(
                    &[1, 2],
                    &[Some("M1"), Some("M9")],
                    &[Some("a@x"), Some("b@x")],
                )],
                vec![keys(
                    &[10, 20],
                    &[Some("M1"), Some("M2")],
                    &[Some("a@x"), Some("b@x")],
                )],
            )
            .expect("keymap");
        assert_eq!(
            summary.matched_by.get("mako_id"),
            Some(&1),
            "summarized before trimming"
        );
        assert_eq!(summary.matched_by.get("email"), Some(&1));
        let kept = session
            .query("SELECT * FROM keymap.employee ORDER BY source_id")
            .await
            .expect("keymap");
        assert_eq!(columns(&kept), ["source_id", "target_id", "email"]);

        assert_eq!(
            rejected_kept(&session).await,
            0,
            "no query reads rejected.pad_request"
        );
        assert!(!session.keeps_rejected("pad_request"));
    }

    #[tokio::test]
    async fn without_a_usage_everything_is_kept() {
        let session = TransformSession::new().expect("session");
        assert_eq!(rejected_kept(&session).await, 2);
    }

    /// Rows `rejected.pad_request` holds after two keys are set.
    async fn rejected_kept(session: &TransformSession) -> u64 {
        session
            .set_rejected("pad_request", &[1, 2])
            .expect("rejected");
        let rejected = session
            .query("SELECT key FROM rejected.pad_request")
            .await
            .expect("rejected");
        rows(&rejected)
    }

    #[test]
    fn a_summary_reads_status_of_any_string_type() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("status", DataType::Utf8View, true),
            Field::new("matched_by", DataType::Utf8View, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringViewArray::from(vec![
                    Some("matched"),
                    Some("orphan"),
                    None,
                ])),
                Arc::new(StringViewArray::from(vec![Some("mako_id"), None, None])),
            ],
        )
        .expect("batch");
        let s = summarize("employee", 3, 2, &[batch]);
        assert_eq!(s.count("matched"), 1);
        assert_eq!(s.count("orphan"), 1);
        assert_eq!(s.matched_by.get("mako_id"), Some(&1));
    }
}
