//! What an Oracle source needs beyond connectorx: one connection before the
//! first query, so that a missing Instant Client, a wrong password or an
//! unknown service is said in plain words within seconds (connectorx's pool
//! would wait 30 seconds and report only its own text); Oracle's error codes
//! in words; and Oracle's upper-case column names in lower case, so that the
//! transform sees the names it sees for a Postgres source.
//!
//! The `oracle` cargo feature compiles connectorx's Oracle source; without
//! it an `oracle://` source is refused with [`NOT_BUILT`].

use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

use crate::config::DatabaseUrl;

/// Why an `oracle://` source is refused by a binary built without it.
pub const NOT_BUILT: &str = "this padetl was built without the `oracle` feature; build it with `cargo build --release --features oracle` (docs/oracle.md)";

/// How long the first connection may take before padetl gives up on it.
#[cfg(feature = "oracle")]
const CONNECT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);

/// Connects once to `url` and disconnects, within [`CONNECT_DEADLINE`].
/// The error is for the user: what is wrong and what to do, never the
/// password. Blocking: call from a blocking thread.
#[cfg(feature = "oracle")]
pub fn ensure_reachable(url: &DatabaseUrl) -> Result<(), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let raw = url.expose().to_string();
    // A host that drops packets can hold a connect for a minute; the thread
    // is left to finish on its own and the run fails now.
    std::thread::spawn(move || {
        let result = url::Url::parse(&raw)
            .map_err(|e| e.to_string())
            .and_then(|u| {
                connectorx::sources::oracle::connect_oracle(&u).map_err(|e| e.to_string())
            })
            .and_then(|connector| connector.connect().map(drop).map_err(|e| e.to_string()));
        let _ = tx.send(result);
    });
    match rx.recv_timeout(CONNECT_DEADLINE) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(text)) => Err(describe_connect_error(&text, url)),
        Err(_) => Err(format!(
            "no answer from {}:{} within {} s: check the host and port, and that a firewall lets the connection through",
            url.host,
            url.port,
            CONNECT_DEADLINE.as_secs()
        )),
    }
}

/// Without the `oracle` feature nothing can connect (and [`super::CxReader`]
/// refuses the source before this is reached).
#[cfg(not(feature = "oracle"))]
pub fn ensure_reachable(_url: &DatabaseUrl) -> Result<(), String> {
    Err(NOT_BUILT.into())
}

/// A failed Oracle connection in words: what is wrong and what to do.
/// `text` is the driver's message (`DPI-…` from ODPI-C, `ORA-…` from the
/// server); anything unrecognised is passed on, first line only, with the
/// URL's password masked.
#[cfg_attr(not(feature = "oracle"), allow(dead_code))]
pub fn describe_connect_error(text: &str, url: &DatabaseUrl) -> String {
    let code = |c: &str| text.contains(c);
    let message = if code("DPI-1047") {
        "Oracle Instant Client (libclntsh) was not found: install it and set LD_LIBRARY_PATH; see docs/oracle.md".to_string()
    } else if code("DPI-1072") {
        "the Oracle Instant Client found is too old for padetl: install 19c or later and set LD_LIBRARY_PATH; see docs/oracle.md".to_string()
    } else if code("ORA-01017") {
        format!(
            "Oracle refused the user `{}` or its password (ORA-01017): check both in the URL (percent-encode a password's `+ @ : / % &`)",
            url.user
        )
    } else if code("ORA-28000") {
        format!(
            "the Oracle account `{}` is locked (ORA-28000): ask a DBA to unlock it",
            url.user
        )
    } else if code("ORA-12514") {
        format!(
            "the listener at {}:{} does not know the service `{}` (ORA-12514): check the service name after the port (e.g. FREEPDB1)",
            url.host, url.port, url.database
        )
    } else if code("ORA-12541") {
        format!(
            "no Oracle listener at {}:{} (ORA-12541): check the host and port, and that the database is up",
            url.host, url.port
        )
    } else {
        let first = text.lines().next().unwrap_or(text).trim();
        first
            .strip_prefix("OCI Error: ")
            .or_else(|| first.strip_prefix("DPI Error: "))
            .unwrap_or(first)
            .to_string()
    };
    url.scrub(&message)
}

