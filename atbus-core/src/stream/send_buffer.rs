//! The sending half of a stream's data: what is buffered, sent, acknowledged and lost.
//!
//! # Model
//!
//! The application writes whole messages; each takes the next `len` offsets of the stream
//! (offsets count payload bytes). Every byte is in exactly one of these states:
//!
//! ```text
//!   written ──send──▶ in flight ──ack──▶ acknowledged (freed once everything below is too)
//!                         │  ▲
//!                    lost │  │ send again
//!                         ▼  │
//!                       to resend
//! ```
//!
//! - `acked`: every byte below is acknowledged; whole messages below it are dropped from memory.
//! - `sacked`: ranges acknowledged above `acked` (selective acknowledgements). Never resent.
//! - `lost`: ranges declared lost by the connection, waiting to be sent again (lowest first,
//!   before any new data).
//! - `next_new`: first byte never sent. New data is sent in order, within the peer's window.
//!
//! Invariants: `acked ≤ next_new ≤ end`; `lost` and `sacked` are disjoint and lie in
//! `[acked, next_new)`; buffered bytes `end − acked ≤ capacity`, except after
//! [`write_committed`](SendBuffer::write_committed) (messages the owner had already accepted
//! elsewhere, which may exceed it once: later writes then wait until it is below again).
//!
//! # Reset
//!
//! [`reset`](SendBuffer::reset) abandons every message not yet acknowledged and hands it back;
//! the stream goes on from the offset after them. The receiver must learn to skip to that
//! offset: every packet that starts there carries `RESET_OFFSET` until one of them is
//! acknowledged (a packet with no data carries it when there is nothing new to send).
//!
//! ```text
//!   none ──reset──▶ unsent ──sent──▶ in flight ──acked──▶ none
//!                     ▲                  │
//!                     └──────lost────────┘
//! ```
//!
//! A range handed out for sending is cut into [`Fragment`]s at message boundaries, so a fragment
//! never spans two messages: the receiver learns boundaries from `ends_message`, and the first
//! fragment of a message (the one starting at its first offset) carries its [`MessageMeta`].
//! The same range may be cut differently when it is sent again (another connection, another MTU).

use std::collections::VecDeque;
use std::ops::Range;

use bytes::Bytes;

use super::range_set::RangeSet;
use super::{Fragment, MessageMeta};

/// Why a message could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// Messages carry at least one byte (offsets are what tell messages apart).
    #[error("empty message")]
    Empty,
    /// The message exceeds the maximum message size.
    #[error("message of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The stream was finished: nothing more may be written.
    #[error("stream already finished")]
    Finished,
    /// The send buffer cannot take the message until more is acknowledged.
    #[error("send buffer full: {len} bytes do not fit in the {available} available")]
    Blocked {
        /// The message's size.
        len: usize,
        /// Bytes free now.
        available: u64,
    },
}

/// Why an acknowledgement was refused. Each is a protocol violation by the peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// The peer acknowledged bytes that were never sent.
    #[error("acknowledgement up to {acked} but only {sent} bytes were sent")]
    UnsentData {
        /// Highest offset acknowledged.
        acked: u64,
        /// Offsets sent so far.
        sent: u64,
    },
}

#[derive(Debug)]
struct Pending {
    start: u64,
    data: Bytes,
    meta: Option<Box<MessageMeta>>,
}

impl Pending {
    fn end(&self) -> u64 {
        self.start + self.data.len() as u64
    }
}

/// Where the end of the stream (`FINISH_STREAM`) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FinState {
    /// The application has not finished the stream.
    Open,
    /// Finished; the end still has to be sent (again).
    Unsent,
    /// Sent, not yet acknowledged.
    InFlight,
    /// The peer has the end.
    Acked,
}

/// Where a reset of the stream stands: the offset the receiver must skip to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResetState {
    /// No reset to tell.
    None,
    /// The receiver must be told to skip to this offset.
    Unsent(u64),
    /// A packet telling it is in flight.
    InFlight(u64),
}

