//! Helpers shared by the integration tests.
#![allow(dead_code)]

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The CPU backend.
pub type B = Flex;
/// The CPU backend with autodiff.
pub type AD = Autodiff<Flex>;

/// Deterministic uniform values in [-1, 1).
pub fn random_vec(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// A tensor of deterministic uniform values in [-1, 1).
pub fn random_tensor<Bk: burn::tensor::backend::Backend, const D: usize>(
    shape: [usize; D],
    seed: u64,
) -> Tensor<Bk, D> {
    random_scaled(shape, seed, 1.0)
}

/// A tensor of deterministic uniform values in [-scale, scale) (a leaf).
pub fn random_scaled<Bk: burn::tensor::backend::Backend, const D: usize>(
    shape: [usize; D],
    seed: u64,
    scale: f32,
) -> Tensor<Bk, D> {
    let len = shape.iter().product();
    let v: Vec<f32> = random_vec(len, seed)
        .into_iter()
        .map(|x| x * scale)
        .collect();
    Tensor::from_data(TensorData::new(v, shape), &Default::default())
}

/// A tensor's values.
pub fn values<Bk: burn::tensor::backend::Backend, const D: usize>(t: Tensor<Bk, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec().unwrap()
}

/// Largest |a - b| / max(|b|, floor) over the elements.
pub fn max_rel_err(a: &[f32], b: &[f32], floor: f32) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(floor))
        .fold(0.0, f32::max)
}

/// ||a - b||_2 / ||b||_2.
pub fn norm_rel_err(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    let d: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
    let n: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
    (d / n).sqrt()
}
