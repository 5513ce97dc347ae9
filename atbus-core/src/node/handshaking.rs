//! The node's transports while they register: opening and accepting them, the handshake on
//! each, and binding an established one to the session with its peer.

use std::collections::{BTreeSet, VecDeque};

use bytes::{Bytes, BytesMut};

use super::crossing::{Crossing, MAX_HELD_FRAMES};
use super::transport::{Phase, Transport};
use super::{ConnectError, Node, NodeEvent, Peer, TransportId, TransportKind};
use crate::Timestamp;
use crate::connection::{ConnectionConfig, Path, PathId, Session};
use crate::frame::{DatagramDecoder, StreamDecoder, encode_frame};
use crate::handshake::{
    Established, Initiator, InitiatorOptions, LiveSession, NoAuthentication, Responder,
};
use crate::proto::CloseReason;

impl Node {
    /// The owner opened a transport, meant to reach `expected_peer` when it knows whom (a
    /// responder with another name then fails the handshake). The node registers on it.
    pub fn handle_transport_connected(
        &mut self,
        now: Timestamp,
        kind: TransportKind,
        expected_peer: Option<&str>,
    ) -> TransportId {
        if let Some(peer) = expected_peer
            && !self.peers.contains_key(peer)
            && self.registering_to(peer)
        {
            return self.add_transport(
                kind,
                Phase::Deferred {
                    peer: peer.to_owned(),
                },
            );
        }
        let initiator = self.initiator(now, kind, expected_peer);
        self.add_transport(kind, Phase::Initiating(Box::new(initiator)))
    }

    /// An initiator for a transport of `kind` to `expected_peer`; a second transport to a peer
    /// joins the session it already has.
    pub(super) fn initiator(
        &self,
        now: Timestamp,
        kind: TransportKind,
        expected_peer: Option<&str>,
    ) -> Initiator {
        let mut options = match kind {
            TransportKind::Datagram => InitiatorOptions::datagram(),
            TransportKind::ByteStream => InitiatorOptions::default(),
        };
        options.deadline = self.config.handshake_deadline;
        options.expected_peer = expected_peer.map(str::to_owned);
        options.join = expected_peer
            .and_then(|p| self.peers.get(p))
            .map(|p| p.session_id);
        Initiator::new(&self.identity, options, Box::new(NoAuthentication), now)
    }

    /// Whether one of our transports to `peer` is registering.
    pub(super) fn registering_to(&self, peer: &str) -> bool {
        self.transports.values().any(|t| match &t.phase {
            Phase::Initiating(initiator) => initiator.expected_peer() == Some(peer),
            _ => false,
        })
    }

    /// Starts the registration of transports deferred for `peer`: all of them when `peer` has
    /// a session (they join it), else the first (it starts one, the others wait for it).
    pub(super) fn start_deferred(&mut self, now: Timestamp, peer: &str) {
        let waiting: Vec<TransportId> = self
            .transports
            .iter()
            .filter(|(_, t)| matches!(&t.phase, Phase::Deferred { peer: p } if p == peer))
            .map(|(id, _)| *id)
            .collect();
        let all = self.peers.contains_key(peer);
        for id in waiting.into_iter().take(if all { usize::MAX } else { 1 }) {
            let kind = self.transports[&id].kind;
            let initiator = self.initiator(now, kind, Some(peer));
            let t = self.transports.get_mut(&id).expect("listed above");
            t.phase = Phase::Initiating(Box::new(initiator));
            drain_handshake(t, &self.config.connection);
            self.note_transport(id);
        }
    }

    /// The owner accepted a transport (a TCP connection, a new UDP source). The node waits for
    /// the peer's registration on it.
    pub fn handle_transport_accepted(
        &mut self,
        now: Timestamp,
        kind: TransportKind,
    ) -> TransportId {
        let responder = Responder::new(
            &self.identity,
            self.config.handshake_deadline,
            Box::new(NoAuthentication),
            now,
        );
        self.add_transport(kind, Phase::Responding(Box::new(responder)))
    }

