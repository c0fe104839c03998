//! The overview's chart, drawn on the server as inline SVG: requests per
//! month, stacked by status. No script, no library, colours from the
//! stylesheet (classes, not inline styles).

use std::collections::BTreeMap;

use maud::{html, Markup};

use super::data::overview::MonthCount;
use super::data::requests::STATUSES;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 10.0;

/// The chart and its legend; a note when there is nothing to draw.
pub(super) fn per_month(counts: &[MonthCount]) -> Markup {
    let mut months: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
    for c in counts {
        *months
            .entry(c.month.as_str())
            .or_default()
            .entry(c.status.as_str())
            .or_default() += c.n;
    }
    let max = months
        .values()
        .map(|m| m.values().sum::<i64>())
        .max()
        .unwrap_or(0);
    if max == 0 {
        return html! { p.muted { "No requests in the last 24 months." } };
    }
    let step = (WIDTH - LEFT) / months.len() as f64;
    let bar = (step * 0.72).max(1.0);
    let scale = (HEIGHT - TOP - BOTTOM) / max as f64;
    let base = HEIGHT - BOTTOM;
    let label_every = (months.len() / 12).max(1);
    html! {
        svg.chart viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img"
            aria-label="Requests per month by status" {
            line.axis x1=(LEFT) y1=(base) x2=(WIDTH) y2=(base) {}
            @for (y, value) in [(base, 0), (TOP + (base - TOP) / 2.0, max / 2), (TOP, max)] {
                text x=(LEFT - 6.0) y=(y + 3.0) text-anchor="end" { (super::html::count(value)) }
                line.axis x1=(LEFT) y1=(y) x2=(WIDTH) y2=(y) stroke-dasharray="2 4" {}
            }
            @for (i, (month, by_status)) in months.iter().enumerate() {
                @let x = LEFT + i as f64 * step + (step - bar) / 2.0;
                @for (status, y, h, n) in stack(by_status, base, scale) {
                    rect class=(format!("c-{status}")) x=(fmt(x)) y=(fmt(y)) width=(fmt(bar)) height=(fmt(h)) {
                        title { (month) " · " (status.replace('_', " ")) ": " (n) }
                    }
                }
                @if i % label_every == 0 {
                    text x=(fmt(x + bar / 2.0)) y=(HEIGHT - 6.0) text-anchor="middle" { (month) }
                }
            }
        }
        div.legend {
            @for status in STATUSES.iter().filter(|s| counts.iter().any(|c| c.status == **s)) {
                span {
                    svg width="10" height="10" { rect class=(format!("c-{status}")) width="10" height="10" {} }
                    (status.replace('_', " "))
                }
            }
        }
    }
}

/// The month's bar, bottom up in the statuses' order: `(status, y, height, n)`.
fn stack<'a>(
    by_status: &BTreeMap<&'a str, i64>,
    base: f64,
    scale: f64,
) -> Vec<(&'a str, f64, f64, i64)> {
    let known = STATUSES.iter().filter_map(|s| by_status.get_key_value(s));
    let other = by_status.iter().filter(|(s, _)| !STATUSES.contains(s));
    let mut y = base;
    known
        .chain(other)
        .map(|(status, n)| {
            let h = *n as f64 * scale;
            y -= h;
            let class = match STATUSES.contains(status) {
                true => *status,
                false => "other",
            };
            (class, y, h, *n)
        })
        .collect()
}

fn fmt(v: f64) -> String {
    format!("{v:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(month: &str, status: &str, n: i64) -> MonthCount {
        MonthCount {
            month: month.into(),
            status: status.into(),
            n,
        }
    }

    #[test]
    fn bars_stack_to_the_months_total() {
        let svg = per_month(&[
            c("2026-01", "approved", 30),
            c("2026-01", "rejected", 10),
            c("2026-02", "approved", 20),
        ])
        .into_string();
        assert_eq!(svg.matches("<rect class=\"c-").count(), 3 + 2, "{svg}");
        assert!(svg.contains("2026-01 · approved: 30"));
        assert!(!svg.contains("style="), "no inline style: {svg}");
        let bars = stack(
            &[("approved", 30), ("rejected", 10)].into_iter().collect(),
            100.0,
            1.0,
        );
        assert_eq!(bars[0], ("approved", 70.0, 30.0, 30));
        assert_eq!(bars[1], ("rejected", 60.0, 10.0, 10));
    }

    #[test]
    fn nothing_to_draw_says_so() {
        assert!(per_month(&[]).into_string().contains("No requests"));
    }
}
