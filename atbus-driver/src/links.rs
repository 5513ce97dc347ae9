//! The byte-stream socket tasks: a reader and a writer per byte stream (UDP sockets are in
//! `datagram`). They move bytes between sockets and the run loop and know nothing of the
//! protocol.
//!
//! Backpressure: a byte stream's writer has a bounded queue. When the run loop finds it full,
//! it keeps what it could not queue, marks the writer *blocked* and tells the node to stop
//! sending on that transport (the session's other paths take the data); the writer, once its
//! queue is empty again, reports it writable.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures_lite::{AsyncReadExt, AsyncWriteExt};

use atbus_core::frame::{FrameLimits, frame_len};
use atbus_core::node::TransportId;

use crate::input::Input;
use crate::runtime::{Runtime, StreamSocket};

/// Chunks a byte stream's writer queues before it counts as full.
const WRITE_QUEUE: usize = 256;
/// Most bytes one write takes from the queue.
const WRITE_BATCH: usize = 256 * 1024;
/// Most chunks one vectored write takes (well below `IOV_MAX`).
const MAX_WRITE_SLICES: usize = 64;
/// Read buffer per byte stream: room for a frame of a 64 KiB write and more, so that fewer
/// frames straddle two reads (a straddling frame's start is copied to the next buffer); below
/// glibc's mmap threshold (128 KiB), whose fresh pages cost faults and zeroing on every buffer
/// the pool cannot supply (128 KiB measured slower than 96).
const READ_CHUNK: usize = 96 * 1024;
/// Least room a read gets: below it, the next buffer.
const MIN_READ: usize = 16 * 1024;
/// Frames from this size on end the read that completes them (see `FrameReader::spare`):
/// copying the start of a small frame to the next buffer is cheaper than another read.
const LARGE_FRAME: usize = 16 * 1024;
/// Read buffers the driver keeps for reuse, shared by all its byte streams: an idle stream
/// holds only the buffer it reads into, and busy ones draw from the rest. 4 per stream
/// before, whose free lists emptied at every burst on a busy stream (a fresh zeroed buffer:
/// memset was 3 % of the async-std TCP 64 KiB profile) and stayed full on idle ones.
const POOLED_BUFFERS: usize = 16;
/// Reads of a byte stream handed to the run loop and not processed yet, at most: the reader
/// waits beyond (the kernel's buffer and TCP's window hold the rest). Unbounded, a reader that
/// outran a busy loop filled the input channel with buffers the pool could not supply, and
/// 86 % of reads got a fresh zeroed buffer (measured on B4's TCP 64 KiB case).
const READS_IN_FLIGHT: usize = 4;

/// The run loop's end of a byte stream's writer task.
pub(crate) struct StreamWriter {
    queue: async_channel::Sender<Bytes>,
    blocked: Arc<AtomicBool>,
    /// What did not fit in the queue, in order, sent first when it drains.
    overflow: VecDeque<Bytes>,
    /// Dropped when the transport goes: stops the reader.
    _stop: async_channel::Sender<()>,
    /// One token per read handed to the loop and not processed yet (see [`READS_IN_FLIGHT`]).
    reads: async_channel::Receiver<()>,
}

impl StreamWriter {
    /// Queues `data`; false when the writer is (now) full and the node must stop sending here.
    pub fn write(&mut self, data: Bytes) -> bool {
        if self.overflow.is_empty() {
            match self.queue.try_send(data) {
                Ok(()) => return true,
                Err(e) => self.overflow.push_back(e.into_inner()),
            }
        } else {
            self.overflow.push_back(data);
        }
        self.blocked.store(true, Ordering::Release);
        false
    }

    /// The loop processed one read of this stream: the reader may hand over another.
    pub fn processed(&self) {
        let _ = self.reads.try_recv();
    }

    /// After the writer caught up: queues what overflowed; true when all of it fit.
    pub fn resume(&mut self) -> bool {
        while let Some(data) = self.overflow.pop_front() {
            if let Err(e) = self.queue.try_send(data) {
                self.overflow.push_front(e.into_inner());
                self.blocked.store(true, Ordering::Release);
                return false;
            }
        }
        true
    }
}

