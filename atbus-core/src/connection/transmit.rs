//! Building datagrams: an acknowledgement when one is due, then stream data, then a probe.

use bytes::BytesMut;
use prost::Message as _;

use super::Connection;
use super::ack::{encode_packet_ack, encode_stream_ranges};
use super::recovery::SentPacket;
use crate::Timestamp;
use crate::frame::{encode_frame, encoded_frame_len};
use crate::proto::{
    Acknowledge, ConnectionClose, FrameMessage, Packet, PacketContent, PingData, StreamAcknowledge,
    frame_message::Body,
};

/// Room kept for the frame header, the packet fields and one fragment's fields.
pub(super) const PACKET_OVERHEAD: usize = 48;
/// Extra room per additional fragment (its key, length and flag).
const FRAGMENT_OVERHEAD: usize = 12;
/// Room kept in an acknowledgement frame for the header, packet-number ranges and delay.
const ACK_FRAME_OVERHEAD: usize = 400;
/// Below this much space a data frame is not worth starting.
const MIN_DATA_SPACE: usize = 64;

impl Connection {
    /// Appends the next datagram to `buf` and returns its size, or `None` when there is
    /// nothing to send now.
    pub fn poll_transmit(&mut self, now: Timestamp, buf: &mut BytesMut) -> Option<usize> {
        let start = buf.len();
        if self.closed.is_some() {
            if !self.close_frame_pending {
                return None;
            }
            self.close_frame_pending = false;
            let reason = self.closed.expect("closed") as i32;
            let close = FrameMessage {
                packet_number: self.take_packet_number(),
                body: Some(Body::Close(ConnectionClose {
                    reason,
                    message: String::new(),
                })),
                ..Default::default()
            };
            self.write_frame(&close, buf);
            return self.finish_datagram(buf, start);
        }
        if let Some(size) = self.probe_size_due() {
            return self.write_mtu_probe(now, size, buf, start);
        }
        let has_data = self.has_sendable_data();
        if self.ack_now || (has_data && self.ack_wanted()) {
            self.write_ack(now, buf);
        }
        let mut ack_eliciting = false;
        while has_data && self.has_sendable_data() {
            let used = buf.len() - start;
            let space = self.mtu.current().saturating_sub(used);
            if space < MIN_DATA_SPACE {
                break;
            }
            if !self.probe_pending
                && (!self.window_open() || !self.pacer.ready(now, self.congestion.pacing_rate()))
            {
                break;
            }
            if !self.write_stream_packet(now, space, buf) {
                // Let the other streams go first next time.
                self.next_stream = self.next_stream.wrapping_add(1);
                break;
            }
            ack_eliciting = true;
            self.probe_pending = false;
        }
        if self.probe_pending && !ack_eliciting {
            let number = self.take_packet_number();
            let ping = FrameMessage {
                packet_number: number,
                body: Some(Body::Ping(PingData {
                    timepoint_microseconds: now.as_micros(),
                    ..Default::default()
                })),
                ..Default::default()
            };
            let size = self.write_frame(&ping, buf);
            self.on_packet_sent(
                number,
                SentPacket {
                    time_sent: now,
                    size: size as u64,
                    ack_eliciting: true,
                    range: None,
                    fin: None,
                    reset: None,
                    latency: false,
                },
                true,
            );
            self.probe_pending = false;
        }
        self.finish_datagram(buf, start)
    }

    fn finish_datagram(&mut self, buf: &BytesMut, start: usize) -> Option<usize> {
        let len = buf.len() - start;
        if len == 0 {
            return None;
        }
        self.stats.datagrams_sent += 1;
        self.stats.bytes_sent += len as u64;
        Some(len)
    }

    /// The packet number the next frame will carry; byte streams do not number frames (0).
    fn peek_packet_number(&self) -> u64 {
        if self.is_byte_stream() {
            0
        } else {
            self.next_packet_number
        }
    }

    /// The next packet number, taken; byte streams do not number frames (0).
    fn take_packet_number(&mut self) -> u64 {
        if self.is_byte_stream() {
            return 0;
        }
        let number = self.next_packet_number;
        self.next_packet_number += 1;
        number
    }

    fn write_frame(&self, message: &FrameMessage, buf: &mut BytesMut) -> usize {
        // Frames built here stay far below the frame limit.
        encode_frame(message, &self.config.frame_limits, buf).expect("frame within limits")
    }

    fn ack_wanted(&self) -> bool {
        self.ack_eliciting_unacked > 0 || self.streams.values().any(|s| s.ack_repeats > 0)
    }

    /// A path-MTU probe is due: a datagram connection that has measured an RTT (the path
    /// works), with room in the window, and a size left to try.
    fn probe_size_due(&self) -> Option<usize> {
        if self.is_byte_stream() || !self.rtt.has_sample() || !self.window_open() {
            return None;
        }
        self.mtu.next_probe()
    }

