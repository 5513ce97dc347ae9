//! UDP sockets: one per listen address (or per address family for dialling), serving every
//! peer that talks to it, demultiplexed by source address in the run loop.
//!
//! **Sending** happens in the run loop itself: a datagram (or a GSO batch of equal-sized
//! datagrams to one peer, see [`GsoBatch`]) goes straight to the socket with a non-blocking
//! send, with no task hop. Only when the socket would block does it go to the socket's writer
//! task, which waits for writability; while that task holds a backlog, later datagrams queue
//! behind it so that they leave in order. A full backlog drops the datagram, which the
//! protocol treats as loss (congestion control slows down).
//!
//! **Receiving** is a reader task that hands the run loop one batch per wake-up.
//!
//! **Offload** (`BusConfig::udp_offload`, on by default): the socket is driven through
//! [`quinn_udp`], which receives with `recvmmsg` and uses GSO (one `sendmsg` for up to 64
//! datagrams) and GRO (the kernel hands several datagrams of one flow at once) where the
//! platform has them, and plain `sendmsg`/`recvmsg` elsewhere. Off, the socket sends and
//! receives one datagram per system call.

use std::future::poll_fn;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use quinn_udp::{RecvMeta, Transmit, UdpSocketState};

use crate::input::Input;
use crate::runtime::{DatagramSocket, Direction, RecvFrom, Runtime, poll_until_done};

/// Datagrams (or GSO batches) a UDP socket's writer task holds before new ones are dropped.
const DATAGRAM_QUEUE: usize = 4_096;
/// Largest datagram read, and the largest GRO batch the kernel hands over.
const MAX_DATAGRAM: usize = 65_536;
/// Receive buffers per `recvmmsg` with offload.
const RECV_SLOTS: usize = 8;
/// Most datagrams in one GSO send (the kernel's `UDP_MAX_SEGMENTS`).
const MAX_SEGMENTS: usize = 64;
/// Most bytes in one GSO send (a UDP datagram's limit, with room for headers).
const MAX_GSO_BYTES: usize = 64_000;

/// One send: a datagram, or `segment`-sized datagrams back to back (the last may be shorter).
struct Outgoing {
    to: SocketAddr,
    data: Bytes,
    segment: Option<usize>,
}

/// The run loop's end of a UDP socket.
pub(crate) struct DatagramLink {
    socket: Arc<dyn DatagramSocket>,
    offload: Option<Arc<UdpSocketState>>,
    queue: async_channel::Sender<Outgoing>,
    /// Sends the writer task holds: while any, new ones queue behind them.
    backlog: Arc<AtomicUsize>,
    /// The address the socket is bound to.
    pub local: SocketAddr,
    /// Dropped with the link: stops the reader, which releases the socket.
    _stop: async_channel::Sender<()>,
}

impl DatagramLink {
    /// How many datagrams one send may carry (1 without GSO).
    pub fn max_segments(&self) -> usize {
        self.offload
            .as_ref()
            .map_or(1, |state| state.max_gso_segments().min(MAX_SEGMENTS))
    }

    /// Sends `data` to `to` (`segment`: GSO batch of datagrams of that size), now if the
    /// socket takes it, else through the writer task; drops it when that is full.
    pub fn send(&self, to: SocketAddr, data: Bytes, segment: Option<usize>) {
        let outgoing = Outgoing { to, data, segment };
        if self.backlog.load(Ordering::Acquire) == 0 {
            match try_send(&*self.socket, self.offload.as_deref(), &outgoing) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // A datagram that cannot go is a loss; the socket stays.
                Err(error) => {
                    tracing::trace!(to = %outgoing.to, %error, "datagram not sent");
                    return;
                }
                Ok(()) => return,
            }
        }
        self.backlog.fetch_add(1, Ordering::AcqRel);
        if let Err(refused) = self.queue.try_send(outgoing) {
            let outgoing = refused.into_inner();
            let datagrams = outgoing
                .segment
                .map_or(1, |segment| outgoing.data.len().div_ceil(segment.max(1)));
            self.backlog.fetch_sub(1, Ordering::AcqRel);
            tracing::debug!(to = %outgoing.to, datagrams, "UDP writer queue full: dropped");
        }
    }
}

