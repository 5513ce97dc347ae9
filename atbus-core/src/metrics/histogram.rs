//! The latency histogram: fixed buckets from 0 to 2 s and one above.

use std::time::Duration;

/// Upper bounds of the finite buckets, in milliseconds, ascending.
///
/// The bands, as the requirements give them: 0–60 ms by 15, 60–180 by 30, 180–320 by 60,
/// 320–800 by 120, 800–2000 by 300, then everything above. 140 ms (180 to 320) is not a
/// multiple of 60, so that band is 180–240, 240–300 and a short **300–320** bucket: every band
/// keeps its stated edges (320 is where the next band starts) and its stated width wherever the
/// width fits. The other bands divide evenly.
pub const LATENCY_BUCKET_BOUNDS_MS: [u64; 19] = [
    15, 30, 45, 60, // 0–60 by 15
    90, 120, 150, 180, // 60–180 by 30
    240, 300, 320, // 180–320 by 60, the last bucket 20 ms wide
    440, 560, 680, 800, // 320–800 by 120
    1_100, 1_400, 1_700, 2_000, // 800–2000 by 300
];

/// Number of buckets: one per bound and the overflow bucket above 2 s.
pub const LATENCY_BUCKETS: usize = LATENCY_BUCKET_BOUNDS_MS.len() + 1;

