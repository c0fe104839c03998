//! Round trips through the real server: random Arrow arrays of every mapped
//! type are encoded by padetl's COPY encoder into a column of the matching
//! Postgres type (read from the catalog, as the loader does), read back,
//! and compared exactly: NULLs anywhere, NaN and ±infinity, extreme dates
//! and timestamps, empty and non-ASCII strings. Then each way a value can
//! fail to fit, with its precise message.

use std::cell::RefCell;
use std::io::Write;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, FixedSizeBinaryArray,
    Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{Decimal128Type, DecimalType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use padetl::load::{CopyEncoder, PgType, TargetColumn};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::util::{client, url_for, TestDbs};

/// Days and µs between the Unix epoch and Postgres' (2000-01-01).
const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// One table `t (ord int8, v <type>)` in a database of its own.
struct Column {
    _dbs: TestDbs,
    pg: RefCell<postgres::Client>,
    pg_type: PgType,
}

impl Column {
    fn new(tag: &str, sql_type: &str) -> Self {
        let dbs = TestDbs::reserve(tag, 1);
        client("postgres")
            .batch_execute(&format!("CREATE DATABASE \"{}\"", dbs.names[0]))
            .expect("create the test database");
        let mut pg = postgres::Client::connect(&url_for(&dbs.names[0]), postgres::NoTls)
            .expect("connect to the test database");
        pg.batch_execute(&format!(
            "CREATE TABLE t (ord int8 PRIMARY KEY, v {sql_type})"
        ))
        .expect("create the column");
        let row = pg
            .query_one(
                "SELECT ty.typname::text, a.atttypmod FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid \
                 WHERE a.attrelid = 't'::regclass AND a.attname = 'v'",
                &[],
            )
            .expect("read the catalog");
        let pg_type = PgType::from_catalog(row.get(0), row.get(1)).expect("a mapped type");
        Column {
            _dbs: dbs,
            pg: RefCell::new(pg),
            pg_type,
        }
    }

    /// Encodes `values` as column `v` and copies them in, replacing what
    /// was there. `Err` is the encoder's message.
    fn load(&self, values: ArrayRef) -> Result<(), String> {
        let n = values.len() as i64;
        let schema = Arc::new(Schema::new(vec![
            Field::new("ord", datafusion::arrow::datatypes::DataType::Int64, false),
            Field::new("v", values.data_type().clone(), true),
        ]));
        let ord: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n));
        let batch =
            RecordBatch::try_new(schema.clone(), vec![ord, values]).map_err(|e| e.to_string())?;
        let columns = vec![
            TargetColumn::typed("ord", PgType::Int8),
            TargetColumn::typed("v", self.pg_type),
        ];
        let encoder = CopyEncoder::new("t", columns, &schema).map_err(|e| e.to_string())?;
        let mut buf = bytes::BytesMut::new();
        CopyEncoder::write_header(&mut buf);
        encoder
            .encode_batch(&batch, Some("ord"), &mut buf)
            .map_err(|e| e.to_string())?;
        CopyEncoder::write_trailer(&mut buf);
        let mut pg = self.pg.borrow_mut();
        pg.batch_execute("TRUNCATE t").expect("truncate");
        let mut writer = pg
            .copy_in("COPY t (ord, v) FROM STDIN (FORMAT binary)")
            .expect("start COPY");
        writer.write_all(&buf).expect("send COPY data");
        writer
            .finish()
            .map(|_| ())
            .map_err(|e| format!("server refused the COPY: {e}"))
    }

    /// Column `expr` of every row, in order.
    fn read<T: for<'a> postgres::types::FromSql<'a>>(&self, expr: &str) -> Vec<Option<T>> {
        self.pg
            .borrow_mut()
            .query(&format!("SELECT {expr} FROM t ORDER BY ord"), &[])
            .expect("read back")
            .iter()
            .map(|r| r.get(0))
            .collect()
    }
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    })
}

fn values<T: std::fmt::Debug>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Vec<Option<T>>> {
    proptest::collection::vec(proptest::option::weighted(0.8, s), 0..40)
}

fn check<T: PartialEq + std::fmt::Debug>(
    got: Vec<Option<T>>,
    want: Vec<Option<T>>,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(got, want);
    Ok(())
}

