//! Metrics per connection and per peer, as plain data for exporters.
//!
//! Nothing here is global, shared or timed: every path
//! ([`Path::metrics`](crate::connection::Path::metrics)) keeps a [`TransportMetrics`] and updates
//! it as things happen (frames sent, received and lost, fragments and retransmissions, RTT
//! samples); a node absorbs the metrics of each path of a peer when it ends, and of the whole
//! session when that ends ([`NodeMetrics`]). An exporter (Prometheus, later, in an adapter) reads
//! snapshots, which are clones, on its own schedule.
//!
//! # What a path counts
//!
//! A few saturating integer additions per frame; nothing allocates on the hot path.
//!
//! - **Packets** are frames (each carries its own packet number; a datagram may hold several, an
//!   acknowledgement and data for instance), counted with their wire size as they are written
//!   and as they arrive decoded (duplicates included; a datagram that fails decoding counts in
//!   `ConnectionStats::datagrams_invalid` instead). Bytes are therefore the frames' bytes: every
//!   byte written to a datagram or a byte stream, every byte of a frame received.
//! - **Lost** packets are those loss recovery declared lost (packet or time threshold); path-MTU
//!   probes that do not come back are not losses. Acknowledgement-only frames are never declared
//!   lost, so [`loss_rate`](TransportMetrics::loss_rate) understates the loss of data frames by
//!   their share (as QUIC's packet counts do). Byte streams lose nothing.
//! - **Fragments** are packets of stream data (one stream's range, whatever messages it spans);
//!   a **retransmission** is one whose range had been sent before (after a loss, or as a
//!   tail-loss probe). Packets that only carry a stream's end or reset are not fragments.
//! - **RTT samples** are taken when an acknowledgement newly acknowledges the largest packet
//!   number it covers, with the peer's reported acknowledgement delay subtracted when that
//!   leaves at least the minimum RTT — the samples the connection's estimator smooths. **The
//!   latency histogram records these same RTT samples**: it is the distribution of round-trip
//!   times, not of message delivery times (those depend on the application's pace and on
//!   queueing, and the sender cannot see them without the receiver's clock). Byte-stream paths
//!   number no packets and take no samples.
//!
//! # In a node
//!
//! `Node::transport_metrics` gives a live path's figures, `Node::peer_metrics` a peer's (its
//! open paths merged with those that already closed, each closed one with its reason), and
//! `Node::metrics` the node-wide [`NodeMetrics`]: refused or failed registrations, closed
//! transports and ended sessions by reason, and every ended session's paths merged. Per-peer
//! figures live as long as the session; afterwards only the node's totals keep them.
//!
//! # Reading them
//!
//! - **Counters** (`bytes_*`, `packets_*`, `fragments_*`, `retransmissions`) only grow and
//!   saturate at `u64::MAX`; export them as counters.
//! - **Loss rate** is derived: [`TransportMetrics::loss_rate`] = `packets_lost / packets_sent`,
//!   0 when nothing was sent. Exporters may prefer the two counters and let the query divide.
//! - **RTT** ([`RttStats`]): count, mean, population variance (seconds²), standard deviation,
//!   minimum and maximum of the samples, kept as exact integer sums so that merges are exact.
//! - **Latency histogram** ([`LatencyHistogram`]): the same samples in fixed buckets —
//!   0–60 ms by 15, 60–180 by 30, 180–320 by 60 (the last bucket 300–320), 320–800 by 120,
//!   800–2000 by 300, and above 2 s ([`LATENCY_BUCKET_BOUNDS_MS`]). Upper bounds are inclusive,
//!   as Prometheus' `le`; [`LatencyHistogram::cumulative`] gives the exported form and
//!   [`LatencyHistogram::sum`] the `_sum`.
//! - **Reasons** ([`ReasonCounts`]): refused registrations and closed connections, counted per
//!   [`CloseReason`](crate::proto::CloseReason); misbehaving peers show up here — in
//!   [`NodeMetrics::refused`] a duplicate name or an unsupported version, in
//!   [`NodeMetrics::closed`] (and the peer's `closed`) a stream flood (`STREAM_LIMIT`), an
//!   oversized message (`MESSAGE_TOO_LARGE`), data beyond the window on a byte stream
//!   (`FLOW_CONTROL`) or another protocol violation.
//!
//! # Merging
//!
//! Every type has `merge(&other)`, which adds: merging the metrics of a peer's connections, in any
//! order, gives the same figures as if one connection had seen all their traffic. Merging an
//! empty value changes nothing.
//!
//! ```
//! use std::time::Duration;
//! use atbus_core::metrics::{PeerMetrics, TransportMetrics};
//! use atbus_core::proto::CloseReason;
//!
//! let mut connection = TransportMetrics::new();
//! connection.record_packet_sent(1_200);
//! connection.record_rtt(Duration::from_millis(42));
//! connection.record_closed(CloseReason::IdleTimeout);
//!
//! let mut peer = PeerMetrics::new();
//! peer.absorb(&connection);
//! assert_eq!(peer.transport.bytes_sent, 1_200);
//! assert_eq!(peer.transport.rtt.mean(), Some(Duration::from_millis(42)));
//! // (30, 45] ms is the third bucket.
//! assert_eq!(peer.transport.latency.counts()[2], 1);
//! assert_eq!(peer.transport.closed.get(CloseReason::IdleTimeout), 1);
//! ```

mod histogram;
mod node;
mod reasons;
mod rtt_stats;
mod transport;

pub use histogram::{LATENCY_BUCKET_BOUNDS_MS, LATENCY_BUCKETS, LatencyHistogram};
pub use node::NodeMetrics;
pub use reasons::ReasonCounts;
pub use rtt_stats::RttStats;
pub use transport::{PeerMetrics, TransportMetrics};
