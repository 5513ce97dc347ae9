//! The receiving half of a stream's data: reassembly of fragments into whole messages.
//!
//! # Model
//!
//! Fragments arrive in any order, duplicated, overlapping, and cut differently each time they
//! are sent. The assembler keeps, above `read` (everything below was delivered):
//!
//! - `pieces`: disjoint received byte ranges, each a slice of a received buffer (no copy);
//! - `boundaries`: offsets where a message ends (from fragments without `HAS_MORE`);
//! - `metas`: the metadata of messages by first offset.
//!
//! A message is delivered when the bytes from `read` to the first boundary are all present;
//! `read` then moves to that boundary. Acknowledgement state is derived, not stored:
//! `contiguous` (everything below received) and the received ranges above it.
//!
//! The common case has a shortcut: a fragment that is a whole message, starts at `contiguous`
//! and finds nothing else held (no pieces, boundaries or metadata) goes to `ready` as it is,
//! with no B-tree entries, and `contiguous` moves past it. Ready messages lie in
//! `[read, contiguous)`, in order, back to back from `read`; [`pop`](Assembler::pop) hands them
//! out first. Below the end of the last of them (the *floor*) everything is delivered or ready.
//!
//! # Flow control
//!
//! The sender may send up to the *granted* offset. The grant starts at the initial window
//! both ends know, and grows only through [`grant`](Assembler::grant), which the owner calls
//! with the memory it can still spare, so a conforming sender never sends more than the
//! receiver can hold. Data beyond the grant is refused.
//!
//! # Memory
//!
//! Pieces are slices of received buffers: zero-copy, but a small piece keeps its whole buffer
//! alive. Each buffer ([`Source`]) is therefore charged its size while pieces of it are held —
//! once, however many (a 64 KiB byte-stream frame of a thousand small messages is charged
//! 64 KiB, not a thousand times that: compaction on every insert made that case quadratic) —
//! and when the charges exceed twice the bytes held plus
//! [`COMPACT_SLACK`], the held pieces are copied into tight buffers, merging neighbours within
//! a message (as quinn-proto's assembler defragments). Pieces, boundaries and metadata also pay
//! a fixed [`ENTRY_COST`] each. [`memory`](Assembler::memory) is the sum — an upper bound of
//! what this stream's reassembly really holds — and the owner limits it across streams.
//!
//! # Invariants
//!
//! Pieces and boundaries lie in `[floor, granted)`; buffered bytes never exceed `granted − read`
//! (so memory is bounded by what the receiver granted, not by the peer); pinned bytes never
//! exceed `2 × buffered + COMPACT_SLACK` after an owned insert or a `settle` (while one
//! received buffer's fragments go in, by at most that buffer); no boundary lies strictly inside a
//! piece (a fragment never spans messages — input that would break this is refused as
//! inconsistent); exactly-once: a byte is stored at most once and delivered at most once.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Range;

use bytes::{Bytes, BytesMut};

use super::{Fragment, MessageMeta};

/// Bookkeeping charged for every piece, boundary and metadata entry held (a B-tree slot and
/// its key, generously).
pub const ENTRY_COST: u64 = 64;

/// Pinned bytes tolerated beyond twice the bytes held before the pieces are compacted.
pub const COMPACT_SLACK: u64 = 16 * 1024;

/// A received buffer (a datagram, or a frame of a byte stream) that fragments are slices of.
/// Pieces kept from it keep it alive, and it is charged once, however many pieces keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    /// Names the buffer: different buffers, different ids (the owner counts them).
    pub id: u64,
    /// Its size.
    pub len: u64,
}

/// A held byte range: a slice of a received buffer ([`Source`]), or bytes of its own.
#[derive(Debug)]
struct Piece {
    data: Bytes,
    /// The buffer it keeps alive; `None` when it owns exactly its bytes.
    source: Option<u64>,
}

