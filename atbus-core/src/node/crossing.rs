//! Simultaneous open: two nodes that open transports to each other at once get one session.
//!
//! Each node's registration would start a session of its own, and the second session to bind
//! would replace the first, handing back whatever the first carried. Instead the node with the
//! *lower* name (byte order) makes its own registration win:
//!
//! ```text
//!   lower node L                                      higher node H
//!   ────────────                                      ─────────────
//!   register ───────────────────────────────────────▶ admitted: session S (new)
//!   ◀─────────────────────────────────────────────── register (asks for a new session)
//!   L's own registration runs: H's waits (held)
//!   ◀─────────────────────────────────────────────── result: S
//!   bound to S; H's register is answered now:
//!   joins S, "adopted" ─────────────────────────────▶ H's connection joins S too
//! ```
//!
//! - At L, a registration from a higher-named peer that asks for a new session is held while
//!   L's own registration to that peer runs, and released when it ends (bound, failed, or its
//!   transport gone).
//! - When L's own registration created the session with the peer, for `connect_timeout` after
//!   that a registration of the same peer instance asking for a new session joins it instead,
//!   and the answer says `adopted` (the two may also cross the other way: L's result arrives
//!   before H's register does).
//! - H needs no rule: its initiator joins the session the answer names, which it has (it
//!   admitted L's registration). An initiator told it joined a session it does not have
//!   fails the handshake (`PEER_RESET`) rather than pair stream states that do not match.
//! - The higher node's name never wins, so both nodes decide the same way without a message
//!   about it.

use super::{Node, Phase, TransportId};
use crate::Timestamp;
use crate::handshake::SessionId;
use crate::proto::FrameMessage;

/// Most frames held on one transport during a simultaneous open (registrations resent on a
/// datagram link); later ones are dropped, the first is what counts.
pub(super) const MAX_HELD_FRAMES: usize = 8;

/// What a frame arriving on a responding transport means for a simultaneous open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Crossing {
    /// Nothing special: the responder judges it.
    None,
    /// Our registration to the sender runs and wins: the frame waits for it.
    Hold,
    /// Our registration created our session with the sender: a new-session request joins it.
    Adopt(SessionId),
}

impl Node {
    /// Judges `frame`, arriving on a transport that waits for the peer's registration.
    pub(super) fn crossing(&self, now: Timestamp, frame: &FrameMessage) -> Crossing {
        let Some(register) = &frame.register else {
            return Crossing::None;
        };
        if register.session_id != 0 || register.name.as_str() <= self.identity.name() {
            return Crossing::None;
        }
        match self.peers.get(&register.name) {
            Some(p)
                if p.adopt_until.is_some_and(|until| now <= until)
                    && p.instance.get() == register.instance_id =>
            {
                Crossing::Adopt(p.session_id)
            }
            Some(_) => Crossing::None,
            None if self.registering_to(&register.name) => Crossing::Hold,
            None => Crossing::None,
        }
    }

    /// Our registration to `peer` ended (or its transport did): registrations of `peer` held
    /// meanwhile are judged now.
    pub(super) fn release_held(&mut self, now: Timestamp, peer: &str) {
        if self.registering_to(peer) {
            return;
        }
        let held: Vec<TransportId> = self
            .transports
            .iter()
            .filter(|(_, t)| {
                t.holding
                    && matches!(t.phase, Phase::Responding(_))
                    && t.inbox
                        .front()
                        .and_then(|f| f.register.as_ref())
                        .is_some_and(|r| r.name == peer)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in held {
            if let Some(t) = self.transports.get_mut(&id) {
                t.holding = false;
            }
            self.run_handshake(now, id);
        }
    }
}
