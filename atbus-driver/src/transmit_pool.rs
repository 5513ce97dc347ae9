//! The run loop's transmit buffers, recycled.
//!
//! The node writes each transmit into the loop's buffer; a byte-stream transmit (up to a 64 KiB
//! write) is then handed to its writer task as `Bytes`. Taking a fresh allocation for each one
//! and freeing it once written made glibc hand memory back to the kernel and take it again:
//! page faults and page clearing were 8 % of B4's TCP 64 KiB profile, all under
//! `encode_frame`. A handed-over buffer now comes back here when its last `Bytes` is dropped,
//! and the loop writes the next transmit into it.

use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};

/// Capacity of a transmit buffer: a 64 KiB write and its frame headers, below glibc's mmap
/// threshold (128 KiB).
const CHUNK: usize = 96 * 1024;
/// Buffers kept for reuse, at most (a bus holds at most this many idle: 1.5 MiB).
const KEPT: usize = 16;

/// Buffers handed over and back.
#[derive(Debug, Default)]
pub(crate) struct TransmitPool {
    free: Mutex<Vec<BytesMut>>,
}

impl TransmitPool {
    /// An empty buffer to write the next transmit into.
    pub fn take(&self) -> BytesMut {
        self.free
            .lock()
            .ok()
            .and_then(|mut free| free.pop())
            .unwrap_or_else(|| BytesMut::with_capacity(CHUNK))
    }

    /// `buf`, filled, as `Bytes` that give it back to `pool` when the last of them is dropped.
    pub fn hand_over(pool: &Arc<Self>, buf: BytesMut) -> Bytes {
        Bytes::from_owner(Lent {
            buf,
            pool: pool.clone(),
        })
    }
}

/// A buffer lent to `Bytes`.
struct Lent {
    buf: BytesMut,
    pool: Arc<TransmitPool>,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        // A buffer that grew for a larger frame, or lost its room, is not kept.
        if (CHUNK..=2 * CHUNK).contains(&buf.capacity())
            && let Ok(mut free) = self.pool.free.lock()
            && free.len() < KEPT
        {
            free.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_when_its_last_slice_is_dropped() {
        let pool = Arc::new(TransmitPool::default());
        let mut buf = pool.take();
        buf.extend_from_slice(b"frame");
        let ptr = buf.as_ptr();
        let bytes = TransmitPool::hand_over(&pool, buf);
        let slice = bytes.slice(1..3);
        drop(bytes);
        assert!(
            pool.free.lock().unwrap().is_empty(),
            "a slice still holds it"
        );
        assert_eq!(&slice[..], b"ra");
        drop(slice);
        let again = pool.take();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), ptr, "the same buffer, reused");
    }
}
