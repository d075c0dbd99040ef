//! Integration tests of the train crate: loader, training, resume after crashes, run guards.
//!
//! One test binary per crate: each file here is a module (linking burn into
//! a binary per file cost minutes of CI).

mod common;
mod crash_resume;
mod loader_determinism;
mod loader_errors;
mod loader_fixture;
mod loader_pixels;
mod loader_stats;
mod predict;
mod run_guards;
mod run_outputs;
mod training;