#[test]
fn integers_round_trip() {
    let c8 = Column::new("rt_int8", "int8");
    runner()
        .run(&values(any::<i64>()), |v| {
            c8.load(Arc::new(Int64Array::from(v.clone())))
                .map_err(TestCaseError::fail)?;
            check(c8.read::<i64>("v"), v)
        })
        .unwrap();
    let c4 = Column::new("rt_int4", "int4");
    runner()
        .run(&values(any::<i32>()), |v| {
            c4.load(Arc::new(Int32Array::from(v.clone())))
                .map_err(TestCaseError::fail)?;
            check(c4.read::<i32>("v"), v)
        })
        .unwrap();
    let c2 = Column::new("rt_int2", "int2");
    runner()
        .run(&values(any::<i16>()), |v| {
            c2.load(Arc::new(Int16Array::from(v.clone())))
                .map_err(TestCaseError::fail)?;
            check(c2.read::<i16>("v"), v)
        })
        .unwrap();
}

/// Bit-exact, with every NaN equal to every NaN.
fn same_f64(got: Vec<Option<f64>>, want: &[Option<f64>]) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| match (g, w) {
            (Some(g), Some(w)) => (g.is_nan() && w.is_nan()) || g.to_bits() == w.to_bits(),
            (g, w) => g.is_none() && w.is_none(),
        })
}

#[test]
fn floats_round_trip_with_nan_and_infinities() {
    let special = prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(f64::MIN_POSITIVE),
        Just(f64::MAX),
        any::<f64>()
    ];
    let c8 = Column::new("rt_f8", "float8");
    runner()
        .run(&values(special), |v| {
            c8.load(Arc::new(Float64Array::from(v.clone())))
                .map_err(TestCaseError::fail)?;
            prop_assert!(same_f64(c8.read::<f64>("v"), &v));
            Ok(())
        })
        .unwrap();
    let c4 = Column::new("rt_f4", "float4");
    runner()
        .run(&values(any::<f32>()), |v| {
            c4.load(Arc::new(Float32Array::from(v.clone())))
                .map_err(TestCaseError::fail)?;
            let got: Vec<Option<f64>> = c4
                .read::<f32>("v")
                .into_iter()
                .map(|x| x.map(f64::from))
                .collect();
            let want: Vec<Option<f64>> = v.iter().map(|x| x.map(f64::from)).collect();
            prop_assert!(same_f64(got, &want));
            Ok(())
        })
        .unwrap();
}

#[test]
fn decimals_round_trip_exactly() {
    let max = 10i128.pow(38) - 1;
    for (sql_type, scale) in [
        ("numeric", 0i8),
        ("numeric", 10),
        ("numeric(38,6)", 6),
        ("numeric(20,4)", 2),
    ] {
        let col = Column::new("rt_num", sql_type);
        let bound = if sql_type == "numeric(20,4)" {
            10i128.pow(18) - 1
        } else {
            max
        };
        runner()
            .run(&values(-bound..=bound), |v| {
                let array = Decimal128Array::from(v.clone())
                    .with_precision_and_scale(38, scale)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                col.load(Arc::new(array)).map_err(TestCaseError::fail)?;
                // What the column holds, written at the column's scale when it has one.
                let shown_scale = match sql_type {
                    "numeric(38,6)" => 6,
                    "numeric(20,4)" => 4,
                    _ => scale,
                };
                let want: Vec<Option<String>> = v
                    .iter()
                    .map(|x| {
                        x.map(|x| {
                            let rescaled = x * 10i128.pow((shown_scale - scale) as u32);
                            Decimal128Type::format_decimal(rescaled, 38, shown_scale)
                        })
                    })
                    .collect();
                check(col.read::<String>("v::text"), want)
            })
            .unwrap();
    }
}

fn no_nul() -> impl Strategy<Value = String> {
    any::<String>().prop_map(|s| s.replace('\0', ""))
}

