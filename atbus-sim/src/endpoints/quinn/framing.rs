//! Whole messages over a QUIC stream, which carries bytes: a stream starts with an 8-byte header
//! (the simulator's stream id, little-endian), then each message is a 4-byte little-endian
//! length and the message.

use bytes::{Buf, Bytes, BytesMut};

/// Bytes of the stream header.
pub const HEADER_LEN: usize = 8;
/// Bytes of a message's length prefix.
pub const PREFIX_LEN: usize = 4;

/// The header that opens the stream carrying simulator stream `stream`.
pub fn header(stream: u64) -> Bytes {
    Bytes::copy_from_slice(&stream.to_le_bytes())
}

/// The length prefix of `payload`, or `None` if it is longer than a prefix can say.
pub fn prefix(payload: &[u8]) -> Option<Bytes> {
    let len = u32::try_from(payload.len()).ok()?;
    Some(Bytes::copy_from_slice(&len.to_le_bytes()))
}

/// Reassembles the messages of one received stream from its chunks, in order.
#[derive(Debug, Default)]
pub struct Deframer {
    stream: Option<u64>,
    /// Bytes of an incomplete header, prefix or message.
    pending: BytesMut,
}

impl Deframer {
    /// A deframer for a stream that has not carried anything yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The simulator stream id, once the header arrived.
    pub fn stream(&self) -> Option<u64> {
        self.stream
    }

    /// Takes the next chunk of the stream and calls `deliver(stream, message)` for every message
    /// it completes. Whole messages inside `chunk` are handed out without copying.
    pub fn push(&mut self, mut chunk: Bytes, mut deliver: impl FnMut(u64, Bytes)) {
        // Complete what is pending first, taking only as much as it needs: `pending` never holds
        // more than one incomplete header, prefix or message.
        while !self.pending.is_empty() {
            let need = self.needed();
            if self.pending.len() < need {
                if chunk.is_empty() {
                    return;
                }
                let take = (need - self.pending.len()).min(chunk.len());
                self.pending.extend_from_slice(&chunk[..take]);
                chunk.advance(take);
                continue;
            }
            match self.stream {
                None => self.stream = Some(self.pending.get_u64_le()),
                Some(stream) => {
                    self.pending.advance(PREFIX_LEN);
                    deliver(stream, self.pending.split_to(need - PREFIX_LEN).freeze());
                }
            }
        }
        // Nothing pending: parse straight from the chunk.
        loop {
            let Some(stream) = self.stream else {
                if chunk.len() < HEADER_LEN {
                    break;
                }
                self.stream = Some(chunk.get_u64_le());
                continue;
            };
            if chunk.len() < PREFIX_LEN {
                break;
            }
            let len = u32::from_le_bytes(chunk[..PREFIX_LEN].try_into().expect("4 bytes")) as usize;
            if chunk.len() < PREFIX_LEN + len {
                break;
            }
            chunk.advance(PREFIX_LEN);
            deliver(stream, chunk.split_to(len));
        }
        self.pending.extend_from_slice(&chunk);
    }

    /// Bytes `pending` must hold to complete its header, prefix or message.
    fn needed(&self) -> usize {
        if self.stream.is_none() {
            return HEADER_LEN;
        }
        if self.pending.len() < PREFIX_LEN {
            return PREFIX_LEN;
        }
        let len = u32::from_le_bytes(self.pending[..PREFIX_LEN].try_into().expect("4 bytes"));
        PREFIX_LEN + len as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(stream: u64, messages: &[&[u8]]) -> Vec<u8> {
        let mut out = header(stream).to_vec();
        for m in messages {
            out.extend_from_slice(&prefix(m).expect("short"));
            out.extend_from_slice(m);
        }
        out
    }

    #[test]
    fn messages_come_out_whole_however_the_bytes_are_cut() {
        let messages: Vec<Vec<u8>> = (0..20u8)
            .map(|i| (0..(i as usize * 37) % 300).map(|j| j as u8 ^ i).collect())
            .collect();
        let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        let bytes = framed(77, &refs);
        for cut in [1, 2, 3, 5, 8, 13, 64, 1000, bytes.len()] {
            let mut deframer = Deframer::new();
            let mut out = Vec::new();
            for piece in bytes.chunks(cut) {
                deframer.push(Bytes::copy_from_slice(piece), |s, m| out.push((s, m)));
            }
            assert_eq!(deframer.stream(), Some(77));
            assert_eq!(out.len(), messages.len(), "cut {cut}");
            for ((stream, got), want) in out.iter().zip(&messages) {
                assert_eq!(*stream, 77);
                assert_eq!(got.as_ref(), want.as_slice(), "cut {cut}");
            }
            assert!(deframer.pending.is_empty());
        }
    }
}
