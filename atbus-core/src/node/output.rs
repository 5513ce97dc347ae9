//! The node's outputs and time: transmits (whole or spliced), events, timers.

use bytes::BytesMut;

use super::*;
use crate::frame::{Splice, joined};

impl Node {
    /// The next bytes to write, appended to `buf`, and the transport they go on: handshake
    /// frames first, then the sessions' datagrams.
    pub fn poll_transmit(&mut self, now: Timestamp, buf: &mut BytesMut) -> Option<TransportId> {
        joined(buf, |buf, splices| {
            self.poll_transmit_spliced(now, buf, splices)
        })
    }

    /// As [`poll_transmit`](Self::poll_transmit), for IO layers that write vectored: large
    /// payloads bound for a byte stream (at least
    /// [`ConnectionConfig::splice_min`](crate::connection::ConnectionConfig::splice_min)
    /// bytes) are not copied into `buf` but appended to `splices`, in order, with their
    /// offsets in `buf`. The bytes to write are `buf` with each splice's data inserted at its
    /// offset ([`spliced_pieces`](crate::frame::spliced_pieces),
    /// [`join_splices`](crate::frame::join_splices)); datagrams never have splices.
    pub fn poll_transmit_spliced(
        &mut self,
        now: Timestamp,
        buf: &mut BytesMut,
        splices: &mut Vec<Splice>,
    ) -> Option<TransportId> {
        while let Some(&id) = self.outbox_ready.first() {
            let Some(t) = self.transports.get_mut(&id) else {
                self.outbox_ready.remove(&id);
                continue;
            };
            if let Some(bytes) = t.outbox.pop_front() {
                buf.extend_from_slice(&bytes);
                self.note_transport(id);
                return Some(id);
            }
            if let Phase::Closing(reason) = t.phase {
                // Its last answer is out: it goes.
                self.forget_transport(id);
                self.events.push_back(NodeEvent::CloseTransport {
                    transport: id,
                    reason,
                });
            } else {
                self.outbox_ready.remove(&id);
            }
        }
        while let Some(name) = self.active.first().cloned() {
            let sent = self
                .peers
                .get_mut(&*name)
                .and_then(|p| p.session.poll_transmit_spliced(now, buf, splices));
            if let Some((path, _)) = sent {
                self.reschedule(&name);
                return Some(TransportId(path.0));
            }
            // Nothing more to send until its next input, timeout or send.
            self.active.remove(&name);
            self.collect_session(&name);
        }
        None
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<NodeEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let handshakes = self.handshake_timers.first().map(|(at, _)| *at);
        let sessions = self.timers.first().map(|(at, _)| *at);
        let attempts = self.dialer.timers.first().map(|(at, _)| *at);
        handshakes.into_iter().chain(sessions).chain(attempts).min()
    }

    /// Timers that are due: handshake resends and deadlines, and every session's timers.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        let mut failed_handshakes = Vec::new();
        let due: Vec<TransportId> = self
            .handshake_timers
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, id)| *id)
            .collect();
        for id in due {
            let Some(t) = self.transports.get_mut(&id) else {
                continue;
            };
            if t.poll_timeout().is_none_or(|at| at > now) {
                // Filed under a deadline the transport no longer has: refile it, or the node's
                // timeout would stay in the past and its owner would spin.
                self.note_transport(id);
                continue;
            }
            let failed = match &mut t.phase {
                Phase::Initiating(initiator) => initiator.handle_timeout(now).err(),
                Phase::Responding(responder) => responder.handle_timeout(now).err(),
                Phase::Bound { responder, .. } => {
                    // Past its deadline nobody repeats a register: it is no longer needed.
                    *responder = None;
                    None
                }
                Phase::Deferred { .. } | Phase::Closing(_) => None,
            };
            drain_handshake(t, &self.config.connection);
            if failed.is_some() {
                failed_handshakes.push(id);
            }
            self.note_transport(id);
        }
        for id in failed_handshakes {
            self.fail_handshake(now, id, CloseReason::HandshakeTimeout);
        }
        self.attempt_timeouts(now);
        // Only the sessions whose timeout is due: an idle peer costs nothing. Each runs once:
        // a deadline that only a transmit clears (pacing) stays due until the drain.
        let mut due = Vec::new();
        while let Some((at, name)) = self.timers.first().cloned() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, name.clone()));
            due.push(name);
        }
        for name in due {
            if let Some(p) = self.peers.get_mut(&*name) {
                p.deadline = None;
                p.session.handle_timeout(now);
            }
            self.touch(&name);
        }
    }

    /// Moves the session's events to the node's, and ends the peer when its last path closed.
    pub(super) fn collect_session(&mut self, name: &str) {
        let Some(p) = self.peers.get_mut(name) else {
            return;
        };
        let closed = push_session_events(&mut self.events, &p.name, &mut p.session);
        if closed.is_empty() {
            self.reschedule(name);
            return;
        }
        let Some(mut p) = self.peers.remove(name) else {
            return;
        };
        let mut last_reason = None;
        for (path, reason) in closed {
            let transport = TransportId(path.0);
            p.transports.remove(&transport);
            self.retire_path(name, transport, p.session.remove_path(path), reason);
            last_reason = Some(reason);
        }
        self.peers.insert(name.to_owned(), p);
        // Kept while a transport registers to join it (see `handle_transport_closed`).
        let ended = last_reason.is_some() && self.is_orphaned(name);
        if let (true, Some(reason)) = (ended, last_reason) {
            self.end_peer(name, reason);
        } else {
            self.reschedule(name);
        }
    }
}