impl Piece {
    fn end(&self, start: u64) -> u64 {
        start + self.data.len() as u64
    }
}

/// A whole message that arrived in order with nothing else held, waiting for `pop`.
#[derive(Debug)]
struct Ready {
    offset: u64,
    data: Bytes,
    meta: MessageMeta,
    /// The buffer it keeps alive; `None` when it owns exactly its bytes.
    source: Option<u64>,
}

impl Ready {
    fn end(&self) -> u64 {
        self.offset + self.data.len() as u64
    }
}

/// Why fragment input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssembleError {
    /// Data beyond the receive window: dropped (the sender ignored flow control, or is far ahead).
    #[error("data up to offset {end} beyond the receive window ending at {limit}")]
    BeyondWindow {
        /// End of the refused fragment.
        end: u64,
        /// End of the window.
        limit: u64,
    },
    /// A fragment contradicts the message boundaries already known: a protocol violation.
    #[error("fragment {start}..{end} contradicts a known message boundary")]
    InconsistentBoundary {
        /// Start of the fragment.
        start: u64,
        /// End of the fragment.
        end: u64,
    },
    /// A message grows beyond the maximum message size: a protocol violation.
    #[error("message starting at {start} exceeds the maximum message size of {max}")]
    MessageTooLarge {
        /// First offset of the message.
        start: u64,
        /// The limit.
        max: u64,
    },
}

/// A message reassembled from fragments.
#[derive(Debug, Clone, PartialEq)]
pub struct AssembledMessage {
    /// First offset of the message in the stream.
    pub offset: u64,
    /// The payload (a slice of the received buffer when it arrived in one fragment).
    pub data: Bytes,
    /// Metadata from its first fragment.
    pub meta: MessageMeta,
}

/// Reassembly state of one stream.
#[derive(Debug)]
pub struct Assembler {
    read: u64,
    /// Whole messages from `read` on, in order, that took the shortcut.
    ready: VecDeque<Ready>,
    pieces: BTreeMap<u64, Piece>,
    boundaries: BTreeSet<u64>,
    metas: BTreeMap<u64, MessageMeta>,
    contiguous: u64,
    buffered: u64,
    /// Bytes the held pieces keep alive: each source buffer once, and owned pieces' own bytes.
    pinned: u64,
    /// Source buffers held pieces slice: id → (length, pieces keeping it).
    sources: BTreeMap<u64, (u64, u32)>,
    /// Charges of the held metadata (their labels).
    meta_bytes: u64,
    /// Pieces left after the last compaction: another is due only when they double.
    compacted_pieces: usize,
    max_received: u64,
    window: u64,
    /// The sender may send up to this offset.
    granted: u64,
    /// What the sender may send before it hears a grant: at first, and after a reset.
    initial_grant: u64,
    max_message: u64,
    /// The stream's final offset, once a `FINISH_STREAM` arrived.
    end: Option<u64>,
}

impl Assembler {
    /// An assembler that grants the whole `window` at once (beyond what was delivered) and
    /// accepts messages of at most `max_message` bytes.
    pub fn new(window: u64, max_message: u64) -> Self {
        Self::with_initial_grant(window, window, max_message)
    }

    /// An assembler whose sender may first send `initial` bytes; later grants reach at most
    /// `window` bytes beyond what was delivered.
    pub fn with_initial_grant(window: u64, initial: u64, max_message: u64) -> Self {
        Self {
            read: 0,
            ready: VecDeque::new(),
            pieces: BTreeMap::new(),
            boundaries: BTreeSet::new(),
            metas: BTreeMap::new(),
            contiguous: 0,
            buffered: 0,
            pinned: 0,
            sources: BTreeMap::new(),
            meta_bytes: 0,
            compacted_pieces: 0,
            max_received: 0,
            window,
            granted: initial.min(window),
            initial_grant: initial.min(window),
            max_message,
            end: None,
        }
    }

