//! Per-packet state by packet number, for numbers that only ascend.
//!
//! A path numbers its packets 1, 2, 3, … and keeps state for those in flight until they are
//! acknowledged or lost — mostly from the front. A `BTreeMap` paid a search, node splits and
//! merges for every packet (B5 showed its insert and remove among the costliest calls, twice
//! per packet: loss recovery and the congestion controller each keep such a map). Here a
//! packet's slot is found by subtraction: a ring of slots from the oldest number kept, empty
//! where a number was never stored (packets not tracked) or already taken; empty slots at
//! either end are dropped at once, so the ring spans the numbers in flight only.

use std::collections::VecDeque;
use std::ops::Range;

/// Values by packet number (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct PacketMap<V> {
    /// Packet number of `slots[0]`.
    base: u64,
    slots: VecDeque<Option<V>>,
    /// Filled slots.
    len: usize,
}

impl<V> Default for PacketMap<V> {
    fn default() -> Self {
        Self {
            base: 0,
            slots: VecDeque::new(),
            len: 0,
        }
    }
}

impl<V> PacketMap<V> {
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stores `value` under `number`, replacing any value there. Numbers normally ascend;
    /// an older one is still stored, at the cost of the slots between.
    pub(crate) fn insert(&mut self, number: u64, value: V) {
        if self.slots.is_empty() {
            self.base = number;
        }
        while number < self.base {
            self.slots.push_front(None);
            self.base -= 1;
        }
        let index = (number - self.base) as usize;
        while self.slots.len() <= index {
            self.slots.push_back(None);
        }
        if self.slots[index].replace(value).is_none() {
            self.len += 1;
        }
    }

    /// Takes the value of `number`.
    pub(crate) fn remove(&mut self, number: u64) -> Option<V> {
        let index = usize::try_from(number.checked_sub(self.base)?).ok()?;
        let value = self.slots.get_mut(index)?.take()?;
        self.len -= 1;
        self.trim();
        Some(value)
    }

    /// Takes the values of the numbers in `range`, in ascending order, into `out`.
    pub(crate) fn take_range(&mut self, range: Range<u64>, out: &mut Vec<(u64, V)>) {
        let (from, to) = self.indices(range);
        for index in from..to {
            if let Some(value) = self.slots[index].take() {
                self.len -= 1;
                out.push((self.base + index as u64, value));
            }
        }
        self.trim();
    }

    /// The values of the numbers in `range`, in ascending order.
    pub(crate) fn range(&self, range: Range<u64>) -> impl Iterator<Item = (u64, &V)> {
        let (from, to) = self.indices(range);
        let base = self.base;
        self.slots
            .range(from..to)
            .enumerate()
            .filter_map(move |(i, slot)| Some((base + (from + i) as u64, slot.as_ref()?)))
    }

    /// Every value, in ascending order of number.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.slots.iter().flatten()
    }

    /// Empties the map, returning its values in ascending order of number.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (u64, V)> {
        let base = self.base;
        self.len = 0;
        std::mem::take(&mut self.slots)
            .into_iter()
            .enumerate()
            .filter_map(move |(i, slot)| Some((base + i as u64, slot?)))
    }

    /// Slot indices of `range`, clamped to the slots.
    fn indices(&self, range: Range<u64>) -> (usize, usize) {
        let clamp = |n: u64| n.saturating_sub(self.base).min(self.slots.len() as u64) as usize;
        let (from, to) = (clamp(range.start), clamp(range.end));
        (from, to.max(from))
    }

    /// Drops empty slots at both ends.
    fn trim(&mut self) {
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.base += 1;
        }
        while matches!(self.slots.back(), Some(None)) {
            self.slots.pop_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u64),
        Remove(u64),
        TakeRange(u64, u64),
        Drain,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u64..200).prop_map(Op::Insert),
            3 => (0u64..200).prop_map(Op::Remove),
            1 => (0u64..200, 0u64..60).prop_map(|(s, l)| Op::TakeRange(s, s + l)),
            1 => Just(Op::Drain),
        ]
    }

    proptest! {
        #[test]
        fn behaves_as_an_ordered_map(ops in proptest::collection::vec(op(), 0..200)) {
            let mut map = PacketMap::default();
            let mut model = BTreeMap::new();
            for (i, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Insert(n) => {
                        map.insert(n, i);
                        model.insert(n, i);
                    }
                    Op::Remove(n) => prop_assert_eq!(map.remove(n), model.remove(&n)),
                    Op::TakeRange(start, end) => {
                        let mut taken = Vec::new();
                        map.take_range(start..end, &mut taken);
                        let expected: Vec<(u64, usize)> =
                            model.range(start..end).map(|(k, v)| (*k, *v)).collect();
                        for (k, _) in &expected {
                            model.remove(k);
                        }
                        prop_assert_eq!(taken, expected);
                    }
                    Op::Drain => {
                        let drained: Vec<(u64, usize)> = map.drain().collect();
                        let expected: Vec<(u64, usize)> = std::mem::take(&mut model).into_iter().collect();
                        prop_assert_eq!(drained, expected);
                    }
                }
                prop_assert_eq!(map.is_empty(), model.is_empty());
                let ours: Vec<(u64, usize)> = map.range(0..u64::MAX).map(|(k, v)| (k, *v)).collect();
                let theirs: Vec<(u64, usize)> = model.iter().map(|(k, v)| (*k, *v)).collect();
                prop_assert_eq!(ours, theirs);
                prop_assert_eq!(map.values().count(), model.len());
                // The ring spans the numbers kept, no more.
                match (model.keys().next(), model.keys().next_back()) {
                    (Some(first), Some(last)) => {
                        prop_assert_eq!(map.base, *first);
                        prop_assert_eq!(map.slots.len() as u64, last - first + 1);
                    }
                    _ => prop_assert!(map.slots.is_empty()),
                }
            }
        }
    }
}
