//! The paper's initialisation: weights N(0, 0.01); biases 1 in conv2, conv4,
//! conv5, fc6, fc7 and 0 in conv1, conv3, fc8.

use crate::common;

use alexnet::AlexNetConfig;
use common::{B, values};

fn mean_std(v: &[f32]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|x| *x as f64).sum::<f64>() / n;
    let var = v.iter().map(|x| (*x as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[test]
fn paper_init_statistics() {
    let model = AlexNetConfig::paper(1000).init::<B>(&Default::default());
    let mut weights = Vec::new();
    let mut biases = Vec::new();
    for c in &model.convs {
        weights.push(values(c.weight.val()));
        biases.push(values(c.bias.as_ref().unwrap().val()));
    }
    for f in &model.fcs {
        weights.push(values(f.weight.val()));
        biases.push(values(f.bias.as_ref().unwrap().val()));
    }
    for (l, w) in weights.iter().enumerate() {
        let (mean, std) = mean_std(w);
        // conv1 has the fewest weights (34,848): the std estimate's own
        // relative error is ~0.4%, the mean's ~5e-5.
        assert!((std - 0.01).abs() < 3e-4, "layer {l}: weight std {std}");
        assert!(mean.abs() < 3e-4, "layer {l}: weight mean {mean}");
    }
    let expected = [0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0];
    for (l, (b, e)) in biases.iter().zip(expected).enumerate() {
        assert!(
            b.iter().all(|x| *x == e),
            "layer {l}: biases should all be {e}"
        );
    }
    assert_eq!(biases[7].len(), 1000);
}
