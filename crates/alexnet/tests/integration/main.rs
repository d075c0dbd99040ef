//! Integration tests of the alexnet crate: shapes, init, layers, the two-device split, safetensors.
//!
//! One test binary per crate: each file here is a module (linking burn into
//! a binary per file cost minutes of CI).

mod common;
mod init;
mod layers;
mod safetensors_io;
mod shapes;
mod split;