    /// Skips everything before `offset` (a `RESET_OFFSET`: the sender abandoned it, or it
    /// arrived another way): held data below it is dropped and never delivered, and delivery
    /// continues from `offset`. As after the stream's start, the sender may send the initial
    /// window beyond it before it hears a grant. A reset to an offset already delivered is a
    /// no-op (a late duplicate). Refused when `offset` cuts a held piece (a reset lies on a
    /// message boundary) or lies beyond the stream's end.
    pub fn reset_to(&mut self, offset: u64) -> Result<(), AssembleError> {
        if offset <= self.read {
            return Ok(());
        }
        let inconsistent = AssembleError::InconsistentBoundary {
            start: offset,
            end: offset,
        };
        if self.end.is_some_and(|end| end < offset) {
            return Err(inconsistent);
        }
        if self
            .ready
            .iter()
            .any(|m| m.offset < offset && m.end() > offset)
        {
            return Err(inconsistent);
        }
        while self.ready.front().is_some_and(|m| m.end() <= offset) {
            if let Some(message) = self.ready.pop_front() {
                self.drop_ready(&message);
            }
        }
        if let Some((&s, piece)) = self.pieces.range(..offset).next_back()
            && piece.end(s) > offset
        {
            return Err(inconsistent);
        }
        let kept = self.pieces.split_off(&offset);
        for piece in std::mem::replace(&mut self.pieces, kept).into_values() {
            self.buffered -= piece.data.len() as u64;
            self.release(&piece);
        }
        self.boundaries = self.boundaries.split_off(&(offset + 1));
        let kept = self.metas.split_off(&offset);
        for meta in std::mem::replace(&mut self.metas, kept).into_values() {
            self.meta_bytes -= meta_charge(&meta);
        }
        self.compacted_pieces = self.compacted_pieces.min(self.pieces.len());
        self.read = offset;
        self.contiguous = self.contiguous.max(offset);
        while let Some(piece) = self.pieces.get(&self.contiguous) {
            self.contiguous += piece.data.len() as u64;
        }
        self.max_received = self.max_received.max(offset);
        self.granted = self.granted.max(offset.saturating_add(self.initial_grant));
        Ok(())
    }

    /// Records the stream's final offset (from a `FINISH_STREAM`). Refused when it contradicts
    /// data already received or an earlier end.
    pub fn set_end(&mut self, end: u64) -> Result<(), AssembleError> {
        let inconsistent = AssembleError::InconsistentBoundary { start: end, end };
        if self.end.is_some_and(|known| known != end) || end < self.max_received || end < self.read
        {
            return Err(inconsistent);
        }
        if end > self.granted {
            return Err(AssembleError::BeyondWindow {
                end,
                limit: self.granted,
            });
        }
        self.end = Some(end);
        Ok(())
    }

    /// The final offset, if known.
    pub fn end(&self) -> Option<u64> {
        self.end
    }

    /// Every message up to the stream's end was delivered.
    pub fn is_finished(&self) -> bool {
        self.end == Some(self.read)
    }

    /// Everything below this offset was received.
    pub fn contiguous(&self) -> u64 {
        self.contiguous
    }

    /// One past the highest byte received.
    pub fn max_received(&self) -> u64 {
        self.max_received
    }

    /// Everything below this offset was delivered.
    pub fn read_offset(&self) -> u64 {
        self.read
    }

    /// The sender may send up to this offset (the largest grant so far).
    pub fn window_limit(&self) -> u64 {
        self.granted
    }

    /// Raises the grant as far as `spare` more bytes beyond the highest offset received allow,
    /// up to `window` beyond what was delivered; never lowers it. Returns the grant, and
    /// whether `spare` (rather than the window) capped it.
    pub fn grant(&mut self, spare: u64) -> (u64, bool) {
        let full = self.read.saturating_add(self.window);
        let affordable = self.max_received.max(self.read).saturating_add(spare);
        self.granted = self.granted.max(full.min(affordable));
        (self.granted, affordable < full)
    }

