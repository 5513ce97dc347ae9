//! The sans-IO node: peers by name, sessions over several transports, events.
//!
//! A [`Node`] is the one object an adapter drives. It owns the local identity, the handshake
//! of every transport, the sessions with peers (each a
//! [`Session`]: one set of streams over one or more transports) and
//! the messages waiting for a session. It never touches a socket or a clock: the adapter opens
//! and closes transports, moves bytes, and keeps time.
//!
//! # Run loop
//!
//! ```text
//!   adapter                                node
//!   ───────                                ────
//!   opened a transport to a peer ───────▶  handle_transport_connected(now, kind, Some(peer))
//!   accepted a transport ───────────────▶  handle_transport_accepted(now, kind)
//!   bytes / a datagram arrived ─────────▶  handle_input(now, transport, data)
//!   the transport died ─────────────────▶  handle_transport_closed(now, transport)
//!   the timer fired ────────────────────▶  handle_timeout(now)
//!   the application sends ──────────────▶  send(now, to, stream, data)
//!   a Connect request was opened ───────▶  handle_connected(now, attempt)
//!                         ... or failed ─▶  handle_connect_failed(now, attempt)
//!   then, after every input (the drain rule):
//!     while let Some(t) = poll_transmit(now, &mut buf)   write buf to transport t
//!     while let Some(e) = poll_event()                   deliver e (Message, PeerUp, ...,
//!                                                        Connect, CloseTransport, ...)
//!     arm the timer at poll_timeout()
//! ```
//!
//! `atbus-core/examples/node_loop.rs` is this loop, complete, over blocking `std::net` TCP
//! sockets: two nodes, one thread each, no runtime.
//!
//! # Transports and sessions
//!
//! Every transport starts with the registration handshake ([`handshake`](crate::handshake)):
//! the side that opened it is the initiator, the other the responder. Once it is established
//! the transport becomes a path of the session with the peer's name: the first one creates the
//! session ([`NodeEvent::PeerUp`]), later ones join it (the initiator asks to join the session
//! id it already has with that peer), so one session may run over TCP and UDP at once and data
//! fails over between them without loss or duplication. A handshake that fails closes its
//! transport ([`NodeEvent::CloseTransport`]) with the typed reason, after the refusal went
//! out; nothing else is affected.
//!
//! # Sending
//!
//! - To the node itself: delivered as a [`NodeEvent::Message`] at once, no transport touched.
//! - To a peer with a session: onto its streams.
//! - To a peer without one: queued (at most [`NodeConfig::pending_messages`] messages and
//!   [`NodeConfig::pending_bytes`] bytes per peer, [`NodeSendError::QueueFull`] beyond) while
//!   the node dials the peer from its discovery view ([`NodeEvent::Connect`] per address, in
//!   route order, failing over to the next; see `dial.rs`), or, when discovery knows no direct
//!   route, asks its owner ([`NodeEvent::PeerWanted`]). The queue flushes into the session when
//!   it comes up; a dial that runs out of addresses hands it back.
//! - Two nodes that dial each other at once get one session (the lower name's registration
//!   wins; see `crossing.rs`).
//!
//! # Ending
//!
//! A session ends when its last transport closes (a path's idle timeout, a peer's close, the
//! adapter reporting the transport dead), when a handshake replaces it, or by
//! [`Node::close_peer`] (close frames first, so the peer ends its side at once). Every message that
//! was not acknowledged is handed back in [`NodeEvent::SendFailed`] — split into what the peer
//! cannot have and what it may have — then [`NodeEvent::PeerDown`] follows. Nothing is lost
//! silently.
//!
//! # Scale
//!
//! Sessions are filed by their next deadline, and only sessions that had input, a due timer or
//! a send are asked for transmits: between keep-alives an idle peer costs nothing (B6 in
//! `docs/BENCHMARKS.md`: 10,000 idle peers, 5.5 KB each on datagram links).
//!
//! # Not yet
//!
//! Relays (routes through them are not dialled: [`NodeEvent::PeerWanted`]) and authentication
//! beyond identity are later steps.

