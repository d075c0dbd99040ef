//! Integration tests of imagenet-prep: synth archives, prep, resume, verify, val labels, .mat, real JPEGs.
//!
//! One test binary per crate: each file here is a module (linking burn into
//! a binary per file cost minutes of CI).

mod jpeg_real_images;
mod mat_fuzz;
mod mat_roundtrip;
mod prep_errors;
mod prep_fuzz;
mod prep_image_folder;
mod prep_pipeline;
mod prep_resume;
mod prep_support;
mod prep_val_labels;
mod prep_verify;
mod synth_archives;
mod synth_common;
mod synth_layouts;
mod synth_learnable;
