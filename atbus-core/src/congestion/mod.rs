//! Congestion control behind a trait, so that connections can run a loss-based controller or
//! one that tolerates random loss and jitter.
//!
//! A controller sees every packet sent, acknowledged and lost, and answers one question: how
//! many bytes may be in flight now ([`CongestionController::window`]).

mod new_reno;

use std::time::Duration;

use crate::Timestamp;

pub use new_reno::NewReno;

/// Decides how many bytes a connection may have in flight.
pub trait CongestionController: std::fmt::Debug {
    /// A packet of `bytes` was sent at `now`.
    fn on_sent(&mut self, now: Timestamp, bytes: u64);

    /// A packet of `bytes`, sent at `sent_at`, was acknowledged; `rtt` is the current smoothed RTT.
    fn on_ack(&mut self, now: Timestamp, sent_at: Timestamp, bytes: u64, rtt: Duration);

    /// Packets sent no later than `latest_sent_at` were declared lost at `now`: one congestion
    /// event however many packets it covers.
    fn on_congestion_event(&mut self, now: Timestamp, latest_sent_at: Timestamp);

    /// Losses spanning more than the persistent-congestion period: start over.
    fn on_persistent_congestion(&mut self);

    /// Bytes that may be in flight.
    fn window(&self) -> u64;
}

/// Which controller a connection runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CongestionKind {
    /// Loss-based NewReno (RFC 9002 §7).
    NewReno,
    /// No congestion window: only flow control limits the sender (KCP's `nc = 1`, for
    /// latency-critical traffic on links the operator trusts).
    Disabled,
}

/// The "no congestion control" controller.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unlimited;

impl CongestionController for Unlimited {
    fn on_sent(&mut self, _: Timestamp, _: u64) {}
    fn on_ack(&mut self, _: Timestamp, _: Timestamp, _: u64, _: Duration) {}
    fn on_congestion_event(&mut self, _: Timestamp, _: Timestamp) {}
    fn on_persistent_congestion(&mut self) {}
    fn window(&self) -> u64 {
        u64::MAX
    }
}

/// A controller of `kind` for packets of up to `max_datagram` bytes.
pub fn new_controller(kind: CongestionKind, max_datagram: u64) -> Box<dyn CongestionController> {
    match kind {
        CongestionKind::NewReno => Box::new(NewReno::new(max_datagram)),
        CongestionKind::Disabled => Box::new(Unlimited),
    }
}
