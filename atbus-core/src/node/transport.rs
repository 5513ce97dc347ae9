//! One transport of a node: a datagram link or a byte stream, and where its handshake stands.
//!
//! ```text
//!   connected (we opened it) ──▶ [Deferred: another is registering] ──▶ Initiating ─┐
//!                                            ├─ established ──▶ Bound{peer} ──closed──▶ (gone)
//!   accepted (peer opened it) ─▶ Responding ─┘
//!                                   │ failed / refused
//!                                   ▼
//!                                 Closing(reason): the last handshake answer goes out, then gone
//!
//!   Bound{peer} ──its path closed itself (a violation, idle, the peer's close)──▶ Closing(reason):
//!                 the path's close frame (if it owes one) goes out, then gone
//! ```

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::{Node, NodeEvent};
use crate::Timestamp;
use crate::connection::Path;
use crate::frame::StreamDecoder;
use crate::handshake::{Initiator, Responder};
use crate::proto::{CloseReason, FrameMessage};

/// A transport of the node, named by the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransportId(pub u64);

/// What kind of link a transport is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// Datagrams (UDP): may be lost, duplicated, reordered.
    Datagram,
    /// A reliable byte stream (TCP, Unix socket, in-process pipe).
    ByteStream,
}

/// Where a transport's handshake stands.
#[derive(Debug)]
pub(super) enum Phase {
    /// We opened it to `peer` while another of our transports to `peer` is still registering:
    /// it registers once that one is done, to join its session (two registrations without a
    /// session would each start one, and the second would replace the first).
    Deferred { peer: String },
    /// We opened it and registered with the peer.
    Initiating(Box<Initiator>),
    /// The peer opened it; we wait for its registration.
    Responding(Box<Responder>),
    /// Bound to the session with `peer`. On a datagram link the responder is kept until its
    /// deadline to answer a repeated `register` whose answer was lost.
    Bound {
        peer: String,
        responder: Option<Box<Responder>>,
    },
    /// The handshake failed: the answer (if any) goes out, then the transport closes.
    Closing(CloseReason),
}

/// One transport.
#[derive(Debug)]
pub(super) struct Transport {
    pub kind: TransportKind,
    pub phase: Phase,
    /// Byte streams: frames are decoded here until the handshake ends; the bytes left over
    /// then go to the path.
    pub decoder: Option<StreamDecoder>,
    /// Handshake frames, encoded, waiting to be sent (one per datagram on datagram links).
    pub outbox: VecDeque<Bytes>,
    /// Frames received and not yet handled by the handshake (datagram links; and a frame held
    /// during a simultaneous open).
    pub inbox: VecDeque<FrameMessage>,
    /// The inbox waits: the peer's registration arrived while ours to it runs, and ours wins
    /// (see `crossing.rs`).
    pub holding: bool,
}

impl Transport {
    /// The handshake's next deadline, if it runs.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        match &self.phase {
            Phase::Initiating(initiator) => initiator.poll_timeout(),
            Phase::Responding(responder) => responder.poll_timeout(),
            Phase::Bound {
                responder: Some(responder),
                ..
            } => Some(responder.deadline()),
            Phase::Deferred { .. } | Phase::Bound { .. } | Phase::Closing(_) => None,
        }
    }
}

impl Node {
    /// A path of `peer`'s session closed by itself with `reason` and left the session
    /// (`path`): its metrics go to the peer's, and its transport closes once the close frame
    /// it owes the peer went out, so that the peer learns why.
    pub(super) fn retire_path(
        &mut self,
        peer: &str,
        transport: TransportId,
        path: Option<Path>,
        reason: CloseReason,
    ) {
        let (Some(mut path), Some(t)) = (path, self.transports.get_mut(&transport)) else {
            self.forget_transport(transport);
            self.events
                .push_back(NodeEvent::CloseTransport { transport, reason });
            return;
        };
        let mut buf = BytesMut::new();
        if path.poll_close(&mut buf).is_some() {
            t.outbox.push_back(buf.freeze());
        }
        t.phase = Phase::Closing(reason);
        self.metrics.path_ended(peer, &path, reason);
        self.note_transport(transport);
    }
}
