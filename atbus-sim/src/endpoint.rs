//! The trait through which the simulator drives a sans-IO endpoint.
//!
//! An endpoint is one node's protocol stack: atbus, or a peer protocol measured against it. The
//! simulator calls it exactly as a runtime adapter would — inputs with the current time, then
//! the drain rule: transmits and received messages are polled until empty, then the next
//! timeout is asked for. Nothing here reads a clock.

use bytes::Bytes;

use atbus_core::Timestamp;

pub use crate::link::LinkKind;

/// A node of the scenario, by index in declaration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub usize);

/// A link of the scenario, by index in declaration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub usize);

/// Bytes an endpoint wants sent on one of its links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The link to send on; it must be one the endpoint was told is up.
    pub link: LinkId,
    /// One datagram on a datagram link; the next bytes of the pipe on a byte-stream link.
    pub data: Bytes,
}

/// A message an endpoint delivered to its application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The node that sent it.
    pub from: NodeId,
    /// The stream it was sent on.
    pub stream: u64,
    /// The message, whole.
    pub payload: Bytes,
}

/// The most memory an endpoint's protocol state held during a run, as the endpoint accounts
/// it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryPeaks {
    /// Bytes held for reassembly on any one connection (received, not yet delivered).
    pub receive: u64,
    /// Bytes sent and not yet acknowledged on any one connection.
    pub send: u64,
}

/// Why an endpoint refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The endpoint has no link to that node.
    #[error("no link to node {0:?}")]
    NoRoute(NodeId),
    /// The endpoint's send buffer is full.
    #[error("send buffer full")]
    Full,
    /// The endpoint refused it for another reason.
    #[error("{0}")]
    Refused(String),
}

/// One node's protocol stack, driven by the simulator.
///
/// After every call that takes `now`, the simulator drains [`poll_transmit`](Self::poll_transmit)
/// and [`poll_received`](Self::poll_received) until both return `None`, then calls
/// [`poll_timeout`](Self::poll_timeout) and calls [`handle_timeout`](Self::handle_timeout) when
/// that instant comes (earlier if another input arrives first).
pub trait Endpoint {
    /// A link to `peer` became usable (at start, or after a reset byte stream came back).
    fn handle_link_up(&mut self, now: Timestamp, link: LinkId, peer: NodeId, kind: LinkKind);

    /// A link went down: a byte stream was reset, or the peer was killed. Data in flight on it
    /// is lost.
    fn handle_link_down(&mut self, now: Timestamp, link: LinkId);

    /// Data arrived on `link`: one datagram, or the next bytes of a byte stream.
    fn handle_input(&mut self, now: Timestamp, link: LinkId, data: Bytes);

    /// The instant returned by [`poll_timeout`](Self::poll_timeout) has come.
    fn handle_timeout(&mut self, now: Timestamp);

    /// The application sends `payload` to node `to` on `stream`.
    fn send_message(
        &mut self,
        now: Timestamp,
        to: NodeId,
        stream: u64,
        payload: Bytes,
    ) -> Result<(), SendError>;

    /// The next transmission, if any.
    fn poll_transmit(&mut self, now: Timestamp) -> Option<Transmit>;

    /// The next message delivered to the application, if any.
    fn poll_received(&mut self) -> Option<Received>;

    /// When [`handle_timeout`](Self::handle_timeout) must next be called, if ever.
    fn poll_timeout(&mut self) -> Option<Timestamp>;

    /// The peaks of protocol memory so far, for endpoints that account it.
    fn memory_peaks(&self) -> Option<MemoryPeaks> {
        None
    }
}