mod crossing;
mod dial;
mod events;
mod handshaking;
mod metrics;
mod output;

use handshaking::drain_handshake;
mod transport;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::Timestamp;
use crate::connection::{
    ConnectionConfig, PathId, SendError as StreamSendError, Session, SessionEvent,
};
use crate::discovery::{MemoryRegistry, NodeRecord, RouteOptions, check_node_name};
use crate::handshake::{
    DEFAULT_HANDSHAKE_DEADLINE, DuplicatePolicy, IdentityError, InstanceId, LocalIdentity,
    SessionId, SessionTable,
};
use crate::proto::CloseReason;

pub use dial::{AttemptId, transport_kind};
pub use events::{ConnectError, NodeEvent, NodeSendError};
pub use transport::{TransportId, TransportKind};

use transport::{Phase, Transport};

/// Settings of a node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The node's name (a Kubernetes DNS subdomain).
    pub name: String,
    /// Settings of every session's streams and paths.
    pub connection: ConnectionConfig,
    /// Seed of everything random the node needs (its instance id). Same seed, same node.
    pub seed: u64,
    /// What a responder does when a name already connected from another instance registers.
    pub duplicate_policy: DuplicatePolicy,
    /// How long a handshake may take (libatbus: 30 s).
    pub handshake_deadline: Duration,
    /// Messages per peer that may wait for a session.
    pub pending_messages: usize,
    /// Bytes per peer that may wait for a session (libatbus's send queue: 8 MiB).
    pub pending_bytes: u64,
    /// The node's own discovery record (its host and metadata decide which gateways of other
    /// nodes it may use); `None`: a record with the name only.
    pub record: Option<NodeRecord>,
    /// Route choice settings.
    pub route: RouteOptions,
    /// How long an attempt to open a transport may take, handshake included, before the next
    /// address is tried.
    pub connect_timeout: Duration,
}

impl NodeConfig {
    /// The defaults for a node called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            connection: ConnectionConfig::default(),
            seed: 0,
            duplicate_policy: DuplicatePolicy::Refuse,
            handshake_deadline: DEFAULT_HANDSHAKE_DEADLINE,
            pending_messages: 1_024,
            pending_bytes: 8 * 1024 * 1024,
            record: None,
            route: RouteOptions::default(),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A session with a peer.
#[derive(Debug)]
struct Peer {
    /// The peer's name, shared with the node's timer and activity sets (no copies).
    name: Arc<str>,
    session: Session,
    session_id: SessionId,
    /// The peer's instance (its current run).
    instance: InstanceId,
    /// Until when a registration of the peer that asks for a new session joins this one
    /// instead: set when our own registration created it (see `crossing.rs`).
    adopt_until: Option<Timestamp>,
    transports: BTreeSet<TransportId>,
    /// The session's next timeout, as filed in `Node::timers`.
    deadline: Option<Timestamp>,
}

/// Messages waiting for a session with a peer.
#[derive(Debug, Default)]
struct Pending {
    messages: VecDeque<(i64, Bytes)>,
    bytes: u64,
}

/// A node (see the module docs).
#[derive(Debug)]
pub struct Node {
    config: NodeConfig,
    identity: LocalIdentity,
    table: SessionTable,
    transports: BTreeMap<TransportId, Transport>,
    next_transport: u64,
    peers: BTreeMap<String, Peer>,
    pending: BTreeMap<String, Pending>,
    events: VecDeque<NodeEvent>,
    /// Sessions by their next timeout: the node finds what is due without looking at the
    /// others (an idle peer costs nothing until its keep-alive).
    timers: BTreeSet<(Timestamp, Arc<str>)>,
    /// Sessions that may have something to send (after input, a timeout or a send); one that
    /// has nothing leaves the set when polled.
    active: BTreeSet<Arc<str>>,
    /// Transports with handshake frames to send, or closing.
    outbox_ready: BTreeSet<TransportId>,
    /// Handshake timers by deadline (a transport's filed deadline is in `handshake_deadline`).
    handshake_timers: BTreeSet<(Timestamp, TransportId)>,
    handshake_deadline: BTreeMap<TransportId, Timestamp>,
    /// The node's own record, for route choice.
    record: NodeRecord,
    /// What the node knows of other nodes (the owner keeps it current).
    discovery: MemoryRegistry,
    /// Transports being opened on demand.
    dialer: dial::Dialer,
    metrics: metrics::MetricsLedger,
}

impl Node {
    /// A node with `config`; refused when the name is not a valid node name.
    pub fn new(config: NodeConfig) -> Result<Self, IdentityError> {
        let identity = LocalIdentity::new(
            config.name.clone(),
            InstanceId::from_random(mix(config.seed)),
        )?;
        let table = SessionTable::new(identity.instance(), config.duplicate_policy);
        let mut record = config
            .record
            .clone()
            .unwrap_or_else(|| NodeRecord::new(config.name.clone()));
        record.name = config.name.clone();
        Ok(Self {
            config,
            identity,
            table,
            transports: BTreeMap::new(),
            next_transport: 1,
            peers: BTreeMap::new(),
            pending: BTreeMap::new(),
            events: VecDeque::new(),
            timers: BTreeSet::new(),
            active: BTreeSet::new(),
            outbox_ready: BTreeSet::new(),
            handshake_timers: BTreeSet::new(),
            handshake_deadline: BTreeMap::new(),
            record,
            discovery: MemoryRegistry::new(),
            dialer: dial::Dialer::default(),
            metrics: Default::default(),
        })
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        self.identity.name()
    }

