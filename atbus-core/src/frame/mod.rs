//! The frame codec: the outermost layer of the atbus wire format.
//!
//! Every transmission unit on every transport is a *frame*:
//!
//! ```text
//! +----------------+----------------+---------------------------+------------------+
//! | varint version | varint length  | frame_message (length B)  | u32 hash (LE)    |
//! +----------------+----------------+---------------------------+------------------+
//! ```
//!
//! - `version` and `length` are protobuf (LEB128) varints in their shortest form, at most five
//!   bytes each (values fit in 32 bits).
//! - `frame_message` is the protobuf message [`FrameMessage`].
//! - `hash` is the low 32 bits of XXH3-64 with seed [`FRAME_HASH_SEED`] over every preceding byte
//!   of the frame, little-endian.
//!
//! Byte-stream links (TCP, Unix sockets, in-process pipes) carry frames back to back and are
//! decoded with [`StreamDecoder`], which accepts input in any split. Datagram links (UDP) carry
//! one or more whole frames per datagram and are decoded with [`DatagramDecoder`], which accepts
//! or rejects a datagram as a whole. Both yield [`Frame`]s whose `bytes` fields are slices of the
//! received buffer, not copies.
//!
//! Decoding checks, in this order and before allocating anything for the frame: the version is
//! supported, the length is within [`FrameLimits`], the whole frame is present, the hash matches,
//! and the message is valid protobuf. Nothing is delivered from a frame that fails a check.

mod ack_codec;
mod content_codec;
mod datagram_decoder;
mod encode;
mod error;
mod hash;
mod header;
mod limits;
mod message_codec;
mod packet_frame;
mod splice;
mod stream_decoder;

pub use content_codec::{decode_packet_content, decode_packet_content_into};
pub use datagram_decoder::DatagramDecoder;
pub use encode::{encode_frame, encoded_frame_len};
pub use error::{DecodeError, EncodeError, HeaderField};
pub use hash::{FRAME_HASH_LEN, FRAME_HASH_SEED, frame_hash, frame_hash_parts};
pub use header::MAX_HEADER_LEN;
pub use limits::{
    DEFAULT_MAX_FRAME_MESSAGE_LEN, DEFAULT_MAX_MESSAGE_SIZE, FRAME_HEADER_ROOM, FrameLimits,
};
pub use packet_frame::PacketFrame;
pub use splice::{DEFAULT_SPLICE_MIN, Splice, join_splices, joined, spliced_pieces};
pub use stream_decoder::{StreamDecoder, frame_len};

pub use crate::proto::FrameMessage;
use bytes::Bytes;

/// The protocol version encoders write.
pub const PROTOCOL_VERSION: u32 = 3;

/// The oldest protocol version decoders accept.
pub const MIN_PROTOCOL_VERSION: u32 = 3;

/// A frame that passed every check of the decoder.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The protocol version the frame was written with.
    pub version: u32,
    /// The decoded message. Its `bytes` fields share the received buffer.
    pub message: FrameMessage,
    /// Size of the whole frame on the wire: header, message and hash.
    pub wire_len: usize,
}

/// Verifies the hash of the frame at `bytes[offset..]` and decodes its message.
///
/// The frame is whole (its header, already parsed into `header`, says how long it is); more
/// bytes may follow it. Working on bounds rather than a sliced `Bytes` saves reference counts.
fn verify_and_decode(
    bytes: &Bytes,
    offset: usize,
    header: header::Header,
) -> Result<Frame, DecodeError> {
    let message_start = offset + header.header_len;
    let message_end = message_start + header.message_len;
    let expected = hash::read_hash(&bytes[message_end..message_end + FRAME_HASH_LEN]);
    let actual = frame_hash(&bytes[offset..message_end]);
    if expected != actual {
        return Err(DecodeError::HashMismatch { expected, actual });
    }
    let message = message_codec::decode(bytes, message_start, message_end)?;
    Ok(Frame {
        version: header.version,
        message,
        wire_len: header.frame_len(),
    })
}

#[cfg(test)]
mod tests;
