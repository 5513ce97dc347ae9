//! What a node tells its owner, and why it refuses a command.

use bytes::Bytes;

use super::TransportId;
use crate::connection::SendError as StreamSendError;
use crate::proto::CloseReason;

/// Something the node tells its owner (drain with [`Node::poll_event`](super::Node::poll_event)).
#[derive(Debug, Clone, PartialEq)]
pub enum NodeEvent {
    /// A whole message arrived from `from` on `stream`.
    Message {
        /// The sending node's name.
        from: String,
        /// The stream.
        stream: i64,
        /// The payload.
        data: Bytes,
    },
    /// `from` finished `stream`; every message on it was delivered.
    StreamFinished {
        /// The peer.
        from: String,
        /// The stream.
        stream: i64,
    },
    /// A session with `peer` is up (its first transport completed the handshake).
    PeerUp {
        /// The peer.
        peer: String,
    },
    /// The session with `peer` ended: its last transport closed, or it was replaced.
    PeerDown {
        /// The peer.
        peer: String,
        /// Why.
        reason: CloseReason,
    },
    /// Messages to `peer` that were not delivered, or may not have been: nothing is dropped
    /// silently.
    SendFailed {
        /// The peer.
        peer: String,
        /// Why.
        reason: CloseReason,
        /// Never sent whole, queued, or waiting for a session: the peer cannot have them.
        not_sent: Vec<(i64, Bytes)>,
        /// Sent whole but never acknowledged: the peer may have delivered them.
        unacknowledged: Vec<(i64, Bytes)>,
    },
    /// The node wants a transport to `peer` (a message waits for it and there is no session):
    /// the owner resolves the peer (discovery) and reports the transport it opens with
    /// [`Node::handle_transport_connected`](super::Node::handle_transport_connected).
    PeerWanted {
        /// The peer.
        peer: String,
    },
    /// The owner should close `transport` (its handshake failed, its path closed, or its
    /// session ended); the node has forgotten it.
    CloseTransport {
        /// The transport.
        transport: TransportId,
        /// Why.
        reason: CloseReason,
    },
}

/// Why [`Node::send`](super::Node::send) refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeSendError {
    /// The peer's session refused it (message size, stream limit, send buffer full).
    #[error("to {peer}: {source}")]
    Stream {
        /// The peer.
        peer: String,
        /// What the stream said.
        source: StreamSendError,
    },
    /// No session yet, and the queue of messages waiting for one is full.
    #[error("to {peer}: {queued} messages ({bytes} bytes) already wait for a session")]
    QueueFull {
        /// The peer.
        peer: String,
        /// Messages waiting.
        queued: usize,
        /// Their bytes.
        bytes: u64,
    },
    /// The name is not a valid node name.
    #[error("{0:?} is not a valid node name")]
    InvalidName(String),
}
