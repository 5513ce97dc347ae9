//! The streams a connection carries, apart from the connection's packets.
//!
//! A [`StreamSet`] holds everything end-to-end about the streams between two nodes: each stream's
//! send buffer and reassembly, flow control (the peer's limit for our data, our grants for
//! theirs), the receive-memory budget they share, and the events they produce. It knows nothing
//! of packet numbers, RTT, congestion or timers: those belong to one connection (one path). The
//! connection asks it for the next packet of stream data and tells it what became of it
//! (acknowledged, lost), hands it the stream packets and stream acknowledgements it receives, and
//! asks it for its stream acknowledgements when it writes one.
//!
//! This cut is what lets a session (the node's, next step) drive one stream set over several
//! connections at once: stream offsets are the same on every path, so a range lost on one path
//! is sent again on another and the receiver takes each byte once.
//!
//! # Interface
//!
//! | from the connection | to the stream set |
//! |---|---|
//! | building a datagram | [`next_packet`](StreamSet::next_packet), [`stream_acks`](StreamSet::stream_acks) |
//! | a data packet arrived | [`on_packet`](StreamSet::on_packet), then [`deliver`](StreamSet::deliver) |
//! | an acknowledgement arrived | [`on_stream_acks`](StreamSet::on_stream_acks), and per packet number [`on_packet_acked`](StreamSet::on_packet_acked) |
//! | a packet was declared lost | [`on_packet_lost`](StreamSet::on_packet_lost) |

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;

use bytes::Bytes;
use prost::Message as _;

use super::ack::{decode_stream_ranges, encode_stream_ranges};
use super::budget::ReceiveBudget;
use super::{ConnectionConfig, ConnectionEvent, INITIAL_STREAM_WINDOW, SendError, StreamOptions};
use crate::proto::{CloseReason, Packet, PacketFlag, StreamAcknowledge};
use crate::stream::{
    Abandoned, AssembleError, Assembler, Fragment, MessageMeta, SendBuffer, Source,
};

/// Room kept for the frame header, the packet fields and one fragment's fields.
pub(super) const PACKET_OVERHEAD: usize = 48;
mod outgoing;

/// Acknowledgement frames that report a stream's changed receive state. Measured in B2: 2
/// costs 21 % more bytes for no latency gain (a lost final acknowledgement is repaired by the
/// probe timeout, and a stream's end by the acknowledgement of its packet number), so 1.
const STREAM_ACK_REPEATS: u8 = 1;

#[derive(Debug)]
struct StreamState {
    send: SendBuffer,
    recv: Assembler,
    /// The peer's flow-control limit for our data.
    peer_limit: u64,
    /// How many more acknowledgement frames should report this stream's receive state: set to
    /// [`STREAM_ACK_REPEATS`] when it changes.
    ack_repeats: u8,
    /// `StreamFinished` was reported.
    finish_reported: bool,
    /// Latency mode and redundancy of this stream's data.
    options: StreamOptions,
}

/// What became of a data packet handed to [`StreamSet::on_packet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PacketOutcome {
    /// All of it was taken.
    Taken,
    /// Not (all) taken — the receive budget is full, or it reaches beyond the grant. Leave it
    /// unacknowledged so that the sender resends it.
    Refused,
    /// It breaks a protocol rule: the connection closes with this reason.
    Violation(CloseReason),
}

/// What one packet of stream data carried, for the connection to book with its packet number
/// and report back when the packet is acknowledged or lost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PacketData {
    /// The stream range it carried.
    pub range: Option<(i64, Range<u64>)>,
    /// The stream whose end (`FINISH_STREAM`) it carried.
    pub fin: Option<i64>,
    /// The stream and offset of the `RESET_OFFSET` it carried.
    pub reset: Option<(i64, u64)>,
    /// It carried data of a latency-mode stream.
    pub latency: bool,
    /// Bytes of it that had been sent before.
    pub retransmitted: u64,
}

