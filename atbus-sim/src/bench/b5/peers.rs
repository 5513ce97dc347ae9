//! The two stacks B5 measures, each as a [`Peer`] of the lock-step pair, plus a baseline that
//! measures the harness alone.
//!
//! - [`AtbusPeer`]: one `atbus_core::connection::Connection` in datagram mode with the default
//!   `ConnectionConfig`, messages on stream 1.
//! - [`QuinnPeer`]: one `quinn_proto::Endpoint` and its connection (the sender is the client),
//!   configured as in B3 ([`QuinnConfig::new`]); messages on one unidirectional stream, each behind
//!   a 4-byte length prefix (QUIC streams carry bytes; the receiver needs whole messages), read
//!   back through the same [`Deframer`] the simulator uses.
//! - [`LoopbackPeer`]: a message is its own datagram and is delivered as it arrives — what the
//!   harness costs with no protocol at all.

use std::collections::VecDeque;
use std::net::{Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use quinn_proto::{
    ClientConfig, Connection, ConnectionHandle, DatagramEvent, Dir, Event, StreamEvent, StreamId,
};

use atbus_core::Timestamp;
use atbus_core::connection::{Connection as AtbusConnection, ConnectionConfig, ConnectionEvent};

use super::pair::Peer;
use crate::endpoints::quinn::{Deframer, SERVER_NAME};
use crate::endpoints::{QuinnConfig, QuinnCongestion};

/// An atbus datagram connection.
pub struct AtbusPeer {
    connection: AtbusConnection,
    buffer: BytesMut,
}

impl AtbusPeer {
    /// A connection with the default settings, made at time zero.
    pub fn new() -> Self {
        Self {
            connection: AtbusConnection::new(ConnectionConfig::default(), Timestamp::ZERO),
            buffer: BytesMut::with_capacity(64 * 1024),
        }
    }
}

impl Default for AtbusPeer {
    fn default() -> Self {
        Self::new()
    }
}

impl Peer for AtbusPeer {
    fn ready(&self) -> bool {
        true
    }

    fn send(&mut self, now: Timestamp, message: Bytes) {
        self.connection
            .send(now, 1, message, None)
            .expect("the stream accepts the message");
    }

    fn poll_transmit(&mut self, now: Timestamp) -> Option<Bytes> {
        self.buffer.clear();
        self.connection.poll_transmit(now, &mut self.buffer)?;
        Some(self.buffer.split().freeze())
    }

    fn handle_datagram(&mut self, now: Timestamp, datagram: Bytes) {
        self.connection.handle_datagram(now, datagram);
    }

    fn poll_delivered(&mut self) -> Option<Bytes> {
        loop {
            match self.connection.poll_event()? {
                ConnectionEvent::Message { data, .. } => return Some(data),
                _ => continue,
            }
        }
    }

    fn poll_timeout(&mut self) -> Option<Timestamp> {
        self.connection.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        self.connection.handle_timeout(now);
    }
}

/// A quinn-proto endpoint with one connection and one stream.
pub struct QuinnPeer {
    endpoint: quinn_proto::Endpoint,
    conn: Option<(ConnectionHandle, Connection)>,
    connected: bool,
    base: Instant,
    remote: SocketAddr,
    stream: Option<StreamId>,
    deframer: Deframer,
    delivered: VecDeque<Bytes>,
    buf: Vec<u8>,
    scratch: Vec<u8>,
}

impl QuinnPeer {
    /// The sending side (the client), which connects at once, and the receiving side.
    pub fn pair() -> (Self, Self) {
        let config = QuinnConfig::new(0, QuinnCongestion::Cubic);
        let transport = Arc::new(config.transport());
        let base = Instant::now();
        let side = |node: usize, server: bool| Self {
            endpoint: quinn_proto::Endpoint::new(
                Arc::new(config.endpoint(node)),
                server.then(|| Arc::new(config.server(&transport))),
                true,
                None,
            ),
            conn: None,
            connected: false,
            base,
            remote: SocketAddr::new(Ipv6Addr::LOCALHOST.into(), if server { 1 } else { 2 }),
            stream: None,
            deframer: Deframer::new(),
            delivered: VecDeque::new(),
            buf: Vec::with_capacity(2048),
            scratch: Vec::with_capacity(2048),
        };
        let mut client = side(0, false);
        let server = side(1, true);
        let client_config: ClientConfig = config.client(&transport);
        let connection = client
            .endpoint
            .connect(base, client_config, client.remote, SERVER_NAME)
            .expect("connect");
        client.conn = Some(connection);
        (client, server)
    }

    fn instant(&self, now: Timestamp) -> Instant {
        self.base + Duration::from_nanos(now.as_nanos())
    }

    /// Endpoint events, application events and reads after an input.
    fn process(&mut self) {
        let Some((handle, conn)) = self.conn.as_mut() else {
            return;
        };
        while let Some(event) = conn.poll_endpoint_events() {
            if let Some(answer) = self.endpoint.handle_event(*handle, event) {
                conn.handle_event(answer);
            }
        }
        while let Some(event) = conn.poll() {
            match event {
                Event::Connected => self.connected = true,
                Event::Stream(StreamEvent::Opened { dir: Dir::Uni }) => {
                    while let Some(id) = conn.streams().accept(Dir::Uni) {
                        read(conn, id, &mut self.deframer, &mut self.delivered);
                    }
                }
                Event::Stream(StreamEvent::Readable { id }) => {
                    read(conn, id, &mut self.deframer, &mut self.delivered);
                }
                Event::ConnectionLost { reason } => panic!("connection lost: {reason}"),
                _ => {}
            }
        }
    }
}

fn read(conn: &mut Connection, id: StreamId, deframer: &mut Deframer, out: &mut VecDeque<Bytes>) {
    let mut stream = conn.recv_stream(id);
    let Ok(mut chunks) = stream.read(true) else {
        return;
    };
    while let Ok(Some(chunk)) = chunks.next(usize::MAX) {
        deframer.push(chunk.bytes, |_, message| out.push_back(message));
    }
    let _ = chunks.finalize();
}

impl Peer for QuinnPeer {
    fn ready(&self) -> bool {
        self.connected
    }

    fn send(&mut self, _now: Timestamp, message: Bytes) {
        let (_, conn) = self.conn.as_mut().expect("connected");
        self.scratch.clear();
        let id = match self.stream {
            Some(id) => id,
            None => {
                let id = conn.streams().open(Dir::Uni).expect("a stream");
                self.scratch.extend_from_slice(&1u64.to_le_bytes());
                *self.stream.insert(id)
            }
        };
        // One write of prefix and message: quinn copies what it is given into its own buffer.
        self.scratch
            .extend_from_slice(&(message.len() as u32).to_le_bytes());
        self.scratch.extend_from_slice(&message);
        let written = conn
            .send_stream(id)
            .write(&self.scratch)
            .expect("the stream accepts the message");
        assert_eq!(written, self.scratch.len(), "partial write");
    }

    fn poll_transmit(&mut self, now: Timestamp) -> Option<Bytes> {
        let now = self.instant(now);
        let (handle, conn) = self.conn.as_mut()?;
        self.buf.clear();
        let transmit = conn.poll_transmit(now, 1, &mut self.buf);
        while let Some(event) = conn.poll_endpoint_events() {
            if let Some(answer) = self.endpoint.handle_event(*handle, event) {
                conn.handle_event(answer);
            }
        }
        Some(Bytes::copy_from_slice(&self.buf[..transmit?.size]))
    }

    fn handle_datagram(&mut self, now: Timestamp, datagram: Bytes) {
        let now = self.instant(now);
        let data = datagram
            .try_into_mut()
            .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
        self.buf.clear();
        match self
            .endpoint
            .handle(now, self.remote, None, None, data, &mut self.buf)
        {
            Some(DatagramEvent::ConnectionEvent(_, event)) => {
                if let Some((_, conn)) = self.conn.as_mut() {
                    conn.handle_event(event);
                }
            }
            Some(DatagramEvent::NewConnection(incoming)) => {
                let accepted = self.endpoint.accept(incoming, now, &mut self.buf, None);
                self.conn = Some(accepted.map_err(|e| e.cause).expect("accept"));
            }
            Some(DatagramEvent::Response(_)) | None => {}
        }
        self.process();
    }

    fn poll_delivered(&mut self) -> Option<Bytes> {
        self.delivered.pop_front()
    }

    fn poll_timeout(&mut self) -> Option<Timestamp> {
        let (_, conn) = self.conn.as_mut()?;
        let at = conn.poll_timeout()?;
        Some(Timestamp::from_nanos(
            at.saturating_duration_since(self.base).as_nanos() as u64,
        ))
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        let now = self.instant(now);
        if let Some((_, conn)) = self.conn.as_mut() {
            conn.handle_timeout(now);
        }
        self.process();
    }
}

/// No protocol: a message is its own datagram, delivered as it arrives.
#[derive(Debug, Default)]
pub struct LoopbackPeer {
    outgoing: VecDeque<Bytes>,
    delivered: VecDeque<Bytes>,
}

impl Peer for LoopbackPeer {
    fn ready(&self) -> bool {
        true
    }

    fn send(&mut self, _now: Timestamp, message: Bytes) {
        self.outgoing.push_back(message);
    }

    fn poll_transmit(&mut self, _now: Timestamp) -> Option<Bytes> {
        self.outgoing.pop_front()
    }

    fn handle_datagram(&mut self, _now: Timestamp, datagram: Bytes) {
        self.delivered.push_back(datagram);
    }

    fn poll_delivered(&mut self) -> Option<Bytes> {
        self.delivered.pop_front()
    }

    fn poll_timeout(&mut self) -> Option<Timestamp> {
        None
    }

    fn handle_timeout(&mut self, _now: Timestamp) {}
}
