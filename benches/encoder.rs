//! The Arrow → binary COPY encoder alone, per Postgres type: 100,000 rows
//! of one column each, encoded into memory. Throughput is in bytes of COPY
//! output; rows/s is 100,000 ÷ the time per iteration.
//!
//!     cargo bench --bench encoder

use std::sync::Arc;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Decimal128Array, FixedSizeBinaryArray, Float64Array, Int64Array,
    StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use padetl::load::{CopyEncoder, PgType, TargetColumn};

const ROWS: usize = 100_000;

/// `(name, target type, column)`: deterministic values, a NULL every 17th row.
fn columns() -> Vec<(&'static str, PgType, ArrayRef)> {
    let n = ROWS as i64;
    let null = |i: i64| i % 17 == 0;
    vec![
        (
            "int8",
            PgType::Int8,
            Arc::new(Int64Array::from_iter(
                (0..n).map(|i| (!null(i)).then_some(i * 7919)),
            )),
        ),
        (
            "float8",
            PgType::Float8,
            Arc::new(Float64Array::from_iter(
                (0..n).map(|i| (!null(i)).then_some(i as f64 * 1.25)),
            )),
        ),
        (
            "numeric(20,6)",
            PgType::Numeric {
                precision: Some(20),
                scale: Some(6),
            },
            Arc::new(
                Decimal128Array::from_iter(
                    (0..n).map(|i| (!null(i)).then_some(i as i128 * 12_345_670_000)),
                )
                .with_precision_and_scale(38, 10)
                .expect("decimal"),
            ),
        ),
        (
            "text",
            PgType::Text,
            Arc::new(StringArray::from_iter(
                (0..n).map(|i| (!null(i)).then(|| format!("request {i} for VOD LN"))),
            )),
        ),
        (
            "jsonb",
            PgType::Jsonb,
            Arc::new(StringArray::from_iter((0..n).map(|i| {
                (!null(i)).then(|| format!(r#"{{"request": {i}, "note": "approved"}}"#))
            }))),
        ),
        (
            "timestamptz",
            PgType::Timestamptz,
            Arc::new(
                TimestampMicrosecondArray::from_iter(
                    (0..n).map(|i| (!null(i)).then_some(1_700_000_000_000_000 + i)),
                )
                .with_timezone("UTC"),
            ),
        ),
        (
            "bool",
            PgType::Bool,
            Arc::new(BooleanArray::from_iter(
                (0..n).map(|i| (!null(i)).then_some(i % 2 == 0)),
            )),
        ),
        (
            "uuid",
            PgType::Uuid,
            Arc::new(
                FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                    (0..n).map(|i| (!null(i)).then(|| (i as u128).to_be_bytes().to_vec())),
                    16,
                )
                .expect("uuid"),
            ),
        ),
    ]
}

fn encode(encoder: &CopyEncoder, batch: &RecordBatch, buf: &mut BytesMut) {
    buf.clear();
    encoder.encode_batch(batch, None, buf).expect("encodes");
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("encoder");
    for (name, pg_type, array) in columns() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "v",
            array.data_type().clone(),
            true,
        )]));
        let batch = RecordBatch::try_new(schema.clone(), vec![array]).expect("batch");
        let encoder = CopyEncoder::new("bench", vec![TargetColumn::typed("v", pg_type)], &schema)
            .expect("encoder");
        let mut buf = BytesMut::with_capacity(ROWS * 64);
        encode(&encoder, &batch, &mut buf);
        group.throughput(Throughput::Bytes(buf.len() as u64));
        group.bench_with_input(BenchmarkId::new(name, ROWS), &batch, |b, batch| {
            b.iter(|| encode(&encoder, batch, &mut buf))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
