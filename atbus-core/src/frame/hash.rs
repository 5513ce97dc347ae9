//! The frame hash: XXH3-64 with a fixed seed, truncated to 32 bits.

use twox_hash::XxHash3_64;

/// Seed of the XXH3-64 frame hash (the 32-bit FNV prime, as in libatbus).
pub const FRAME_HASH_SEED: u64 = 0x0100_0193;

/// Bytes of the hash trailer at the end of every frame.
pub const FRAME_HASH_LEN: usize = 4;

/// The frame hash of `bytes`: the low 32 bits of XXH3-64 with seed [`FRAME_HASH_SEED`].
///
/// On the wire it is written little-endian after the bytes it covers.
#[inline]
pub fn frame_hash(bytes: &[u8]) -> u32 {
    XxHash3_64::oneshot_with_seed(FRAME_HASH_SEED, bytes) as u32
}

/// Reads a little-endian hash trailer. `trailer` is exactly [`FRAME_HASH_LEN`] bytes.
#[inline]
pub(super) fn read_hash(trailer: &[u8]) -> u32 {
    let mut le = [0u8; FRAME_HASH_LEN];
    le.copy_from_slice(trailer);
    u32::from_le_bytes(le)
}

/// The frame hash of the concatenation of `parts`: equal to [`frame_hash`] of the joined bytes,
/// without joining them (XXH3's streaming form gives the one-shot result).
pub fn frame_hash_parts<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u32 {
    use std::hash::Hasher as _;
    let mut hasher = XxHash3_64::with_seed(FRAME_HASH_SEED);
    for part in parts {
        hasher.write(part);
    }
    hasher.finish() as u32
}