/// Messages a [`reset`](SendBuffer::reset) took back from the stream, oldest first, each with
/// its metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Abandoned {
    /// Never sent whole: the peer cannot have delivered them.
    pub unsent: Vec<(Bytes, Option<MessageMeta>)>,
    /// Sent whole, never acknowledged: the peer may or may not have delivered them.
    pub unacknowledged: Vec<(Bytes, Option<MessageMeta>)>,
}

/// Unacknowledged data of one stream.
#[derive(Debug)]
pub struct SendBuffer {
    fin: FinState,
    reset: ResetState,
    messages: VecDeque<Pending>,
    acked: u64,
    sacked: RangeSet,
    lost: RangeSet,
    next_new: u64,
    end: u64,
    capacity: u64,
    max_message: usize,
}

impl SendBuffer {
    /// A buffer holding at most `capacity` unacknowledged bytes, refusing messages above
    /// `max_message` bytes.
    pub fn new(capacity: u64, max_message: usize) -> Self {
        Self {
            fin: FinState::Open,
            reset: ResetState::None,
            messages: VecDeque::new(),
            acked: 0,
            sacked: RangeSet::new(),
            lost: RangeSet::new(),
            next_new: 0,
            end: 0,
            capacity,
            max_message,
        }
    }

    /// Appends a message; returns the offsets it occupies.
    pub fn write(
        &mut self,
        data: Bytes,
        meta: Option<MessageMeta>,
    ) -> Result<Range<u64>, WriteError> {
        self.write_within(data, meta, true)
    }

    /// Appends a message the owner already accepted (it waited elsewhere for the stream),
    /// even when the buffer is full: refusing it now would lose it or reorder it behind later
    /// ones. Every other refusal of [`write`](Self::write) still applies.
    pub fn write_committed(
        &mut self,
        data: Bytes,
        meta: Option<MessageMeta>,
    ) -> Result<Range<u64>, WriteError> {
        self.write_within(data, meta, false)
    }

    fn write_within(
        &mut self,
        data: Bytes,
        meta: Option<MessageMeta>,
        bounded: bool,
    ) -> Result<Range<u64>, WriteError> {
        let len = data.len();
        if self.fin != FinState::Open {
            return Err(WriteError::Finished);
        }
        if len == 0 {
            return Err(WriteError::Empty);
        }
        if len > self.max_message {
            return Err(WriteError::TooLarge {
                len,
                max: self.max_message,
            });
        }
        let available = self.capacity.saturating_sub(self.end - self.acked);
        if bounded && len as u64 > available {
            return Err(WriteError::Blocked { len, available });
        }
        let start = self.end;
        self.end += len as u64;
        self.messages.push_back(Pending {
            start,
            data,
            meta: meta.filter(|m| *m != MessageMeta::default()).map(Box::new),
        });
        Ok(start..self.end)
    }

    /// Bytes written and not yet acknowledged.
    pub fn unacked_bytes(&self) -> u64 {
        self.end - self.acked
    }

    /// Bytes written and never sent.
    pub fn unsent_bytes(&self) -> u64 {
        self.end - self.next_new
    }

    /// Every byte below this offset is acknowledged.
    pub fn acked_offset(&self) -> u64 {
        self.acked
    }

    /// One past the highest byte ever sent.
    pub fn sent_offset(&self) -> u64 {
        self.next_new
    }

    /// Whether anything waits to be sent (again or for the first time) within `limit`,
    /// the end of the stream included.
    pub fn has_sendable(&self, limit: u64) -> bool {
        !self.lost.is_empty()
            || (self.next_new < self.end && self.next_new < limit)
            || self.fin_sendable()
            || self.reset_unsent().is_some()
    }

