//! What happens to the packets of one direction: [`Impairments`], with its parts
//! [`BurstLoss`] and [`RateLimit`].
//!
//! Each packet meets the impairments in this order, the same as the simulator's link model
//! (`atbus-sim`, `link/direction.rs`):
//!
//! 1. loss: independent (`loss`) or bursty (`burst_loss`, Gilbert–Elliott);
//! 2. duplication: with probability `duplicate` a second copy follows; each copy goes through
//!    the steps below on its own;
//! 3. rate limit: the copy waits for the bottleneck link, or is dropped when its queue is full
//!    (tail drop);
//! 4. delay: `delay` plus a uniform draw from `[0, jitter]`; copies that are not reordered leave
//!    in the order they arrived (FIFO), so jitter alone never reorders;
//! 5. reordering: with probability `reorder` the copy is held back a further `reorder_delay`,
//!    letting later packets overtake it.

use std::time::Duration;

use crate::error::ImpairmentError;

/// The impairments of one direction. `Impairments::default()` is a perfect link.
///
/// The fields are public so that tests can write
/// `Impairments { loss: 0.3, ..Impairments::default() }`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Impairments {
    /// Probability that a packet is lost, independently of the others. With `burst_loss` set,
    /// this is the loss probability in the good state instead.
    pub loss: f64,
    /// Bursty loss (Gilbert–Elliott); `None` for independent loss only.
    pub burst_loss: Option<BurstLoss>,
    /// Fixed one-way delay, the least any packet is delayed.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]` per copy (on top of `delay`, unlike the
    /// `±jitter` of Linux netem, so that `delay` stays a floor).
    pub jitter: Duration,
    /// Probability that a packet is delivered twice.
    pub duplicate: f64,
    /// Probability that a copy is held back by `reorder_delay`, letting later ones pass it.
    pub reorder: f64,
    /// Extra delay of a reordered copy; must be above zero when `reorder` is.
    pub reorder_delay: Duration,
    /// A bottleneck link with a queue; `None` for unlimited rate.
    pub rate: Option<RateLimit>,
}

/// Gilbert–Elliott burst loss: a two-state chain stepped once per packet. In the good state a
/// packet is lost with [`Impairments::loss`], in the bad state with `loss_in_bad`.
///
/// The long-run share of packets sent in the bad state is `p / (p + r)`, and the mean burst
/// (bad-state run) lasts `1 / r` packets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurstLoss {
    /// Probability of moving from the good to the bad state, per packet.
    pub p: f64,
    /// Probability of moving from the bad back to the good state, per packet.
    pub r: f64,
    /// Loss probability in the bad state (1.0 for the classic Gilbert model).
    pub loss_in_bad: f64,
}

/// A bottleneck link: packets are sent at `bytes_per_second` (UDP payload bytes; headers are not
/// counted) and wait in a queue of `queue_bytes`; a packet that would overflow the queue is
/// dropped (tail drop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Link rate in payload bytes per second.
    pub bytes_per_second: u64,
    /// Bytes that may wait for the link, counting the packet being sent.
    pub queue_bytes: usize,
}

impl RateLimit {
    /// A rate limit with the default queue: 100 ms worth of bytes at this rate, but at least
    /// 64 KiB so that any single UDP datagram fits.
    pub fn new(bytes_per_second: u64) -> Self {
        let hundred_ms = usize::try_from(bytes_per_second / 10).unwrap_or(usize::MAX);
        Self {
            bytes_per_second,
            queue_bytes: hundred_ms.max(64 * 1024),
        }
    }
}

impl Impairments {
    /// A perfect link: nothing lost, delayed, duplicated or reordered. The same as `default()`.
    pub fn none() -> Self {
        Self::default()
    }

    /// Everything lost: a partition, until impairments are set again.
    pub fn partition() -> Self {
        Self {
            loss: 1.0,
            ..Self::default()
        }
    }

    /// The long-run fraction of packets lost at random (not counting rate-limit drops).
    pub fn mean_loss(&self) -> f64 {
        match self.burst_loss {
            None => self.loss,
            Some(b) if b.p + b.r == 0.0 => self.loss,
            Some(b) => {
                let bad = b.p / (b.p + b.r);
                bad * b.loss_in_bad + (1.0 - bad) * self.loss
            }
        }
    }

    /// Checks that every probability is in `[0, 1]` and that the rate limit and reordering can
    /// work.
    pub fn validate(&self) -> Result<(), ImpairmentError> {
        probability("loss", self.loss)?;
        probability("duplicate", self.duplicate)?;
        probability("reorder", self.reorder)?;
        if let Some(b) = self.burst_loss {
            probability("burst_loss.p", b.p)?;
            probability("burst_loss.r", b.r)?;
            probability("burst_loss.loss_in_bad", b.loss_in_bad)?;
        }
        if let Some(rate) = self.rate {
            if rate.bytes_per_second == 0 {
                return Err(ImpairmentError::ZeroRate);
            }
            if rate.queue_bytes == 0 {
                return Err(ImpairmentError::ZeroQueue);
            }
        }
        if self.reorder > 0.0 && self.reorder_delay.is_zero() {
            return Err(ImpairmentError::ReorderWithoutDelay {
                reorder: self.reorder,
            });
        }
        Ok(())
    }
}

fn probability(field: &'static str, value: f64) -> Result<(), ImpairmentError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(ImpairmentError::Probability { field, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_perfect() {
        assert_eq!(Impairments::default().validate(), Ok(()));
        assert_eq!(Impairments::none().mean_loss(), 0.0);
        assert_eq!(Impairments::partition().mean_loss(), 1.0);
    }

    #[test]
    fn bad_values_are_named() {
        let bad = Impairments {
            duplicate: 1.5,
            ..Impairments::default()
        };
        assert_eq!(
            bad.validate(),
            Err(ImpairmentError::Probability {
                field: "duplicate",
                value: 1.5
            })
        );
        let nan = Impairments {
            loss: f64::NAN,
            ..Impairments::default()
        };
        assert!(matches!(
            nan.validate(),
            Err(ImpairmentError::Probability { field: "loss", .. })
        ));
        let burst = Impairments {
            burst_loss: Some(BurstLoss {
                p: 0.1,
                r: -0.1,
                loss_in_bad: 1.0,
            }),
            ..Impairments::default()
        };
        assert!(matches!(
            burst.validate(),
            Err(ImpairmentError::Probability {
                field: "burst_loss.r",
                ..
            })
        ));
        let reorder = Impairments {
            reorder: 0.1,
            ..Impairments::default()
        };
        assert_eq!(
            reorder.validate(),
            Err(ImpairmentError::ReorderWithoutDelay { reorder: 0.1 })
        );
        let rate = Impairments {
            rate: Some(RateLimit {
                bytes_per_second: 0,
                queue_bytes: 10,
            }),
            ..Impairments::default()
        };
        assert_eq!(rate.validate(), Err(ImpairmentError::ZeroRate));
    }

    #[test]
    fn gilbert_elliott_mean_loss() {
        let imp = Impairments {
            loss: 0.0,
            burst_loss: Some(BurstLoss {
                p: 0.01,
                r: 0.09,
                loss_in_bad: 1.0,
            }),
            ..Impairments::default()
        };
        assert!((imp.mean_loss() - 0.1).abs() < 1e-12);
    }

    #[test]
    fn default_queue_holds_a_datagram_and_100ms() {
        assert_eq!(RateLimit::new(1_000).queue_bytes, 64 * 1024);
        assert_eq!(RateLimit::new(10_000_000).queue_bytes, 1_000_000);
    }
}
