//! Acknowledgement ranges on the wire: encoding, and validation of what a peer sends.
//!
//! Hop-level packet numbers are acknowledged QUIC-style (`packet_acknowledge`): the largest, then
//! descending `(gap, length)` pairs. Stream data is acknowledged with `acknowledge_offset` and
//! ascending `(gap, length)` pairs above it (`stream_acknowledge.received_ranges`). Decoding
//! checks every subtraction and addition and the number of ranges, so absurd lists are refused
//! with a typed error instead of overflowing or allocating.

use std::ops::Range;

use super::super::stream::RangeSet;
use crate::proto::PacketAcknowledge;

/// Most ranges sent, and accepted, in one acknowledgement.
pub const MAX_ACK_RANGES: usize = 32;

/// A malformed acknowledgement: a protocol violation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AckFrameError {
    /// More ranges than [`MAX_ACK_RANGES`].
    #[error("{0} acknowledgement ranges (at most {MAX_ACK_RANGES})")]
    TooManyRanges(usize),
    /// A range list that is odd where pairs are expected, or whose arithmetic leaves u64.
    #[error("malformed acknowledgement ranges")]
    Malformed,
}

/// The packet-number acknowledgement of `received` (its highest ranges, at most
/// [`MAX_ACK_RANGES`]).
pub fn encode_packet_ack(received: &RangeSet) -> Option<PacketAcknowledge> {
    let mut iter = received.iter().rev().take(MAX_ACK_RANGES);
    let top = iter.next()?;
    let largest = top.end - 1;
    let mut encoded = Vec::with_capacity(2 * received.len().min(MAX_ACK_RANGES) - 1);
    encoded.push(largest - top.start);
    let mut previous_start = top.start;
    for range in iter {
        // Numbers missing between this range and the previous one, minus one; then its length
        // minus one.
        encoded.push(previous_start - range.end - 1);
        encoded.push(range.end - range.start - 1);
        previous_start = range.start;
    }
    Some(PacketAcknowledge {
        largest_packet_number: largest,
        ranges: encoded,
    })
}

/// The packet-number ranges of a peer's acknowledgement, descending.
pub fn decode_packet_ack(ack: &PacketAcknowledge) -> Result<Vec<Range<u64>>, AckFrameError> {
    let Some((&first, rest)) = ack.ranges.split_first() else {
        return Err(AckFrameError::Malformed);
    };
    if rest.len() % 2 != 0 {
        return Err(AckFrameError::Malformed);
    }
    let count = 1 + rest.len() / 2;
    if count > MAX_ACK_RANGES {
        return Err(AckFrameError::TooManyRanges(count));
    }
    let end = ack
        .largest_packet_number
        .checked_add(1)
        .ok_or(AckFrameError::Malformed)?;
    let start = end
        .checked_sub(first.checked_add(1).ok_or(AckFrameError::Malformed)?)
        .ok_or(AckFrameError::Malformed)?;
    let mut ranges = Vec::with_capacity(count);
    ranges.push(start..end);
    let mut previous_start = start;
    for pair in rest.chunks_exact(2) {
        let end = previous_start
            .checked_sub(pair[0].checked_add(1).ok_or(AckFrameError::Malformed)?)
            .ok_or(AckFrameError::Malformed)?;
        let start = end
            .checked_sub(pair[1].checked_add(1).ok_or(AckFrameError::Malformed)?)
            .ok_or(AckFrameError::Malformed)?;
        ranges.push(start..end);
        previous_start = start;
    }
    Ok(ranges)
}

/// Stream ranges above `contiguous` as ascending `(gap, length)` pairs (the lowest
/// [`MAX_ACK_RANGES`]).
pub fn encode_stream_ranges(contiguous: u64, ranges: &[Range<u64>]) -> Vec<u64> {
    let mut encoded = Vec::with_capacity(2 * ranges.len().min(MAX_ACK_RANGES));
    let mut previous_end = contiguous;
    for range in ranges.iter().take(MAX_ACK_RANGES) {
        encoded.push(range.start - previous_end);
        encoded.push(range.end - range.start);
        previous_end = range.end;
    }
    encoded
}

/// The stream ranges of a peer's acknowledgement, ascending.
pub fn decode_stream_ranges(
    contiguous: u64,
    encoded: &[u64],
) -> Result<Vec<Range<u64>>, AckFrameError> {
    if encoded.len() % 2 != 0 {
        return Err(AckFrameError::Malformed);
    }
    let count = encoded.len() / 2;
    if count > MAX_ACK_RANGES {
        return Err(AckFrameError::TooManyRanges(count));
    }
    let mut ranges = Vec::with_capacity(count);
    let mut previous_end = contiguous;
    for pair in encoded.chunks_exact(2) {
        if pair[0] == 0 || pair[1] == 0 {
            return Err(AckFrameError::Malformed);
        }
        let start = previous_end
            .checked_add(pair[0])
            .ok_or(AckFrameError::Malformed)?;
        let end = start.checked_add(pair[1]).ok_or(AckFrameError::Malformed)?;
        ranges.push(start..end);
        previous_end = end;
    }
    Ok(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn absurd_lists_are_refused() {
        let ack = |largest, ranges: Vec<u64>| PacketAcknowledge {
            largest_packet_number: largest,
            ranges,
        };
        assert_eq!(
            decode_packet_ack(&ack(5, vec![])),
            Err(AckFrameError::Malformed)
        );
        assert_eq!(
            decode_packet_ack(&ack(5, vec![9])),
            Err(AckFrameError::Malformed)
        );
        assert_eq!(
            decode_packet_ack(&ack(u64::MAX, vec![0])),
            Err(AckFrameError::Malformed)
        );
        assert_eq!(
            decode_packet_ack(&ack(5, vec![0, 1])),
            Err(AckFrameError::Malformed)
        );
        assert_eq!(
            decode_packet_ack(&ack(1, vec![0, 5, 0])),
            Err(AckFrameError::Malformed)
        );
        assert_eq!(
            decode_packet_ack(&ack(1_000, vec![0; 1 + 2 * MAX_ACK_RANGES])),
            Err(AckFrameError::TooManyRanges(MAX_ACK_RANGES + 1))
        );
        assert_eq!(decode_stream_ranges(0, &[1]), Err(AckFrameError::Malformed));
        assert_eq!(
            decode_stream_ranges(0, &[0, 5]),
            Err(AckFrameError::Malformed)
        );
        assert_eq!(
            decode_stream_ranges(u64::MAX - 1, &[1, 5]),
            Err(AckFrameError::Malformed)
        );
    }

    proptest! {
        #[test]
        fn packet_acks_round_trip(numbers in prop::collection::btree_set(0u64..500, 1..100)) {
            let mut set = RangeSet::new();
            for n in &numbers {
                set.insert(*n..n + 1);
            }
            let ack = encode_packet_ack(&set).unwrap();
            let decoded = decode_packet_ack(&ack).unwrap();
            let expected: Vec<_> = set.iter().collect::<Vec<_>>().into_iter().rev().take(MAX_ACK_RANGES).collect();
            prop_assert_eq!(decoded, expected);
        }

        #[test]
        fn stream_ranges_round_trip(numbers in prop::collection::btree_set(10u64..500, 0..100)) {
            let mut set = RangeSet::new();
            for n in &numbers {
                set.insert(*n..n + 1);
            }
            let ranges: Vec<_> = set.iter().collect();
            let decoded = decode_stream_ranges(5, &encode_stream_ranges(5, &ranges)).unwrap();
            prop_assert_eq!(decoded, ranges.into_iter().take(MAX_ACK_RANGES).collect::<Vec<_>>());
        }
    }
}
