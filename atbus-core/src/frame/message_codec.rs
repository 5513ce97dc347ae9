//! Protobuf encoding and decoding of `frame_message`, specialised for the hot bodies.
//!
//! prost's generic code pays, per field, for `BufMut`/`Buf` abstraction and for a reference
//! count on every `Bytes` it writes; for a 64-byte message that is most of the cost of a frame.
//! This module writes and reads the same bytes directly:
//!
//! - **Encoding** is total: the head, `packet_number`, and the `ping`, `pong` and `packet` bodies
//!   are written here; `acknowledge` and `close` bodies and the handshake steps `register` and
//!   `register_result` (rarer, with nested fields) are written by prost inside a key and length
//!   written here. The output is byte-for-byte what
//!   `prost::Message::encode` writes (fields in tag order, proto3 defaults omitted), which the
//!   property tests check against prost on arbitrary messages.
//! - **Decoding** takes a fast path only for the canonical shape prost itself writes: known
//!   fields with their wire types, in strictly ascending order, each once, with valid UTF-8 and
//!   in-bounds lengths. Anything else (unknown or repeated fields, another order, malformed
//!   input) returns `None` and the caller decodes the whole message with prost, so that every
//!   message and every error is exactly prost's. The property tests and a fuzz target compare
//!   both decoders on arbitrary bytes.

use bytes::{Bytes, BytesMut};
use prost::Message as _;

use super::splice::Splice;
use super::{ack_codec, content_codec};
use crate::proto::{FrameMessage, MessageHead, Packet, PingData, frame_message::Body};

// Field keys: (field number << 3) | wire type. Wire type 0 is varint, 2 is length-delimited.
const FRAME_HEAD: u8 = 1 << 3 | 2;
const FRAME_PACKET_NUMBER: u8 = 2 << 3;
const BODY_PING: u8 = 11 << 3 | 2;
const BODY_PONG: u8 = 12 << 3 | 2;
const BODY_PACKET: u8 = 13 << 3 | 2;
const BODY_ACKNOWLEDGE: u8 = 14 << 3 | 2;
const BODY_CLOSE: u8 = 15 << 3 | 2;
// Handshake steps (fields 16 and 17, outside the body oneof): two-byte keys.
const FRAME_REGISTER: u64 = 16 << 3 | 2;
const FRAME_REGISTER_RESULT: u64 = 17 << 3 | 2;

use prost::encoding::encoded_len_varint as varint_len;

/// Bytes of a length-delimited field with a one-byte key.
#[inline]
pub(super) fn delimited_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// Bytes of a varint field with a one-byte key, or zero when the value is the default.
#[inline]
pub(super) fn varint_field_len(value: u64) -> usize {
    if value == 0 { 0 } else { 1 + varint_len(value) }
}

#[inline]
fn string_field_len(value: &[u8]) -> usize {
    if value.is_empty() {
        0
    } else {
        delimited_len(value.len())
    }
}

#[inline]
pub(super) fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

#[inline]
pub(super) fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

fn head_len(head: &MessageHead) -> usize {
    string_field_len(head.source.as_bytes())
        + string_field_len(head.destination.as_bytes())
        + string_field_len(head.forward_for_source.as_bytes())
        + varint_field_len(head.forward_for_connection_id)
        + varint_field_len(u64::from(head.hop_count))
}

fn ping_len(ping: &PingData) -> usize {
    varint_field_len(ping.timepoint_microseconds)
        + string_field_len(&ping.pmtud_padding)
        + varint_field_len(u64::from(ping.pmtud_received_size))
}

fn packet_len(packet: &Packet) -> usize {
    varint_field_len(zigzag(packet.stream_id))
        + varint_field_len(packet.stream_offset)
        + string_field_len(&packet.content)
        + varint_field_len(u64::from(packet.flags))
        + varint_field_len(u64::from(packet.padding_size))
        + varint_field_len(packet.timepoint_microseconds)
}

