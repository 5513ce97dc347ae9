//! Congestion control behind a trait, so that connections can run a loss-based controller or
//! one that tolerates random loss and jitter.
//!
//! A controller sees every packet sent, acknowledged and lost, and answers one question: how
//! many bytes may be in flight now ([`CongestionController::window`]).

mod bbr;
mod new_reno;
mod windowed_max;

use std::time::Duration;

use crate::Timestamp;

pub use bbr::Bbr;
pub use new_reno::NewReno;

/// A packet handed to the network, as the controller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentPacketInfo {
    /// Its packet number.
    pub packet_number: u64,
    /// When it was sent.
    pub time: Timestamp,
    /// Its size.
    pub bytes: u64,
    /// Bytes in flight before it was sent.
    pub bytes_in_flight: u64,
    /// The sender had nothing more to send: rate samples of this packet understate the path.
    pub app_limited: bool,
}

/// Decides how many bytes a connection may have in flight, and how fast to send them.
pub trait CongestionController: std::fmt::Debug + Send {
    /// A packet was sent.
    fn on_sent(&mut self, sent: &SentPacketInfo);

    /// Packet `packet_number` of `bytes`, sent at `sent_at`, was acknowledged; `rtt` is the
    /// current smoothed RTT and `min_rtt` the smallest seen.
    fn on_ack(
        &mut self,
        now: Timestamp,
        packet_number: u64,
        sent_at: Timestamp,
        bytes: u64,
        rtt: Duration,
        min_rtt: Duration,
    );

    /// Packet `packet_number` was declared lost.
    fn on_lost(&mut self, _packet_number: u64, _bytes: u64) {}

    /// Packets sent no later than `latest_sent_at` were declared lost at `now`: one congestion
    /// event however many packets it covers.
    fn on_congestion_event(&mut self, now: Timestamp, latest_sent_at: Timestamp);

    /// Losses spanning more than the persistent-congestion period: start over.
    fn on_persistent_congestion(&mut self);

    /// Bytes that may be in flight.
    fn window(&self) -> u64;

    /// Bytes per second to pace packets at, or `None` to send as the window allows.
    fn pacing_rate(&self) -> Option<u64> {
        None
    }
}

/// Which controller a connection runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CongestionKind {
    /// Loss-based NewReno (RFC 9002 §7).
    NewReno,
    /// BBR-like: paces at the measured bottleneck bandwidth and keeps about two
    /// bandwidth-delay products in flight; random loss and jitter do not shrink it.
    Bbr,
    /// No congestion window: only flow control limits the sender (KCP's `nc = 1`, for
    /// latency-critical traffic on links the operator trusts).
    Disabled,
}

/// The "no congestion control" controller.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unlimited;

impl CongestionController for Unlimited {
    fn on_sent(&mut self, _: &SentPacketInfo) {}
    fn on_ack(&mut self, _: Timestamp, _: u64, _: Timestamp, _: u64, _: Duration, _: Duration) {}
    fn on_congestion_event(&mut self, _: Timestamp, _: Timestamp) {}
    fn on_persistent_congestion(&mut self) {}
    fn window(&self) -> u64 {
        u64::MAX
    }
}

/// A controller of `kind` for packets of up to `max_datagram` bytes, assuming `initial_rtt`
/// until measured.
pub fn new_controller(
    kind: CongestionKind,
    max_datagram: u64,
    initial_rtt: Duration,
) -> Box<dyn CongestionController> {
    match kind {
        CongestionKind::NewReno => Box::new(NewReno::new(max_datagram)),
        CongestionKind::Bbr => Box::new(Bbr::new(max_datagram, initial_rtt)),
        CongestionKind::Disabled => Box::new(Unlimited),
    }
}
