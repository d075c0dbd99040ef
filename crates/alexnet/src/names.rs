//! Parameter names in safetensors files: PyTorch `nn.Sequential` indices.
//!
//! torchvision's `alexnet` is `features` (conv, ReLU, pool, ...) followed by
//! `classifier` (Dropout, Linear, ReLU, Dropout, Linear, ReLU, Linear), so
//! its weights are named by their index in those sequences. The paper
//! variant uses the same scheme for the equivalent PyTorch sequence:
//! `features` = conv1(0) ReLU LRN MaxPool conv2(4) ReLU LRN MaxPool conv3(8)
//! ReLU conv4(10) ReLU conv5(12) ReLU MaxPool, `classifier` = fc6(0) ReLU
//! Dropout fc7(3) ReLU Dropout fc8(6).

use crate::config::Variant;

/// Prefixes of conv1..conv5 then fc6..fc8; each has `.weight` and `.bias`.
pub fn layer_prefixes(variant: Variant) -> [&'static str; 8] {
    match variant {
        Variant::Paper => [
            "features.0",
            "features.4",
            "features.8",
            "features.10",
            "features.12",
            "classifier.0",
            "classifier.3",
            "classifier.6",
        ],
        Variant::Torchvision => [
            "features.0",
            "features.3",
            "features.6",
            "features.8",
            "features.10",
            "classifier.1",
            "classifier.4",
            "classifier.6",
        ],
    }
}

/// Human name of layer `l` (0-based over conv1..conv5, fc6..fc8).
pub fn layer_label(l: usize) -> &'static str {
    [
        "conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8",
    ][l]
}
