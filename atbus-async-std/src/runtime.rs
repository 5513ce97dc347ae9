//! async-io's reactor and timers, async-net's sockets and a caller-chosen spawner behind the
//! driver's [`Runtime`].

use std::fmt;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use async_io::{Async, Timer};
use atbus_driver::quinn_udp::UdpSockRef;
use atbus_driver::{BoxFuture, DatagramSocket, Direction, Runtime, StreamListener, StreamSocket};

/// Socket buffer size asked for on UDP sockets (the kernel may cap it).
const UDP_BUFFER: usize = 4 * 1024 * 1024;

/// What runs a task in the background.
type Spawner = dyn Fn(BoxFuture<'static, ()>) + Send + Sync;

/// The async-io runtime: sockets and timers on async-io's reactor (shared by async-std and
/// smol), tasks on whatever executor the spawner hands them to.
///
/// The reactor drives itself (async-io runs it on a thread of its own when no `block_on` is
/// doing so), so any executor that polls futures works: async-std's, smol's, or your own.
#[derive(Clone)]
pub struct AsyncIoRuntime {
    spawn: Arc<Spawner>,
}

impl fmt::Debug for AsyncIoRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncIoRuntime").finish_non_exhaustive()
    }
}

impl AsyncIoRuntime {
    /// A runtime whose tasks `spawn` runs in the background (detached: the bus never joins
    /// them; each ends when its socket or the bus does).
    ///
    /// The simplest spawner, a thread per task (fine for a demo, not for many peers):
    ///
    /// ```no_run
    /// let runtime = atbus_async_std::AsyncIoRuntime::new(|task| {
    ///     std::thread::spawn(move || async_io::block_on(task));
    /// });
    /// ```
    pub fn new(spawn: impl Fn(BoxFuture<'static, ()>) + Send + Sync + 'static) -> Self {
        Self {
            spawn: Arc::new(spawn),
        }
    }

    /// Tasks on async-std's executor (`async_std::task::spawn`).
    #[cfg(feature = "async-std")]
    pub fn async_std() -> Self {
        Self::new(|task| {
            // Dropping async-std's JoinHandle detaches the task.
            drop(async_std::task::spawn(task));
        })
    }

    /// Tasks on smol's global executor (`smol::spawn`, detached).
    #[cfg(feature = "smol")]
    pub fn smol() -> Self {
        Self::new(|task| smol::spawn(task).detach())
    }
}

fn tcp_socket(stream: async_net::TcpStream) -> io::Result<StreamSocket> {
    stream.set_nodelay(true)?;
    let peer = stream.peer_addr()?.to_string();
    // async-net's streams are handles to one socket: one for each half. Closing the writer
    // shuts down the sending direction only.
    Ok(StreamSocket {
        reader: Box::new(stream.clone()),
        writer: Box::new(stream),
        peer,
    })
}

struct TcpListener(async_net::TcpListener);

impl StreamListener for TcpListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<StreamSocket>> {
        Box::pin(async move {
            let (stream, _) = self.0.accept().await?;
            tcp_socket(stream)
        })
    }
}

#[cfg(unix)]
mod unix {
    use std::io;

    use atbus_driver::{BoxFuture, StreamListener, StreamSocket};

    pub(super) fn unix_socket(stream: async_net::unix::UnixStream, peer: String) -> StreamSocket {
        StreamSocket {
            reader: Box::new(stream.clone()),
            writer: Box::new(stream),
            peer,
        }
    }

    pub(super) struct UnixListener {
        pub listener: async_net::unix::UnixListener,
        pub path: String,
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
}

#[cfg(not(unix))]
fn no_unix_sockets() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "Unix-domain sockets need a Unix platform",
    )
}

/// A UDP socket on the reactor. The reader and writer tasks poll it at once, one for
/// readability and one for writability (async-io keeps a waker for each).
struct Udp(Async<UdpSocket>);

