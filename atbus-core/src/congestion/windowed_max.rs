//! A maximum over a sliding window of rounds (for BBR's bottleneck-bandwidth estimate).

use std::collections::VecDeque;

/// The maximum of samples taken in the last `window` rounds.
#[derive(Debug, Clone)]
pub(super) struct WindowedMax {
    window: u64,
    /// (round, value), values strictly decreasing from front to back.
    samples: VecDeque<(u64, u64)>,
}

impl WindowedMax {
    pub fn new(window: u64) -> Self {
        Self {
            window,
            samples: VecDeque::new(),
        }
    }

    /// Adds `value` measured in `round`.
    pub fn update(&mut self, round: u64, value: u64) {
        while self.samples.back().is_some_and(|(_, v)| *v <= value) {
            self.samples.pop_back();
        }
        self.samples.push_back((round, value));
        while self
            .samples
            .front()
            .is_some_and(|(r, _)| r + self.window <= round)
        {
            self.samples.pop_front();
        }
    }

    /// The maximum in the window (0 before any sample).
    pub fn get(&self) -> u64 {
        self.samples.front().map_or(0, |(_, v)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_maxima_expire() {
        let mut max = WindowedMax::new(3);
        max.update(0, 10);
        max.update(1, 5);
        assert_eq!(max.get(), 10);
        max.update(3, 4);
        assert_eq!(max.get(), 5);
        max.update(4, 1);
        assert_eq!(max.get(), 4);
        max.update(5, 7);
        assert_eq!(max.get(), 7);
    }
}
