//! The two placements of the network behind one trait, so the training
//! loop is written once: the grouped model on one device, or the paper's
//! two-tower split across two devices.

use alexnet::{AlexNet, SplitAlexNet};
use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor};

use crate::sgd::FusedSgd;

/// The optimizer used for a module `M`.
pub type Optim<B, M> = OptimizerAdaptor<FusedSgd, M, B>;

/// What the training loop needs of a network.
pub trait Classifier<B: AutodiffBackend>: AutodiffModule<B> + Clone {
    /// Logits `(N, classes)` on the first device for NCHW images on it.
    fn logits(&self, images: Tensor<B, 4>) -> Tensor<B, 2>;
    /// The same weights as the single-device grouped model (for saving).
    fn to_grouped(&self, device: &B::Device) -> AlexNet<B>;
}

impl<B: AutodiffBackend> Classifier<B> for AlexNet<B> {
    fn logits(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.forward(images)
    }
    fn to_grouped(&self, _device: &B::Device) -> AlexNet<B> {
        self.clone()
    }
}

impl<B: AutodiffBackend> Classifier<B> for SplitAlexNet<B> {
    fn logits(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.forward(images)
    }
    fn to_grouped(&self, device: &B::Device) -> AlexNet<B> {
        self.clone().into_grouped(device)
    }
}

/// SGD with the paper's momentum (dampening 0, not burn's default 0.1) and
/// weight decay. burn adds `weight_decay · w` to the gradient before the
/// momentum update and then steps `w ← w − lr · v` with `v ← μv + g + λw`;
/// the paper's `v ← μv − λεw − εg, w ← w + v` is the same sequence of
/// weights scaled by −ε whenever ε is constant (see docs/TRAINING.md).
pub fn sgd<B: AutodiffBackend, M: AutodiffModule<B>>(
    momentum: f64,
    weight_decay: f64,
) -> Optim<B, M> {
    FusedSgd::new(
        momentum,
        0.0,
        (weight_decay > 0.0).then_some(weight_decay as f32),
    )
    .init::<B, M>()
}

/// Every float parameter's id, in the module's (fixed) visiting order: the
/// key that maps optimizer state across a save and a load.
pub fn param_ids<B: Backend, M: burn::module::Module<B>>(module: &M) -> Vec<u64> {
    struct Ids(Vec<u64>);
    impl<B: Backend> ModuleVisitor<B> for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0.push(param.id.val());
        }
    }
    let mut ids = Ids(Vec::new());
    module.visit(&mut ids);
    ids.0
}

/// Whether every float parameter is finite (one device sync in total).
pub fn all_finite<B: Backend, M: burn::module::Module<B>>(module: &M) -> bool {
    struct Sums<B: Backend>(Vec<Tensor<B, 1>>);
    impl<B: Backend> ModuleVisitor<B> for Sums<B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            // A plain sum: NaN or infinity anywhere makes it non-finite
            // too, without abs()'s copy of every weight.
            let sum = param.val().sum();
            // The split model keeps parameters on two devices.
            let sum = match self.0.first() {
                Some(first) => sum.to_device(&first.device()),
                None => sum,
            };
            self.0.push(sum);
        }
    }
    let mut sums = Sums(Vec::new());
    module.visit(&mut sums);
    if sums.0.is_empty() {
        return true;
    }
    // A NaN or an infinity anywhere makes the sum non-finite (and so would
    // weights summing past f32::MAX, ~1e38: a run long diverged).
    let total: f64 = Tensor::cat(sums.0, 0).sum().into_scalar().elem();
    total.is_finite()
}
