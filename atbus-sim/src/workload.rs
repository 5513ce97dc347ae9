//! Message payloads of workloads: an 8-byte id followed by a pattern derived from it, so that
//! every delivery can be matched to its send and checked byte for byte.

use bytes::Bytes;

/// Smallest message a workload sends: the id alone.
pub const MIN_MESSAGE_SIZE: usize = 8;

/// The payload of message `id`, `size` bytes long.
pub fn payload(id: u64, size: usize) -> Bytes {
    let mut data = Vec::with_capacity(size);
    data.extend_from_slice(&id.to_le_bytes());
    data.extend((0..size - MIN_MESSAGE_SIZE).map(|i| pattern(id, i)));
    Bytes::from(data)
}

fn pattern(id: u64, i: usize) -> u8 {
    (id as u8).wrapping_mul(31).wrapping_add(i as u8)
}

/// The id of a delivered payload, if it is intact for a message of `expected_size(id)` bytes.
pub fn check(payload: &[u8], expected_size: impl Fn(u64) -> Option<usize>) -> Option<u64> {
    let id = u64::from_le_bytes(payload.get(..MIN_MESSAGE_SIZE)?.try_into().ok()?);
    if expected_size(id)? != payload.len() {
        return None;
    }
    let intact = payload[MIN_MESSAGE_SIZE..]
        .iter()
        .enumerate()
        .all(|(i, &b)| b == pattern(id, i));
    intact.then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_check_and_corruption_is_caught() {
        let p = payload(42, 100);
        assert_eq!(p.len(), 100);
        assert_eq!(check(&p, |_| Some(100)), Some(42));
        let mut bad = p.to_vec();
        bad[50] ^= 1;
        assert_eq!(check(&bad, |_| Some(100)), None);
        assert_eq!(check(&p[..99], |_| Some(100)), None);
        assert_eq!(check(&p[..4], |_| Some(100)), None);
        assert_eq!(check(&payload(7, 8), |_| Some(8)), Some(7));
    }
}