    /// Sends a ping padded to exactly `size` bytes, alone in its datagram.
    fn write_mtu_probe(
        &mut self,
        now: Timestamp,
        size: usize,
        buf: &mut BytesMut,
        start: usize,
    ) -> Option<usize> {
        let number = self.take_packet_number();
        let mut probe = FrameMessage {
            packet_number: number,
            body: Some(Body::Ping(PingData {
                timepoint_microseconds: now.as_micros(),
                ..Default::default()
            })),
            ..Default::default()
        };
        let bare = encoded_frame_len(&probe);
        let mut padding = size.saturating_sub(bare + 3);
        loop {
            if let Some(Body::Ping(ping)) = &mut probe.body {
                ping.pmtud_padding = vec![0u8; padding].into();
            }
            let len = encoded_frame_len(&probe);
            if len <= size || padding == 0 {
                break;
            }
            padding -= (len - size).min(padding);
        }
        let len = self.write_frame(&probe, buf);
        self.mtu.on_probe_sent(number, len);
        self.on_packet_sent(
            number,
            SentPacket {
                time_sent: now,
                size: len as u64,
                ack_eliciting: true,
                range: None,
                fin: None,
                reset: None,
                latency: false,
            },
            true,
        );
        self.finish_datagram(buf, start)
    }

    /// Whether the congestion window has room for a full datagram.
    fn window_open(&self) -> bool {
        self.sent.bytes_in_flight + self.mtu.current() as u64 <= self.congestion.window()
    }

    /// When the pacer next allows a packet, if data waits for it within the window (the same
    /// conditions `poll_transmit` applies, so the deadline always leads to a send).
    pub(super) fn pacing_deadline(&self) -> Option<Timestamp> {
        let rate = self.congestion.pacing_rate()?;
        if !self.has_sendable_data() || !self.window_open() {
            return None;
        }
        Some(self.pacer.next_ready(rate))
    }

    pub(super) fn has_sendable_data(&self) -> bool {
        self.streams
            .values()
            .any(|s| s.send.has_sendable(s.peer_limit))
    }

    fn write_ack(&mut self, now: Timestamp, buf: &mut BytesMut) {
        // Stream states go in while they fit one datagram; the rest wait for the next frame.
        let mut budget = self.mtu.current().saturating_sub(ACK_FRAME_OVERHEAD);
        let mut streams = Vec::new();
        let limit = self.config.receive_memory_limit;
        for (&id, s) in self.streams.iter_mut().filter(|(_, s)| s.ack_repeats > 0) {
            let (_, capped) = s.recv.grant(self.receive.spare(limit));
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
            streams.push(ack);
        }
        let delay = self.ack_deadline.map_or(0, |deadline| {
            (now - (deadline - self.config.max_ack_delay)).as_micros() as u64
        });
        let ack = FrameMessage {
            packet_number: self.take_packet_number(),
            body: Some(Body::Acknowledge(Acknowledge {
                streams,
                timepoint_microseconds: 0,
                ack_delay_microseconds: delay,
                packets: if self.is_byte_stream() {
                    None
                } else {
                    encode_packet_ack(&self.received)
                },
            })),
            ..Default::default()
        };
        self.write_frame(&ack, buf);
        self.ack_now = false;
        self.ack_deadline = None;
        self.ack_eliciting_unacked = 0;
    }