/// The streams between two nodes (see the module docs).
#[derive(Debug)]
pub struct StreamSet {
    config: ConnectionConfig,
    streams: BTreeMap<i64, StreamState>,
    /// Round-robin position among streams.
    next_stream: i64,
    /// Receive memory and grants over all streams.
    receive: ReceiveBudget,
    events: VecDeque<ConnectionEvent>,
    /// When on (a session's redundant scheduler over two paths or more): the stream ranges of
    /// latency-mode streams that packets carried since the session last took them, for it to
    /// copy onto a second path. Off (`None`) everywhere else: one branch per packet.
    copy_log: Option<Vec<(i64, Range<u64>)>>,
    /// Received buffers so far: names the next one (see [`Source`]).
    sources: u64,
    /// Lists the packet builder (and the packet reader, and the acknowledgement writer) reuse
    /// instead of allocating per packet (given back when the path goes idle:
    /// [`compact_idle`](Self::compact_idle)).
    fragment_scratch: Vec<Fragment>,
    content_scratch: Vec<crate::proto::PacketFragment>,
    acks_scratch: Vec<StreamAcknowledge>,
}

impl StreamSet {
    /// Names a received buffer of `len` bytes whose slices the packets in it carry.
    pub(super) fn new_source(&mut self, len: u64) -> Source {
        self.sources = self.sources.wrapping_add(1);
        Source {
            id: self.sources,
            len,
        }
    }

    /// Streams with the limits and defaults of `config`.
    pub fn new(config: ConnectionConfig) -> Self {
        Self {
            config,
            streams: BTreeMap::new(),
            next_stream: 0,
            receive: ReceiveBudget::default(),
            events: VecDeque::new(),
            copy_log: None,
            sources: 0,
            fragment_scratch: Vec::new(),
            content_scratch: Vec::new(),
            acks_scratch: Vec::new(),
        }
    }

    /// Takes back the list [`stream_acks`](Self::stream_acks) returned, once written.
    pub(super) fn recycle_acks(&mut self, acks: Vec<StreamAcknowledge>) {
        self.acks_scratch = acks;
    }

    /// Gives back the memory of the packet builder's lists (an idle path).
    pub(super) fn compact_idle(&mut self) {
        self.fragment_scratch = Vec::new();
        self.content_scratch = Vec::new();
        self.acks_scratch = Vec::new();
    }

    /// The settings.
    pub fn config(&self) -> &ConnectionConfig {
        &self.config
    }

    /// Queues a message on `stream` (opened on first use).
    pub fn send(
        &mut self,
        stream: i64,
        data: Bytes,
        meta: Option<MessageMeta>,
        max_datagram: usize,
    ) -> Result<(), SendError> {
        if let Some(meta) = &meta {
            let len = Fragment {
                offset: 0,
                data: Bytes::new(),
                ends_message: true,
                meta: Some(meta.clone()),
            }
            .to_proto()
            .encoded_len();
            let max = max_datagram.saturating_sub(PACKET_OVERHEAD + 1);
            if len > max {
                return Err(SendError::MetadataTooLarge { len, max });
            }
        }
        self.stream_mut(stream)?.send.write(data, meta)?;
        Ok(())
    }

    /// Queues a message that already waited for the stream elsewhere (a node's queue for a
    /// peer without a session): taken even when the stream's send buffer is full, so that it
    /// keeps its place before later messages (see [`SendBuffer::write_committed`]).
    pub(super) fn send_committed(&mut self, stream: i64, data: Bytes) -> Result<(), SendError> {
        self.stream_mut(stream)?.send.write_committed(data, None)?;
        Ok(())
    }

    /// Ends `stream` after the messages already queued on it.
    pub fn finish(&mut self, stream: i64) -> Result<(), SendError> {
        self.stream_mut(stream)?.send.finish();
        Ok(())
    }

    /// Abandons every message of `stream` not yet acknowledged and returns them; the peer is
    /// told to skip them (`RESET_OFFSET`).
    pub fn reset_stream(&mut self, stream: i64) -> Result<Abandoned, SendError> {
        let state = self.stream_mut(stream)?;
        let abandoned = state.send.reset();
        if let Some(offset) = state.send.reset_unsent() {
            // As at a stream's start, the peer accepts the initial window beyond the reset.
            state.peer_limit = state
                .peer_limit
                .max(offset.saturating_add(INITIAL_STREAM_WINDOW));
        }
        Ok(abandoned)
    }

    /// Sets how `stream` (opened if new) sends its data.
    pub fn set_stream_options(
        &mut self,
        stream: i64,
        options: StreamOptions,
    ) -> Result<(), SendError> {
        self.stream_mut(stream)?.options = options;
        Ok(())
    }