/// Writes every chunk of `batch` in order with vectored writes (no gathering copy), emptying
/// it.
async fn write_all_vectored(
    writer: &mut (dyn futures_io::AsyncWrite + Send + Unpin),
    batch: &mut VecDeque<Bytes>,
) -> std::io::Result<()> {
    while !batch.is_empty() {
        let slices: Vec<std::io::IoSlice<'_>> =
            batch.iter().map(|b| std::io::IoSlice::new(b)).collect();
        let mut written = writer.write_vectored(&slices).await?;
        drop(slices);
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while written > 0 {
            let front = batch.front_mut().expect("written bytes were queued");
            if written >= front.len() {
                written -= front.len();
                batch.pop_front();
            } else {
                bytes::Buf::advance(front, written);
                written = 0;
            }
        }
    }
    Ok(())
}

/// Starts the reader and writer tasks of a byte-stream transport; its reader draws its buffers
/// from `pool`.
pub(crate) fn spawn_stream(
    runtime: &dyn Runtime,
    id: TransportId,
    socket: StreamSocket,
    limits: FrameLimits,
    pool: Arc<BufferPool>,
    inputs: async_channel::Sender<Input>,
) -> StreamWriter {
    let (queue, queued) = async_channel::bounded::<Bytes>(WRITE_QUEUE);
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let (read_token, reads) = async_channel::bounded::<()>(READS_IN_FLIGHT);
    let blocked = Arc::new(AtomicBool::new(false));
    let StreamSocket {
        mut reader,
        mut writer,
        peer,
    } = socket;
    {
        let inputs = inputs.clone();
        let blocked = blocked.clone();
        runtime.spawn(Box::pin(async move {
            let mut batch: VecDeque<Bytes> = VecDeque::new();
            while let Ok(first) = queued.recv().await {
                let mut len = first.len();
                batch.push_back(first);
                while len < WRITE_BATCH && batch.len() < MAX_WRITE_SLICES {
                    match queued.try_recv() {
                        Ok(more) => {
                            len += more.len();
                            batch.push_back(more);
                        }
                        Err(_) => break,
                    }
                }
                let written = async {
                    write_all_vectored(&mut writer, &mut batch).await?;
                    writer.flush().await
                }
                .await;
                if let Err(error) = written {
                    tracing::debug!(%peer, %error, "write failed");
                    let _ = inputs.send(Input::Closed(id, Some(error))).await;
                    return;
                }
                if queued.is_empty() && blocked.swap(false, Ordering::AcqRel) {
                    let _ = inputs.send(Input::Writable(id)).await;
                }
            }
            // The run loop let the transport go: say so to the peer.
            let _ = writer.close().await;
        }));
    }
    runtime.spawn(Box::pin(async move {
        let mut frames = FrameReader::new(limits, pool);
        loop {
            let read = futures_lite::future::or(
                async { Some(reader.read(frames.spare()).await) },
                async {
                    let _ = stopped.recv().await;
                    None
                },
            )
            .await;
            let input = match read {
                None => return,
                Some(Ok(0)) => Input::Closed(id, None),
                Some(Ok(n)) => match frames.filled(n) {
                    Some(whole) => {
                        // Wait while the loop has enough of this stream's reads to process.
                        let room = futures_lite::future::or(
                            async { read_token.send(()).await.is_ok() },
                            async {
                                let _ = stopped.recv().await;
                                false
                            },
                        );
                        if !room.await {
                            return;
                        }
                        Input::Data(id, whole)
                    }
                    None => continue,
                },
                Some(Err(error)) => Input::Closed(id, Some(error)),
            };
            let last = matches!(input, Input::Closed(..));
            if inputs.send(input).await.is_err() || last {
                return;
            }
        }
    }));
    StreamWriter {
        queue,
        blocked,
        overflow: VecDeque::new(),
        _stop: stop,
        reads,
    }
}

