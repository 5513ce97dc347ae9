//! Metrics per connection and per peer, as plain data for exporters.
//!
//! Nothing here is global, shared or timed: a connection's owner keeps a [`TransportMetrics`]
//! beside it and updates it with `record_*` calls as things happen (frames sent, received and
//! lost, fragments and retransmissions, RTT samples, refusals and closes); a node keeps a
//! [`PeerMetrics`] per peer name and [`absorb`](PeerMetrics::absorb)s the metrics of each
//! connection of that peer when it ends. An exporter (Prometheus, later, in an adapter) reads
//! snapshots, which are clones, on its own schedule.
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
//!   [`CloseReason`](crate::proto::CloseReason); misbehaving peers (a duplicate name, an
//!   unsupported version, a protocol violation) show up here.
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
