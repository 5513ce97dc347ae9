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
