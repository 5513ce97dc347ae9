//! What the streams send: packets of stream data built to fit a datagram (or a byte-stream
//! write), round-robin over streams, and copies of latency-mode ranges for a second path.

use std::ops::Range;

use super::{PACKET_OVERHEAD, PacketData, StreamSet, StreamState};
use crate::frame::PacketFrame;
use crate::proto::{PacketContent, PacketFragment};
use crate::stream::Fragment;

/// Extra room per additional fragment (its key, length and flag).
const FRAGMENT_OVERHEAD: usize = 12;

/// Tries to fit a packet of stream data into its space before giving up for this transmit.
const MAX_PACKET_ATTEMPTS: usize = 12;

/// The next data budget after a packet built for `budget` came out `size` bytes for `space`:
/// a packet of many small messages pays a fragment header each, which the first budget does
/// not know, so each try shrinks by the excess and at least 1/16 of the budget (a 64 KiB
/// byte-stream packet of a hundred messages then fits within a few tries; with the excess
/// alone it took more than three and the data stalled).
fn shrink(budget: u64, size: usize, space: usize) -> u64 {
    let over = (size.saturating_sub(space) + FRAGMENT_OVERHEAD) as u64;
    budget.saturating_sub(over.max(budget / 16))
}

/// The frame of a packet of `stream` numbered `number` carrying `fragments` (the first one's
/// offset is the packet's) with `flags`.
/// The fragments' list is `list`, emptied and refilled (a recycled allocation).
fn packet_frame(
    number: u64,
    stream: i64,
    fragments: &[Fragment],
    flags: u32,
    mut list: Vec<PacketFragment>,
) -> PacketFrame {
    list.clear();
    list.extend(fragments.iter().map(Fragment::to_proto));
    PacketFrame {
        packet_number: number,
        stream_id: stream,
        stream_offset: fragments.first().map_or(0, |f| f.offset),
        flags,
        content: PacketContent { fragments: list },
    }
}

impl StreamSet {
    /// Takes back a packet [`next_packet`](Self::next_packet) built, once written: its
    /// fragment list serves the next packet.
    pub(in crate::connection) fn recycle(&mut self, packet: PacketFrame) {
        let mut list = packet.content.fragments;
        list.clear();
        self.content_scratch = list;
    }

    /// The next packet of stream data, numbered `number`, of at most `space` bytes on a path
    /// whose datagrams hold `mtu` bytes: lost ranges first, then new data within the peer's
    /// window, round-robin over streams; a stream's end or reset rides along, or goes alone
    /// when there is no data. The end's and the reset's states count it as sent. Without
    /// `fill` (a byte stream), a message that would fit whole in a fresh write is not started
    /// in the rest of this one: `None`, and the next write carries it whole.
    pub(in crate::connection) fn next_packet(
        &mut self,
        number: u64,
        space: usize,
        mtu: usize,
        fill: bool,
    ) -> Option<(PacketFrame, PacketData)> {
        let stream = self.next_sendable_stream()?;
        let mut fragments = std::mem::take(&mut self.fragment_scratch);
        let state = self
            .streams
            .get_mut(&stream)
            .expect("sendable stream exists");
        let sent_before = state.send.sent_offset();
        let whole_up_to = (mtu - PACKET_OVERHEAD) as u64;
        let mut budget = space.saturating_sub(PACKET_OVERHEAD) as u64;
        if !fill
            && budget < whole_up_to
            && state
                .send
                .next_message_wants_fresh_packet(budget, state.peer_limit, whole_up_to)
        {
            self.fragment_scratch = fragments;
            return None;
        }
        for _attempt in 0..MAX_PACKET_ATTEMPTS {
            let unsent = state.send.sent_offset();
            let Some(range) = state.send.next_range(budget, state.peer_limit, whole_up_to) else {
                self.fragment_scratch = fragments;
                return self.signals_only(number, stream, space);
            };
            // Redundancy: lead with up to `redundant_messages` earlier small messages of this
            // stream that are still unacknowledged, when they fit.
            let mut earlier_start = range.start;
            for _ in 0..state.options.redundant_messages {
                match state.send.message_before(earlier_start) {
                    Some(previous)
                        if previous.end - previous.start
                            <= crate::connection::REDUNDANT_MESSAGE_MAX
                            && range.end - previous.start <= budget =>
                    {
                        earlier_start = previous.start.max(state.send.acked_offset());
                    }
                    _ => break,
                }
            }
            let range = earlier_start..range.end;
            fragments.clear();
            state.send.fragments(range.clone(), &mut fragments);
            if fragments.is_empty() {
                // Entirely acknowledged meanwhile: nothing to resend.
                continue;
            }
            let fin = state.send.fin_sendable() && state.send.final_offset() == Some(range.end);
            let first = fragments[0].offset;
            let reset = state.send.resets_at(first).then_some(first);
            let flags = state.options.packet_flags(fin, reset.is_some());
            let list = std::mem::take(&mut self.content_scratch);
            let message = packet_frame(number, stream, &fragments, flags, list);
            let size = message.encoded_len();
            if size > space {
                // More fragments (or metadata) than the estimate allowed: put the range back and
                // try a smaller one.
                state.send.put_back(range.clone(), range.start == unsent);
                budget = shrink(budget, size, space);
                self.content_scratch = message.content.fragments;
                continue;
            }
            let retransmitted = sent_before.min(range.end).saturating_sub(range.start);
            fragments.clear();
            self.fragment_scratch = fragments;
            let data = self.book(stream, Some(range), fin, reset, retransmitted);
            return Some((message, data));
        }
        fragments.clear();
        self.fragment_scratch = fragments;
        None
    }