fn body_len(body: &Body) -> usize {
    match body {
        Body::Ping(ping) | Body::Pong(ping) => ping_len(ping),
        Body::Packet(packet) => packet_len(packet),
        Body::Acknowledge(ack) => ack_codec::acknowledge_len(ack),
        Body::Close(close) => close.encoded_len(),
    }
}

/// Encoded sizes of a message and of its nested parts, computed once per encoding.
#[derive(Debug, Clone, Copy)]
pub(super) struct MessageSizes {
    /// Length of the whole encoded message, equal to `prost::Message::encoded_len`.
    pub total: usize,
    head: usize,
    body: usize,
    register: usize,
    register_result: usize,
}

/// Bytes of the length-delimited field `key` holding `message`, or zero when it is absent.
fn optional_field_len(key: u64, message: Option<&impl prost::Message>) -> (usize, usize) {
    message.map_or((0, 0), |message| {
        let len = message.encoded_len();
        (len, varint_len(key) + varint_len(len as u64) + len)
    })
}

/// The encoded sizes of `message`.
pub(super) fn sizes(message: &FrameMessage) -> MessageSizes {
    let head = message.head.as_deref().map_or(0, head_len);
    let body = message.body.as_ref().map_or(0, body_len);
    let (register, register_field) =
        optional_field_len(FRAME_REGISTER, message.register.as_deref());
    let (register_result, register_result_field) =
        optional_field_len(FRAME_REGISTER_RESULT, message.register_result.as_deref());
    let total = message.head.as_ref().map_or(0, |_| delimited_len(head))
        + varint_field_len(message.packet_number)
        + message.body.as_ref().map_or(0, |_| delimited_len(body))
        + register_field
        + register_result_field;
    MessageSizes {
        total,
        head,
        body,
        register,
        register_result,
    }
}

/// Bytes gathered on the stack before they are appended to the destination.
const PENDING_LEN: usize = 256;

/// Appends protobuf fields to a `BytesMut`, gathering them in a stack buffer so that a small
/// frame is appended with one copy rather than one per field (or per byte).
pub(super) struct FieldWriter<'a> {
    pub(super) dst: &'a mut BytesMut,
    pending: [u8; PENDING_LEN],
    len: usize,
}

impl<'a> FieldWriter<'a> {
    pub(super) fn new(dst: &'a mut BytesMut) -> Self {
        Self {
            dst,
            pending: [0; PENDING_LEN],
            len: 0,
        }
    }

    pub(super) fn flush(&mut self) {
        self.dst.extend_from_slice(&self.pending[..self.len]);
        self.len = 0;
    }

    /// Writes a one-byte key or any other single byte.
    #[inline(always)]
    pub(super) fn byte(&mut self, byte: u8) {
        if self.len == self.pending.len() {
            self.flush();
        }
        self.pending[self.len] = byte;
        self.len += 1;
    }

    #[inline(always)]
    pub(super) fn varint(&mut self, mut value: u64) {
        if self.len + 10 > self.pending.len() {
            self.flush();
        }
        // A local cursor keeps the loop free of loads and stores of `self.len`.
        let mut len = self.len;
        while value >= 0x80 {
            self.pending[len] = (value as u8) | 0x80;
            len += 1;
            value >>= 7;
        }
        self.pending[len] = value as u8;
        self.len = len + 1;
    }

    #[inline(always)]
    pub(super) fn varint_field(&mut self, key: u8, value: u64) {
        if value != 0 {
            self.byte(key);
            self.varint(value);
        }
    }

    #[inline(always)]
    fn bytes_field(&mut self, key: u8, value: &[u8]) {
        if !value.is_empty() {
            self.byte(key);
            self.varint(value.len() as u64);
            self.slice(value);
        }
    }

    #[inline(always)]
    fn slice(&mut self, value: &[u8]) {
        if value.len() <= PENDING_LEN - self.len {
            self.pending[self.len..self.len + value.len()].copy_from_slice(value);
            self.len += value.len();
        } else {
            self.flush();
            self.dst.extend_from_slice(value);
        }
    }

