//! Mean and variance of RTT samples, mergeable exactly.

use std::time::Duration;

/// Count, sum and sum of squares of round-trip-time samples, with their minimum and maximum.
///
/// This is a plain description of the samples, not an estimator: the connection's smoothed RTT
/// (`connection::RttEstimator`) drives its timers, while `RttStats` tells an exporter what the
/// RTT was over a connection's or a peer's life. Sums are integers (nanoseconds and squared
/// nanoseconds), so that [`merge`](Self::merge) is exact and the same samples give the same
/// figures in any order and any grouping. A sample is clamped to `u64::MAX` nanoseconds (584
/// years), so a square always fits; sums saturate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RttStats {
    count: u64,
    sum_nanos: u128,
    sum_squared_nanos: u128,
    min: Option<Duration>,
    max: Duration,
}

fn clamped_nanos(sample: Duration) -> u64 {
    u64::try_from(sample.as_nanos()).unwrap_or(u64::MAX)
}

impl RttStats {
    /// No samples.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sample.
    pub fn record(&mut self, sample: Duration) {
        let nanos = u128::from(clamped_nanos(sample));
        self.count = self.count.saturating_add(1);
        self.sum_nanos = self.sum_nanos.saturating_add(nanos);
        self.sum_squared_nanos = self.sum_squared_nanos.saturating_add(nanos * nanos);
        self.min = Some(self.min.map_or(sample, |min| min.min(sample)));
        self.max = self.max.max(sample);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Mean of the samples (rounded down to the nanosecond); `None` without samples.
    pub fn mean(&self) -> Option<Duration> {
        let mean = self.sum_nanos.checked_div(u128::from(self.count))?;
        Some(Duration::from_nanos(
            u64::try_from(mean).unwrap_or(u64::MAX),
        ))
    }

    /// Population variance of the samples (the mean squared deviation from [`mean`](Self::mean),
    /// dividing by the count), in **seconds squared**; `None` without samples, 0 with one.
    pub fn variance(&self) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let count = u128::from(self.count);
        // n·Σx² − (Σx)², exact when it fits (it is never negative), divided by n².
        let exact = count
            .checked_mul(self.sum_squared_nanos)
            .zip(self.sum_nanos.checked_mul(self.sum_nanos))
            .and_then(|(a, b)| a.checked_sub(b));
        let nanos_squared = match exact {
            Some(numerator) => numerator as f64 / (count * count) as f64,
            None => {
                let mean = self.sum_nanos as f64 / count as f64;
                (self.sum_squared_nanos as f64 / count as f64 - mean * mean).max(0.0)
            }
        };
        Some(nanos_squared / 1e18)
    }

    /// Standard deviation of the samples (the square root of [`variance`](Self::variance)).
    pub fn std_dev(&self) -> Option<Duration> {
        self.variance()
            .map(|variance| Duration::from_secs_f64(variance.sqrt().min(u64::MAX as f64)))
    }

    /// Smallest sample.
    pub fn min(&self) -> Option<Duration> {
        self.min
    }

    /// Largest sample; `None` without samples.
    pub fn max(&self) -> Option<Duration> {
        (self.count > 0).then_some(self.max)
    }

    /// Adds `other`'s samples, as if they had been recorded here.
    pub fn merge(&mut self, other: &RttStats) {
        self.count = self.count.saturating_add(other.count);
        self.sum_nanos = self.sum_nanos.saturating_add(other.sum_nanos);
        self.sum_squared_nanos = self
            .sum_squared_nanos
            .saturating_add(other.sum_squared_nanos);
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = self.max.max(other.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn empty_has_no_figures() {
        let stats = RttStats::new();
        assert_eq!(stats.count(), 0);
        assert_eq!(stats.mean(), None);
        assert_eq!(stats.variance(), None);
        assert_eq!(stats.std_dev(), None);
        assert_eq!(stats.min(), None);
        assert_eq!(stats.max(), None);
    }

    #[test]
    fn mean_and_variance_of_known_samples() {
        let mut stats = RttStats::new();
        stats.record(ms(40));
        assert_eq!(stats.variance(), Some(0.0));
        for sample in [ms(20), ms(60), ms(40), ms(40)] {
            stats.record(sample);
        }
        // Samples 40, 20, 60, 40, 40 ms: mean 40 ms, deviations 0, 20, 20, 0, 0 ms,
        // variance (400 + 400) / 5 = 160 ms² = 1.6e-4 s².
        assert_eq!(stats.count(), 5);
        assert_eq!(stats.mean(), Some(ms(40)));
        let variance = stats.variance().unwrap();
        assert!((variance - 1.6e-4).abs() < 1e-15, "{variance}");
        let std_dev = stats.std_dev().unwrap();
        assert!(std_dev.abs_diff(Duration::from_micros(12_649)) < Duration::from_micros(1));
        assert_eq!(stats.min(), Some(ms(20)));
        assert_eq!(stats.max(), Some(ms(60)));
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let samples = [
            ms(3),
            ms(250),
            ms(17),
            Duration::from_nanos(1),
            ms(99),
            ms(1_000),
        ];
        let mut all = RttStats::new();
        let mut left = RttStats::new();
        let mut right = RttStats::new();
        for (i, &sample) in samples.iter().enumerate() {
            all.record(sample);
            if i < 2 { &mut left } else { &mut right }.record(sample);
        }
        let mut merged = right.clone();
        merged.merge(&left);
        assert_eq!(merged, all);
        merged.merge(&RttStats::new());
        assert_eq!(merged, all);
        let mut from_empty = RttStats::new();
        from_empty.merge(&all);
        assert_eq!(from_empty, all);
    }

    #[test]
    fn huge_samples_saturate_without_panicking() {
        let mut stats = RttStats::new();
        stats.record(Duration::MAX);
        stats.record(Duration::MAX);
        stats.record(Duration::ZERO);
        assert_eq!(stats.count(), 3);
        assert!(stats.mean().is_some());
        assert!(stats.variance().is_some_and(|v| v.is_finite() && v >= 0.0));
        assert!(stats.std_dev().is_some());
        assert_eq!(stats.max(), Some(Duration::MAX));
        assert_eq!(stats.min(), Some(Duration::ZERO));
    }
}