/// One non-blocking send attempt.
fn try_send(
    socket: &dyn DatagramSocket,
    offload: Option<&UdpSocketState>,
    outgoing: &Outgoing,
) -> io::Result<()> {
    match offload {
        Some(state) => {
            let transmit = Transmit {
                destination: outgoing.to,
                ecn: None,
                contents: &outgoing.data,
                segment_size: outgoing.segment,
                src_ip: None,
            };
            socket
                .try_io(Direction::Send, &mut |s| {
                    state.try_send(s, &transmit).map(|()| 0)
                })
                .map(drop)
        }
        None => socket.try_send_to(&outgoing.data, outgoing.to).map(drop),
    }
}

/// The run loop's GSO batch being built: datagrams to one peer, all of `segment` bytes but
/// the last, which may be shorter and ends the batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GsoBatch {
    /// Index of the UDP socket.
    pub socket: usize,
    /// The peer.
    pub to: SocketAddr,
    /// Size of every datagram but the last.
    pub segment: usize,
    /// Datagrams in the batch.
    pub count: usize,
    /// Bytes in the batch.
    pub len: usize,
    /// A shorter datagram ended it.
    pub closed: bool,
}

impl GsoBatch {
    /// A batch of one datagram.
    pub fn new(socket: usize, to: SocketAddr, len: usize) -> Self {
        Self {
            socket,
            to,
            segment: len,
            count: 1,
            len,
            closed: false,
        }
    }

    /// Takes the next datagram, of `len` bytes to `to` on `socket`, if it fits the batch.
    pub fn push(&mut self, socket: usize, to: SocketAddr, len: usize, max: usize) -> bool {
        let fits = !self.closed
            && self.socket == socket
            && self.to == to
            && len <= self.segment
            && len > 0
            && self.count < max
            && self.len + len <= MAX_GSO_BYTES;
        if fits {
            self.count += 1;
            self.len += len;
            self.closed = len < self.segment;
        }
        fits
    }

    /// The segment size to hand the socket: none for a single datagram.
    pub fn segment_size(&self) -> Option<usize> {
        (self.count > 1).then_some(self.segment)
    }
}

/// Starts the reader and writer tasks of a UDP socket (`offload`: through [`quinn_udp`]).
pub(crate) fn spawn_datagram(
    runtime: &dyn Runtime,
    index: usize,
    socket: Arc<dyn DatagramSocket>,
    offload: bool,
    inputs: async_channel::Sender<Input>,
) -> io::Result<DatagramLink> {
    let local = socket.local_addr()?;
    let offload = if offload {
        // `new` sets the socket options batching needs (GRO among them).
        let mut state = None;
        let configured = socket.configure(&mut |s| {
            state = Some(UdpSocketState::new(s)?);
            Ok(())
        });
        if let Err(error) = configured {
            tracing::debug!(%local, %error, "UDP offload unavailable: one datagram per call");
        }
        state.map(Arc::new)
    } else {
        None
    };
    let (queue, queued) = async_channel::bounded::<Outgoing>(DATAGRAM_QUEUE);
    let backlog = Arc::new(AtomicUsize::new(0));
    let (stop, stopped) = async_channel::bounded::<()>(1);
    {
        let socket = socket.clone();
        let offload = offload.clone();
        let backlog = backlog.clone();
        runtime.spawn(Box::pin(async move {
            while let Ok(outgoing) = queued.recv().await {
                let sent = poll_fn(|cx| {
                    poll_until_done(&*socket, cx, Direction::Send, || {
                        try_send(&*socket, offload.as_deref(), &outgoing)
                    })
                })
                .await;
                backlog.fetch_sub(1, Ordering::AcqRel);
                if let Err(error) = sent {
                    tracing::trace!(to = %outgoing.to, %error, "datagram not sent");
                }
            }
        }));
    }
    match offload.clone() {
        Some(state) => runtime.spawn(Box::pin(receive_batches(
            index,
            socket.clone(),
            state,
            inputs,
            stopped,
        ))),
        None => runtime.spawn(Box::pin(receive_one_by_one(
            index,
            socket.clone(),
            inputs,
            stopped,
        ))),
    }
    Ok(DatagramLink {
        socket,
        offload,
        queue,
        backlog,
        local,
        _stop: stop,
    })
}