    /// Abandons every message not yet acknowledged and returns it: nothing of it is sent
    /// again, and the receiver is told to skip it (see the module docs). Messages written
    /// afterwards continue at the next offset. Nothing happens when everything written was
    /// acknowledged.
    pub fn reset(&mut self) -> Abandoned {
        let mut abandoned = Abandoned::default();
        if self.acked == self.end {
            return abandoned;
        }
        for message in self.messages.drain(..) {
            let entry = (message.data, message.meta.map(|m| *m));
            if message.start + entry.0.len() as u64 > self.next_new {
                abandoned.unsent.push(entry);
            } else {
                abandoned.unacknowledged.push(entry);
            }
        }
        self.acked = self.end;
        self.next_new = self.end;
        self.sacked = RangeSet::new();
        self.lost = RangeSet::new();
        self.reset = ResetState::Unsent(self.end);
        abandoned
    }

    /// The offset the receiver must still be told to skip to, when no packet telling it is in
    /// flight.
    pub fn reset_unsent(&self) -> Option<u64> {
        match self.reset {
            ResetState::Unsent(offset) => Some(offset),
            _ => None,
        }
    }

    /// Whether a packet whose data starts at `offset` must carry `RESET_OFFSET`.
    pub fn resets_at(&self, offset: u64) -> bool {
        matches!(self.reset, ResetState::Unsent(o) | ResetState::InFlight(o) if o == offset)
    }

    /// A packet carrying the reset to `offset` went out.
    pub fn on_reset_sent(&mut self, offset: u64) {
        if self.reset == ResetState::Unsent(offset) {
            self.reset = ResetState::InFlight(offset);
        }
    }

    /// The packet carrying the reset to `offset` was lost.
    pub fn on_reset_lost(&mut self, offset: u64) {
        if self.reset == ResetState::InFlight(offset) {
            self.reset = ResetState::Unsent(offset);
        }
    }

    /// The peer has the reset to `offset`.
    pub fn on_reset_acked(&mut self, offset: u64) {
        if matches!(self.reset, ResetState::Unsent(o) | ResetState::InFlight(o) if o == offset) {
            self.reset = ResetState::None;
        }
    }

    /// Ends the stream after what was written: the end goes out with the last data (or alone).
    /// Finishing twice is harmless.
    pub fn finish(&mut self) {
        if self.fin == FinState::Open {
            self.fin = FinState::Unsent;
        }
    }

    /// The final offset, once the stream is finished.
    pub fn final_offset(&self) -> Option<u64> {
        (self.fin != FinState::Open).then_some(self.end)
    }

    /// Whether the end should go out now: finished, not in flight or acknowledged, and every
    /// byte sent at least once.
    pub fn fin_sendable(&self) -> bool {
        self.fin == FinState::Unsent && self.next_new == self.end
    }

    /// The end went out in a packet.
    pub fn on_fin_sent(&mut self) {
        if self.fin == FinState::Unsent {
            self.fin = FinState::InFlight;
        }
    }

    /// The packet carrying the end was lost.
    pub fn on_fin_lost(&mut self) {
        if self.fin == FinState::InFlight {
            self.fin = FinState::Unsent;
        }
    }

    /// The peer reports having the end.
    pub fn on_fin_acked(&mut self) {
        if self.fin != FinState::Open {
            self.fin = FinState::Acked;
        }
    }

    /// Finished, and everything including the end acknowledged: the stream's sending side is done.
    pub fn is_done(&self) -> bool {
        self.fin == FinState::Acked && self.is_fully_acked()
    }

    /// Whether every byte of `range` was acknowledged (cumulatively or selectively).
    pub fn is_acked(&self, range: Range<u64>) -> bool {
        let start = range.start.max(self.acked);
        start >= range.end || self.sacked.covers(start..range.end)
    }

    /// Whether everything written was acknowledged.
    pub fn is_fully_acked(&self) -> bool {
        self.acked == self.end
    }

