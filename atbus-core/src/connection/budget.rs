//! The receive-memory budget a connection shares among its streams.
//!
//! Every stream's reassembly holds memory (charged, see
//! [`Assembler::memory`](crate::stream::Assembler::memory)). The connection keeps the sum here,
//! updated by the difference around every change, so that it never walks all streams per
//! packet.
//!
//! - New grants reach at most `limit − memory` beyond what each stream received. Grants are
//!   not reserved: together they may promise more than the budget, because a sender that has
//!   nothing more to send never uses its grant and the receiver cannot tell (reserving grants
//!   would let finished streams starve the others forever). The next rule keeps the budget.
//! - A stream whose grant was capped by the budget (not by its window) is remembered: when
//!   delivery frees memory, it is sent its new grant at once, or a sender waiting for it would
//!   wait forever.
//! - Data that arrives while `memory ≥ limit` is refused unless it fills its stream from the
//!   front (see `Connection::admits`).

use std::collections::BTreeSet;

/// The streams' receive memory, summed.
#[derive(Debug, Default)]
pub(super) struct ReceiveBudget {
    /// Charged memory held by all streams' reassembly.
    pub memory: u64,
    /// The most `memory` ever reached.
    pub peak_memory: u64,
    /// Streams whose last grant the budget capped.
    pub capped: BTreeSet<i64>,
}

impl ReceiveBudget {
    /// A stream's memory changed from `before` to `after`.
    pub fn account(&mut self, before: u64, after: u64) {
        self.memory = self.memory - before + after;
        self.peak_memory = self.peak_memory.max(self.memory);
    }

    /// How far beyond what it received a stream may now be granted under `limit`.
    pub fn spare(&self, limit: u64) -> u64 {
        limit.saturating_sub(self.memory)
    }
}
