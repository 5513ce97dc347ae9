//! Loss recovery: packets in flight, acknowledgement processing, loss detection and probe
//! timeouts (after RFC 9002, with a latency mode).
//!
//! - A packet is lost when a packet sent at least 3 numbers later is acknowledged (fast
//!   retransmit on evidence of a gap), or when it is older than 9/8 × RTT and a later packet was
//!   acknowledged (time threshold; the loss-time timer fires for the rest).
//! - The probe timeout (PTO) fires when ack-eliciting packets are in flight and nothing was
//!   acknowledged for `srtt + max(4 × rttvar, 1 ms) + max_ack_delay` (latency mode:
//!   `max(1.25 × srtt, srtt + 2 × rttvar)`), bounded by `min_rto`/`max_rto`, doubling (latency
//!   mode: ×1.5) per consecutive PTO. It sends the oldest unacknowledged data again as a probe
//!   (tail-loss probe), even beyond the congestion window.
//! - Three consecutive PTOs are persistent congestion: the congestion window restarts.

use super::packet_map::PacketMap;
use std::ops::Range;
use std::time::Duration;

use super::{Path, StreamSet};
use crate::Timestamp;
use crate::congestion::SentPacketInfo;

const PACKET_THRESHOLD: u64 = 3;
const GRANULARITY: Duration = Duration::from_millis(1);
const PERSISTENT_CONGESTION_PTOS: u32 = 3;

/// A packet waiting for its acknowledgement.
#[derive(Debug, Clone)]
pub(super) struct SentPacket {
    pub time_sent: Timestamp,
    pub size: u64,
    pub ack_eliciting: bool,
    /// The stream range it carried (a packet carries one stream's data).
    pub range: Option<(i64, Range<u64>)>,
    /// The stream whose end (`FINISH_STREAM`) it carried.
    pub fin: Option<i64>,
    /// The stream and offset of the `RESET_OFFSET` it carried.
    pub reset: Option<(i64, u64)>,
    /// It carried data of a latency-mode stream.
    pub latency: bool,
}

impl SentPacket {
    /// An ack-eliciting packet of `size` bytes that carried no stream data (a ping, a probe).
    pub fn control(time_sent: Timestamp, size: u64) -> Self {
        Self {
            time_sent,
            size,
            ack_eliciting: true,
            range: None,
            fin: None,
            reset: None,
            latency: false,
        }
    }
}

/// Packets in flight, by packet number.
#[derive(Debug, Default)]
pub(super) struct SentPackets {
    packets: PacketMap<SentPacket>,
    pub bytes_in_flight: u64,
    /// Packets in flight that carry latency-mode stream data.
    pub latency_in_flight: usize,
    /// Reused by `on_packets_acked` for the packets one acknowledgement releases.
    acked_scratch: Vec<(u64, SentPacket)>,
    loss_time: Option<Timestamp>,
    largest_acked: Option<u64>,
}

impl SentPackets {
    /// Whether the peer acknowledged any packet.
    pub(super) fn any_acked(&self) -> bool {
        self.largest_acked.is_some()
    }

    /// Gives back the memory lists kept for reuse, and the map's last node when nothing is in
    /// flight.
    pub(super) fn compact(&mut self) {
        self.acked_scratch = Vec::new();
        if self.packets.is_empty() {
            self.packets = PacketMap::default();
        }
    }

    /// Only ack-eliciting packets are tracked (`on_packet_sent`), so any tracked packet is one.
    fn has_ack_eliciting(&self) -> bool {
        !self.packets.is_empty()
    }
}

impl Path {
    pub(super) fn on_packet_sent(&mut self, number: u64, packet: SentPacket, app_limited: bool) {
        if self.is_byte_stream() {
            // The transport is reliable: nothing to track per frame. Keep-alive timing still
            // counts from the last ack-eliciting frame.
            if packet.ack_eliciting {
                self.last_ack_eliciting_sent = Some(packet.time_sent);
            }
            return;
        }
        if packet.ack_eliciting {
            self.last_ack_eliciting_sent = Some(packet.time_sent);
            self.congestion.on_sent(&SentPacketInfo {
                packet_number: number,
                time: packet.time_sent,
                bytes: packet.size,
                bytes_in_flight: self.sent.bytes_in_flight,
                app_limited,
            });
            self.sent.bytes_in_flight += packet.size;
            self.sent.latency_in_flight += usize::from(packet.latency);
            self.sent.packets.insert(number, packet);
        }
    }

    /// Applies the peer's acknowledgement of `ranges` (descending) of our packet numbers.
    pub(super) fn on_packets_acked(
        &mut self,
        streams: &mut StreamSet,
        now: Timestamp,
        ranges: &[Range<u64>],
        ack_delay: Duration,
    ) {
        let Some(largest) = ranges.first().map(|r| r.end - 1) else {
            return;
        };
        // A list kept from call to call: no allocation per acknowledgement.
        let mut newly_acked = std::mem::take(&mut self.sent.acked_scratch);
        newly_acked.clear();
        for range in ranges {
            self.sent
                .packets
                .take_range(range.clone(), &mut newly_acked);
        }
        if newly_acked.is_empty() {
            self.sent.acked_scratch = newly_acked;
            return;
        }
        self.sent.largest_acked = Some(self.sent.largest_acked.map_or(largest, |l| l.max(largest)));
        if let Some((_, packet)) = newly_acked.iter().find(|(n, _)| *n == largest) {
            let delay = if self.config.latency_mode {
                Duration::ZERO
            } else {
                ack_delay.min(self.config.max_ack_delay)
            };
            let sample = self.rtt.update(now - packet.time_sent, delay);
            self.metrics.record_rtt(sample);
        }
        for (number, packet) in &newly_acked {
            self.mtu.on_probe_acked(*number);
            // On a direct connection the peer endpoint itself acknowledged the packet: the end
            // of stream it carried has arrived (through relays, stream acknowledgements say so).
            streams.on_packet_acked(packet.fin, packet.reset);
        }
        let (smoothed, min) = (self.rtt.smoothed(), self.rtt.min());
        for (number, packet) in &newly_acked {
            self.sent.bytes_in_flight -= packet.size;
            self.sent.latency_in_flight -= usize::from(packet.latency);
            self.congestion
                .on_ack(now, *number, packet.time_sent, packet.size, smoothed, min);
        }
        newly_acked.clear();
        self.sent.acked_scratch = newly_acked;
        self.pto_count = 0;
        self.detect_lost(streams, now);
    }

