//! "Since the last time": a report compared with the previous `check` or
//! `run` of the same pipeline and env, kept in the ledger, so that a weekly
//! pre-flight shows drift (in the source, in the reference data) at a glance.

use std::collections::BTreeMap;

use super::{RunReport, TableReport};
use crate::checks::CheckResult;

/// The earlier pass a report is compared with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Compared {
    pub run_id: String,
    /// `check` or `run`.
    pub command: String,
    /// When it finished, `YYYY-MM-DD HH:MM UTC`.
    pub finished: String,
}

/// Findings that exist only once they find something: absent from an
/// earlier report means they found nothing then.
const FOUND_ON_DEMAND: [&str; 4] = ["fit", "follows_parent", "changed_in_target", "not_checked"];

impl RunReport {
    /// Sets every table's and check's `previous` from `earlier`, and lists
    /// the findings that are gone since (with 0 violations now).
    pub fn compare_with(&mut self, run: Compared, earlier: &RunReport) {
        let tables: BTreeMap<&str, &TableReport> = earlier
            .tables
            .iter()
            .map(|t| (t.table.as_str(), t))
            .collect();
        // A table read only in part now, or not at all, cannot be compared.
        let partial: Vec<String> = self
            .tables
            .iter()
            .filter(|t| {
                t.not_checked.is_some()
                    || t.incremental
                        .as_deref()
                        .is_some_and(|r| r.starts_with("incremental:"))
            })
            .map(|t| t.table.clone())
            .collect();
        for t in &mut self.tables {
            t.previous = tables
                .get(t.table.as_str())
                .filter(|p| p.not_checked.is_none() && !partial.contains(&t.table))
                .map(|p| p.counts());
        }
        let before: BTreeMap<(&str, &str), &CheckResult> = earlier
            .checks
            .iter()
            .map(|c| ((c.table.as_str(), c.name.as_str()), c))
            .collect();
        for c in &mut self.checks {
            if partial.contains(&c.table) {
                c.previous = None;
                continue;
            }
            c.previous = match before.get(&(c.table.as_str(), c.name.as_str())) {
                Some(p) => Some(p.violations),
                None if FOUND_ON_DEMAND.contains(&c.kind.as_str()) => Some(0),
                None => None,
            };
        }
        let gone: Vec<CheckResult> = earlier
            .checks
            .iter()
            .filter(|p| p.violations > 0)
            .filter(|p| {
                !self
                    .checks
                    .iter()
                    .any(|c| c.table == p.table && c.name == p.name)
            })
            .map(|p| CheckResult {
                violations: 0,
                sample: vec![],
                previous: Some(p.violations),
                ..p.clone()
            })
            .collect();
        self.checks.extend(gone);
        self.compared_with = Some(run);
    }
}

/// "+12", "-3", "±0": a change for the "since" columns.
pub fn change(now: u64, before: u64) -> String {
    match now.cmp(&before) {
        std::cmp::Ordering::Greater => format!("+{}", now - before),
        std::cmp::Ordering::Less => format!("-{}", before - now),
        std::cmp::Ordering::Equal => "±0".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Policy;

    fn check(name: &str, kind: &str, violations: u64) -> CheckResult {
        CheckResult {
            name: name.into(),
            table: "pad_request".into(),
            kind: kind.into(),
            policy: Policy::Fail,
            violations,
            sample: vec![],
            previous: None,
        }
    }

    fn report(checks: Vec<CheckResult>) -> RunReport {
        let mut r = RunReport::empty("p", "qa");
        r.checks = checks;
        r
    }

    #[test]
    fn each_check_carries_its_earlier_count_and_gone_findings_are_listed() {
        let earlier = report(vec![
            check("orphan_employee", "references", 187),
            check("pad_request_ticker_fits", "fit", 4),
        ]);
        let mut now = report(vec![
            check("orphan_employee", "references", 199),
            check("new_check", "not_null", 1),
            check("pad_request_price_fits", "fit", 2),
        ]);
        let run = Compared {
            run_id: "r1".into(),
            command: "check".into(),
            finished: "2026-11-20 09:00 UTC".into(),
        };
        now.compare_with(run.clone(), &earlier);
        let previous: Vec<(&str, u64, Option<u64>)> = now
            .checks
            .iter()
            .map(|c| (c.name.as_str(), c.violations, c.previous))
            .collect();
        assert_eq!(
            previous,
            vec![
                ("orphan_employee", 199, Some(187)),
                ("new_check", 1, None),
                ("pad_request_price_fits", 2, Some(0)),
                ("pad_request_ticker_fits", 0, Some(4)),
            ]
        );
        assert_eq!(now.compared_with, Some(run));
        assert_eq!(change(199, 187), "+12");
        assert_eq!(change(0, 4), "-4");
    }
}
