//! Tables at different versions, upgraded each along its own lineage: of
//! every later migration, only the statements that change tables still
//! behind it run (with the helpers they need). A statement is only run
//! when the tables it reads are as the whole file would have them at that
//! point; otherwise the step couples tables at different versions and the
//! plan is refused, naming it. The rehearsal on scratch copies
//! (`schema::rehearse`) then proves the parts run.

use super::decide::{version_of, Classified};
use super::lineage::Lineage;
use super::{Refusal, Step};
use crate::schema::migrations::Migration;
use crate::schema::statements::{split, touches, Statement};

/// Where one table starts the migrations.
pub(super) struct Start<'a> {
    lineage: &'a Lineage<'a>,
    /// The version it is at; `None` when it is missing and a later
    /// migration creates it.
    base: Option<i64>,
}

impl Start<'_> {
    /// Whether migration `version` has anything to do for this table.
    fn behind(&self, version: i64) -> bool {
        self.base.is_none_or(|b| b < version)
    }

    fn name(&self) -> &str {
        &self.lineage.head.name
    }

    fn at(&self) -> String {
        match self.base {
            Some(b) => format!("at version {b}"),
            None => "missing".into(),
        }
    }
}

/// Missing tables start at `lo` when they exist then (the plan creates
/// them as `lo` defines them).
pub(super) fn starts<'a>(classified: &'a [Classified<'a>], head: i64, lo: i64) -> Vec<Start<'a>> {
    classified
        .iter()
        .map(|(l, state, _)| Start {
            lineage: l,
            base: version_of(*state, head).or_else(|| l.at(lo).map(|_| lo)),
        })
        .collect()
}

/// A migration's statements with the tables (as indexes into the starts)
/// each one changes and reads.
struct Split {
    migration: usize,
    version: i64,
    statements: Vec<(Statement, Option<usize>, Vec<usize>)>,
}

/// The steps that bring every table from its own version to the last one,
/// or why some step cannot be run for some tables only.
pub(super) fn migration_steps(
    migrations: &[Migration],
    lo: i64,
    starts: &[Start],
) -> Result<Vec<Step>, Vec<Refusal>> {
    let names: Vec<String> = starts
        .iter()
        .flat_map(|s| s.lineage.names().map(str::to_string))
        .collect();
    let index = |name: &str| {
        starts
            .iter()
            .position(|s| s.lineage.names().any(|n| n == name))
    };
    let splits: Vec<Split> = migrations
        .iter()
        .enumerate()
        .filter(|(_, m)| m.version > lo)
        .map(|(i, m)| Split {
            migration: i,
            version: m.version,
            statements: split(&m.sql)
                .into_iter()
                .map(|s| {
                    let t = touches(&s.sql, &names);
                    let changes = t.changes.as_deref().and_then(index);
                    let mut reads: Vec<usize> = t.reads.iter().filter_map(|r| index(r)).collect();
                    reads.retain(|r| Some(*r) != changes);
                    reads.sort_unstable();
                    reads.dedup();
                    (s, changes, reads)
                })
                .collect(),
        })
        .collect();
    let mut steps = Vec::new();
    let mut refused = Vec::new();
    for (at, s) in splits.iter().enumerate() {
        let m = &migrations[s.migration];
        let behind: Vec<&Start> = starts.iter().filter(|t| t.behind(m.version)).collect();
        if behind.len() == starts.len() {
            steps.push(Step::Migration {
                version: m.version,
                file: m.file.clone(),
                checksum: m.checksum.clone(),
                sql: m.sql.clone(),
            });
            continue;
        }
        let mut chosen = Vec::new();
        for (pos, (statement, changes, reads)) in s.statements.iter().enumerate() {
            let context = Context {
                m,
                statement,
                starts,
            };
            match changes {
                Some(c) if !starts[*c].behind(m.version) => {}
                Some(c) => {
                    let early = |r: usize| changed_later(&splits[at..], pos, r, starts[r].base);
                    match reads
                        .iter()
                        .find(|r| !starts[**r].behind(m.version) && early(**r))
                    {
                        Some(r) => refused.push(context.coupled(*c, *r)),
                        None => chosen.push(statement.clone()),
                    }
                }
                None if reads.iter().all(|r| starts[*r].behind(m.version)) => {
                    chosen.push(statement.clone())
                }
                None => refused.push(context.ambiguous(reads)),
            }
        }
        steps.push(Step::MigrationPart {
            version: m.version,
            file: m.file.clone(),
            checksum: m.checksum.clone(),
            tables: behind.iter().map(|t| t.name().to_string()).collect(),
            statements: chosen,
        });
    }
    match refused.is_empty() {
        true => Ok(steps),
        false => Err(refused),
    }
}

/// Whether table `r`, already past the current migration, is changed after
/// statement `pos` of it or by any later migration up to its version: then
/// it is not as the whole file would have it at `pos`.
fn changed_later(rest: &[Split], pos: usize, r: usize, base: Option<i64>) -> bool {
    let Some((current, later)) = rest.split_first() else {
        return false;
    };
    let changes = |s: &&(Statement, Option<usize>, Vec<usize>)| s.1 == Some(r);
    current.statements.iter().skip(pos + 1).any(|s| changes(&s))
        || later
            .iter()
            .take_while(|l| base.is_none_or(|b| l.version <= b))
            .any(|l| l.statements.iter().any(|s| changes(&s)))
}

struct Context<'a> {
    m: &'a Migration,
    statement: &'a Statement,
    starts: &'a [Start<'a>],
}

impl Context<'_> {
    fn quoted(&self) -> String {
        let one_line: String = self
            .statement
            .sql
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        match one_line.char_indices().nth(80) {
            Some((i, _)) => format!("{}…", &one_line[..i]),
            None => one_line,
        }
    }

    fn coupled(&self, changes: usize, reads: usize) -> Refusal {
        let (t, r) = (&self.starts[changes], &self.starts[reads]);
        Refusal {
            table: Some(t.name().to_string()),
            reason: format!(
                "{} line {} (`{}`) changes {} ({}) using {}, which is already at version {} and no longer as that statement expects it; \
                 the step couples tables at different versions. Bring {} to version {} by hand (or restore {} to version {} from a backup), then run again",
                self.m.file,
                self.statement.line,
                self.quoted(),
                t.name(),
                t.at(),
                r.name(),
                r.base.unwrap_or_default(),
                t.name(),
                self.m.version,
                r.name(),
                self.m.version - 1,
            ),
            fix: vec![],
        }
    }

    fn ambiguous(&self, reads: &[usize]) -> Refusal {
        let tables: Vec<String> = reads
            .iter()
            .map(|r| format!("{} ({})", self.starts[*r].name(), self.starts[*r].at()))
            .collect();
        Refusal {
            table: None,
            reason: format!(
                "{} line {} (`{}`) names {}, which are at different versions, and padetl cannot tell which one it changes; \
                 write it as statements that each change one table, or bring these tables to one version, then run again",
                self.m.file,
                self.statement.line,
                self.quoted(),
                tables.join(", ")
            ),
            fix: vec![],
        }
    }
}