/// A byte stream's receive buffers, recycled: a buffer goes back to the pool when the last
/// frame sliced from it is dropped (wherever that happens), so a busy stream reuses a few
/// buffers instead of asking the allocator for fresh ones — fresh large blocks cost page faults
/// and zeroing, which ate the saved copy (measured: tokio TCP 64 KiB fell by a third).
#[derive(Default)]
pub(crate) struct BufferPool {
    free: std::sync::Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// A zeroed or recycled buffer of exactly `len` bytes.
    fn take(&self, len: usize) -> Vec<u8> {
        let recycled = self
            .free
            .lock()
            .ok()
            .and_then(|mut free| free.pop())
            .filter(|b| b.len() == len);
        recycled.unwrap_or_else(|| vec![0u8; len])
    }
}

/// A buffer lent to `Bytes` slices; back to its pool when they are all dropped.
struct Pooled {
    buf: Vec<u8>,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        // Only standard buffers come back: a larger one (a frame that did not fit) goes.
        if self.buf.len() == READ_CHUNK
            && let Ok(mut free) = self.pool.free.lock()
            && free.len() < POOLED_BUFFERS
        {
            free.push(std::mem::take(&mut self.buf));
        }
    }
}

/// A byte stream's reader state: hands over whole frames only, as slices of the buffer the
/// socket read into, so that the node's decoder takes them without copying (see
/// `StreamDecoder::feed_bytes`). After a read that completed frames, the buffer is frozen for
/// their slices and the partial frame after them (if any) is copied to the next buffer.
///
/// Memory: buffers of [`READ_CHUNK`], recycled through a pool of at most [`POOLED_BUFFERS`]; a
/// larger one only for a frame that does not fit, and only as its bytes arrive, never from its
/// declared length (a peer that declares a 2 MiB frame and sends its header costs nothing more).
struct FrameReader {
    limits: FrameLimits,
    pool: Arc<BufferPool>,
    /// The buffer being read into; `filled` bytes of it hold data not handed over yet.
    buf: Vec<u8>,
    filled: usize,
}

impl FrameReader {
    fn new(limits: FrameLimits, pool: Arc<BufferPool>) -> Self {
        Self {
            limits,
            pool,
            buf: Vec::new(),
            filled: 0,
        }
    }

    /// Room for the next read, at least [`MIN_READ`] bytes.
    fn spare(&mut self) -> &mut [u8] {
        if self.buf.len() - self.filled < MIN_READ {
            // Only a frame larger than a buffer gets here with data: it grows as it arrives.
            let len = if self.filled + MIN_READ > READ_CHUNK {
                (2 * self.buf.len()).max(self.filled + MIN_READ)
            } else {
                READ_CHUNK
            };
            let mut next = self.pool.take(len);
            next[..self.filled].copy_from_slice(&self.buf[..self.filled]);
            self.buf = next;
        }
        // The buffer holds the start of one frame (whole frames were handed over). When it is
        // a large frame that ends within the buffer, the read stops at its end: the buffer is
        // then handed over whole, and the next frame's start is not copied to the next one.
        let end = match frame_len(&self.buf[..self.filled], &self.limits) {
            Ok(Some(len)) if len >= LARGE_FRAME && len > self.filled && len <= self.buf.len() => {
                len
            }
            _ => self.buf.len(),
        };
        &mut self.buf[self.filled..end]
    }

