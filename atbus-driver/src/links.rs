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

use atbus_core::node::TransportId;

use crate::input::Input;
use crate::runtime::{Runtime, StreamSocket};

/// Chunks a byte stream's writer queues before it counts as full.
const WRITE_QUEUE: usize = 256;
/// Most bytes one write takes from the queue.
const WRITE_BATCH: usize = 256 * 1024;
/// Most chunks one vectored write takes (well below `IOV_MAX`).
const MAX_WRITE_SLICES: usize = 64;
/// Read buffer per byte stream.
const READ_CHUNK: usize = 64 * 1024;

/// The run loop's end of a byte stream's writer task.
pub(crate) struct StreamWriter {
    queue: async_channel::Sender<Bytes>,
    blocked: Arc<AtomicBool>,
    /// What did not fit in the queue, in order, sent first when it drains.
    overflow: VecDeque<Bytes>,
    /// Dropped when the transport goes: stops the reader.
    _stop: async_channel::Sender<()>,
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

/// Starts the reader and writer tasks of a byte-stream transport.
pub(crate) fn spawn_stream(
    runtime: &dyn Runtime,
    id: TransportId,
    socket: StreamSocket,
    inputs: async_channel::Sender<Input>,
) -> StreamWriter {
    let (queue, queued) = async_channel::bounded::<Bytes>(WRITE_QUEUE);
    let (stop, stopped) = async_channel::bounded::<()>(1);
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
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let read =
                futures_lite::future::or(async { Some(reader.read(&mut buf).await) }, async {
                    let _ = stopped.recv().await;
                    None
                })
                .await;
            let input = match read {
                None => return,
                Some(Ok(0)) => Input::Closed(id, None),
                Some(Ok(n)) => Input::Data(id, Bytes::copy_from_slice(&buf[..n])),
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
    }
}
