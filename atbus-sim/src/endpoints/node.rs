//! The sans-IO node (`atbus_core::node::Node`) as a simulated endpoint: each link is a
//! transport, opened by the node with the lower id (the initiator) and accepted by the other.
//!
//! A datagram transport whose session closed (a partition outlasted the idle timeout) is opened
//! again at once, as an adapter's reconnect would: the initiator registers again, and the
//! responder accepts the first datagram on a link without a transport as a new one (as a UDP
//! socket sees a new source). Byte-stream transports come back when the simulator resets and
//! re-establishes the link.

use std::collections::{BTreeMap, VecDeque};

use bytes::{Bytes, BytesMut};

use atbus_core::Timestamp;
use atbus_core::node::{Node, NodeConfig, NodeEvent, NodeSendError, TransportId, TransportKind};

use crate::endpoint::{Endpoint, LinkId, LinkKind, NodeId, Received, SendError, Transmit};

/// One node of the bus, by name, on every link of its simulated node.
pub struct NodeEndpoint {
    node: Node,
    me: NodeId,
    /// Every scenario node's name, by id.
    names: Vec<String>,
    links: BTreeMap<LinkId, (NodeId, LinkKind, Option<TransportId>)>,
    transports: BTreeMap<TransportId, LinkId>,
    received: VecDeque<Received>,
    buffer: BytesMut,
    /// Messages the node handed back as not delivered (counted, for tests).
    failed: u64,
}

impl NodeEndpoint {
    /// Node `me` of a scenario whose nodes are called `names` (by id), with `config` (its name
    /// is replaced by `names[me]`).
    pub fn new(me: NodeId, names: Vec<String>, mut config: NodeConfig) -> Self {
        config.name = names[me.0].clone();
        config.seed ^= me.0 as u64;
        let node = Node::new(config).expect("scenario node names are valid node names");
        Self {
            node,
            me,
            names,
            links: BTreeMap::new(),
            transports: BTreeMap::new(),
            received: VecDeque::new(),
            buffer: BytesMut::with_capacity(64 * 1024),
            failed: 0,
        }
    }

    /// The node.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Messages the node reported as not delivered so far.
    pub fn failed_messages(&self) -> u64 {
        self.failed
    }

    fn open(&mut self, now: Timestamp, link: LinkId) {
        let Some(&(peer, kind, _)) = self.links.get(&link) else {
            return;
        };
        let kind = transport_kind(kind);
        let transport = if self.me < peer {
            self.node
                .handle_transport_connected(now, kind, Some(&self.names[peer.0]))
        } else {
            self.node.handle_transport_accepted(now, kind)
        };
        self.links
            .insert(link, (peer, link_kind(kind), Some(transport)));
        self.transports.insert(transport, link);
    }

    fn collect(&mut self, now: Timestamp) {
        while let Some(event) = self.node.poll_event() {
            match event {
                NodeEvent::Message { from, stream, data } => {
                    if let Some(from) = self.names.iter().position(|n| *n == from) {
                        self.received.push_back(Received {
                            from: NodeId(from),
                            stream: stream as u64,
                            payload: data,
                        });
                    }
                }
                NodeEvent::CloseTransport { transport, .. } => {
                    if let Some(link) = self.transports.remove(&transport)
                        && let Some(entry) = self.links.get_mut(&link)
                    {
                        entry.2 = None;
                        // The initiator of a datagram link reconnects at once.
                        if entry.1 == LinkKind::Datagram && self.me < entry.0 {
                            self.open(now, link);
                        }
                    }
                }
                NodeEvent::SendFailed {
                    not_sent,
                    unacknowledged,
                    ..
                } => self.failed += (not_sent.len() + unacknowledged.len()) as u64,
                NodeEvent::StreamFinished { .. }
                | NodeEvent::PeerUp { .. }
                | NodeEvent::PeerDown { .. }
                | NodeEvent::PeerWanted { .. } => {}
            }
        }
    }
}

fn transport_kind(kind: LinkKind) -> TransportKind {
    match kind {
        LinkKind::Datagram => TransportKind::Datagram,
        LinkKind::ByteStream => TransportKind::ByteStream,
    }
}

fn link_kind(kind: TransportKind) -> LinkKind {
    match kind {
        TransportKind::Datagram => LinkKind::Datagram,
        TransportKind::ByteStream => LinkKind::ByteStream,
    }
}

impl Endpoint for NodeEndpoint {
    fn handle_link_up(&mut self, now: Timestamp, link: LinkId, peer: NodeId, kind: LinkKind) {
        self.links.insert(link, (peer, kind, None));
        self.open(now, link);
        self.collect(now);
    }

    fn handle_link_down(&mut self, now: Timestamp, link: LinkId) {
        if let Some((_, _, Some(transport))) = self.links.remove(&link) {
            self.transports.remove(&transport);
            self.node.handle_transport_closed(now, transport);
        }
        self.collect(now);
    }

    fn handle_input(&mut self, now: Timestamp, link: LinkId, data: Bytes) {
        let Some(&(_, kind, transport)) = self.links.get(&link) else {
            return;
        };
        let transport = match transport {
            Some(t) => t,
            // A datagram on a link without a transport: a peer registering again.
            None if kind == LinkKind::Datagram => {
                self.open(now, link);
                match self.links.get(&link) {
                    Some((_, _, Some(t))) => *t,
                    _ => return,
                }
            }
            None => return,
        };
        self.node.handle_input(now, transport, data);
        self.collect(now);
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        self.node.handle_timeout(now);
        self.collect(now);
    }

    fn send_message(
        &mut self,
        now: Timestamp,
        to: NodeId,
        stream: u64,
        payload: Bytes,
    ) -> Result<(), SendError> {
        let name = self.names.get(to.0).ok_or(SendError::NoRoute(to))?.clone();
        let result = self.node.send(now, &name, stream as i64, payload);
        self.collect(now);
        result.map_err(|e| match e {
            NodeSendError::QueueFull { .. }
            | NodeSendError::Stream {
                source:
                    atbus_core::connection::SendError::Write(
                        atbus_core::stream::WriteError::Blocked { .. },
                    ),
                ..
            } => SendError::Full,
            other => SendError::Refused(other.to_string()),
        })
    }

    fn poll_transmit(&mut self, now: Timestamp) -> Option<Transmit> {
        loop {
            self.buffer.clear();
            let transport = self.node.poll_transmit(now, &mut self.buffer);
            self.collect(now);
            let transport = transport?;
            if let Some(&link) = self.transports.get(&transport) {
                return Some(Transmit {
                    link,
                    data: self.buffer.split().freeze(),
                });
            }
        }
    }

    fn poll_received(&mut self) -> Option<Received> {
        self.received.pop_front()
    }

    fn poll_timeout(&mut self) -> Option<Timestamp> {
        self.node.poll_timeout()
    }
}
