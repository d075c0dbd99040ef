//! Weights as safetensors files, with PyTorch's names and layouts.
//!
//! Names come from [`crate::names`] (`features.0.weight`, ...,
//! `classifier.6.bias`); torchvision's own `alexnet` state dict, saved with
//! `safetensors.torch.save_file(model.state_dict(), path)`, loads with
//! [`AlexNetConfig::torchvision`]. Tensors are little-endian f32 in PyTorch's
//! layouts: conv weights `[out, in / groups, kh, kw]` (burn's too), linear
//! weights `[out, in]` (transposed from burn's `[in, out]` here). The file's
//! metadata holds the configuration as JSON under [`CONFIG_KEY`], for
//! information; loading checks names and shapes against the configuration
//! it is given.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use ::safetensors::tensor::{Dtype, SafeTensors, TensorView};
use burn::config::Config;
use burn::module::Param;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use crate::config::{AlexNetConfig, ConfigError};
use crate::model::AlexNet;
use crate::names::layer_prefixes;

/// Metadata key holding the configuration (JSON) in files we write.
pub const CONFIG_KEY: &str = "alexnet.config";

/// Why weights could not be saved or loaded. `source` names the file (or
/// the label given to [`from_bytes`]).
#[derive(Debug, thiserror::Error)]
pub enum SafetensorsError {
    /// Reading or writing the file failed.
    #[error("{source_name}: {error}")]
    Io {
        /// The file.
        source_name: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The file could not be written.
    #[error(transparent)]
    Write(#[from] atomic_io::AtomicError),
    /// The bytes are not a valid safetensors file.
    #[error("{source_name}: not a valid safetensors file: {message}")]
    Format {
        /// The file.
        source_name: String,
        /// What the parser said.
        message: String,
    },
    /// The configuration cannot build a network.
    #[error("{source_name}: {error}")]
    Config {
        /// The file.
        source_name: String,
        /// The configuration problem.
        error: ConfigError,
    },
    /// An expected tensor is absent.
    #[error(
        "{source_name}: tensor `{name}` ({layer}) is missing; is this file for another AlexNet variant?"
    )]
    Missing {
        /// The file.
        source_name: String,
        /// The missing tensor.
        name: String,
        /// Layer it belongs to (conv1..fc8).
        layer: &'static str,
    },
    /// The file has tensors this configuration does not.
    #[error(
        "{source_name}: unexpected tensors {names:?} (expected only {expected} AlexNet parameters)"
    )]
    Unexpected {
        /// The file.
        source_name: String,
        /// Up to ten unexpected names.
        names: Vec<String>,
        /// How many parameters the configuration has.
        expected: usize,
    },
    /// A tensor's shape differs from the configuration's.
    #[error(
        "{source_name}: tensor `{name}` ({layer}) has shape {found:?}, the configuration needs {expected:?}"
    )]
    Shape {
        /// The file.
        source_name: String,
        /// The tensor.
        name: String,
        /// Layer it belongs to.
        layer: &'static str,
        /// Shape the configuration needs (PyTorch layout).
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
    /// A tensor is not f32.
    #[error("{source_name}: tensor `{name}` is {dtype}, only F32 is supported")]
    Dtype {
        /// The file.
        source_name: String,
        /// The tensor.
        name: String,
        /// Its dtype.
        dtype: String,
    },
}

/// One parameter: its name, PyTorch shape and layer index (conv1 = 0).
struct Entry {
    name: String,
    shape: Vec<usize>,
    layer: usize,
}