    /// Credit granted and not used yet: what the sender may still send beyond what arrived.
    pub fn outstanding(&self) -> u64 {
        self.granted
            .saturating_sub(self.max_received.max(self.read))
    }

    /// Bytes held for reassembly.
    pub fn buffered(&self) -> u64 {
        self.buffered
    }

    /// Bytes charged for the buffers the held pieces keep alive.
    pub fn pinned(&self) -> u64 {
        self.pinned
    }

    /// What this stream's reassembly holds, as charged: pinned buffers, and bookkeeping for
    /// pieces, message ends and metadata. An upper bound of its real memory.
    pub fn memory(&self) -> u64 {
        let entries =
            (self.ready.len() + self.pieces.len() + self.boundaries.len() + self.metas.len())
                as u64;
        self.pinned + self.meta_bytes + entries * ENTRY_COST
    }

    /// Received ranges above [`contiguous`](Self::contiguous), ascending and merged.
    pub fn received_ranges(&self) -> Vec<Range<u64>> {
        let mut ranges: Vec<Range<u64>> = Vec::new();
        for (&start, data) in self.pieces.range(self.contiguous..) {
            let end = data.end(start);
            match ranges.last_mut() {
                Some(last) if last.end == start => last.end = end,
                _ => ranges.push(start..end),
            }
        }
        ranges
    }

    /// Takes in one fragment whose data owns its buffer (charged for its own length).
    pub fn insert(&mut self, fragment: Fragment) -> Result<(), AssembleError> {
        self.insert_sliced(fragment, None)
    }

    /// Takes in one fragment whose data is a slice of the received buffer `source`: the
    /// buffer is charged while pieces kept from it live, once for all of them.
    pub fn insert_from(&mut self, fragment: Fragment, source: Source) -> Result<(), AssembleError> {
        self.insert_sliced(fragment, Some(source))
    }

