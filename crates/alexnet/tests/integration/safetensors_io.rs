//! Saving and loading weights: round trips, torchvision's names and
//! layouts, and clear errors for bad files.

use crate::common;

use std::collections::HashMap;

use alexnet::safetensors::{SafetensorsError, from_bytes, load, read_config, save, to_bytes};
use alexnet::{AlexNetConfig, Variant};
use common::{B, random_tensor, values};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

/// A torchvision-named configuration small enough for tests.
fn small_torchvision() -> AlexNetConfig {
    AlexNetConfig {
        channels: [8, 12, 16, 12, 8],
        fc_width: 32,
        ..AlexNetConfig::torchvision(5)
    }
}

#[test]
fn round_trip_both_variants() {
    let dir = tempfile::tempdir().unwrap();
    let device = Default::default();
    for config in [AlexNetConfig::tiny(10), small_torchvision()] {
        let model = config.init::<B>(&device);
        let path = dir.path().join(format!("{:?}.safetensors", config.variant));
        save(&model, &path).unwrap();
        let loaded = load::<B>(&config, &path, &device).unwrap();
        let x = random_tensor::<B, 4>([2, 3, 64, 64], 1);
        let x = if config.variant == Variant::Torchvision {
            random_tensor::<B, 4>([1, 3, 224, 224], 1)
        } else {
            x
        };
        assert_eq!(values(model.forward(x.clone())), values(loaded.forward(x)));
        let stored = read_config(&path).unwrap().expect("config in metadata");
        assert_eq!(stored.channels, config.channels);
        assert_eq!(stored.variant, config.variant);
    }
}

#[test]
fn torchvision_names_and_pytorch_layouts() {
    let config = small_torchvision();
    let model = config.init::<B>(&Default::default());
    let bytes = to_bytes(&model).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut names = file.names();
    names.sort();
    let mut expected: Vec<String> = [
        "features.0",
        "features.3",
        "features.6",
        "features.8",
        "features.10",
    ]
    .iter()
    .chain(&["classifier.1", "classifier.4", "classifier.6"])
    .flat_map(|p| [format!("{p}.weight"), format!("{p}.bias")])
    .collect();
    expected.sort();
    assert_eq!(names, expected);
    assert_eq!(
        file.tensor("features.0.weight").unwrap().shape(),
        &[8, 3, 11, 11]
    );
    // Linear weights are PyTorch's [out, in].
    let fc6 = file.tensor("classifier.1.weight").unwrap();
    assert_eq!(fc6.shape(), &[32, 8 * 36]);
    let burn_w = values(model.fcs[0].weight.val()); // [in, out]
    let f = |i: usize| f32::from_le_bytes(fc6.data()[4 * i..4 * i + 4].try_into().unwrap());
    // Element (out 3, in 5).
    assert_eq!(f(3 * 288 + 5), burn_w[5 * 32 + 3]);
    assert_eq!(file.tensor("classifier.6.bias").unwrap().shape(), &[5]);
}

#[test]
fn paper_names_follow_the_sequential_indices() {
    let bytes = to_bytes(&AlexNetConfig::tiny(3).init::<B>(&Default::default())).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    for name in [
        "features.4.weight",
        "features.12.bias",
        "classifier.3.weight",
        "classifier.6.bias",
    ] {
        assert!(file.tensor(name).is_ok(), "missing {name}");
    }
    assert_eq!(
        file.tensor("features.4.weight").unwrap().shape(),
        &[64, 12, 5, 5]
    );
}

/// Re-encodes a file's tensors after `edit`.
fn edited(bytes: &[u8], edit: impl Fn(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>)) -> Vec<u8> {
    let file = SafeTensors::deserialize(bytes).unwrap();
    let mut tensors: Vec<_> = file
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    edit(&mut tensors);
    let views: Vec<_> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize(views, None::<HashMap<String, String>>).unwrap()
}

#[test]
fn bad_files_get_clear_errors() {
    let config = AlexNetConfig::tiny(10);
    let device = Default::default();
    let good = to_bytes(&config.init::<B>(&device)).unwrap();
    let load_bytes = |b: &[u8]| {
        from_bytes::<B>(&config, b, "w.safetensors", &device)
            .map(|_| ())
            .unwrap_err()
    };

    let e = load_bytes(b"not a safetensors file at all");
    assert!(matches!(e, SafetensorsError::Format { .. }), "{e}");
    assert!(e.to_string().starts_with("w.safetensors: "), "{e}");

    let e = load_bytes(&edited(&good, |t| t.retain(|x| x.0 != "features.8.bias")));
    assert!(
        matches!(&e, SafetensorsError::Missing { name, layer: "conv3", .. } if name == "features.8.bias"),
        "{e}"
    );

    let e = load_bytes(&edited(&good, |t| {
        let x = t.iter_mut().find(|x| x.0 == "classifier.6.bias").unwrap();
        x.2 = vec![5];
        x.3.truncate(20);
    }));
    assert!(
        e.to_string().contains("classifier.6.bias") && e.to_string().contains("[10]"),
        "{e}"
    );
    assert!(
        matches!(e, SafetensorsError::Shape { layer: "fc8", .. }),
        "{e}"
    );

    let e = load_bytes(&edited(&good, |t| {
        let x = t.iter_mut().find(|x| x.0 == "features.0.bias").unwrap();
        x.1 = Dtype::F16;
        x.3.truncate(x.3.len() / 2);
    }));
    assert!(matches!(e, SafetensorsError::Dtype { .. }), "{e}");

    let e = load_bytes(&edited(&good, |t| {
        t.push(("extra.weight".into(), Dtype::F32, vec![1], vec![0; 4]))
    }));
    assert!(
        matches!(&e, SafetensorsError::Unexpected { names, .. } if names == &["extra.weight"]),
        "{e}"
    );

    // A paper-variant file loaded as torchvision: names do not match.
    let e = from_bytes::<B>(
        &AlexNetConfig::torchvision(10),
        &good,
        "w.safetensors",
        &device,
    )
    .map(|_| ())
    .unwrap_err();
    assert!(
        matches!(
            e,
            SafetensorsError::Unexpected { .. } | SafetensorsError::Missing { .. }
        ),
        "{e}"
    );

    let e = load::<B>(
        &config,
        std::path::Path::new("/nonexistent/w.safetensors"),
        &device,
    )
    .map(|_| ())
    .unwrap_err();
    assert!(
        matches!(e, SafetensorsError::Io { .. })
            && e.to_string().contains("/nonexistent/w.safetensors"),
        "{e}"
    );
}