impl DatagramSocket for Udp {
    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        loop {
            match self.0.get_ref().recv_from(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                result => return Poll::Ready(result),
            }
            match self.0.poll_readable(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn try_send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.0.get_ref().send_to(buf, to)
    }

    fn poll_ready(&self, cx: &mut Context<'_>, direction: Direction) -> Poll<io::Result<()>> {
        match direction {
            Direction::Receive => self.0.poll_readable(cx),
            Direction::Send => self.0.poll_writable(cx),
        }
    }

    fn try_io(
        &self,
        _direction: Direction,
        op: &mut dyn FnMut(UdpSockRef<'_>) -> io::Result<usize>,
    ) -> io::Result<usize> {
        // async-io keeps no readiness to clear: the next `poll_ready` waits for a new event.
        op(self.0.get_ref().into())
    }

    fn configure(&self, op: &mut dyn FnMut(UdpSockRef<'_>) -> io::Result<()>) -> io::Result<()> {
        op(self.0.get_ref().into())
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().local_addr()
    }
}

/// A UDP socket with large buffers, bound to `at`, on the reactor.
fn bind_udp(at: SocketAddr) -> io::Result<Async<UdpSocket>> {
    let domain = socket2::Domain::for_address(at);
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    // Best effort: the kernel caps these (net.core.rmem_max).
    let _ = socket.set_recv_buffer_size(UDP_BUFFER);
    let _ = socket.set_send_buffer_size(UDP_BUFFER);
    socket.bind(&at.into())?;
    // Makes the socket non-blocking and registers it with the reactor.
    Async::new(UdpSocket::from(socket))
}

impl Runtime for AsyncIoRuntime {
    fn spawn(&self, task: BoxFuture<'static, ()>) {
        (self.spawn)(task);
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            Timer::at(deadline).await;
        })
    }

    fn resolve(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<SocketAddr>> {
        Box::pin(async move {
            // IP literals parse at once; names go to the system resolver on a blocking thread.
            async_net::resolve((host.as_str(), port))
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"))
                })
        })
    }

    fn connect_tcp(&self, to: SocketAddr) -> BoxFuture<'static, io::Result<StreamSocket>> {
        Box::pin(async move { tcp_socket(async_net::TcpStream::connect(to).await?) })
    }

    fn listen_tcp(
        &self,
        at: SocketAddr,
    ) -> BoxFuture<'static, io::Result<(Box<dyn StreamListener>, SocketAddr)>> {
        Box::pin(async move {
            let listener = async_net::TcpListener::bind(at).await?;
            let at = listener.local_addr()?;
            Ok((
                Box::new(TcpListener(listener)) as Box<dyn StreamListener>,
                at,
            ))
        })
    }

    fn connect_unix(&self, path: String) -> BoxFuture<'static, io::Result<StreamSocket>> {
        Box::pin(async move {
            #[cfg(unix)]
            {
                let stream = async_net::unix::UnixStream::connect(&path).await?;
                Ok(unix::unix_socket(stream, format!("unix://{path}")))
            }
            #[cfg(not(unix))]
            {
                let _ = path;
                Err(no_unix_sockets())
            }
        })
    }

    fn listen_unix(&self, path: String) -> BoxFuture<'static, io::Result<Box<dyn StreamListener>>> {
        Box::pin(async move {
            #[cfg(unix)]
            {
                atbus_driver::remove_stale_unix_socket(&path)?;
                let listener = async_net::unix::UnixListener::bind(&path)?;
                Ok(Box::new(unix::UnixListener { listener, path }) as Box<dyn StreamListener>)
            }
            #[cfg(not(unix))]
            {
                let _ = path;
                Err(no_unix_sockets())
            }
        })
    }

    fn bind_udp(&self, at: SocketAddr) -> BoxFuture<'static, io::Result<Arc<dyn DatagramSocket>>> {
        Box::pin(async move { Ok(Arc::new(Udp(bind_udp(at)?)) as Arc<dyn DatagramSocket>) })
    }
}
