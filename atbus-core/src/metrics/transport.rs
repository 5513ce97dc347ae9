//! Metrics of one connection and of one peer.

use std::time::Duration;

use super::{LatencyHistogram, ReasonCounts, RttStats};
use crate::proto::CloseReason;

/// What happened on one connection (or, merged, on several): traffic, loss, RTT, refusals and
/// closes.
///
/// Plain data with public fields for exporters to read; the owner of the connection updates it
/// with the `record_*` methods. Counters only grow (saturating at `u64::MAX`); a snapshot is a
/// clone; [`merge`](Self::merge) adds another's counts, so a peer's figures are the merge of its
/// connections'. No global state: every node, connection and peer owns its own.
///
/// | field | unit | counts |
/// |---|---|---|
/// | `bytes_sent`, `bytes_received` | bytes | the frames' bytes: everything written to a datagram or a byte stream, every frame received |
/// | `packets_sent`, `packets_received` | frames | frames sent and received (a datagram may carry several) |
/// | `packets_lost` | frames | frames declared lost (datagram links; path-MTU probes excepted) |
/// | `fragments_sent`, `fragments_received` | stream data packets | packets of stream data, retransmissions included in `fragments_sent` |
/// | `retransmissions` | stream data packets | packets whose data had been sent before (lost, or probing) |
/// | `rtt` | [`RttStats`] | RTT samples: count, mean, variance, min, max |
/// | `latency` | [`LatencyHistogram`] | the same RTT samples, in the fixed latency buckets |
/// | `refused` | [`ReasonCounts`] | registrations refused, by reason (either side refusing); a node counts these node-wide |
/// | `closed` | [`ReasonCounts`] | connections closed, by reason (recorded by the connection's owner) |
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransportMetrics {
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Frames sent.
    pub packets_sent: u64,
    /// Frames received.
    pub packets_received: u64,
    /// Frames declared lost.
    pub packets_lost: u64,
    /// Stream fragments sent, retransmissions included.
    pub fragments_sent: u64,
    /// Stream fragments received.
    pub fragments_received: u64,
    /// Stream fragments sent again.
    pub retransmissions: u64,
    /// RTT samples.
    pub rtt: RttStats,
    /// RTT samples in latency buckets.
    pub latency: LatencyHistogram,
    /// Registrations refused, by reason.
    pub refused: ReasonCounts,
    /// Connections closed, by reason.
    pub closed: ReasonCounts,
}

impl TransportMetrics {
    /// Nothing counted yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A frame of `bytes` bytes was sent.
    pub fn record_packet_sent(&mut self, bytes: usize) {
        self.packets_sent = self.packets_sent.saturating_add(1);
        self.bytes_sent = self.bytes_sent.saturating_add(bytes as u64);
    }

    /// A frame of `bytes` bytes was received.
    pub fn record_packet_received(&mut self, bytes: usize) {
        self.packets_received = self.packets_received.saturating_add(1);
        self.bytes_received = self.bytes_received.saturating_add(bytes as u64);
    }

    /// A frame sent earlier was declared lost.
    pub fn record_packet_lost(&mut self) {
        self.packets_lost = self.packets_lost.saturating_add(1);
    }

    /// A stream fragment was sent; `retransmission` when it was sent before.
    pub fn record_fragment_sent(&mut self, retransmission: bool) {
        self.fragments_sent = self.fragments_sent.saturating_add(1);
        if retransmission {
            self.retransmissions = self.retransmissions.saturating_add(1);
        }
    }

    /// A stream fragment was received.
    pub fn record_fragment_received(&mut self) {
        self.fragments_received = self.fragments_received.saturating_add(1);
    }

    /// An RTT sample: goes into both [`rtt`](Self::rtt) and [`latency`](Self::latency).
    pub fn record_rtt(&mut self, sample: Duration) {
        self.rtt.record(sample);
        self.latency.record(sample);
    }

    /// A registration was refused with `reason`.
    pub fn record_refused(&mut self, reason: CloseReason) {
        self.refused.record(reason);
    }

    /// The connection closed with `reason`.
    pub fn record_closed(&mut self, reason: CloseReason) {
        self.closed.record(reason);
    }

    /// Frames lost per frame sent, from 0 to 1; 0 when nothing was sent (nothing was lost).
    pub fn loss_rate(&self) -> f64 {
        if self.packets_sent == 0 {
            return 0.0;
        }
        (self.packets_lost as f64 / self.packets_sent as f64).min(1.0)
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &TransportMetrics) {
        let counters = [
            (&mut self.bytes_sent, other.bytes_sent),
            (&mut self.bytes_received, other.bytes_received),
            (&mut self.packets_sent, other.packets_sent),
            (&mut self.packets_received, other.packets_received),
            (&mut self.packets_lost, other.packets_lost),
            (&mut self.fragments_sent, other.fragments_sent),
            (&mut self.fragments_received, other.fragments_received),
            (&mut self.retransmissions, other.retransmissions),
        ];
        for (counter, more) in counters {
            *counter = counter.saturating_add(more);
        }
        self.rtt.merge(&other.rtt);
        self.latency.merge(&other.latency);
        self.refused.merge(&other.refused);
        self.closed.merge(&other.closed);
    }
}

