//! Counter-based randomness: every random choice is a pure function of
//! (seed, epoch, purpose, position), so batches do not depend on how many
//! workers made them or where a resumed run started.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Purpose tags, so the shuffle and the per-image draws never share a stream.
pub(crate) const SHUFFLE: u64 = 0x0053_4855_4646_4c45;
pub(crate) const AUGMENT: u64 = 0x0041_5547_4d45_4e54;

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A ChaCha8 generator whose key is (seed, epoch, purpose) and whose
/// stream number is `position`.
pub(crate) fn stream(seed: u64, epoch: u64, purpose: u64, position: u64) -> ChaCha8Rng {
    let mut state = seed;
    let a = splitmix(&mut state);
    state ^= epoch.wrapping_mul(0xd6e8_feb8_6659_fd93);
    let b = splitmix(&mut state);
    state ^= purpose;
    let c = splitmix(&mut state);
    let d = splitmix(&mut state);
    let mut key = [0u8; 32];
    for (i, w) in [a, b, c, d].into_iter().enumerate() {
        key[8 * i..8 * i + 8].copy_from_slice(&w.to_le_bytes());
    }
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream(position);
    rng
}
