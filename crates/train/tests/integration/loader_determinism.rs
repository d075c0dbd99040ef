//! Determinism: batches depend on (seed, epoch) only — not on the worker
//! count, the prefetch depth or where an epoch was resumed.

use crate::loader_fixture;

use std::collections::HashSet;

use loader_fixture::{dataset, open};
use train::loader::{AugmentConfig, Batch, SplitName, TrainLoader};

fn batches(workers: usize, prefetch: usize, seed: u64, epoch: u64, start: usize) -> Vec<Batch> {
    let dir = dataset(23, 0, 6);
    let set = open(dir.path(), SplitName::Train);
    let aug = AugmentConfig {
        crop: 24,
        ..AugmentConfig::default()
    };
    let l = TrainLoader::new(set, aug, 4, seed, workers, prefetch).unwrap();
    assert_eq!(l.batches_per_epoch(), 5);
    l.epoch(epoch, start).collect()
}

#[test]
fn same_seed_and_epoch_give_the_same_batches_for_any_worker_count() {
    let reference = batches(0, 0, 42, 1, 0);
    assert_eq!(reference.len(), 5);
    for (workers, prefetch) in [(1, 1), (2, 4), (3, 2), (8, 16)] {
        assert!(
            batches(workers, prefetch, 42, 1, 0) == reference,
            "{workers} workers differ"
        );
    }
}

#[test]
fn resuming_at_batch_k_gives_the_tail_of_the_epoch() {
    let full = batches(2, 2, 9, 4, 0);
    for k in [1, 3, 5, 9] {
        let tail = batches(3, 3, 9, 4, k);
        assert!(tail[..] == full[k.min(5)..], "start_batch {k}");
    }
}

#[test]
fn each_epoch_is_a_permutation_and_epochs_differ() {
    let e0 = batches(2, 2, 5, 0, 0);
    let e1 = batches(2, 2, 5, 1, 0);
    let other_seed = batches(2, 2, 6, 0, 0);
    let seen: Vec<u64> = e0.iter().flat_map(|b| b.indices.clone()).collect();
    assert_eq!(seen.len(), 20);
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        20,
        "an image repeats within an epoch"
    );
    let order = |bs: &[Batch]| {
        bs.iter()
            .flat_map(|b| b.indices.clone())
            .collect::<Vec<_>>()
    };
    assert_ne!(order(&e0), order(&e1));
    assert_ne!(order(&e0), order(&other_seed));
    assert_ne!(e0[0].images, e1[0].images);
}

#[test]
fn dropping_an_epoch_early_stops_the_workers() {
    let dir = dataset(64, 0, 16);
    let set = open(dir.path(), SplitName::Train);
    let l = TrainLoader::new(
        set,
        AugmentConfig {
            crop: 16,
            ..AugmentConfig::default()
        },
        1,
        0,
        4,
        8,
    )
    .unwrap();
    for _ in 0..20 {
        let mut it = l.epoch(0, 0);
        assert!(it.next().is_some());
        drop(it);
    }
    // The same loader still produces whole epochs afterwards.
    assert_eq!(l.epoch(1, 0).count(), 64);
}