    fn loss_delay(&self) -> Duration {
        (self.rtt.smoothed().max(self.rtt.latest()) * 9 / 8).max(GRANULARITY)
    }

    fn detect_lost(&mut self, streams: &mut StreamSet, now: Timestamp) {
        self.sent.loss_time = None;
        let Some(largest_acked) = self.sent.largest_acked else {
            return;
        };
        let delay = self.loss_delay();
        let mut lost = Vec::new();
        for (number, packet) in self.sent.packets.range(0..largest_acked) {
            let deadline = packet.time_sent + delay;
            if largest_acked - number >= PACKET_THRESHOLD || deadline <= now {
                lost.push(number);
            } else {
                self.sent.loss_time =
                    Some(self.sent.loss_time.map_or(deadline, |t| t.min(deadline)));
            }
        }
        let mut latest_lost = None;
        for number in lost {
            let packet = self.sent.packets.remove(number).expect("listed above");
            self.sent.bytes_in_flight -= packet.size;
            self.sent.latency_in_flight -= usize::from(packet.latency);
            self.congestion.on_lost(number, packet.size);
            if self.mtu.is_probe(number) {
                // Too large for the path, not a sign of congestion.
                self.mtu.on_probe_lost(number);
                continue;
            }
            self.metrics.record_packet_lost();
            latest_lost =
                Some(latest_lost.map_or(packet.time_sent, |t: Timestamp| t.max(packet.time_sent)));
            streams.on_packet_lost(packet.range, packet.fin, packet.reset);
        }
        if let Some(sent_at) = latest_lost {
            self.congestion.on_congestion_event(now, sent_at);
        }
    }

    /// The path is gone (its transport died, or it closed): what it had in flight goes back to
    /// the streams to be sent on another path. A byte stream does not track what it carried,
    /// so everything unacknowledged goes back.
    pub fn abandon(&mut self, streams: &mut StreamSet) {
        if self.is_byte_stream() {
            streams.on_all_lost();
            return;
        }
        for (_, packet) in self.sent.packets.drain() {
            streams.on_packet_lost(packet.range, packet.fin, packet.reset);
        }
        self.sent.bytes_in_flight = 0;
        self.sent.latency_in_flight = 0;
        self.sent.loss_time = None;
    }

    /// Probe timeouts follow latency mode when the connection is in it, or when data of a
    /// latency-mode stream is in flight.
    fn latency_probing(&self) -> bool {
        self.config.latency_mode || self.sent.latency_in_flight > 0
    }

    fn pto_duration(&self) -> Duration {
        let srtt = self.rtt.smoothed();
        let latency = self.latency_probing();
        let base = if latency {
            (srtt * 5 / 4).max(srtt + 2 * self.rtt.variation())
        } else {
            srtt + (4 * self.rtt.variation()).max(GRANULARITY) + self.config.max_ack_delay
        };
        let mut duration = base.clamp(self.config.min_rto, self.config.max_rto);
        for _ in 0..self.pto_count.min(16) {
            duration = if latency {
                duration * 3 / 2
            } else {
                duration * 2
            };
            if duration >= self.config.max_rto {
                return self.config.max_rto;
            }
        }
        duration
    }

    /// The loss-time deadline, or else the probe timeout while ack-eliciting data is in flight.
    pub(super) fn recovery_deadline(&self) -> Option<Timestamp> {
        if self.sent.loss_time.is_some() {
            return self.sent.loss_time;
        }
        if !self.sent.has_ack_eliciting() {
            return None;
        }
        self.last_ack_eliciting_sent
            .map(|sent| sent + self.pto_duration())
    }

    pub(super) fn on_recovery_timeout(&mut self, streams: &mut StreamSet, now: Timestamp) {
        if self.sent.loss_time.is_some_and(|t| t <= now) {
            self.detect_lost(streams, now);
            return;
        }
        if self
            .recovery_deadline()
            .is_none_or(|deadline| deadline > now)
        {
            return;
        }
        self.pto_count += 1;
        self.stats.probe_timeouts += 1;
        if self.pto_count == PERSISTENT_CONGESTION_PTOS {
            self.congestion.on_persistent_congestion();
            // Maybe the path stopped carrying our datagram size (a black hole).
            self.mtu.on_black_hole();
        }
        // Tail-loss probe: the oldest unacknowledged data goes out again first.
        if let Some((range, fin, reset)) = self
            .sent
            .packets
            .values()
            .find(|p| p.range.is_some() || p.fin.is_some() || p.reset.is_some())
            .map(|p| (p.range.clone(), p.fin, p.reset))
        {
            streams.on_packet_lost(range, fin, reset);
        }
        self.probe_pending = true;
        // The probe counts from now.
        self.last_ack_eliciting_sent = Some(now);
    }
}
