//! Fault injection: training killed at many points (between steps, after an
//! epoch's log line, at every stage of a checkpoint save, inside the
//! exchange that replaces a re-saved checkpoint) and resumed must end
//! bitwise-identical to a run never interrupted.
//!
//! A crash is a child process (this test binary, running only
//! [`crash_child`]) that aborts at a `train::fault` point: no destructors,
//! no flushing, its file lock dropped by the kernel, as after kill -9.

use crate::common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use train::checkpoint::{self, CHECKPOINTS_DIR, LATEST_FILE, WEIGHTS_FILE};
use train::config::{ModelKind, TrainConfig};
use train::fault::CRASH_ENV;
use train::{LrSchedule, train};

const CHILD_DATA: &str = "CRASH_TEST_DATA";
const CHILD_OUT: &str = "CRASH_TEST_OUT";

/// 24 training images, batch 8: 3 steps an epoch, 3 epochs. Checkpoints
/// (every 2 steps and every epoch end) at steps 2, 3, 4, 6, 8, 9.
fn config(data: &Path, out: &Path) -> TrainConfig {
    let mut c = TrainConfig::paper(data.to_path_buf(), out.to_path_buf());
    c.model = ModelKind::Tiny;
    c.batch_size = 8;
    c.val_batch_size = 16;
    c.epochs = 3;
    c.workers = 2;
    c.checkpoint_every = Some(2);
    c.lr_schedule = LrSchedule::Step {
        milestones: vec![1],
    };
    c.quiet = true;
    c
}

/// Resumes if the run has a checkpoint, else starts it, as a job script
/// re-run after a crash would.
fn run_to_end(data: &Path, out: &Path) -> train::TrainSummary {
    let has_ckpt = out.join(CHECKPOINTS_DIR).join(LATEST_FILE).is_file();
    train(&config(data, out), has_ckpt.then_some(out)).unwrap()
}

#[test]
#[ignore = "the child process of killed_anywhere_resume_ends_bitwise_identical; runs only when spawned by it"]
fn crash_child() {
    let (Ok(data), Ok(out)) = (std::env::var(CHILD_DATA), std::env::var(CHILD_OUT)) else {
        return;
    };
    run_to_end(Path::new(&data), Path::new(&out));
}

/// `crash_child`'s name as the test harness lists it: its module path
/// without the binary's crate name.
fn child_test_name() -> String {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    format!("{module}::crash_child")
}

/// Runs the training in a child that must abort at `point`.
fn crash_at(data: &Path, out: &Path, point: &str) {
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &child_test_name(),
            "--ignored",
            "--test-threads=1",
        ])
        .env(CHILD_DATA, data)
        .env(CHILD_OUT, out)
        .env(CRASH_ENV, point)
        .output()
        .unwrap();
    assert_eq!(
        status.status.signal(),
        Some(libc::SIGABRT),
        "the run was to abort at {point}; stderr:\n{}",
        String::from_utf8_lossy(&status.stderr)
    );
}

/// What must match after the crash: final weights, the weights one step
/// later (the optimizer's momentum went through the checkpoints; its file
/// itself differs between runs, as it is keyed by random parameter ids),
/// every metric except timings, `summary.csv` except its timing columns,
/// which checkpoints are kept, and `best/`'s weights.
#[derive(Debug, PartialEq)]
struct Outcome {
    weights: Vec<u8>,
    weights_one_step_later: Vec<u8>,
    metrics: Vec<serde_json::Value>,
    summary: Vec<String>,
    checkpoints: Vec<String>,
    best_weights: Vec<u8>,
}

