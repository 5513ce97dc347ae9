//! Taking in datagrams: packet numbers, stream data, acknowledgements, closes.

use std::time::Duration;

use bytes::Bytes;

use super::ack::{MAX_ACK_RANGES, decode_packet_ack};
use super::streams::PacketOutcome;
use super::{ConnectionEvent, Path, StreamSet};
use crate::Timestamp;
use crate::frame::DatagramDecoder;
use crate::proto::{Acknowledge, CloseReason, Packet, PacketFlag, frame_message::Body};

impl Path {
    /// A datagram arrived. A datagram that does not decode is dropped and counted; a frame that
    /// breaks a protocol rule closes the connection with a reason.
    pub fn handle_datagram(&mut self, streams: &mut StreamSet, now: Timestamp, datagram: Bytes) {
        if self.closed.is_some() {
            return;
        }
        debug_assert!(
            self.stream_decoder.is_none(),
            "a byte-stream connection takes handle_bytes"
        );
        let len = datagram.len() as u64;
        // The frame list is reused from datagram to datagram: no allocation per datagram.
        let mut frames = std::mem::take(&mut self.frame_scratch);
        frames.clear();
        if DatagramDecoder::new(self.config.frame_limits)
            .decode(datagram, &mut frames)
            .is_err()
        {
            self.stats.datagrams_invalid += 1;
            self.frame_scratch = frames;
            return;
        }
        self.stats.datagrams_received += 1;
        self.on_frames(streams, now, &mut frames, Some(len));
        frames.clear();
        self.frame_scratch = frames;
    }

    /// Bytes arrived on a byte-stream connection, in any split. A byte stream that breaks the
    /// frame format cannot be resynchronised: the connection closes with the decoder's reason.
    pub fn handle_bytes(&mut self, streams: &mut StreamSet, now: Timestamp, data: Bytes) {
        if self.closed.is_some() {
            return;
        }
        let Some(decoder) = self.stream_decoder.as_mut() else {
            debug_assert!(false, "a datagram connection takes handle_datagram");
            return;
        };
        decoder.feed_bytes(data);
        let mut frames = Vec::new();
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(error) => {
                    self.on_frames(streams, now, &mut frames, None);
                    return self.close(error.close_reason());
                }
            }
        }
        self.on_frames(streams, now, &mut frames, None);
    }

    /// Frames of one datagram (`datagram_len` is its size) or of a byte stream (`None`: each
    /// frame's payloads pin its own bytes).
    fn on_frames(
        &mut self,
        streams: &mut StreamSet,
        now: Timestamp,
        frames: &mut Vec<crate::frame::Frame>,
        datagram_len: Option<u64>,
    ) {
        if frames.is_empty() {
            return;
        }
        self.last_received = now;
        // A datagram is one buffer for all its frames; on a byte stream each frame is one.
        let datagram = datagram_len.map(|len| streams.new_source(len));
        for frame in frames.drain(..) {
            self.metrics.record_packet_received(frame.wire_len);
            if let Some(kept) = &mut self.handshake_frames
                && crate::handshake::carries_handshake(&frame.message)
            {
                kept.push(frame.message.clone());
            }
            let number = frame.message.packet_number;
            if number > super::MAX_PACKET_NUMBER {
                return self.close(CloseReason::ProtocolViolation);
            }
            if number != 0 && (self.received.contains(number) || number < self.received_floor) {
                continue; // A duplicate, or too old to track.
            }
            let mut urgent = self.config.latency_mode;
            let ack_eliciting = match frame.message.body {
                Some(Body::Packet(packet)) => {
                    urgent |= packet.flags & PacketFlag::AckImmediately as u32 != 0;
                    if !packet.content.is_empty() {
                        self.metrics.record_fragment_received();
                    }
                    let source =
                        datagram.unwrap_or_else(|| streams.new_source(frame.wire_len as u64));
                    if !self.on_stream_packet(streams, packet, source) {
                        if self.closed.is_some() {
                            return;
                        }
                        // Not recorded as received, so not acknowledged: the sender will
                        // declare it lost and send it again.
                        self.stats.packets_refused += 1;
                        continue;
                    }
                    true
                }
                Some(Body::Ping(_)) => true,
                Some(Body::Pong(_)) | None => false,
                Some(Body::Acknowledge(ack)) => {
                    self.on_acknowledge(streams, now, &ack);
                    false
                }
                Some(Body::Close(close)) => {
                    let reason =
                        CloseReason::try_from(close.reason).unwrap_or(CloseReason::Unknown);
                    self.closed = Some(reason);
                    self.events.push_back(ConnectionEvent::Closed { reason });
                    return;
                }
            };
            if self.closed.is_some() {
                return;
            }
            if number != 0 {
                self.received.insert(number..number + 1);
                self.prune_received();
            }
            if ack_eliciting {
                // Byte streams do not number frames and never reorder them.
                let in_order = number == 0 || number == self.largest_received + 1;
                self.ack_eliciting_unacked += 1;
                if urgent || !in_order || self.ack_eliciting_unacked >= 2 {
                    self.ack_now = true;
                } else if self.ack_deadline.is_none() {
                    self.ack_deadline = Some(now + self.config.max_ack_delay);
                }
            }
            self.largest_received = self.largest_received.max(number);
        }
        self.deliver(streams);
    }

    /// Forgets old ranges of received packet numbers: acknowledgements only ever report the
    /// newest [`MAX_ACK_RANGES`], and the set must not grow with the connection's age.
    fn prune_received(&mut self) {
        if self.received.len() > 2 * MAX_ACK_RANGES {
            let keep_from = self
                .received
                .iter()
                .rev()
                .nth(MAX_ACK_RANGES - 1)
                .map_or(0, |r| r.start);
            self.received.remove_below(keep_from);
            self.received_floor = keep_from;
        }
    }

    /// Takes in a packet of stream data. Returns whether all of it was taken: a packet refused
    /// (the receive budget is full, or it reaches beyond the grant) is left unacknowledged so
    /// that the sender resends it. On a byte stream, which never resends, refusal closes the
    /// connection instead: data ahead of a hole or beyond the grant does not conform there.
    fn on_stream_packet(
        &mut self,
        streams: &mut StreamSet,
        packet: Packet,
        source: crate::stream::Source,
    ) -> bool {
        match streams.on_packet(packet, source) {
            PacketOutcome::Taken => true,
            PacketOutcome::Refused => {
                if self.is_byte_stream() {
                    self.close(CloseReason::FlowControl);
                }
                false
            }
            PacketOutcome::Violation(reason) => {
                self.close(reason);
                false
            }
        }
    }

    fn on_acknowledge(&mut self, streams: &mut StreamSet, now: Timestamp, ack: &Acknowledge) {
        if let Some(packets) = &ack.packets {
            let Ok(ranges) = decode_packet_ack(packets) else {
                return self.close(CloseReason::ProtocolViolation);
            };
            if ranges
                .first()
                .is_some_and(|r| r.end > self.next_packet_number)
            {
                return self.close(CloseReason::ProtocolViolation);
            }
            let delay = Duration::from_micros(ack.ack_delay_microseconds.min(u64::from(u32::MAX)));
            self.on_packets_acked(streams, now, &ranges, delay);
        }
        if let Err(reason) = streams.on_stream_acks(&ack.streams) {
            self.close(reason);
        }
    }

    /// Moves whole messages to the event queue; an acknowledgement goes out at once when that
    /// freed memory streams were waiting for.
    fn deliver(&mut self, streams: &mut StreamSet) {
        if streams.deliver() {
            self.ack_now = true;
        }
    }
}
