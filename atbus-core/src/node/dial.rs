//! Opening transports on demand: route choice from the node's discovery view, connect requests
//! to the owner, and failover across a peer's alternative addresses.
//!
//! # State machine
//!
//! ```text
//!   send to P (no session, no transport to P registering, no dial of P)
//!     │ choose_route(local record, P, discovery view)
//!     ├─ no record of P, or no direct route ──▶ PeerWanted{P}: the owner resolves it
//!     └─ direct routes ──▶ Dial{P, addresses in route order}
//!                            │
//!                            ▼
//!   attempt: requested ──handle_connected──▶ registering ──handshake done──▶ bound: dial ends
//!     (Connect{attempt, P, address})             │
//!       │ handle_connect_failed                  │ handshake refused or timed out, transport
//!       │ connect_timeout                        │ closed, connect_timeout
//!       ▼                                        ▼
//!     ConnectFailed{attempt, P, address, error} ──▶ the dial's next address (a new attempt)
//!                                                   none left ──▶ SendFailed{P, queued messages}
//! ```
//!
//! # Invariants
//!
//! - A dial has at most one attempt in flight, and addresses are tried in the order route
//!   choice gave them (preferred gateways first, memory before Unix before network), each once.
//! - Every attempt ends exactly once: bound, or [`NodeEvent::ConnectFailed`] with a typed
//!   [`ConnectError`]. An attempt that is neither bound nor failed by its `connect_timeout`
//!   fails then, and its transport (if any) is closed.
//! - A dial ends when the peer has a session, however it came up (this dial's attempt, a
//!   transport the peer opened, one the owner opened), or when its addresses are used up; then
//!   the messages that waited are handed back in [`NodeEvent::SendFailed`], never dropped.
//! - Routes through relays are not dialled yet (relays are a later step): a peer reachable
//!   only through relays is a [`NodeEvent::PeerWanted`].

use std::collections::BTreeMap;

use super::events::ConnectError;
use super::{Node, NodeEvent, TransportId, TransportKind};
use crate::Timestamp;
use crate::discovery::{GatewayAddress, Transport as AddressTransport, choose_route};
use crate::proto::CloseReason;

/// One attempt to open a transport to an address, named by the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttemptId(pub u64);

/// An attempt in flight.
#[derive(Debug)]
pub(super) struct Attempt {
    /// Whom the transport should reach, when known.
    pub peer: Option<String>,
    pub address: GatewayAddress,
    /// Once the owner opened it.
    pub transport: Option<TransportId>,
    /// When it fails if not bound.
    pub deadline: Timestamp,
}

/// A peer being dialled: its addresses and where the node is in them.
#[derive(Debug)]
pub(super) struct Dial {
    addresses: Vec<GatewayAddress>,
    next: usize,
    /// The attempt in flight, if any.
    current: Option<AttemptId>,
    /// Why the last attempt failed.
    last_error: Option<ConnectError>,
}

/// The dials and attempts of a node.
#[derive(Debug, Default)]
pub(super) struct Dialer {
    pub dials: BTreeMap<String, Dial>,
    pub attempts: BTreeMap<AttemptId, Attempt>,
    /// Attempts by their transport, until it is bound.
    pub by_transport: BTreeMap<TransportId, AttemptId>,
    /// Attempts by deadline.
    pub timers: std::collections::BTreeSet<(Timestamp, AttemptId)>,
    next: u64,
}

/// The kind of transport an address opens.
pub fn transport_kind(address: &GatewayAddress) -> TransportKind {
    match address.transport() {
        AddressTransport::Udp => TransportKind::Datagram,
        AddressTransport::Memory
        | AddressTransport::Unix
        | AddressTransport::Tcp
        | AddressTransport::Unknown => TransportKind::ByteStream,
    }
}

impl Node {
    /// Asks the owner to open a transport to `address` ([`NodeEvent::Connect`]), expected to
    /// reach `expected_peer` when given (a node with another name then fails the handshake).
    /// The owner answers with [`handle_connected`](Self::handle_connected) or
    /// [`handle_connect_failed`](Self::handle_connect_failed).
    pub fn connect(
        &mut self,
        now: Timestamp,
        address: GatewayAddress,
        expected_peer: Option<&str>,
    ) -> AttemptId {
        let id = AttemptId(self.dialer.next);
        self.dialer.next += 1;
        let deadline = now + self.config.connect_timeout;
        self.dialer.attempts.insert(
            id,
            Attempt {
                peer: expected_peer.map(str::to_owned),
                address: address.clone(),
                transport: None,
                deadline,
            },
        );
        self.dialer.timers.insert((deadline, id));
        self.events.push_back(NodeEvent::Connect {
            attempt: id,
            peer: expected_peer.map(str::to_owned),
            address,
        });
        id
    }

    /// The owner opened the transport of `attempt`; the node registers on it. `None` when the
    /// attempt is no longer wanted (it timed out): the owner closes what it opened.
    pub fn handle_connected(&mut self, now: Timestamp, attempt: AttemptId) -> Option<TransportId> {
        let a = self.dialer.attempts.get(&attempt)?;
        if a.transport.is_some() {
            return None;
        }
        let kind = transport_kind(&a.address);
        let peer = a.peer.clone();
        let transport = self.handle_transport_connected(now, kind, peer.as_deref());
        if let Some(a) = self.dialer.attempts.get_mut(&attempt) {
            a.transport = Some(transport);
            self.dialer.by_transport.insert(transport, attempt);
        }
        Some(transport)
    }

