//! Checks that CUDA can run before burn's CUDA backend is touched.
//!
//! burn reaches the GPU through cudarc, which loads the driver and NVRTC at
//! first use and panics when either is missing; cubecl panics on a device
//! index that does not exist. Asking the driver directly first turns those
//! into an error that says what is missing and what to do instead.

use std::ffi::{CStr, c_char, c_int, c_void};

/// The driver library under the names a Linux driver install provides.
const DRIVER_NAMES: &[&CStr] = &[c"libcuda.so.1", c"libcuda.so"];

/// NVRTC (cubecl compiles its kernels at run time), newest first.
const NVRTC_NAMES: &[&CStr] = &[
    c"libnvrtc.so",
    c"libnvrtc.so.13",
    c"libnvrtc.so.12",
    c"libnvrtc.so.11.2",
];

/// Headers cubecl's generated kernels include; NVRTC needs them at run time.
const HEADERS: &[&str] = &["cuda_runtime.h", "cuda_fp16.h"];

/// Checks that the CUDA driver and NVRTC load, that the CUDA headers are
/// where cubecl looks for them, that the driver initialises, and that every
/// index in `devices` names a GPU; says what is wrong if not.
pub fn check_cuda(devices: &[usize]) -> Result<(), String> {
    let driver = open_first(DRIVER_NAMES).ok_or_else(|| {
        format!(
            "--backend cuda: the NVIDIA driver library ({}) was not found; install the driver \
             (or add its directory to LD_LIBRARY_PATH), or use --backend cpu",
            names(DRIVER_NAMES)
        )
    })?;
    if open_first(NVRTC_NAMES).is_none() {
        return Err(format!(
            "--backend cuda: NVRTC ({}) was not found; it comes with the CUDA toolkit \
             (burn compiles its kernels with it at run time): add the toolkit's lib64 \
             directory to LD_LIBRARY_PATH, or use --backend cpu",
            names(NVRTC_NAMES)
        ));
    }
    check_headers(std::env::var_os("CUDA_PATH").map(std::path::PathBuf::from))?;
    let count = device_count(driver)?;
    if let Some(&missing) = devices.iter().find(|&&d| d >= count) {
        return Err(format!(
            "--backend cuda: device {missing} does not exist; the driver sees {count} GPU{} \
             (indices 0..{count})",
            if count == 1 { "" } else { "s" }
        ));
    }
    Ok(())
}

/// The toolkit root cubecl-cuda uses: `$CUDA_PATH`, else the first of
/// /usr/local/cuda, /opt/cuda and /usr (when /usr/bin/nvcc exists). Without
/// its headers cubecl panics ("CUDA installation not found") at the first
/// kernel it compiles.
fn cuda_root(cuda_path: Option<std::path::PathBuf>) -> Option<std::path::PathBuf> {
    use std::path::{Path, PathBuf};
    cuda_path.or_else(|| {
        [
            ("/usr/local/cuda", "/usr/local/cuda"),
            ("/opt/cuda", "/opt/cuda"),
            ("/usr/bin/nvcc", "/usr"),
        ]
        .iter()
        .find(|(probe, _)| Path::new(probe).exists())
        .map(|(_, root)| PathBuf::from(root))
    })
}

/// Checks that the headers cubecl's kernels include exist under the root
/// cubecl-cuda will pick.
fn check_headers(cuda_path: Option<std::path::PathBuf>) -> Result<(), String> {
    let from_env = cuda_path.is_some();
    let Some(root) = cuda_root(cuda_path) else {
        return Err(
            "--backend cuda: the CUDA headers were not found (no CUDA_PATH, \
                    /usr/local/cuda or /opt/cuda); burn compiles its kernels with NVRTC at run \
                    time and needs the toolkit's include/ directory: set CUDA_PATH to the \
                    toolkit's root (the directory holding include/cuda_runtime.h)"
                .into(),
        );
    };
    let include = root.join("include");
    if let Some(missing) = HEADERS.iter().find(|h| !include.join(h).is_file()) {
        return Err(format!(
            "--backend cuda: {} has no {missing}; burn compiles its kernels with NVRTC at run \
             time and needs the CUDA toolkit's headers there: {}",
            include.display(),
            if from_env {
                "point CUDA_PATH at the toolkit's root (the directory holding include/cuda_runtime.h)"
            } else {
                "set CUDA_PATH to the toolkit's root (the directory holding include/cuda_runtime.h)"
            }
        ));
    }
    Ok(())
}

