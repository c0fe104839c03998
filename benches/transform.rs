//! Re-keying and checks in DataFusion, without databases: the shared
//! pipeline's `pad_request` transform over one page of 50,000 legacy rows
//! (two keymap joins of 50,000 employees and 40,000 securities), and the page
//! checks of a pipeline with a check of every page kind; and building a
//! keymap of 500,000 employees a side.
//!
//!     cargo bench --bench transform

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use datafusion::arrow::array::{
    ArrayRef, Decimal128Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use padetl::checks::Checks;
use padetl::config::{load_pipeline, CheckKind, CheckSpec, Ident, Policy};
use padetl::transform::{split_rejected, Rejections, TransformSession};

const PAGE: i64 = 50_000;
const EMPLOYEES: i64 = 50_000;
const SECURITIES: i64 = 40_000;

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|(_, a)| a).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("batch")
}

fn ints(f: impl Fn(i64) -> Option<i64>, n: i64) -> ArrayRef {
    Arc::new(Int64Array::from_iter((0..n).map(f)))
}

fn texts(f: impl Fn(i64) -> Option<String>, n: i64) -> ArrayRef {
    Arc::new(StringArray::from_iter((0..n).map(f)))
}

fn decimals(f: impl Fn(i64) -> i128, n: i64) -> ArrayRef {
    Arc::new(
        Decimal128Array::from_iter_values((0..n).map(f))
            .with_precision_and_scale(38, 10)
            .expect("decimal"),
    )
}

/// Key sets as the keymap queries return them; ids differ between sides,
/// natural keys are shared, 3% of source employees have left.
fn employees(side_offset: i64, n: i64) -> RecordBatch {
    batch(vec![
        ("id", ints(|i| Some(side_offset + i), n)),
        ("mako_id", texts(|i| Some(format!("MK{i:06}")), n)),
        ("email", texts(|i| Some(format!("person{i}@mako.com")), n)),
    ])
}

fn securities(side_offset: i64, n: i64) -> RecordBatch {
    batch(vec![
        ("id", ints(|i| Some(side_offset + i), n)),
        ("isin", texts(|i| Some(format!("GB{i:09}")), n)),
        ("bloomberg", texts(|i| Some(format!("BB{i}")), n)),
        ("ticker", texts(|i| Some(format!("TK{i}")), n)),
    ])
}

