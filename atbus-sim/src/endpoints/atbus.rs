//! atbus's own reliable connection (`atbus_core::connection`) as a simulated endpoint: one
//! connection per link (a datagram connection, or a byte-stream one on byte-stream links).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::{Bytes, BytesMut};

use atbus_core::Timestamp;
use atbus_core::connection::{self, Connection, ConnectionConfig, ConnectionEvent, StreamOptions};
use atbus_core::stream::WriteError;

use crate::endpoint::{
    Endpoint, LinkId, LinkKind, MemoryPeaks, NodeId, Received, SendError, Transmit,
};

/// One node running an atbus connection on each of its links.
pub struct AtbusEndpoint {
    config: ConnectionConfig,
    connections: BTreeMap<LinkId, (NodeId, Connection)>,
    received: VecDeque<Received>,
    buffer: BytesMut,
    /// Peaks over connections, including closed ones.
    peaks: MemoryPeaks,
    /// Streams in latency mode on every connection.
    latency_streams: BTreeSet<u64>,
}

impl AtbusEndpoint {
    /// An endpoint whose connections use `config`.
    pub fn new(config: ConnectionConfig) -> Self {
        Self {
            config,
            connections: BTreeMap::new(),
            received: VecDeque::new(),
            buffer: BytesMut::with_capacity(64 * 1024),
            peaks: MemoryPeaks::default(),
            latency_streams: BTreeSet::new(),
        }
    }

    /// Puts `streams` in latency mode ([`StreamOptions::latency`]) on every connection, whatever
    /// the connection's own settings.
    pub fn with_latency_streams(mut self, streams: impl IntoIterator<Item = u64>) -> Self {
        self.latency_streams.extend(streams);
        self
    }

    /// Counters of the connection on `link`.
    pub fn stats(&self, link: LinkId) -> Option<&connection::ConnectionStats> {
        self.connections.get(&link).map(|(_, c)| c.stats())
    }

    /// The connection on `link`, if there is one (for its RTT, congestion and counters).
    pub fn connection(&self, link: LinkId) -> Option<&Connection> {
        self.connections.get(&link).map(|(_, c)| c)
    }

    fn collect_events(&mut self) {
        for (peer, connection) in self.connections.values_mut() {
            self.peaks.receive = self.peaks.receive.max(connection.peak_receive_memory());
            self.peaks.send = self.peaks.send.max(connection.unacked_bytes());
            while let Some(event) = connection.poll_event() {
                if let ConnectionEvent::Message { stream, data, .. } = event {
                    self.received.push_back(Received {
                        from: *peer,
                        stream: stream as u64,
                        payload: data,
                    });
                }
            }
        }
    }
}

impl Endpoint for AtbusEndpoint {
    fn handle_link_up(&mut self, now: Timestamp, link: LinkId, peer: NodeId, kind: LinkKind) {
        let mut connection = match kind {
            LinkKind::Datagram => Connection::new(self.config.clone(), now),
            LinkKind::ByteStream => Connection::byte_stream(self.config.clone(), now),
        };
        for &stream in &self.latency_streams {
            // A new connection is open and has no streams yet: this cannot fail.
            let _ = connection.set_stream_options(stream as i64, StreamOptions::latency());
        }
        self.connections.insert(link, (peer, connection));
    }

    fn handle_link_down(&mut self, _now: Timestamp, link: LinkId) {
        if let Some((_, connection)) = self.connections.remove(&link) {
            self.peaks.receive = self.peaks.receive.max(connection.peak_receive_memory());
        }
    }

    fn handle_input(&mut self, now: Timestamp, link: LinkId, data: Bytes) {
        if let Some((_, connection)) = self.connections.get_mut(&link) {
            if connection.is_byte_stream() {
                connection.handle_bytes(now, data);
            } else {
                connection.handle_datagram(now, data);
            }
        }
        self.collect_events();
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        for (_, connection) in self.connections.values_mut() {
            if connection.poll_timeout().is_some_and(|t| t <= now) {
                connection.handle_timeout(now);
            }
        }
        self.collect_events();
    }

    fn send_message(
        &mut self,
        now: Timestamp,
        to: NodeId,
        stream: u64,
        payload: Bytes,
    ) -> Result<(), SendError> {
        let (_, connection) = self
            .connections
            .values_mut()
            .find(|(peer, _)| *peer == to)
            .ok_or(SendError::NoRoute(to))?;
        connection
            .send(now, stream as i64, payload, None)
            .map_err(|e| match e {
                connection::SendError::Write(WriteError::Blocked { .. }) => SendError::Full,
                other => SendError::Refused(other.to_string()),
            })?;
        self.peaks.send = self.peaks.send.max(connection.unacked_bytes());
        Ok(())
    }

    fn poll_transmit(&mut self, now: Timestamp) -> Option<Transmit> {
        for (link, (_, connection)) in &mut self.connections {
            self.buffer.clear();
            if connection.poll_transmit(now, &mut self.buffer).is_some() {
                return Some(Transmit {
                    link: *link,
                    data: self.buffer.split().freeze(),
                });
            }
        }
        None
    }

    fn poll_received(&mut self) -> Option<Received> {
        self.received.pop_front()
    }

    fn poll_timeout(&mut self) -> Option<Timestamp> {
        self.connections
            .values()
            .filter_map(|(_, c)| c.poll_timeout())
            .min()
    }

    fn memory_peaks(&self) -> Option<MemoryPeaks> {
        let mut peaks = self.peaks;
        for (_, connection) in self.connections.values() {
            peaks.receive = peaks.receive.max(connection.peak_receive_memory());
        }
        Some(peaks)
    }
}
