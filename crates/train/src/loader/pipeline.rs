//! An ordered parallel map over a range of batch numbers: worker `w` of `W`
//! computes items `start + w`, `start + w + W`, ... into its own bounded
//! channel, and the consumer takes them round-robin, so items come out in
//! order, at most `capacity` per worker wait ready, and a slow consumer
//! simply blocks the workers. Dropping the iterator stops and joins them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, bounded};

/// The per-item job shared by the workers.
pub(crate) type JobFn<T> = Arc<dyn Fn(usize) -> T + Send + Sync>;

/// In-order iterator over `job(i)` for `i` in a range.
pub(crate) struct Ordered<T> {
    next: usize,
    start: usize,
    end: usize,
    job: JobFn<T>,
    receivers: Vec<Receiver<T>>,
    handles: Vec<Option<JoinHandle<()>>>,
    stop: Arc<AtomicBool>,
}

impl<T: Send + 'static> Ordered<T> {
    /// With `workers == 0` the items are computed on the consumer's thread.
    pub(crate) fn new(
        range: std::ops::Range<usize>,
        workers: usize,
        prefetch: usize,
        job: JobFn<T>,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let workers = workers.min(range.len());
        let capacity = prefetch.div_ceil(workers.max(1)).max(1);
        let mut receivers = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for w in 0..workers {
            let (tx, rx) = bounded(capacity);
            let (job, stop) = (Arc::clone(&job), Arc::clone(&stop));
            let items = (range.start + w..range.end).step_by(workers);
            let handle = std::thread::Builder::new()
                .name(format!("loader-{w}"))
                .spawn(move || {
                    for i in items {
                        if stop.load(Ordering::Relaxed) || tx.send(job(i)).is_err() {
                            return;
                        }
                    }
                })
                .expect("failed to spawn a loader thread");
            receivers.push(rx);
            handles.push(Some(handle));
        }
        Self {
            next: range.start,
            start: range.start,
            end: range.end,
            job,
            receivers,
            handles,
            stop,
        }
    }
}

impl<T> Iterator for Ordered<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.next >= self.end {
            return None;
        }
        let i = self.next;
        self.next += 1;
        if self.receivers.is_empty() {
            return Some((self.job)(i));
        }
        let w = (i - self.start) % self.receivers.len();
        match self.receivers[w].recv() {
            Ok(item) => Some(item),
            Err(_) => {
                // The worker hung up before its last item: it panicked.
                if let Some(Err(panic)) = self.handles[w].take().map(JoinHandle::join) {
                    std::panic::resume_unwind(panic);
                }
                panic!("loader worker {w} stopped before item {i}");
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.next;
        (n, Some(n))
    }
}

impl<T> ExactSizeIterator for Ordered<T> {}

impl<T> Drop for Ordered<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Dropping the receivers makes any blocked `send` fail at once.
        self.receivers.clear();
        for h in self.handles.iter_mut().filter_map(Option::take) {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_in_order_for_any_worker_count() {
        for workers in [0, 1, 2, 5, 20] {
            let job: JobFn<usize> = Arc::new(|i| i * i);
            let got: Vec<usize> = Ordered::new(3..15, workers, 3, job).collect();
            assert_eq!(
                got,
                (3..15).map(|i| i * i).collect::<Vec<_>>(),
                "{workers} workers"
            );
        }
    }

    #[test]
    fn a_worker_panic_reaches_the_consumer() {
        let job: JobFn<usize> = Arc::new(|i| if i == 4 { panic!("boom at 4") } else { i });
        let mut it = Ordered::new(0..10, 3, 3, job);
        let firsts: Vec<usize> = it.by_ref().take(4).collect();
        assert_eq!(firsts, [0, 1, 2, 3]);
        let panic =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| it.next())).unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"boom at 4"));
    }

    #[test]
    fn dropping_early_joins_blocked_workers() {
        let made = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&made);
        let job: JobFn<usize> = Arc::new(move |i| {
            counter.fetch_add(1, Ordering::Relaxed);
            i
        });
        let mut it = Ordered::new(0..1_000_000, 4, 4, job);
        assert_eq!(it.next(), Some(0));
        drop(it);
        // Joined: nothing is made after the drop, and the bounded channels
        // kept the workers from running far ahead.
        let n = made.load(Ordering::Relaxed);
        assert!(n < 100, "{n} items made");
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(made.load(Ordering::Relaxed), n);
    }
}
