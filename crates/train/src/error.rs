//! Errors of training, checkpointing and evaluation.

use std::path::PathBuf;

use crate::loader::LoaderError;

/// Everything that can stop training or evaluation.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The shards could not be opened or read.
    #[error(transparent)]
    Loader(#[from] LoaderError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// No checkpoint where one was expected.
    #[error(
        "{path}: no checkpoint here (expected a checkpoint directory with state.json, or a run directory with checkpoints/latest)"
    )]
    NoCheckpoint {
        /// The path given.
        path: PathBuf,
    },
    /// A checkpoint file is unreadable or inconsistent.
    #[error("{path}: corrupt checkpoint: {reason}")]
    CorruptCheckpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The checkpoint was made with a configuration that changes training.
    #[error(
        "{path}: checkpoint was trained with {field} = {stored}, but this run asks for {field} = {current}; resume with the same setting or start a new run"
    )]
    ConfigMismatch {
        /// The checkpoint's state.json.
        path: PathBuf,
        /// The differing field.
        field: String,
        /// The checkpoint's value.
        stored: String,
        /// This run's value.
        current: String,
    },
    /// The checkpoint was made on other data.
    #[error(
        "{path}: checkpoint was trained on a dataset whose manifest has SHA-256 {stored}, but {data} has {current}"
    )]
    DatasetMismatch {
        /// The checkpoint's state.json.
        path: PathBuf,
        /// The data directory of this run.
        data: PathBuf,
        /// The checkpoint's manifest hash.
        stored: String,
        /// This data's manifest hash.
        current: String,
    },
    /// The dataset cannot be used as asked.
    #[error("{path}: {reason}")]
    BadData {
        /// The data directory or manifest.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The loss became NaN or infinite.
    #[error(
        "loss is {loss} at step {step} (epoch {epoch}): training stopped; {}",
        match last_checkpoint {
            Some(p) => format!("the last good checkpoint is {}", p.display()),
            None => "no checkpoint had been written yet".to_string(),
        }
    )]
    NonFiniteLoss {
        /// Global step (1-based) whose loss was not finite.
        step: u64,
        /// Epoch (0-based).
        epoch: u64,
        /// The loss value.
        loss: f32,
        /// The newest checkpoint, untouched.
        last_checkpoint: Option<PathBuf>,
    },
    /// The weights became NaN or infinite (found before a checkpoint).
    #[error(
        "weights are NaN or infinite after step {step} (epoch {epoch}): training stopped; {}",
        match last_checkpoint {
            Some(p) => format!("the last good checkpoint is {}", p.display()),
            None => "no checkpoint had been written yet".to_string(),
        }
    )]
    NonFiniteWeights {
        /// Global step after which the weights were checked.
        step: u64,
        /// Epoch (0-based).
        epoch: u64,
        /// The newest checkpoint, untouched.
        last_checkpoint: Option<PathBuf>,
    },
    /// A GPU backend on a machine where it cannot run, or a device that
    /// does not exist (what is missing, what to do).
    #[error("{0}")]
    DeviceUnavailable(String),
    /// Another process holds the output directory.
    #[error(transparent)]
    Locked(#[from] atomic_io::LockError),
    /// An output file could not be written (or another process is writing
    /// it).
    #[error(transparent)]
    File(#[from] atomic_io::AtomicError),
    /// A checkpoint could not be written (a full disk, most often); the
    /// older checkpoints are untouched.
    #[error(
        "writing the checkpoint of step {step} failed: {source}; {}",
        match last_checkpoint {
            Some(p) => format!("the last good checkpoint is {} (resume from it once there is room)", p.display()),
            None => "no checkpoint had been written yet".to_string(),
        }
    )]
    CheckpointSave {
        /// The step being saved.
        step: u64,
        /// Why it failed.
        source: Box<TrainError>,
        /// The newest complete checkpoint.
        last_checkpoint: Option<PathBuf>,
    },
    /// A bad setting.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The model crate failed (loading weights, building the split).
    #[error("{context}: {message}")]
    Model {
        /// What was being done.
        context: String,
        /// The model crate's message.
        message: String,
    },
}

impl TrainError {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TrainError {
        let path = path.into();
        move |source| TrainError::Io { path, source }
    }
}

/// Shorthand.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;
