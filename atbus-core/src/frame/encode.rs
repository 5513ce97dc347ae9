//! The frame encoder.

use bytes::{BufMut, BytesMut};
use prost::Message as _;

use super::PROTOCOL_VERSION;
use super::error::EncodeError;
use super::hash::{FRAME_HASH_LEN, frame_hash};
use super::limits::FrameLimits;
use crate::proto::FrameMessage;

/// Size of `message` once framed: header, message and hash trailer.
///
/// Packers use it to decide whether a frame still fits a datagram before writing it.
pub fn encoded_frame_len(message: &FrameMessage) -> usize {
    let message_len = message.encoded_len();
    prost::encoding::encoded_len_varint(u64::from(PROTOCOL_VERSION))
        + prost::encoding::encoded_len_varint(message_len as u64)
        + message_len
        + FRAME_HASH_LEN
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
    let start = dst.len();
    let version = u64::from(PROTOCOL_VERSION);
    let frame_len = prost::encoding::encoded_len_varint(version)
        + prost::encoding::encoded_len_varint(message_len as u64)
        + message_len
        + FRAME_HASH_LEN;
    dst.reserve(frame_len);
    prost::encoding::encode_varint(version, dst);
    prost::encoding::encode_varint(message_len as u64, dst);
    // `encode_raw` skips the second `encoded_len` pass that `encode` would make; the length was
    // computed above and the buffer reserved.
    message.encode_raw(dst);
    let hash = frame_hash(&dst[start..]);
    dst.put_u32_le(hash);
    debug_assert_eq!(dst.len() - start, frame_len);
    Ok(frame_len)
}
