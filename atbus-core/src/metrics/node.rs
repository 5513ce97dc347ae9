//! Metrics of a whole node: refusals, closes and the sessions that ended.

use super::{PeerMetrics, ReasonCounts};
use crate::proto::CloseReason;

/// What a node counts beyond its live sessions, in memory that does not grow with the peers it
/// has seen: refused and failed registrations and closed transports by reason, ended sessions
/// by reason, and the metrics of every path of every ended session merged into one.
///
/// A node keeps per-peer metrics only while the peer has a session
/// (`Node::peer_metrics`); when the session ends they are merged into
/// [`ended`](Self::ended) and the name is forgotten, so a peer that never comes back costs
/// nothing, and an attacker cycling through names cannot grow the node's memory. Node-wide
/// figures over everything are `ended` merged with every live peer's metrics.
///
/// Every transport that ends is counted once, in either [`refused`](Self::refused) (its
/// registration failed) or [`closed`](Self::closed) (it was a path, or died while registering).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeMetrics {
    /// Registrations that failed, by reason: the ones this node refused (a duplicate name, an
    /// unsupported version, a protocol violation), the peers' refusals of ours, handshake
    /// deadlines.
    pub refused: ReasonCounts,
    /// Transports closed, by reason: paths (a peer's violation such as `STREAM_LIMIT`,
    /// `MESSAGE_TOO_LARGE` or `FLOW_CONTROL`, an idle timeout, the peer's close, a session's
    /// end), and transports the owner reported dead while they registered (`UNKNOWN`).
    pub closed: ReasonCounts,
    /// Sessions that ended, by the reason of their end.
    pub sessions_ended: ReasonCounts,
    /// The metrics of every path of every ended session, merged (`connections` counts paths).
    pub ended: PeerMetrics,
}

impl NodeMetrics {
    /// Nothing counted yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registration failed with `reason`.
    pub fn record_refused(&mut self, reason: CloseReason) {
        self.refused.record(reason);
    }

    /// A transport closed with `reason`.
    pub fn record_closed(&mut self, reason: CloseReason) {
        self.closed.record(reason);
    }

    /// A session ended with `reason`; `peer` holds the metrics of all its paths.
    pub fn record_session_ended(&mut self, reason: CloseReason, peer: &PeerMetrics) {
        self.sessions_ended.record(reason);
        self.ended.merge(peer);
    }

    /// Adds `other`'s counts (for example several nodes of one process).
    pub fn merge(&mut self, other: &NodeMetrics) {
        self.refused.merge(&other.refused);
        self.closed.merge(&other.closed);
        self.sessions_ended.merge(&other.sessions_ended);
        self.ended.merge(&other.ended);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::TransportMetrics;

    #[test]
    fn records_and_merges() {
        let mut node = NodeMetrics::new();
        node.record_refused(CloseReason::DuplicateName);
        node.record_closed(CloseReason::StreamLimit);
        let mut path = TransportMetrics::new();
        path.record_packet_sent(100);
        path.record_closed(CloseReason::StreamLimit);
        let mut peer = PeerMetrics::new();
        peer.absorb(&path);
        node.record_session_ended(CloseReason::StreamLimit, &peer);
        assert_eq!(node.refused.get(CloseReason::DuplicateName), 1);
        assert_eq!(node.closed.get(CloseReason::StreamLimit), 1);
        assert_eq!(node.sessions_ended.get(CloseReason::StreamLimit), 1);
        assert_eq!(node.ended.connections, 1);
        assert_eq!(node.ended.transport.bytes_sent, 100);

        let mut twice = node.clone();
        twice.merge(&node);
        assert_eq!(twice.refused.total(), 2);
        assert_eq!(twice.sessions_ended.total(), 2);
        assert_eq!(twice.ended.connections, 2);
        twice.merge(&NodeMetrics::new());
        assert_eq!(twice.closed.total(), 2);
    }
}