    pub(super) fn add_transport(&mut self, kind: TransportKind, phase: Phase) -> TransportId {
        let id = TransportId(self.next_transport);
        self.next_transport += 1;
        let decoder = (kind == TransportKind::ByteStream)
            .then(|| StreamDecoder::new(self.config.connection.frame_limits));
        let mut transport = Transport {
            kind,
            phase,
            decoder,
            outbox: VecDeque::new(),
            inbox: VecDeque::new(),
            holding: false,
        };
        drain_handshake(&mut transport, &self.config.connection);
        self.transports.insert(id, transport);
        self.note_transport(id);
        id
    }

    /// Files a transport's state after a change: whether it has frames to send (or is
    /// closing), and whether its handshake has a timer.
    pub(super) fn note_transport(&mut self, id: TransportId) {
        let (ready, next) = match self.transports.get(&id) {
            Some(t) => (
                !t.outbox.is_empty() || matches!(t.phase, Phase::Closing(_)),
                t.poll_timeout(),
            ),
            None => (false, None),
        };
        if ready {
            self.outbox_ready.insert(id);
        } else {
            self.outbox_ready.remove(&id);
        }
        let filed = self.handshake_deadline.get(&id).copied();
        if filed != next {
            if let Some(old) = filed {
                self.handshake_timers.remove(&(old, id));
                self.handshake_deadline.remove(&id);
            }
            if let Some(next) = next {
                self.handshake_timers.insert((next, id));
                self.handshake_deadline.insert(id, next);
            }
        }
    }

    /// Forgets a transport.
    pub(super) fn forget_transport(&mut self, id: TransportId) -> Option<Transport> {
        let transport = self.transports.remove(&id);
        self.note_transport(id);
        transport
    }

    /// Input on a transport whose handshake runs.
    pub(super) fn handshake_input(&mut self, now: Timestamp, id: TransportId, data: Bytes) {
        let limits = self.config.connection.frame_limits;
        let Some(t) = self.transports.get_mut(&id) else {
            return;
        };
        match t.kind {
            TransportKind::Datagram => {
                let mut decoded = Vec::new();
                if DatagramDecoder::new(limits)
                    .decode(data, &mut decoded)
                    .is_ok()
                {
                    t.inbox.extend(decoded.into_iter().map(|f| f.message));
                }
            }
            TransportKind::ByteStream => {
                if let Some(decoder) = &mut t.decoder {
                    decoder.feed(&data);
                }
            }
        }
        if t.holding {
            // Resent registrations pile up while held: a few are plenty.
            t.inbox.truncate(MAX_HELD_FRAMES);
            return;
        }
        self.run_handshake(now, id);
    }

