//! Arrow → Postgres binary COPY, column by column: each column's array is
//! downcast once per batch into a [`Col`], and the row loop only matches on
//! that small enum — no per-value boxing, no rows of `dyn ToSql`. The target
//! column's catalog type decides the encoding. A value that does not fit
//! (type, range, NOT NULL, a simple CHECK) is never rounded or truncated:
//! its row is left out of the stream and reported as a [`Misfit`], which
//! the checks count as the table's fit check. The per-type writers are in
//! [`super::values`].

use bytes::{BufMut, BytesMut};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float64Type, Int64Type, Schema, TimeUnit,
};
use datafusion::arrow::record_batch::RecordBatch;

use super::pgtype::PgType;
use super::rule::Rule;
use super::values::{to_micros, write_binary, write_decimal, write_float, write_int, write_text};

/// Microseconds between the Unix epoch and Postgres' (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days between the Unix epoch and Postgres' epoch.
const PG_EPOCH_DAYS: i32 = 10_957;
/// Postgres' date range in days from its epoch: 4714-11-24 BC to 5874897-12-31.
const PG_DATE_RANGE: std::ops::Range<i32> = -2_451_545..2_145_031_949;
/// Postgres' timestamp range in µs from its epoch: 4714-11-24 BC to 294276-12-31.
const PG_TIMESTAMP_RANGE: std::ops::Range<i64> =
    -211_813_488_000_000_000..9_223_371_331_200_000_000;

/// A column of the target table, in COPY order.
#[derive(Debug, Clone)]
pub struct TargetColumn {
    pub name: String,
    pub pg_type: PgType,
    pub not_null: bool,
    /// The column's CHECK constraints that the encoder evaluates itself.
    pub rules: Vec<Rule>,
}

impl TargetColumn {
    /// A column with no constraint beyond its type.
    pub fn typed(name: &str, pg_type: PgType) -> Self {
        TargetColumn {
            name: name.to_string(),
            pg_type,
            not_null: false,
            rules: vec![],
        }
    }
}

/// A value of one row that its target column cannot store: the row was
/// left out of the COPY stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Misfit {
    /// The row's index in the batch.
    pub row: usize,
    pub column: String,
    /// Why, e.g. "(5.6271443) has more than 6 decimal places".
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("table {table}: column `{column}` is {arrow} in the transform's output and cannot be loaded into {pg}")]
    Unsupported {
        table: String,
        column: String,
        arrow: String,
        pg: String,
    },
    #[error("table {table}: the transform's output has no column `{column}`")]
    MissingColumn { table: String, column: String },
    #[error("table {table}: value of column `{column}` in the row with key {key} {reason}; nothing was written")]
    ValueDoesNotFit {
        table: String,
        column: String,
        key: String,
        reason: String,
    },
}

/// Which family of Arrow input a column is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    Bool,
    Int,
    Float,
    Decimal,
    Text,
    Binary,
    Date,
    Timestamp { zoned: bool },
    Null,
}

/// The encoding plan of one table: which input family feeds each column.
pub struct CopyEncoder {
    table: String,
    columns: Vec<(TargetColumn, Input)>,
}

impl CopyEncoder {
    /// Plans `columns` from `schema`; refuses pairs it cannot encode exactly.
    pub fn new(
        table: &str,
        columns: Vec<TargetColumn>,
        schema: &Schema,
    ) -> Result<Self, EncodeError> {
        let mut planned = Vec::with_capacity(columns.len());
        for c in columns {
            let field =
                schema
                    .field_with_name(&c.name)
                    .map_err(|_| EncodeError::MissingColumn {
                        table: table.into(),
                        column: c.name.clone(),
                    })?;
            let input = plan_input(field.data_type(), c.pg_type).ok_or_else(|| {
                EncodeError::Unsupported {
                    table: table.into(),
                    column: c.name.clone(),
                    arrow: field.data_type().to_string(),
                    pg: c.pg_type.sql_name(),
                }
            })?;
            planned.push((c, input));
        }
        Ok(CopyEncoder {
            table: table.to_string(),
            columns: planned,
        })
    }

    pub fn write_header(buf: &mut BytesMut) {
        buf.put_slice(b"PGCOPY\n\xff\r\n\0");
        buf.put_i32(0);
        buf.put_i32(0);
    }

    pub fn write_trailer(buf: &mut BytesMut) {
        buf.put_i16(-1);
    }