#[test]
fn text_round_trips_with_unicode_and_empty_strings() {
    let text = Column::new("rt_text", "text");
    let corpus = prop_oneof![
        Just(String::new()),
        Just("Zürich · 東京 · 🚀".to_string()),
        no_nul()
    ];
    runner()
        .run(&values(corpus), |v| {
            text.load(Arc::new(StringArray::from(v.clone())))
                .map_err(TestCaseError::fail)?;
            check(text.read::<String>("v"), v)
        })
        .unwrap();
    let varchar = Column::new("rt_varchar", "varchar(12)");
    let short = no_nul().prop_map(|s| s.chars().take(12).collect::<String>());
    runner()
        .run(&values(short), |v| {
            varchar
                .load(Arc::new(StringArray::from(v.clone())))
                .map_err(TestCaseError::fail)?;
            check(varchar.read::<String>("v"), v)
        })
        .unwrap();
    let bpchar = Column::new("rt_bpchar", "char(3)");
    let code = "[A-Za-zé ]{0,3}".prop_map(|s: String| s);
    runner()
        .run(&values(code), |v| {
            bpchar
                .load(Arc::new(StringArray::from(v.clone())))
                .map_err(TestCaseError::fail)?;
            let padded: Vec<Option<String>> = v
                .iter()
                .map(|s| {
                    s.as_ref()
                        .map(|s| format!("{s}{}", " ".repeat(3 - s.chars().count())))
                })
                .collect();
            check(bpchar.read::<String>("v"), padded)
        })
        .unwrap();
}

#[test]
fn bool_bytea_and_uuid_round_trip() {
    let b = Column::new("rt_bool", "bool");
    runner()
        .run(&values(any::<bool>()), |v| {
            b.load(Arc::new(BooleanArray::from(v.clone())))
                .map_err(TestCaseError::fail)?;
            check(b.read::<bool>("v"), v)
        })
        .unwrap();
    let bytea = Column::new("rt_bytea", "bytea");
    runner()
        .run(
            &values(proptest::collection::vec(any::<u8>(), 0..64)),
            |v| {
                let array = BinaryArray::from(v.iter().map(|x| x.as_deref()).collect::<Vec<_>>());
                bytea.load(Arc::new(array)).map_err(TestCaseError::fail)?;
                check(bytea.read::<Vec<u8>>("v"), v)
            },
        )
        .unwrap();
    let uuid = Column::new("rt_uuid", "uuid");
    runner()
        .run(&values(any::<[u8; 16]>()), |v| {
            let array = FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                v.iter().map(|x| x.map(|b| b.to_vec())),
                16,
            )
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
            uuid.load(Arc::new(array)).map_err(TestCaseError::fail)?;
            let want: Vec<Option<String>> = v.iter().map(|x| x.map(|b| uuid_text(&b))).collect();
            check(uuid.read::<String>("v::text"), want.clone())?;
            // The same values as text load to the same UUIDs.
            uuid.load(Arc::new(StringArray::from(want.clone())))
                .map_err(TestCaseError::fail)?;
            check(uuid.read::<String>("v::text"), want)
        })
        .unwrap();
}

