//! The sans-IO node (`atbus_core::node::Node`) as a simulated endpoint: each link is a
//! transport, opened by the node with the lower id (the initiator) and accepted by the other.
//!
//! In *dialing* mode ([`NodeEndpoint::dialing`]) no transport opens with a link: each node
//! knows the others' discovery records and opens transports when it has something to send,
//! by route choice, as a real node would. A gateway address `udp://l3.sim:1` or
//! `tcp://l3.sim:1` names scenario link 3 ([`NodeEndpoint::link_address`]); a node dials
//! over a link when asked to connect to its address, and fails the attempt when the address
//! names no free link of its own. Records advertise each link's address for the link's
//! *second* node only, so that every link has one dialling side (two TCP connections between
//! the same nodes are two links).
//!
//! A datagram transport whose session closed (a partition outlasted the idle timeout) is opened
//! again at once, as an adapter's reconnect would: the initiator registers again, and the
//! responder accepts the first datagram on a link without a transport as a new one (as a UDP
//! socket sees a new source). Byte-stream transports come back when the simulator resets and
//! re-establishes the link.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

use bytes::{Bytes, BytesMut};

use atbus_core::Timestamp;
use atbus_core::discovery::{Discovery, GatewayAddress, Host, NodeRecord};
use atbus_core::node::{
    AttemptId, Node, NodeConfig, NodeEvent, NodeSendError, TransportId, TransportKind,
};

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
    /// What happened, for tests (shared: the simulator owns the endpoint).
    tally: Rc<RefCell<NodeTally>>,
    /// Transports open on demand (see the module docs).
    dialing: bool,
    /// Byte-stream links whose transport closed: unusable until the link is reset.
    spent: BTreeSet<LinkId>,
}

/// Counts of what a [`NodeEndpoint`]'s node reported, for tests to read after a run.
#[derive(Debug, Clone, Default)]
pub struct NodeTally {
    /// Messages handed back as not delivered (`SendFailed`).
    pub failed_messages: u64,
    /// Failed connect attempts (`ConnectFailed`).
    pub connect_failures: u64,
    /// Connect requests (`Connect`).
    pub connects: u64,
    /// Sessions that came up (`PeerUp`).
    pub peers_up: u64,
    /// Sessions that ended (`PeerDown`).
    pub peers_down: u64,
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
            tally: Rc::default(),
            dialing: false,
            spent: BTreeSet::new(),
        }
    }

    /// Node `me` in dialing mode (see the module docs): it knows `records` (every node's
    /// discovery record) and opens transports by route choice when it has something to send.
    pub fn dialing(
        me: NodeId,
        names: Vec<String>,
        mut config: NodeConfig,
        records: &[NodeRecord],
    ) -> Self {
        config.record = records.iter().find(|r| r.name == names[me.0]).cloned();
        let mut endpoint = Self::new(me, names, config);
        endpoint.dialing = true;
        for record in records {
            endpoint
                .node
                .discovery_mut()
                .put(record.clone())
                .expect("scenario records are valid");
        }
        endpoint
    }

    /// The gateway address that names scenario link `link` in dialing mode.
    pub fn link_address(link: usize, kind: LinkKind) -> String {
        let scheme = match kind {
            LinkKind::Datagram => "udp",
            LinkKind::ByteStream => "tcp",
        };
        format!("{scheme}://l{link}.sim:1")
    }

    /// The free link of ours that `address` names, if any.
    fn link_of(&self, address: &GatewayAddress) -> Option<LinkId> {
        let (host, kind) = match address {
            GatewayAddress::Udp { host, .. } => (host, LinkKind::Datagram),
            GatewayAddress::Tcp { host, .. } => (host, LinkKind::ByteStream),
            _ => return None,
        };
        let Host::Name(name) = host else { return None };
        let link = LinkId(name.strip_prefix('l')?.strip_suffix(".sim")?.parse().ok()?);
        let &(_, link_kind, transport) = self.links.get(&link)?;
        (link_kind == kind && transport.is_none() && !self.spent.contains(&link)).then_some(link)
    }

    /// Opens the transport of `attempt` over the link `address` names, or fails it.
    fn dial(&mut self, now: Timestamp, attempt: AttemptId, address: &GatewayAddress) {
        let Some(link) = self.link_of(address) else {
            self.node.handle_connect_failed(now, attempt);
            return;
        };
        if let Some(transport) = self.node.handle_connected(now, attempt) {
            if let Some(entry) = self.links.get_mut(&link) {
                entry.2 = Some(transport);
            }
            self.transports.insert(transport, link);
        }
    }

    /// The node.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// What the node reported, shared: clone it before handing the endpoint to the simulator.
    pub fn tally(&self) -> Rc<RefCell<NodeTally>> {
        self.tally.clone()
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
                        if entry.1 == LinkKind::ByteStream && self.dialing {
                            // A closed TCP connection stays closed.
                            self.spent.insert(link);
                        } else if entry.1 == LinkKind::Datagram
                            && self.me < entry.0
                            && !self.dialing
                        {
                            // The initiator of a datagram link reconnects at once.
                            self.open(now, link);
                        }
                    }
                }
                NodeEvent::SendFailed {
                    not_sent,
                    unacknowledged,
                    ..
                } => {
                    self.tally.borrow_mut().failed_messages +=
                        (not_sent.len() + unacknowledged.len()) as u64
                }
                NodeEvent::Connect {
                    attempt, address, ..
                } => {
                    self.tally.borrow_mut().connects += 1;
                    self.dial(now, attempt, &address)
                }
                NodeEvent::ConnectFailed { .. } => self.tally.borrow_mut().connect_failures += 1,
                NodeEvent::PeerUp { .. } => self.tally.borrow_mut().peers_up += 1,
                NodeEvent::PeerDown { .. } => self.tally.borrow_mut().peers_down += 1,
                NodeEvent::StreamFinished { .. } | NodeEvent::PeerWanted { .. } => {}
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
        self.spent.remove(&link);
        if !self.dialing {
            self.open(now, link);
        }
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
            // A datagram on a link without a transport: a peer registering again. In dialing
            // mode, the first bytes of a peer's connection too.
            None if kind == LinkKind::Datagram || (self.dialing && !self.spent.contains(&link)) => {
                if self.dialing {
                    let transport = self
                        .node
                        .handle_transport_accepted(now, transport_kind(kind));
                    if let Some(entry) = self.links.get_mut(&link) {
                        entry.2 = Some(transport);
                    }
                    self.transports.insert(transport, link);
                } else {
                    self.open(now, link);
                }
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