    fn insert_sliced(
        &mut self,
        fragment: Fragment,
        source: Option<Source>,
    ) -> Result<(), AssembleError> {
        let start = fragment.offset;
        let end =
            start
                .checked_add(fragment.data.len() as u64)
                .ok_or(AssembleError::BeyondWindow {
                    end: u64::MAX,
                    limit: self.granted,
                })?;
        if end > self.granted {
            return Err(AssembleError::BeyondWindow {
                end,
                limit: self.granted,
            });
        }
        if self.end.is_some_and(|final_offset| end > final_offset) {
            return Err(AssembleError::InconsistentBoundary { start, end });
        }
        let floor = self.floor();
        if end <= floor {
            return Ok(()); // Already delivered or ready: a duplicate.
        }
        if fragment.ends_message
            && start == self.contiguous
            && start < end
            && end - start <= self.max_message
            && self.pieces.is_empty()
            && self.boundaries.is_empty()
            && self.metas.is_empty()
        {
            // The shortcut: a whole message in order, nothing else held (so `contiguous` is
            // the floor).
            let meta = fragment.meta.unwrap_or_default();
            self.meta_bytes += meta_charge(&meta);
            let len = fragment.data.len() as u64;
            self.buffered += len;
            let source = self.pin(source, len);
            self.ready.push_back(Ready {
                offset: start,
                data: fragment.data,
                meta,
                source,
            });
            self.contiguous = end;
            self.max_received = self.max_received.max(end);
            if source.is_none() {
                self.settle();
            }
            return Ok(());
        }
        if start == end {
            // An empty fragment says at most that a message ends here; senders do not make them.
            if !fragment.ends_message {
                return Ok(());
            }
            if let Some((&s, piece)) = self.pieces.range(..end).next_back()
                && piece.end(s) > end
            {
                return Err(AssembleError::InconsistentBoundary { start, end });
            }
            self.boundaries.insert(end);
            // A message that was complete but for its end marker is complete now.
            return self.check_completed_messages(end.saturating_sub(1), self.contiguous);
        }
        let inconsistent = AssembleError::InconsistentBoundary { start, end };
        // No known boundary strictly inside this fragment (the floor is one: a message ended
        // there)...
        if start < floor || self.boundaries.range(start + 1..end).next().is_some() {
            return Err(inconsistent);
        }
        // ...and, if it ends a message, no stored piece straddling its end.
        if fragment.ends_message
            && let Some((&s, piece)) = self.pieces.range(..end).next_back()
            && piece.end(s) > end
        {
            return Err(inconsistent);
        }
        if fragment.ends_message {
            self.boundaries.insert(end);
        }
        if let Some(meta) = fragment.meta
            && start >= floor
            && !self.metas.contains_key(&start)
        {
            self.meta_bytes += meta_charge(&meta);
            self.metas.insert(start, meta);
        }
        self.store(start.max(floor), end, &fragment.data, start, source);
        self.max_received = self.max_received.max(end);
        let before = self.contiguous;
        while let Some(piece) = self.pieces.get(&self.contiguous) {
            self.contiguous += piece.data.len() as u64;
        }
        // After `contiguous` moved: it never lies at a junction of pieces, so merging them
        // cannot hide where it is. Slices of a buffer settle once all of it is in (the
        // caller's `settle`): compacting while the buffer is still arriving would copy its
        // first pieces out only for the next to pin it again, once per fragment.
        if source.is_none() {
            self.settle();
        }
        self.check_completed_messages(before, self.contiguous)?;
        // A boundary that arrived after its bytes completes a message too.
        if fragment.ends_message && end <= before {
            self.check_completed_messages(end - 1, end)?;
        }
        // The message still open at the end of the contiguous bytes (it starts after the last end
        // below them) has at least those bytes; complete messages were checked above.
        let open_start = self
            .boundaries
            .range(..=self.contiguous)
            .next_back()
            .copied()
            .unwrap_or(floor)
            .max(floor);
        if self.contiguous - open_start > self.max_message {
            return Err(AssembleError::MessageTooLarge {
                start: open_start,
                max: self.max_message,
            });
        }
        Ok(())
    }

    /// Every message whose last byte arrived in `(after, up_to]` (now wholly received) must not
    /// exceed the maximum size: each is checked once, when it completes.
    fn check_completed_messages(&self, after: u64, up_to: u64) -> Result<(), AssembleError> {
        if up_to <= after {
            return Ok(());
        }
        let floor = self.floor();
        for &end in self.boundaries.range(after + 1..=up_to) {
            let start = self
                .boundaries
                .range(..end)
                .next_back()
                .copied()
                .unwrap_or(floor)
                .max(floor);
            if end - start > self.max_message {
                return Err(AssembleError::MessageTooLarge {
                    start,
                    max: self.max_message,
                });
            }
        }
        Ok(())
    }

    /// Stores the parts of `[from, to)` not yet held; `data` starts at `data_start` and is a
    /// slice of `source` (or owns its bytes).
    fn store(&mut self, from: u64, to: u64, data: &Bytes, data_start: u64, source: Option<Source>) {
        // The common case, nothing held overlaps: one piece, no list of gaps.
        let overlaps_before = self
            .pieces
            .range(..=from)
            .next_back()
            .is_some_and(|(s, piece)| piece.end(*s) > from);
        if !overlaps_before && self.pieces.range(from..to).next().is_none() {
            self.insert_piece(from, to, data, data_start, source);
            return;
        }
        let mut gaps = Vec::new();
        let mut cursor = from;
        let first = self
            .pieces
            .range(..=from)
            .next_back()
            .filter(|(s, piece)| piece.end(**s) > from)
            .map(|(s, _)| *s)
            .unwrap_or(from);
        for (&s, piece) in self.pieces.range(first..to) {
            if s > cursor {
                gaps.push(cursor..s);
            }
            cursor = cursor.max(piece.end(s));
        }
        if cursor < to {
            gaps.push(cursor..to);
        }
        for gap in gaps {
            self.insert_piece(gap.start, gap.end, data, data_start, source);
        }
    }