/// Whether an Oracle error blames the SQL as written (an unknown table or
/// column, a syntax error: the `ORA-009xx` parse errors; a column of a type
/// connectorx does not read), which makes it a mistake in the pipeline
/// (exit 2) rather than a database failure.
pub fn blames_the_sql(text: &str) -> bool {
    text.contains(UNMAPPED)
        || text.match_indices("ORA-009").any(|(i, _)| {
            let digits = &text[i + 7..];
            digits.len() >= 2 && digits.as_bytes()[..2].iter().all(u8::is_ascii_digit)
        })
}

/// connectorx panics on an Oracle type it does not map (`RAW`, `INTERVAL`,
/// `ROWID`, …): said with what to do.
pub fn explain_panic(message: String) -> String {
    if message.contains(UNMAPPED) {
        format!("{message}: connectorx cannot read this Oracle type; convert the column in the table's `query` (RAWTOHEX(col) for RAW, TO_CHAR(col) otherwise)")
    } else {
        message
    }
}

/// The end of connectorx's panic message for an Oracle type it does not map.
const UNMAPPED: &str = "not implemented for oracle";

/// `batches` with every column name in lower case: Oracle returns the
/// upper-case names of its dictionary (`ID`, `REQUEST_ID`).
pub fn lower_case_names(batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>, ArrowError> {
    batches
        .into_iter()
        .map(|batch| {
            let fields: Vec<Field> = batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_name(f.name().to_lowercase()))
                .collect();
            let schema = Schema::new_with_metadata(fields, batch.schema().metadata().clone());
            RecordBatch::try_new(Arc::new(schema), batch.columns().to_vec())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, Int64Array};

    fn url() -> DatabaseUrl {
        DatabaseUrl::parse("oracle://pad:s3cret@db.example:1521/FREEPDB1").unwrap()
    }

    #[test]
    fn a_missing_instant_client_is_said_with_what_to_do() {
        let text = "DPI Error: DPI-1047: Cannot locate a 64-bit Oracle Client library: \"libclntsh.so: cannot open shared object file: No such file or directory\". See https://oracle.github.io/odpi/doc/installation.html#linux for help";
        assert_eq!(
            describe_connect_error(text, &url()),
            "Oracle Instant Client (libclntsh) was not found: install it and set LD_LIBRARY_PATH; see docs/oracle.md"
        );
    }

    #[test]
    fn oracle_codes_become_words_without_the_password() {
        let wrong = describe_connect_error(
            "OCI Error: ORA-01017: invalid username/password; logon denied",
            &url(),
        );
        assert!(
            wrong.contains("refused the user `pad` or its password"),
            "{wrong}"
        );
        let service = describe_connect_error(
            "OCI Error: ORA-12514: Cannot connect to database. Service FREEPDB1 is not registered with the listener",
            &url(),
        );
        assert!(
            service.contains("db.example:1521 does not know the service `FREEPDB1`"),
            "{service}"
        );
        let listener = describe_connect_error("OCI Error: ORA-12541: TNS:no listener", &url());
        assert!(
            listener.contains("no Oracle listener at db.example:1521"),
            "{listener}"
        );
        let other =
            describe_connect_error("OCI Error: ORA-99999: echoed s3cret\nmore detail", &url());
        assert_eq!(other, "ORA-99999: echoed ***");
        for text in [wrong, service, listener] {
            assert!(!text.contains("s3cret"));
        }
    }

    #[test]
    fn parse_errors_blame_the_sql() {
        assert!(blames_the_sql(
            "OCI Error: ORA-00942: table or view does not exist"
        ));
        assert!(blames_the_sql(
            "OCI Error: ORA-00904: \"NOPE\": invalid identifier"
        ));
        assert!(!blames_the_sql("OCI Error: ORA-01722: invalid number"));
        assert!(!blames_the_sql("OCI Error: ORA-009"));
        assert!(!blames_the_sql("connection reset"));
        let raw = explain_panic("Type Raw(16) not implemented for oracle!".into());
        assert!(raw.contains("RAWTOHEX(col)"), "{raw}");
        assert!(blames_the_sql(&raw));
        assert_eq!(explain_panic("boom".into()), "boom");
    }

    #[test]
    fn column_names_arrive_in_lower_case() {
        let schema = Schema::new(vec![Field::new(
            "REQUEST_ID",
            datafusion::arrow::datatypes::DataType::Int64,
            true,
        )]);
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![1, 2]));
        let batch = RecordBatch::try_new(Arc::new(schema), vec![ids]).unwrap();
        let out = lower_case_names(vec![batch]).unwrap();
        assert_eq!(out[0].schema().field(0).name(), "request_id");
        assert_eq!(out[0].num_rows(), 2);
    }
}
