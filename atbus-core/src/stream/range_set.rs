//! A set of `u64` offsets stored as disjoint, non-adjacent half-open ranges.

use std::collections::BTreeMap;
use std::ops::Range;

/// Disjoint half-open ranges `[start, end)`, merged when they touch or overlap.
///
/// Used for acknowledged ranges, ranges to retransmit and received ranges. Operations are
/// O(log n + k) in the number of ranges touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// start → end.
    ranges: BTreeMap<u64, u64>,
}

impl RangeSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of disjoint ranges.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Adds `range`.
    pub fn insert(&mut self, range: Range<u64>) {
        if range.start >= range.end {
            return;
        }
        let (mut start, mut end) = (range.start, range.end);
        // The common cases, touching or beyond the last range (packet numbers and offsets
        // mostly grow): no search.
        if let Some(mut last) = self.ranges.last_entry() {
            let (s, e) = (*last.key(), *last.get());
            if s <= start && start <= e {
                if end > e {
                    *last.get_mut() = end;
                }
                return;
            }
            if start > e {
                self.ranges.insert(start, end);
                return;
            }
        }
        // A range starting at or before `start` that reaches it merges.
        if let Some((&s, &e)) = self.ranges.range(..=start).next_back()
            && e >= start
        {
            start = s;
            end = end.max(e);
            self.ranges.remove(&s);
        }
        // Ranges starting inside [start, end] merge.
        while let Some((&s, &e)) = self.ranges.range(start..=end).next() {
            end = end.max(e);
            self.ranges.remove(&s);
        }
        self.ranges.insert(start, end);
    }

    /// Removes `range`.
    pub fn remove(&mut self, range: Range<u64>) {
        if range.start >= range.end {
            return;
        }
        // The common case, a prefix (acknowledged data, packet numbers no longer tracked):
        // the lowest ranges go or shrink, no search.
        if self
            .ranges
            .first_key_value()
            .is_none_or(|(&s, _)| range.start <= s)
        {
            while let Some(first) = self.ranges.first_entry() {
                let (s, e) = (*first.key(), *first.get());
                if s >= range.end {
                    break;
                }
                first.remove();
                if e > range.end {
                    self.ranges.insert(range.end, e);
                    break;
                }
            }
            return;
        }
        if let Some((&s, &e)) = self.ranges.range(..range.start).next_back()
            && e > range.start
        {
            self.ranges.insert(s, range.start);
            if e > range.end {
                self.ranges.insert(range.end, e);
                return;
            }
        }
        while let Some((&s, &e)) = self.ranges.range(range.start..range.end).next() {
            self.ranges.remove(&s);
            if e > range.end {
                self.ranges.insert(range.end, e);
                break;
            }
        }
    }

    /// Removes everything below `offset`.
    pub fn remove_below(&mut self, offset: u64) {
        self.remove(0..offset);
    }

    /// Whether `offset` is in the set.
    pub fn contains(&self, offset: u64) -> bool {
        // Mostly one range, or the last one asked about: no search.
        if let Some((&s, &e)) = self.ranges.last_key_value()
            && s <= offset
        {
            return offset < e;
        }
        self.ranges
            .range(..=offset)
            .next_back()
            .is_some_and(|(_, &e)| e > offset)
    }

    /// Whether every offset of `range` is in the set (an empty range is).
    pub fn covers(&self, range: Range<u64>) -> bool {
        range.start >= range.end
            || self
                .ranges
                .range(..=range.start)
                .next_back()
                .is_some_and(|(_, &e)| e >= range.end)
    }

    /// The lowest range.
    pub fn first(&self) -> Option<Range<u64>> {
        self.ranges.iter().next().map(|(&s, &e)| s..e)
    }

    /// The ranges in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Range<u64>> + '_ {
        self.ranges.iter().map(|(&s, &e)| s..e)
    }

    /// The parts of `range` not in the set, in ascending order.
    pub fn gaps(&self, range: Range<u64>) -> Vec<Range<u64>> {
        let mut gaps = Vec::new();
        if range.start >= range.end {
            return gaps;
        }
        let mut cursor = range.start;
        let first = self
            .ranges
            .range(..=range.start)
            .next_back()
            .filter(|(_, e)| **e > range.start)
            .map(|(&s, _)| s)
            .unwrap_or(range.start);
        for (&s, &e) in self.ranges.range(first..range.end) {
            if s > cursor {
                gaps.push(cursor..s.min(range.end));
            }
            cursor = cursor.max(e);
            if cursor >= range.end {
                break;
            }
        }
        if cursor < range.end {
            gaps.push(cursor..range.end);
        }
        gaps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    #[allow(clippy::reversed_empty_ranges)] // an inverted range is part of what is tested
    fn merges_and_splits() {
        let mut set = RangeSet::new();
        set.insert(10..20);
        set.insert(30..40);
        set.insert(20..30);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![10..40]);
        set.remove(15..25);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![10..15, 25..40]);
        assert_eq!(set.gaps(0..50), vec![0..10, 15..25, 40..50]);
        assert_eq!(set.gaps(30..20), vec![]);
        assert!(set.contains(10) && !set.contains(15) && set.contains(39) && !set.contains(40));
        set.remove_below(30);
        assert_eq!(set.first(), Some(30..40));
    }

    proptest! {
        #[test]
        fn behaves_like_a_bitmap(ops in prop::collection::vec((any::<bool>(), 0u64..200, 0u64..40), 0..60)) {
            let mut set = RangeSet::new();
            let mut model = [false; 256];
            for (insert, start, len) in ops {
                let range = start..start + len;
                if insert { set.insert(range.clone()) } else { set.remove(range.clone()) }
                for i in range { model[i as usize] = insert; }
                // Invariant: disjoint, non-adjacent, non-empty, ascending.
                let ranges: Vec<_> = set.iter().collect();
                for pair in ranges.windows(2) {
                    prop_assert!(pair[0].end < pair[1].start);
                }
                prop_assert!(ranges.iter().all(|r| r.start < r.end));
            }
            for (i, bit) in model.iter().enumerate() {
                prop_assert_eq!(set.contains(i as u64), *bit, "offset {}", i);
            }
            let gaps = set.gaps(0..256);
            for (i, bit) in model.iter().enumerate() {
                let in_gap = gaps.iter().any(|g| g.contains(&(i as u64)));
                prop_assert_eq!(in_gap, !*bit);
            }
            for start in (0..220u64).step_by(7) {
                for len in [0u64, 1, 5, 30] {
                    let all = model[start as usize..(start + len) as usize].iter().all(|b| *b);
                    prop_assert_eq!(set.covers(start..start + len), all, "{}..{}", start, start + len);
                }
            }
        }
    }
}
