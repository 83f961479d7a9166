//! How `portfolio import` shows its progress: a bar with rows per second
//! on a terminal, plain lines otherwise (a log, a CI job).

use std::{
    io::IsTerminal,
    sync::atomic::{AtomicUsize, Ordering},
    time::Instant,
};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Progress;

/// Progress on standard error.
pub enum Shown {
    Bar(ProgressBar),
    Lines { started: Instant, done: AtomicUsize },
}

impl Shown {
    /// A bar when standard error is a terminal, lines otherwise.
    pub fn on_stderr() -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows ({per_sec}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            Self::Bar(bar)
        } else {
            Self::Lines {
                started: Instant::now(),
                done: AtomicUsize::new(0),
            }
        }
    }

    /// Ends the bar (lines need no end).
    pub fn finish(&self) {
        if let Self::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Shown {
    fn start(&self, rows: usize) {
        match self {
            Self::Bar(bar) => bar.set_length(rows as u64),
            Self::Lines { .. } => eprintln!("importing {rows} rows"),
        }
    }

    fn phase(&self, what: &str) {
        match self {
            Self::Bar(bar) => bar.set_message(what.to_owned()),
            Self::Lines { started, done } => {
                let secs = started.elapsed().as_secs_f64();
                let rows = done.load(Ordering::Relaxed);
                let rate = if secs > 0.0 { rows as f64 / secs } else { 0.0 };
                eprintln!("{secs:6.1} s  {rows} rows done ({rate:.0} rows/s)  {what}");
            }
        }
    }

    fn advance(&self, rows: usize) {
        match self {
            Self::Bar(bar) => bar.inc(rows as u64),
            Self::Lines { done, .. } => {
                done.fetch_add(rows, Ordering::Relaxed);
            }
        }
    }
}
