//! Path-MTU discovery for datagram connections (after RFC 8899, DPLPMTUD).
//!
//! ```text
//!   Searching ──probe acknowledged──▶ current = probe; next probe halfway to the ceiling
//!       │      ──probe lost───────────▶ ceiling = probe − 1 (= current within a step); next probe
//!       └─ ceiling = current ──────────▶ Done          halfway, or the ceiling within a step
//!   any state ──black hole (persistent congestion while above the base)──▶ current = base,
//!                                      ceiling = old current − 1, Searching
//! ```
//!
//! A probe is a `ping` padded (`pmtud_padding`) to the size being tried, sent on its own. Its loss
//! says nothing about congestion and is not counted as such. The connection sends data in
//! datagrams of `current` bytes; it starts at the configured safe size.

/// Smallest improvement worth another probe.
const STEP: usize = 16;

/// Path-MTU search state.
#[derive(Debug, Clone)]
pub(super) struct MtuDiscovery {
    base: usize,
    current: usize,
    ceiling: usize,
    /// The probe in flight: packet number and size.
    probe: Option<(u64, usize)>,
}

impl MtuDiscovery {
    /// Starts at `base` (known to work) and searches up to `ceiling`.
    pub fn new(base: usize, ceiling: usize) -> Self {
        Self {
            base,
            current: base,
            ceiling: ceiling.max(base),
            probe: None,
        }
    }

    /// The datagram size to use.
    pub fn current(&self) -> usize {
        self.current
    }

    /// The size of the next probe, if one should go now: halfway to the ceiling, or the ceiling
    /// itself once it is within [`STEP`].
    pub fn next_probe(&self) -> Option<usize> {
        let gap = self.ceiling - self.current;
        if self.probe.is_some() || gap == 0 {
            return None;
        }
        Some(if gap <= STEP {
            self.ceiling
        } else {
            self.current + gap.div_ceil(2)
        })
    }

    /// A probe of `size` went out as packet `number`.
    pub fn on_probe_sent(&mut self, number: u64, size: usize) {
        self.probe = Some((number, size));
    }

    /// Whether packet `number` is the probe in flight.
    pub fn is_probe(&self, number: u64) -> bool {
        self.probe.is_some_and(|(n, _)| n == number)
    }

    /// The probe arrived: its size works.
    pub fn on_probe_acked(&mut self, number: u64) {
        if let Some((n, size)) = self.probe
            && n == number
        {
            self.current = self.current.max(size);
            self.probe = None;
        }
    }

    /// The probe was lost: its size is taken as too large.
    pub fn on_probe_lost(&mut self, number: u64) {
        if let Some((n, size)) = self.probe
            && n == number
        {
            // Within a step of what works, stop searching; otherwise search below the failure.
            self.ceiling = if size - self.current <= STEP {
                self.current
            } else {
                (size - 1).max(self.current)
            };
            self.probe = None;
        }
    }

    /// Packets of the current size disappear (persistent congestion): if above the base, fall
    /// back to it and search below the size that failed.
    pub fn on_black_hole(&mut self) {
        if self.current > self.base {
            self.ceiling = self.current - 1;
            self.current = self.base;
            self.probe = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Probes against a path that carries up to `path_mtu` bytes.
    fn search(path_mtu: usize) -> MtuDiscovery {
        let mut mtu = MtuDiscovery::new(1_232, 1_452);
        let mut number = 0;
        while let Some(size) = mtu.next_probe() {
            number += 1;
            mtu.on_probe_sent(number, size);
            if size <= path_mtu {
                mtu.on_probe_acked(number);
            } else {
                mtu.on_probe_lost(number);
            }
            assert!(number < 20, "the search ends");
        }
        mtu
    }

    #[test]
    fn converges_below_the_path_mtu() {
        assert_eq!(search(1_500).current(), 1_452);
        let limited = search(1_300).current();
        assert!((1_300 - STEP..=1_300).contains(&limited), "{limited}");
        assert_eq!(search(1_000).current(), 1_232, "never below the base");
    }

    #[test]
    fn black_hole_falls_back_and_searches_lower() {
        let mut mtu = search(1_500);
        mtu.on_black_hole();
        assert_eq!(mtu.current(), 1_232);
        assert!(mtu.next_probe().is_some_and(|size| size < 1_452));
    }
}