    /// Feeds the transport's received frames to its handshake, one at a time, until they run
    /// out, the handshake ends, or the inbox is held.
    pub(super) fn run_handshake(&mut self, now: Timestamp, id: TransportId) {
        let mut broken = None;
        loop {
            let Some(t) = self.transports.get_mut(&id) else {
                return;
            };
            // Byte streams: one frame at a time, so that the bytes after the handshake stay in
            // the decoder for the path.
            let frame = match (t.inbox.pop_front(), &mut t.decoder) {
                (Some(frame), _) => Some(frame),
                (None, Some(decoder)) => match decoder.next_frame() {
                    Ok(frame) => frame.map(|f| f.message),
                    Err(error) => {
                        broken = Some(error.close_reason());
                        None
                    }
                },
                (None, None) => None,
            };
            let Some(frame) = frame else { break };
            let initiating = matches!(t.phase, Phase::Initiating(_));
            if matches!(t.phase, Phase::Responding(_)) {
                match self.crossing(now, &frame) {
                    Crossing::Hold => {
                        let t = self.transports.get_mut(&id).expect("known transport");
                        t.inbox.push_front(frame);
                        t.holding = true;
                        break;
                    }
                    Crossing::Adopt(session) => {
                        if let Some(Transport {
                            phase: Phase::Responding(responder),
                            ..
                        }) = self.transports.get_mut(&id)
                        {
                            responder.adopt(session);
                        }
                    }
                    Crossing::None => {}
                }
            }
            let t = self.transports.get_mut(&id).expect("known transport");
            let outcome = match &mut t.phase {
                Phase::Initiating(initiator) => initiator
                    .handle_frame(now, &frame)
                    .map(|()| initiator.established().cloned())
                    .map_err(|e| e.close_reason()),
                Phase::Responding(responder) => responder
                    .handle_frame(now, &frame, &mut self.table)
                    .map(|()| responder.established().cloned())
                    .map_err(|e| e.close_reason()),
                _ => break,
            };
            drain_handshake(t, &self.config.connection);
            match outcome {
                Ok(None) => {}
                // Told it joined a session we do not have (ours ended meanwhile): the
                // responder's stream state is not ours, so the connection cannot carry it.
                Ok(Some(established))
                    if initiating
                        && established.joined
                        && self.peers.get(&established.peer_name).map(|p| p.session_id)
                            != Some(established.session_id) =>
                {
                    broken = Some(CloseReason::PeerReset);
                    break;
                }
                Ok(Some(established)) => {
                    self.bind(now, id, established, initiating);
                    self.note_transport(id);
                    return;
                }
                Err(reason) => {
                    broken = Some(reason);
                    break;
                }
            }
        }
        if let Some(reason) = broken {
            self.fail_handshake(now, id, reason);
        }
        self.note_transport(id);
    }

    /// The handshake on `id` failed: the transport closes once its last answer went out, and a
    /// transport that waited for it registers now.
    pub(super) fn fail_handshake(&mut self, now: Timestamp, id: TransportId, reason: CloseReason) {
        let Some(t) = self.transports.get_mut(&id) else {
            return;
        };
        let peer = match &t.phase {
            Phase::Initiating(initiator) => initiator.expected_peer().map(str::to_owned),
            _ => None,
        };
        t.phase = Phase::Closing(reason);
        self.metrics.registration_failed(reason);
        self.note_transport(id);
        if let Some(peer) = peer {
            self.start_deferred(now, &peer);
            self.release_held(now, &peer);
            // A session kept for this join (its other transports died meanwhile) is over.
            if self.is_orphaned(&peer) {
                self.end_peer(&peer, reason);
            }
        }
        self.transport_failed(now, id, ConnectError::Handshake(reason));
    }

    /// Whether one of our transports is registering to join the session with `peer`.
    pub(super) fn joining(&self, peer: &str) -> bool {
        let Some(session) = self.peers.get(peer).map(|p| p.session_id) else {
            return false;
        };
        self.transports.values().any(|t| match &t.phase {
            Phase::Initiating(initiator) => {
                initiator.expected_peer() == Some(peer) && initiator.join() == Some(session)
            }
            _ => false,
        })
    }

    /// Whether the session with `peer` has no transport left and none registering to join it:
    /// nothing can carry its streams any more, so it ends.
    pub(super) fn is_orphaned(&self, peer: &str) -> bool {
        self.peers
            .get(peer)
            .is_some_and(|p| p.transports.is_empty() && !self.joining(peer))
    }