/// Hands received datagrams to the run loop; false once it is gone.
async fn hand_over(
    inputs: &async_channel::Sender<Input>,
    socket: usize,
    batch: Vec<(SocketAddr, Bytes)>,
) -> bool {
    inputs
        .send(Input::Datagrams { socket, batch })
        .await
        .is_ok()
}

/// The reader without offload: one datagram per system call and per batch.
async fn receive_one_by_one(
    index: usize,
    socket: Arc<dyn DatagramSocket>,
    inputs: async_channel::Sender<Input>,
    stopped: async_channel::Receiver<()>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let receive = async {
            Some(
                RecvFrom {
                    socket: &*socket,
                    buf: &mut buf,
                }
                .await,
            )
        };
        let received = futures_lite::future::or(receive, async {
            let _ = stopped.recv().await;
            None
        })
        .await;
        let Some(received) = received else { return };
        match received {
            Ok((n, from)) => {
                let batch = vec![(from, Bytes::copy_from_slice(&buf[..n]))];
                if !hand_over(&inputs, index, batch).await {
                    return;
                }
            }
            // ICMP errors (a closed port) surface here on some platforms: not fatal.
            Err(error) => tracing::trace!(%error, "datagram receive error"),
        }
    }
}

/// The reader with offload: `recvmmsg` into several buffers, each of which may hold several
/// datagrams of one source (GRO), all handed over as one batch.
async fn receive_batches(
    index: usize,
    socket: Arc<dyn DatagramSocket>,
    state: Arc<UdpSocketState>,
    inputs: async_channel::Sender<Input>,
    stopped: async_channel::Receiver<()>,
) {
    let slots = RECV_SLOTS.min(quinn_udp::BATCH_SIZE);
    let mut bufs = vec![vec![0u8; MAX_DATAGRAM]; slots];
    let mut metas = vec![RecvMeta::default(); slots];
    loop {
        let receive = poll_fn(|cx| {
            poll_until_done(&*socket, cx, Direction::Receive, || {
                let mut slices: Vec<IoSliceMut<'_>> =
                    bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
                socket.try_io(Direction::Receive, &mut |s| {
                    state.recv(s, &mut slices, &mut metas)
                })
            })
            .map(Some)
        });
        let received = futures_lite::future::or(receive, async {
            let _ = stopped.recv().await;
            None
        })
        .await;
        let Some(received) = received else { return };
        match received {
            Ok(n) => {
                let mut batch = Vec::new();
                for (meta, buf) in metas.iter().zip(&bufs).take(n) {
                    let stride = meta.stride.max(1);
                    for datagram in buf[..meta.len.min(buf.len())].chunks(stride) {
                        batch.push((meta.addr, Bytes::copy_from_slice(datagram)));
                    }
                }
                if !batch.is_empty() && !hand_over(&inputs, index, batch).await {
                    return;
                }
            }
            Err(error) => tracing::trace!(%error, "datagram receive error"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn a_batch_takes_equal_datagrams_to_one_peer_and_ends_at_a_shorter_one() {
        let mut batch = GsoBatch::new(0, addr(1), 1_200);
        assert_eq!(batch.segment_size(), None);
        assert!(batch.push(0, addr(1), 1_200, 64));
        assert!(!batch.push(0, addr(2), 1_200, 64), "another peer");
        assert!(!batch.push(1, addr(1), 1_200, 64), "another socket");
        assert!(!batch.push(0, addr(1), 1_300, 64), "a longer datagram");
        assert!(batch.push(0, addr(1), 500, 64));
        assert!(
            !batch.push(0, addr(1), 500, 64),
            "closed by the shorter one"
        );
        assert_eq!((batch.count, batch.len), (3, 2_900));
        assert_eq!(batch.segment_size(), Some(1_200));
    }

    #[test]
    fn a_batch_stops_at_the_segment_and_byte_limits() {
        let mut batch = GsoBatch::new(0, addr(1), 100);
        assert!(batch.push(0, addr(1), 100, 3));
        assert!(batch.push(0, addr(1), 100, 3));
        assert!(!batch.push(0, addr(1), 100, 3), "three segments at most");
        let mut big = GsoBatch::new(0, addr(1), 30_000);
        assert!(big.push(0, addr(1), 30_000, 64));
        assert!(!big.push(0, addr(1), 30_000, 64), "over 64,000 bytes");
    }
}