    /// Appends every row of `batch` whose values all fit; the others are
    /// left out and returned, one [`Misfit`] per value that does not fit.
    pub fn encode_fitting(
        &self,
        batch: &RecordBatch,
        buf: &mut BytesMut,
    ) -> Result<Vec<Misfit>, EncodeError> {
        let cols = self.columns(batch)?;
        buf.reserve(batch.num_rows() * (2 + 12 * cols.len()));
        let mut misfits = Vec::new();
        for row in 0..batch.num_rows() {
            let start = buf.len();
            buf.put_i16(cols.len() as i16);
            let mut fits = true;
            for (col, (target, _)) in cols.iter().zip(&self.columns) {
                if let Err(reason) = col.write(row, target, buf) {
                    fits = false;
                    misfits.push(Misfit {
                        row,
                        column: target.name.clone(),
                        reason,
                    });
                }
            }
            if !fits {
                buf.truncate(start);
            }
        }
        Ok(misfits)
    }

    /// Appends every row of `batch`, or fails at the first value that does
    /// not fit, naming it (benchmarks and tools that must load all or nothing).
    pub fn encode_batch(
        &self,
        batch: &RecordBatch,
        key_column: Option<&str>,
        buf: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        match self.encode_fitting(batch, buf)?.into_iter().next() {
            None => Ok(()),
            Some(m) => Err(EncodeError::ValueDoesNotFit {
                table: self.table.clone(),
                column: m.column,
                key: key_column
                    .map(|k| super::key_at(batch, k, m.row))
                    .unwrap_or_else(|| format!("row {}", m.row)),
                reason: m.reason,
            }),
        }
    }

    fn columns(&self, batch: &RecordBatch) -> Result<Vec<Col>, EncodeError> {
        self.columns
            .iter()
            .map(|(c, input)| {
                let array =
                    batch
                        .column_by_name(&c.name)
                        .ok_or_else(|| EncodeError::MissingColumn {
                            table: self.table.clone(),
                            column: c.name.clone(),
                        })?;
                Col::new(array, *input, c.pg_type).map_err(|reason| EncodeError::Unsupported {
                    table: self.table.clone(),
                    column: c.name.clone(),
                    arrow: format!("{} ({reason})", array.data_type()),
                    pg: c.pg_type.sql_name(),
                })
            })
            .collect()
    }
}

/// Which Arrow types each Postgres type accepts.
fn plan_input(t: &DataType, pg: PgType) -> Option<Input> {
    use PgType::*;
    let input = match t {
        DataType::Null => return Some(Input::Null),
        DataType::Boolean => Input::Bool,
        t if t.is_integer() => Input::Int,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Input::Float,
        DataType::Decimal128(..) | DataType::Decimal256(..) => Input::Decimal,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Input::Text,
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(16) => Input::Binary,
        DataType::Date32 | DataType::Date64 => Input::Date,
        DataType::Timestamp(_, tz) => Input::Timestamp {
            zoned: tz.is_some(),
        },
        _ => return None,
    };
    let ok = match (input, pg) {
        (Input::Bool, Bool) => true,
        (Input::Int, Int2 | Int4 | Int8 | Numeric { .. } | Float8) => true,
        (Input::Float, Float4 | Float8) => true,
        (Input::Decimal, Numeric { .. } | Int2 | Int4 | Int8) => true,
        (Input::Text, Text | Varchar { .. } | Bpchar { .. } | Json | Jsonb | Uuid) => true,
        (Input::Binary, Bytea) => true,
        (Input::Binary, Uuid) => matches!(t, DataType::FixedSizeBinary(16)),
        (Input::Date, Date) => true,
        (Input::Timestamp { zoned: false }, Timestamp) => true,
        (Input::Timestamp { zoned: true }, Timestamptz) => true,
        _ => false,
    };
    ok.then_some(input)
}

/// One column of one batch, downcast once, with its target type.
enum Col {
    Null,
    Bool(datafusion::arrow::array::BooleanArray),
    Int(datafusion::arrow::array::Int64Array, PgType),
    Float(datafusion::arrow::array::Float64Array, PgType),
    Decimal(datafusion::arrow::array::Decimal128Array, i8, PgType),
    Text(datafusion::arrow::array::StringArray, PgType),
    Binary(ArrayRef),
    Date(datafusion::arrow::array::Date32Array),
    Micros(
        datafusion::arrow::array::TimestampMicrosecondArray,
        ArrayRef,
    ),
}