    /// The peers with a session, by name.
    pub fn peers(&self) -> impl Iterator<Item = &str> {
        self.peers.keys().map(String::as_str)
    }

    /// The session with `peer`, if there is one.
    pub fn session(&self, peer: &str) -> Option<&Session> {
        self.peers.get(peer).map(|p| &p.session)
    }

    /// What the node knows of other nodes, for route choice.
    pub fn discovery(&self) -> &MemoryRegistry {
        &self.discovery
    }

    /// The discovery view to keep current (records put and deleted as the owner's discovery
    /// backend reports them). A change affects the dials that start after it.
    pub fn discovery_mut(&mut self) -> &mut MemoryRegistry {
        &mut self.discovery
    }

    /// Peers that messages wait for (no session yet).
    pub fn waiting_peers(&self) -> impl Iterator<Item = &str> {
        self.pending.keys().map(String::as_str)
    }

    /// Transports the node knows (handshaking or bound).
    pub fn transport_count(&self) -> usize {
        self.transports.len()
    }

    // ----- transports -----

    /// Files the session with `name` again under its next timeout.
    fn reschedule(&mut self, name: &str) {
        let Some(p) = self.peers.get_mut(name) else {
            return;
        };
        let next = p.session.poll_timeout();
        if next == p.deadline {
            return;
        }
        if let Some(old) = p.deadline {
            self.timers.remove(&(old, p.name.clone()));
        }
        if let Some(next) = next {
            self.timers.insert((next, p.name.clone()));
        }
        p.deadline = next;
    }

    /// The session with `name` changed: it may have something to send, and its timers moved.
    fn touch(&mut self, name: &str) {
        if let Some(p) = self.peers.get(name) {
            if !self.active.contains(name) {
                self.active.insert(p.name.clone());
            }
            self.collect_session(name);
        }
    }

