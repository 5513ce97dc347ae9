//! Decoder for byte-stream links: frames back to back, delivered in any split.

use bytes::{Bytes, BytesMut};

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
/// are slices of the received bytes. Input handed over as [`Bytes`] with
/// [`feed_bytes`](Self::feed_bytes) is not even copied into the buffer: whole frames are sliced
/// out of it, and only a partial frame at its end is copied (an adapter that reads whole frames,
/// see [`frame_len`], never pays for a copy).
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
    /// Received bytes not yet decoded that arrived as `Bytes`, when `buffer` is empty.
    input: Bytes,
    buffer: BytesMut,
    failed: Option<DecodeError>,
}

impl StreamDecoder {
    /// A decoder with the given limits and an empty buffer.
    pub fn new(limits: FrameLimits) -> Self {
        Self {
            limits,
            input: Bytes::new(),
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
        self.input_to_buffer();
        self.buffer.extend_from_slice(data);
    }

    /// Takes received bytes without copying them while nothing partial is buffered.
    pub fn feed_bytes(&mut self, data: Bytes) {
        if self.buffer.is_empty() && self.input.is_empty() {
            self.input = data;
        } else {
            self.feed(&data);
        }
    }

    /// The receive buffer, for adapters that read from a socket straight into it
    /// (for example with `tokio::io::AsyncReadExt::read_buf`). Only append to it.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        self.input_to_buffer();
        &mut self.buffer
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered_len(&self) -> usize {
        self.input.len() + self.buffer.len()
    }

    /// Moves undecoded `Bytes` input into the buffer (a copy), ahead of what comes next.
    fn input_to_buffer(&mut self) {
        if !self.input.is_empty() {
            self.buffer.extend_from_slice(&self.input);
            self.input = Bytes::new();
        }
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
        if !self.input.is_empty() {
            // Whole frames are sliced out of the input; a partial one goes to the buffer.
            if let Some(header) = parse_header(&self.input, &self.limits)?
                && self.input.len() >= header.frame_len()
            {
                let frame = self.input.split_to(header.frame_len());
                return verify_and_decode(&frame, 0, header).map(Some);
            }
            self.input_to_buffer();
        }
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
        let pending: &[u8] = if self.input.is_empty() {
            &self.buffer
        } else {
            &self.input
        };
        if pending.is_empty() {
            return Ok(());
        }
        let needed = match parse_header(pending, &self.limits) {
            Ok(Some(header)) => header.frame_len(),
            Ok(None) => pending.len() + 1,
            Err(error) => return Err(error),
        };
        Err(DecodeError::Truncated {
            available: pending.len(),
            needed,
        })
    }
}

/// The length of the frame at the start of `bytes` (header included), once its header is
/// complete: `Ok(None)` while it is not, an error for a header the decoder would refuse. For
/// adapters that split a byte stream into whole frames before handing it over.
pub fn frame_len(bytes: &[u8], limits: &FrameLimits) -> Result<Option<usize>, DecodeError> {
    Ok(parse_header(bytes, limits)?.map(|header| header.frame_len()))
}
