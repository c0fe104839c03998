//! A table's lineage: the same table (by catalog oid) in every version,
//! under whatever name it had, and how the target's table compares.

use super::TableState;
use crate::schema::desired::VersionShapes;
use crate::schema::shape::{Difference, SchemaShape, TableShape};

/// One table followed across versions by its catalog oid.
pub(super) struct Lineage<'a> {
    pub head: &'a TableShape,
    /// `(version, shape)` for the versions in which the table exists.
    pub versions: Vec<(i64, &'a TableShape)>,
}

pub(super) fn lineages(desired: &VersionShapes) -> Vec<Lineage<'_>> {
    let Some((_, head)) = desired.head() else {
        return vec![];
    };
    head.tables
        .values()
        .map(|t| Lineage {
            head: t,
            versions: desired
                .versions
                .iter()
                .filter_map(|(v, s)| s.tables.values().find(|x| x.oid == t.oid).map(|x| (*v, x)))
                .collect(),
        })
        .collect()
}

impl Lineage<'_> {
    pub fn name_at(&self, version: i64) -> Option<&str> {
        self.at(version).map(|t| t.name.as_str())
    }

    /// The table as `version` defines it, when it exists then.
    pub fn at(&self, version: i64) -> Option<&TableShape> {
        self.versions
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, t)| *t)
    }

    /// Every name the table has had.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.versions.iter().map(|(_, t)| t.name.as_str())
    }

    /// The actual table of this lineage: under its current name first.
    pub fn found<'s>(&self, actual: &'s SchemaShape) -> Option<&'s TableShape> {
        actual.tables.get(&self.head.name).or_else(|| {
            self.versions
                .iter()
                .rev()
                .find_map(|(_, t)| actual.tables.get(&t.name))
        })
    }

    /// Matches, outdated or missing by shape; a drifted table is compared
    /// with the version the history names (the hint), else with the version
    /// it differs least from.
    pub fn classify(
        &self,
        actual: &SchemaShape,
        head: i64,
        hint: Option<i64>,
    ) -> (TableState, Vec<Difference>) {
        let Some(found) = self.found(actual) else {
            return (TableState::Missing, vec![]);
        };
        let mut candidates: Vec<(i64, Vec<Difference>)> = self
            .versions
            .iter()
            .filter(|(_, t)| t.name == found.name)
            .map(|(v, t)| (*v, found.differences(t)))
            .collect();
        if let Some((v, _)) = candidates.iter().rev().find(|(_, d)| d.is_empty()) {
            let state = if *v == head {
                TableState::Matches
            } else {
                TableState::Outdated { version: *v }
            };
            return (state, vec![]);
        }
        let hinted = hint.and_then(|h| candidates.iter().position(|(v, _)| *v == h));
        let (closest, diffs) = match hinted {
            Some(i) => candidates.swap_remove(i),
            None => candidates
                .into_iter()
                .rev()
                .min_by_key(|(_, d)| d.len())
                .unwrap_or((head, vec![])),
        };
        (TableState::Drifted { closest }, diffs)
    }
}

/// Columns whose NULLs must be counted before the plan can be made: those
/// some version of the same name wants NOT NULL and the target allows NULL
/// in (a drifted table is repaired towards the version it is nearest).
pub fn null_probes(actual: &SchemaShape, desired: &VersionShapes) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for l in lineages(desired) {
        let Some(found) = l.found(actual) else {
            continue;
        };
        for (_, version) in l.versions.iter().filter(|(_, t)| t.name == found.name) {
            for d in found.differences(version) {
                if let Difference::Nullability {
                    column,
                    desired_not_null: true,
                } = d
                {
                    let probe = (found.name.clone(), column);
                    if !out.contains(&probe) {
                        out.push(probe);
                    }
                }
            }
        }
    }
    out
}
