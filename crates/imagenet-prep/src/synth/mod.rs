//! Synthetic ILSVRC-2012-shaped archives for tests, benchmarks and the demo.
