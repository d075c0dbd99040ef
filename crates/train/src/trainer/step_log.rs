//! Plain progress lines for logs that are files (SLURM, nohup, `> log`):
//! a progress bar there is either hidden or a mess of carriage returns, so
//! when stdout is not a terminal one line goes to stdout every
//! `log_every` steps:
//!
//! ```text
//! step 1200/450000 (epoch 3/90) loss 4.1234 lr 1.0e-2 | 2143 img/s | data 12% 4.1 ms, compute 88% 55.6 ms per step | eta 5h12m
//! ```
//!
//! Rates and times are over the steps since the previous line: `img/s` is
//! images over wall time, `data` the time spent waiting for the loader's
//! next batch, `compute` the step itself (forward, backward, update, the
//! weight check). ETA is the remaining steps at this window's pace
//! (validation and checkpoint time beyond this window's not included).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// What one line reports, besides the window's timings.
pub(super) struct Position {
    /// Global step after this step.
    pub step: u64,
    /// The run's last step (epochs × steps per epoch, or `--max-steps`).
    pub total_steps: u64,
    /// Epoch in progress, 0-based.
    pub epoch: u64,
    /// Epochs in total.
    pub epochs: u64,
    /// This step's loss.
    pub loss: f64,
    /// This step's learning rate.
    pub lr: f64,
}

/// Timings of the steps since the last line.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    steps: u64,
    images: u64,
    wait: Duration,
    compute: Duration,
}

/// Collects step timings and prints a line every `every` steps.
pub(super) struct StepLog {
    every: u64,
    start: Instant,
    window: Window,
}

impl StepLog {
    /// Lines every `every` steps when stdout is not a terminal and the run
    /// is not quiet; otherwise none.
    pub fn new(every: u64, quiet: bool) -> Self {
        let on = !quiet && !std::io::stdout().is_terminal();
        Self::with_interval(if on { every } else { 0 })
    }

    /// Lines every `every` steps (0: never), whatever stdout is.
    fn with_interval(every: u64) -> Self {
        Self {
            every,
            start: Instant::now(),
            window: Window::default(),
        }
    }

    /// Adds one step: `wait` for its batch, `compute` for the step, `images`
    /// in it. Returns the line to print when one is due.
    pub fn step(
        &mut self,
        at: &Position,
        wait: Duration,
        compute: Duration,
        images: u64,
    ) -> Option<String> {
        if self.every == 0 {
            return None;
        }
        let w = &mut self.window;
        w.steps += 1;
        w.images += images;
        w.wait += wait;
        w.compute += compute;
        if !at.step.is_multiple_of(self.every) {
            return None;
        }
        let line = format_line(at, &self.window, self.start.elapsed());
        self.start = Instant::now();
        self.window = Window::default();
        Some(line)
    }
}

/// One line for `window`, which took `wall` in all.
fn format_line(at: &Position, window: &Window, wall: Duration) -> String {
    let wall_s = wall.as_secs_f64().max(1e-9);
    let steps = window.steps.max(1) as f64;
    let ips = window.images as f64 / wall_s;
    let (wait, compute) = (window.wait.as_secs_f64(), window.compute.as_secs_f64());
    let busy = (wait + compute).max(1e-12);
    let remaining = at.total_steps.saturating_sub(at.step) as f64;
    format!(
        "step {}/{} (epoch {}/{}) loss {:.4} lr {:.1e} | {ips:.0} img/s | data {:.0}% {:.1} ms, compute {:.0}% {:.1} ms per step | eta {}",
        at.step,
        at.total_steps,
        at.epoch + 1,
        at.epochs,
        at.loss,
        at.lr,
        100.0 * wait / busy,
        1e3 * wait / steps,
        100.0 * compute / busy,
        1e3 * compute / steps,
        duration(remaining * wall_s / steps),
    )
}

/// `5h12m`, `3m07s`, `42s`.
fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(step: u64) -> Position {
        Position {
            step,
            total_steps: 1000,
            epoch: 2,
            epochs: 90,
            loss: 4.12345,
            lr: 0.01,
        }
    }

    #[test]
    fn a_line_reads_step_loss_rate_split_and_eta() {
        // 10 steps of 128 images in 2 s: 2 ms waiting, 198 ms computing each.
        let w = Window {
            steps: 10,
            images: 1280,
            wait: Duration::from_millis(20),
            compute: Duration::from_millis(1980),
        };
        let line = format_line(&at(200), &w, Duration::from_secs(2));
        assert_eq!(
            line,
            "step 200/1000 (epoch 3/90) loss 4.1235 lr 1.0e-2 | 640 img/s | data 1% 2.0 ms, compute 99% 198.0 ms per step | eta 2m40s"
        );
    }

    #[test]
    fn lines_come_every_n_steps_and_never_when_off() {
        let mut log = StepLog::with_interval(3);
        let ms = Duration::from_millis;
        let printed: Vec<u64> = (1..=10)
            .filter(|&s| log.step(&at(s), ms(1), ms(3), 8).is_some())
            .collect();
        assert_eq!(printed, vec![3, 6, 9]);
        // The window restarts after a line: 3 steps, 3 ms of 12 waiting.
        let mut log = StepLog::with_interval(3);
        log.step(&at(1), ms(1), ms(3), 8);
        log.step(&at(2), ms(1), ms(3), 8);
        let line = log.step(&at(3), ms(1), ms(3), 8).unwrap();
        assert!(
            line.contains("data 25% 1.0 ms, compute 75% 3.0 ms"),
            "{line}"
        );
        let mut off = StepLog::with_interval(0);
        assert!((1..=10).all(|s| off.step(&at(s), ms(1), ms(1), 1).is_none()));
    }

    #[test]
    fn durations() {
        assert_eq!(duration(42.4), "42s");
        assert_eq!(duration(187.0), "3m07s");
        assert_eq!(duration(5.0 * 3600.0 + 12.0 * 60.0 + 30.0), "5h12m");
        assert_eq!(duration(-1.0), "0s");
    }
}