    /// Writes one packet of stream data into at most `space` bytes; false if nothing fit.
    fn write_stream_packet(&mut self, now: Timestamp, space: usize, buf: &mut BytesMut) -> bool {
        let Some(stream) = self.next_sendable_stream() else {
            return false;
        };
        let number = self.peek_packet_number();
        let state = self
            .streams
            .get_mut(&stream)
            .expect("sendable stream exists");
        let sent_before = state.send.sent_offset();
        let whole_up_to = (self.mtu.current() - PACKET_OVERHEAD) as u64;
        let mut budget = space.saturating_sub(PACKET_OVERHEAD) as u64;
        for _attempt in 0..3 {
            let Some(range) = state.send.next_range(budget, state.peer_limit, whole_up_to) else {
                return self.write_fin_only(now, stream, space, buf);
            };
            // Redundancy: lead with up to `redundant_messages` earlier small messages of this
            // stream that are still unacknowledged, when they fit.
            let mut earlier_start = range.start;
            for _ in 0..state.options.redundant_messages {
                match state.send.message_before(earlier_start) {
                    Some(previous)
                        if previous.end - previous.start <= super::REDUNDANT_MESSAGE_MAX
                            && range.end - previous.start <= budget =>
                    {
                        earlier_start = previous.start.max(state.send.acked_offset());
                    }
                    _ => break,
                }
            }
            let range = earlier_start..range.end;
            let mut fragments = Vec::new();
            state.send.fragments(range.clone(), &mut fragments);
            if fragments.is_empty() {
                // Entirely acknowledged meanwhile: nothing to resend.
                continue;
            }
            let fin = state.send.fin_sendable() && state.send.final_offset() == Some(range.end);
            let reset = state
                .send
                .resets_at(fragments[0].offset)
                .then_some(fragments[0].offset);
            let content = PacketContent {
                fragments: fragments.iter().map(|f| f.to_proto()).collect(),
            };
            let message = FrameMessage {
                packet_number: number,
                body: Some(Body::Packet(Packet {
                    stream_id: stream,
                    stream_offset: fragments[0].offset,
                    content: content.encode_to_vec().into(),
                    flags: state.options.packet_flags(fin, reset.is_some()),
                    ..Default::default()
                })),
                ..Default::default()
            };
            let size = encoded_frame_len(&message);
            if size > space {
                // More fragments (or metadata) than the estimate allowed: put the range back and
                // try a smaller one.
                state.send.on_lost(range);
                budget = budget.saturating_sub((size - space + FRAGMENT_OVERHEAD) as u64);
                continue;
            }
            self.stats.retransmitted_bytes +=
                sent_before.min(range.end).saturating_sub(range.start);
            let range = Some((stream, range));
            self.send_stream_frame(now, buf, &message, stream, range, fin, reset);
            return true;
        }
        false
    }

    /// A packet with no data that carries the end of `stream` and/or its reset, when that is
    /// all it has to send.
    fn write_fin_only(
        &mut self,
        now: Timestamp,
        stream: i64,
        space: usize,
        buf: &mut BytesMut,
    ) -> bool {
        let number = self.peek_packet_number();
        let state = self
            .streams
            .get_mut(&stream)
            .expect("sendable stream exists");
        let end = state
            .send
            .final_offset()
            .filter(|_| state.send.fin_sendable());
        let reset = state.send.reset_unsent();
        // A reset lies at or before the end; the end rides along only when it is the same
        // offset (otherwise data lies between them and carries the end later).
        let Some(offset) = reset.or(end) else {
            return false;
        };
        let fin = end == Some(offset);
        let message = FrameMessage {
            packet_number: number,
            body: Some(Body::Packet(Packet {
                stream_id: stream,
                stream_offset: offset,
                flags: state.options.packet_flags(fin, reset.is_some()),
                ..Default::default()
            })),
            ..Default::default()
        };
        let size = encoded_frame_len(&message);
        if size > space {
            return false;
        }
        self.send_stream_frame(now, buf, &message, stream, None, fin, reset);
        true
    }

    /// Writes a packet of `stream` carrying `range` (and the stream's end when `fin`, its
    /// reset to an offset when `reset`) and books it: packet number, the end's and the reset's
    /// state, pacing, loss recovery, round-robin position.
    #[allow(clippy::too_many_arguments)] // one packet's parts, all needed to book it
    fn send_stream_frame(
        &mut self,
        now: Timestamp,
        buf: &mut BytesMut,
        message: &FrameMessage,
        stream: i64,
        range: Option<(i64, std::ops::Range<u64>)>,
        fin: bool,
        reset: Option<u64>,
    ) {
        let number = message.packet_number;
        if let Some(state) = self.streams.get_mut(&stream) {
            if fin {
                state.send.on_fin_sent();
            }
            if let Some(offset) = reset {
                state.send.on_reset_sent(offset);
            }
        }
        self.next_packet_number += u64::from(number != 0);
        let size = self.write_frame(message, buf) as u64;
        self.pacer.on_sent(now, size, self.congestion.pacing_rate());
        let app_limited = !self.has_sendable_data();
        let packet = SentPacket {
            time_sent: now,
            size,
            ack_eliciting: true,
            range,
            fin: fin.then_some(stream),
            reset: reset.map(|offset| (stream, offset)),
            latency: self.streams.get(&stream).is_some_and(|s| s.options.latency),
        };
        self.on_packet_sent(number, packet, app_limited);
        self.next_stream = stream.wrapping_add(1);
    }

    /// Round-robin: the first stream at or after `next_stream` with data to send.
    fn next_sendable_stream(&self) -> Option<i64> {
        let sendable = |(_, s): &(&i64, &super::StreamState)| s.send.has_sendable(s.peer_limit);
        self.streams
            .range(self.next_stream..)
            .find(sendable)
            .or_else(|| self.streams.range(..self.next_stream).find(sendable))
            .map(|(&id, _)| id)
    }
}
