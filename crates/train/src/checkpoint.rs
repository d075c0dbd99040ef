//! Checkpoints: a directory per checkpoint, made complete under a temporary
//! name and renamed into place, then named by an atomically replaced
//! `latest` file. `state.json` records the SHA-256 of the other two files,
//! checked whenever a checkpoint is found.
//!
//! ```text
//! OUT/checkpoints/step-00001234/model.safetensors   weights (grouped model)
//!                              /optimizer.mpk       momentum buffers (burn record)
//!                              /state.json          everything else
//! OUT/checkpoints/latest                            "step-00001234"
//! OUT/checkpoints/best/                             the epoch end with the lowest
//!                                                   val top-1 error (module `best`)
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use alexnet::{AlexNet, AlexNetConfig};
use burn::module::ParamId;
use burn::optim::Optimizer;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::fault;
use crate::metrics::TopK;
use crate::net::{Classifier, Optim, param_ids};
use crate::schedule::LrState;

mod best;
pub use best::{BEST_DIR, reconcile_best, update_best};

/// Version of the checkpoint layout (2: `files` checksums; 1, without
/// them, still loads).
pub const CHECKPOINT_FORMAT: u32 = 2;
/// Sub-directory of the output directory holding checkpoints.
pub const CHECKPOINTS_DIR: &str = "checkpoints";
/// File naming the newest complete checkpoint.
pub const LATEST_FILE: &str = "latest";
/// Weights file inside a checkpoint.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// Optimizer-state file inside a checkpoint.
pub const OPTIMIZER_FILE: &str = "optimizer.mpk";
/// State file inside a checkpoint.
pub const STATE_FILE: &str = "state.json";

/// Identity of the data a run trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetId {
    /// SHA-256 of `manifest.json` (which holds every shard's checksum).
    pub manifest_sha256: String,
    /// Classes.
    pub num_classes: usize,
    /// Training images.
    pub train_images: u64,
    /// Validation images.
    pub val_images: u64,
}

/// Where training stands: enough to continue exactly.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointState {
    /// [`CHECKPOINT_FORMAT`].
    pub format: u32,
    /// The run's full configuration.
    pub config: TrainConfig,
    /// The network's configuration (to rebuild it for loading).
    pub model_config: AlexNetConfig,
    /// The data the run trains on.
    pub dataset: DatasetId,
    /// Epoch in progress (0-based); `batch_in_epoch == 0` means it has not started.
    pub epoch: u64,
    /// Next batch of `epoch` to train on (the loader's start position).
    pub batch_in_epoch: u64,
    /// SGD steps taken in total.
    pub global_step: u64,
    /// Learning-rate schedule state.
    pub lr_state: LrState,
    /// Training metrics accumulated so far in `epoch`.
    pub epoch_train: TopK,
    /// Seconds spent so far in `epoch`.
    pub epoch_seconds: f64,
    /// Parameter ids of the trained module in visiting order when saved;
    /// maps the optimizer state onto the reloaded module.
    pub param_ids: Vec<u64>,
    /// Whether this checkpoint was written at an epoch end.
    pub epoch_end: bool,
    /// The validation of the epoch end this checkpoint was written at
    /// (absent elsewhere): what [`BEST_DIR`] is chosen by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val: Option<ValResult>,
    /// SHA-256 (hex) of the checkpoint's other files, by file name; filled
    /// by [`save`].
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

/// One validation's result, as an epoch-end checkpoint records it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValResult {
    /// Mean cross-entropy (centre crop).
    pub loss: f64,
    /// Top-1 error in [0, 1].
    pub top1_error: f64,
    /// Top-5 error in [0, 1].
    pub top5_error: f64,
}

/// A checkpoint found on disk.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Its directory.
    pub dir: PathBuf,
    /// Its state.
    pub state: CheckpointState,
}

/// Directory name of the checkpoint at `step`.
pub fn checkpoint_name(step: u64) -> String {
    format!("step-{step:08}")
}