impl Col {
    /// Normalises the Arrow array to one physical type per family. Widening
    /// casts only: a cast that could lose a value fails instead.
    fn new(array: &ArrayRef, input: Input, pg: PgType) -> Result<Col, String> {
        let to = |t: DataType| cast(array, &t).map_err(|e| e.to_string());
        Ok(match input {
            Input::Null => Col::Null,
            Input::Bool => Col::Bool(array.as_boolean().clone()),
            Input::Int => Col::Int(to(DataType::Int64)?.as_primitive::<Int64Type>().clone(), pg),
            Input::Float => Col::Float(
                to(DataType::Float64)?.as_primitive::<Float64Type>().clone(),
                pg,
            ),
            Input::Decimal => {
                let scale = match array.data_type() {
                    DataType::Decimal128(_, s) | DataType::Decimal256(_, s) => *s,
                    _ => 0,
                };
                let d = to(DataType::Decimal128(38, scale))
                    .map_err(|e| format!("wider than 38 digits: {e}"))?;
                Col::Decimal(d.as_primitive::<Decimal128Type>().clone(), scale, pg)
            }
            Input::Text => Col::Text(to(DataType::Utf8)?.as_string::<i32>().clone(), pg),
            Input::Binary => Col::Binary(array.clone()),
            Input::Date => Col::Date(to(DataType::Date32)?.as_primitive::<Date32Type>().clone()),
            Input::Timestamp { .. } => {
                let unit = match array.data_type() {
                    DataType::Timestamp(u, _) => *u,
                    _ => TimeUnit::Microsecond,
                };
                let micros = to_micros(array, unit)?;
                Col::Micros(micros, array.clone())
            }
        })
    }

    /// Writes the value of `row`, or says why `target` cannot store it.
    fn write(&self, row: usize, target: &TargetColumn, buf: &mut BytesMut) -> Result<(), String> {
        if self.is_null(row) {
            if target.not_null {
                return Err("is NULL, and the column is NOT NULL".into());
            }
            buf.put_i32(-1);
            return Ok(());
        }
        if let Some(reason) = target.rules.iter().find_map(|r| self.breaks(row, r)) {
            return Err(reason);
        }
        match self {
            Col::Null => buf.put_i32(-1),
            Col::Bool(a) => {
                buf.put_i32(1);
                buf.put_u8(a.value(row) as u8);
            }
            Col::Int(a, pg) => write_int(a.value(row), *pg, buf)?,
            Col::Float(a, pg) => write_float(a.value(row), *pg, buf)?,
            Col::Decimal(a, scale, pg) => write_decimal(a.value(row), *scale, *pg, buf)?,
            Col::Text(a, pg) => write_text(a.value(row), *pg, buf)?,
            Col::Binary(a) => write_binary(a, row, buf)?,
            Col::Date(a) => {
                let days = a
                    .value(row)
                    .checked_sub(PG_EPOCH_DAYS)
                    .filter(|d| PG_DATE_RANGE.contains(d))
                    .ok_or("is out of range for date (4714 BC to 5874897 AD)")?;
                buf.put_i32(4);
                buf.put_i32(days);
            }
            Col::Micros(a, _) => {
                let micros = a
                    .value(row)
                    .checked_sub(PG_EPOCH_MICROS)
                    .filter(|m| PG_TIMESTAMP_RANGE.contains(m))
                    .ok_or("is out of range for a timestamp (4714 BC to 294276 AD)")?;
                buf.put_i32(8);
                buf.put_i64(micros);
            }
        }
        Ok(())
    }

    /// Why the value of `row` breaks `rule` (a non-null value).
    fn breaks(&self, row: usize, rule: &Rule) -> Option<String> {
        match self {
            Col::Text(a, _) => rule.text_breaks(a.value(row)),
            Col::Int(a, _) => rule.number_breaks(a.value(row) as f64),
            Col::Float(a, _) => rule.number_breaks(a.value(row)),
            Col::Decimal(a, scale, _) => {
                rule.number_breaks(a.value(row) as f64 / 10f64.powi(i32::from(*scale)))
            }
            _ => None,
        }
    }

    fn is_null(&self, row: usize) -> bool {
        match self {
            Col::Null => true,
            Col::Bool(a) => a.is_null(row),
            Col::Int(a, _) => a.is_null(row),
            Col::Float(a, _) => a.is_null(row),
            Col::Decimal(a, _, _) => a.is_null(row),
            Col::Text(a, _) => a.is_null(row),
            Col::Binary(a) => a.is_null(row),
            Col::Date(a) => a.is_null(row),
            Col::Micros(_, original) => original.is_null(row),
        }
    }
}
