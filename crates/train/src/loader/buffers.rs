//! Output buffers. A 128×3×224×224 batch is 77 MB; fresh from the
//! allocator it is a new anonymous mapping, and faulting it in 4 KiB pages
//! cost more than making the batch (measured: ~3 µs per fault in a VM, 150
//! faults per image). So fresh buffers ask for transparent huge pages, and
//! consumers that are done with a batch can hand its buffer back for reuse.

use std::sync::Mutex;

/// Buffers handed back by the consumer, reused by the workers.
#[derive(Debug)]
pub(crate) struct Pool {
    free: Mutex<Vec<Vec<f32>>>,
    keep: usize,
}

impl Pool {
    pub(crate) fn new(keep: usize) -> Self {
        Self {
            free: Mutex::new(Vec::new()),
            keep,
        }
    }

    /// A buffer of exactly `len` values; contents unspecified (every value
    /// is overwritten by the kernel).
    pub(crate) fn take(&self, len: usize) -> Vec<f32> {
        let reused = self.free.lock().ok().and_then(|mut free| free.pop());
        match reused {
            Some(mut v) if v.capacity() >= len => {
                v.resize(len, 0.0);
                v
            }
            _ => fresh(len),
        }
    }

    /// Keeps `buf` for a later [`Pool::take`] unless enough are kept.
    pub(crate) fn give(&self, buf: Vec<f32>) {
        if let Ok(mut free) = self.free.lock()
            && free.len() < self.keep
        {
            free.push(buf);
        }
    }
}

/// A zeroed buffer of `len` values. Large zeroed allocations come untouched
/// from the OS (calloc skips the memset), so advising huge pages before the
/// first write makes the kernel fault them in 2 MiB at a time.
pub(crate) fn fresh(len: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; len];
    advise_huge_pages(&mut v);
    v
}

#[cfg(target_os = "linux")]
fn advise_huge_pages(v: &mut [f32]) {
    const HUGE: usize = 2 << 20;
    let start = v.as_mut_ptr() as usize;
    let end = start + std::mem::size_of_val(v);
    let (first, last) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
    if last > first {
        // SAFETY: the range lies inside memory this slice owns; the advice
        // changes how pages are backed, never their contents. An error
        // (THP disabled) just leaves normal pages.
        unsafe {
            libc::madvise(
                first as *mut libc::c_void,
                last - first,
                libc::MADV_HUGEPAGE,
            );
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_: &mut [f32]) {}