/// Writes a checkpoint of `model` and `optim` under `out/checkpoints`,
/// points `latest` at it and keeps only the newest `keep` checkpoints.
pub fn save<B: AutodiffBackend, M: Classifier<B>>(
    out: &Path,
    state: &CheckpointState,
    model: &M,
    optim: &Optim<B, M>,
    device: &B::Device,
    keep: usize,
) -> Result<PathBuf> {
    let root = out.join(CHECKPOINTS_DIR);
    fs::create_dir_all(&root).map_err(TrainError::io(&root))?;
    let name = checkpoint_name(state.global_step);
    let final_dir = root.join(&name);
    let tmp = root.join(format!(".tmp-{name}"));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(TrainError::io(&tmp))?;
    }
    fs::create_dir_all(&tmp).map_err(TrainError::io(&tmp))?;

    fault::point("checkpoint.begin");
    let grouped = model.to_grouped(device);
    let weights = tmp.join(WEIGHTS_FILE);
    alexnet::safetensors::save(&grouped, &weights).map_err(|e| TrainError::Model {
        context: format!("writing {}", weights.display()),
        message: e.to_string(),
    })?;
    let weights_sha = sha256_file(&weights)?;
    fault::point("checkpoint.weights");

    let bytes = NamedMpkBytesRecorder::<FullPrecisionSettings>::new()
        .record(optim.to_record(), ())
        .map_err(|e| TrainError::CorruptCheckpoint {
            path: tmp.join(OPTIMIZER_FILE),
            reason: format!("cannot encode optimizer state: {e}"),
        })?;
    let optim_path = tmp.join(OPTIMIZER_FILE);
    let optim_sha = atomic_io::hex(&Sha256::digest(&bytes));
    fs::write(&optim_path, bytes).map_err(TrainError::io(&optim_path))?;
    fault::point("checkpoint.optimizer");

    let mut state = state.clone();
    state.format = CHECKPOINT_FORMAT;
    state.param_ids = param_ids(model);
    state.files = BTreeMap::from([
        (WEIGHTS_FILE.to_string(), weights_sha),
        (OPTIMIZER_FILE.to_string(), optim_sha),
    ]);
    let json = serde_json::to_vec_pretty(&state).expect("state serialises");
    let state_path = tmp.join(STATE_FILE);
    fs::write(&state_path, json).map_err(TrainError::io(&state_path))?;
    fault::point("checkpoint.state");

    atomic_io::sync_files_in(&tmp)?;
    atomic_io::sync_dir(&tmp)?;
    install(&tmp, &final_dir, "checkpoint.exchanged")?;
    atomic_io::sync_dir(&root)?;
    fault::point("checkpoint.installed");
    let latest = root.join(LATEST_FILE);
    atomic_io::write_file(&latest, format!("{name}\n").as_bytes())?;
    fault::point("checkpoint.latest");
    prune(&root, keep)?;
    Ok(final_dir)
}

/// Moves the complete checkpoint `tmp` to `dest`. If `dest` exists (the
/// same step saved again: a step checkpoint that is also an epoch end, whose
/// newer state carries the epoch end), the two are exchanged in one atomic
/// rename and the old one removed, so `latest` never names a missing
/// directory. Where the OS cannot exchange, the old one is removed first.
/// `exchanged` names the fault point between the exchange and the removal.
fn install(tmp: &Path, dest: &Path, exchanged: &str) -> Result<()> {
    if dest.exists() {
        if exchange(tmp, dest).is_ok() {
            fault::point(exchanged);
            return fs::remove_dir_all(tmp).map_err(TrainError::io(tmp));
        }
        fs::remove_dir_all(dest).map_err(TrainError::io(dest))?;
    }
    fs::rename(tmp, dest).map_err(TrainError::io(dest))
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (ca, cb) = (c(a)?, c(b)?);
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// Hex SHA-256 of a file's content.
fn sha256_file(path: &Path) -> Result<String> {
    let mut f = fs::File::open(path).map_err(TrainError::io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(TrainError::io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(atomic_io::hex(&hasher.finalize()))
}

/// Checks the files of the checkpoint in `dir` against `state.files`.
fn verify_files(dir: &Path, state: &CheckpointState) -> Result<()> {
    for f in [WEIGHTS_FILE, OPTIMIZER_FILE] {
        let path = dir.join(f);
        if !path.is_file() {
            return Err(TrainError::CorruptCheckpoint {
                reason: format!("missing{}", older_hint(dir, state.global_step)),
                path,
            });
        }
        // Format 1 checkpoints carry no checksums.
        let Some(want) = state.files.get(f) else {
            if state.format >= 2 {
                return Err(TrainError::CorruptCheckpoint {
                    path: dir.join(STATE_FILE),
                    reason: format!("records no checksum of {f}"),
                });
            }
            continue;
        };
        let got = sha256_file(&path)?;
        if &got != want {
            return Err(TrainError::CorruptCheckpoint {
                reason: format!(
                    "SHA-256 {got} is not the {want} {STATE_FILE} records (truncated or altered \
                     since it was saved){}",
                    older_hint(dir, state.global_step)
                ),
                path,
            });
        }
    }
    Ok(())
}

/// Names the newest other checkpoint beside `dir`, older than `step`, for
/// an error about `dir`.
fn older_hint(dir: &Path, step: u64) -> String {
    let Some(root) = dir.parent() else {
        return String::new();
    };
    let older = fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let s: u64 = name.strip_prefix("step-")?.parse().ok()?;
            (s < step && e.path().join(STATE_FILE).is_file()).then(|| (s, e.path()))
        })
        .max();
    match older {
        Some((_, p)) => format!(
            "; an older checkpoint remains: resume with --resume {}",
            p.display()
        ),
        None => String::new(),
    }
}

/// Removes all but the newest `keep` checkpoints of the run in `out`, and
/// what a killed save left (`.tmp-*`); a resumed run starts with this, so a
/// kill between a save and its pruning leaves nothing behind for long.
pub fn tidy(out: &Path, keep: usize) -> Result<()> {
    let root = out.join(CHECKPOINTS_DIR);
    if root.is_dir() {
        prune(&root, keep)?;
    }
    Ok(())
}

/// Removes all but the newest `keep` checkpoints (and stale temporaries).
fn prune(root: &Path, keep: usize) -> Result<()> {
    let mut steps: Vec<(u64, PathBuf)> = Vec::new();
    for entry in fs::read_dir(root).map_err(TrainError::io(root))? {
        let entry = entry.map_err(TrainError::io(root))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".tmp-") {
            let _ = fs::remove_dir_all(entry.path());
        } else if let Some(step) = name.strip_prefix("step-").and_then(|s| s.parse().ok()) {
            steps.push((step, entry.path()));
        }
    }
    steps.sort();
    let excess = steps.len().saturating_sub(keep.max(1));
    for (_, path) in &steps[..excess] {
        fs::remove_dir_all(path).map_err(TrainError::io(path))?;
    }
    Ok(())
}