    /// Holds `[from, to)` of `data` (which starts at `data_start`) as a piece.
    fn insert_piece(
        &mut self,
        from: u64,
        to: u64,
        data: &Bytes,
        data_start: u64,
        source: Option<Source>,
    ) {
        let slice = if from == data_start && (to - from) as usize == data.len() {
            data.clone()
        } else {
            data.slice((from - data_start) as usize..(to - data_start) as usize)
        };
        self.buffered += slice.len() as u64;
        let source = self.pin(source, slice.len() as u64);
        self.pieces.insert(
            from,
            Piece {
                data: slice,
                source,
            },
        );
    }

    /// Charges `len` held bytes that are a slice of `source` (its whole length, once for all
    /// its slices) or own their buffer; returns the source's id for [`unpin`](Self::unpin).
    fn pin(&mut self, source: Option<Source>, len: u64) -> Option<u64> {
        match source {
            Some(source) => {
                let (_, slices) = self.sources.entry(source.id).or_insert_with(|| {
                    let charged = source.len.max(len);
                    self.pinned += charged;
                    (charged, 0)
                });
                *slices += 1;
                Some(source.id)
            }
            None => {
                self.pinned += len;
                None
            }
        }
    }

    /// Held bytes leave: what they kept alive is no longer charged (their source, once its
    /// last slice goes).
    fn unpin(&mut self, source: Option<u64>, len: u64) {
        match source {
            Some(id) => {
                if let Some((charged, slices)) = self.sources.get_mut(&id) {
                    *slices -= 1;
                    if *slices == 0 {
                        self.pinned -= *charged;
                        self.sources.remove(&id);
                    }
                }
            }
            None => self.pinned -= len,
        }
    }

    /// A piece leaves.
    fn release(&mut self, piece: &Piece) {
        self.unpin(piece.source, piece.data.len() as u64);
    }

    /// A ready message is dropped undelivered (a reset skipped it).
    fn drop_ready(&mut self, message: &Ready) {
        self.buffered -= message.data.len() as u64;
        self.meta_bytes -= meta_charge(&message.meta);
        self.unpin(message.source, message.data.len() as u64);
        self.read = message.end();
    }

    /// Below this offset everything was delivered or is ready.
    fn floor(&self) -> u64 {
        self.ready.back().map_or(self.read, Ready::end)
    }

    /// Compacts the held pieces when they pin more than twice the bytes held plus
    /// [`COMPACT_SLACK`] (or have doubled in number since the last compaction). The owner calls
    /// it after inserting every fragment of one received buffer ([`insert_from`]); afterwards
    /// pinned bytes are within that bound.
    ///
    /// [`insert_from`]: Self::insert_from
    pub fn settle(&mut self) {
        if self.pinned > 2 * self.buffered + COMPACT_SLACK
            || self.pieces.len() > 2 * self.compacted_pieces + 64
        {
            self.compact();
        }
    }

    /// Copies held pieces into tight buffers, one per run of adjacent pieces within a message,
    /// so that they stop pinning the buffers they arrived in. Pieces that already own exactly
    /// their bytes and have no neighbour to merge with stay as they are.
    fn compact(&mut self) {
        // Ready messages that slice a buffer get their own copy (they are whole messages).
        let mut ready = std::mem::take(&mut self.ready);
        for message in &mut ready {
            if message.source.is_some() {
                let len = message.data.len() as u64;
                self.unpin(message.source, len);
                message.data = Bytes::copy_from_slice(&message.data);
                message.source = self.pin(None, len);
            }
        }
        self.ready = ready;
        let old = std::mem::take(&mut self.pieces);
        let mut run: Vec<(u64, Piece)> = Vec::new();
        for (start, piece) in old {
            let joins = run.last().is_some_and(|(s, last)| {
                last.end(*s) == start && !self.boundaries.contains(&start)
            });
            if !joins {
                self.flush_run(&mut run);
            }
            run.push((start, piece));
        }
        self.flush_run(&mut run);
        self.compacted_pieces = self.pieces.len();
    }

