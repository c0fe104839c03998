//! The dashboard in a real browser: `padetl serve` on the demo's target
//! and on the QA-like TLS server (a SELECT-only role), each page loaded in
//! headless Chromium and checked against independent SQL; status codes and
//! headers with a plain HTTP request (a browser's DOM dump hides a 404).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::qa_server::{qa_server, QaDbs};
use crate::util::{
    client, padetl, repo, schema_fingerprint, schema_fingerprint_of, unique_name, url_for, TestDbs,
};

/// A running `padetl serve`, stopped when dropped.
pub struct Dashboard {
    child: Child,
    pub addr: String,
}

impl Dashboard {
    /// `padetl serve <pipeline> --bind 127.0.0.1:0` with `env` set; waits
    /// for the line that says where it listens.
    pub fn start(pipeline: &str, env: &[(&str, String)], env_file: Option<&PathBuf>) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_padetl"));
        cmd.current_dir(repo())
            .args(["serve", pipeline, "--bind", "127.0.0.1:0"])
            .env_remove("PADETL_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(file) = env_file {
            cmd.arg("--env-file").arg(file);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("padetl serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the address line");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("padetl serve said: {line}"))
            .to_string();
        Dashboard { child, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A plain HTTP/1.1 request: status, headers (lower-case names), body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        host: Option<&str>,
    ) -> (u16, Vec<(String, String)>, String) {
        let mut s = TcpStream::connect(&self.addr).expect("connect");
        let host = host.unwrap_or(&self.addr);
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut raw = String::new();
        s.read_to_string(&mut raw).expect("read");
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .expect("a status line");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        (status, headers, body.to_string())
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        let (status, _, body) = self.request("GET", path, None);
        (status, body)
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The DOM after headless Chromium loaded `url`. A missing browser fails
/// the test with the command that installs it.
pub fn browser_dom(url: &str) -> String {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
        .unwrap_or_else(|| {
            panic!("no Chromium for the browser tests: install it with `apt-get install -y chromium` (.ci/run does)")
        });
    let profile = std::env::temp_dir().join(unique_name("chromium"));
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(profile);
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `12,345` as the dashboard writes counts.
fn with_commas(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The dashboard shows `counts` (status → n) as the overview's tile does.
fn assert_status_tile(dom: &str, counts: &[(String, i64)]) {
    assert!(!counts.is_empty());
    for (status, n) in counts {
        let shown = format!(
            "status={status}\">{}</a></dt><dd>{}</dd>",
            status.replace('_', " "),
            with_commas(*n)
        );
        assert!(
            dom.contains(&shown),
            "the overview shows {status}: {n} ({shown})"
        );
    }
}

/// One request as the target's own tables and reference data have it.
struct Known {
    reference_id: String,
    employee: String,
    mako_id: String,
    ticker: String,
}

fn known_request(c: &mut postgres::Client) -> Known {
    let r = c
        .query_one(
            "SELECT r.reference_id, e.first_name || ' ' || e.last_name, e.mako_id, b.ticker \
             FROM padealing.pad_request r JOIN bo_airflow.oracle_employee e ON e.id = r.employee_id \
             JOIN bo_airflow.oracle_bloomberg b ON b.id = r.security_id ORDER BY r.id LIMIT 1",
            &[],
        )
        .expect("a request with both references");
    Known {
        reference_id: r.get(0),
        employee: r.get(1),
        mako_id: r.get(2),
        ticker: r.get(3),
    }
}

fn status_counts(c: &mut postgres::Client) -> Vec<(String, i64)> {
    c.query(
        "SELECT status, count(*) FROM padealing.pad_request GROUP BY 1 ORDER BY 1",
        &[],
    )
    .expect("counts")
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

#[test]
fn the_dashboard_shows_the_demo_targets_data_as_its_reference_tables_have_it() {
    let dbs = TestDbs::reserve("dash", 2);
    let (src, tgt) = (&dbs.names[0], &dbs.names[1]);
    padetl(src, tgt)
        .args(["demo", "--rows", "300", "--quiet"])
        .assert()
        .success();
    let mut c = client(tgt);
    let known = known_request(&mut c);
    // The nightly sync removes an employee who still has requests.
    let orphan: (String, i64) = {
        let r = c
            .query_one(
                "SELECT r.reference_id, r.employee_id FROM padealing.pad_request r \
                 WHERE r.reference_id <> $1 ORDER BY r.id DESC LIMIT 1",
                &[&known.reference_id],
            )
            .expect("another request");
        (r.get(0), r.get(1))
    };
    c.execute(
        "DELETE FROM bo_airflow.oracle_employee WHERE id = $1",
        &[&orphan.1],
    )
    .expect("the sync drops an employee");
    let before = (
        schema_fingerprint(tgt, "bo_airflow"),
        schema_fingerprint(tgt, "padealing"),
    );

    let dash = Dashboard::start(
        "pipelines/dev.toml",
        &[
            ("SOURCE_DATABASE_URL", url_for(src)),
            ("TARGET_DATABASE_URL", url_for(tgt)),
        ],
        None,
    );
    let overview = browser_dom(&dash.url("/"));
    assert_status_tile(&overview, &status_counts(&mut c));
    assert!(
        overview.contains("<svg class=\"chart\""),
        "the chart is drawn"
    );
    let orphans: i64 = c
        .query_one(
            "SELECT count(*) FROM padealing.pad_request r WHERE NOT EXISTS \
             (SELECT 1 FROM bo_airflow.oracle_employee e WHERE e.id = r.employee_id)",
            &[],
        )
        .expect("orphans")
        .get(0);
    assert!(overview.contains(&format!(
        "<code>pad_request.employee_id</code></dt><dd>{}</dd>",
        with_commas(orphans)
    )));

    let page = browser_dom(&dash.url(&format!("/requests/{}", known.reference_id)));
    for shown in [&known.employee, &known.mako_id, &known.ticker] {
        assert!(page.contains(shown.as_str()), "request page shows {shown}");
    }
    let page = browser_dom(&dash.url(&format!("/requests/{}", orphan.0)));
    assert!(
        page.contains(&format!("unknown #{}", orphan.1)),
        "an orphan shows as unknown"
    );

    let filtered = browser_dom(&dash.url(&format!(
        "/requests?employee={}",
        known.mako_id.to_lowercase()
    )));
    let expected: i64 = c
        .query_one(
            "SELECT count(*) FROM padealing.pad_request r JOIN bo_airflow.oracle_employee e \
             ON e.id = r.employee_id WHERE e.mako_id = $1",
            &[&known.mako_id],
        )
        .expect("count")
        .get(0);
    let rows = filtered.matches("href=\"/requests/PAD-").count() as i64;
    assert_eq!(
        rows,
        expected.min(50),
        "the filter narrows the list to {}: {}",
        known.mako_id,
        &filtered[filtered.len().saturating_sub(2000)..]
    );
    let all_rows = browser_dom(&dash.url("/requests"))
        .matches("href=\"/requests/PAD-")
        .count();
    assert!(all_rows as i64 > rows, "unfiltered shows more");

    for path in [
        "/approvals?pending=1",
        "/executions",
        "/breaches?open=1",
        "/audit",
        "/runs",
        "/quarantine",
    ] {
        let dom = browser_dom(&dash.url(path));
        assert!(dom.contains("<h1>"), "{path} renders");
        assert!(!dom.contains("@mako.com"), "{path} shows no e-mail address");
    }
    assert!(
        !overview.contains("@mako.com"),
        "the overview shows no e-mail address"
    );

    for (path, status) in [
        ("/", 200),
        ("/healthz", 200),
        ("/api/overview", 200),
        ("/static/app.css", 200),
        ("/requests/PAD-0000-000000", 404),
        ("/no/such/page", 404),
        ("/requests?status=bogus", 400),
    ] {
        assert_eq!(dash.get(path).0, status, "{path}");
    }
    let (status, headers, _) = dash.request("POST", "/", None);
    assert_eq!(status, 405);
    assert!(headers
        .iter()
        .any(|(k, v)| k == "allow" && v == "GET, HEAD"));
    assert_eq!(
        dash.request("GET", "/", Some("evil.example:8080")).0,
        421,
        "DNS rebinding"
    );
    let (_, headers, _) = dash.request("GET", "/", None);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert!(header("content-security-policy").is_some_and(|v| v.contains("default-src 'none'")));
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(header("referrer-policy").as_deref(), Some("no-referrer"));
    assert_eq!(header("cache-control").as_deref(), Some("no-store"));
    let (_, json) = dash.get("/api/overview");
    let api: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let api_counts: Vec<(String, i64)> = api["requests_by_status"]
        .as_array()
        .expect("counts")
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_string(),
                c["n"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(api_counts, status_counts(&mut c));

    drop(dash);
    assert_eq!(
        (
            schema_fingerprint(tgt, "bo_airflow"),
            schema_fingerprint(tgt, "padealing")
        ),
        before,
        "browsing wrote nothing"
    );
}

#[test]
fn the_dashboard_shows_data_from_the_qa_like_server_to_a_select_only_role() {
    let server = qa_server();
    let dbs = QaDbs::new("qadash", 200);
    let dir = std::env::temp_dir().join(unique_name("qadash"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let env = dbs.env_file(&dir);
    let mut load = Command::new(env!("CARGO_BIN_EXE_padetl"));
    load.current_dir(repo())
        .env_remove("SOURCE_DATABASE_URL")
        .env_remove("TARGET_DATABASE_URL")
        .env_remove("PGSSLROOTCERT")
        .args(["run", "pipelines/qa.toml", "--quiet", "--env-file"])
        .arg(&env);
    assert!(load.status().expect("padetl run").success());
    let mut admin = server.admin(&dbs.target);
    let known = known_request(&mut admin);
    let before = schema_fingerprint_of(&mut admin, "padealing");

    let dash = Dashboard::start(
        "pipelines/qa.toml",
        &[("TARGET_DATABASE_URL", server.url("pad_reader", &dbs.target))],
        Some(&env),
    );
    let overview = browser_dom(&dash.url("/"));
    assert!(overview.contains("uk02vddb004:5433"), "names the QA target");
    assert!(!overview.contains(&server.password) && !overview.contains("pad_reader"));
    assert_status_tile(&overview, &status_counts(&mut admin));
    let page = browser_dom(&dash.url(&format!("/requests/{}", known.reference_id)));
    for shown in [&known.employee, &known.mako_id, &known.ticker] {
        assert!(page.contains(shown.as_str()), "request page shows {shown}");
    }
    let runs = browser_dom(&dash.url("/runs"));
    assert!(
        runs.contains("succeeded"),
        "the ledger is readable by the dashboard's role"
    );
    drop(dash);
    assert_eq!(schema_fingerprint_of(&mut admin, "padealing"), before);
    let _ = std::fs::remove_dir_all(dir);
}
