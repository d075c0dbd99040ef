//! End-to-end tests across the workspace crates: the pipeline, prep at full size, the GPU path.
//!
//! One test binary per crate: each file here is a module (linking burn into
//! a binary per file cost minutes of CI).

mod gpu_path;
mod pipeline;
mod prep_e2e;
