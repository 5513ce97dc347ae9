//! Decoder for datagram links: one or more whole frames per datagram.

use bytes::Bytes;

use super::error::DecodeError;
use super::header::parse_header;
use super::limits::FrameLimits;
use super::{Frame, verify_and_decode};

/// Decodes the frames of one datagram (UDP).
///
/// A datagram holds one or more whole frames back to back; a frame never spans datagrams. The
/// datagram is accepted or rejected as a whole: when any frame in it fails a check, no frame of
/// it is delivered, and the caller drops and counts the datagram.
#[derive(Debug, Clone, Copy, Default)]
pub struct DatagramDecoder {
    limits: FrameLimits,
}

impl DatagramDecoder {
    /// A decoder with the given limits.
    pub fn new(limits: FrameLimits) -> Self {
        Self { limits }
    }

    /// The limits this decoder enforces.
    pub fn limits(&self) -> &FrameLimits {
        &self.limits
    }

    /// Decodes every frame of `datagram` and appends them to `out`.
    ///
    /// Returns the number of frames appended. On error `out` is left as it was. The frames'
    /// `bytes` fields are slices of `datagram`. Reusing `out` across datagrams avoids an
    /// allocation per datagram.
    pub fn decode(&self, datagram: Bytes, out: &mut Vec<Frame>) -> Result<usize, DecodeError> {
        if datagram.is_empty() {
            return Err(DecodeError::EmptyDatagram);
        }
        let initial = out.len();
        let result = self.decode_all(&datagram, out);
        if result.is_err() {
            out.truncate(initial);
        }
        result.map(|()| out.len() - initial)
    }

    fn decode_all(&self, datagram: &Bytes, out: &mut Vec<Frame>) -> Result<(), DecodeError> {
        let mut offset = 0;
        while offset < datagram.len() {
            let rest = &datagram[offset..];
            let Some(header) = parse_header(rest, &self.limits)? else {
                return Err(DecodeError::Truncated {
                    available: rest.len(),
                    needed: rest.len() + 1,
                });
            };
            let frame_len = header.frame_len();
            if rest.len() < frame_len {
                return Err(DecodeError::Truncated {
                    available: rest.len(),
                    needed: frame_len,
                });
            }
            out.push(verify_and_decode(datagram, offset, header)?);
            offset += frame_len;
        }
        Ok(())
    }
}
