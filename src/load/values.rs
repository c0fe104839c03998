//! One value in Postgres' binary COPY form, by target type: the writers the
//! encoder's row loop calls. Each says why a value does not fit instead of
//! rounding, truncating or wrapping it.

use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, TimeUnit};

use super::numeric::{fit_decimal, write_numeric};
use super::pgtype::PgType;

/// Any timestamp unit → microseconds; nanoseconds only when nothing is lost.
pub(super) fn to_micros(
    array: &ArrayRef,
    unit: TimeUnit,
) -> Result<datafusion::arrow::array::TimestampMicrosecondArray, String> {
    use datafusion::arrow::array::TimestampMicrosecondArray;
    use datafusion::arrow::datatypes::{
        TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
    };
    let out: Vec<Option<i64>> = match unit {
        TimeUnit::Microsecond => {
            return Ok(array
                .as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>()
                .clone()
                .with_timezone_opt(None::<Arc<str>>))
        }
        TimeUnit::Second => array
            .as_primitive::<TimestampSecondType>()
            .iter()
            .map(|v| v.map(|v| v.checked_mul(1_000_000)))
            .map(|v| v.flatten())
            .collect(),
        TimeUnit::Millisecond => array
            .as_primitive::<TimestampMillisecondType>()
            .iter()
            .map(|v| v.and_then(|v| v.checked_mul(1_000)))
            .collect(),
        TimeUnit::Nanosecond => {
            let a = array.as_primitive::<TimestampNanosecondType>();
            if a.iter().flatten().any(|v| v % 1_000 != 0) {
                return Err(
                    "has sub-microsecond digits, which Postgres timestamps cannot hold".into(),
                );
            }
            a.iter().map(|v| v.map(|v| v / 1_000)).collect()
        }
    };
    if out
        .iter()
        .zip(0..)
        .any(|(v, i)| v.is_none() && array.is_valid(i))
    {
        return Err("is out of range for a timestamp".into());
    }
    Ok(TimestampMicrosecondArray::from(out))
}

pub(super) fn write_int(v: i64, pg: PgType, buf: &mut BytesMut) -> Result<(), String> {
    match pg {
        PgType::Int2 => {
            let v = i16::try_from(v).map_err(|_| format!("({v}) is out of range for smallint"))?;
            buf.put_i32(2);
            buf.put_i16(v);
        }
        PgType::Int4 => {
            let v = i32::try_from(v).map_err(|_| format!("({v}) is out of range for integer"))?;
            buf.put_i32(4);
            buf.put_i32(v);
        }
        PgType::Int8 => {
            buf.put_i32(8);
            buf.put_i64(v);
        }
        PgType::Float8 => {
            if (v as f64) as i64 != v {
                return Err(format!(
                    "({v}) is not exactly representable as double precision"
                ));
            }
            buf.put_i32(8);
            buf.put_f64(v as f64);
        }
        _ => write_decimal(v as i128, 0, pg, buf)?,
    }
    Ok(())
}

pub(super) fn write_float(v: f64, pg: PgType, buf: &mut BytesMut) -> Result<(), String> {
    if pg == PgType::Float4 {
        let f = v as f32;
        if v.is_finite() && !f.is_finite() {
            return Err(format!("({v:?}) is out of range for real"));
        }
        buf.put_i32(4);
        buf.put_f32(f);
    } else {
        buf.put_i32(8);
        buf.put_f64(v);
    }
    Ok(())
}

pub(super) fn write_decimal(
    v: i128,
    scale: i8,
    pg: PgType,
    buf: &mut BytesMut,
) -> Result<(), String> {
    match pg {
        PgType::Numeric {
            precision,
            scale: target,
        } => {
            let (v, s) = fit_decimal(v, scale, precision, target)
                .map_err(|e| format!("({}) {e}", show_decimal(v, scale)))?;
            write_numeric(v, s, buf);
            Ok(())
        }
        int => {
            let (whole, _) = fit_decimal(v, scale, None, Some(0))
                .map_err(|_| format!("({}) has a fraction", show_decimal(v, scale)))?;
            let whole = i64::try_from(whole)
                .map_err(|_| format!("({}) is out of range", show_decimal(v, scale)))?;
            write_int(whole, int, buf)
        }
    }
}

fn show_decimal(v: i128, scale: i8) -> String {
    <Decimal128Type as datafusion::arrow::datatypes::DecimalType>::format_decimal(v, 38, scale)
}

pub(super) fn write_text(s: &str, pg: PgType, buf: &mut BytesMut) -> Result<(), String> {
    if s.contains('\0') {
        return Err("contains a NUL character, which Postgres text cannot hold".into());
    }
    let limit = match pg {
        PgType::Varchar { max_chars } => max_chars,
        PgType::Bpchar { chars } => chars,
        _ => None,
    };
    if let Some(n) = limit {
        let len = s.chars().count();
        if len > n as usize {
            return Err(format!("is {len} characters long; the column holds {n}"));
        }
    }
    match pg {
        PgType::Json | PgType::Jsonb => {
            serde_json::from_str::<serde::de::IgnoredAny>(s)
                .map_err(|e| format!("is not valid JSON ({e})"))?;
            let jsonb = pg == PgType::Jsonb;
            buf.put_i32(s.len() as i32 + jsonb as i32);
            if jsonb {
                buf.put_u8(1);
            }
            buf.put_slice(s.as_bytes());
        }
        PgType::Uuid => {
            let bytes = parse_uuid(s).ok_or_else(|| format!("(`{s}`) is not a UUID"))?;
            buf.put_i32(16);
            buf.put_slice(&bytes);
        }
        _ => {
            buf.put_i32(s.len() as i32);
            buf.put_slice(s.as_bytes());
        }
    }
    Ok(())
}

pub(super) fn write_binary(a: &ArrayRef, row: usize, buf: &mut BytesMut) -> Result<(), String> {
    let bytes: &[u8] = match a.data_type() {
        DataType::Binary => a.as_binary::<i32>().value(row),
        DataType::LargeBinary => a.as_binary::<i64>().value(row),
        DataType::BinaryView => a.as_binary_view().value(row),
        DataType::FixedSizeBinary(_) => a.as_fixed_size_binary().value(row),
        other => return Err(format!("{other} is not binary")),
    };
    let len = i32::try_from(bytes.len()).map_err(|_| "is larger than 2 GiB".to_string())?;
    buf.put_i32(len);
    buf.put_slice(bytes);
    Ok(())
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (or 32 hex digits) → 16 bytes.
fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = s.bytes().filter(|b| *b != b'-').collect();
    if hex.len() != 32 || (s.len() != 32 && s.len() != 36) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}
