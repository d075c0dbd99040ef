//! Memory-mapped shard loader: shuffling, augmentation, batching, prefetch.
