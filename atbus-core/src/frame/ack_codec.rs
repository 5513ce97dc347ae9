//! `acknowledge` bodies written and read directly (see `message_codec`): the bytes prost
//! writes — fields in tag order, each once but the repeated `streams`, packed number lists,
//! defaults left out — and, when reading, that canonical shape only: anything else returns
//! `None` and prost decodes the whole message. prost's generic code was 740 instructions per
//! message to read and 390 to write in B5.

use bytes::Bytes;

use super::message_codec::{
    FieldReader, FieldWriter, delimited_len, unzigzag, varint_field_len, zigzag,
};
use crate::proto::{Acknowledge, PacketAcknowledge, StreamAcknowledge};
use prost::encoding::encoded_len_varint as varint_len;

/// Bytes of `ack` encoded (prost's `encoded_len`).
pub(super) fn acknowledge_len(ack: &Acknowledge) -> usize {
    ack.streams
        .iter()
        .map(|s| delimited_len(stream_len(s)))
        .sum::<usize>()
        + varint_field_len(ack.timepoint_microseconds)
        + varint_field_len(ack.ack_delay_microseconds)
        + ack
            .packets
            .as_ref()
            .map_or(0, |p| delimited_len(packets_len(p)))
}

fn stream_len(stream: &StreamAcknowledge) -> usize {
    varint_field_len(zigzag(stream.stream_id))
        + varint_field_len(stream.acknowledge_offset)
        + varint_field_len(stream.received_max_offset)
        + packed_len(&stream.received_ranges)
        + varint_field_len(stream.window_size)
        + if stream.finished { 2 } else { 0 }
}

fn packets_len(packets: &PacketAcknowledge) -> usize {
    varint_field_len(packets.largest_packet_number) + packed_len(&packets.ranges)
}

/// Bytes of a packed list of varints with a one-byte key (none when empty).
fn packed_len(values: &[u64]) -> usize {
    if values.is_empty() {
        0
    } else {
        delimited_len(values_len(values))
    }
}

fn values_len(values: &[u64]) -> usize {
    values.iter().map(|&v| varint_len(v)).sum()
}

/// Writes the fields of `ack` (its key and length are the caller's), as prost would.
pub(super) fn encode_acknowledge(out: &mut FieldWriter<'_>, ack: &Acknowledge) {
    for stream in &ack.streams {
        out.byte(1 << 3 | 2);
        out.varint(stream_len(stream) as u64);
        out.varint_field(1 << 3, zigzag(stream.stream_id));
        out.varint_field(2 << 3, stream.acknowledge_offset);
        out.varint_field(3 << 3, stream.received_max_offset);
        write_packed(out, 4 << 3 | 2, &stream.received_ranges);
        out.varint_field(5 << 3, stream.window_size);
        out.varint_field(6 << 3, u64::from(stream.finished));
    }
    out.varint_field(2 << 3, ack.timepoint_microseconds);
    out.varint_field(3 << 3, ack.ack_delay_microseconds);
    if let Some(packets) = &ack.packets {
        out.byte(4 << 3 | 2);
        out.varint(packets_len(packets) as u64);
        out.varint_field(1 << 3, packets.largest_packet_number);
        write_packed(out, 2 << 3 | 2, &packets.ranges);
    }
}

fn write_packed(out: &mut FieldWriter<'_>, key: u8, values: &[u64]) {
    if values.is_empty() {
        return;
    }
    out.byte(key);
    out.varint(values_len(values) as u64);
    for &value in values {
        out.varint(value);
    }
}

/// Decodes the `Acknowledge` in `bytes[start..end]`, or `None` when it is not canonical.
pub(super) fn decode_acknowledge(bytes: &Bytes, start: usize, end: usize) -> Option<Acknowledge> {
    let mut ack = Acknowledge::default();
    let mut fields = FieldReader::new(bytes, start, end);
    let mut last = 0;
    while fields.pos != fields.end {
        let key = fields.varint()?;
        // Keys ascend; only `streams` (field 1) repeats.
        if key < last || (key == last && key != 0x0a) {
            return None;
        }
        last = key;
        match key {
            0x0a => {
                let (start, end) = fields.delimited()?;
                ack.streams.push(decode_stream(bytes, start, end)?);
            }
            0x10 => ack.timepoint_microseconds = fields.varint()?,
            0x18 => ack.ack_delay_microseconds = fields.varint()?,
            0x22 => {
                let (start, end) = fields.delimited()?;
                ack.packets = Some(decode_packets(bytes, start, end)?);
            }
            _ => return None,
        }
    }
    Some(ack)
}

