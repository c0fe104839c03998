//! The QA-like server (scripts/qa-server): a second cluster on
//! 127.0.0.1:5433 with TLS only (a throwaway CA), SCRAM passwords holding
//! `+ @ : / % &`, and QA's roles: `pad_app_user` owns `padealing` and may
//! only read `bo_airflow`. The first test that needs it starts it (the
//! script is idempotent); each test gets databases of its own there.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use postgres::{Client, NoTls};

use crate::util::{repo, unique_name};

/// The running server and what its state folder holds.
pub struct QaServer {
    pub state: PathBuf,
    pub password: String,
}

/// Starts the server once per test process; fails the test with the
/// script's own words when it cannot.
pub fn qa_server() -> &'static QaServer {
    static SERVER: OnceLock<QaServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let out = Command::new(repo().join("scripts/qa-server"))
            .arg("up")
            .output()
            .expect("scripts/qa-server can be started");
        assert!(
            out.status.success(),
            "the QA-like server did not come up (scripts/qa-server up): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let state = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let password = std::fs::read_to_string(state.join("password")).expect("password file");
        QaServer { state, password }
    })
}

impl QaServer {
    pub fn ca(&self) -> PathBuf {
        self.state.join("ca.crt")
    }

    pub fn wrong_ca(&self) -> PathBuf {
        self.state.join("wrong-ca.crt")
    }

    /// The password as a URL writes it.
    pub fn encoded_password(&self) -> String {
        percent_encoding::utf8_percent_encode(&self.password, percent_encoding::NON_ALPHANUMERIC)
            .to_string()
    }

    /// A URL as the real QA env file writes it: the QA host's name, checked
    /// by verify-full, reached at 127.0.0.1.
    pub fn url(&self, user: &str, db: &str) -> String {
        format!(
            "postgresql://{user}:{}@uk02vddb004:5433/{db}?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={}",
            self.encoded_password(),
            self.ca().display()
        )
    }

    /// A superuser connection over the socket, for setup and assertions.
    pub fn admin(&self, db: &str) -> Client {
        Client::connect(
            &format!("host=/var/run/postgresql port=5433 user=root dbname={db}"),
            NoTls,
        )
        .expect("admin connection to the QA-like server")
    }

    fn script(&self, args: &[&str]) {
        let out = Command::new(repo().join("scripts/qa-server"))
            .args(args)
            .output()
            .expect("scripts/qa-server runs");
        assert!(
            out.status.success(),
            "scripts/qa-server {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A legacy source and a QA target on the QA-like server, dropped at the end.
pub struct QaDbs {
    pub source: String,
    pub target: String,
}

impl QaDbs {
    /// Fresh databases seeded with `rows` legacy requests.
    pub fn new(tag: &str, rows: u32) -> Self {
        let server = qa_server();
        let dbs = QaDbs {
            source: unique_name(&format!("{tag}_s")),
            target: unique_name(&format!("{tag}_t")),
        };
        server.script(&["db", &dbs.source, "source", &rows.to_string()]);
        server.script(&["db", &dbs.target, "target", &rows.to_string()]);
        dbs
    }

    /// An env file written like `envs/.env.qa.example`: verify-full and the
    /// CA file on both sides (`PGSSLROOTCERT` for the one, the URL for the
    /// other), mode 0600.
    pub fn env_file(&self, dir: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let server = qa_server();
        let source = server.url("pad_legacy_reader", &self.source);
        let target = format!(
            "postgresql://pad_app_user:{}@uk02vddb004:5433/{}?hostaddr=127.0.0.1&sslmode=verify-full",
            server.encoded_password(),
            self.target
        );
        let text = format!(
            "APP_ENV=qa\nSOURCE_DATABASE_URL={source}\nTARGET_DATABASE_URL={target}\nPGSSLROOTCERT={}\n",
            server.ca().display()
        );
        let path = dir.join(".env.qa");
        std::fs::write(&path, text).expect("env file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        path
    }
}

impl Drop for QaDbs {
    fn drop(&mut self) {
        let server = qa_server();
        for db in [&self.source, &self.target] {
            let _ = Command::new(repo().join("scripts/qa-server"))
                .args(["drop", db])
                .output();
        }
        let _ = server;
    }
}