    /// `n` more bytes were read: the whole frames at the front, if any. Bytes that do not
    /// parse as a frame header go as they are (the node's decoder refuses them with a reason).
    fn filled(&mut self, n: usize) -> Option<Bytes> {
        self.filled += n;
        let mut whole = 0;
        loop {
            match frame_len(&self.buf[whole..self.filled], &self.limits) {
                Ok(Some(len)) if whole + len <= self.filled => whole += len,
                Ok(_) => break,
                Err(_) => {
                    whole = self.filled;
                    break;
                }
            }
        }
        if whole == 0 {
            return None;
        }
        let rest = self.filled - whole;
        let len = if rest + MIN_READ > READ_CHUNK {
            rest + MIN_READ
        } else {
            READ_CHUNK
        };
        let mut next = self.pool.take(len);
        next[..rest].copy_from_slice(&self.buf[whole..self.filled]);
        let full = std::mem::replace(&mut self.buf, next);
        self.filled = rest;
        let frozen = Bytes::from_owner(Pooled {
            buf: full,
            pool: self.pool.clone(),
        });
        Some(frozen.slice(..whole))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atbus_core::frame::{FrameMessage, encode_frame};
    use bytes::BytesMut;

    fn frame(size: usize) -> Vec<u8> {
        let message = FrameMessage {
            body: Some(atbus_core::proto::frame_message::Body::Packet(
                atbus_core::proto::Packet {
                    content: vec![7u8; size].into(),
                    ..Default::default()
                },
            )),
            ..Default::default()
        };
        let mut out = BytesMut::new();
        encode_frame(&message, &FrameLimits::default(), &mut out).expect("encodes");
        out.to_vec()
    }

    /// Feeds `stream` to a reader in reads of `step` bytes; returns what it handed over.
    fn read_in_steps(stream: &[u8], step: usize) -> Vec<Bytes> {
        let mut reader = FrameReader::new(FrameLimits::default(), Arc::default());
        let mut out = Vec::new();
        for chunk in stream.chunks(step) {
            let mut rest = chunk;
            while !rest.is_empty() {
                let spare = reader.spare();
                let n = spare.len().min(rest.len());
                spare[..n].copy_from_slice(&rest[..n]);
                rest = &rest[n..];
                out.extend(reader.filled(n));
            }
        }
        out
    }

    #[test]
    fn hands_over_whole_frames_in_order_whatever_the_reads() {
        let frames: Vec<Vec<u8>> = [10, 70_000, 3, 300_000, 64 * 1024].map(frame).to_vec();
        let stream: Vec<u8> = frames.concat();
        for step in [1, 7, 1_000, 65_536, 1 << 20] {
            let out = read_in_steps(&stream, step);
            assert_eq!(out.concat(), stream, "step {step}");
            // Every chunk handed over is whole frames: each starts and ends at a frame end.
            let ends: Vec<usize> = frames
                .iter()
                .scan(0, |at, f| {
                    *at += f.len();
                    Some(*at)
                })
                .collect();
            let mut at = 0;
            for chunk in &out {
                at += chunk.len();
                assert!(
                    ends.contains(&at),
                    "step {step}: a chunk ends inside a frame"
                );
            }
        }
    }

    #[test]
    fn a_large_declared_frame_does_not_grow_the_buffer_before_its_bytes_arrive() {
        let big = frame(2 * 1024 * 1024);
        let mut reader = FrameReader::new(FrameLimits::default(), Arc::default());
        let spare = reader.spare();
        spare[..16].copy_from_slice(&big[..16]);
        assert_eq!(reader.filled(16), None);
        assert!(
            reader.spare().len() + 16 <= READ_CHUNK,
            "grown from the declared length"
        );
    }

    #[test]
    fn buffers_come_back_to_the_pool_when_their_frames_are_dropped() {
        let f = frame(1_000);
        let mut reader = FrameReader::new(FrameLimits::default(), Arc::default());
        reader.spare()[..f.len()].copy_from_slice(&f);
        let first = reader.filled(f.len()).expect("a whole frame");
        let lent = first.as_ptr();
        drop(first);
        assert_eq!(reader.pool.free.lock().unwrap().len(), 1);
        reader.spare()[..f.len()].copy_from_slice(&f);
        let second = reader.filled(f.len()).expect("a whole frame");
        assert_eq!(&second[..], &f[..]);
        assert_eq!(
            reader.buf.as_ptr(),
            lent,
            "the next read goes into the recycled buffer"
        );
    }

    #[test]
    fn a_read_stops_at_the_end_of_a_large_frame_but_not_of_a_small_one() {
        for (size, capped) in [(40_000, true), (1_000, false)] {
            let f = frame(size);
            let mut reader = FrameReader::new(FrameLimits::default(), Arc::default());
            reader.spare()[..100].copy_from_slice(&f[..100]);
            assert_eq!(reader.filled(100), None);
            let room = reader.spare().len();
            assert_eq!(
                room == f.len() - 100,
                capped,
                "frame of {size} B: room {room}"
            );
        }
    }

    #[test]
    fn garbage_goes_through_as_it_is() {
        let garbage = vec![0xffu8; 100];
        assert_eq!(read_in_steps(&garbage, 30).concat(), garbage);
    }
}