    /// Writes a nested message of `len` bytes whose encoding prost produces.
    pub(super) fn prost_field(&mut self, key: u64, len: usize, message: &impl prost::Message) {
        self.varint(key);
        self.varint(len as u64);
        self.flush();
        message.encode_raw(self.dst);
    }
}

/// Appends the varints of `prefix` (the frame header) and then the protobuf encoding of
/// `message` to `dst`, exactly as prost would write it. `sizes` are the message's [`sizes`].
pub(super) fn encode(
    prefix: &[u64],
    message: &FrameMessage,
    sizes: &MessageSizes,
    dst: &mut BytesMut,
) {
    let mut out = FieldWriter::new(dst);
    for &value in prefix {
        out.varint(value);
    }
    if let Some(head) = &message.head {
        out.byte(FRAME_HEAD);
        out.varint(sizes.head as u64);
        out.bytes_field(1 << 3 | 2, head.source.as_bytes());
        out.bytes_field(2 << 3 | 2, head.destination.as_bytes());
        out.bytes_field(3 << 3 | 2, head.forward_for_source.as_bytes());
        out.varint_field(4 << 3, head.forward_for_connection_id);
        out.varint_field(5 << 3, u64::from(head.hop_count));
    }
    out.varint_field(FRAME_PACKET_NUMBER, message.packet_number);
    match &message.body {
        None => {}
        Some(Body::Ping(ping)) => encode_ping(&mut out, BODY_PING, sizes.body, ping),
        Some(Body::Pong(pong)) => encode_ping(&mut out, BODY_PONG, sizes.body, pong),
        Some(Body::Packet(packet)) => {
            out.byte(BODY_PACKET);
            out.varint(sizes.body as u64);
            out.varint_field(1 << 3, zigzag(packet.stream_id));
            out.varint_field(2 << 3, packet.stream_offset);
            out.bytes_field(3 << 3 | 2, &packet.content);
            out.varint_field(4 << 3, u64::from(packet.flags));
            out.varint_field(5 << 3, u64::from(packet.padding_size));
            out.varint_field(6 << 3, packet.timepoint_microseconds);
        }
        Some(Body::Acknowledge(ack)) => {
            out.byte(BODY_ACKNOWLEDGE);
            out.varint(sizes.body as u64);
            ack_codec::encode_acknowledge(&mut out, ack);
        }
        Some(Body::Close(close)) => out.prost_field(BODY_CLOSE.into(), sizes.body, close),
    }
    // Fields 16 and 17 follow the body, as prost writes fields in tag order.
    if let Some(register) = &message.register {
        out.prost_field(FRAME_REGISTER, sizes.register, register.as_ref());
    }
    if let Some(result) = &message.register_result {
        out.prost_field(
            FRAME_REGISTER_RESULT,
            sizes.register_result,
            result.as_ref(),
        );
    }
    out.flush();
}

/// Sizes of a `Packet` frame message whose content is `content` bytes long.
#[derive(Debug, Clone, Copy)]
pub(super) struct PacketSizes {
    /// The whole message.
    pub message: usize,
    body: usize,
    content: usize,
}

/// The sizes of a packet frame's message, as prost would encode it with a `content` of
/// `content` bytes.
pub(super) fn packet_sizes(
    packet_number: u64,
    stream_id: i64,
    stream_offset: u64,
    flags: u32,
    content: usize,
) -> PacketSizes {
    let body = varint_field_len(zigzag(stream_id))
        + varint_field_len(stream_offset)
        + if content == 0 {
            0
        } else {
            delimited_len(content)
        }
        + varint_field_len(u64::from(flags));
    PacketSizes {
        message: varint_field_len(packet_number) + delimited_len(body),
        body,
        content,
    }
}

