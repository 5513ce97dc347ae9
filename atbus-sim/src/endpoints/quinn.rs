//! quinn-proto (QUIC) as a simulated endpoint, to compare atbus with.
//!
//! One `quinn_proto::Endpoint` per node and one QUIC connection per datagram link. Roles are fixed
//! by node index: on each link the lower-numbered node is the client and connects when the link
//! comes up; the other accepts. Byte-stream links are ignored (QUIC runs over datagrams), so
//! sends to a peer reached only that way fail with `NoRoute`.
//!
//! - **Time**: the simulator's [`Timestamp`] (nanoseconds from zero) becomes a
//!   `std::time::Instant` as a base captured once when the endpoint is made plus the offset.
//!   quinn-proto only ever subtracts instants, so its behaviour does not depend on the base.
//! - **Addresses**: the peer on link *n* is `[::1]:(n + 1)`; quinn's `Transmit::destination`
//!   names the link back.
//! - **Messages**: each simulator stream a node sends on is one QUIC unidirectional stream that
//!   the node opens; it starts with the simulator stream id and carries each message behind a
//!   length prefix (see [`Deframer`]), so the receiver hands over whole messages, in order.
//!   Messages sent before the handshake completes — or beyond quinn's send window — wait in the
//!   endpoint, up to [`QuinnConfig::staging_limit`] bytes per stream; past that, `send_message`
//!   answers [`SendError::Full`].
//! - **Losing a connection** (the peer closed it, or quinn's idle timeout): its link stays known,
//!   sends to that peer are refused, and waiting messages are dropped. **Link down** (the peer
//!   was killed): the connection is closed and driven, with nothing sent, until quinn lets go of
//!   it.

mod framing;
mod setup;

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use quinn_proto::{
    ClientConfig, Connection, ConnectionHandle, DatagramEvent, Dir, Event, StreamEvent, StreamId,
    VarInt, WriteError,
};

use atbus_core::Timestamp;

use crate::endpoint::{Endpoint, LinkId, LinkKind, NodeId, Received, SendError, Transmit};

pub use self::framing::Deframer;
pub use self::setup::{QuinnConfig, QuinnCongestion, SERVER_NAME, TestTls, test_tls};

/// Messages of one simulator stream waiting for quinn to take them.
#[derive(Debug, Default)]
struct Outgoing {
    /// The QUIC stream, once opened.
    id: Option<StreamId>,
    /// Framed bytes (header, prefixes, messages) not yet written to quinn.
    staged: VecDeque<Bytes>,
    /// Bytes in `staged`.
    staged_bytes: u64,
}

/// One link's connection and streams.
struct Link {
    peer: NodeId,
    /// Our side of the connection, once connecting or accepted.
    conn: Option<(ConnectionHandle, Connection)>,
    /// The handshake completed.
    established: bool,
    /// Why the connection was lost, if it was.
    lost: Option<String>,
    /// Per simulator stream, in stream order.
    send: BTreeMap<u64, Outgoing>,
    /// Streams with staged bytes.
    staged_streams: usize,
    /// Received QUIC streams.
    recv: BTreeMap<StreamId, Deframer>,
}

/// One node running quinn-proto over each of its datagram links.
pub struct QuinnEndpoint {
    node: NodeId,
    config: QuinnConfig,
    base: Instant,
    endpoint: quinn_proto::Endpoint,
    client: ClientConfig,
    links: BTreeMap<LinkId, Link>,
    /// Connections whose link went down, closing without sending.
    closing: Vec<(ConnectionHandle, Connection)>,
    /// Datagrams the quinn endpoint itself answered with (refusals, resets).
    outbox: VecDeque<Transmit>,
    received: VecDeque<Received>,
    buf: Vec<u8>,
}

impl QuinnEndpoint {
    /// The endpoint of `node`, configured by `config`.
    pub fn new(node: NodeId, config: QuinnConfig) -> Self {
        let transport = Arc::new(config.transport());
        let server = Arc::new(config.server(&transport));
        let client = config.client(&transport);
        let endpoint =
            quinn_proto::Endpoint::new(Arc::new(config.endpoint(node.0)), Some(server), true, None);
        Self {
            node,
            config,
            base: Instant::now(),
            endpoint,
            client,
            links: BTreeMap::new(),
            closing: Vec::new(),
            outbox: VecDeque::new(),
            received: VecDeque::new(),
            buf: Vec::new(),
        }
    }

