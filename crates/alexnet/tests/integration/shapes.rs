//! Output shapes, pool5 sizes and the configuration checks.

use crate::common;

use alexnet::{AlexNetConfig, ConfigError};
use common::{B, random_tensor};

#[test]
fn pool5_is_256x6x6_for_paper_and_torchvision() {
    assert_eq!(AlexNetConfig::paper(1000).validate(), Ok([256, 6, 6]));
    assert_eq!(AlexNetConfig::torchvision(1000).validate(), Ok([256, 6, 6]));
    assert_eq!(AlexNetConfig::tiny(10).validate(), Ok([64, 3, 3]));
}

#[test]
fn paper_forward_gives_6x6x256_features_and_logits() {
    let config = AlexNetConfig::paper(7);
    let model = config.init::<B>(&Default::default());
    let x = random_tensor::<B, 4>([1, 3, 224, 224], 1);
    let f = model.features(x.clone());
    assert_eq!(f.dims(), [1, 256 * 6 * 6]);
    assert_eq!(model.forward(x).dims(), [1, 7]);
}

#[test]
fn torchvision_forward_shapes() {
    let config = AlexNetConfig::torchvision(5);
    let model = config.init::<B>(&Default::default());
    let x = random_tensor::<B, 4>([1, 3, 224, 224], 2);
    assert_eq!(model.features(x.clone()).dims(), [1, 9216]);
    assert_eq!(model.forward(x).dims(), [1, 5]);
}

#[test]
fn tiny_forward_shapes() {
    let config = AlexNetConfig::tiny(10);
    assert_eq!(config.input_size(), 64);
    let model = config.init::<B>(&Default::default());
    let x = random_tensor::<B, 4>([3, 3, 64, 64], 3);
    assert_eq!(model.forward(x).dims(), [3, 10]);
}

#[test]
fn invalid_configs_are_rejected() {
    let mut c = AlexNetConfig::tiny(10);
    c.input_size = 8;
    assert!(matches!(c.validate(), Err(ConfigError::Vanishes { .. })));
    let mut c = AlexNetConfig::paper(10);
    c.channels[1] = 255;
    assert!(matches!(
        c.validate(),
        Err(ConfigError::Groups { layer: 2, .. })
    ));
    assert!(matches!(
        AlexNetConfig::paper(0).validate(),
        Err(ConfigError::Zero("num_classes"))
    ));
}