/// Appends the varints of `prefix` (the frame header) and then the encoding of `frame` as a
/// message, exactly as [`encode`] would write [`PacketFrame::to_message`], its content
/// written in place by prost.
///
/// With `splice` (a least length and a list), fragment payloads of at least that length are
/// left out and pushed onto the list, offsets in `dst` (see [`Splice`]).
pub(super) fn encode_packet(
    prefix: &[u64],
    frame: &super::PacketFrame,
    sizes: &PacketSizes,
    dst: &mut BytesMut,
    splice: Option<(usize, &mut Vec<Splice>)>,
) {
    let mut out = FieldWriter::new(dst);
    for &value in prefix {
        out.varint(value);
    }
    out.varint_field(FRAME_PACKET_NUMBER, frame.packet_number);
    out.byte(BODY_PACKET);
    out.varint(sizes.body as u64);
    out.varint_field(1 << 3, zigzag(frame.stream_id));
    out.varint_field(2 << 3, frame.stream_offset);
    if sizes.content > 0 {
        match splice {
            Some((min, splices)) => {
                out.varint(3 << 3 | 2);
                out.varint(sizes.content as u64);
                for fragment in &frame.content.fragments {
                    content_codec::encode_fragment_spliced(&mut out, fragment, min, splices);
                }
            }
            None => out.prost_field(3 << 3 | 2, sizes.content, &frame.content),
        }
    }
    out.varint_field(4 << 3, u64::from(frame.flags));
    out.flush();
}

fn encode_ping(out: &mut FieldWriter<'_>, key: u8, len: usize, ping: &PingData) {
    out.byte(key);
    out.varint(len as u64);
    out.varint_field(1 << 3, ping.timepoint_microseconds);
    out.bytes_field(2 << 3 | 2, &ping.pmtud_padding);
    out.varint_field(3 << 3, u64::from(ping.pmtud_received_size));
}

/// Reads protobuf fields of one message from `bytes[pos..end]`, refusing anything outside the
/// canonical shape (see the module docs) by returning `None`.
pub(super) struct FieldReader<'a> {
    bytes: &'a Bytes,
    /// `bytes` as a slice, dereferenced once.
    data: &'a [u8],
    pub(super) pos: usize,
    pub(super) end: usize,
    /// Key of the previous field: keys must ascend strictly.
    last_key: u64,
}

impl<'a> FieldReader<'a> {
    pub(super) fn new(bytes: &'a Bytes, pos: usize, end: usize) -> Self {
        Self {
            bytes,
            data: bytes,
            pos,
            end,
            last_key: 0,
        }
    }

