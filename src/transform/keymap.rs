//! Keymaps: how a surrogate id of the source environment's reference table
//! becomes the id of the same thing in the target environment.
//!
//! Natural keys are tried in order; the first key that finds anything decides.
//! Exactly one target row is a match; two or more is *ambiguous* and never
//! guessed; none on every key is an *orphan*.

use crate::config::Keymap;

/// Status values a keymap row can have.
pub const MATCHED: &str = "matched";
pub const AMBIGUOUS: &str = "ambiguous";
pub const ORPHAN: &str = "orphan";

/// The DataFusion SQL that builds `keymap.<name>` from the two key sets:
/// columns `source_id`, `target_id`, `status`, `matched_by`, then the source's
/// natural keys (so transforms can also look rows up by a natural key).
pub fn keymap_sql(km: &Keymap, source_table: &str, target_table: &str) -> String {
    let ctes: Vec<String> = km
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            format!(
                "t{i} AS (SELECT {k} AS k, min(id) AS id, count(*) AS n FROM {target_table} WHERE {k} IS NOT NULL GROUP BY {k})",
                k = k.quoted()
            )
        })
        .collect();
    let mut target_id = String::from("CASE");
    let mut status = String::from("CASE");
    let mut matched_by = String::from("CASE");
    for (i, k) in km.keys.iter().enumerate() {
        target_id.push_str(&format!(
            " WHEN t{i}.n = 1 THEN t{i}.id WHEN t{i}.n > 1 THEN NULL"
        ));
        status.push_str(&format!(
            " WHEN t{i}.n = 1 THEN '{MATCHED}' WHEN t{i}.n > 1 THEN '{AMBIGUOUS}'"
        ));
        matched_by.push_str(&format!(" WHEN t{i}.n >= 1 THEN '{}'", k.as_str()));
    }
    target_id.push_str(" END");
    status.push_str(&format!(" ELSE '{ORPHAN}' END"));
    matched_by.push_str(" END");
    let joins: String = km
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!(" LEFT JOIN t{i} ON t{i}.k = s.{}", k.quoted()))
        .collect();
    let source_keys: Vec<String> = km
        .keys
        .iter()
        .map(|k| format!("s.{}", k.quoted()))
        .collect();
    format!(
        "WITH {} SELECT CAST(s.id AS BIGINT) AS source_id, CAST({target_id} AS BIGINT) AS target_id, {status} AS status, {matched_by} AS matched_by, {} FROM {source_table} s{joins}",
        ctes.join(", "),
        source_keys.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Ident;

    #[test]
    fn keys_are_tried_in_order() {
        let km = Keymap {
            name: Ident::parse("employee").unwrap(),
            source_query: String::new(),
            target_query: String::new(),
            keys: vec![
                Ident::parse("mako_id").unwrap(),
                Ident::parse("email").unwrap(),
            ],
            origin: "p.toml:1".into(),
        };
        let sql = keymap_sql(&km, "src", "tgt");
        let first = sql.find("t0.n = 1").unwrap();
        let second = sql.find("t1.n = 1").unwrap();
        assert!(first < second, "{sql}");
        assert!(sql.contains("LEFT JOIN t1 ON t1.k = s.\"email\""));
        assert!(sql.contains("ELSE 'orphan'"));
    }
}