    /// Chooses the next range to send, at most `max_len` bytes: lost data first, then new data
    /// below `limit` (the peer's flow-control limit). The range is taken out of the lost set or
    /// off the unsent data; the caller turns it into [`fragments`](Self::fragments).
    ///
    /// When the range would cut a message that fits whole in `whole_up_to` bytes and other data
    /// precedes it in the range, the range ends before that message instead, so that small
    /// messages are not split across packets.
    pub fn next_range(&mut self, max_len: u64, limit: u64, whole_up_to: u64) -> Option<Range<u64>> {
        if max_len == 0 {
            return None;
        }
        let candidate = if let Some(lost) = self.lost.first() {
            lost.start..lost.end.min(lost.start + max_len)
        } else {
            let end = self
                .end
                .min(limit)
                .min(self.next_new.saturating_add(max_len));
            if end <= self.next_new {
                return None;
            }
            self.next_new..end
        };
        let range = self.keep_small_messages_whole(candidate, whole_up_to);
        if self.lost.first().is_some_and(|l| l.start == range.start) {
            self.lost.remove(range.clone());
        } else {
            self.next_new = range.end;
        }
        Some(range)
    }

    /// Whether the next range [`next_range`](Self::next_range) would choose starts a message
    /// of at most `whole_up_to` bytes that `max_len` would cut but that fits the peer's
    /// `limit` whole: a packet with less room than a fresh one should leave it to the next
    /// packet rather than split it (a byte stream gains nothing from filling its writes).
    pub fn next_message_wants_fresh_packet(
        &self,
        max_len: u64,
        limit: u64,
        whole_up_to: u64,
    ) -> bool {
        if !self.lost.is_empty() {
            return false;
        }
        let Some(index) = self.message_index(self.next_new) else {
            return false;
        };
        let message = &self.messages[index];
        let len = message.data.len() as u64;
        message.start == self.next_new
            && len > max_len
            && len <= whole_up_to
            && message.end() <= limit
    }

    fn keep_small_messages_whole(&self, range: Range<u64>, whole_up_to: u64) -> Range<u64> {
        let Some(index) = self.message_index(range.end.saturating_sub(1)) else {
            return range;
        };
        let last = &self.messages[index];
        let cuts_it = range.end < last.end();
        if cuts_it && last.start > range.start && last.data.len() as u64 <= whole_up_to {
            range.start..last.start
        } else {
            range
        }
    }

    /// The offsets of the message that ends at or straddles `offset` from below (the message
    /// holding `offset - 1`), if it is still buffered and not wholly acknowledged.
    pub fn message_before(&self, offset: u64) -> Option<Range<u64>> {
        if offset <= self.acked {
            return None;
        }
        let index = self.message_index(offset - 1)?;
        let message = &self.messages[index];
        Some(message.start..message.end())
    }

    /// Index of the message holding `offset`, if it is still buffered.
    fn message_index(&self, offset: u64) -> Option<usize> {
        let index = self.messages.partition_point(|m| m.end() <= offset);
        (index < self.messages.len() && self.messages[index].start <= offset).then_some(index)
    }

    /// The fragments of `range`, cut at message boundaries. Parts already acknowledged are
    /// skipped, so the result may be empty.
    pub fn fragments(&self, range: Range<u64>, out: &mut Vec<Fragment>) {
        let start = range.start.max(self.acked);
        let Some(mut index) = self.message_index(start) else {
            return;
        };
        let mut cursor = start;
        while cursor < range.end && index < self.messages.len() {
            let message = &self.messages[index];
            let end = range.end.min(message.end());
            let from = (cursor - message.start) as usize;
            let to = (end - message.start) as usize;
            out.push(Fragment {
                offset: cursor,
                data: message.data.slice(from..to),
                ends_message: end == message.end(),
                meta: if cursor == message.start {
                    message.meta.as_deref().cloned()
                } else {
                    None
                },
            });
            cursor = end;
            index += 1;
        }
    }

