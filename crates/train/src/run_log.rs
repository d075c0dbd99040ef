//! `metrics.jsonl` and `summary.csv` on disk, the plot, progress bars and
//! the summary table.

mod summary_csv;

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use crate::error::{Result, TrainError};
use crate::metrics::MetricRecord;

/// File name of the metrics log inside the output directory.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// File name of the plot inside the output directory.
pub const PLOT_FILE: &str = "curves.png";
/// File name of the per-epoch table inside the output directory.
pub const SUMMARY_FILE: &str = "summary.csv";

/// The append-only metrics log, plus its records in memory for the plot,
/// and `summary.csv`, rewritten from those records at every epoch end.
pub struct MetricsLog {
    path: PathBuf,
    summary: PathBuf,
    file: File,
    /// Every record of the run so far.
    pub records: Vec<MetricRecord>,
}

impl MetricsLog {
    /// Opens `out/metrics.jsonl`, keeping only records up to `keep_until_step`
    /// (those a resumed run will not write again) — lines written after the
    /// checkpoint by a killed run are dropped, so no step appears twice.
    pub fn open(out: &Path, keep_until_step: u64) -> Result<Self> {
        let path = out.join(METRICS_FILE);
        let mut records = Vec::new();
        // Kept lines are copied as they were written, never re-serialised.
        let mut text = String::new();
        if keep_until_step > 0
            && let Ok(f) = File::open(&path)
        {
            for line in BufReader::new(f).lines() {
                let line = line.map_err(TrainError::io(&path))?;
                // A torn last line from a kill is skipped, not an error.
                if let Ok(r) = serde_json::from_str::<MetricRecord>(&line)
                    && r.step() <= keep_until_step
                {
                    records.push(r);
                    text.push_str(&line);
                    text.push('\n');
                }
            }
        }
        atomic_io::write_file(&path, text.as_bytes())?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(TrainError::io(&path))?;
        let log = Self {
            path,
            summary: out.join(SUMMARY_FILE),
            file,
            records,
        };
        // Rebuilt from the kept records: no row of a discarded future.
        log.write_summary()?;
        Ok(log)
    }

    /// Appends one record (and rewrites `summary.csv` after an epoch's).
    pub fn push(&mut self, r: MetricRecord) -> Result<()> {
        let mut line = serde_json::to_string(&r).expect("record serialises");
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .map_err(TrainError::io(&self.path))?;
        let epoch = matches!(r, MetricRecord::Epoch { .. });
        self.records.push(r);
        if epoch {
            self.write_summary()?;
        }
        Ok(())
    }

    /// Replaces `summary.csv` whole (a crash leaves the old or the new one).
    fn write_summary(&self) -> Result<()> {
        let csv = summary_csv::render(&self.records);
        atomic_io::write_file(&self.summary, csv.as_bytes())?;
        Ok(())
    }

    /// Redraws the plot; a failure is reported, never fatal.
    pub fn plot(&self, out: &Path, quiet: bool) {
        if let Err(e) = crate::plot::draw(&self.records, &out.join(PLOT_FILE))
            && !quiet
        {
            eprintln!("warning: {e}");
        }
    }
}

/// A progress bar on stderr, hidden when stderr is not a terminal or in
/// quiet mode.
pub fn progress_bar(len: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] step {pos}/{len} {msg} {per_sec} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}