    /// The owner could not open the transport of `attempt` (refused, unreachable, no such
    /// socket): the dial it belongs to tries its next address.
    pub fn handle_connect_failed(&mut self, now: Timestamp, attempt: AttemptId) {
        if self
            .dialer
            .attempts
            .get(&attempt)
            .is_some_and(|a| a.transport.is_none())
        {
            self.fail_attempt(now, attempt, ConnectError::Unreachable);
        }
    }

    /// A message waits for `peer` and nothing is under way to reach it: dial it from the
    /// discovery view, or ask the owner.
    pub(super) fn want_peer(&mut self, now: Timestamp, peer: &str) {
        if self.dialer.dials.contains_key(peer) || self.registering_to(peer) {
            return;
        }
        let addresses: Vec<GatewayAddress> =
            match choose_route(&self.record, peer, &self.discovery, &self.config.route) {
                Ok(choice) => {
                    let mut addresses = Vec::new();
                    for route in choice.routes().iter().filter(|r| r.is_direct()) {
                        for address in &route.next_hop().addresses {
                            if !addresses.contains(address) {
                                addresses.push(address.clone());
                            }
                        }
                    }
                    addresses
                }
                Err(_) => Vec::new(),
            };
        if addresses.is_empty() {
            self.events.push_back(NodeEvent::PeerWanted {
                peer: peer.to_owned(),
            });
            return;
        }
        self.dialer.dials.insert(
            peer.to_owned(),
            Dial {
                addresses,
                next: 0,
                current: None,
                last_error: None,
            },
        );
        self.dial_next(now, peer);
    }

    /// Starts the next attempt of `peer`'s dial, or ends the dial when none is left.
    fn dial_next(&mut self, now: Timestamp, peer: &str) {
        let Some(dial) = self.dialer.dials.get_mut(peer) else {
            return;
        };
        if let Some(address) = dial.addresses.get(dial.next).cloned() {
            dial.next += 1;
            let attempt = self.connect(now, address, Some(peer));
            if let Some(dial) = self.dialer.dials.get_mut(peer) {
                dial.current = Some(attempt);
            }
            return;
        }
        let error = dial.last_error.unwrap_or(ConnectError::Unreachable);
        self.dialer.dials.remove(peer);
        if let Some(pending) = self.pending.remove(peer) {
            self.events.push_back(NodeEvent::SendFailed {
                peer: peer.to_owned(),
                reason: error.close_reason(),
                not_sent: pending.messages.into(),
                unacknowledged: Vec::new(),
            });
        }
    }

    /// `attempt` failed: the owner hears why, the transport (if any) closes, and its dial goes
    /// on with the next address.
    pub(super) fn fail_attempt(&mut self, now: Timestamp, attempt: AttemptId, error: ConnectError) {
        let Some(a) = self.drop_attempt(attempt, error.close_reason()) else {
            return;
        };
        self.events.push_back(NodeEvent::ConnectFailed {
            attempt,
            peer: a.peer.clone(),
            address: a.address,
            error,
        });
        let Some(peer) = a.peer else { return };
        self.release_held(now, &peer);
        if let Some(dial) = self.dialer.dials.get_mut(&peer)
            && dial.current == Some(attempt)
        {
            dial.current = None;
            dial.last_error = Some(error);
            if !self.peers.contains_key(&peer) {
                self.dial_next(now, &peer);
            }
        }
    }

    /// The handshake on `transport` failed before it was bound: its attempt (if any) failed.
    pub(super) fn transport_failed(
        &mut self,
        now: Timestamp,
        transport: TransportId,
        error: ConnectError,
    ) {
        if let Some(attempt) = self.dialer.by_transport.get(&transport).copied() {
            self.fail_attempt(now, attempt, error);
        }
    }

    /// `transport` was bound to the session with `peer`: its attempt succeeded, and the dial
    /// of `peer` (whichever transport brought the session) is over.
    pub(super) fn dial_bound(&mut self, transport: TransportId, peer: &str) {
        if let Some(attempt) = self.dialer.by_transport.remove(&transport)
            && let Some(a) = self.dialer.attempts.remove(&attempt)
        {
            self.dialer.timers.remove(&(a.deadline, attempt));
        }
        self.dialer.dials.remove(peer);
    }

    /// Stops dialling `peer`: its attempt in flight is dropped (its transport, if any, closes;
    /// the owner's late answer to it gets `None`).
    pub(super) fn cancel_dial(&mut self, peer: &str) {
        let Some(dial) = self.dialer.dials.remove(peer) else {
            return;
        };
        if let Some(attempt) = dial.current {
            self.drop_attempt(attempt, CloseReason::Shutdown);
        }
    }

    /// Forgets `attempt` and its timer; its transport, if it has one, closes with `reason`.
    fn drop_attempt(&mut self, attempt: AttemptId, reason: CloseReason) -> Option<Attempt> {
        let a = self.dialer.attempts.remove(&attempt)?;
        self.dialer.timers.remove(&(a.deadline, attempt));
        if let Some(transport) = a.transport {
            self.dialer.by_transport.remove(&transport);
            if self.forget_transport(transport).is_some() {
                self.events
                    .push_back(NodeEvent::CloseTransport { transport, reason });
            }
        }
        Some(a)
    }

    /// Attempts past their deadline fail.
    pub(super) fn attempt_timeouts(&mut self, now: Timestamp) {
        while let Some(&(at, attempt)) = self.dialer.timers.first() {
            if at > now {
                break;
            }
            self.fail_attempt(now, attempt, ConnectError::TimedOut);
        }
    }
}