    /// Applies an acknowledgement: everything below `cumulative`, plus `ranges` above it.
    /// Returns the number of bytes newly acknowledged.
    pub fn on_ack(&mut self, cumulative: u64, ranges: &[Range<u64>]) -> Result<u64, AckError> {
        let highest = ranges
            .iter()
            .map(|r| r.end)
            .max()
            .unwrap_or(0)
            .max(cumulative);
        if highest > self.next_new {
            return Err(AckError::UnsentData {
                acked: highest,
                sent: self.next_new,
            });
        }
        let before = self.acked_bytes();
        if let ResetState::Unsent(o) | ResetState::InFlight(o) = self.reset
            && cumulative >= o
        {
            // The peer delivered up to the reset offset: it has skipped.
            self.reset = ResetState::None;
        }
        if cumulative > self.acked {
            self.sacked.insert(self.acked..cumulative);
        }
        for range in ranges {
            self.sacked.insert(range.start.max(self.acked)..range.end);
        }
        // Advance the cumulative point over what is now contiguous.
        if let Some(first) = self.sacked.first()
            && first.start <= self.acked
        {
            self.acked = first.end;
            self.sacked.remove_below(self.acked);
        }
        for range in self.sacked.iter().collect::<Vec<_>>() {
            self.lost.remove(range);
        }
        self.lost.remove_below(self.acked);
        while self.messages.front().is_some_and(|m| m.end() <= self.acked) {
            self.messages.pop_front();
        }
        Ok(self.acked_bytes() - before)
    }

    fn acked_bytes(&self) -> u64 {
        self.acked + self.sacked.iter().map(|r| r.end - r.start).sum::<u64>()
    }

    /// Takes back `range`, which [`next_range`](Self::next_range) just handed out and which
    /// did not go out after all (it did not fit its packet). `new` says whether it was new
    /// data (it started at the [`sent_offset`](Self::sent_offset) of before the call): that
    /// becomes unsent again — not lost, so it is not counted as a retransmission later; lost
    /// data is lost again.
    pub fn put_back(&mut self, range: Range<u64>, new: bool) {
        if new && range.end == self.next_new {
            self.next_new = range.start;
        } else {
            self.on_lost(range);
        }
    }

    /// Declares `range` lost: whatever of it was sent and is not acknowledged will be sent again.
    pub fn on_lost(&mut self, range: Range<u64>) {
        let range = range.start.max(self.acked)..range.end.min(self.next_new);
        if range.is_empty() {
            return; // Acknowledged (or never sent) meanwhile.
        }
        for gap in self.sacked.gaps(range) {
            self.lost.insert(gap);
        }
    }

    /// Declares everything in flight lost (the connection carrying it died): data, and the
    /// end and reset if they were in flight, go out again.
    pub fn on_all_lost(&mut self) {
        self.on_lost(self.acked..self.next_new);
        self.on_fin_lost();
        if let ResetState::InFlight(offset) = self.reset {
            self.reset = ResetState::Unsent(offset);
        }
    }
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)] // a list of one acknowledged range is meant
mod tests {
    use super::*;

