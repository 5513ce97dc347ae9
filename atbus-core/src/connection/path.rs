//! One path: a connection's packets on one datagram link or byte stream.

use std::collections::VecDeque;

use super::pacer::Pacer;
use super::pmtud::MtuDiscovery;
use super::recovery::SentPackets;
use super::{
    BYTE_STREAM_WRITE, ConnectionConfig, ConnectionEvent, ConnectionStats, RttEstimator, StreamSet,
};
use crate::Timestamp;
use crate::congestion::{CongestionController, new_controller};
use crate::frame::StreamDecoder;
use crate::metrics::TransportMetrics;
use crate::proto::CloseReason;
use crate::stream::RangeSet;

/// One path of a connection (see the module docs of [`connection`](super)): everything about
/// packets on one datagram link or byte stream, for the streams of a [`StreamSet`].
#[derive(Debug)]
pub struct Path {
    pub(super) config: ConnectionConfig,
    // Packet numbers we received, and acknowledgement scheduling.
    pub(super) received: RangeSet,
    /// Packet numbers below this are no longer tracked (older acknowledgement ranges pruned).
    pub(super) received_floor: u64,
    pub(super) largest_received: u64,
    pub(super) ack_eliciting_unacked: u32,
    pub(super) ack_deadline: Option<Timestamp>,
    pub(super) ack_now: bool,
    // Sending side.
    pub(super) next_packet_number: u64,
    pub(super) sent: SentPackets,
    pub(super) rtt: RttEstimator,
    pub(super) congestion: Box<dyn CongestionController>,
    pub(super) pto_count: u32,
    pub(super) probe_pending: bool,
    pub(super) pacer: Pacer,
    pub(super) mtu: MtuDiscovery,
    pub(super) last_ack_eliciting_sent: Option<Timestamp>,
    pub(super) last_received: Timestamp,
    /// Events of the connection itself (its close); stream events come from `streams`.
    pub(super) events: VecDeque<ConnectionEvent>,
    /// Decoded frames of the datagram being handled (kept to reuse its allocation).
    pub(super) frame_scratch: Vec<crate::frame::Frame>,
    /// Handshake frames received, kept for the owner while it wants them (a responder that
    /// may have to answer a repeated register): `None` when it does not.
    pub(super) handshake_frames: Option<Vec<crate::proto::FrameMessage>>,
    /// Present on byte-stream connections: they decode frames from a byte stream and need no
    /// packet numbers, loss recovery, congestion control or pacing (the transport does that).
    pub(super) stream_decoder: Option<StreamDecoder>,
    pub(super) closed: Option<CloseReason>,
    pub(super) close_frame_pending: bool,
    pub(super) stats: ConnectionStats,
    /// The owner's transport cannot take more bytes now (a full socket buffer): nothing is
    /// written, and only the idle timeout runs, until it can.
    pub(super) write_blocked: bool,
    /// Traffic, loss, fragments and RTT samples, for exporters (a few integer additions per
    /// frame; nothing allocates until the owner records the path's close).
    pub(super) metrics: TransportMetrics,
    /// Payloads the transmit being written leaves out of its buffer (byte streams; see
    /// [`Splice`](crate::frame::Splice)), offsets in the buffer.
    pub(super) splices: Vec<crate::frame::Splice>,
}

impl Path {
    /// A path over a datagram link that starts at `now`.
    pub fn new(config: ConnectionConfig, now: Timestamp) -> Self {
        let congestion = new_controller(
            config.congestion,
            config.max_datagram as u64,
            config.initial_rtt,
        );
        Self {
            rtt: RttEstimator::new(config.initial_rtt),
            received: RangeSet::new(),
            received_floor: 0,
            largest_received: 0,
            ack_eliciting_unacked: 0,
            ack_deadline: None,
            ack_now: false,
            next_packet_number: 1,
            sent: SentPackets::default(),
            congestion,
            pto_count: 0,
            probe_pending: false,
            pacer: Pacer::new(config.max_datagram as u64, now),
            mtu: MtuDiscovery::new(config.max_datagram, config.max_mtu),
            last_ack_eliciting_sent: None,
            last_received: now,
            events: VecDeque::new(),
            frame_scratch: Vec::new(),
            handshake_frames: None,
            stream_decoder: None,
            closed: None,
            close_frame_pending: false,
            stats: ConnectionStats::default(),
            write_blocked: false,
            metrics: TransportMetrics::new(),
            splices: Vec::new(),
            config,
        }
    }

    /// A path over a reliable byte stream (TCP, Unix socket, in-process pipe): frames go
    /// back to back, data is cut into large fragments (up to 64 KiB), and nothing is
    /// retransmitted by timers; unacknowledged data is still kept until the peer's stream
    /// acknowledgements release it, so that it can be sent another way if the stream dies.
    pub fn byte_stream(config: ConnectionConfig, now: Timestamp) -> Self {
        let decoder = StreamDecoder::new(config.frame_limits);
        let config = ConnectionConfig {
            max_datagram: BYTE_STREAM_WRITE,
            max_mtu: BYTE_STREAM_WRITE,
            congestion: crate::congestion::CongestionKind::Disabled,
            ..config
        };
        let mut path = Self::new(config, now);
        path.stream_decoder = Some(decoder);
        path
    }

