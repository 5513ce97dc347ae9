//! Building datagrams: an acknowledgement when one is due, then stream data, then a probe.

use bytes::BytesMut;

use super::ack::encode_packet_ack;
use super::recovery::SentPacket;
use super::{Path, StreamSet};
use crate::Timestamp;
use crate::frame::{PacketFrame, Splice, encode_frame, encoded_frame_len, join_splices};
use crate::proto::{Acknowledge, ConnectionClose, FrameMessage, PingData, frame_message::Body};

/// Room kept in an acknowledgement frame for the header, packet-number ranges and delay.
const ACK_FRAME_OVERHEAD: usize = 400;
/// Below this much space a data frame is not worth starting.
const MIN_DATA_SPACE: usize = 64;

impl Path {
    /// Appends the next datagram to `buf` and returns its size, or `None` when there is
    /// nothing to send now.
    pub fn poll_transmit(
        &mut self,
        streams: &mut StreamSet,
        now: Timestamp,
        buf: &mut BytesMut,
    ) -> Option<usize> {
        let len = self.transmit(streams, now, buf);
        join_splices(buf, 0, &mut self.splices);
        len
    }

    /// As [`poll_transmit`](Self::poll_transmit), leaving large payloads of a byte stream out
    /// of `buf`: they are appended to `splices` (offsets in `buf`), and the size returned
    /// counts them.
    pub fn poll_transmit_spliced(
        &mut self,
        streams: &mut StreamSet,
        now: Timestamp,
        buf: &mut BytesMut,
        splices: &mut Vec<Splice>,
    ) -> Option<usize> {
        let len = self.transmit(streams, now, buf);
        splices.append(&mut self.splices);
        len
    }

    /// The next datagram, its spliced payloads in `self.splices`.
    fn transmit(
        &mut self,
        streams: &mut StreamSet,
        now: Timestamp,
        buf: &mut BytesMut,
    ) -> Option<usize> {
        let start = buf.len();
        if self.write_blocked {
            return None;
        }
        if self.closed.is_some() {
            return self.poll_close(buf);
        }
        if let Some(size) = self.probe_size_due() {
            return self.write_mtu_probe(now, size, buf, start);
        }
        let has_data = self.has_sendable_data(streams);
        if self.ack_now || (has_data && self.ack_wanted(streams)) {
            self.write_ack(streams, now, buf);
        }
        // A probe (probe timeout, keep-alive) always carries a ping, ahead of any data: the
        // receiver acknowledges a ping whatever its state, whereas it may refuse the data (its
        // receive budget is full and the data does not fill a stream from the front) and then
        // acknowledges nothing. Without the ping, a probe of refused data brings no
        // acknowledgement, so no loss is ever detected and data lost on the wire is never sent
        // again: the transfer stalls for good.
        if self.probe_pending {
            self.write_ping(now, buf);
        }
        while has_data && self.has_sendable_data(streams) {
            let used = buf.len() - start + self.spliced_len();
            let space = self.mtu.current().saturating_sub(used);
            if space < MIN_DATA_SPACE {
                break;
            }
            if !self.probe_pending
                && (!self.window_open() || !self.pacer.ready(now, self.congestion.pacing_rate()))
            {
                break;
            }
            if !self.write_stream_packet(streams, now, space, buf) {
                // Let the other streams go first next time.
                streams.rotate();
                break;
            }
            // One packet of data may go beyond the window with a probe.
            self.probe_pending = false;
        }
        self.probe_pending = false;
        self.finish_datagram(buf, start)
    }

    /// Writes a ping (ack-eliciting, always acknowledged) and books it in flight.
    fn write_ping(&mut self, now: Timestamp, buf: &mut BytesMut) {
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
        self.on_packet_sent(number, SentPacket::control(now, size as u64), true);
    }

    /// Whether a copy of another path's packet may go now: open, with room for a full
    /// datagram in the congestion window, and the pacer ready.
    pub(super) fn has_room_for_copy(&mut self, now: Timestamp) -> bool {
        self.closed.is_none()
            && !self.write_blocked
            && self.window_open()
            && self.pacer.ready(now, self.congestion.pacing_rate())
    }

    /// When the pacer lets a copy go, if only the pacer holds it back (the other conditions of
    /// [`has_room_for_copy`](Self::has_room_for_copy) change by input only: a write-blocked
    /// path waits for its owner, a full window for acknowledgements).
    pub(super) fn copy_deadline(&self) -> Option<Timestamp> {
        let rate = self.congestion.pacing_rate()?;
        (self.closed.is_none() && !self.write_blocked && self.window_open())
            .then(|| self.pacer.next_ready(rate))
    }

    /// Sends, alone in a datagram, a copy of `range` of `stream`, which a packet on another
    /// path carries (see `scheduler`): booked in flight here (congestion window, pacer, loss
    /// detection) but without its range, so that its loss sends nothing again. `None` when
    /// nothing of the range is left or fits.
    pub(super) fn write_copy(
        &mut self,
        streams: &StreamSet,
        now: Timestamp,
        stream: i64,
        range: std::ops::Range<u64>,
        buf: &mut BytesMut,
    ) -> Option<usize> {
        let start = buf.len();
        let number = self.peek_packet_number();
        let message = streams.copy_packet(number, stream, range, self.mtu.current())?;
        self.next_packet_number += u64::from(number != 0);
        let size = self.write_packet(&message, buf, false) as u64;
        self.pacer.on_sent(now, size, self.congestion.pacing_rate());
        let packet = SentPacket {
            time_sent: now,
            size,
            ack_eliciting: true,
            range: None,
            fin: None,
            reset: None,
            latency: true,
        };
        self.on_packet_sent(number, packet, !self.has_sendable_data(streams));
        self.stats.copies_sent += 1;
        self.stats.copy_bytes += size;
        self.finish_datagram(buf, start)
    }

