//! LRN as one operation: a forward that keeps only what the analytic
//! backward needs, and that backward registered as a single autodiff node.
//!
//! burn has no LRN of its own, so the node is a custom [`Backward`] step on
//! burn's `Autodiff<I>`. The model is generic over `B: Backend`, and Rust has
//! no specialisation, so a backend-extension trait (the route burn's book
//! takes for custom ops) would need an extra bound on `AlexNet<B>` and on
//! every training function generic over it. Instead [`lrn`] recognises, at
//! run time and without `unsafe`, the autodiff backends this crate can be
//! built with (`Autodiff<Flex>`, and `Autodiff<Cuda>` / `Autodiff<Wgpu>` with
//! those features): their float primitive is `AutodiffTensor<I>` for a known
//! `I`, whatever the checkpointing strategy. Any other backend gets the same
//! formula as plain tensor ops: no graph on a backend without autodiff, and
//! burn's own (exact, slower) differentiation on an autodiff backend this
//! crate cannot see inside.

use core::any::{Any, TypeId};

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{DType, Tensor, TensorData, TensorMetadata, TensorPrimitive};
use burn_flex::{Flex, FlexTensor};

use super::{cpu, tensor_ops};

/// The constants of one LRN, as the kernels use them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    /// Channels of the window before the centre (`size / 2`).
    pub before: usize,
    /// Channels after the centre (`size - 1 - before`; one less than
    /// `before` for an even size).
    pub after: usize,
    /// Scale of the sum of squares (the paper's, not divided by the size).
    pub alpha: f64,
    /// Exponent.
    pub beta: f64,
    /// Additive constant.
    pub k: f64,
    /// Independent channel blocks.
    pub groups: usize,
}

impl Params {
    /// Window length.
    pub fn size(&self) -> usize {
        self.before + 1 + self.after
    }
}

/// The normalised tensor; differentiable through one node on the known
/// autodiff backends (see the module docs).
pub(crate) fn lrn<B: Backend>(x: Tensor<B, 4>, p: &Params) -> Tensor<B, 4> {
    let x = x.into_primitive().tensor();
    let x = match on_autodiff::<B, Flex>(x, p) {
        Ok(y) => return wrap(y),
        Err(x) => x,
    };
    #[cfg(feature = "cuda")]
    let x = match on_autodiff::<B, burn::backend::Cuda>(x, p) {
        Ok(y) => return wrap(y),
        Err(x) => x,
    };
    #[cfg(feature = "wgpu")]
    let x = match on_autodiff::<B, burn::backend::Wgpu>(x, p) {
        Ok(y) => return wrap(y),
        Err(x) => x,
    };
    wrap(forward::<B>(x, p, false).0)
}

fn wrap<B: Backend>(t: FloatTensor<B>) -> Tensor<B, 4> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}

/// `t` as a `U` when `T` is `U` (the same type under another name), else `t`
/// back.
fn cast<T: 'static, U: 'static>(t: T) -> Result<U, T> {
    let mut slot = Some(t);
    match (&mut slot as &mut dyn Any).downcast_mut::<Option<U>>() {
        Some(u) => Ok(u.take().expect("filled above")),
        None => Err(slot.expect("untouched")),
    }
}

/// Runs the LRN node when `B`'s float primitive is `Autodiff<I>`'s.
fn on_autodiff<B: Backend, I: Backend>(
    x: FloatTensor<B>,
    p: &Params,
) -> Result<FloatTensor<B>, FloatTensor<B>> {
    let x = cast::<_, FloatTensor<Autodiff<I>>>(x)?;
    let y = autodiff_lrn::<I>(x, p);
    Ok(cast(y).unwrap_or_else(|_| unreachable!("the input's type is the output's")))
}