    fn flush_run(&mut self, run: &mut Vec<(u64, Piece)>) {
        let Some(&(start, _)) = run.first() else {
            return;
        };
        if let [(_, piece)] = run.as_slice()
            && piece.source.is_none()
        {
            let (start, piece) = run.pop().expect("one piece");
            self.pieces.insert(start, piece);
            return;
        }
        let len: usize = run.iter().map(|(_, p)| p.data.len()).sum();
        let mut joined = BytesMut::with_capacity(len);
        for (_, piece) in std::mem::take(run) {
            joined.extend_from_slice(&piece.data);
            self.release(&piece);
        }
        self.pinned += len as u64;
        self.pieces.insert(
            start,
            Piece {
                data: joined.freeze(),
                source: None,
            },
        );
    }

    /// The next whole message, if it has fully arrived.
    pub fn pop(&mut self) -> Option<AssembledMessage> {
        if let Some(message) = self.ready.pop_front() {
            let len = message.data.len() as u64;
            self.buffered -= len;
            self.meta_bytes -= meta_charge(&message.meta);
            self.unpin(message.source, len);
            self.read = message.end();
            return Some(AssembledMessage {
                offset: message.offset,
                data: message.data,
                meta: message.meta,
            });
        }
        let end = *self.boundaries.first()?;
        if self.contiguous < end {
            return None;
        }
        let start = self.read;
        // The common case, a message held as one piece: no list of parts, no copy.
        if let Some(entry) = self.pieces.first_entry()
            && *entry.key() == start
            && entry.get().end(start) == end
        {
            let piece = entry.remove();
            self.release(&piece);
            self.buffered -= piece.data.len() as u64;
            return Some(self.finish_pop(start, end, piece.data));
        }
        let mut parts = Vec::new();
        while let Some(entry) = self.pieces.first_entry() {
            if *entry.key() >= end {
                break;
            }
            let piece = entry.remove();
            self.release(&piece);
            parts.push(piece.data);
        }
        let data = match parts.len() {
            1 => parts.pop().expect("one part"),
            _ => {
                let mut joined = BytesMut::with_capacity((end - start) as usize);
                parts.iter().for_each(|p| joined.extend_from_slice(p));
                joined.freeze()
            }
        };
        self.buffered -= data.len() as u64;
        Some(self.finish_pop(start, end, data))
    }

    /// Bookkeeping after the message `[start, end)` left the pieces.
    fn finish_pop(&mut self, start: u64, end: u64, data: Bytes) -> AssembledMessage {
        self.boundaries.remove(&end);
        let meta = self.metas.remove(&start).unwrap_or_default();
        self.meta_bytes -= meta_charge(&meta);
        // Metadata that claimed an offset inside this message is stale or bogus.
        while self.metas.first_key_value().is_some_and(|(k, _)| *k < end) {
            if let Some((_, stale)) = self.metas.pop_first() {
                self.meta_bytes -= meta_charge(&stale);
            }
        }
        self.read = end;
        AssembledMessage {
            offset: start,
            data,
            meta,
        }
    }
}

/// What held metadata is charged beyond its entry: its labels' text and slots.
fn meta_charge(meta: &MessageMeta) -> u64 {
    meta.labels
        .iter()
        .map(|(k, v)| (k.len() + v.len()) as u64 + ENTRY_COST)
        .sum()
}

#[cfg(test)]
#[path = "assembler_tests.rs"]
mod tests;
