//! What a node tells its owner, and why it refuses a command.

use bytes::Bytes;

use super::TransportId;
use super::dial::AttemptId;
use crate::connection::SendError as StreamSendError;
use crate::discovery::GatewayAddress;
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
    /// The node wants a transport to `address` (a dial of `peer` from discovery, or
    /// [`Node::connect`](super::Node::connect)): the owner opens it and answers with
    /// [`Node::handle_connected`](super::Node::handle_connected) or
    /// [`Node::handle_connect_failed`](super::Node::handle_connect_failed).
    Connect {
        /// The attempt, to name in the answer.
        attempt: AttemptId,
        /// Whom the transport should reach, when known.
        peer: Option<String>,
        /// Where to connect.
        address: GatewayAddress,
    },
    /// An attempt failed; a dial goes on with the peer's next address.
    ConnectFailed {
        /// The attempt.
        attempt: AttemptId,
        /// Whom it should have reached, when known.
        peer: Option<String>,
        /// Where it tried.
        address: GatewayAddress,
        /// What went wrong.
        error: ConnectError,
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

/// Why an attempt to open a transport failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The owner could not open it (refused, unreachable, no such socket).
    #[error("the transport could not be opened")]
    Unreachable,
    /// It opened, and the registration failed (the peer refused it, or answered with another
    /// name or an unsupported version).
    #[error("the registration failed: {}", .0.as_str_name())]
    Handshake(CloseReason),
    /// It was not registered within the node's `connect_timeout`.
    #[error("not registered within the connect timeout")]
    TimedOut,
    /// It closed before the registration completed.
    #[error("the transport closed during the registration")]
    Closed,
}

impl ConnectError {
    /// The close reason that stands for it (in [`NodeEvent::SendFailed`] when a dial ran out
    /// of addresses).
    pub fn close_reason(self) -> CloseReason {
        match self {
            ConnectError::Unreachable => CloseReason::RouterNotFound,
            ConnectError::Handshake(reason) => reason,
            ConnectError::TimedOut => CloseReason::HandshakeTimeout,
            ConnectError::Closed => CloseReason::Unknown,
        }
    }
}
