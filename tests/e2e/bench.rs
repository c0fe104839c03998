//! `padetl bench` at a tiny scale: every tool row is measured (pgloader's is
//! skipped with a reason when it is not installed), and the Markdown and
//! JSON results are written. Speed itself is never asserted here.

use serde_json::Value;

use crate::util::{count, padetl, unique_name, TestDbs};

#[test]
fn bench_measures_every_tool_and_writes_its_results() {
    let prefix = unique_name("bench");
    let _dbs = TestDbs {
        names: ["source", "pipe", "restore", "pgloader", "target"]
            .iter()
            .map(|d| format!("{prefix}_{d}"))
            .collect(),
    };
    let out = std::env::temp_dir().join(format!("{prefix}_out"));
    let stdout = padetl("postgres", "postgres")
        .args([
            "bench", "--rows", "300", "--quiet", "--json", "--prefix", &prefix,
        ])
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let results: Value = serde_json::from_slice(&stdout).expect("JSON results");
    let r = &results[0];
    assert_eq!(r["requests"], 300);
    let source = format!("{prefix}_source");
    // The dataset as generated: the incremental rows add requests above
    // the 300 generated, with their approvals and audit rows.
    let rows: i64 = [
        "pad_request WHERE id <= 300",
        "pad_approval WHERE request_id <= 300",
        "pad_execution",
        "pad_breach",
        "audit_logs WHERE request_id IS NULL OR request_id <= 300",
    ]
    .iter()
    .map(|t| count(&source, &format!("pa_dealing.{t}")))
    .sum();
    assert_eq!(r["rows"].as_i64(), Some(rows));
    for m in r["measurements"].as_array().unwrap() {
        let tool = m["tool"].as_str().unwrap();
        if tool.starts_with("pgloader") && m["seconds"].is_null() {
            assert!(m["note"].as_str().unwrap().contains("not installed"), "{m}");
            continue;
        }
        assert!(m["seconds"].as_f64().unwrap() > 0.0, "{m}");
        assert!(m["peak_rss_mb"].as_f64().unwrap() > 0.0, "{m}");
        assert!(m["vs_copy_pipe"].as_f64().unwrap() > 0.0, "{m}");
        assert!(m["vs_dump_restore"].as_f64().unwrap() > 0.0, "{m}");
    }
    let tools: Vec<&str> = r["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["tool"].as_str().unwrap())
        .collect();
    assert!(
        tools.iter().any(|t| t.starts_with("pg_dump -Fd")),
        "{tools:?}"
    );
    assert!(
        tools.iter().any(|t| t.starts_with("padetl rerun")),
        "{tools:?}"
    );
    let markdown = std::fs::read_to_string(out.join("bench-300.md")).expect("Markdown results");
    assert!(
        markdown.contains("| padetl, re-keying + every check |"),
        "{markdown}"
    );
    assert!(out.join("bench-300.json").is_file());
    let _ = std::fs::remove_dir_all(&out);
}
