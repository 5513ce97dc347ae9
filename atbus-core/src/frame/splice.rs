//! Spliced transmits: large payloads handed over by reference instead of copied.
//!
//! A byte stream's transmit is a run of frames, and in a 64 KiB message almost every byte is
//! payload that already sits in the stream's send buffer as [`Bytes`]. Copying it into the
//! transmit buffer was the largest user-space cost of B4's TCP 64 KiB case (12 % of the
//! profile). A spliced transmit leaves such payloads out of the buffer and lists them as
//! [`Splice`]s: the bytes on the wire are the buffer with each splice's data inserted at its
//! offset. IO layers with vectored writes send the pieces as they are
//! ([`Node::poll_transmit_spliced`](crate::node::Node::poll_transmit_spliced)); everything
//! else gets the joined bytes ([`join_splices`]). The frame hash covers the joined bytes
//! either way.

use bytes::{Bytes, BytesMut};

/// Payload bytes to insert into a transmit buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    /// Offset in the buffer the payload goes before (its position in the buffer as it was
    /// written, without the other splices).
    pub at: usize,
    /// The payload.
    pub data: Bytes,
}

/// Fragment payloads of at least this many bytes are spliced by default: below it, a vectored
/// write's extra slices cost more than the copy saves.
pub const DEFAULT_SPLICE_MIN: usize = 4 * 1024;

/// Inserts every splice of `splices` (in order of `at`, offsets in `buf` from `base`) into
/// `buf`, leaving `splices` empty: `buf` then holds the bytes on the wire.
#[inline]
pub fn join_splices(buf: &mut BytesMut, base: usize, splices: &mut Vec<Splice>) {
    // Datagrams and small payloads have none: the common case costs a comparison.
    if !splices.is_empty() {
        join_nonempty(buf, base, splices);
    }
}

#[cold]
fn join_nonempty(buf: &mut BytesMut, base: usize, splices: &mut Vec<Splice>) {
    let first = splices[0].at;
    let tail = buf.split_off(base + first);
    let extra: usize = splices.iter().map(|s| s.data.len()).sum();
    buf.reserve(extra + tail.len());
    let mut from = first;
    for splice in splices.drain(..) {
        buf.extend_from_slice(&tail[from - first..splice.at - first]);
        buf.extend_from_slice(&splice.data);
        from = splice.at;
    }
    buf.extend_from_slice(&tail[from - first..]);
}

/// Runs `poll`, a spliced transmit into `buf`, and joins its splices in: for the callers that
/// want the bytes whole. No allocation unless a payload is spliced, and then one beside the
/// payload's copy.
pub fn joined<T>(buf: &mut BytesMut, poll: impl FnOnce(&mut BytesMut, &mut Vec<Splice>) -> T) -> T {
    let mut splices = Vec::new();
    let sent = poll(buf, &mut splices);
    join_splices(buf, 0, &mut splices);
    sent
}

/// Hands `piece` the pieces of a spliced transmit in wire order, emptying `splices`: slices
/// of `written` (the frozen buffer, offsets of `splices` counted from its start) and the
/// splices' data, empty pieces left out.
pub fn spliced_pieces(written: Bytes, splices: &mut Vec<Splice>, mut piece: impl FnMut(Bytes)) {
    let mut from = 0;
    for splice in splices.drain(..) {
        if splice.at > from {
            piece(written.slice(from..splice.at));
        }
        if !splice.data.is_empty() {
            piece(splice.data);
        }
        from = splice.at;
    }
    if written.len() > from {
        piece(written.slice(from..));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splices() -> Vec<Splice> {
        vec![
            Splice {
                at: 2,
                data: Bytes::from_static(b"XY"),
            },
            Splice {
                at: 2,
                data: Bytes::from_static(b"Z"),
            },
            Splice {
                at: 5,
                data: Bytes::from_static(b"W"),
            },
        ]
    }

    #[test]
    fn joining_inserts_each_payload_at_its_offset() {
        let mut buf = BytesMut::from(&b"..abcdef"[..]);
        let mut list = splices();
        join_splices(&mut buf, 2, &mut list);
        assert_eq!(&buf[..], b"..abXYZcdeWf");
        assert!(list.is_empty());
    }

    #[test]
    fn pieces_are_the_joined_bytes_in_order() {
        let mut pieces: Vec<Bytes> = Vec::new();
        let mut list = splices();
        spliced_pieces(Bytes::from_static(b"abcdef"), &mut list, |p| pieces.push(p));
        assert_eq!(pieces.concat(), b"abXYZcdeWf");
        assert!(pieces.iter().all(|p| !p.is_empty()));
        assert!(list.is_empty());
    }

    #[test]
    fn nothing_to_join_leaves_the_buffer_alone() {
        let mut buf = BytesMut::from(&b"abc"[..]);
        join_splices(&mut buf, 0, &mut Vec::new());
        assert_eq!(&buf[..], b"abc");
    }
}