    /// The transport died (closed by the peer, a socket error): what it carried goes on the
    /// session's other transports; a session left without any ends, unless a transport of ours
    /// is registering to join it (it then waits for that handshake).
    pub fn handle_transport_closed(&mut self, now: Timestamp, transport: TransportId) {
        let Some(t) = self.forget_transport(transport) else {
            return;
        };
        self.transport_failed(now, transport, ConnectError::Closed);
        if let Phase::Initiating(initiator) = &t.phase
            && let Some(peer) = initiator.expected_peer()
        {
            self.release_held(now, peer);
            // A session kept for this join (its other transports died meanwhile) is over.
            if self.is_orphaned(peer) {
                self.end_peer(peer, CloseReason::Unknown);
            }
        }
        if let Phase::Bound { peer, .. } = t.phase {
            if let Some(p) = self.peers.get_mut(&peer) {
                if let Some(path) = p.session.remove_path(PathId(transport.0)) {
                    self.metrics.path_ended(&peer, &path, CloseReason::Unknown);
                }
                p.transports.remove(&transport);
            }
            self.collect_session(&peer);
            // A transport registering to join the session keeps it: the peer may have bound
            // that transport already (its answer lost on the way), and our streams resume on
            // it once our handshake completes. Otherwise nothing can carry the session.
            if self.is_orphaned(&peer) {
                self.end_peer(&peer, CloseReason::Unknown);
            }
        } else if !matches!(t.phase, Phase::Closing(_)) {
            self.metrics.registration_abandoned();
        }
    }

    /// Bytes (a byte stream) or a datagram arrived on `transport`.
    pub fn handle_input(&mut self, now: Timestamp, transport: TransportId, data: Bytes) {
        let Some(t) = self.transports.get_mut(&transport) else {
            return;
        };
        if matches!(t.phase, Phase::Initiating(_) | Phase::Responding(_)) {
            return self.handshake_input(now, transport, data);
        }
        match &mut t.phase {
            Phase::Closing(_)
            | Phase::Deferred { .. }
            | Phase::Initiating(_)
            | Phase::Responding(_) => {}
            Phase::Bound { peer, responder } => {
                let peer = peer.clone();
                let path = PathId(transport.0);
                if let Some(p) = self.peers.get_mut(&peer) {
                    match t.kind {
                        TransportKind::Datagram => p.session.handle_datagram(path, now, data),
                        TransportKind::ByteStream => p.session.handle_bytes(path, now, data),
                    }
                    // Once the peer acknowledged a packet of ours here, its handshake on this
                    // transport is over: nothing more to answer.
                    let mut done = false;
                    if responder.is_some()
                        && p.session.path(path).is_some_and(|x| x.peer_acknowledged())
                    {
                        *responder = None;
                        p.session.keep_handshake_frames(path, false);
                        done = true;
                    }
                    if let Some(r) = responder {
                        // A repeated register whose answer was lost is answered again (the
                        // path kept its frames: each datagram is decoded once).
                        for frame in p.session.take_handshake_frames(path) {
                            let _ = r.handle_frame(now, &frame, &mut self.table);
                        }
                        drain_handshake(t, &self.config.connection);
                        if !t.outbox.is_empty() {
                            self.outbox_ready.insert(transport);
                        }
                    }
                    if done {
                        // Its handshake deadline goes with it.
                        self.note_transport(transport);
                    }
                }
                self.touch(&peer);
            }
        }
    }

    // ----- application commands -----

    /// Sends `data` to the node `to` on `stream`: delivered locally when `to` is this node,
    /// onto the session when there is one, queued (and a transport asked for) otherwise.
    pub fn send(
        &mut self,
        now: Timestamp,
        to: &str,
        stream: i64,
        data: Bytes,
    ) -> Result<(), NodeSendError> {
        if to == self.identity.name() {
            self.events.push_back(NodeEvent::Message {
                from: to.to_owned(),
                stream,
                data,
            });
            return Ok(());
        }
        if let Some(peer) = self.peers.get_mut(to) {
            let result =
                peer.session
                    .send(stream, data, None)
                    .map_err(|source| NodeSendError::Stream {
                        peer: to.to_owned(),
                        source,
                    });
            self.touch(to);
            return result;
        }
        if check_node_name(to, "to").is_err() {
            return Err(NodeSendError::InvalidName(to.to_owned()));
        }
        let (limit_messages, limit_bytes) =
            (self.config.pending_messages, self.config.pending_bytes);
        let first = !self.pending.contains_key(to);
        let pending = self.pending.entry(to.to_owned()).or_default();
        if pending.messages.len() >= limit_messages
            || pending.bytes + data.len() as u64 > limit_bytes
        {
            return Err(NodeSendError::QueueFull {
                peer: to.to_owned(),
                queued: pending.messages.len(),
                bytes: pending.bytes,
            });
        }
        pending.bytes += data.len() as u64;
        pending.messages.push_back((stream, data));
        if first {
            self.want_peer(now, to);
        }
        Ok(())
    }

