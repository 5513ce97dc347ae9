//! The frame encoder.

use bytes::{BufMut, BytesMut};

use super::PROTOCOL_VERSION;
use super::error::EncodeError;
use super::hash::{FRAME_HASH_LEN, frame_hash, frame_hash_parts};
use super::limits::FrameLimits;
use super::message_codec;
use super::splice::Splice;
use crate::proto::FrameMessage;

/// Size of `message` once framed: header, message and hash trailer.
///
/// Packers use it to decide whether a frame still fits a datagram before writing it.
pub fn encoded_frame_len(message: &FrameMessage) -> usize {
    frame_len(message_codec::sizes(message).total)
}

/// Size of a frame whose message is `message_len` bytes.
pub(super) fn frame_len(message_len: usize) -> usize {
    body_len(message_len) + FRAME_HASH_LEN
}

/// Bytes of a frame before its hash trailer: the two header varints and the message.
fn body_len(message_len: usize) -> usize {
    prost::encoding::encoded_len_varint(u64::from(PROTOCOL_VERSION))
        + prost::encoding::encoded_len_varint(message_len as u64)
        + message_len
}

/// Appends `message` to `dst` as one frame of the current protocol version.
///
/// Returns the number of bytes written. Several frames may be appended to the same buffer: on a
/// byte stream they are sent back to back, and on a datagram link one datagram may hold several.
/// Fails without writing anything when the message exceeds `limits`.
pub fn encode_frame(
    message: &FrameMessage,
    limits: &FrameLimits,
    dst: &mut BytesMut,
) -> Result<usize, EncodeError> {
    let sizes = message_codec::sizes(message);
    debug_assert_eq!(sizes.total, prost::Message::encoded_len(message));
    encode_frame_with(sizes.total, limits, dst, |header, dst| {
        message_codec::encode(header, message, &sizes, dst)
    })
}

/// Appends a frame whose message of `message_len` bytes `write` appends after the header
/// varints it is given, then the hash; returns the frame's size. Fails without writing
/// anything when the message exceeds `limits`.
pub(super) fn encode_frame_with(
    message_len: usize,
    limits: &FrameLimits,
    dst: &mut BytesMut,
    write: impl FnOnce(&[u64], &mut BytesMut),
) -> Result<usize, EncodeError> {
    if message_len <= limits.max_len() {
        dst.reserve(frame_len(message_len));
    }
    // With nothing spliced, the spliced form hashes the frame in one pass.
    encode_frame_spliced(
        message_len,
        limits,
        dst,
        &mut Vec::new(),
        |header, dst, _| write(header, dst),
    )
}

/// As [`encode_frame_with`], for a message `write` may leave payloads out of: it pushes them
/// onto `splices` (offsets in `dst`), and the hash covers the frame as joined. `message_len`
/// counts the spliced bytes; the size returned too.
pub(super) fn encode_frame_spliced(
    message_len: usize,
    limits: &FrameLimits,
    dst: &mut BytesMut,
    splices: &mut Vec<Splice>,
    write: impl FnOnce(&[u64], &mut BytesMut, &mut Vec<Splice>),
) -> Result<usize, EncodeError> {
    if message_len > limits.max_len() {
        return Err(EncodeError::FrameTooLarge {
            length: message_len,
            max: limits.max_frame_message_len,
        });
    }
    let frame_len = frame_len(message_len);
    let start = dst.len();
    let first = splices.len();
    let header = [u64::from(PROTOCOL_VERSION), message_len as u64];
    write(&header, dst, splices);
    let added = &splices[first..];
    let hash = if added.is_empty() {
        frame_hash(&dst[start..])
    } else {
        let mut from = start;
        let mut parts = Vec::with_capacity(2 * added.len() + 1);
        for splice in added {
            parts.push(&dst[from..splice.at]);
            parts.push(&splice.data[..]);
            from = splice.at;
        }
        parts.push(&dst[from..]);
        frame_hash_parts(parts)
    };
    dst.put_u32_le(hash);
    debug_assert_eq!(
        dst.len() - start + added.iter().map(|s| s.data.len()).sum::<usize>(),
        frame_len,
        "encoded_len disagrees with encode"
    );
    Ok(frame_len)
}