    /// Whether this path runs over a byte stream.
    pub fn is_byte_stream(&self) -> bool {
        self.stream_decoder.is_some()
    }

    /// The settings.
    pub fn config(&self) -> &ConnectionConfig {
        &self.config
    }

    /// The datagram size in use (raised by path-MTU discovery).
    pub fn current_mtu(&self) -> usize {
        self.mtu.current()
    }

    /// The RTT estimate.
    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    /// Whether the peer acknowledged any packet sent on this path (it has a session bound to
    /// it, so its handshake here is over).
    pub fn peer_acknowledged(&self) -> bool {
        self.sent.any_acked()
    }

    /// Keeps the handshake frames that arrive from now on (`true`) for
    /// [`take_handshake_frames`](Self::take_handshake_frames), or stops (`false`): the owner's
    /// handshake then needs no second decode of every datagram.
    pub fn keep_handshake_frames(&mut self, keep: bool) {
        self.handshake_frames = keep.then(Vec::new);
    }

    /// The handshake frames kept since the last call.
    pub fn take_handshake_frames(&mut self) -> Vec<crate::proto::FrameMessage> {
        self.handshake_frames
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Path diagnostics (datagrams, probe timeouts, refused packets).
    pub fn stats(&self) -> &ConnectionStats {
        &self.stats
    }

    /// Traffic, loss, fragments, retransmissions and RTT samples, for exporters (see
    /// [`metrics`](crate::metrics) for what each counts on a path). `closed` and `refused` stay
    /// empty here: the path's owner records how the path ended (a node does).
    pub fn metrics(&self) -> &TransportMetrics {
        &self.metrics
    }

    /// Why the connection closed, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.closed
    }

    /// Tells the path whether its transport can take bytes now. A blocked path writes nothing
    /// (a session's other paths take the data) until it is unblocked.
    pub fn set_write_blocked(&mut self, blocked: bool) {
        self.write_blocked = blocked;
    }

    /// Whether the owner said the transport cannot take bytes now.
    pub fn is_write_blocked(&self) -> bool {
        self.write_blocked
    }

    /// Closes the path: a close frame goes out with the next transmit.
    pub fn close(&mut self, reason: CloseReason) {
        if self.closed.is_none() {
            self.close_frame_pending = true;
            self.closed = Some(reason);
            self.events.push_back(ConnectionEvent::Closed { reason });
        }
    }

    /// The next event of the path itself (its close), if any.
    pub fn poll_event(&mut self) -> Option<ConnectionEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self, streams: &StreamSet) -> Option<Timestamp> {
        if self.closed.is_some() {
            return None;
        }
        let idle = self.last_received + self.config.idle_timeout();
        if self.write_blocked {
            // Whatever else is due needs a transmit, which has to wait.
            return Some(idle);
        }
        let keepalive =
            self.last_ack_eliciting_sent.unwrap_or(self.last_received) + self.config.ping_interval;
        [
            self.ack_deadline,
            self.recovery_deadline(),
            Some(idle),
            Some(keepalive),
            self.pacing_deadline(streams),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// A timeout expired: acknowledgements, loss detection, probes, keep-alive, idle.
    pub fn handle_timeout(&mut self, streams: &mut StreamSet, now: Timestamp) {
        if self.closed.is_some() {
            return;
        }
        if now >= self.last_received + self.config.idle_timeout() {
            self.closed = Some(CloseReason::IdleTimeout);
            self.events.push_back(ConnectionEvent::Closed {
                reason: CloseReason::IdleTimeout,
            });
            return;
        }
        if self.ack_deadline.is_some_and(|deadline| now >= deadline) {
            self.ack_now = true;
        }
        self.on_recovery_timeout(streams, now);
        let keepalive =
            self.last_ack_eliciting_sent.unwrap_or(self.last_received) + self.config.ping_interval;
        if now >= keepalive {
            self.probe_pending = true;
            self.compact_idle();
            streams.compact_idle();
        }
    }

    /// The path was idle for a keep-alive interval: it gives back what its busy times left
    /// allocated (lists kept for reuse, an empty map's last node), so that an idle connection
    /// holds little. Once per interval at most, so the hot path keeps its reuse.
    fn compact_idle(&mut self) {
        self.frame_scratch = Vec::new();
        self.sent.compact();
        self.events.shrink_to_fit();
        if let Some(decoder) = &mut self.stream_decoder
            && decoder.buffered_len() == 0
        {
            *decoder = StreamDecoder::new(*decoder.limits());
        }
    }
}