    /// Ends `stream` towards `to` after the messages already sent on it.
    pub fn finish(&mut self, to: &str, stream: i64) -> Result<(), NodeSendError> {
        let peer = self
            .peers
            .get_mut(to)
            .ok_or_else(|| NodeSendError::Stream {
                peer: to.to_owned(),
                source: StreamSendError::Closed,
            })?;
        let result = peer
            .session
            .finish(stream)
            .map_err(|source| NodeSendError::Stream {
                peer: to.to_owned(),
                source,
            });
        self.touch(to);
        result
    }

    /// The owner is done with messages from `peer`, `bytes` in all, `count` of them (see
    /// [`ConnectionConfig::hold_delivered`]): the session's streams may be granted that much
    /// again. Releases are per peer: after a session was replaced, releasing the old one's
    /// messages credits the new one (at most by what the old one held), and a peer without a
    /// session (or the node itself) ignores them.
    pub fn release(&mut self, peer: &str, bytes: u64, count: u64) {
        if let Some(p) = self.peers.get_mut(peer) {
            p.session.release(bytes, count);
            self.touch(peer);
        }
    }

    /// Ends the session with `peer`, and stops dialling it: a close frame goes out on each of
    /// its transports, which then close ([`NodeEvent::CloseTransport`]); its unacknowledged
    /// messages, and those waiting for a session, come back in [`NodeEvent::SendFailed`].
    pub fn close_peer(&mut self, now: Timestamp, peer: &str) {
        self.cancel_dial(peer);
        let mut farewell: BTreeMap<TransportId, Vec<Bytes>> = BTreeMap::new();
        if let Some(p) = self.peers.get_mut(peer) {
            p.session.close(CloseReason::Shutdown);
            let mut buf = BytesMut::new();
            while let Some((path, _)) = p.session.poll_transmit(now, &mut buf) {
                farewell
                    .entry(TransportId(path.0))
                    .or_default()
                    .push(buf.split().freeze());
            }
        }
        self.end_peer_with(peer, CloseReason::Shutdown, farewell, false);
    }

    /// [`close_peer`](Self::close_peer) for every peer with a session or waiting messages:
    /// the node's shutdown.
    pub fn close_all(&mut self, now: Timestamp) {
        let names: BTreeSet<String> = self
            .peers
            .keys()
            .chain(self.pending.keys())
            .chain(self.dialer.dials.keys())
            .cloned()
            .collect();
        for name in names {
            self.close_peer(now, &name);
        }
    }

    /// The owner's transport `transport` can (`true`) or cannot (`false`) take more bytes now,
    /// like a full socket buffer. The node writes nothing on a transport that cannot; a
    /// session's other transports take its data meanwhile.
    pub fn set_transport_writable(&mut self, transport: TransportId, writable: bool) {
        let Some(Transport {
            phase: Phase::Bound { peer, .. },
            ..
        }) = self.transports.get(&transport)
        else {
            return;
        };
        let peer = peer.clone();
        if let Some(p) = self.peers.get_mut(&peer) {
            p.session.set_path_blocked(PathId(transport.0), !writable);
        }
        self.touch(&peer);
    }

