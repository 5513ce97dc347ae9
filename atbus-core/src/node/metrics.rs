//! What the node counts: each path's [`TransportMetrics`] (kept by the path itself), each live
//! peer's closed paths, and the node-wide [`NodeMetrics`].
//!
//! ```text
//!   path closes (violation, idle, peer's close, transport died)
//!       └─ its metrics, with the reason ─▶ the peer's ended paths ─┐
//!   session ends (last path gone, replaced, close_peer)            │
//!       └─ its open paths, with the reason ─────────────────────────┴─▶ NodeMetrics.ended
//!                                                                      (the peer's name is forgotten)
//!   registration fails (refused by us or the peer, deadline) ─▶ NodeMetrics.refused
//! ```
//!
//! Memory: one [`PeerMetrics`] per peer with a live session and paths that already ended;
//! nothing per name once the session is over.

use std::collections::BTreeMap;

use super::transport::Phase;
use super::{Node, TransportId};
use crate::connection::{Path, PathId, Session};
use crate::metrics::{NodeMetrics, PeerMetrics, TransportMetrics};
use crate::proto::CloseReason;

/// The node's books (see the module docs).
#[derive(Debug, Default)]
pub(super) struct MetricsLedger {
    node: NodeMetrics,
    /// Per peer with a live session: the metrics of its paths that already ended.
    pub(super) ended_paths: BTreeMap<String, PeerMetrics>,
}

impl MetricsLedger {
    /// A registration failed with `reason`.
    pub(super) fn registration_failed(&mut self, reason: CloseReason) {
        self.node.record_refused(reason);
    }

    /// A transport died while it registered (the owner reported it closed).
    pub(super) fn registration_abandoned(&mut self) {
        self.node.record_closed(CloseReason::Unknown);
    }

    /// A path of `peer`'s session ended with `reason`; the session goes on.
    pub(super) fn path_ended(&mut self, peer: &str, path: &Path, reason: CloseReason) {
        let ended = self.ended_paths.entry(peer.to_owned()).or_default();
        close_into(&mut self.node, ended, path, reason);
    }

    /// `peer`'s session ended with `reason`: its open paths close with it, and everything
    /// counted for the peer moves to the node's totals.
    pub(super) fn session_ended(&mut self, peer: &str, session: &Session, reason: CloseReason) {
        let mut all = self.ended_paths.remove(peer).unwrap_or_default();
        for (_, path) in session.paths() {
            close_into(&mut self.node, &mut all, path, reason);
        }
        self.node.record_session_ended(reason, &all);
    }
}

/// `path` closed with `reason`: counted as a closed transport of the node, and its metrics,
/// with the reason, absorbed into `peer`'s.
fn close_into(node: &mut NodeMetrics, peer: &mut PeerMetrics, path: &Path, reason: CloseReason) {
    let mut metrics = path.metrics().clone();
    metrics.record_closed(reason);
    node.record_closed(reason);
    peer.absorb(&metrics);
}

impl Node {
    /// Node-wide metrics: refused registrations and closed transports by reason, ended
    /// sessions, and the merged metrics of the ended sessions' paths. Live sessions are in
    /// [`peer_metrics`](Self::peer_metrics).
    pub fn metrics(&self) -> &NodeMetrics {
        &self.metrics.node
    }

    /// The metrics of `transport` while it is a path of a session (traffic, fragments, loss,
    /// RTT); `None` while it registers, and once it closed (its figures are then in its peer's
    /// [`peer_metrics`](Self::peer_metrics), or in [`metrics`](Self::metrics) once the session
    /// ended).
    pub fn transport_metrics(&self, transport: TransportId) -> Option<&TransportMetrics> {
        let Phase::Bound { peer, .. } = &self.transports.get(&transport)?.phase else {
            return None;
        };
        let path = self.peers.get(peer)?.session.path(PathId(transport.0))?;
        Some(path.metrics())
    }

    /// A snapshot of `peer`'s metrics while it has a session: its open paths merged with those
    /// of its paths that already closed (`connections` counts both). `None` without a session.
    pub fn peer_metrics(&self, peer: &str) -> Option<PeerMetrics> {
        let session = &self.peers.get(peer)?.session;
        let mut metrics = self
            .metrics
            .ended_paths
            .get(peer)
            .cloned()
            .unwrap_or_default();
        for (_, path) in session.paths() {
            metrics.absorb(path.metrics());
        }
        Some(metrics)
    }
}
