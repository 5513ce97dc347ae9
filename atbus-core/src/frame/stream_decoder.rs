//! Decoder for byte-stream links: frames back to back, delivered in any split.

use bytes::BytesMut;

use super::error::DecodeError;
use super::header::parse_header;
use super::limits::FrameLimits;
use super::{Frame, verify_and_decode};

/// Decodes frames from a byte stream (TCP, Unix socket, in-process pipe).
///
/// Feed received bytes with [`feed`](Self::feed) (or read straight into
/// [`buffer_mut`](Self::buffer_mut)), then call [`next_frame`](Self::next_frame) until it returns
/// `Ok(None)`. Input may be split anywhere: one byte at a time or many frames per read.
///
/// A frame is split off the buffer without copying; the `bytes` fields of the decoded message
/// are slices of the received bytes.
///
/// The first error is final: a byte stream cannot be resynchronised after a bad frame, so every
/// later call returns the same error and the connection should be closed with
/// [`DecodeError::close_reason`].
///
/// Memory: the decoder buffers only bytes that were actually received. A frame's declared length
/// is checked against [`FrameLimits`] as soon as its header is complete, before the rest of the
/// frame is awaited.
#[derive(Debug)]
pub struct StreamDecoder {
    limits: FrameLimits,
    buffer: BytesMut,
    failed: Option<DecodeError>,
}

impl StreamDecoder {
    /// A decoder with the given limits and an empty buffer.
    pub fn new(limits: FrameLimits) -> Self {
        Self {
            limits,
            buffer: BytesMut::new(),
            failed: None,
        }
    }

    /// The limits this decoder enforces.
    pub fn limits(&self) -> &FrameLimits {
        &self.limits
    }

    /// Appends received bytes to the buffer.
    pub fn feed(&mut self, data: &[u8]) {
        self.buffer.extend_from_slice(data);
    }

    /// The receive buffer, for adapters that read from a socket straight into it
    /// (for example with `tokio::io::AsyncReadExt::read_buf`). Only append to it.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buffer
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered_len(&self) -> usize {
        self.buffer.len()
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed, or the error that ends
    /// the stream.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        match self.decode() {
            Err(error) => {
                self.failed = Some(error.clone());
                Err(error)
            }
            ok => ok,
        }
    }

    fn decode(&mut self) -> Result<Option<Frame>, DecodeError> {
        let Some(header) = parse_header(&self.buffer, &self.limits)? else {
            return Ok(None);
        };
        if self.buffer.len() < header.frame_len() {
            return Ok(None);
        }
        let frame = self.buffer.split_to(header.frame_len()).freeze();
        verify_and_decode(&frame, 0, header).map(Some)
    }

    /// Declares the end of the byte stream: an error when a partial frame is still buffered
    /// (or when the stream already failed).
    pub fn finish(&self) -> Result<(), DecodeError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        if self.buffer.is_empty() {
            return Ok(());
        }
        let needed = match parse_header(&self.buffer, &self.limits) {
            Ok(Some(header)) => header.frame_len(),
            Ok(None) => self.buffer.len() + 1,
            Err(error) => return Err(error),
        };
        Err(DecodeError::Truncated {
            available: self.buffer.len(),
            needed,
        })
    }
}