    /// The connection on `link`, if there is one (for statistics and congestion state).
    pub fn connection(&self, link: LinkId) -> Option<&Connection> {
        self.links.get(&link)?.conn.as_ref().map(|(_, c)| c)
    }

    /// Why the connection on `link` was lost, if it was.
    pub fn lost_reason(&self, link: LinkId) -> Option<&str> {
        self.links.get(&link)?.lost.as_deref()
    }

    fn instant(&self, now: Timestamp) -> Instant {
        self.base + Duration::from_nanos(now.as_nanos())
    }

    fn timestamp(&self, at: Instant) -> Timestamp {
        Timestamp::from_nanos(at.saturating_duration_since(self.base).as_nanos() as u64)
    }

    /// Drives `link`'s connection after an input: endpoint events both ways, application events,
    /// and then writes what waits.
    fn process(&mut self, link: LinkId) {
        let Some(state) = self.links.get_mut(&link) else {
            return;
        };
        let Some((handle, conn)) = state.conn.as_mut() else {
            return;
        };
        exchange_endpoint_events(&mut self.endpoint, *handle, conn);
        while let Some(event) = conn.poll() {
            match event {
                Event::Connected => state.established = true,
                Event::ConnectionLost { reason } => {
                    state.lost = Some(reason.to_string());
                    state.send.clear();
                    state.staged_streams = 0;
                }
                Event::Stream(StreamEvent::Opened { dir: Dir::Uni }) => {
                    while let Some(id) = conn.streams().accept(Dir::Uni) {
                        state.recv.entry(id).or_default();
                        read_stream(conn, id, &mut state.recv, state.peer, &mut self.received);
                    }
                }
                Event::Stream(StreamEvent::Readable { id }) => {
                    read_stream(conn, id, &mut state.recv, state.peer, &mut self.received);
                }
                // Writable, Available, Finished, Stopped, handshake data: the next flush
                // retries whatever waits; nothing else needs doing.
                _ => {}
            }
        }
        flush(state);
        if let Some((handle, conn)) = state.conn.as_mut() {
            exchange_endpoint_events(&mut self.endpoint, *handle, conn);
        }
    }

    /// Hands a datagram the quinn endpoint answered with to its link.
    fn queue_response(&mut self, destination: SocketAddr, size: usize) {
        let link = link_of(destination);
        if self.links.contains_key(&link) {
            self.outbox.push_back(Transmit {
                link,
                data: Bytes::copy_from_slice(&self.buf[..size]),
            });
        }
        self.buf.clear();
    }

    fn accept(&mut self, now: Instant, incoming: quinn_proto::Incoming) {
        let link = link_of(incoming.remote_address());
        let wanted = self
            .links
            .get(&link)
            .is_some_and(|l| l.conn.is_none() && l.lost.is_none() && l.peer < self.node);
        if !wanted {
            self.endpoint.ignore(incoming);
            return;
        }
        match self.endpoint.accept(incoming, now, &mut self.buf, None) {
            Ok((handle, conn)) => {
                self.buf.clear();
                if let Some(state) = self.links.get_mut(&link) {
                    state.conn = Some((handle, conn));
                }
            }
            Err(error) => {
                if let Some(state) = self.links.get_mut(&link) {
                    state.lost = Some(error.cause.to_string());
                }
                match error.response {
                    Some(transmit) => self.queue_response(transmit.destination, transmit.size),
                    None => self.buf.clear(),
                }
            }
        }
    }
}

/// The address the peer on `link` has.
fn address(link: LinkId) -> SocketAddr {
    let port = u16::try_from(link.0 + 1).expect("at most 65,535 links per scenario");
    SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port)
}

/// The link an address names.
fn link_of(address: SocketAddr) -> LinkId {
    LinkId(usize::from(address.port()).saturating_sub(1))
}

/// Hands the connection's endpoint events to the endpoint and its answers back, until quiet.
fn exchange_endpoint_events(
    endpoint: &mut quinn_proto::Endpoint,
    handle: ConnectionHandle,
    conn: &mut Connection,
) {
    while let Some(event) = conn.poll_endpoint_events() {
        if let Some(answer) = endpoint.handle_event(handle, event) {
            conn.handle_event(answer);
        }
    }
}