/// The parameters `config` has, in order conv1.weight, conv1.bias, ...
#[allow(clippy::needless_range_loop)] // `l` indexes four per-layer arrays
fn entries(config: &AlexNetConfig) -> Vec<Entry> {
    let prefixes = layer_prefixes(config.variant);
    let mut out = Vec::with_capacity(16);
    let mut in_ch = 3;
    for l in 0..5 {
        let (c, k) = (config.channels[l], config.kernel_sizes[l]);
        out.push(Entry {
            name: format!("{}.weight", prefixes[l]),
            shape: vec![c, in_ch / config.groups[l], k, k],
            layer: l,
        });
        out.push(Entry {
            name: format!("{}.bias", prefixes[l]),
            shape: vec![c],
            layer: l,
        });
        in_ch = c;
    }
    let dims = [
        config.feature_len(),
        config.fc_width,
        config.fc_width,
        config.num_classes,
    ];
    for l in 0..3 {
        out.push(Entry {
            name: format!("{}.weight", prefixes[5 + l]),
            shape: vec![dims[l + 1], dims[l]],
            layer: 5 + l,
        });
        out.push(Entry {
            name: format!("{}.bias", prefixes[5 + l]),
            shape: vec![dims[l + 1]],
            layer: 5 + l,
        });
    }
    out
}

/// Writes `model`'s weights to `path`, whole or not at all
/// ([`atomic_io::write_file`]).
pub fn save<B: Backend>(model: &AlexNet<B>, path: &Path) -> Result<(), SafetensorsError> {
    let bytes = to_bytes(model)?;
    atomic_io::write_file(path, &bytes)?;
    Ok(())
}

/// `model`'s weights as the bytes of a safetensors file.
pub fn to_bytes<B: Backend>(model: &AlexNet<B>) -> Result<Vec<u8>, SafetensorsError> {
    let source_name = "<model>".to_string();
    let config = &model.config;
    config
        .validate()
        .map_err(|error| SafetensorsError::Config {
            source_name: source_name.clone(),
            error,
        })?;
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::with_capacity(16);
    for e in entries(config) {
        let data = if e.layer < 5 {
            let conv = &model.convs[e.layer];
            if e.name.ends_with("weight") {
                conv.weight.val().into_data()
            } else {
                bias_data(conv.bias.as_ref(), e.shape[0], &conv.weight.device())
            }
        } else {
            let fc = &model.fcs[e.layer - 5];
            if e.name.ends_with("weight") {
                fc.weight.val().transpose().into_data()
            } else {
                bias_data(fc.bias.as_ref(), e.shape[0], &fc.weight.device())
            }
        };
        let values: Vec<f32> =
            data.convert::<f32>()
                .to_vec()
                .map_err(|err| SafetensorsError::Format {
                    source_name: source_name.clone(),
                    message: format!("cannot read `{}` as f32: {err:?}", e.name),
                })?;
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        tensors.push((e.name, e.shape, bytes));
    }
    let views = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes).map(|v| (name.as_str(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SafetensorsError::Format {
            source_name: source_name.clone(),
            message: e.to_string(),
        })?;
    let metadata = HashMap::from([(CONFIG_KEY.to_string(), config.to_string())]);
    ::safetensors::serialize(views, Some(metadata)).map_err(|e| SafetensorsError::Format {
        source_name,
        message: e.to_string(),
    })
}

fn bias_data<B: Backend>(
    bias: Option<&Param<Tensor<B, 1>>>,
    len: usize,
    device: &B::Device,
) -> TensorData {
    match bias {
        Some(b) => b.val().into_data(),
        None => Tensor::<B, 1>::zeros([len], device).into_data(),
    }
}

/// A copy of `model` on another backend (and device), value for value:
/// weights travel as f32 bytes, so no backend's rounding enters.
pub fn transfer<B: Backend, B2: Backend>(
    model: &AlexNet<B>,
    device: &B2::Device,
) -> Result<AlexNet<B2>, SafetensorsError> {
    from_bytes(&model.config, &to_bytes(model)?, "<model>", device)
}

/// Reads weights for `config` from the safetensors file at `path`.
pub fn load<B: Backend>(
    config: &AlexNetConfig,
    path: &Path,
    device: &B::Device,
) -> Result<AlexNet<B>, SafetensorsError> {
    let source_name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|error| SafetensorsError::Io {
        source_name: source_name.clone(),
        error,
    })?;
    from_bytes(config, &bytes, &source_name, device)
}

