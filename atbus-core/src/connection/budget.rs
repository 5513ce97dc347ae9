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
//! - With [`ConnectionConfig::hold_delivered`](super::ConnectionConfig::hold_delivered), a
//!   delivered message stays charged (`held`: its length plus [`ENTRY_COST`]) until the
//!   application releases it: an application that stops consuming stops the grants, so the
//!   peer is slowed instead of its messages piling up. A release that frees budget capped
//!   streams wait for sends their new grants at once, as delivery does. Grants are then
//!   reserved (`promised` sums the streams' unused credit), except for a floor of one
//!   initial window per stream while anything is spare, so that streams whose senders went
//!   quiet cannot starve the others. The floors are given while `memory + held < limit`
//!   without counting the reserved credit, so held memory stays within twice the limit plus
//!   one initial window per stream (and a message whose pieces reassembly already held).

use std::collections::BTreeSet;

use crate::stream::ENTRY_COST;

/// The streams' receive memory, summed.
#[derive(Debug, Default)]
pub(super) struct ReceiveBudget {
    /// Charged memory held by all streams' reassembly.
    pub memory: u64,
    /// The most `memory` ever reached.
    pub peak_memory: u64,
    /// Charges of delivered messages the application has not released yet (only with
    /// `hold_delivered`).
    pub held: u64,
    /// Credit granted to all streams and not used yet (each stream's
    /// [`outstanding`](crate::stream::Assembler::outstanding)).
    pub promised: u64,
    /// Streams whose last grant the budget capped.
    pub capped: BTreeSet<i64>,
}

impl ReceiveBudget {
    /// A stream's memory changed from `before` to `after`.
    pub fn account(&mut self, before: u64, after: u64) {
        self.memory = self.memory - before + after;
        self.peak_memory = self.peak_memory.max(self.memory);
    }

    /// A stream's unused credit changed from `before` to `after`.
    pub fn promise(&mut self, before: u64, after: u64) {
        self.promised = self.promised - before + after;
    }

    /// How far beyond what it received a stream whose unused credit is `own` may be granted
    /// when grants are reserved (with `hold_delivered`, whose held messages must stay within
    /// `limit`): what is spare less the other streams' unused credit — but while anything is
    /// spare at all, at least `floor`, so that a stream is never starved by others' credit
    /// their senders may never use.
    pub fn spare_reserved(&self, limit: u64, own: u64, floor: u64) -> u64 {
        let spare = self.spare(limit);
        let others = self.promised.saturating_sub(own);
        let reserved = spare.saturating_sub(others);
        if spare > 0 { reserved.max(floor) } else { 0 }
    }

    /// Everything charged: reassembly and held messages.
    pub fn used(&self) -> u64 {
        self.memory + self.held
    }

    /// How far beyond what it received a stream may now be granted under `limit`.
    pub fn spare(&self, limit: u64) -> u64 {
        limit.saturating_sub(self.used())
    }

    /// A message of `len` bytes was delivered and stays charged until released.
    pub fn hold(&mut self, len: usize) {
        self.held += charge(len);
    }

    /// The application released messages of `bytes` bytes in all, `count` of them. Returns
    /// whether streams wait for the budget this freed (their new grants should go out now).
    pub fn release(&mut self, bytes: u64, count: u64) -> bool {
        let freed = bytes.saturating_add(count.saturating_mul(ENTRY_COST));
        let before = self.held;
        self.held = self.held.saturating_sub(freed);
        self.held < before && !self.capped.is_empty()
    }
}

/// What a held message of `len` bytes is charged: its bytes and one entry's bookkeeping.
fn charge(len: usize) -> u64 {
    len as u64 + ENTRY_COST
}