fn uuid_text(b: &[u8; 16]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[test]
fn dates_and_timestamps_round_trip_to_the_ends_of_their_ranges() {
    let date = Column::new("rt_date", "date");
    let days = prop_oneof![
        Just(-2_451_545 + PG_EPOCH_DAYS),
        Just(2_145_031_948 + PG_EPOCH_DAYS),
        Just(0),
        (-2_451_545 + PG_EPOCH_DAYS)..(2_145_031_948 + PG_EPOCH_DAYS)
    ];
    runner()
        .run(&values(days), |v| {
            date.load(Arc::new(Date32Array::from(v.clone())))
                .map_err(TestCaseError::fail)?;
            let want: Vec<Option<i32>> = v.iter().map(|d| d.map(|d| d - PG_EPOCH_DAYS)).collect();
            check(date.read::<i32>("v - date '2000-01-01'"), want)
        })
        .unwrap();
    let lo = -211_813_488_000_000_000 + PG_EPOCH_MICROS;
    let hi = 9_223_371_331_199_999_999 - PG_EPOCH_MICROS;
    let micros = prop_oneof![Just(lo), Just(hi), Just(0i64), lo..hi];
    for (sql_type, zone) in [("timestamp", None), ("timestamptz", Some("UTC"))] {
        let ts = Column::new("rt_ts", sql_type);
        runner()
            .run(&values(micros.clone()), |v| {
                let array = TimestampMicrosecondArray::from(v.clone()).with_timezone_opt(zone);
                ts.load(Arc::new(array)).map_err(TestCaseError::fail)?;
                let got =
                    ts.read::<String>("((extract(epoch FROM v) * 1000000)::numeric(30,0))::text");
                let want: Vec<Option<String>> =
                    v.iter().map(|m| m.map(|m| m.to_string())).collect();
                check(got, want)
            })
            .unwrap();
    }
}

#[test]
fn json_round_trips_and_jsonb_normalises_like_postgres() {
    let col = Column::new("rt_jsonb", "jsonb");
    let docs = vec![
        Some(r#"{"b": 1, "a": [true, null, "x"]}"#.to_string()),
        None,
        Some(r#""Zürich 🚀""#.to_string()),
        Some("[]".to_string()),
        Some(r#"{"raw": "{not json"}"#.to_string()),
        Some("12345678901234567890.123".to_string()),
    ];
    col.load(Arc::new(StringArray::from(docs.clone())))
        .expect("load jsonb");
    let same: Vec<Option<bool>> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            d.as_ref().map(|d| {
                col.pg
                    .borrow_mut()
                    .query_one(
                        "SELECT v = $1::text::jsonb FROM t WHERE ord = $2",
                        &[d as &(dyn postgres::types::ToSql + Sync), &(i as i64)],
                    )
                    .expect("compare")
                    .get(0)
            })
        })
        .collect();
    assert_eq!(
        same,
        docs.iter()
            .map(|d| d.as_ref().map(|_| true))
            .collect::<Vec<_>>()
    );
}

/// Loads one value into a fresh `v <sql_type>` column; returns the error.
fn refused(col: &Column, value: ArrayRef) -> String {
    match col.load(value) {
        Err(message) => message,
        Ok(()) => panic!("a {:?} column accepted the value", col.pg_type),
    }
}

#[test]
fn each_value_that_does_not_fit_is_refused_with_its_reason() {
    let prefix = "table t: value of column `v` in the row with key ord=0";
    let cases: Vec<(&str, ArrayRef, &str)> = vec![
        (
            "int2",
            Arc::new(Int64Array::from(vec![40_000])),
            "(40000) is out of range for smallint",
        ),
        (
            "int4",
            Arc::new(Int64Array::from(vec![i64::MAX])),
            "(9223372036854775807) is out of range for integer",
        ),
        (
            "varchar(3)",
            Arc::new(StringArray::from(vec!["abcd"])),
            "is 4 characters long; the column holds 3",
        ),
        (
            "text",
            Arc::new(StringArray::from(vec!["a\0b"])),
            "contains a NUL character",
        ),
        (
            "jsonb",
            Arc::new(StringArray::from(vec!["{not json"])),
            "is not valid JSON",
        ),
        (
            "uuid",
            Arc::new(StringArray::from(vec!["not-a-uuid"])),
            "(`not-a-uuid`) is not a UUID",
        ),
        (
            "numeric(6,2)",
            Arc::new(
                Decimal128Array::from(vec![1_234_567])
                    .with_precision_and_scale(38, 3)
                    .unwrap(),
            ),
            "(1234.567) has more than 2 decimal places (the column would round it)",
        ),
        (
            "numeric(4,2)",
            Arc::new(
                Decimal128Array::from(vec![123_450])
                    .with_precision_and_scale(38, 2)
                    .unwrap(),
            ),
            "(1234.50) needs 4 integer digits; the column allows 2",
        ),
        (
            "float4",
            Arc::new(Float64Array::from(vec![1e300])),
            "(1e300) is out of range for real",
        ),
        (
            "date",
            Arc::new(Date32Array::from(vec![i32::MAX])),
            "is out of range for date",
        ),
        (
            "timestamp",
            Arc::new(TimestampMicrosecondArray::from(vec![
                -300_000_000_000_000_000,
            ])),
            "is out of range for a timestamp",
        ),
    ];
    for (sql_type, value, reason) in cases {
        let col = Column::new("rt_fit", sql_type);
        let message = refused(&col, value);
        assert!(
            message.starts_with(prefix)
                && message.contains(reason)
                && message.ends_with("nothing was written"),
            "{sql_type}: {message}"
        );
        let rows: i64 = col
            .pg
            .borrow_mut()
            .query_one("SELECT count(*) FROM t", &[])
            .unwrap()
            .get(0);
        assert_eq!(rows, 0, "{sql_type}: something was written");
    }
}
