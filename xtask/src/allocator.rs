//! The C allocator's settings for a training process.
//!
//! glibc serves every allocation above its mmap threshold (at most 32 MiB)
//! with a fresh `mmap` and returns it with `munmap` when freed. A training
//! step allocates and frees the same large buffers every time (fc6's 150 MB
//! weight gradient and momentum, the conv activations), so each step
//! page-faulted them in anew: measured here, adding two 37.7M-element
//! tensors took 100 ms, 11 ms once freed memory was kept and reused, and
//! fc6's forward + backward went from 337 to 138 ms. The process keeps what
//! it frees instead (its resident size stays at its peak, which a training
//! run reaches in its first step anyway).

/// Serves large allocations from the heap and keeps freed memory for reuse.
/// Call first thing in `main`, before threads start; a no-op off glibc.
pub fn retain_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before any
    // other thread exists.
    unsafe {
        // No mmap'd chunks: every block comes from the heap, where a freed
        // one is reused by the next request of its size.
        libc::mallopt(libc::M_MMAP_MAX, 0);
        // Never hand the top of the heap back to the kernel on free.
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