/// Finds the checkpoint at `path`: a checkpoint directory, a
/// `checkpoints/` directory, or a run's output directory (via `latest`).
pub fn find(path: &Path) -> Result<Checkpoint> {
    let dir = if path.join(STATE_FILE).is_file() {
        path.to_path_buf()
    } else {
        let latest = [
            path.join(LATEST_FILE),
            path.join(CHECKPOINTS_DIR).join(LATEST_FILE),
        ]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| TrainError::NoCheckpoint {
            path: path.to_path_buf(),
        })?;
        let name = fs::read_to_string(&latest).map_err(TrainError::io(&latest))?;
        let dir = latest.parent().expect("has parent").join(name.trim());
        if !dir.join(STATE_FILE).is_file() {
            return Err(TrainError::CorruptCheckpoint {
                path: latest,
                reason: format!(
                    "names `{}`, which holds no {STATE_FILE}{}",
                    name.trim(),
                    older_hint(&dir, u64::MAX)
                ),
            });
        }
        dir
    };
    let state_path = dir.join(STATE_FILE);
    let text = fs::read_to_string(&state_path).map_err(TrainError::io(&state_path))?;
    let state: CheckpointState =
        serde_json::from_str(&text).map_err(|e| TrainError::CorruptCheckpoint {
            path: state_path.clone(),
            reason: format!("{e}{}", older_hint(&dir, u64::MAX)),
        })?;
    if !(1..=CHECKPOINT_FORMAT).contains(&state.format) {
        return Err(TrainError::CorruptCheckpoint {
            path: state_path,
            reason: format!(
                "checkpoint format {} is not one this build reads (1 to {CHECKPOINT_FORMAT})",
                state.format
            ),
        });
    }
    verify_files(&dir, &state)?;
    Ok(Checkpoint { dir, state })
}

impl Checkpoint {
    /// Loads the weights as the grouped model on `device`.
    pub fn load_weights<B: Backend>(&self, device: &B::Device) -> Result<AlexNet<B>> {
        let path = self.dir.join(WEIGHTS_FILE);
        alexnet::safetensors::load(&self.state.model_config, &path, device).map_err(|e| {
            TrainError::Model {
                context: format!("loading {}", path.display()),
                message: e.to_string(),
            }
        })
    }

    /// Loads the optimizer state onto `optim`, re-keyed to `model`'s
    /// parameter ids (which change when weights are reloaded).
    pub fn load_optimizer<B: AutodiffBackend, M: Classifier<B>>(
        &self,
        model: &M,
        optim: Optim<B, M>,
        device: &B::Device,
    ) -> Result<Optim<B, M>> {
        let path = self.dir.join(OPTIMIZER_FILE);
        let bytes = fs::read(&path).map_err(TrainError::io(&path))?;
        let record: <Optim<B, M> as Optimizer<M, B>>::Record =
            NamedMpkBytesRecorder::<FullPrecisionSettings>::new()
                .load(bytes, device)
                .map_err(|e| TrainError::CorruptCheckpoint {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
        let new_ids = param_ids(model);
        if new_ids.len() != self.state.param_ids.len() {
            return Err(TrainError::CorruptCheckpoint {
                path: self.dir.join(STATE_FILE),
                reason: format!(
                    "lists {} parameters, the model has {}",
                    self.state.param_ids.len(),
                    new_ids.len()
                ),
            });
        }
        let map: HashMap<u64, u64> = self
            .state
            .param_ids
            .iter()
            .copied()
            .zip(new_ids.iter().copied())
            .collect();
        let remapped: <Optim<B, M> as Optimizer<M, B>>::Record = record
            .into_iter()
            .map(|(id, rec)| {
                map.get(&id.val())
                    .map(|new| (ParamId::from(*new), rec))
                    .ok_or_else(|| TrainError::CorruptCheckpoint {
                        path: path.clone(),
                        reason: format!("optimizer state for unknown parameter {id}"),
                    })
            })
            .collect::<Result<_>>()?;
        Ok(optim.load_record(remapped))
    }
}
