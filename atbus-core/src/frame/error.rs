//! Errors of the frame codec, split by operation.

use crate::proto::CloseReason;

/// Which varint of the frame header an error refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderField {
    /// The leading `version` varint.
    Version,
    /// The `length` varint that follows the version.
    Length,
}

impl std::fmt::Display for HeaderField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HeaderField::Version => "version",
            HeaderField::Length => "length",
        })
    }
}

/// Why a frame could not be decoded.
///
/// On a byte-stream link any of these ends the connection (the stream cannot be resynchronised);
/// on a datagram link the datagram is dropped and counted. Nothing is delivered from a frame
/// that fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended inside a frame (a datagram shorter than the frame it announces, or a byte
    /// stream that closed mid-frame).
    #[error("frame truncated: {available} bytes available, at least {needed} needed")]
    Truncated {
        /// Bytes of the frame that were present.
        available: usize,
        /// Bytes the frame needs at least (the whole frame when its header was complete).
        needed: usize,
    },
    /// A header varint is longer than five bytes or not in its shortest form.
    #[error("malformed {field} varint in frame header")]
    MalformedHeader {
        /// The varint at fault.
        field: HeaderField,
    },
    /// The frame's version is outside the supported range.
    #[error("unsupported protocol version {version} (supported: {min}..={max})")]
    UnsupportedVersion {
        /// The version the frame declared.
        version: u64,
        /// Oldest supported version.
        min: u32,
        /// Newest supported version.
        max: u32,
    },
    /// The frame's declared length exceeds the configured limit.
    #[error("frame message length {length} exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// The declared length.
        length: u64,
        /// The configured maximum.
        max: u32,
    },
    /// The hash trailer does not match the frame's bytes.
    #[error("frame hash mismatch: trailer says {expected:#010x}, bytes hash to {actual:#010x}")]
    HashMismatch {
        /// The hash carried in the frame.
        expected: u32,
        /// The hash of the frame's bytes.
        actual: u32,
    },
    /// The hash matched but the `frame_message` is not valid protobuf for the schema.
    #[error("malformed frame_message: {0}")]
    MalformedMessage(#[from] prost::DecodeError),
    /// A datagram held no bytes at all.
    #[error("empty datagram")]
    EmptyDatagram,
}

impl DecodeError {
    /// The close reason to send when a byte-stream connection ends because of this error.
    pub fn close_reason(&self) -> CloseReason {
        match self {
            DecodeError::UnsupportedVersion { .. } => CloseReason::UnsupportedVersion,
            DecodeError::FrameTooLarge { .. } => CloseReason::FrameTooLarge,
            DecodeError::Truncated { .. }
            | DecodeError::MalformedHeader { .. }
            | DecodeError::HashMismatch { .. }
            | DecodeError::MalformedMessage(_)
            | DecodeError::EmptyDatagram => CloseReason::InvalidFrame,
        }
    }
}

/// Why a frame could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The encoded `frame_message` would exceed the configured limit, so a peer with the same
    /// limits would reject the frame.
    #[error("frame message length {length} exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// The encoded length of the message.
        length: usize,
        /// The configured maximum.
        max: u32,
    },
}