    /// On a closed path, the close frame it owes the peer (it closed the path itself), appended
    /// to `buf`, once; `None` when it owes none (the peer closed it, it timed out, it was sent)
    /// or the path is open. What `poll_transmit` sends on a closed path, for an owner that
    /// retires the path from its streams first.
    pub fn poll_close(&mut self, buf: &mut BytesMut) -> Option<usize> {
        let reason = self.closed?;
        if !self.close_frame_pending {
            return None;
        }
        self.close_frame_pending = false;
        let start = buf.len();
        let close = FrameMessage {
            packet_number: self.take_packet_number(),
            body: Some(Body::Close(ConnectionClose {
                reason: reason as i32,
                message: String::new(),
            })),
            ..Default::default()
        };
        self.write_frame(&close, buf);
        self.finish_datagram(buf, start)
    }

    fn finish_datagram(&mut self, buf: &BytesMut, start: usize) -> Option<usize> {
        let len = buf.len() - start + self.spliced_len();
        if len == 0 {
            return None;
        }
        self.stats.datagrams_sent += 1;
        Some(len)
    }

    /// Bytes of the transmit being written that its splices hold (none on datagram paths).
    fn spliced_len(&self) -> usize {
        self.splices.iter().map(|s| s.data.len()).sum()
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

    /// Writes one frame (a packet, in [`TransportMetrics`](crate::metrics::TransportMetrics)'
    /// terms) and counts it.
    fn write_frame(&mut self, message: &FrameMessage, buf: &mut BytesMut) -> usize {
        // Frames built here stay far below the frame limit.
        let len =
            encode_frame(message, &self.config.frame_limits, buf).expect("frame within limits");
        self.metrics.record_packet_sent(len);
        len
    }

    /// Writes one packet of stream data; on a byte stream with `splice`, its large payloads
    /// go to `self.splices`.
    fn write_packet(&mut self, packet: &PacketFrame, buf: &mut BytesMut, splice: bool) -> usize {
        let limits = &self.config.frame_limits;
        // Packets built here stay far below the frame limit.
        let len = if splice && self.is_byte_stream() {
            packet
                .encode_spliced(limits, buf, self.config.splice_min, &mut self.splices)
                .expect("frame within limits")
        } else {
            packet.encode(limits, buf).expect("frame within limits")
        };
        self.metrics.record_packet_sent(len);
        len
    }

    fn ack_wanted(&self, streams: &StreamSet) -> bool {
        self.ack_eliciting_unacked > 0 || streams.ack_wanted()
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
        self.on_packet_sent(number, SentPacket::control(now, len as u64), true);
        self.finish_datagram(buf, start)
    }

    /// Whether the congestion window has room for a full datagram.
    fn window_open(&self) -> bool {
        self.sent.bytes_in_flight + self.mtu.current() as u64 <= self.congestion.window()
    }

    /// When the pacer next allows a packet, if data waits for it within the window (the same
    /// conditions `poll_transmit` applies, so the deadline always leads to a send).
    pub(super) fn pacing_deadline(&self, streams: &StreamSet) -> Option<Timestamp> {
        let rate = self.congestion.pacing_rate()?;
        if !self.has_sendable_data(streams) || !self.window_open() {
            return None;
        }
        Some(self.pacer.next_ready(rate))
    }

    pub(super) fn has_sendable_data(&self, streams: &StreamSet) -> bool {
        streams.has_sendable()
    }

    fn write_ack(&mut self, streams: &mut StreamSet, now: Timestamp, buf: &mut BytesMut) {
        // Stream states go in while they fit one datagram; the rest wait for the next frame.
        let stream_acks =
            streams.stream_acks(self.mtu.current().saturating_sub(ACK_FRAME_OVERHEAD));
        let delay = self.ack_deadline.map_or(0, |deadline| {
            (now - (deadline - self.config.max_ack_delay)).as_micros() as u64
        });
        let ack = FrameMessage {
            packet_number: self.take_packet_number(),
            body: Some(Body::Acknowledge(Acknowledge {
                streams: stream_acks,
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
        if let Some(Body::Acknowledge(written)) = ack.body {
            streams.recycle_acks(written.streams);
        }
        self.ack_now = false;
        self.ack_deadline = None;
        self.ack_eliciting_unacked = 0;
    }

    /// Writes one packet of stream data into at most `space` bytes; false if nothing fit.
    fn write_stream_packet(
        &mut self,
        streams: &mut StreamSet,
        now: Timestamp,
        space: usize,
        buf: &mut BytesMut,
    ) -> bool {
        let number = self.peek_packet_number();
        let fill = !self.is_byte_stream();
        let Some((message, data)) = streams.next_packet(number, space, self.mtu.current(), fill)
        else {
            return false;
        };
        self.stats.retransmitted_bytes += data.retransmitted;
        if data.range.is_some() {
            self.metrics.record_fragment_sent(data.retransmitted > 0);
        }
        self.next_packet_number += u64::from(number != 0);
        let size = self.write_packet(&message, buf, true) as u64;
        streams.recycle(message);
        self.pacer.on_sent(now, size, self.congestion.pacing_rate());
        let app_limited = !self.has_sendable_data(streams);
        let packet = SentPacket {
            time_sent: now,
            size,
            ack_eliciting: true,
            range: data.range,
            fin: data.fin,
            reset: data.reset,
            latency: data.latency,
        };
        self.on_packet_sent(number, packet, app_limited);
        true
    }
}
