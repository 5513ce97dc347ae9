//! The bottleneck link of a [`RateLimit`]: when each copy finishes sending, or that it is
//! dropped because the queue is full.
//!
//! The model is a single server queue in virtual time: the link is busy until `busy_until`;
//! a copy arriving at `now` starts when the link frees up and takes `len / rate` seconds. The
//! bytes still waiting at `now` are `(busy_until - now) × rate`; a copy that would push them
//! past the queue size is dropped (tail drop).

use std::time::Duration;

use crate::impairments::RateLimit;

/// The running state of one direction's rate limit.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    /// The link is busy sending until then (time since the proxy started).
    busy_until: Duration,
}

impl RateLimiter {
    /// When a copy of `len` bytes arriving at `now` has been sent, or `None` when the queue
    /// is full and it is dropped.
    pub fn admit(&mut self, limit: &RateLimit, now: Duration, len: usize) -> Option<Duration> {
        let rate = limit.bytes_per_second as f64;
        let start = self.busy_until.max(now);
        let queued = (start - now).as_secs_f64() * rate;
        if queued + len as f64 > limit.queue_bytes as f64 {
            return None;
        }
        self.busy_until = start + Duration::from_secs_f64(len as f64 / rate);
        Some(self.busy_until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn serialises_back_to_back_and_tail_drops() {
        // 1,000 bytes per second: a 100-byte copy takes 100 ms; the queue holds 300 bytes.
        let limit = RateLimit {
            bytes_per_second: 1_000,
            queue_bytes: 300,
        };
        let mut link = RateLimiter::default();
        assert_eq!(link.admit(&limit, Duration::ZERO, 100), Some(100 * MS));
        assert_eq!(link.admit(&limit, Duration::ZERO, 100), Some(200 * MS));
        assert_eq!(link.admit(&limit, Duration::ZERO, 100), Some(300 * MS));
        assert_eq!(link.admit(&limit, Duration::ZERO, 100), None, "queue full");
        // 150 ms later 150 bytes are still queued: 100 more fit, 200 do not.
        assert_eq!(link.admit(&limit, 150 * MS, 200), None);
        assert_eq!(link.admit(&limit, 150 * MS, 100), Some(400 * MS));
    }

    #[test]
    fn an_idle_link_starts_at_arrival() {
        let limit = RateLimit {
            bytes_per_second: 1_000,
            queue_bytes: 1_000,
        };
        let mut link = RateLimiter::default();
        assert_eq!(link.admit(&limit, 5_000 * MS, 10), Some(5_010 * MS));
    }
}