/// The per-epoch table printed at the end of training.
pub fn summary_table(records: &[MetricRecord]) -> String {
    let mut s = String::from(
        "epoch   step  train loss  train top-1  val loss  val top-1  val top-5        lr    time\n",
    );
    for r in records {
        if let MetricRecord::Epoch {
            epoch,
            step,
            train_loss,
            train_top1_error,
            val_loss,
            val_top1_error,
            val_top5_error,
            lr,
            seconds,
            ..
        } = r
        {
            s.push_str(&format!(
                "{epoch:>5} {step:>6} {train_loss:>11.4} {:>11.1}% {val_loss:>9.4} {:>9.1}% {:>9.1}% {lr:>9.2e} {seconds:>6.0}s\n",
                100.0 * train_top1_error,
                100.0 * val_top1_error,
                100.0 * val_top5_error,
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(s: u64) -> MetricRecord {
        MetricRecord::Step {
            epoch: 0,
            step: s,
            loss: 1.0,
            lr: 0.1,
            images_per_sec: 1.0,
        }
    }

    #[test]
    fn reopening_drops_records_after_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = MetricsLog::open(dir.path(), 0).unwrap();
        for s in 1..=5 {
            log.push(step(s)).unwrap();
        }
        drop(log);
        // A torn line, as a kill mid-write leaves.
        let p = dir.path().join(METRICS_FILE);
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"kind\":\"st").unwrap();
        drop(f);
        let mut log = MetricsLog::open(dir.path(), 3).unwrap();
        assert_eq!(log.records.len(), 3);
        log.push(step(4)).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let steps: Vec<u64> = text
            .lines()
            .map(|l| serde_json::from_str::<MetricRecord>(l).unwrap().step())
            .collect();
        assert_eq!(steps, vec![1, 2, 3, 4]);
        // A fresh run starts an empty log.
        let log = MetricsLog::open(dir.path(), 0).unwrap();
        assert!(log.records.is_empty());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "");
    }

    fn epoch(e: u64, s: u64) -> MetricRecord {
        MetricRecord::Epoch {
            epoch: e,
            step: s,
            train_loss: 1.0,
            train_top1_error: 0.5,
            train_top5_error: 0.25,
            val_loss: 1.0,
            val_top1_error: 0.5,
            val_top5_error: 0.25,
            lr: 0.1,
            seconds: 2.0,
        }
    }

    /// The `epoch` column of `summary.csv`.
    fn summary_epochs(dir: &Path) -> Vec<u64> {
        let text = std::fs::read_to_string(dir.join(SUMMARY_FILE)).unwrap();
        let mut lines = text.lines();
        assert!(lines.next().unwrap().starts_with("epoch,step,"), "{text}");
        lines
            .map(|l| l.split(',').next().unwrap().parse().unwrap())
            .collect()
    }

    #[test]
    fn summary_csv_follows_the_kept_records() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = MetricsLog::open(dir.path(), 0).unwrap();
        assert_eq!(summary_epochs(dir.path()), Vec::<u64>::new());
        for s in 1..=6 {
            log.push(step(s)).unwrap();
            if s % 2 == 0 {
                log.push(epoch(s / 2, s)).unwrap();
                // Written at each epoch end, not only at the close.
                assert_eq!(summary_epochs(dir.path()).len() as u64, s / 2);
            }
        }
        assert_eq!(summary_epochs(dir.path()), vec![1, 2, 3]);
        drop(log);
        // Resumed from the checkpoint of step 3: epochs 2 and 3 are a
        // discarded future and leave the table.
        let mut log = MetricsLog::open(dir.path(), 3).unwrap();
        assert_eq!(summary_epochs(dir.path()), vec![1]);
        log.push(step(4)).unwrap();
        log.push(epoch(2, 4)).unwrap();
        assert_eq!(summary_epochs(dir.path()), vec![1, 2]);
        drop(log);
        // A fresh run starts an empty table.
        MetricsLog::open(dir.path(), 0).unwrap();
        assert_eq!(summary_epochs(dir.path()), Vec::<u64>::new());
    }

    #[test]
    fn kept_lines_and_values_survive_a_reopen_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(METRICS_FILE);
        // The value a default serde_json parse rounded to ...468 (issue #13).
        let loss = 3.5706288814544678_f64;
        let mut log = MetricsLog::open(dir.path(), 0).unwrap();
        for s in 1..=3 {
            log.push(MetricRecord::Step {
                epoch: 0,
                step: s,
                loss,
                lr: 0.01,
                images_per_sec: 1234.567890123,
            })
            .unwrap();
        }
        drop(log);
        let before = std::fs::read_to_string(&p).unwrap();
        let log = MetricsLog::open(dir.path(), 3).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), before);
        let MetricRecord::Step { loss: back, .. } = log.records[0] else {
            panic!("a step record");
        };
        assert_eq!(back.to_bits(), loss.to_bits());
        assert!(before.contains("3.5706288814544678"), "{before}");
    }
}