    /// Ends the session with `peer`: every transport closes, every message not acknowledged is
    /// handed back, and the peer is reported down.
    fn end_peer(&mut self, peer: &str, reason: CloseReason) {
        self.end_peer_with(peer, reason, BTreeMap::new(), false);
    }

    /// [`end_peer`](Self::end_peer) for a session the peer no longer has, replaced by a new
    /// one: the messages it never sent whole (the peer cannot have them) wait for the new
    /// session like messages sent before any (`pending`); only the unacknowledged come back.
    pub(super) fn end_peer_carrying_unsent(&mut self, peer: &str, reason: CloseReason) {
        self.end_peer_with(peer, reason, BTreeMap::new(), true);
    }

    /// [`end_peer`](Self::end_peer), with last frames to send on some transports before they
    /// close.
    fn end_peer_with(
        &mut self,
        peer: &str,
        reason: CloseReason,
        mut farewell: BTreeMap<TransportId, Vec<Bytes>>,
        carry_unsent: bool,
    ) {
        let mut not_sent = Vec::new();
        let mut unacknowledged = Vec::new();
        if let Some(mut p) = self.peers.remove(peer) {
            self.metrics.session_ended(peer, &p.session, reason);
            self.table.remove(peer, p.session_id);
            if let Some(deadline) = p.deadline {
                self.timers.remove(&(deadline, p.name.clone()));
            }
            self.active.remove(peer);
            for transport in std::mem::take(&mut p.transports) {
                // It closes once its last frames (if any) went out: see `poll_transmit`.
                if let Some(t) = self.transports.get_mut(&transport) {
                    t.phase = Phase::Closing(reason);
                    t.outbox
                        .extend(farewell.remove(&transport).unwrap_or_default());
                    self.note_transport(transport);
                }
            }
            let streams: Vec<i64> = p.session.streams().stream_ids().collect();
            for stream in streams {
                if let Ok(abandoned) = p.session.reset_stream(stream) {
                    not_sent.extend(abandoned.unsent.into_iter().map(|(d, _)| (stream, d)));
                    unacknowledged.extend(
                        abandoned
                            .unacknowledged
                            .into_iter()
                            .map(|(d, _)| (stream, d)),
                    );
                }
            }
            push_session_events(&mut self.events, peer, &mut p.session);
            self.events.push_back(NodeEvent::PeerDown {
                peer: peer.to_owned(),
                reason,
            });
        }
        if let Some(pending) = self.pending.remove(peer) {
            not_sent.extend(pending.messages);
        }
        if carry_unsent && !not_sent.is_empty() {
            let pending = self.pending.entry(peer.to_owned()).or_default();
            pending.bytes += not_sent.iter().map(|(_, d)| d.len() as u64).sum::<u64>();
            pending.messages.extend(not_sent.drain(..));
        }
        if !not_sent.is_empty() || !unacknowledged.is_empty() {
            self.events.push_back(NodeEvent::SendFailed {
                peer: peer.to_owned(),
                reason,
                not_sent,
                unacknowledged,
            });
        }
    }
}

/// Moves the messages and stream ends of `session` (the peer `name`'s) to `events`; returns
/// the paths that closed.
fn push_session_events(
    events: &mut VecDeque<NodeEvent>,
    name: &str,
    session: &mut Session,
) -> Vec<(PathId, CloseReason)> {
    let mut closed = Vec::new();
    while let Some(event) = session.poll_event() {
        match event {
            SessionEvent::Message { stream, data, .. } => events.push_back(NodeEvent::Message {
                from: name.to_owned(),
                stream,
                data,
            }),
            SessionEvent::StreamFinished { stream } => {
                events.push_back(NodeEvent::StreamFinished {
                    from: name.to_owned(),
                    stream,
                })
            }
            SessionEvent::PathClosed { path, reason } => closed.push((path, reason)),
        }
    }
    closed
}

/// SplitMix64: spreads a small seed over 64 bits.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod metrics_tests;
#[cfg(test)]
mod tests;
