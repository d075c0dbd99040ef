//! The one place where a `--backend` flag and device ordinals become a burn
//! backend and its devices. Training, evaluation and the GPU check are
//! written once, generic over `B: AutodiffBackend`, as a [`BackendJob`];
//! [`run_on`] picks the backend type and checks the devices first, so a
//! missing driver or adapter is an error that says what to do, not a panic
//! deep inside cubecl.

use burn::tensor::backend::AutodiffBackend;

use crate::config::BackendKind;
use crate::error::{Result, TrainError};

/// Work that runs on whichever backend the user chose.
pub trait BackendJob {
    /// What the job returns.
    type Output;
    /// Runs on backend `B` with one device per requested ordinal.
    fn run<B: AutodiffBackend>(self, devices: Vec<B::Device>) -> Result<Self::Output>;

    /// The largest tensor the job puts on one device (bytes, and what it
    /// is), checked against the device's buffer limit before the job runs.
    fn largest_tensor(&self) -> Option<(u64, String)> {
        None
    }
}

/// Runs `job` on backend `kind` with the devices `ordinals` name.
///
/// Ordinals are per backend: `cpu` has one device (0; `0,1` places the
/// split's two towers on it), `cuda` counts the GPUs the driver sees, and
/// `wgpu` counts the adapters of the platform's graphics API (Vulkan on
/// Linux) in the order `train::wgpu_probe::adapters` lists them. An
/// ordinal may repeat: `0,0` runs both towers of the split on one device.
pub fn run_on<J: BackendJob>(kind: BackendKind, ordinals: &[usize], job: J) -> Result<J::Output> {
    if ordinals.is_empty() {
        return Err(TrainError::Config("no device given".into()));
    }
    let fits = |job: &J| match job.largest_tensor() {
        Some((bytes, what)) => check_fits(kind, ordinals, bytes, &what),
        None => Ok(()),
    };
    match kind {
        BackendKind::Cpu => {
            if let Some(&bad) = ordinals.iter().find(|&&o| o > 1) {
                return Err(TrainError::Config(format!(
                    "--backend cpu has one device (ordinal 0; `0,1` puts the two towers of the \
                     split on it), not device {bad}; use --backend cuda or wgpu for GPUs"
                )));
            }
            fits(&job)?;
            let devices = ordinals
                .iter()
                .map(|_| burn::backend::flex::FlexDevice)
                .collect();
            job.run::<burn::backend::Autodiff<burn::backend::Flex>>(devices)
        }
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => {
            crate::cuda_check::check_cuda(ordinals).map_err(TrainError::DeviceUnavailable)?;
            fits(&job)?;
            let devices = ordinals
                .iter()
                .map(|&index| burn::backend::cuda::CudaDevice { index })
                .collect();
            job.run::<burn::backend::Autodiff<burn::backend::Cuda>>(devices)
        }
        #[cfg(feature = "wgpu")]
        BackendKind::Wgpu => {
            let devices =
                crate::wgpu_probe::devices(ordinals).map_err(TrainError::DeviceUnavailable)?;
            fits(&job)?;
            job.run::<burn::backend::Autodiff<burn::backend::Wgpu>>(devices)
        }
        #[allow(unreachable_patterns)]
        other => Err(TrainError::Config(format!(
            "this build has no {other} backend; rebuild xtask with `--features {other}` \
             (both GPU backends are in the default build)"
        ))),
    }
}

/// Device memory the backend has reserved on device `ordinal`, in bytes, if
/// it reports it. cubecl keeps the pages it allocates in its pools until a
/// cleanup, so after a workload this is the high-water mark of its pools.
pub fn reserved_bytes(kind: BackendKind, ordinal: usize) -> Option<u64> {
    match kind {
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => {
            use cubecl::Runtime;
            use cubecl::cuda::{CudaDevice, CudaRuntime};
            let client = CudaRuntime::client(&CudaDevice { index: ordinal });
            client.memory_usage().ok().map(|u| u.bytes_reserved)
        }
        #[cfg(feature = "wgpu")]
        BackendKind::Wgpu => {
            use burn::backend::wgpu::WgpuRuntime;
            use cubecl::Runtime;
            let device = crate::wgpu_probe::devices(&[ordinal]).ok()?.pop()?;
            let client = WgpuRuntime::client(&device);
            client.memory_usage().ok().map(|u| u.bytes_reserved)
        }
        _ => {
            let _ = ordinal;
            None
        }
    }
}

/// The largest buffer one kernel may bind on device `ordinal`, where the
/// backend has such a limit below what AlexNet needs.
pub fn max_binding_bytes(kind: BackendKind, ordinal: usize) -> Option<u64> {
    match kind {
        #[cfg(feature = "wgpu")]
        BackendKind::Wgpu => crate::wgpu_probe::adapters()
            .get(ordinal)
            .map(|a| a.max_binding_bytes),
        _ => {
            let _ = ordinal;
            None
        }
    }
}

/// Checks that a tensor of `bytes` (the model's largest weight on one
/// device) can be bound on every device of `ordinals`; cubecl would panic
/// on the allocation otherwise.
pub fn check_fits(kind: BackendKind, ordinals: &[usize], bytes: u64, what: &str) -> Result<()> {
    for &o in ordinals {
        if let Some(max) = max_binding_bytes(kind, o)
            && bytes > max
        {
            return Err(TrainError::DeviceUnavailable(format!(
                "--backend {kind}: {what} takes {:.0} MiB, more than the {:.0} MiB one buffer may \
                 hold on device {o} ({}); the two-tower split (`--devices {o},{o}`) holds half \
                 of it per tower, or use --backend cpu or cuda",
                bytes as f64 / (1u64 << 20) as f64,
                max as f64 / (1u64 << 20) as f64,
                describe(kind, o)
            )));
        }
    }
    Ok(())
}

/// The device `ordinal` of backend `kind`, in words, for reports.
pub fn describe(kind: BackendKind, ordinal: usize) -> String {
    match kind {
        BackendKind::Cpu => format!(
            "cpu (burn flex, {} threads)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        ),
        #[cfg(feature = "wgpu")]
        BackendKind::Wgpu => match crate::wgpu_probe::adapters().get(ordinal) {
            Some(a) => format!("wgpu device {ordinal}: {a}"),
            None => format!("wgpu device {ordinal}"),
        },
        _ => format!("{kind} device {ordinal}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Count;
    impl BackendJob for Count {
        type Output = usize;
        fn run<B: AutodiffBackend>(self, devices: Vec<B::Device>) -> Result<usize> {
            Ok(devices.len())
        }
    }

    #[test]
    fn cpu_takes_one_device_or_the_split_pair() {
        assert_eq!(run_on(BackendKind::Cpu, &[0], Count).unwrap(), 1);
        assert_eq!(run_on(BackendKind::Cpu, &[0, 1], Count).unwrap(), 2);
        let err = run_on(BackendKind::Cpu, &[5], Count)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not device 5"), "{err}");
        assert!(run_on(BackendKind::Cpu, &[], Count).is_err());
    }
}
