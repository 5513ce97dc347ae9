//! What an adapter supplies: spawning, timers and sockets. Everything else — the run loop, the
//! socket tasks, the API — is written once in this crate.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A connected byte-stream socket (TCP, Unix, in-process), split into its two halves.
pub struct StreamSocket {
    /// The receiving half.
    pub reader: Box<dyn AsyncRead + Send + Unpin>,
    /// The sending half.
    pub writer: Box<dyn AsyncWrite + Send + Unpin>,
    /// The remote end, for logs.
    pub peer: String,
}

impl std::fmt::Debug for StreamSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSocket")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

/// A listening byte-stream socket.
pub trait StreamListener: Send {
    /// The next connection.
    fn accept(&mut self) -> BoxFuture<'_, io::Result<StreamSocket>>;
}

/// Which way a socket operation goes, for readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Receiving: the socket is readable.
    Receive,
    /// Sending: the socket is writable.
    Send,
}

/// A UDP socket, shared by the run loop and the tasks that read and write it.
///
/// Two ways in: one datagram at a time (`poll_recv_from`, `try_send_to`), and
/// raw non-blocking operations on the socket (`poll_ready`, `try_io`), through which the driver
/// batches with [`quinn_udp`]: `recvmmsg`, and GSO and GRO where the platform has them.
pub trait DatagramSocket: Send + Sync {
    /// Receives one datagram into `buf`: its length and source.
    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>>;

    /// Sends one datagram to `to` now, or fails with `WouldBlock`.
    fn try_send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize>;

    /// Ready when the socket may be ready for `direction` (it may be wrong: `try_io` then
    /// fails with `WouldBlock` and the caller polls again).
    fn poll_ready(&self, cx: &mut Context<'_>, direction: Direction) -> Poll<io::Result<()>>;

    /// Runs one non-blocking operation on the socket. A `WouldBlock` from `op` clears the
    /// readiness the runtime recorded for `direction`; the runtime may also answer
    /// `WouldBlock` without running `op` when it knows the socket is not ready.
    fn try_io(
        &self,
        direction: Direction,
        op: &mut dyn FnMut(quinn_udp::UdpSockRef<'_>) -> io::Result<usize>,
    ) -> io::Result<usize>;

    /// Runs `op` on the socket at once, with no readiness involved: for setting options.
    fn configure(
        &self,
        op: &mut dyn FnMut(quinn_udp::UdpSockRef<'_>) -> io::Result<()>,
    ) -> io::Result<()>;

    /// The address it is bound to.
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// The runtime half of an adapter.
pub trait Runtime: Send + Sync + 'static {
    /// Runs `task` in the background.
    fn spawn(&self, task: BoxFuture<'static, ()>);

    /// Completes at `deadline`.
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()>;

    /// Resolves `host:port` (a name or an IP literal) to its first address.
    fn resolve(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<SocketAddr>>;

    /// Connects a TCP socket (with `TCP_NODELAY`: the node batches its own writes).
    fn connect_tcp(&self, to: SocketAddr) -> BoxFuture<'static, io::Result<StreamSocket>>;

    /// Binds a TCP listener; returns it with the address it got (port 0 picks one).
    fn listen_tcp(
        &self,
        at: SocketAddr,
    ) -> BoxFuture<'static, io::Result<(Box<dyn StreamListener>, SocketAddr)>>;

    /// Connects a Unix-domain stream socket.
    fn connect_unix(&self, path: String) -> BoxFuture<'static, io::Result<StreamSocket>>;

    /// Binds a Unix-domain listener at `path` (a stale socket file there is replaced).
    fn listen_unix(&self, path: String) -> BoxFuture<'static, io::Result<Box<dyn StreamListener>>>;

    /// Binds a UDP socket (port 0 picks one).
    fn bind_udp(&self, at: SocketAddr) -> BoxFuture<'static, io::Result<Arc<dyn DatagramSocket>>>;
}

/// Removes a Unix socket file that a process which died left at `path` (it would refuse the
/// bind); anything else there is left alone. For adapters' `listen_unix`.
#[cfg(unix)]
pub fn remove_stale_unix_socket(path: &str) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        std::fs::remove_file(path)?;
    }
    Ok(())
}

/// Runs the non-blocking `op` until it does not fail with `WouldBlock`, waiting for the
/// socket's readiness for `direction` in between.
pub(crate) fn poll_until_done<T>(
    socket: &dyn DatagramSocket,
    cx: &mut Context<'_>,
    direction: Direction,
    mut op: impl FnMut() -> io::Result<T>,
) -> Poll<io::Result<T>> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            result => return Poll::Ready(result),
        }
        match socket.poll_ready(cx, direction) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// Sends one datagram, waiting while the socket is full.
#[cfg(feature = "conformance")]
pub(crate) async fn send_to(
    socket: &dyn DatagramSocket,
    data: &[u8],
    to: SocketAddr,
) -> io::Result<usize> {
    std::future::poll_fn(|cx| {
        poll_until_done(socket, cx, Direction::Send, || socket.try_send_to(data, to))
    })
    .await
}

/// A future that receives one datagram.
pub(crate) struct RecvFrom<'a> {
    pub socket: &'a dyn DatagramSocket,
    pub buf: &'a mut [u8],
}

impl Future for RecvFrom<'_> {
    type Output = io::Result<(usize, SocketAddr)>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.socket.poll_recv_from(cx, this.buf)
    }
}