/// Reads what stream `id` has in order and delivers the messages it completes.
fn read_stream(
    conn: &mut Connection,
    id: StreamId,
    recv: &mut BTreeMap<StreamId, Deframer>,
    peer: NodeId,
    received: &mut VecDeque<Received>,
) {
    let deframer = recv.entry(id).or_default();
    let mut stream = conn.recv_stream(id);
    let Ok(mut chunks) = stream.read(true) else {
        return;
    };
    // Stops when the stream is finished or reset, or has nothing more in order for now.
    while let Ok(Some(chunk)) = chunks.next(usize::MAX) {
        deframer.push(chunk.bytes, |stream, payload| {
            received.push_back(Received {
                from: peer,
                stream,
                payload,
            })
        });
    }
    // Whether credit should be sent at once does not matter here: the simulator polls for
    // transmissions after every input anyway.
    let _ = chunks.finalize();
}

/// Writes staged messages of `state` into quinn, as far as its windows allow.
fn flush(state: &mut Link) {
    if state.staged_streams == 0 || !state.established || state.lost.is_some() {
        return;
    }
    let Some((_, conn)) = state.conn.as_mut() else {
        return;
    };
    for outgoing in state.send.values_mut() {
        if outgoing.staged.is_empty() {
            continue;
        }
        let id = match outgoing.id {
            Some(id) => id,
            None => match conn.streams().open(Dir::Uni) {
                Some(id) => *outgoing.id.insert(id),
                // The peer's stream limit: wait for it to allow more.
                None => continue,
            },
        };
        match conn
            .send_stream(id)
            .write_chunks(outgoing.staged.make_contiguous())
        {
            Ok(written) => {
                outgoing.staged.drain(..written.chunks);
                outgoing.staged_bytes -= written.bytes as u64;
            }
            // The connection's or the stream's window is full.
            Err(WriteError::Blocked) => {}
            // The peer stopped the stream: what waits will never be read.
            Err(WriteError::Stopped(_) | WriteError::ClosedStream) => {
                outgoing.staged.clear();
                outgoing.staged_bytes = 0;
            }
        }
        if outgoing.staged.is_empty() {
            state.staged_streams -= 1;
        }
    }
}

impl Endpoint for QuinnEndpoint {
    fn handle_link_up(&mut self, now: Timestamp, link: LinkId, peer: NodeId, kind: LinkKind) {
        if kind != LinkKind::Datagram {
            return;
        }
        let mut state = Link {
            peer,
            conn: None,
            established: false,
            lost: None,
            send: BTreeMap::new(),
            staged_streams: 0,
            recv: BTreeMap::new(),
        };
        if self.node < peer {
            let now = self.instant(now);
            match self
                .endpoint
                .connect(now, self.client.clone(), address(link), SERVER_NAME)
            {
                Ok(conn) => state.conn = Some(conn),
                Err(error) => state.lost = Some(error.to_string()),
            }
        }
        self.links.insert(link, state);
    }

    fn handle_link_down(&mut self, now: Timestamp, link: LinkId) {
        let now = self.instant(now);
        if let Some(state) = self.links.remove(&link) {
            if let Some((handle, mut conn)) = state.conn {
                conn.close(now, VarInt::from_u32(0), Bytes::from_static(b"link down"));
                exchange_endpoint_events(&mut self.endpoint, handle, &mut conn);
                self.closing.push((handle, conn));
            }
        }
    }

