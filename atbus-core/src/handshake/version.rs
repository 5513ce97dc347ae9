//! Ranges of protocol versions and the negotiation rule.

use core::fmt;

use crate::frame::{MIN_PROTOCOL_VERSION, PROTOCOL_VERSION};

/// A non-empty range of protocol versions, `min..=max`, with `min` at least 1.
///
/// **Negotiation**: the responder picks the highest version both ranges contain
/// ([`highest_common`](Self::highest_common)); the initiator checks that the responder picked
/// exactly that one. No common version: the responder refuses with `UNSUPPORTED_VERSION` and
/// its own range, so both sides can report both ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionRange {
    min: u32,
    max: u32,
}

impl VersionRange {
    /// The versions this build speaks: from the oldest version the frame decoder accepts
    /// ([`MIN_PROTOCOL_VERSION`]) to the one its encoder writes ([`PROTOCOL_VERSION`]).
    pub const SUPPORTED: VersionRange = VersionRange {
        min: MIN_PROTOCOL_VERSION,
        max: PROTOCOL_VERSION,
    };

    /// `min..=max`, or `None` when `min` is 0 (version 0 does not exist) or above `max`.
    pub const fn new(min: u32, max: u32) -> Option<Self> {
        if min == 0 || min > max {
            None
        } else {
            Some(VersionRange { min, max })
        }
    }

    /// The lowest version of the range.
    pub const fn min(self) -> u32 {
        self.min
    }

    /// The highest version of the range.
    pub const fn max(self) -> u32 {
        self.max
    }

    /// Whether `version` is in the range.
    pub const fn contains(self, version: u32) -> bool {
        self.min <= version && version <= self.max
    }

    /// The highest version both ranges contain, if they overlap.
    pub fn highest_common(self, other: VersionRange) -> Option<u32> {
        let high = self.max.min(other.max);
        (high >= self.min.max(other.min)).then_some(high)
    }
}

impl Default for VersionRange {
    fn default() -> Self {
        Self::SUPPORTED
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}..={}", self.min, self.max)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(min: u32, max: u32) -> VersionRange {
        VersionRange::new(min, max).expect("valid range")
    }

    #[test]
    fn ranges_are_non_empty_and_start_at_one() {
        assert_eq!(VersionRange::new(0, 3), None);
        assert_eq!(VersionRange::new(0, 0), None);
        assert_eq!(VersionRange::new(4, 3), None);
        assert_eq!(VersionRange::new(3, 3), Some(range(3, 3)));
        assert_eq!(VersionRange::SUPPORTED, range(3, 3));
        assert_eq!(VersionRange::default(), VersionRange::SUPPORTED);
        assert!(range(2, 4).contains(2) && range(2, 4).contains(4));
        assert!(!range(2, 4).contains(1) && !range(2, 4).contains(5));
    }

    #[test]
    fn the_highest_common_version_wins() {
        assert_eq!(range(3, 3).highest_common(range(3, 3)), Some(3));
        assert_eq!(range(1, 5).highest_common(range(3, 9)), Some(5));
        assert_eq!(range(3, 9).highest_common(range(1, 5)), Some(5));
        assert_eq!(range(1, 9).highest_common(range(4, 6)), Some(6));
        assert_eq!(range(2, 3).highest_common(range(3, 4)), Some(3));
        assert_eq!(range(1, 2).highest_common(range(3, 4)), None);
        assert_eq!(range(3, 4).highest_common(range(1, 2)), None);
    }

    #[test]
    fn display_reads_as_a_range() {
        assert_eq!(range(3, 3).to_string(), "3");
        assert_eq!(range(3, 5).to_string(), "3..=5");
    }
}
