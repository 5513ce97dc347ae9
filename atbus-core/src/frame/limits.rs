//! Configurable limits of the frame codec.

/// Default maximum size of one application message, as in libatbus: 2 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: u32 = 2 * 1024 * 1024;

/// Room for the protobuf fields around a message's payload in one frame (head, packet fields,
/// fragment options and labels).
pub const FRAME_HEADER_ROOM: u32 = 64 * 1024;

/// Default maximum length of a frame's `frame_message`: the default maximum message size plus
/// header room, so that a whole maximum-size message fits in one frame.
pub const DEFAULT_MAX_FRAME_MESSAGE_LEN: u32 = DEFAULT_MAX_MESSAGE_SIZE + FRAME_HEADER_ROOM;

/// Limits that the encoder and the decoders enforce.
///
/// The decoders check a frame's declared length against these limits before they buffer or
/// allocate anything for it; the encoder refuses to write a frame that a peer with the same
/// limits would reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Maximum byte length of the encoded `frame_message` of one frame (the `length` varint).
    pub max_frame_message_len: u32,
}

impl FrameLimits {
    /// Limits with the given maximum `frame_message` length.
    pub const fn new(max_frame_message_len: u32) -> Self {
        Self {
            max_frame_message_len,
        }
    }

    /// The maximum `frame_message` length as a `usize`.
    #[inline]
    pub(crate) fn max_len(&self) -> usize {
        self.max_frame_message_len as usize
    }
}

impl Default for FrameLimits {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_MESSAGE_LEN)
    }
}
