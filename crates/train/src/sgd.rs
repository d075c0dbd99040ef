//! The paper's SGD (momentum, weight decay) as one pass over each
//! parameter.
//!
//! burn's `Sgd` runs each step as five tensor operations per parameter
//! (decay, two for momentum, the scaled step, the subtraction), each
//! allocating a tensor of the parameter's size: for AlexNet's 61M
//! parameters, about 1.2 GB written per step. On the CPU backend this
//! optimizer does the same arithmetic, in the same order (so the weights
//! are bitwise those of burn's `Sgd`), in one loop that updates the weights
//! and the velocity in place. On other backends it runs the same formula as
//! tensor operations. The state has the field names of burn's `SgdState`,
//! so optimizer files written with either load with both.

use core::any::{Any, TypeId};

use burn::module::AutodiffModule;
use burn::optim::LearningRate;
use burn::optim::SimpleOptimizer;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::record::Record;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::ops::FloatTensor;
use burn::tensor::{DType, Tensor, TensorPrimitive};
use burn_flex::FlexTensor;
use rayon::prelude::*;

/// SGD with momentum (no Nesterov) and L2 weight decay, burn's formula:
/// `g ← w·λ + g`, `v ← g·(1 − dampening) + v·μ` (just `g` on the first
/// step), `w ← w − v·lr`.
#[derive(Clone, Debug)]
pub struct FusedSgd {
    momentum: f64,
    dampening: f64,
    weight_decay: Option<f32>,
}

impl FusedSgd {
    /// The optimizer; `weight_decay` of `None` adds no decay.
    pub fn new(momentum: f64, dampening: f64, weight_decay: Option<f32>) -> Self {
        Self {
            momentum,
            dampening,
            weight_decay,
        }
    }

    /// As burn's optimizer for a module `M` on `B`.
    pub fn init<B: AutodiffBackend, M: AutodiffModule<B>>(self) -> OptimizerAdaptor<Self, M, B> {
        OptimizerAdaptor::from(self)
    }
}

/// Per-parameter state: the velocity, named as in burn's `SgdState`.
#[derive(Record, Clone)]
pub struct SgdState<B: Backend, const D: usize> {
    /// The velocity (always kept: the first step sets it).
    pub momentum: Option<MomentumState<B, D>>,
}

/// The velocity of one parameter, named as in burn's `MomentumState`.
#[derive(Record, Clone)]
pub struct MomentumState<B: Backend, const D: usize> {
    /// `v`, the parameter's shape.
    pub velocity: Tensor<B, D>,
}

impl<B: Backend> SimpleOptimizer<B> for FusedSgd {
    type State<const D: usize> = SgdState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let velocity = state.and_then(|s| s.momentum).map(|m| m.velocity);
        let (tensor, velocity) = if is_flex_f32(&tensor, &grad, velocity.as_ref()) {
            self.step_flex(lr, tensor, grad, velocity)
        } else {
            self.step_tensors(lr, tensor, grad, velocity)
        };
        let state = SgdState {
            momentum: Some(MomentumState { velocity }),
        };
        (tensor, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        SgdState {
            momentum: state.momentum.map(|m| MomentumState {
                velocity: m.velocity.to_device(device),
            }),
        }
    }
}

impl FusedSgd {
    /// burn's `Sgd` step, operation for operation.
    fn step_tensors<B: Backend, const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        mut grad: Tensor<B, D>,
        velocity: Option<Tensor<B, D>>,
    ) -> (Tensor<B, D>, Tensor<B, D>) {
        if let Some(penalty) = self.weight_decay {
            grad = tensor.clone().mul_scalar(penalty).add(grad);
        }
        let velocity = match velocity {
            Some(v) => grad
                .mul_scalar(1.0 - self.dampening)
                .add(v.mul_scalar(self.momentum)),
            None => grad,
        };
        let delta = velocity.clone().mul_scalar(lr);
        (tensor - delta, velocity)
    }

    /// The same arithmetic in one parallel loop over flex's f32 buffers,
    /// writing the weights and the velocity in place (each copied first
    /// only if something else still shares it).
    fn step_flex<B: Backend, const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        velocity: Option<Tensor<B, D>>,
    ) -> (Tensor<B, D>, Tensor<B, D>) {
        // burn converts each scalar to the element type before the
        // operation; so does this.
        let penalty = self.weight_decay;
        let keep = (1.0 - self.dampening) as f32;
        let mu = self.momentum as f32;
        let lr = lr as f32;
        let mut w = to_flex(tensor);
        let g = to_flex(grad);
        let g = g.as_slice::<f32>().expect("made contiguous");
        let decayed = |w: f32, g: f32| match penalty {
            Some(p) => w * p + g,
            None => g,
        };
        const CHUNK: usize = 1 << 14;
        let v = match velocity {
            Some(v) => {
                let mut v = to_flex(v);
                w.storage_mut::<f32>()
                    .par_chunks_mut(CHUNK)
                    .zip(v.storage_mut::<f32>().par_chunks_mut(CHUNK))
                    .zip(g.par_chunks(CHUNK))
                    .for_each(|((w, v), g)| {
                        for ((w, v), g) in w.iter_mut().zip(v).zip(g) {
                            *v = decayed(*w, *g) * keep + *v * mu;
                            *w -= *v * lr;
                        }
                    });
                v
            }
            None => {
                let mut v = w.clone();
                // `v` shares `w`'s buffer until this copies it.
                let vs = v.storage_mut::<f32>();
                w.storage_mut::<f32>()
                    .par_chunks_mut(CHUNK)
                    .zip(vs.par_chunks_mut(CHUNK))
                    .zip(g.par_chunks(CHUNK))
                    .for_each(|((w, v), g)| {
                        for ((w, v), g) in w.iter_mut().zip(v).zip(g) {
                            *v = decayed(*w, *g);
                            *w -= *v * lr;
                        }
                    });
                v
            }
        };
        (from_flex(w), from_flex(v))
    }
}

/// Whether every tensor is a flex f32 tensor (the CPU backend's).
fn is_flex_f32<B: Backend, const D: usize>(
    tensor: &Tensor<B, D>,
    grad: &Tensor<B, D>,
    velocity: Option<&Tensor<B, D>>,
) -> bool {
    TypeId::of::<FloatTensor<B>>() == TypeId::of::<FlexTensor>()
        && [Some(tensor), Some(grad), velocity]
            .into_iter()
            .flatten()
            .all(|t| t.dtype() == DType::F32)
}

/// `t`'s flex tensor, dense and starting at its buffer's start. Only called
/// when [`is_flex_f32`] holds.
fn to_flex<B: Backend, const D: usize>(t: Tensor<B, D>) -> FlexTensor {
    let prim = t.into_primitive().tensor();
    let mut slot = Some(prim);
    let flex = (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<FlexTensor>>()
        .and_then(Option::take)
        .expect("B's float primitive is FlexTensor");
    // A no-op (the same buffer) when already dense, as parameters are.
    flex.to_contiguous()
}

/// A flex tensor as `Tensor<B, D>`, `B` being flex.
fn from_flex<B: Backend, const D: usize>(t: FlexTensor) -> Tensor<B, D> {
    let mut slot = Some(t);
    let prim = (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<FloatTensor<B>>>()
        .and_then(Option::take)
        .expect("B's float primitive is FlexTensor");
    Tensor::from_primitive(TensorPrimitive::Float(prim))
}

#[cfg(test)]
mod tests;
