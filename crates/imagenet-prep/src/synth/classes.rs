//! Synthetic class hierarchy: leaf WNIDs (the first twenty are real
//! ImageNet classes), internal synsets above them, and devkit IDs that are
//! deliberately not in sorted-WNID order.

use std::collections::BTreeSet;

use rand::seq::SliceRandom;
use rand::{Rng, RngCore};

use crate::mat::Synset;

/// The first ImageNet classes in sorted-WNID order, so small synthetic sets
/// look like the real thing.
const REAL: [(&str, &str); 20] = [
    ("n01440764", "tench, Tinca tinca"),
    ("n01443537", "goldfish, Carassius auratus"),
    (
        "n01484850",
        "great white shark, white shark, man-eater, man-eating shark, Carcharodon carcharias",
    ),
    ("n01491361", "tiger shark, Galeocerdo cuvieri"),
    ("n01494475", "hammerhead, hammerhead shark"),
    ("n01496331", "electric ray, crampfish, numbfish, torpedo"),
    ("n01498041", "stingray"),
    ("n01514668", "cock"),
    ("n01514859", "hen"),
    ("n01518878", "ostrich, Struthio camelus"),
    ("n01530575", "brambling, Fringilla montifringilla"),
    ("n01531178", "goldfinch, Carduelis carduelis"),
    ("n01532829", "house finch, linnet, Carpodacus mexicanus"),
    ("n01534433", "junco, snowbird"),
    (
        "n01537544",
        "indigo bunting, indigo finch, indigo bird, Passerina cyanea",
    ),
    ("n01558993", "robin, American robin, Turdus migratorius"),
    ("n01560419", "bulbul"),
    ("n01580077", "jay"),
    ("n01582220", "magpie"),
    ("n01592084", "chickadee"),
];

/// One leaf class in sorted-WNID order (its position is the class index).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SynthClass {
    /// WordNet ID, e.g. `n01440764`.
    pub wnid: String,
    /// Synonyms as in the devkit.
    pub words: String,
    /// The devkit ID given to this class (1-based, not in WNID order).
    pub ilsvrc2012_id: u32,
}

/// Leaves in sorted-WNID order and the full devkit synset list (sorted by
/// ID, as in the real `meta.mat`).
pub(crate) fn make_classes(
    n: usize,
    train_per_class: u32,
    rng: &mut impl RngCore,
) -> (Vec<SynthClass>, Vec<Synset>) {
    let mut wnids: BTreeSet<String> = REAL.iter().take(n).map(|(w, _)| w.to_string()).collect();
    while wnids.len() < n {
        wnids.insert(format!("n0{}", rng.random_range(1_600_000..4_999_999u32)));
    }
    let words_of = |w: &str| {
        REAL.iter()
            .find(|(r, _)| *r == w)
            .map_or_else(|| format!("synthetic {w}"), |(_, words)| words.to_string())
    };
    // Devkit IDs: a random permutation of 1..=n that is never the identity
    // (readers must not assume ID order == WNID order).
    let mut ids: Vec<u32> = (1..=n as u32).collect();
    ids.shuffle(rng);
    if n >= 2 && ids.iter().enumerate().all(|(i, &id)| id == i as u32 + 1) {
        ids.swap(0, 1);
    }
    let classes: Vec<SynthClass> = wnids
        .iter()
        .zip(&ids)
        .map(|(w, &id)| SynthClass {
            wnid: w.clone(),
            words: words_of(w),
            ilsvrc2012_id: id,
        })
        .collect();

    let mut synsets: Vec<Synset> = classes
        .iter()
        .map(|c| Synset {
            ilsvrc2012_id: c.ilsvrc2012_id,
            wnid: c.wnid.clone(),
            words: c.words.clone(),
            gloss: format!("a synthetic class drawn as {} stripes", c.words),
            num_children: 0,
            children: Vec::new(),
            wordnet_height: 0,
            num_train_images: train_per_class,
        })
        .collect();
    synsets.sort_by_key(|s| s.ilsvrc2012_id);

    // Internal synsets: groups of up to three leaves (in ID order, so the
    // groups cut across WNID order), all under one root.
    let mut used: BTreeSet<String> = wnids;
    let mut fresh_wnid = |rng: &mut dyn RngCore| loop {
        let w = format!("n0{}", rng.random_range(5_000_000..9_999_999u32));
        if used.insert(w.clone()) {
            return w;
        }
    };
    let mut next_id = n as u32 + 1;
    let mut groups = Vec::new();
    let leaf_ids: Vec<u32> = (1..=n as u32).collect();
    for (g, chunk) in leaf_ids.chunks(3).enumerate() {
        groups.push(Synset {
            ilsvrc2012_id: next_id,
            wnid: fresh_wnid(rng),
            words: format!("synthetic group {g}"),
            gloss: "an internal synset over a few synthetic classes".into(),
            num_children: chunk.len() as u32,
            children: chunk.to_vec(),
            wordnet_height: 1,
            num_train_images: 0,
        });
        next_id += 1;
    }
    let root = Synset {
        ilsvrc2012_id: next_id,
        wnid: "n00001740".into(),
        words: "entity".into(),
        gloss: "that which is perceived or known or inferred to have its own distinct existence"
            .into(),
        num_children: groups.len() as u32,
        children: groups.iter().map(|g| g.ilsvrc2012_id).collect(),
        wordnet_height: 2,
        num_train_images: 0,
    };
    synsets.extend(groups);
    synsets.push(root);
    (classes, synsets)
}
