//! Round-trip time estimation (RFC 6298 smoothing, with QUIC's ack-delay correction).

use std::time::Duration;

/// Smoothed RTT, its variation, and the minimum seen.
///
/// Samples come from acknowledgements of packet numbers: each number is sent once, so a sample
/// never mixes up a transmission with its retransmission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RttEstimator {
    latest: Duration,
    smoothed: Duration,
    variation: Duration,
    min: Duration,
    has_sample: bool,
}

impl RttEstimator {
    /// An estimator that assumes `initial` until the first sample.
    pub fn new(initial: Duration) -> Self {
        Self {
            latest: initial,
            smoothed: initial,
            variation: initial / 2,
            min: initial,
            has_sample: false,
        }
    }

    /// Smoothed RTT.
    pub fn smoothed(&self) -> Duration {
        self.smoothed
    }

    /// Mean deviation of the RTT.
    pub fn variation(&self) -> Duration {
        self.variation
    }

    /// Smallest RTT seen.
    pub fn min(&self) -> Duration {
        self.min
    }

    /// The latest sample.
    pub fn latest(&self) -> Duration {
        self.latest
    }

    /// Whether any sample was taken.
    pub fn has_sample(&self) -> bool {
        self.has_sample
    }

    /// Adds a sample measured from send to acknowledgement; `ack_delay` is the time the peer
    /// says it held the acknowledgement, subtracted when that leaves at least the minimum RTT.
    /// Returns the sample as used, `ack_delay` subtracted or not.
    pub fn update(&mut self, sample: Duration, ack_delay: Duration) -> Duration {
        self.latest = sample;
        self.min = if self.has_sample {
            self.min.min(sample)
        } else {
            sample
        };
        let adjusted = if sample >= self.min + ack_delay {
            sample - ack_delay
        } else {
            sample
        };
        if !self.has_sample {
            self.has_sample = true;
            self.smoothed = adjusted;
            self.variation = adjusted / 2;
            return adjusted;
        }
        let deviation = self.smoothed.abs_diff(adjusted);
        self.variation = (self.variation * 3 + deviation) / 4;
        self.smoothed = (self.smoothed * 7 + adjusted) / 8;
        adjusted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn first_sample_replaces_the_guess_then_smooths() {
        let mut rtt = RttEstimator::new(ms(333));
        rtt.update(ms(100), Duration::ZERO);
        assert_eq!(
            (rtt.smoothed(), rtt.variation(), rtt.min()),
            (ms(100), ms(50), ms(100))
        );
        rtt.update(ms(200), Duration::ZERO);
        assert_eq!(rtt.smoothed(), Duration::from_micros(112_500));
        assert_eq!(rtt.variation(), Duration::from_micros(62_500));
        assert_eq!(rtt.min(), ms(100));
    }

    #[test]
    fn ack_delay_is_subtracted_only_above_the_minimum() {
        let mut rtt = RttEstimator::new(ms(333));
        rtt.update(ms(100), Duration::ZERO);
        rtt.update(ms(130), ms(20));
        assert_eq!(rtt.latest(), ms(130));
        assert_eq!(rtt.smoothed(), (ms(100) * 7 + ms(110)) / 8);
        let before = rtt.smoothed();
        // A delay that would take the sample below the minimum RTT is not trusted.
        rtt.update(ms(105), ms(20));
        assert_eq!(rtt.smoothed(), (before * 7 + ms(105)) / 8);
    }
}
