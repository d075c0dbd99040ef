//! Crash points for the fault-injection tests: with
//! `ALEXNET_CRASH_AT=<point>[:<n>]` in the environment, the process aborts
//! (no destructors, no flushing: what kill -9 leaves) the `n`-th time
//! (default 1st) it passes `point`. Without the variable a point costs one
//! relaxed atomic load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that arms a crash point.
pub const CRASH_ENV: &str = "ALEXNET_CRASH_AT";

static ARMED: OnceLock<Option<(String, u64)>> = OnceLock::new();
static HITS: AtomicU64 = AtomicU64::new(0);

fn armed() -> Option<&'static (String, u64)> {
    ARMED
        .get_or_init(|| {
            let spec = std::env::var(CRASH_ENV).ok()?;
            Some(match spec.split_once(':') {
                Some((p, n)) => (p.to_string(), n.parse().unwrap_or(1)),
                None => (spec, 1),
            })
        })
        .as_ref()
}

/// Aborts here if this is the armed point's `n`-th pass.
pub fn point(name: &str) {
    if let Some((p, n)) = armed()
        && p == name
        && HITS.fetch_add(1, Ordering::Relaxed) + 1 == *n
    {
        eprintln!("{CRASH_ENV}: aborting at {name} (pass {n})");
        std::process::abort();
    }
}
