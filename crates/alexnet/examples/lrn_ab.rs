//! Temporary A/B timing of LRN formulations (removed before landing).
use std::time::Instant;
use burn::backend::{Autodiff, Flex};
use burn::tensor::{Distribution, Tensor};
use burn::tensor::module::avg_pool2d;
type AD = Autodiff<Flex>;

fn shifted(x: Tensor<AD, 4>, pw: bool) -> Tensor<AD, 4> {
    let [n, c, h, w] = x.dims();
    let g = 2; let cg = c / g;
    let sq: Tensor<AD, 5> = x.clone().square().reshape([n, g, cg, h, w]);
    let d = sq.device();
    let padded = Tensor::cat(vec![Tensor::zeros([n, g, 2, h, w], &d), sq, Tensor::zeros([n, g, 2, h, w], &d)], 2);
    let mut sum = padded.clone().narrow(2, 0, cg);
    for s in 1..5 { sum = sum + padded.clone().narrow(2, s, cg); }
    let base = sum.mul_scalar(1e-4).add_scalar(2.0).reshape([n, c, h, w]);
    x / if pw { base.powf_scalar(0.75) } else { let s = base.sqrt(); s.clone() * s.sqrt() }
}
fn pooled(x: Tensor<AD, 4>, pw: bool) -> Tensor<AD, 4> {
    let [n, c, h, w] = x.dims();
    let g = 2; let cg = c / g;
    let sq: Tensor<AD, 4> = x.clone().square().reshape([n * g, 1, cg, h * w]);
    let base = avg_pool2d(sq, [5, 1], [1, 1], [2, 0], true, false).mul_scalar(5e-4).add_scalar(2.0).reshape([n, c, h, w]);
    x / if pw { base.powf_scalar(0.75) } else { let s = base.sqrt(); s.clone() * s.sqrt() }
}
fn main() {
    let d = Default::default();
    for shape in [[16, 96, 55, 55], [16, 256, 27, 27]] {
        let x0 = Tensor::<AD, 4>::random(shape, Distribution::Normal(0.0, 50.0), &d);
        let mut res = vec![Vec::new(); 4];
        for _ in 0..4 {
            for (k, f) in [(0, shifted as fn(_, _) -> _), (1, shifted), (2, pooled), (3, pooled)] {
                let x = x0.clone().detach().require_grad();
                let t = Instant::now();
                let y = f(x.clone(), k % 2 == 0);
                let g = y.sum().backward();
                let _ = x.grad(&g).unwrap().into_data();
                res[k].push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        for (k, name) in ["shifted+powf", "shifted+sqrt", "pool+powf", "pool+sqrt"].iter().enumerate() {
            let mut v = res[k].clone(); v.sort_by(f64::total_cmp);
            println!("{shape:?} {name:14} fwd+bwd median {:.1} ms", v[1]);
        }
    }
}
