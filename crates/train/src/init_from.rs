//! `--init-from`: a run's starting weights read from a safetensors file
//! (ours, or torchvision's state dict for the torchvision model) or a
//! checkpoint, instead of the random initialisation: fine-tuning.

use std::path::{Path, PathBuf};

use alexnet::safetensors::SafetensorsError;
use alexnet::{AlexNet, AlexNetConfig};
use burn::tensor::backend::Backend;

use crate::checkpoint;
use crate::error::{Result, TrainError};

/// The weights file `path` names: the file itself, or the weights of the
/// checkpoint a checkpoint or run directory holds (its `latest`).
pub fn weights_file(path: &Path) -> Result<PathBuf> {
    if path.is_dir() {
        Ok(checkpoint::find(path)?.dir.join(checkpoint::WEIGHTS_FILE))
    } else if path.is_file() {
        Ok(path.to_path_buf())
    } else {
        Err(TrainError::Config(format!(
            "--init-from {}: no such file or directory (give a .safetensors file or a checkpoint directory)",
            path.display()
        )))
    }
}

/// Loads the weights at `path` (see [`weights_file`]) as `model_cfg`'s
/// network on `device`. A file for another variant, another class count
/// or other layer sizes is refused, naming the file and the first tensor
/// that does not fit.
pub fn load<B: Backend>(
    model_cfg: &AlexNetConfig,
    path: &Path,
    device: &B::Device,
) -> Result<AlexNet<B>> {
    let file = weights_file(path)?;
    alexnet::safetensors::load(model_cfg, &file, device).map_err(|e| TrainError::Model {
        context: format!("--init-from {}", file.display()),
        message: explain(&e, model_cfg),
    })
}

/// The model crate's message plus what to do about the usual mistakes.
fn explain(e: &SafetensorsError, model_cfg: &AlexNetConfig) -> String {
    let hint = match e {
        SafetensorsError::Shape {
            layer: "fc8",
            expected,
            found,
            ..
        } if expected.first() != found.first() => format!(
            "; the weights classify {} classes, this dataset has {}: --init-from needs a file \
             trained on the same number of classes",
            found.first().copied().unwrap_or(0),
            model_cfg.num_classes
        ),
        SafetensorsError::Missing { .. } | SafetensorsError::Unexpected { .. } => {
            "; --model must be the variant the weights are for (torchvision's state dict: \
             --model torchvision)"
                .into()
        }
        _ => String::new(),
    };
    format!("{e}{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::backend::flex::FlexDevice;

    fn save(cfg: &AlexNetConfig, path: &Path) {
        let m: AlexNet<Flex> = cfg.init(&FlexDevice);
        alexnet::safetensors::save(&m, path).unwrap();
    }

    #[test]
    fn loads_matching_weights_and_refuses_other_classes_and_variants() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let tiny = AlexNetConfig::tiny(4);
        save(&tiny, &path);
        let m: AlexNet<Flex> = load(&tiny, &path, &FlexDevice).unwrap();
        let want = alexnet::safetensors::to_bytes(&m).unwrap();
        assert_eq!(
            want,
            std::fs::read(&path).unwrap(),
            "loaded the file's weights"
        );

        let e = load::<Flex>(&AlexNetConfig::tiny(5), &path, &FlexDevice)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("w.safetensors") && e.contains("4 classes") && e.contains("has 5"),
            "{e}"
        );
        let e = load::<Flex>(&AlexNetConfig::torchvision(4), &path, &FlexDevice)
            .unwrap_err()
            .to_string();
        assert!(e.contains("w.safetensors") && e.contains("--model"), "{e}");

        let e = load::<Flex>(&tiny, &dir.path().join("absent"), &FlexDevice)
            .unwrap_err()
            .to_string();
        assert!(e.contains("absent"), "{e}");
        std::fs::write(dir.path().join("junk.safetensors"), b"not weights").unwrap();
        let e = load::<Flex>(&tiny, &dir.path().join("junk.safetensors"), &FlexDevice)
            .unwrap_err()
            .to_string();
        assert!(e.contains("junk.safetensors"), "{e}");
    }
}