/// Counts of latency samples in fixed buckets, plus their sum.
///
/// **Edges**: bucket `i` holds the samples `s` with `bound[i-1] < s <= bound[i]` (the first
/// bucket `0 <= s <= 15 ms`; the last, the overflow bucket, `s > 2000 ms`). The upper bound is
/// inclusive, as in Prometheus (`le`, "less than or equal"), so the cumulative counts
/// ([`cumulative`](Self::cumulative)) are exactly what a Prometheus histogram exports: a sample
/// of exactly 15 ms counts in `le="0.015"`. Samples are compared at nanosecond precision.
///
/// Plain data: a snapshot is a clone, and histograms of several connections
/// [`merge`](Self::merge) into one of their peer by adding counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    counts: [u64; LATENCY_BUCKETS],
    sum: Duration,
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bucket a sample falls into (see the type's docs for the edges).
    pub fn bucket_index(sample: Duration) -> usize {
        LATENCY_BUCKET_BOUNDS_MS
            .partition_point(|&bound_ms| Duration::from_millis(bound_ms) < sample)
    }

    /// The upper bound of bucket `index`, inclusive; `None` for the overflow bucket (and for an
    /// index past it).
    pub fn upper_bound(index: usize) -> Option<Duration> {
        LATENCY_BUCKET_BOUNDS_MS
            .get(index)
            .map(|&bound_ms| Duration::from_millis(bound_ms))
    }

    /// Counts one sample.
    pub fn record(&mut self, sample: Duration) {
        let count = &mut self.counts[Self::bucket_index(sample)];
        *count = count.saturating_add(1);
        self.sum = self.sum.saturating_add(sample);
    }

    /// Samples per bucket, in bucket order (the last is the overflow bucket).
    pub fn counts(&self) -> &[u64; LATENCY_BUCKETS] {
        &self.counts
    }

    /// Samples in all buckets.
    pub fn count(&self) -> u64 {
        self.counts
            .iter()
            .fold(0u64, |total, &count| total.saturating_add(count))
    }

    /// Sum of all samples (Prometheus' `_sum`; it saturates at [`Duration::MAX`]).
    pub fn sum(&self) -> Duration {
        self.sum
    }

    /// Each bucket's inclusive upper bound (`None`: the overflow bucket, Prometheus' `+Inf`)
    /// with the number of samples at or below it: the cumulative form exporters publish.
    pub fn cumulative(&self) -> impl Iterator<Item = (Option<Duration>, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .scan(0u64, |below, (index, &count)| {
                *below = below.saturating_add(count);
                Some((Self::upper_bound(index), *below))
            })
    }

    /// Adds `other`'s samples to this histogram.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (count, &more) in self.counts.iter_mut().zip(&other.counts) {
            *count = count.saturating_add(more);
        }
        self.sum = self.sum.saturating_add(other.sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn bounds_follow_the_bands() {
        // Every band's width, recomputed from the bounds.
        let mut lower = 0;
        let widths: Vec<u64> = LATENCY_BUCKET_BOUNDS_MS
            .iter()
            .map(|&upper| {
                let width = upper - lower;
                lower = upper;
                width
            })
            .collect();
        assert_eq!(
            widths,
            [
                15, 15, 15, 15, 30, 30, 30, 30, 60, 60, 20, 120, 120, 120, 120, 300, 300, 300, 300
            ]
        );
        assert_eq!(LATENCY_BUCKETS, 20);
    }

    #[test]
    fn upper_bounds_are_inclusive() {
        assert_eq!(LatencyHistogram::bucket_index(Duration::ZERO), 0);
        assert_eq!(LatencyHistogram::bucket_index(ms(15)), 0);
        assert_eq!(
            LatencyHistogram::bucket_index(ms(15) + Duration::from_nanos(1)),
            1
        );
        assert_eq!(LatencyHistogram::bucket_index(ms(60)), 3);
        assert_eq!(LatencyHistogram::bucket_index(ms(61)), 4);
        assert_eq!(LatencyHistogram::bucket_index(ms(300)), 9);
        assert_eq!(LatencyHistogram::bucket_index(ms(301)), 10);
        assert_eq!(LatencyHistogram::bucket_index(ms(320)), 10);
        assert_eq!(LatencyHistogram::bucket_index(ms(321)), 11);
        assert_eq!(LatencyHistogram::bucket_index(ms(2_000)), 18);
        assert_eq!(
            LatencyHistogram::bucket_index(ms(2_000) + Duration::from_nanos(1)),
            19
        );
        assert_eq!(LatencyHistogram::bucket_index(Duration::MAX), 19);
        // Every bound belongs to its own bucket, and the next nanosecond to the next one.
        for (index, &bound) in LATENCY_BUCKET_BOUNDS_MS.iter().enumerate() {
            assert_eq!(LatencyHistogram::bucket_index(ms(bound)), index);
            assert_eq!(
                LatencyHistogram::bucket_index(ms(bound) + Duration::from_nanos(1)),
                index + 1
            );
            assert_eq!(LatencyHistogram::upper_bound(index), Some(ms(bound)));
        }
        assert_eq!(LatencyHistogram::upper_bound(19), None);
    }

    #[test]
    fn records_counts_sum_and_cumulative_counts() {
        let mut histogram = LatencyHistogram::new();
        assert_eq!(histogram.count(), 0);
        for sample in [ms(0), ms(15), ms(16), ms(500), ms(5_000)] {
            histogram.record(sample);
        }
        assert_eq!(histogram.count(), 5);
        assert_eq!(histogram.sum(), ms(5_531));
        assert_eq!(histogram.counts()[0], 2);
        assert_eq!(histogram.counts()[1], 1);
        assert_eq!(histogram.counts()[12], 1); // (440, 560]
        assert_eq!(histogram.counts()[19], 1);
        let cumulative: Vec<_> = histogram.cumulative().collect();
        assert_eq!(cumulative.len(), LATENCY_BUCKETS);
        assert_eq!(cumulative[0], (Some(ms(15)), 2));
        assert_eq!(cumulative[1], (Some(ms(30)), 3));
        assert_eq!(cumulative[11], (Some(ms(440)), 3));
        assert_eq!(cumulative[12], (Some(ms(560)), 4));
        assert_eq!(cumulative[18], (Some(ms(2_000)), 4));
        assert_eq!(cumulative[19], (None, 5));
    }

    #[test]
    fn merge_adds_counts_and_sums() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        let mut both = LatencyHistogram::new();
        for (i, sample) in [ms(1), ms(70), ms(250), ms(900), ms(3_000), ms(70)]
            .into_iter()
            .enumerate()
        {
            if i % 2 == 0 { &mut a } else { &mut b }.record(sample);
            both.record(sample);
        }
        let mut merged = a.clone();
        merged.merge(&b);
        assert_eq!(merged, both);
        // Merging is order-independent and an empty histogram changes nothing.
        let mut other_way = b.clone();
        other_way.merge(&a);
        assert_eq!(other_way, both);
        merged.merge(&LatencyHistogram::new());
        assert_eq!(merged, both);
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        let mut histogram = LatencyHistogram::new();
        histogram.record(Duration::MAX);
        histogram.record(Duration::MAX);
        assert_eq!(histogram.sum(), Duration::MAX);
        let mut full = histogram.clone();
        full.counts[19] = u64::MAX;
        full.merge(&histogram);
        assert_eq!(full.counts()[19], u64::MAX);
        assert_eq!(full.count(), u64::MAX);
    }
}
