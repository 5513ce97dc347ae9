//! The handshake's two timers: its deadline, and the initiator's resend schedule on datagram
//! links.

use std::time::Duration;

use crate::Timestamp;

/// How long a handshake may take before it fails (libatbus' default, 30 s).
pub const DEFAULT_HANDSHAKE_DEADLINE: Duration = Duration::from_secs(30);

/// First resend interval of `register` on a datagram link, doubling after each resend: about
/// QUIC's initial probe timeout before any RTT is known (RFC 9002: 3 × 333 ms).
pub const DEFAULT_RESEND_INTERVAL: Duration = Duration::from_secs(1);

/// The handshake did not complete before its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("handshake not complete {limit:?} after it started")]
pub struct HandshakeTimeout {
    /// When the handshake started.
    pub started: Timestamp,
    /// How long it was allowed.
    pub limit: Duration,
}

impl HandshakeTimeout {
    /// The instant at which the handshake fails.
    pub fn deadline(&self) -> Timestamp {
        self.started + self.limit
    }

    /// Whether the deadline has passed at `now`.
    pub(super) fn expired(&self, now: Timestamp) -> bool {
        now >= self.deadline()
    }
}

/// When to send `register` again: after `interval`, then twice as long each time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ResendTimer {
    next: Timestamp,
    interval: Duration,
}

impl ResendTimer {
    pub(super) fn new(start: Timestamp, interval: Duration) -> Self {
        // A zero interval would resend on every timeout call; a nanosecond is the least.
        let interval = interval.max(Duration::from_nanos(1));
        ResendTimer {
            next: start + interval,
            interval,
        }
    }

    /// When the next resend is due.
    pub(super) fn next(&self) -> Timestamp {
        self.next
    }

    /// Whether a resend is due at `now`; if so, schedules the one after, twice as far.
    pub(super) fn fire(&mut self, now: Timestamp) -> bool {
        if now < self.next {
            return false;
        }
        self.interval = self.interval.saturating_mul(2);
        self.next = now + self.interval;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_expires_at_start_plus_limit() {
        let timeout = HandshakeTimeout {
            started: Timestamp::from_millis(5),
            limit: DEFAULT_HANDSHAKE_DEADLINE,
        };
        assert_eq!(timeout.deadline(), Timestamp::from_millis(30_005));
        assert!(!timeout.expired(Timestamp::from_millis(30_004)));
        assert!(timeout.expired(Timestamp::from_millis(30_005)));
        assert_eq!(
            timeout.to_string(),
            "handshake not complete 30s after it started"
        );
    }

    #[test]
    fn resends_back_off_by_doubling() {
        let mut timer = ResendTimer::new(Timestamp::ZERO, Duration::from_secs(1));
        assert!(!timer.fire(Timestamp::from_millis(999)));
        assert!(timer.fire(Timestamp::from_millis(1_000)));
        assert_eq!(timer.next(), Timestamp::from_millis(3_000));
        assert!(timer.fire(Timestamp::from_millis(3_500)));
        assert_eq!(timer.next(), Timestamp::from_millis(7_500));
        let mut eager = ResendTimer::new(Timestamp::ZERO, Duration::ZERO);
        assert!(eager.fire(Timestamp::from_nanos(1)));
        assert_eq!(eager.next(), Timestamp::from_nanos(3));
    }
}