fn decode_stream(bytes: &Bytes, start: usize, end: usize) -> Option<StreamAcknowledge> {
    let mut stream = StreamAcknowledge::default();
    let mut fields = FieldReader::new(bytes, start, end);
    while let Some(key) = fields.key()? {
        match key {
            0x08 => stream.stream_id = unzigzag(fields.varint()?),
            0x10 => stream.acknowledge_offset = fields.varint()?,
            0x18 => stream.received_max_offset = fields.varint()?,
            0x22 => stream.received_ranges = packed(bytes, &mut fields)?,
            0x28 => stream.window_size = fields.varint()?,
            0x30 => stream.finished = fields.varint()? != 0,
            _ => return None,
        }
    }
    Some(stream)
}

fn decode_packets(bytes: &Bytes, start: usize, end: usize) -> Option<PacketAcknowledge> {
    let mut packets = PacketAcknowledge::default();
    let mut fields = FieldReader::new(bytes, start, end);
    while let Some(key) = fields.key()? {
        match key {
            0x08 => packets.largest_packet_number = fields.varint()?,
            0x12 => packets.ranges = packed(bytes, &mut fields)?,
            _ => return None,
        }
    }
    Some(packets)
}

/// A packed list of varints (the next length-delimited field of `fields`).
fn packed(bytes: &Bytes, fields: &mut FieldReader<'_>) -> Option<Vec<u64>> {
    let (start, end) = fields.delimited()?;
    let mut values = FieldReader::new(bytes, start, end);
    // At most one value per byte: the length bounds the allocation.
    let mut list = Vec::with_capacity((end - start).min(64));
    while values.pos != values.end {
        list.push(values.varint()?);
    }
    Some(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use prost::Message as _;

    fn any_stream() -> impl Strategy<Value = StreamAcknowledge> {
        (
            any::<i64>(),
            prop_oneof![Just(0u64), any::<u64>()],
            prop_oneof![Just(0u64), any::<u64>()],
            proptest::collection::vec(any::<u64>(), 0..4),
            prop_oneof![Just(0u64), any::<u64>()],
            any::<bool>(),
        )
            .prop_map(
                |(id, acked, max, ranges, window, finished)| StreamAcknowledge {
                    stream_id: id,
                    acknowledge_offset: acked,
                    received_max_offset: max,
                    received_ranges: ranges,
                    window_size: window,
                    finished,
                },
            )
    }

    fn any_ack() -> impl Strategy<Value = Acknowledge> {
        (
            proptest::collection::vec(any_stream(), 0..4),
            prop_oneof![Just(0u64), any::<u64>()],
            prop_oneof![Just(0u64), any::<u64>()],
            proptest::option::of((any::<u64>(), proptest::collection::vec(any::<u64>(), 0..6))),
        )
            .prop_map(|(streams, timepoint, delay, packets)| Acknowledge {
                streams,
                timepoint_microseconds: timepoint,
                ack_delay_microseconds: delay,
                packets: packets.map(|(largest, ranges)| PacketAcknowledge {
                    largest_packet_number: largest,
                    ranges,
                }),
            })
    }

    proptest! {
        #[test]
        fn acknowledgements_encode_as_prost_encodes_them(ack in any_ack()) {
            let expected = ack.encode_to_vec();
            prop_assert_eq!(acknowledge_len(&ack), expected.len());
            let mut dst = bytes::BytesMut::new();
            let mut out = FieldWriter::new(&mut dst);
            encode_acknowledge(&mut out, &ack);
            out.flush();
            prop_assert_eq!(&dst[..], &expected[..]);
        }

        #[test]
        fn canonical_acknowledgements_take_the_fast_path(ack in any_ack()) {
            let bytes = Bytes::from(ack.encode_to_vec());
            prop_assert_eq!(decode_acknowledge(&bytes, 0, bytes.len()), Some(ack));
        }

        #[test]
        fn whatever_the_fast_path_accepts_prost_reads_the_same(
            raw in proptest::collection::vec(any::<u8>(), 0..48),
        ) {
            let bytes = Bytes::from(raw);
            if let Some(ours) = decode_acknowledge(&bytes, 0, bytes.len()) {
                prop_assert_eq!(Some(ours), Acknowledge::decode(bytes).ok());
            }
        }
    }
}