    fn handle_input(&mut self, now: Timestamp, link: LinkId, data: Bytes) {
        if !self.links.contains_key(&link) {
            return;
        }
        let now = self.instant(now);
        // quinn decrypts in place: reuse the buffer when the datagram is not shared.
        let data = data
            .try_into_mut()
            .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
        self.buf.clear();
        match self
            .endpoint
            .handle(now, address(link), None, None, data, &mut self.buf)
        {
            None => {}
            Some(DatagramEvent::ConnectionEvent(handle, event)) => {
                let target = self.links.iter_mut().find_map(|(id, l)| match &mut l.conn {
                    Some((h, conn)) if *h == handle => Some((*id, conn)),
                    _ => None,
                });
                if let Some((id, conn)) = target {
                    conn.handle_event(event);
                    self.process(id);
                } else if let Some((h, conn)) = self.closing.iter_mut().find(|(h, _)| *h == handle)
                {
                    conn.handle_event(event);
                    exchange_endpoint_events(&mut self.endpoint, *h, conn);
                }
            }
            Some(DatagramEvent::NewConnection(incoming)) => {
                self.accept(now, incoming);
                self.process(link);
            }
            Some(DatagramEvent::Response(transmit)) => {
                self.queue_response(transmit.destination, transmit.size);
            }
        }
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        let now = self.instant(now);
        let due: Vec<LinkId> = self
            .links
            .iter_mut()
            .filter_map(|(id, l)| {
                let (_, conn) = l.conn.as_mut()?;
                if conn.poll_timeout().is_some_and(|t| t <= now) {
                    conn.handle_timeout(now);
                    Some(*id)
                } else {
                    None
                }
            })
            .collect();
        for link in due {
            self.process(link);
        }
        for (handle, conn) in &mut self.closing {
            if conn.poll_timeout().is_some_and(|t| t <= now) {
                conn.handle_timeout(now);
                exchange_endpoint_events(&mut self.endpoint, *handle, conn);
            }
        }
        self.closing.retain(|(_, conn)| !conn.is_drained());
    }

    fn send_message(
        &mut self,
        _now: Timestamp,
        to: NodeId,
        stream: u64,
        payload: Bytes,
    ) -> Result<(), SendError> {
        let state = self
            .links
            .values_mut()
            .find(|l| l.peer == to)
            .ok_or(SendError::NoRoute(to))?;
        if let Some(reason) = &state.lost {
            return Err(SendError::Refused(format!("connection lost: {reason}")));
        }
        let outgoing = state.send.entry(stream).or_default();
        if outgoing.staged_bytes >= self.config.staging_limit {
            return Err(SendError::Full);
        }
        let prefix = framing::prefix(&payload)
            .ok_or_else(|| SendError::Refused("message longer than 4 GiB".into()))?;
        if outgoing.staged.is_empty() {
            state.staged_streams += 1;
        }
        if outgoing.id.is_none() && outgoing.staged.is_empty() {
            // A stream not opened yet starts with its header.
            let header = framing::header(stream);
            outgoing.staged_bytes += header.len() as u64;
            outgoing.staged.push_back(header);
        }
        outgoing.staged_bytes += (prefix.len() + payload.len()) as u64;
        outgoing.staged.push_back(prefix);
        outgoing.staged.push_back(payload);
        flush(state);
        Ok(())
    }

    fn poll_transmit(&mut self, now: Timestamp) -> Option<Transmit> {
        if let Some(transmit) = self.outbox.pop_front() {
            return Some(transmit);
        }
        let now = self.instant(now);
        for (link, state) in &mut self.links {
            flush(state);
            let Some((handle, conn)) = state.conn.as_mut() else {
                continue;
            };
            self.buf.clear();
            let transmit = conn.poll_transmit(now, 1, &mut self.buf);
            exchange_endpoint_events(&mut self.endpoint, *handle, conn);
            if let Some(transmit) = transmit {
                return Some(Transmit {
                    link: *link,
                    data: Bytes::copy_from_slice(&self.buf[..transmit.size]),
                });
            }
        }
        // Closing connections have no link left: what they would send is dropped.
        for (handle, conn) in &mut self.closing {
            self.buf.clear();
            while conn.poll_transmit(now, 1, &mut self.buf).is_some() {
                self.buf.clear();
            }
            exchange_endpoint_events(&mut self.endpoint, *handle, conn);
        }
        None
    }

    fn poll_received(&mut self) -> Option<Received> {
        self.received.pop_front()
    }

    fn poll_timeout(&mut self) -> Option<Timestamp> {
        let links = self
            .links
            .values_mut()
            .filter_map(|l| l.conn.as_mut().and_then(|(_, c)| c.poll_timeout()));
        let closing = self
            .closing
            .iter_mut()
            .filter_map(|(_, c)| c.poll_timeout());
        let next = links.chain(closing).min()?;
        Some(self.timestamp(next))
    }
}