/// Reads weights for `config` from safetensors bytes; `source_name` labels
/// errors.
pub fn from_bytes<B: Backend>(
    config: &AlexNetConfig,
    bytes: &[u8],
    source_name: &str,
    device: &B::Device,
) -> Result<AlexNet<B>, SafetensorsError> {
    let src = || source_name.to_string();
    config
        .validate()
        .map_err(|error| SafetensorsError::Config {
            source_name: src(),
            error,
        })?;
    let file = SafeTensors::deserialize(bytes).map_err(|e| SafetensorsError::Format {
        source_name: src(),
        message: e.to_string(),
    })?;
    let entries = entries(config);
    let expected: BTreeSet<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    let extra: Vec<String> = file
        .names()
        .into_iter()
        .filter(|n| !expected.contains(n))
        .take(10)
        .map(String::from)
        .collect();
    if !extra.is_empty() {
        let mut names = extra;
        names.sort();
        return Err(SafetensorsError::Unexpected {
            source_name: src(),
            names,
            expected: expected.len(),
        });
    }
    let mut model = AlexNet::<B>::new(config.clone(), device);
    for e in entries {
        let layer = crate::names::layer_label(e.layer);
        let view = file
            .tensor(&e.name)
            .map_err(|_| SafetensorsError::Missing {
                source_name: src(),
                name: e.name.clone(),
                layer,
            })?;
        if view.dtype() != Dtype::F32 {
            return Err(SafetensorsError::Dtype {
                source_name: src(),
                name: e.name,
                dtype: format!("{:?}", view.dtype()),
            });
        }
        if view.shape() != e.shape.as_slice() {
            return Err(SafetensorsError::Shape {
                source_name: src(),
                name: e.name,
                layer,
                expected: e.shape,
                found: view.shape().to_vec(),
            });
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let is_weight = e.name.ends_with("weight");
        if e.layer < 5 {
            let data = TensorData::new(values, e.shape.clone());
            let conv = &mut model.convs[e.layer];
            if is_weight {
                conv.weight = Param::from_tensor(Tensor::from_data(data, device));
            } else {
                conv.bias = Some(Param::from_tensor(Tensor::from_data(data, device)));
            }
        } else {
            let fc = &mut model.fcs[e.layer - 5];
            if is_weight {
                let (rows, cols) = (e.shape[0], e.shape[1]);
                let data = TensorData::new(transpose(&values, rows, cols), [cols, rows]);
                fc.weight = Param::from_tensor(Tensor::from_data(data, device));
            } else {
                let data = TensorData::new(values, e.shape.clone());
                fc.bias = Some(Param::from_tensor(Tensor::from_data(data, device)));
            }
        }
    }
    Ok(model)
}

/// `[rows, cols]` → `[cols, rows]`, on the host so burn gets a contiguous
/// `[in, out]` linear weight (a transposed view would change its matmul path).
fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0f32; v.len()];
    for (r, row) in v.chunks_exact(cols).enumerate() {
        for (c, x) in row.iter().enumerate() {
            t[c * rows + r] = *x;
        }
    }
    t
}

/// The configuration stored in a file's metadata by [`save`], if any.
pub fn read_config(path: &Path) -> Result<Option<AlexNetConfig>, SafetensorsError> {
    let source_name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|error| SafetensorsError::Io {
        source_name: source_name.clone(),
        error,
    })?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| SafetensorsError::Format {
        source_name: source_name.clone(),
        message: e.to_string(),
    })?;
    match meta.metadata().as_ref().and_then(|m| m.get(CONFIG_KEY)) {
        None => Ok(None),
        Some(json) => AlexNetConfig::load_binary(json.as_bytes())
            .map(Some)
            .map_err(|e| SafetensorsError::Format {
                source_name,
                message: format!("metadata `{CONFIG_KEY}` is not an AlexNet configuration: {e}"),
            }),
    }
}