/// The autodiff node: inner forward, and the state for the backward only
/// when the input requires a gradient.
fn autodiff_lrn<I: Backend>(x: FloatTensor<Autodiff<I>>, p: &Params) -> FloatTensor<Autodiff<I>> {
    // Compute bound: the state holds its tensors itself, so a checkpointing
    // strategy never recomputes this node (and the strategy type is moot).
    match LrnBackward(*p)
        .prepare::<NoCheckpointing>([x.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (y, d) = forward::<I>(x.primitive.clone(), p, true);
            prep.finish((x.primitive, d.expect("asked for")), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward::<I>(x.primitive, p, false).0),
    }
}

#[derive(Debug)]
struct LrnBackward(Params);

impl<B: Backend> Backward<B, 1> for LrnBackward {
    /// The input and `d = k + alpha * window sum of x^2`.
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [parent] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        if let Some(node) = parent {
            let (x, d) = ops.state;
            grads.register::<B>(node.id, backward::<B>(x, d, grad, &self.0));
        }
    }
}

/// Whether `B`'s float tensors are flex's, the backend with a CPU loop here.
fn is_flex<B: Backend>() -> bool {
    TypeId::of::<FloatTensor<B>>() == TypeId::of::<FlexTensor>()
}

/// `t` as a flex tensor with its values in one dense run, owned unless
/// shared: an O(1) move when already so; a gradient that burn broadcast
/// from a scalar is copied. Only called when [`is_flex`] holds.
fn as_flex<B: Backend>(t: FloatTensor<B>) -> FlexTensor {
    let t: FlexTensor = cast(t).unwrap_or_else(|_| unreachable!("B's primitive is FlexTensor"));
    t.to_contiguous()
}

/// Forward on a backend's own tensors: flex's CPU loop for f32 tensors,
/// tensor ops otherwise. With `keep`, also `d = k + alpha * window sum of
/// x^2` for [`backward`].
pub(crate) fn forward<B: Backend>(
    x: FloatTensor<B>,
    p: &Params,
    keep: bool,
) -> (FloatTensor<B>, Option<FloatTensor<B>>) {
    if is_flex::<B>() && x.dtype() == DType::F32 {
        let dims: [usize; 4] = x.shape().dims();
        let x = as_flex::<B>(x);
        let geo = cpu::Geometry::of(dims, p.groups);
        let (y, d) = cpu::forward(f32s(&x), geo, p, keep);
        let back = |v: Vec<f32>| to_backend::<B>(v, dims);
        return (back(y), d.map(back));
    }
    let (y, d) = tensor_ops::forward(wrap::<B>(x), p, keep);
    let prim = |t: Tensor<B, 4>| t.into_primitive().tensor();
    (prim(y), d.map(prim))
}

/// Gradient with respect to the input, from the input, [`forward`]'s `d`
/// and the output's gradient `g`.
pub(crate) fn backward<B: Backend>(
    x: FloatTensor<B>,
    d: FloatTensor<B>,
    g: FloatTensor<B>,
    p: &Params,
) -> FloatTensor<B> {
    if is_flex::<B>() && [&x, &d, &g].iter().all(|t| t.dtype() == DType::F32) {
        let dims: [usize; 4] = x.shape().dims();
        let (x, mut d, mut g) = (as_flex::<B>(x), as_flex::<B>(d), as_flex::<B>(g));
        let geo = cpu::Geometry::of(dims, p.groups);
        // `d` and `g` are this node's own (copied first if shared): the
        // kernel overwrites them rather than allocate the gradient.
        cpu::backward(
            f32s(&x),
            d.storage_mut::<f32>(),
            g.storage_mut::<f32>(),
            geo,
            p,
        );
        return cast(g).unwrap_or_else(|_| unreachable!("B's primitive is FlexTensor"));
    }
    tensor_ops::backward(wrap::<B>(x), wrap(d), wrap(g), p)
        .into_primitive()
        .tensor()
}

fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("made dense")
}

/// A flex tensor built from `v` as a `FloatTensor<B>`, `B` being flex.
fn to_backend<B: Backend>(v: Vec<f32>, dims: [usize; 4]) -> FloatTensor<B> {
    let t = FlexTensor::from_data(TensorData::new(v, dims));
    cast(t).unwrap_or_else(|_| unreachable!("only called when B's primitive is FlexTensor"))
}
