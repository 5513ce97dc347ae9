//! tokio's tasks, timers and sockets behind the driver's [`Runtime`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use atbus_driver::quinn_udp::UdpSockRef;
use atbus_driver::{BoxFuture, DatagramSocket, Direction, Runtime, StreamListener, StreamSocket};
use tokio::io::Interest;
use tokio::io::ReadBuf;
use tokio_util::compat::TokioAsyncReadCompatExt;

use crate::vectored::VectoredWriter;

/// Socket buffer size asked for on UDP sockets (the kernel may cap it).
const UDP_BUFFER: usize = 4 * 1024 * 1024;

/// The tokio runtime, by handle.
#[derive(Debug, Clone)]
pub struct TokioRuntime {
    handle: tokio::runtime::Handle,
}

impl TokioRuntime {
    /// The runtime this is called from. Panics outside a tokio runtime.
    pub fn current() -> Self {
        Self {
            handle: tokio::runtime::Handle::current(),
        }
    }

    /// A runtime by handle.
    pub fn new(handle: tokio::runtime::Handle) -> Self {
        Self { handle }
    }
}

fn tcp_socket(stream: tokio::net::TcpStream) -> io::Result<StreamSocket> {
    stream.set_nodelay(true)?;
    let peer = stream.peer_addr()?.to_string();
    let (reader, writer) = stream.into_split();
    Ok(StreamSocket {
        reader: Box::new(reader.compat()),
        writer: Box::new(VectoredWriter(writer)),
        peer,
    })
}

fn unix_socket(stream: tokio::net::UnixStream, peer: String) -> StreamSocket {
    let (reader, writer) = stream.into_split();
    StreamSocket {
        reader: Box::new(reader.compat()),
        writer: Box::new(VectoredWriter(writer)),
        peer,
    }
}

struct TcpListener(tokio::net::TcpListener);

impl StreamListener for TcpListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<StreamSocket>> {
        Box::pin(async move {
            let (stream, _) = self.0.accept().await?;
            tcp_socket(stream)
        })
    }
}

struct UnixListener {
    listener: tokio::net::UnixListener,
    path: String,
}

impl StreamListener for UnixListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<StreamSocket>> {
        Box::pin(async move {
            let (stream, _) = self.listener.accept().await?;
            Ok(unix_socket(stream, format!("unix://{}", self.path)))
        })
    }
}

impl Drop for UnixListener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

struct Udp(tokio::net::UdpSocket);

impl DatagramSocket for Udp {
    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        let mut buf = ReadBuf::new(buf);
        match self.0.poll_recv_from(cx, &mut buf) {
            Poll::Ready(Ok(from)) => Poll::Ready(Ok((buf.filled().len(), from))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn try_send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.0.try_send_to(buf, to)
    }

    fn poll_ready(&self, cx: &mut Context<'_>, direction: Direction) -> Poll<io::Result<()>> {
        match direction {
            Direction::Receive => self.0.poll_recv_ready(cx),
            Direction::Send => self.0.poll_send_ready(cx),
        }
    }

    fn try_io(
        &self,
        direction: Direction,
        op: &mut dyn FnMut(UdpSockRef<'_>) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let interest = match direction {
            Direction::Receive => Interest::READABLE,
            Direction::Send => Interest::WRITABLE,
        };
        // tokio clears its readiness when `op` would block.
        self.0.try_io(interest, || op((&self.0).into()))
    }

    fn configure(&self, op: &mut dyn FnMut(UdpSockRef<'_>) -> io::Result<()>) -> io::Result<()> {
        op((&self.0).into())
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// A UDP socket with large buffers, bound to `at`.
fn bind_udp(at: SocketAddr) -> io::Result<tokio::net::UdpSocket> {
    let domain = socket2::Domain::for_address(at);
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    // Best effort: the kernel caps these (net.core.rmem_max).
    let _ = socket.set_recv_buffer_size(UDP_BUFFER);
    let _ = socket.set_send_buffer_size(UDP_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&at.into())?;
    tokio::net::UdpSocket::from_std(socket.into())
}

impl Runtime for TokioRuntime {
    fn spawn(&self, task: BoxFuture<'static, ()>) {
        self.handle.spawn(task);
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn resolve(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<SocketAddr>> {
        Box::pin(async move {
            tokio::net::lookup_host((host.as_str(), port))
                .await?
                .next()
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"))
                })
        })
    }

    fn connect_tcp(&self, to: SocketAddr) -> BoxFuture<'static, io::Result<StreamSocket>> {
        Box::pin(async move { tcp_socket(tokio::net::TcpStream::connect(to).await?) })
    }

    fn listen_tcp(
        &self,
        at: SocketAddr,
    ) -> BoxFuture<'static, io::Result<(Box<dyn StreamListener>, SocketAddr)>> {
        Box::pin(async move {
            let listener = tokio::net::TcpListener::bind(at).await?;
            let at = listener.local_addr()?;
            Ok((
                Box::new(TcpListener(listener)) as Box<dyn StreamListener>,
                at,
            ))
        })
    }

    fn connect_unix(&self, path: String) -> BoxFuture<'static, io::Result<StreamSocket>> {
        Box::pin(async move {
            let stream = tokio::net::UnixStream::connect(&path).await?;
            Ok(unix_socket(stream, format!("unix://{path}")))
        })
    }

    fn listen_unix(&self, path: String) -> BoxFuture<'static, io::Result<Box<dyn StreamListener>>> {
        Box::pin(async move {
            atbus_driver::remove_stale_unix_socket(&path)?;
            let listener = tokio::net::UnixListener::bind(&path)?;
            Ok(Box::new(UnixListener { listener, path }) as Box<dyn StreamListener>)
        })
    }

    fn bind_udp(&self, at: SocketAddr) -> BoxFuture<'static, io::Result<Arc<dyn DatagramSocket>>> {
        Box::pin(async move { Ok(Arc::new(Udp(bind_udp(at)?)) as Arc<dyn DatagramSocket>) })
    }
}
