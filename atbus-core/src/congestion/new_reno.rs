//! NewReno congestion control (RFC 9002 §7).
//!
//! ```text
//!   slow start ──loss──▶ recovery ──ack of a packet sent after recovery began──▶ congestion avoidance
//!       ▲                                                                         │
//!       └──────────────────── persistent congestion (window back to minimum) ─────┘
//! ```
//!
//! Slow start adds every acknowledged byte to the window; congestion avoidance adds one datagram
//! per window acknowledged; a congestion event halves the window once per round trip (packets
//! sent before the event do not cause another).

use std::time::Duration;

use super::CongestionController;
use crate::Timestamp;

/// NewReno state.
#[derive(Debug, Clone)]
pub struct NewReno {
    max_datagram: u64,
    window: u64,
    slow_start_threshold: u64,
    recovery_start: Option<Timestamp>,
    /// Bytes acknowledged in congestion avoidance since the window last grew.
    acked_in_avoidance: u64,
}

impl NewReno {
    /// Initial window: ten datagrams, at least 14,720 bytes (RFC 9002).
    pub fn new(max_datagram: u64) -> Self {
        Self {
            max_datagram,
            window: (10 * max_datagram).min((2 * max_datagram).max(14_720)),
            slow_start_threshold: u64::MAX,
            recovery_start: None,
            acked_in_avoidance: 0,
        }
    }

    fn minimum_window(&self) -> u64 {
        2 * self.max_datagram
    }
}

impl CongestionController for NewReno {
    fn on_sent(&mut self, _sent: &super::SentPacketInfo) {}

    fn on_ack(
        &mut self,
        _now: Timestamp,
        _number: u64,
        sent_at: Timestamp,
        bytes: u64,
        _rtt: Duration,
        _min: Duration,
    ) {
        if self.recovery_start.is_some_and(|start| sent_at <= start) {
            return;
        }
        if self.window < self.slow_start_threshold {
            self.window += bytes;
        } else {
            self.acked_in_avoidance += bytes;
            if self.acked_in_avoidance >= self.window {
                self.acked_in_avoidance -= self.window;
                self.window += self.max_datagram;
            }
        }
    }

    fn on_congestion_event(&mut self, now: Timestamp, latest_sent_at: Timestamp) {
        if self
            .recovery_start
            .is_some_and(|start| latest_sent_at <= start)
        {
            return;
        }
        self.recovery_start = Some(now);
        self.window = (self.window / 2).max(self.minimum_window());
        self.slow_start_threshold = self.window;
        self.acked_in_avoidance = 0;
    }

    fn on_persistent_congestion(&mut self) {
        self.window = self.minimum_window();
        self.recovery_start = None;
    }

    fn window(&self) -> u64 {
        self.window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_start_then_one_halving_per_round_then_linear_growth() {
        let mut cc = NewReno::new(1_000);
        let t = |ms| Timestamp::from_millis(ms);
        let rtt = Duration::from_millis(100);
        assert_eq!(cc.window(), 10_000);
        cc.on_ack(t(100), 1, t(0), 5_000, rtt, rtt);
        assert_eq!(cc.window(), 15_000);
        cc.on_congestion_event(t(200), t(150));
        assert_eq!(cc.window(), 7_500);
        // More losses of packets sent before recovery began: no further cut.
        cc.on_congestion_event(t(210), t(160));
        assert_eq!(cc.window(), 7_500);
        // Acks of packets sent before recovery do not grow the window.
        cc.on_ack(t(220), 2, t(190), 1_000, rtt, rtt);
        assert_eq!(cc.window(), 7_500);
        // Congestion avoidance: one datagram per window acknowledged.
        cc.on_ack(t(400), 3, t(300), 7_500, rtt, rtt);
        assert_eq!(cc.window(), 8_500);
        cc.on_persistent_congestion();
        assert_eq!(cc.window(), 2_000);
    }
}