/// One page of legacy requests, in the shape connectorx gives them.
fn requests() -> RecordBatch {
    let h = |i: i64| i.wrapping_mul(2_654_435_761) & 0x7fff_ffff;
    batch(vec![
        ("id", ints(|i| Some(i + 1), PAGE)),
        (
            "employee_id",
            ints(|i| Some(1_000 + h(i) % EMPLOYEES), PAGE),
        ),
        (
            "security_id",
            ints(
                |i| (i % 20 != 0).then(|| 2_000 + h(i * 7) % SECURITIES),
                PAGE,
            ),
        ),
        (
            "ticker",
            texts(|i| Some(format!("TK{}", h(i * 7) % SECURITIES)), PAGE),
        ),
        (
            "direction",
            texts(|i| Some(if i % 2 == 0 { "B" } else { "S" }.into()), PAGE),
        ),
        (
            "quantity",
            decimals(|i| (1 + h(i) % 5000) as i128 * 10_000_000_000, PAGE),
        ),
        (
            "price",
            decimals(|i| (h(i * 5) % 100_000_000) as i128 * 1_000_000, PAGE),
        ),
        (
            "currency",
            texts(
                |i| Some(["gbp", "USD", "eur", "CHF"][(i % 4) as usize].into()),
                PAGE,
            ),
        ),
        (
            "status",
            texts(
                |i| Some(["PENDING", "APPROVED", "EXECUTED"][(i % 3) as usize].into()),
                PAGE,
            ),
        ),
        ("reason", texts(|_| Some("Rebalancing".into()), PAGE)),
        (
            "created_at",
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    (0..PAGE).map(|i| 1_700_000_000_000_000 + i * 60_000_000),
                )
                .with_timezone("UTC"),
            ),
        ),
    ])
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut pipeline = load_pipeline(std::path::Path::new("pipelines/dev.toml"), None)
        .expect("run from the repository root: pipelines/dev.toml");
    let spec = pipeline
        .tables
        .iter()
        .find(|t| t.name.as_str() == "pad_request")
        .expect("pad_request")
        .clone();
    let session = TransformSession::new().expect("session");
    for km in &pipeline.keymaps {
        let (source, target) = match km.name.as_str() {
            "employee" => (
                employees(1_000, EMPLOYEES * 97 / 100),
                employees(900_000, EMPLOYEES),
            ),
            _ => (
                securities(2_000, SECURITIES),
                securities(700_000, SECURITIES),
            ),
        };
        session
            .add_keymap(km, vec![source], vec![target])
            .expect("keymap");
    }
    for t in &pipeline.tables {
        session
            .set_rejected(t.name.as_str(), &[])
            .expect("rejected");
    }
    let page = requests();

    let mut group = c.benchmark_group("transform");
    group.throughput(Throughput::Elements(PAGE as u64));
    group.sample_size(20);
    group.bench_function("rekey pad_request, 50k rows", |b| {
        b.iter(|| {
            rt.block_on(session.transform(&spec, page.clone()))
                .expect("transform")
        })
    });

    let column = |c: &str| Ident::parse(c).expect("ident");
    let check = |name: &str, kind: CheckKind| CheckSpec {
        name: column(name),
        table: column("pad_request"),
        kind,
        policy: Policy::Warn,
    };
    pipeline.checks = vec![
        check(
            "employee",
            CheckKind::References {
                keymap: column("employee"),
                column: column("employee_id"),
            },
        ),
        check(
            "security",
            CheckKind::NotNull {
                column: column("security_id"),
            },
        ),
        check(
            "currency",
            CheckKind::AcceptedValues {
                column: column("currency"),
                values: vec!["GBP".into(), "USD".into(), "EUR".into()],
            },
        ),
        check(
            "quantity",
            CheckKind::Range {
                column: column("quantity"),
                min: Some("0.0001".into()),
                max: None,
            },
        ),
    ];
    let out = rt
        .block_on(session.transform(&spec, page.clone()))
        .expect("transform");
    let mut rejections = Rejections::default();
    let out = datafusion::arrow::compute::concat_batches(&out[0].schema(), &out).expect("concat");
    let kept = split_rejected(&out, "id", &mut rejections).expect("split");
    group.throughput(Throughput::Elements(kept.num_rows() as u64));
    group.bench_function("four page checks, pad_request", |b| {
        b.iter(|| {
            let mut checks = Checks::new(&pipeline, vec![], true);
            rt.block_on(checks.page(&session, &spec, kept.clone()))
                .expect("checks")
        })
    });
    group.finish();
}

/// Building the employee keymap at the bench's 10M scale: 500,000
/// employees on each side, 3% of the source's gone from the target.
fn keymap_build(c: &mut Criterion) {
    let pipeline = load_pipeline(std::path::Path::new("pipelines/dev.toml"), None)
        .expect("run from the repository root: pipelines/dev.toml");
    let km = pipeline
        .keymaps
        .iter()
        .find(|k| k.name.as_str() == "employee")
        .expect("employee keymap");
    let n = 500_000;
    let (source, target) = (employees(1_000, n * 97 / 100), employees(900_000, n));
    let mut group = c.benchmark_group("keymap");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    group.bench_function("build employee, 500k a side", |b| {
        b.iter(|| {
            TransformSession::new()
                .expect("session")
                .add_keymap(km, vec![source.clone()], vec![target.clone()])
                .expect("keymap")
        })
    });
    group.finish();
}

criterion_group!(benches, bench, keymap_build);
criterion_main!(benches);