    /// The ids of the streams opened so far, ascending.
    pub fn stream_ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.streams.keys().copied()
    }

    /// Whether `stream` was finished and the peer acknowledged everything written on it, its
    /// end included.
    pub fn is_send_done(&self, stream: i64) -> bool {
        self.streams.get(&stream).is_some_and(|s| s.send.is_done())
    }

    /// Unacknowledged bytes queued on all streams.
    pub fn unacked_bytes(&self) -> u64 {
        self.streams.values().map(|s| s.send.unacked_bytes()).sum()
    }

    /// Memory held for reassembly over all streams, as charged.
    pub fn receive_memory(&self) -> u64 {
        self.receive.memory
    }

    /// The most [`receive_memory`](Self::receive_memory) ever reached.
    pub fn peak_receive_memory(&self) -> u64 {
        self.receive.peak_memory
    }

    /// Charges of delivered messages not released yet (with
    /// [`hold_delivered`](ConnectionConfig::hold_delivered)).
    pub fn held_receive_memory(&self) -> u64 {
        self.receive.held
    }

    /// The next stream event (a message, or a stream's end), if any.
    pub fn poll_event(&mut self) -> Option<ConnectionEvent> {
        self.events.pop_front()
    }

    fn stream_mut(&mut self, id: i64) -> Result<&mut StreamState, SendError> {
        if !self.streams.contains_key(&id) {
            if self.streams.len() >= self.config.max_streams {
                return Err(SendError::StreamLimit(self.config.max_streams));
            }
            let receive_window = self.config.stream_receive_window.max(INITIAL_STREAM_WINDOW);
            let recv = Assembler::with_initial_grant(
                receive_window,
                INITIAL_STREAM_WINDOW,
                self.config.max_message_size as u64,
            );
            self.receive.account(0, recv.memory());
            self.receive.promise(0, recv.outstanding());
            self.streams.insert(
                id,
                StreamState {
                    send: SendBuffer::new(
                        self.config.stream_send_buffer,
                        self.config.max_message_size,
                    ),
                    recv,
                    // Until the peer says otherwise, it accepts the initial window.
                    peer_limit: INITIAL_STREAM_WINDOW,
                    ack_repeats: 0,
                    finish_reported: false,
                    options: self.config.stream_options(),
                },
            );
        }
        Ok(self.streams.get_mut(&id).expect("inserted above"))
    }

    // ----- sending -----

    /// Whether any stream has something to send (again or for the first time) within its
    /// peer's limit, its end or its reset included.
    #[inline]
    pub(super) fn has_sendable(&self) -> bool {
        self.streams
            .values()
            .any(|s| s.send.has_sendable(s.peer_limit))
    }

    /// Whether some stream's receive state changed and should be acknowledged.
    #[inline]
    pub(super) fn ack_wanted(&self) -> bool {
        self.streams.values().any(|s| s.ack_repeats > 0)
    }

    /// Lets the next stream go first next time (after a packet of the current one did not fit).
    pub(super) fn rotate(&mut self) {
        self.next_stream = self.next_stream.wrapping_add(1);
    }

    /// The packet carrying `range`, `fin` and `reset` was acknowledged by its packet number. On
    /// a direct connection the peer endpoint itself acknowledged it: the end of stream and the
    /// reset it carried have arrived (through relays, stream acknowledgements say so).
    pub(super) fn on_packet_acked(&mut self, fin: Option<i64>, reset: Option<(i64, u64)>) {
        if let Some(state) = fin.and_then(|stream| self.streams.get_mut(&stream)) {
            state.send.on_fin_acked();
        }
        if let Some((stream, offset)) = reset
            && let Some(state) = self.streams.get_mut(&stream)
        {
            state.send.on_reset_acked(offset);
        }
    }

    /// The packet carrying `range`, `fin` and `reset` was lost: the range goes back to the
    /// front of its send queue, and the end and reset go out again.
    pub(super) fn on_packet_lost(
        &mut self,
        range: Option<(i64, Range<u64>)>,
        fin: Option<i64>,
        reset: Option<(i64, u64)>,
    ) {
        if let Some((stream, range)) = range
            && let Some(state) = self.streams.get_mut(&stream)
        {
            state.send.on_lost(range);
        }
        if let Some(state) = fin.and_then(|stream| self.streams.get_mut(&stream)) {
            state.send.on_fin_lost();
        }
        if let Some((stream, offset)) = reset
            && let Some(state) = self.streams.get_mut(&stream)
        {
            state.send.on_reset_lost(offset);
        }
    }

    /// Everything in flight is lost (the path carrying it died and did not say what it
    /// carried): every unacknowledged byte, end and reset goes out again. The peer takes each
    /// byte once, so what it already had costs bandwidth, never a duplicate delivery.
    pub(super) fn on_all_lost(&mut self) {
        for state in self.streams.values_mut() {
            state.send.on_all_lost();
        }
    }

    // ----- acknowledgements -----

    /// Stream acknowledgements for the streams whose receive state changed, while they fit in
    /// `budget` bytes; each stream's grant is raised from the receive budget first.
    pub(super) fn stream_acks(&mut self, mut budget: usize) -> Vec<StreamAcknowledge> {
        let mut acks = std::mem::take(&mut self.acks_scratch);
        acks.clear();
        let limit = self.config.receive_memory_limit;
        let hold = self.config.hold_delivered;
        for (&id, s) in self.streams.iter_mut().filter(|(_, s)| s.ack_repeats > 0) {
            let own = s.recv.outstanding();
            let spare = if hold {
                self.receive
                    .spare_reserved(limit, own, INITIAL_STREAM_WINDOW)
            } else {
                self.receive.spare(limit)
            };
            let (_, capped) = s.recv.grant(spare);
            self.receive.promise(own, s.recv.outstanding());
            if capped {
                self.receive.capped.insert(id);
            } else {
                self.receive.capped.remove(&id);
            }
            let contiguous = s.recv.contiguous();
            let ack = StreamAcknowledge {
                stream_id: id,
                acknowledge_offset: contiguous,
                received_max_offset: s.recv.max_received(),
                received_ranges: encode_stream_ranges(contiguous, &s.recv.received_ranges()),
                window_size: s.recv.window_limit() - contiguous,
                finished: s.recv.end().is_some(),
            };
            let size = ack.encoded_len() + 4;
            if size > budget {
                break;
            }
            budget -= size;
            s.ack_repeats -= 1;
            acks.push(ack);
        }
        acks
    }

    /// The peer's acknowledgements of our stream data (and its new limits). Acknowledgements
    /// for streams we never sent on are ignored; malformed ones and ones for data never sent
    /// are protocol violations.
    pub(super) fn on_stream_acks(&mut self, acks: &[StreamAcknowledge]) -> Result<(), CloseReason> {
        for stream_ack in acks {
            let ranges =
                decode_stream_ranges(stream_ack.acknowledge_offset, &stream_ack.received_ranges)
                    .map_err(|_| CloseReason::ProtocolViolation)?;
            let Some(stream) = self.streams.get_mut(&stream_ack.stream_id) else {
                continue;
            };
            stream
                .send
                .on_ack(stream_ack.acknowledge_offset, &ranges)
                .map_err(|_| CloseReason::ProtocolViolation)?;
            let limit = stream_ack
                .acknowledge_offset
                .saturating_add(stream_ack.window_size);
            stream.peer_limit = stream.peer_limit.max(limit);
        }
        Ok(())
    }

    // ----- receiving -----

    /// Whether reassembly may take this packet's data: always while the receive memory is
    /// below its limit, and beyond it only data that fills its stream from the front (so that a
    /// hole can always be filled and memory freed; such data is bounded by the stream's grant),
    /// or that skips data (`RESET_OFFSET`, which frees memory).
    fn admits(&self, packet: &Packet) -> bool {
        self.receive.used() < self.config.receive_memory_limit
            || packet.flags & PacketFlag::ResetOffset as u32 != 0
            || self
                .streams
                .get(&packet.stream_id)
                .map_or(0, |s| s.recv.contiguous())
                >= packet.stream_offset
    }

    /// Takes in a packet of stream data whose fragments are slices of a received buffer of
    /// `source_len` bytes.
    pub(super) fn on_packet(&mut self, packet: Packet, source: Source) -> PacketOutcome {
        if !self.admits(&packet) {
            return PacketOutcome::Refused;
        }
        let list = std::mem::take(&mut self.content_scratch);
        let Ok(content) = crate::frame::decode_packet_content_into(packet.content, list) else {
            return PacketOutcome::Violation(CloseReason::ProtocolViolation);
        };
        let mut fragments = content.fragments;
        let Ok(stream) = self.stream_mut(packet.stream_id) else {
            return PacketOutcome::Violation(CloseReason::StreamLimit);
        };
        let before = stream.recv.memory();
        let promised = stream.recv.outstanding();
        let mut failure = None;
        if packet.flags & PacketFlag::ResetOffset as u32 != 0 {
            // Everything before this packet's offset is skipped (the sender abandoned it).
            if stream.recv.reset_to(packet.stream_offset).is_err() {
                failure = Some(CloseReason::ProtocolViolation);
            }
        }
        let finishes = packet.flags & PacketFlag::FinishStream as u32 != 0;
        let mut offset = packet.stream_offset;
        let mut complete = failure.is_none();
        if failure.is_some() {
            fragments.clear();
        }
        for fragment in fragments.drain(..) {
            let len = fragment.data.len() as u64;
            match stream
                .recv
                .insert_from(Fragment::from_proto(offset, fragment), source)
            {
                Ok(()) => {}
                // Beyond the grant: the rest is not taken.
                Err(AssembleError::BeyondWindow { .. }) => {
                    complete = false;
                    break;
                }
                Err(AssembleError::MessageTooLarge { .. }) => {
                    failure = Some(CloseReason::MessageTooLarge);
                    break;
                }
                Err(_) => {
                    failure = Some(CloseReason::ProtocolViolation);
                    break;
                }
            }
            let Some(next) = offset.checked_add(len) else {
                failure = Some(CloseReason::ProtocolViolation);
                break;
            };
            offset = next;
        }
        // The end is where the packet's data ends: only known when all of it was taken.
        if finishes && complete && failure.is_none() {
            match stream.recv.set_end(offset) {
                Ok(()) | Err(AssembleError::BeyondWindow { .. }) => {}
                Err(_) => failure = Some(CloseReason::ProtocolViolation),
            }
        }
        stream.recv.settle();
        stream.ack_repeats = STREAM_ACK_REPEATS;
        let after = stream.recv.memory();
        let promises = stream.recv.outstanding();
        self.receive.account(before, after);
        self.receive.promise(promised, promises);
        self.content_scratch = fragments;
        match failure {
            Some(reason) => PacketOutcome::Violation(reason),
            None if complete => PacketOutcome::Taken,
            None => PacketOutcome::Refused,
        }
    }

    /// Moves whole messages to the event queue. Returns whether an acknowledgement should go
    /// out at once: delivery freed memory that streams were waiting for (their grants were
    /// capped by it), and they are told their new grants.
    pub(super) fn deliver(&mut self) -> bool {
        let used = self.receive.used();
        let hold = self.config.hold_delivered;
        for (&id, stream) in &mut self.streams {
            let before = stream.recv.memory();
            while let Some(message) = stream.recv.pop() {
                stream.ack_repeats = STREAM_ACK_REPEATS;
                if hold {
                    self.receive.hold(message.data.len());
                }
                self.events.push_back(ConnectionEvent::Message {
                    stream: id,
                    data: message.data,
                    meta: message.meta,
                });
            }
            let after = stream.recv.memory();
            if after != before {
                self.receive.account(before, after);
            }
            if stream.recv.is_finished() && !stream.finish_reported {
                stream.finish_reported = true;
                self.events
                    .push_back(ConnectionEvent::StreamFinished { stream: id });
            }
        }
        self.receive.used() < used && self.regrant_capped()
    }

    /// The application released delivered messages, `bytes` in all, `count` of them (with
    /// [`hold_delivered`](ConnectionConfig::hold_delivered)). Returns whether an
    /// acknowledgement should go out at once: streams waiting for that budget are told their
    /// new grants.
    pub(super) fn release(&mut self, bytes: u64, count: u64) -> bool {
        self.receive.release(bytes, count) && self.regrant_capped()
    }

    /// Streams whose grant the budget capped are due an acknowledgement (it carries their new
    /// grants); whether there were any.
    fn regrant_capped(&mut self) -> bool {
        for id in &self.receive.capped {
            if let Some(stream) = self.streams.get_mut(id) {
                stream.ack_repeats = STREAM_ACK_REPEATS;
            }
        }
        !self.receive.capped.is_empty()
    }
}