    /// The handshake on `id` is established: the transport becomes a path of the session with
    /// the peer.
    pub(super) fn bind(
        &mut self,
        now: Timestamp,
        id: TransportId,
        established: Established,
        initiated: bool,
    ) {
        let peer = established.peer_name.clone();
        // A session under this name that the handshake did not join is over. One kept only
        // for this join (its transports died meanwhile) was lost by the peer too: what it never
        // sent goes on the new session, as messages sent before any session do.
        if let Some(p) = self.peers.get(&peer)
            && p.session_id != established.session_id
        {
            if p.transports.is_empty() {
                self.end_peer_carrying_unsent(&peer, CloseReason::PeerReset);
            } else {
                self.end_peer(&peer, CloseReason::PeerReset);
            }
        }
        let t = self.transports.get_mut(&id).expect("known transport");
        let responder = match std::mem::replace(&mut t.phase, Phase::Closing(CloseReason::Unknown))
        {
            Phase::Responding(responder) if t.kind == TransportKind::Datagram => Some(responder),
            _ => None,
        };
        t.phase = Phase::Bound {
            peer: peer.clone(),
            responder,
        };
        let keeps_handshake = matches!(
            t.phase,
            Phase::Bound {
                responder: Some(_),
                ..
            }
        );
        let config = self.config.connection.clone();
        let (mut path, leftover) = match t.kind {
            TransportKind::Datagram => (Path::new(config, now), BytesMut::new()),
            TransportKind::ByteStream => {
                let leftover = t
                    .decoder
                    .take()
                    .map(|mut d| d.buffer_mut().split())
                    .unwrap_or_default();
                (Path::byte_stream(config, now), leftover)
            }
        };
        let kind = t.kind;
        self.dial_bound(id, &peer);
        let new = !self.peers.contains_key(&peer);
        if initiated {
            // The peer admitted us: the name is taken as if we had admitted it.
            self.table.enter(
                &peer,
                LiveSession {
                    instance: established.peer_instance,
                    session_id: established.session_id,
                },
            );
        }
        let adopt_until = (new && initiated).then(|| now + self.config.connect_timeout);
        let entry = self.peers.entry(peer.clone()).or_insert_with(|| Peer {
            name: std::sync::Arc::from(peer.as_str()),
            session: Session::new(self.config.connection.clone()),
            session_id: established.session_id,
            instance: established.peer_instance,
            adopt_until,
            transports: BTreeSet::new(),
            deadline: None,
        });
        // A responder still answers repeated registers: the path hands it their frames.
        path.keep_handshake_frames(keeps_handshake);
        // Ids are the node's own and never reused, so the session cannot have this path.
        let _ = entry.session.add_path(PathId(id.0), path);
        entry.transports.insert(id);
        if kind == TransportKind::ByteStream && !leftover.is_empty() {
            entry
                .session
                .handle_bytes(PathId(id.0), now, leftover.freeze());
        }
        if new {
            self.events
                .push_back(NodeEvent::PeerUp { peer: peer.clone() });
        }
        self.start_deferred(now, &peer);
        self.release_held(now, &peer);
        if let Some(pending) = self.pending.remove(&peer) {
            let p = self.peers.get_mut(&peer).expect("inserted above");
            let mut refused = Vec::new();
            for (stream, data) in pending.messages {
                if p.session.send_committed(stream, data.clone()).is_err() {
                    refused.push((stream, data));
                }
            }
            if !refused.is_empty() {
                self.events.push_back(NodeEvent::SendFailed {
                    peer: peer.clone(),
                    reason: CloseReason::BufferFull,
                    not_sent: refused,
                    unacknowledged: Vec::new(),
                });
            }
        }
        self.touch(&peer);
    }
}

/// Moves the handshake's frames to the transport's outbox, encoded: `packet_number` 0, one
/// frame per datagram.
pub(super) fn drain_handshake(t: &mut Transport, config: &ConnectionConfig) {
    loop {
        let body = match &mut t.phase {
            Phase::Initiating(initiator) => initiator.poll_body(),
            Phase::Responding(responder) => responder.poll_body(),
            Phase::Bound {
                responder: Some(responder),
                ..
            } => responder.poll_body(),
            _ => None,
        };
        let Some(body) = body else { return };
        let mut buf = BytesMut::new();
        // Handshake frames are far below any frame limit.
        if encode_frame(&body.into_frame_message(), &config.frame_limits, &mut buf).is_ok() {
            t.outbox.push_back(buf.freeze());
        }
    }
}
