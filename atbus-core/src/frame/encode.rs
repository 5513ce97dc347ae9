//! The frame encoder.

use bytes::{BufMut, BytesMut};
use prost::Message as _;

use super::PROTOCOL_VERSION;
use super::error::EncodeError;
use super::hash::{FRAME_HASH_LEN, frame_hash};
use super::limits::FrameLimits;
use crate::proto::FrameMessage;

/// Largest `frame_message` that is encoded through a zeroed slice rather than through
/// `BytesMut` directly (see [`encode_frame`]).
const SLICE_ENCODE_MAX: usize = 2048;

/// Writes the header varints and the message.
fn encode_body(version: u64, message_len: usize, message: &FrameMessage, out: &mut impl BufMut) {
    prost::encoding::encode_varint(version, out);
    prost::encoding::encode_varint(message_len as u64, out);
    // `encode_raw` skips the second `encoded_len` pass that `encode` would make; the caller
    // computed the length and made room.
    message.encode_raw(out);
}

/// Size of `message` once framed: header, message and hash trailer.
///
/// Packers use it to decide whether a frame still fits a datagram before writing it.
pub fn encoded_frame_len(message: &FrameMessage) -> usize {
    body_len(message.encoded_len()) + FRAME_HASH_LEN
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
    let message_len = message.encoded_len();
    if message_len > limits.max_len() {
        return Err(EncodeError::FrameTooLarge {
            length: message_len,
            max: limits.max_frame_message_len,
        });
    }
    let version = u64::from(PROTOCOL_VERSION);
    let body_len = body_len(message_len);
    let frame_len = body_len + FRAME_HASH_LEN;
    let start = dst.len();
    dst.reserve(frame_len);
    if message_len <= SLICE_ENCODE_MAX {
        // Small frames: zero the space and encode into a plain slice. `BufMut` on `&mut [u8]`
        // stores each varint byte directly, where `BytesMut` would pay a capacity check and a
        // copy call per byte; zeroing a few hundred bytes costs less than that.
        dst.resize(start + body_len, 0);
        let mut out: &mut [u8] = &mut dst[start..];
        encode_body(version, message_len, message, &mut out);
        debug_assert!(out.is_empty(), "encoded_len disagrees with encode_raw");
    } else {
        // Large frames: the payload copy dominates; zeroing the space first would double it.
        encode_body(version, message_len, message, dst);
    }
    let hash = frame_hash(&dst[start..]);
    dst.put_u32_le(hash);
    debug_assert_eq!(dst.len() - start, frame_len);
    Ok(frame_len)
}