fn names(list: &[&CStr]) -> String {
    list.iter()
        .map(|n| n.to_string_lossy())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A handle to the first library of `names` that loads. Never closed: the
/// backend loads the same library moments later and shares the handle.
fn open_first(names: &[&CStr]) -> Option<*mut c_void> {
    names.iter().find_map(|name| {
        // SAFETY: `name` is a valid C string; RTLD_LAZY runs no code but the
        // library's initialisers, which for the driver and NVRTC are benign.
        let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL) };
        (!handle.is_null()).then_some(handle)
    })
}

type CuInit = unsafe extern "C" fn(flags: u32) -> c_int;
type CuDeviceGetCount = unsafe extern "C" fn(count: *mut c_int) -> c_int;
type CuGetErrorString = unsafe extern "C" fn(error: c_int, out: *mut *const c_char) -> c_int;

/// Initialises the driver and returns how many GPUs it sees.
fn device_count(driver: *mut c_void) -> Result<usize, String> {
    let symbol = |name: &CStr| {
        // SAFETY: `driver` is a live handle from dlopen, `name` a C string.
        let p = unsafe { libc::dlsym(driver, name.as_ptr()) };
        if p.is_null() {
            Err(format!(
                "--backend cuda: the driver library has no {}; the driver is too old or broken",
                name.to_string_lossy()
            ))
        } else {
            Ok(p)
        }
    };
    // SAFETY: these are the driver API's documented signatures (cuda.h):
    // CUresult cuInit(unsigned int), CUresult cuDeviceGetCount(int*),
    // CUresult cuGetErrorString(CUresult, const char**).
    let (init, get_count, error_string) = unsafe {
        (
            std::mem::transmute::<*mut c_void, CuInit>(symbol(c"cuInit")?),
            std::mem::transmute::<*mut c_void, CuDeviceGetCount>(symbol(c"cuDeviceGetCount")?),
            std::mem::transmute::<*mut c_void, CuGetErrorString>(symbol(c"cuGetErrorString")?),
        )
    };
    let describe = |code: c_int| {
        let mut text: *const c_char = std::ptr::null();
        // SAFETY: the driver writes a pointer to a static string or leaves null.
        let known = unsafe { error_string(code, &mut text) } == 0 && !text.is_null();
        if known {
            // SAFETY: non-null, NUL-terminated, static per the driver API.
            unsafe { CStr::from_ptr(text) }
                .to_string_lossy()
                .into_owned()
        } else {
            format!("CUDA error {code}")
        }
    };
    // SAFETY: cuInit may be called any number of times from any thread.
    let status = unsafe { init(0) };
    if status != 0 {
        return Err(format!(
            "--backend cuda: the NVIDIA driver did not initialise: {} ({status}); \
             use --backend cpu on a machine without a usable GPU",
            describe(status)
        ));
    }
    let mut count: c_int = 0;
    // SAFETY: `count` is a valid out-pointer; the driver is initialised.
    let status = unsafe { get_count(&mut count) };
    if status != 0 {
        return Err(format!(
            "--backend cuda: could not count GPUs: {} ({status})",
            describe(status)
        ));
    }
    Ok(usize::try_from(count).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_device_no_machine_has() {
        // Without a driver this fails on the library, with one on the index;
        // either way it is an error that names the CUDA backend, not a panic.
        let err = check_cuda(&[4096]).unwrap_err();
        assert!(err.starts_with("--backend cuda: "), "{err}");
        let driver_loads = open_first(DRIVER_NAMES).is_some();
        if driver_loads {
            assert!(
                err.contains("device 4096 does not exist")
                    || err.contains("did not initialise")
                    || err.contains("NVRTC")
                    || err.contains("CUDA headers")
                    || err.contains("CUDA_PATH"),
                "{err}"
            );
        } else {
            assert!(err.contains("libcuda.so.1"), "{err}");
        }
    }

    #[test]
    fn names_the_missing_headers_and_the_variable_to_set() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_headers(Some(dir.path().to_path_buf())).unwrap_err();
        assert!(
            err.contains("cuda_runtime.h") && err.contains("CUDA_PATH"),
            "{err}"
        );
        assert!(
            err.contains(&dir.path().join("include").display().to_string()),
            "{err}"
        );
        std::fs::create_dir(dir.path().join("include")).unwrap();
        for h in HEADERS {
            std::fs::write(dir.path().join("include").join(h), "").unwrap();
        }
        assert_eq!(check_headers(Some(dir.path().to_path_buf())), Ok(()));
    }
}