/// What happened with one peer, over all its connections.
///
/// A node keeps one per peer with a session: when a connection of the peer ends, its
/// [`TransportMetrics`] are [`absorb`](Self::absorb)ed, with the reason it closed; a snapshot
/// (`Node::peer_metrics`) is a clone of that with each live connection's metrics absorbed too.
/// Refused registrations are counted node-wide ([`NodeMetrics`](super::NodeMetrics)), not per
/// name: a refused name may be anyone's, and counting per name would let a peer cycling through
/// names grow the node's memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerMetrics {
    /// Connections whose metrics were absorbed.
    pub connections: u64,
    /// The connections' metrics, merged.
    pub transport: TransportMetrics,
}

impl PeerMetrics {
    /// Nothing counted yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one connection's metrics.
    pub fn absorb(&mut self, connection: &TransportMetrics) {
        self.connections = self.connections.saturating_add(1);
        self.transport.merge(connection);
    }

    /// Adds another `PeerMetrics` (for example the same peer seen by two nodes of a process).
    pub fn merge(&mut self, other: &PeerMetrics) {
        self.connections = self.connections.saturating_add(other.connections);
        self.transport.merge(&other.transport);
    }

    /// Frames lost per frame sent over all connections; see [`TransportMetrics::loss_rate`].
    pub fn loss_rate(&self) -> f64 {
        self.transport.loss_rate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy_connection(rtt_ms: u64, lost: u64) -> TransportMetrics {
        let mut metrics = TransportMetrics::new();
        for _ in 0..10 {
            metrics.record_packet_sent(100);
            metrics.record_fragment_sent(false);
        }
        metrics.record_fragment_sent(true);
        for _ in 0..lost {
            metrics.record_packet_lost();
        }
        for _ in 0..4 {
            metrics.record_packet_received(50);
            metrics.record_fragment_received();
        }
        metrics.record_rtt(Duration::from_millis(rtt_ms));
        metrics
    }

    #[test]
    fn loss_rate_with_zero_packets_is_zero() {
        let metrics = TransportMetrics::new();
        assert_eq!(metrics.loss_rate(), 0.0);
        assert_eq!(PeerMetrics::new().loss_rate(), 0.0);
        // Losses without a recorded send (a merge of inconsistent figures) stay within 0..=1.
        let mut odd = TransportMetrics::new();
        odd.record_packet_lost();
        assert_eq!(odd.loss_rate(), 0.0);
        odd.record_packet_sent(1);
        odd.record_packet_lost();
        assert_eq!(odd.loss_rate(), 1.0);
    }

    #[test]
    fn records_traffic_loss_and_rtt() {
        let metrics = busy_connection(40, 2);
        assert_eq!(metrics.packets_sent, 10);
        assert_eq!(metrics.bytes_sent, 1_000);
        assert_eq!(metrics.packets_received, 4);
        assert_eq!(metrics.bytes_received, 200);
        assert_eq!(metrics.fragments_sent, 11);
        assert_eq!(metrics.retransmissions, 1);
        assert_eq!(metrics.fragments_received, 4);
        assert_eq!(metrics.loss_rate(), 0.2);
        assert_eq!(metrics.rtt.mean(), Some(Duration::from_millis(40)));
        assert_eq!(metrics.latency.counts()[2], 1); // (30, 45] ms
    }

    #[test]
    fn peer_metrics_merge_their_connections() {
        let mut a = busy_connection(40, 2);
        a.record_closed(CloseReason::IdleTimeout);
        let mut b = busy_connection(80, 0);
        b.record_refused(CloseReason::DuplicateName);
        let mut peer = PeerMetrics::new();
        peer.absorb(&a);
        peer.absorb(&b);
        assert_eq!(peer.connections, 2);
        assert_eq!(peer.transport.packets_sent, 20);
        assert_eq!(peer.transport.bytes_received, 400);
        assert_eq!(peer.transport.retransmissions, 2);
        assert_eq!(peer.loss_rate(), 0.1);
        assert_eq!(peer.transport.rtt.count(), 2);
        assert_eq!(peer.transport.rtt.mean(), Some(Duration::from_millis(60)));
        assert_eq!(peer.transport.latency.count(), 2);
        assert_eq!(peer.transport.closed.get(CloseReason::IdleTimeout), 1);
        assert_eq!(peer.transport.refused.get(CloseReason::DuplicateName), 1);

        // Merging peers adds connections too; merging nothing changes nothing.
        let snapshot = peer.clone();
        peer.merge(&PeerMetrics::new());
        assert_eq!(peer, snapshot);
        let mut twice = snapshot.clone();
        twice.merge(&snapshot);
        assert_eq!(twice.connections, 4);
        assert_eq!(twice.transport.packets_sent, 40);
        assert_eq!(twice.loss_rate(), 0.1);
    }
}
