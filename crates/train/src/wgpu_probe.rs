//! Finds the adapters burn's `wgpu` backend can use, without touching burn.
//!
//! cubecl picks an adapter by kind and index (`WgpuDevice::DiscreteGpu(1)`)
//! and panics when there is none; a user thinks in ordinals as for CUDA.
//! This lists the adapters of the graphics API cubecl uses (Vulkan on Linux,
//! Metal on macOS) in the order cubecl enumerates them, maps ordinal `i` to
//! the `WgpuDevice` that selects adapter `i`, and says what to install when
//! there is none.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use burn::backend::wgpu::WgpuDevice;
use burn::backend::wgpu::graphics::{AutoGraphicsApi, GraphicsApi};

/// One adapter as wgpu reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adapter {
    /// The device's name (e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`).
    pub name: String,
    /// `discrete`, `integrated`, `virtual`, `cpu` or `other`.
    pub kind: &'static str,
    /// The driver's name and version, as far as it says.
    pub driver: String,
    /// The graphics API (`vulkan`, `metal`, ...).
    pub api: String,
    /// The largest storage buffer one kernel may bind, in bytes (lavapipe:
    /// 128 MiB, less than the paper's 151 MB fc6 weight).
    pub max_binding_bytes: u64,
}

impl std::fmt::Display for Adapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, {}", self.name, self.kind, self.api)?;
        if !self.driver.is_empty() {
            write!(f, ", {}", self.driver)?;
        }
        f.write_str(")")
    }
}

/// wgpu's native `enumerate_adapters` future completes on its first poll;
/// polling in a loop keeps this correct if that ever changes, with no
/// executor dependency.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

fn raw_adapters() -> Vec<wgpu::Adapter> {
    let backend = AutoGraphicsApi::backend();
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: backend.into(),
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    block_on(instance.enumerate_adapters(backend.into()))
}

fn kind(t: wgpu::DeviceType) -> &'static str {
    match t {
        wgpu::DeviceType::DiscreteGpu => "discrete",
        wgpu::DeviceType::IntegratedGpu => "integrated",
        wgpu::DeviceType::VirtualGpu => "virtual",
        wgpu::DeviceType::Cpu => "cpu",
        wgpu::DeviceType::Other => "other",
    }
}

/// The adapters `--backend wgpu` can use, ordinal = position in this list.
pub fn adapters() -> Vec<Adapter> {
    raw_adapters()
        .iter()
        .map(|a| {
            let info = a.get_info();
            let driver = [info.driver.as_str(), info.driver_info.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            Adapter {
                name: info.name,
                kind: kind(info.device_type),
                driver,
                api: format!("{:?}", info.backend).to_lowercase(),
                max_binding_bytes: a.limits().max_storage_buffer_binding_size,
            }
        })
        .collect()
}

/// The `WgpuDevice` that makes cubecl select adapter `ordinal` of
/// `types` (the adapters' device types in enumeration order). cubecl
/// counts adapters per device type, and `Cpu` always takes the first CPU
/// adapter; `Other` adapters have no selector of their own.
fn device_for(types: &[wgpu::DeviceType], ordinal: usize) -> Result<WgpuDevice, String> {
    let t = *types
        .get(ordinal)
        .ok_or_else(|| format!("no adapter {ordinal}"))?;
    let index = types[..ordinal].iter().filter(|&&u| u == t).count();
    match t {
        wgpu::DeviceType::DiscreteGpu => Ok(WgpuDevice::DiscreteGpu(index)),
        wgpu::DeviceType::IntegratedGpu => Ok(WgpuDevice::IntegratedGpu(index)),
        wgpu::DeviceType::VirtualGpu => Ok(WgpuDevice::VirtualGpu(index)),
        wgpu::DeviceType::Cpu if index == 0 => Ok(WgpuDevice::Cpu),
        wgpu::DeviceType::Cpu => Err(format!(
            "adapter {ordinal} is the second CPU adapter, which burn's wgpu backend cannot select"
        )),
        wgpu::DeviceType::Other => Err(format!(
            "adapter {ordinal} is of an unknown type, which burn's wgpu backend cannot select by index"
        )),
    }
}

/// Maps ordinals to wgpu devices, or says why not (no adapter at all, or
/// fewer than asked for).
pub fn devices(ordinals: &[usize]) -> Result<Vec<WgpuDevice>, String> {
    let raw = raw_adapters();
    let types: Vec<_> = raw.iter().map(|a| a.get_info().device_type).collect();
    if types.is_empty() {
        return Err(format!(
            "--backend wgpu: no {:?} adapter was found; install a GPU driver with {:?} support \
             (on Debian/Ubuntu without a GPU, `apt-get install mesa-vulkan-drivers` gives a \
             Vulkan device that runs on the CPU), or use --backend cpu",
            AutoGraphicsApi::backend(),
            AutoGraphicsApi::backend()
        ));
    }
    ordinals
        .iter()
        .map(|&o| {
            device_for(&types, o).map_err(|why| {
                let list = adapters()
                    .iter()
                    .enumerate()
                    .map(|(i, a)| format!("{i}: {a}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                format!("--backend wgpu: device {o}: {why}; the adapters are {list}")
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wgpu::DeviceType::{Cpu, DiscreteGpu, IntegratedGpu, Other};

    #[test]
    fn ordinals_count_adapters_of_each_type_as_cubecl_does() {
        let types = [DiscreteGpu, IntegratedGpu, DiscreteGpu, Cpu];
        assert_eq!(device_for(&types, 0), Ok(WgpuDevice::DiscreteGpu(0)));
        assert_eq!(device_for(&types, 1), Ok(WgpuDevice::IntegratedGpu(0)));
        assert_eq!(device_for(&types, 2), Ok(WgpuDevice::DiscreteGpu(1)));
        assert_eq!(device_for(&types, 3), Ok(WgpuDevice::Cpu));
        assert!(device_for(&types, 4).unwrap_err().contains("no adapter 4"));
        assert!(device_for(&[Cpu, Cpu], 1).is_err());
        assert!(device_for(&[Other], 0).is_err());
    }
}
