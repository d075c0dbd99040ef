//! The progress bar: images/s and ETA on a terminal, nothing otherwise.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where bars draw: nowhere when `quiet`, else stderr (where indicatif
/// draws nothing unless it is a terminal).
fn draw_target(quiet: bool) -> ProgressDrawTarget {
    if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    }
}

/// A thread-safe progress display over a known number of images.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `total` images; hidden when `quiet` or stderr is not a
    /// terminal.
    pub fn new(total: u64, quiet: bool) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total), draw_target(quiet));
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix:>5} {wide_bar} {pos}/{len} images  {per_sec}  ETA {eta}",
        ) {
            bar.set_style(style);
        }
        Progress { bar }
    }

    /// Names the split being processed.
    pub fn set_split(&self, split: &str) {
        self.bar.set_prefix(split.to_string());
    }

    /// Counts `n` more images done.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A spinner for a stage of unknown length (listing the members of a
/// 140 GB tar takes a while on a slow disk); cleared when dropped.
pub struct Spinner {
    bar: ProgressBar,
}

impl Spinner {
    /// Shows `message` beside a spinner, on a terminal and unless `quiet`.
    pub fn new(message: String, quiet: bool) -> Self {
        let bar = ProgressBar::with_draw_target(None, draw_target(quiet));
        bar.set_style(ProgressStyle::default_spinner());
        bar.set_message(message);
        if !quiet {
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
        }
        Spinner { bar }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