    pub(super) fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.data[..self.end].get(self.pos)?;
            self.pos += 1;
            // The tenth byte may only carry the top bit of a u64.
            if shift == 63 && byte > 1 {
                return None;
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    /// The next field's key, `Some(None)` at the end, `None` for a key out of order.
    pub(super) fn key(&mut self) -> Option<Option<u64>> {
        if self.pos == self.end {
            return Some(None);
        }
        let key = self.varint()?;
        if key <= self.last_key {
            return None;
        }
        self.last_key = key;
        Some(Some(key))
    }

    /// The bounds of a length-delimited value.
    pub(super) fn delimited(&mut self) -> Option<(usize, usize)> {
        let len = usize::try_from(self.varint()?).ok()?;
        let start = self.pos;
        let end = start.checked_add(len).filter(|&end| end <= self.end)?;
        self.pos = end;
        Some((start, end))
    }

    pub(super) fn bytes(&mut self) -> Option<Bytes> {
        let (start, end) = self.delimited()?;
        Some(self.bytes.slice(start..end))
    }

    fn string(&mut self) -> Option<String> {
        let (start, end) = self.delimited()?;
        std::str::from_utf8(&self.data[start..end])
            .ok()
            .map(str::to_owned)
    }
}

/// Decodes `bytes` (one whole `frame_message`) on the fast path, or returns `None` when the
/// input is not in canonical shape and prost must decode it.
pub(super) fn decode_fast(bytes: &Bytes, start: usize, end: usize) -> Option<FrameMessage> {
    let mut message = FrameMessage::default();
    let mut fields = FieldReader::new(bytes, start, end);
    while let Some(key) = fields.key()? {
        match key {
            k if k == u64::from(FRAME_HEAD) => {
                let (start, end) = fields.delimited()?;
                message.head = Some(Box::new(decode_head(bytes, start, end)?));
            }
            k if k == u64::from(FRAME_PACKET_NUMBER) => message.packet_number = fields.varint()?,
            k if k == u64::from(BODY_PING) || k == u64::from(BODY_PONG) => {
                let (start, end) = fields.delimited()?;
                let ping = decode_ping(bytes, start, end)?;
                message.body = Some(if k == u64::from(BODY_PING) {
                    Body::Ping(ping)
                } else {
                    Body::Pong(ping)
                });
            }
            k if k == u64::from(BODY_PACKET) => {
                let (start, end) = fields.delimited()?;
                message.body = Some(Body::Packet(decode_packet(bytes, start, end)?));
            }
            k if k == u64::from(BODY_ACKNOWLEDGE) => {
                let (start, end) = fields.delimited()?;
                let ack = ack_codec::decode_acknowledge(bytes, start, end)?;
                message.body = Some(Body::Acknowledge(ack));
            }
            _ => return None,
        }
        // Only one body: a second one (even in ascending order) takes the slow path, where prost
        // applies its own oneof rules.
        if message.body.is_some() && fields.pos != fields.end {
            return None;
        }
    }
    Some(message)
}

fn decode_head(bytes: &Bytes, start: usize, end: usize) -> Option<MessageHead> {
    let mut head = MessageHead::default();
    let mut fields = FieldReader::new(bytes, start, end);
    while let Some(key) = fields.key()? {
        match key {
            0x0a => head.source = fields.string()?,
            0x12 => head.destination = fields.string()?,
            0x1a => head.forward_for_source = fields.string()?,
            0x20 => head.forward_for_connection_id = fields.varint()?,
            0x28 => head.hop_count = fields.varint()? as u32,
            _ => return None,
        }
    }
    Some(head)
}

fn decode_ping(bytes: &Bytes, start: usize, end: usize) -> Option<PingData> {
    let mut ping = PingData::default();
    let mut fields = FieldReader::new(bytes, start, end);
    while let Some(key) = fields.key()? {
        match key {
            0x08 => ping.timepoint_microseconds = fields.varint()?,
            0x12 => ping.pmtud_padding = fields.bytes()?,
            0x18 => ping.pmtud_received_size = fields.varint()? as u32,
            _ => return None,
        }
    }
    Some(ping)
}

fn decode_packet(bytes: &Bytes, start: usize, end: usize) -> Option<Packet> {
    let mut packet = Packet::default();
    let mut fields = FieldReader::new(bytes, start, end);
    while let Some(key) = fields.key()? {
        match key {
            0x08 => packet.stream_id = unzigzag(fields.varint()?),
            0x10 => packet.stream_offset = fields.varint()?,
            0x1a => packet.content = fields.bytes()?,
            0x20 => packet.flags = fields.varint()? as u32,
            0x28 => packet.padding_size = fields.varint()? as u32,
            0x30 => packet.timepoint_microseconds = fields.varint()?,
            _ => return None,
        }
    }
    Some(packet)
}

/// Decodes the `frame_message` in `bytes[start..end]`: the fast path when it applies, prost
/// otherwise. Taking bounds rather than a narrowed `Bytes` saves a reference count per frame.
pub(super) fn decode(
    bytes: &Bytes,
    start: usize,
    end: usize,
) -> Result<FrameMessage, prost::DecodeError> {
    match decode_fast(bytes, start, end) {
        Some(message) => Ok(message),
        None => FrameMessage::decode(bytes.slice(start..end)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_round_trips_extremes() {
        for value in [0i64, 1, -1, 2, -2, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(value)), value);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }

    #[test]
    fn canonical_messages_take_the_fast_path() {
        let head = MessageHead {
            source: "a.b".into(),
            destination: "c".into(),
            forward_for_source: "relay-0".into(),
            forward_for_connection_id: u64::MAX,
            hop_count: 3,
        };
        let messages = [
            FrameMessage::default(),
            FrameMessage {
                head: Some(Box::new(head)),
                packet_number: 1 << 40,
                body: Some(Body::Packet(Packet {
                    stream_id: -5,
                    stream_offset: 99,
                    content: Bytes::from_static(b"payload"),
                    flags: 1,
                    padding_size: 7,
                    timepoint_microseconds: 12_345,
                })),
                ..Default::default()
            },
            FrameMessage {
                head: Some(Box::default()),
                packet_number: 0,
                body: Some(Body::Pong(PingData {
                    timepoint_microseconds: 1,
                    pmtud_padding: Bytes::from_static(&[0; 40]),
                    pmtud_received_size: 1200,
                })),
                ..Default::default()
            },
            FrameMessage {
                body: Some(Body::Ping(PingData::default())),
                ..Default::default()
            },
        ];
        for message in messages {
            let mut encoded = BytesMut::new();
            encode(&[], &message, &sizes(&message), &mut encoded);
            assert_eq!(&encoded[..], &message.encode_to_vec()[..]);
            assert_eq!(sizes(&message).total, encoded.len());
            let encoded = encoded.freeze();
            assert_eq!(decode_fast(&encoded, 0, encoded.len()), Some(message));
        }
    }

    #[test]
    fn handshake_steps_encode_as_prost_and_decode_on_the_slow_path() {
        use crate::proto::{Register, RegisterAccepted, RegisterResult, register_result::Outcome};
        let register = FrameMessage {
            register: Some(Box::new(Register {
                name: "app-1".into(),
                min_version: 3,
                max_version: 3,
                instance_id: u64::MAX,
                session_id: 7,
                auth: Bytes::from_static(b"token"),
            })),
            ..Default::default()
        };
        let result = FrameMessage {
            packet_number: 1,
            register_result: Some(Box::new(RegisterResult {
                name: "server".into(),
                min_version: 3,
                max_version: 4,
                instance_id: 1,
                outcome: Some(Outcome::Accepted(RegisterAccepted {
                    version: 3,
                    session_id: 9,
                    adopted: false,
                })),
                auth: Bytes::new(),
            })),
            ..Default::default()
        };
        for message in [register, result] {
            let mut encoded = BytesMut::new();
            encode(&[], &message, &sizes(&message), &mut encoded);
            assert_eq!(&encoded[..], &message.encode_to_vec()[..]);
            assert_eq!(sizes(&message).total, encoded.len());
            let encoded = encoded.freeze();
            assert_eq!(decode_fast(&encoded, 0, encoded.len()), None);
            assert_eq!(decode(&encoded, 0, encoded.len()).unwrap(), message);
        }
    }

    #[test]
    fn out_of_order_and_unknown_fields_take_the_slow_path() {
        // packet_number then head: valid protobuf, not canonical.
        let bytes = Bytes::from_static(&[0x10, 0x01, 0x0a, 0x00]);
        assert_eq!(decode_fast(&bytes, 0, bytes.len()), None);
        assert_eq!(
            decode(&bytes, 0, bytes.len()).unwrap(),
            FrameMessage {
                head: Some(Box::default()),
                packet_number: 1,
                ..Default::default()
            }
        );
        // Unknown field 3 (varint): prost skips it.
        let bytes = Bytes::from_static(&[0x18, 0x05]);
        assert_eq!(decode_fast(&bytes, 0, bytes.len()), None);
        assert_eq!(
            decode(&bytes, 0, bytes.len()).unwrap(),
            FrameMessage::default()
        );
        // Two bodies: prost keeps the last.
        let bytes = Bytes::from_static(&[0x5a, 0x00, 0x62, 0x00]);
        assert_eq!(decode_fast(&bytes, 0, bytes.len()), None);
        assert_eq!(
            decode(&bytes, 0, bytes.len()).unwrap().body,
            Some(Body::Pong(PingData::default()))
        );
    }
}
