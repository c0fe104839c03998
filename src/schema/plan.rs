//! The schema plan: a pure function of what the target has (tables, history)
//! and what `migrations/` says, unit-tested without a database (refinery's
//! habit). The executor in [`super::apply`] only carries it out.

use super::migrations::Migration;
use super::SchemaError;

/// What the target's app schema looks like before the run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetState {
    /// The pipeline's tables that exist in the app schema.
    pub existing_tables: Vec<String>,
    /// The pipeline's tables that do not.
    pub missing_tables: Vec<String>,
    /// `(version, checksum)` rows of padetl's history table, if it exists.
    pub history: Option<Vec<(i64, String)>>,
}

/// What reconciling will do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SchemaPlan {
    /// Every table is there and every migration is recorded.
    UpToDate { version: i64 },
    /// Nothing is there: create it by applying every migration.
    Create { versions: Vec<i64> },
    /// Recorded history is behind `migrations/`: apply the rest.
    Upgrade { from: i64, versions: Vec<i64> },
}

impl SchemaPlan {
    pub fn versions(&self) -> &[i64] {
        match self {
            SchemaPlan::UpToDate { .. } => &[],
            SchemaPlan::Create { versions } | SchemaPlan::Upgrade { versions, .. } => versions,
        }
    }
}

/// Decides the plan, or refuses a target it cannot read safely.
pub fn plan_schema(
    state: &TargetState,
    migrations: &[Migration],
) -> Result<SchemaPlan, SchemaError> {
    let all: Vec<i64> = migrations.iter().map(|m| m.version).collect();
    let head = all.last().copied().unwrap_or(0);
    let Some(history) = &state.history else {
        if state.existing_tables.is_empty() {
            return Ok(SchemaPlan::Create { versions: all });
        }
        return Err(SchemaError::Unrecognised {
            tables: state.existing_tables.clone(),
            reason: "they exist but padetl's history table does not; recognising a schema by its shape comes with `padetl plan`".into(),
        });
    };
    for (version, checksum) in history {
        match migrations.iter().find(|m| m.version == *version) {
            Some(m) if &m.checksum == checksum => {}
            Some(m) => {
                return Err(SchemaError::ChecksumMismatch {
                    file: m.path.display().to_string(),
                    version: *version,
                })
            }
            None => return Err(SchemaError::UnknownVersion { version: *version }),
        }
    }
    let applied: Vec<i64> = history.iter().map(|(v, _)| *v).collect();
    let pending: Vec<i64> = all
        .iter()
        .copied()
        .filter(|v| !applied.contains(v))
        .collect();
    let from = applied.iter().copied().max().unwrap_or(0);
    if pending.iter().any(|v| *v < from) {
        return Err(SchemaError::Unrecognised {
            tables: state.existing_tables.clone(),
            reason: format!(
                "migration {} is older than the applied {from} but was never applied",
                pending[0]
            ),
        });
    }
    match (pending.is_empty(), state.missing_tables.is_empty()) {
        (true, true) => Ok(SchemaPlan::UpToDate { version: head }),
        (true, false) => Err(SchemaError::Unrecognised {
            tables: state.missing_tables.clone(),
            reason: "the history says the schema is current, yet these tables are missing".into(),
        }),
        (false, _) => Ok(SchemaPlan::Upgrade {
            from,
            versions: pending,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn migs() -> Vec<Migration> {
        (1..=3)
            .map(|v| Migration {
                version: v,
                name: format!("v{v}"),
                path: PathBuf::from(format!("{v}.sql")),
                sql: String::new(),
                checksum: format!("c{v}"),
            })
            .collect()
    }

    fn state(existing: &[&str], history: Option<Vec<(i64, &str)>>) -> TargetState {
        TargetState {
            existing_tables: existing.iter().map(|s| s.to_string()).collect(),
            missing_tables: if existing.is_empty() {
                vec!["t".into()]
            } else {
                vec![]
            },
            history: history.map(|h| h.into_iter().map(|(v, c)| (v, c.to_string())).collect()),
        }
    }

    #[test]
    fn empty_target_is_created_from_every_migration() {
        assert_eq!(
            plan_schema(&state(&[], None), &migs()).unwrap(),
            SchemaPlan::Create {
                versions: vec![1, 2, 3]
            }
        );
    }

    #[test]
    fn current_target_is_used() {
        let s = state(&["t"], Some(vec![(1, "c1"), (2, "c2"), (3, "c3")]));
        assert_eq!(
            plan_schema(&s, &migs()).unwrap(),
            SchemaPlan::UpToDate { version: 3 }
        );
    }

    #[test]
    fn behind_target_is_upgraded() {
        let s = state(&["t"], Some(vec![(1, "c1"), (2, "c2")]));
        assert_eq!(
            plan_schema(&s, &migs()).unwrap(),
            SchemaPlan::Upgrade {
                from: 2,
                versions: vec![3]
            }
        );
    }

    #[test]
    fn changed_file_is_refused() {
        let s = state(&["t"], Some(vec![(1, "c1"), (2, "edited")]));
        assert!(matches!(
            plan_schema(&s, &migs()),
            Err(SchemaError::ChecksumMismatch { version: 2, .. })
        ));
    }

    #[test]
    fn tables_without_history_are_refused() {
        assert!(matches!(
            plan_schema(&state(&["t"], None), &migs()),
            Err(SchemaError::Unrecognised { .. })
        ));
    }
}