fn outcome(data: &Path, out: &Path) -> Outcome {
    let ck = checkpoint::find(out).unwrap();
    let metrics = std::fs::read_to_string(out.join(train::run_log::METRICS_FILE))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("images_per_sec");
            o.remove("seconds");
            v
        })
        .collect();
    let mut checkpoints: Vec<String> = std::fs::read_dir(out.join(CHECKPOINTS_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    checkpoints.sort();
    let weights = std::fs::read(ck.dir.join(WEIGHTS_FILE)).unwrap();
    let best = out.join(CHECKPOINTS_DIR).join(checkpoint::BEST_DIR);
    let best_weights = std::fs::read(best.join(WEIGHTS_FILE)).unwrap();
    // Columns after `lr` are timings.
    let summary = std::fs::read_to_string(out.join(train::run_log::SUMMARY_FILE))
        .unwrap()
        .lines()
        .map(|l| l.split(',').take(9).collect::<Vec<_>>().join(","))
        .collect();
    let mut more = config(data, out);
    more.epochs = 4;
    more.max_steps = Some(10);
    train(&more, Some(out)).unwrap();
    let later = checkpoint::find(out).unwrap();
    assert_eq!(later.state.global_step, 10);
    Outcome {
        weights,
        weights_one_step_later: std::fs::read(later.dir.join(WEIGHTS_FILE)).unwrap(),
        metrics,
        summary,
        checkpoints,
        best_weights,
    }
}

#[test]
fn killed_anywhere_resume_ends_bitwise_identical() {
    let _g = common::lock();
    let dir = tempfile::tempdir().unwrap();
    let data: PathBuf = dir.path().join("data");
    common::write_dataset(&data, 4, 6, 2, 72);
    let straight = dir.path().join("straight");
    run_to_end(&data, &straight);
    let want = outcome(&data, &straight);
    assert_eq!(
        want.checkpoints,
        [
            "best",
            "latest",
            "step-00000006",
            "step-00000008",
            "step-00000009"
        ]
    );

    // Each case: the crashes in order, then a run to the end. A pass
    // number counts saves (steps 2, 3, 4, 6, 8, 9) or steps.
    let cases: &[&[&str]] = &[
        &["step.logged:1"],        // before any checkpoint: starts afresh
        &["step.logged:5"],        // mid-epoch, newest checkpoint step 4
        &["epoch.logged:1"],       // validation logged, epoch end unsaved
        &["checkpoint.begin:2"],   // the epoch-end save of step 3
        &["checkpoint.weights:3"], // weights written, nothing else
        &["checkpoint.optimizer:4"],
        &["checkpoint.state:5"],
        // Complete under its name, `latest` not yet moved: the resumed run
        // saves step 3 again and exchanges it; the second case crashes
        // inside that exchange, leaving the old copy as a temporary.
        &["checkpoint.installed:2"],
        &["checkpoint.installed:2", "checkpoint.exchanged:1"],
        &["checkpoint.latest:6"], // the last save, before pruning
        // The first epoch end's best/: before, midway and once in place.
        &["best.begin:1"],
        &["best.linked:1"],
        &["best.installed:1"],
        &["step.logged:2", "checkpoint.state:1", "epoch.logged:2"],
    ];
    for (i, crashes) in cases.iter().enumerate() {
        let out = dir.path().join(format!("case-{i}"));
        for point in *crashes {
            crash_at(&data, &out, point);
        }
        run_to_end(&data, &out);
        let got = outcome(&data, &out);
        assert!(
            got.weights == want.weights,
            "{crashes:?}: final weights differ"
        );
        assert!(
            got.weights_one_step_later == want.weights_one_step_later,
            "{crashes:?}: the optimizer state differs (weights one step later)"
        );
        assert_eq!(got.metrics, want.metrics, "{crashes:?}: metrics differ");
        assert_eq!(
            got.summary, want.summary,
            "{crashes:?}: summary.csv differs"
        );
        assert!(
            got.best_weights == want.best_weights,
            "{crashes:?}: best/ holds other weights"
        );
        assert_eq!(
            got.checkpoints, want.checkpoints,
            "{crashes:?}: kept checkpoints"
        );
    }
}
