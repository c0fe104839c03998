//! Turns the source's naive timestamps into UTC instants, given the zone the
//! source wrote them in. Every naive timestamp needs a stated zone; this is
//! where the statement is applied, once, before any SQL sees the data.
//!
//! Local times that occur twice (autumn) or never (spring) are resolved the
//! way Postgres resolves `timestamp AT TIME ZONE`: as standard time, so that
//! padetl and the app's own SQL migrations agree on every row.

use std::sync::Arc;

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeZone};
use chrono_tz::{OffsetComponents, Tz};
use datafusion::arrow::array::{Array, ArrayRef, TimestampMicrosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;

/// Converts every `Timestamp(_, None)` column of `batch` to
/// `Timestamp(Microsecond, "UTC")`, reading the values as local time in `tz`.
pub fn localize_batch(batch: &RecordBatch, tz: Tz) -> Result<RecordBatch, String> {
    let schema = batch.schema();
    if !schema
        .fields()
        .iter()
        .any(|f| is_naive_timestamp(f.data_type()))
    {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if is_naive_timestamp(field.data_type()) {
            let localized =
                localize_array(column, tz).map_err(|e| format!("column {}: {e}", field.name()))?;
            fields.push(Field::new(
                field.name(),
                localized.data_type().clone(),
                field.is_nullable(),
            ));
            columns.push(localized);
        } else {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| e.to_string())
}

fn is_naive_timestamp(t: &DataType) -> bool {
    matches!(t, DataType::Timestamp(_, None))
}

fn localize_array(column: &ArrayRef, tz: Tz) -> Result<ArrayRef, String> {
    let micros = cast(column, &DataType::Timestamp(TimeUnit::Microsecond, None))
        .map_err(|e| e.to_string())?;
    let micros = micros
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .ok_or("timestamp column did not cast to microseconds")?;
    let mut out = Vec::with_capacity(micros.len());
    for v in micros.iter() {
        out.push(match v {
            Some(v) => Some(local_micros_to_utc(v, tz)?),
            None => None,
        });
    }
    Ok(Arc::new(
        TimestampMicrosecondArray::from(out).with_timezone("UTC"),
    ))
}

/// Microseconds of a local wall-clock time in `tz` → microseconds since the UTC epoch.
pub fn local_micros_to_utc(local: i64, tz: Tz) -> Result<i64, String> {
    let naive = DateTime::from_timestamp_micros(local)
        .ok_or_else(|| format!("timestamp {local}µs is out of range"))?
        .naive_utc();
    let utc = match tz.offset_from_local_datetime(&naive) {
        LocalResult::Single(off) => naive - off.fix(),
        LocalResult::Ambiguous(a, b) => {
            let standard = if a.dst_offset().is_zero() { a } else { b };
            naive - standard.fix()
        }
        LocalResult::None => naive - offset_before_gap(naive, tz),
    };
    Ok(utc.and_utc().timestamp_micros())
}

/// A local time inside a spring-forward gap is read with the offset in force
/// before the gap, as Postgres does.
fn offset_before_gap(naive: NaiveDateTime, tz: Tz) -> chrono::FixedOffset {
    let before = naive - chrono::Duration::hours(6);
    tz.offset_from_utc_datetime(&before).fix()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn micros(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
            .and_utc()
            .timestamp_micros()
    }

    #[test]
    fn london_matches_postgres_at_time_zone() {
        let tz: Tz = "Europe/London".parse().unwrap();
        // summer: BST, one hour ahead of UTC
        assert_eq!(
            local_micros_to_utc(micros(2023, 7, 1, 12, 0), tz).unwrap(),
            micros(2023, 7, 1, 11, 0)
        );
        // winter: GMT
        assert_eq!(
            local_micros_to_utc(micros(2023, 1, 1, 12, 0), tz).unwrap(),
            micros(2023, 1, 1, 12, 0)
        );
        // 01:30 happens twice on 2023-10-29: Postgres reads it as GMT
        assert_eq!(
            local_micros_to_utc(micros(2023, 10, 29, 1, 30), tz).unwrap(),
            micros(2023, 10, 29, 1, 30)
        );
        // 01:30 never happens on 2023-03-26: Postgres reads it as GMT
        assert_eq!(
            local_micros_to_utc(micros(2023, 3, 26, 1, 30), tz).unwrap(),
            micros(2023, 3, 26, 1, 30)
        );
    }
}
