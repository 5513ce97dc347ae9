//! Counts per close reason.

use std::collections::BTreeMap;

use crate::proto::CloseReason;

/// How many times each [`CloseReason`] occurred: refused handshakes, closed connections.
///
/// Only reasons that occurred are stored, in the order of their wire values, so iteration (and
/// therefore export) is deterministic and a new reason needs no change here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasonCounts {
    counts: BTreeMap<CloseReason, u64>,
}

impl ReasonCounts {
    /// No occurrences.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one occurrence of `reason`.
    pub fn record(&mut self, reason: CloseReason) {
        let count = self.counts.entry(reason).or_default();
        *count = count.saturating_add(1);
    }

    /// Occurrences of `reason`.
    pub fn get(&self, reason: CloseReason) -> u64 {
        self.counts.get(&reason).copied().unwrap_or(0)
    }

    /// Occurrences of every reason together.
    pub fn total(&self) -> u64 {
        self.counts
            .values()
            .fold(0u64, |total, &count| total.saturating_add(count))
    }

    /// The reasons that occurred with their counts, in wire-value order.
    pub fn iter(&self) -> impl Iterator<Item = (CloseReason, u64)> + '_ {
        self.counts.iter().map(|(&reason, &count)| (reason, count))
    }

    /// Adds `other`'s counts.
    pub fn merge(&mut self, other: &ReasonCounts) {
        for (reason, count) in other.iter() {
            let total = self.counts.entry(reason).or_default();
            *total = total.saturating_add(count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_merge_and_iterate_in_wire_order() {
        let mut a = ReasonCounts::new();
        assert_eq!(a.total(), 0);
        assert_eq!(a.get(CloseReason::DuplicateName), 0);
        a.record(CloseReason::DuplicateName);
        a.record(CloseReason::UnsupportedVersion);
        a.record(CloseReason::DuplicateName);
        let mut b = ReasonCounts::new();
        b.record(CloseReason::Unauthorized);
        b.record(CloseReason::DuplicateName);
        a.merge(&b);
        assert_eq!(
            a.iter().collect::<Vec<_>>(),
            [
                (CloseReason::Unauthorized, 1),
                (CloseReason::UnsupportedVersion, 1),
                (CloseReason::DuplicateName, 3),
            ]
        );
        assert_eq!(a.total(), 5);
    }
}
