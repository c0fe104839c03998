//! Progress on long work: a bar per table on a terminal, plain lines on
//! stderr otherwise (CI logs, pipes), nothing on stdout.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// Where progress goes for this process.
#[derive(Clone)]
pub struct Progress {
    bars: Option<MultiProgress>,
    quiet: bool,
}

impl Progress {
    /// Bars when stderr is a terminal; `quiet` silences the plain lines too.
    pub fn new(quiet: bool) -> Self {
        let bars = (std::io::stderr().is_terminal() && !quiet)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress { bars, quiet }
    }

    /// A line of its own (a stage starting), above any bars.
    pub fn note(&self, line: &str) {
        match &self.bars {
            Some(m) => drop(m.println(line)),
            None if !self.quiet => eprintln!("padetl: {line}"),
            None => {}
        }
    }

    pub fn table(&self, name: &str, total: u64) -> TableProgress {
        let bar = self.bars.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new(total));
            let style = ProgressStyle::with_template(
                "{prefix:>14} [{bar:30}] {human_pos}/{human_len} rows {elapsed} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(name.to_string());
            bar
        });
        TableProgress {
            bar,
            name: name.to_string(),
            total,
            done: 0,
            last_line: Instant::now(),
            quiet: self.quiet,
        }
    }
}

/// Progress of one table.
pub struct TableProgress {
    bar: Option<ProgressBar>,
    name: String,
    total: u64,
    done: u64,
    last_line: Instant,
    quiet: bool,
}

impl TableProgress {
    pub fn advance(&mut self, rows: u64) {
        self.done += rows;
        match &self.bar {
            Some(bar) => bar.inc(rows),
            None if !self.quiet && self.last_line.elapsed() >= PLAIN_EVERY => {
                eprintln!("padetl: {}: {}/{} rows", self.name, self.done, self.total);
                self.last_line = Instant::now();
            }
            None => {}
        }
    }

    pub fn finish(&self, summary: &str) {
        match &self.bar {
            Some(bar) => bar.finish_with_message(summary.to_string()),
            None if !self.quiet => eprintln!("padetl: {}: {summary}", self.name),
            None => {}
        }
    }
}