    fn buffer_with(messages: &[&'static [u8]]) -> SendBuffer {
        let mut buffer = SendBuffer::new(1 << 20, 1 << 16);
        for m in messages {
            buffer.write(Bytes::from_static(m), None).unwrap();
        }
        buffer
    }

    fn fragments(buffer: &SendBuffer, range: Range<u64>) -> Vec<(u64, Vec<u8>, bool)> {
        let mut out = Vec::new();
        buffer.fragments(range, &mut out);
        out.into_iter()
            .map(|f| (f.offset, f.data.to_vec(), f.ends_message))
            .collect()
    }

    #[test]
    fn a_reset_hands_back_what_is_unacknowledged_and_tells_the_receiver_once() {
        let mut buffer = buffer_with(&[b"aaaa", b"bbbb", b"cccc", b"dddd"]);
        buffer.next_range(10, u64::MAX, 0).unwrap(); // 0..10: "aaaa", "bbbb", half of "cccc"
        buffer.on_ack(4, &[]).unwrap();
        let abandoned = buffer.reset();
        let data = |list: &[(Bytes, Option<MessageMeta>)]| -> Vec<Bytes> {
            list.iter().map(|(d, _)| d.clone()).collect()
        };
        assert_eq!(
            data(&abandoned.unacknowledged),
            [Bytes::from_static(b"bbbb")]
        );
        assert_eq!(
            data(&abandoned.unsent),
            [Bytes::from_static(b"cccc"), Bytes::from_static(b"dddd")]
        );
        assert_eq!(buffer.unacked_bytes(), 0);
        assert_eq!(buffer.reset_unsent(), Some(16));
        assert!(buffer.has_sendable(0));
        // New data continues at the reset offset, and its first packet carries the reset.
        assert_eq!(
            buffer.write(Bytes::from_static(b"eeee"), None).unwrap(),
            16..20
        );
        assert!(buffer.resets_at(16));
        buffer.on_reset_sent(16);
        assert_eq!(buffer.reset_unsent(), None);
        buffer.on_reset_lost(16);
        assert_eq!(buffer.reset_unsent(), Some(16));
        buffer.on_reset_sent(16);
        buffer.on_reset_acked(16);
        assert!(!buffer.resets_at(16));
        // Nothing unacknowledged: a reset changes nothing.
        let mut idle = SendBuffer::new(100, 100);
        assert_eq!(idle.reset(), Abandoned::default());
        assert_eq!(idle.reset_unsent(), None);
    }

    #[test]
    fn write_refuses_empty_oversize_and_overflow() {
        let mut buffer = SendBuffer::new(10, 8);
        assert_eq!(buffer.write(Bytes::new(), None), Err(WriteError::Empty));
        assert_eq!(
            buffer.write(Bytes::from_static(&[0; 9]), None),
            Err(WriteError::TooLarge { len: 9, max: 8 })
        );
        assert_eq!(buffer.write(Bytes::from_static(&[0; 8]), None), Ok(0..8));
        assert_eq!(
            buffer.write(Bytes::from_static(&[0; 3]), None),
            Err(WriteError::Blocked {
                len: 3,
                available: 2
            })
        );
    }

    #[test]
    fn ranges_are_cut_into_fragments_at_message_boundaries() {
        let mut buffer = buffer_with(&[b"hello", b"world!", b"xy"]);
        let range = buffer.next_range(8, u64::MAX, 0).unwrap();
        assert_eq!(range, 0..8);
        assert_eq!(
            fragments(&buffer, range),
            vec![(0, b"hello".to_vec(), true), (5, b"wor".to_vec(), false)]
        );
        let range = buffer.next_range(100, u64::MAX, 0).unwrap();
        assert_eq!(
            fragments(&buffer, range),
            vec![(8, b"ld!".to_vec(), true), (11, b"xy".to_vec(), true)]
        );
        assert_eq!(buffer.next_range(100, u64::MAX, 0), None);
    }

    #[test]
    fn small_messages_are_not_split_when_they_fit_a_packet() {
        let mut buffer = buffer_with(&[b"hello", b"world!"]);
        // 8 bytes would cut "world!", which fits whole in a 10-byte packet: stop before it.
        assert_eq!(buffer.next_range(8, u64::MAX, 10), Some(0..5));
        assert_eq!(buffer.next_range(8, u64::MAX, 10), Some(5..11));
    }

    #[test]
    fn flow_control_limit_holds_new_data_back() {
        let mut buffer = buffer_with(&[b"hello", b"world!"]);
        assert_eq!(buffer.next_range(100, 7, 0), Some(0..7));
        assert_eq!(buffer.next_range(100, 7, 0), None);
        assert!(!buffer.has_sendable(7));
        assert!(buffer.has_sendable(8));
    }

    #[test]
    fn lost_ranges_go_first_and_acks_free_memory() {
        let mut buffer = buffer_with(&[b"hello", b"world!", b"xy"]);
        assert_eq!(buffer.next_range(100, u64::MAX, 0), Some(0..13));
        // The peer got 0..3 and 8..13; 3..8 is lost.
        assert_eq!(buffer.on_ack(3, &[8..13]), Ok(8));
        buffer.on_lost(0..13);
        assert_eq!(buffer.next_range(100, u64::MAX, 0), Some(3..8));
        assert_eq!(
            fragments(&buffer, 3..8),
            vec![(3, b"lo".to_vec(), true), (5, b"wor".to_vec(), false)]
        );
        assert_eq!(buffer.next_range(100, u64::MAX, 0), None);
        assert_eq!(buffer.on_ack(13, &[]), Ok(5));
        assert!(buffer.is_fully_acked());
        assert_eq!(buffer.messages.len(), 0);
    }

    #[test]
    fn message_before_finds_unacknowledged_predecessors() {
        let mut buffer = buffer_with(&[b"hello", b"world!"]);
        buffer.next_range(11, u64::MAX, 0);
        assert_eq!(buffer.message_before(11), Some(5..11));
        assert_eq!(buffer.message_before(5), Some(0..5));
        assert_eq!(buffer.message_before(3), Some(0..5));
        buffer.on_ack(5, &[]).unwrap();
        assert_eq!(buffer.message_before(5), None);
    }

    #[test]
    #[allow(clippy::reversed_empty_ranges)] // an inverted range is part of what is tested
    fn losses_of_acknowledged_data_are_ignored() {
        let mut buffer = buffer_with(&[b"hello"]);
        buffer.next_range(5, u64::MAX, 0);
        buffer.on_ack(5, &[]).unwrap();
        buffer.on_lost(0..3);
        buffer.on_lost(4..2);
        assert_eq!(buffer.next_range(5, u64::MAX, 0), None);
    }

    #[test]
    fn finish_waits_for_the_last_byte_and_is_resent_when_lost() {
        let mut buffer = buffer_with(&[b"hello"]);
        buffer.finish();
        assert_eq!(
            buffer.write(Bytes::from_static(b"x"), None),
            Err(WriteError::Finished)
        );
        assert_eq!(buffer.final_offset(), Some(5));
        assert!(!buffer.fin_sendable(), "data first");
        buffer.next_range(5, u64::MAX, 0);
        assert!(buffer.fin_sendable());
        buffer.on_fin_sent();
        assert!(!buffer.has_sendable(u64::MAX));
        buffer.on_fin_lost();
        assert!(buffer.has_sendable(u64::MAX));
        buffer.on_fin_sent();
        buffer.on_ack(5, &[]).unwrap();
        assert!(!buffer.is_done());
        buffer.on_fin_acked();
        assert!(buffer.is_done());
    }

    #[test]
    fn acks_for_unsent_data_are_refused() {
        let mut buffer = buffer_with(&[b"hello"]);
        buffer.next_range(2, u64::MAX, 0);
        assert_eq!(
            buffer.on_ack(3, &[]),
            Err(AckError::UnsentData { acked: 3, sent: 2 })
        );
        assert_eq!(
            buffer.on_ack(0, &[1..5]),
            Err(AckError::UnsentData { acked: 5, sent: 2 })
        );
    }

    #[test]
    fn metadata_rides_on_the_first_fragment_only() {
        let mut buffer = SendBuffer::new(100, 100);
        let meta = MessageMeta {
            packet_type: 120,
            ..MessageMeta::default()
        };
        buffer
            .write(Bytes::from_static(b"abcdef"), Some(meta.clone()))
            .unwrap();
        let mut out = Vec::new();
        buffer.fragments(0..3, &mut out);
        buffer.fragments(3..6, &mut out);
        assert_eq!(out[0].meta, Some(meta));
        assert_eq!(out[1].meta, None);
    }
}