    /// A packet with no data that carries the end of `stream` and/or its reset, when that is
    /// all it has to send.
    fn signals_only(
        &mut self,
        number: u64,
        stream: i64,
        space: usize,
    ) -> Option<(PacketFrame, PacketData)> {
        let state = self.streams.get(&stream).expect("sendable stream exists");
        let end = state
            .send
            .final_offset()
            .filter(|_| state.send.fin_sendable());
        let reset = state.send.reset_unsent();
        // A reset lies at or before the end; the end rides along only when it is the same
        // offset (otherwise data lies between them and carries the end later).
        let offset = reset.or(end)?;
        let fin = end == Some(offset);
        let message = PacketFrame {
            packet_number: number,
            stream_id: stream,
            stream_offset: offset,
            flags: state.options.packet_flags(fin, reset.is_some()),
            content: PacketContent::default(),
        };
        if message.encoded_len() > space {
            return None;
        }
        let data = self.book(stream, None, fin, reset, 0);
        Some((message, data))
    }

    /// Records that a packet of `stream` goes out: its end and reset states, the round-robin
    /// position; returns what it carried.
    fn book(
        &mut self,
        stream: i64,
        range: Option<Range<u64>>,
        fin: bool,
        reset: Option<u64>,
        retransmitted: u64,
    ) -> PacketData {
        let state = self
            .streams
            .get_mut(&stream)
            .expect("sendable stream exists");
        if fin {
            state.send.on_fin_sent();
        }
        if let Some(offset) = reset {
            state.send.on_reset_sent(offset);
        }
        self.next_stream = stream.wrapping_add(1);
        if let Some(log) = &mut self.copy_log
            && state.options.latency
            && let Some(range) = &range
        {
            log.push((stream, range.clone()));
        }
        PacketData {
            range: range.map(|r| (stream, r)),
            fin: fin.then_some(stream),
            reset: reset.map(|offset| (stream, offset)),
            latency: state.options.latency,
            retransmitted,
        }
    }

    /// Turns the log of latency-mode ranges sent on or off (see [`copy_packet`]); turning it
    /// off forgets what it held.
    ///
    /// [`copy_packet`]: Self::copy_packet
    pub(in crate::connection) fn log_latency_ranges(&mut self, on: bool) {
        match (on, self.copy_log.is_some()) {
            (true, false) => self.copy_log = Some(Vec::new()),
            (false, true) => self.copy_log = None,
            _ => {}
        }
    }

    /// Takes the stream ranges of latency-mode streams that packets carried since the last
    /// call, oldest first (nothing when the log is off).
    pub(in crate::connection) fn take_latency_ranges(
        &mut self,
    ) -> impl Iterator<Item = (i64, Range<u64>)> + '_ {
        self.copy_log.iter_mut().flat_map(|log| log.drain(..))
    }

    /// Whether nothing of `range` of `stream` is left to deliver: every byte acknowledged, or
    /// the stream gone (reset past it).
    pub(in crate::connection) fn is_delivered(&self, stream: i64, range: &Range<u64>) -> bool {
        self.streams
            .get(&stream)
            .is_none_or(|s| s.send.is_acked(range.clone()))
    }

    /// A copy of `range` of `stream`, which a packet on another path already carries: a
    /// packet numbered `number` of at most `space` bytes with what of the range is still
    /// unacknowledged (its start first, when not all of it fits), the stream's end when the
    /// copy reaches it, and its reset when the copy starts there. Nothing is booked: the copy
    /// is sent once and never again; the original packet stays the one whose loss puts the
    /// range back (see `scheduler`). `None` when nothing of the range is left or fits.
    pub(in crate::connection) fn copy_packet(
        &self,
        number: u64,
        stream: i64,
        range: Range<u64>,
        space: usize,
    ) -> Option<PacketFrame> {
        let state = self.streams.get(&stream)?;
        let start = range.start.max(state.send.acked_offset());
        let mut budget = space.saturating_sub(PACKET_OVERHEAD) as u64;
        let mut fragments = Vec::new();
        for _attempt in 0..MAX_PACKET_ATTEMPTS {
            let end = range.end.min(start.saturating_add(budget));
            if end <= start {
                return None;
            }
            fragments.clear();
            state.send.fragments(start..end, &mut fragments);
            let first = fragments.first()?.offset;
            let fin = state.send.final_offset() == Some(end);
            let flags = state.options.packet_flags(fin, state.send.resets_at(first));
            let message = packet_frame(number, stream, &fragments, flags, Vec::new());
            let size = message.encoded_len();
            if size <= space {
                return Some(message);
            }
            budget = shrink(budget, size, space);
        }
        None
    }

    /// Round-robin: the first stream at or after `next_stream` with data to send.
    fn next_sendable_stream(&self) -> Option<i64> {
        let sendable = |(_, s): &(&i64, &StreamState)| s.send.has_sendable(s.peer_limit);
        if self.streams.len() == 1 {
            // One stream, the usual case: no round to make.
            return self
                .streams
                .first_key_value()
                .filter(sendable)
                .map(|(&id, _)| id);
        }
        self.streams
            .range(self.next_stream..)
            .find(sendable)
            .or_else(|| self.streams.range(..self.next_stream).find(sendable))
            .map(|(&id, _)| id)
    }
}
