//! The order tables load in: a parent before its children, from the target
//! catalog's foreign keys and from each transform's use of `rejected.<t>`
//! (a child's SQL needs its parent's rejected keys). Among tables free to
//! go, the pipeline's order is kept.

use std::collections::BTreeSet;

use tokio_postgres::GenericClient;

use super::LoadError;
use crate::config::{Pipeline, TableSpec};
use crate::schema::catalog_edges;
use crate::transform::SqlUse;

/// `(parent, child)` for every `rejected.<parent>` a transform reads.
fn sql_edges(tables: &[TableSpec]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for child in tables {
        let sql = SqlUse::of([child.transform_sql.as_str()]);
        for parent in tables {
            let used = sql.reads_table("rejected", parent.name.as_str());
            if used && parent.name != child.name {
                out.push((parent.name.to_string(), child.name.to_string()));
            }
        }
    }
    out
}

/// The pipeline's tables in load order.
pub async fn load_order<'p, C: GenericClient>(
    client: &C,
    pipeline: &'p Pipeline,
) -> Result<Vec<&'p TableSpec>, LoadError> {
    let mut edges = catalog_edges(client, pipeline.target.app_schema.as_str()).await?;
    edges.extend(sql_edges(&pipeline.tables));
    let names: Vec<String> = pipeline.tables.iter().map(|t| t.name.to_string()).collect();
    let order = order(&names, &edges).map_err(|cycle| LoadError::Shape {
        table: cycle.join(", "),
        message: "these tables depend on each other in a cycle (foreign keys or rejected.* in their SQL), so none can load first".into(),
    })?;
    Ok(order
        .iter()
        .filter_map(|n| pipeline.tables.iter().find(|t| t.name.as_str() == n))
        .collect())
}

/// Kahn's algorithm, taking the earliest declared table that is free.
/// Edges to tables outside `declared` are ignored. `Err` lists a cycle's
/// tables.
fn order(declared: &[String], edges: &[(String, String)]) -> Result<Vec<String>, Vec<String>> {
    let edges: BTreeSet<(&str, &str)> = edges
        .iter()
        .filter(|(p, c)| declared.contains(p) && declared.contains(c))
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let mut done: Vec<String> = Vec::new();
    while done.len() < declared.len() {
        let free = declared.iter().find(|t| {
            !done.contains(t)
                && edges
                    .iter()
                    .all(|(p, c)| *c != t.as_str() || done.iter().any(|d| d == p))
        });
        match free {
            Some(t) => done.push(t.clone()),
            None => {
                return Err(declared
                    .iter()
                    .filter(|t| !done.contains(t))
                    .cloned()
                    .collect());
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::order;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn e(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn parents_go_first_and_declared_order_breaks_ties() {
        let declared = s(&["execution", "audit", "request", "approval"]);
        let edges = e(&[
            ("request", "execution"),
            ("request", "approval"),
            ("other", "audit"),
        ]);
        assert_eq!(
            order(&declared, &edges).unwrap(),
            s(&["audit", "request", "execution", "approval"])
        );
    }

    #[test]
    fn a_cycle_is_named() {
        let declared = s(&["a", "b", "c"]);
        assert_eq!(
            order(&declared, &e(&[("a", "b"), ("b", "a")])),
            Err(s(&["a", "b"]))
        );
    }
}
