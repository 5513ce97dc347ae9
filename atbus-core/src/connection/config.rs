//! Settings of a connection.

use std::time::Duration;

use super::SchedulerKind;
use crate::congestion::CongestionKind;
use crate::frame::{DEFAULT_MAX_MESSAGE_SIZE, FrameLimits};

/// Largest message that latency-mode redundancy within one path (`redundant_messages`) sends
/// twice; copies on a second path (the redundant scheduler) have no such limit.
pub const REDUNDANT_MESSAGE_MAX: u64 = 256;

/// Per-stream settings ([`Connection::set_stream_options`](super::Connection::set_stream_options));
/// streams start with the connection's ([`ConnectionConfig::stream_options`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamOptions {
    /// Latency mode for this stream's data: its packets ask the peer to acknowledge at once
    /// (`ACK_IMMEDIATELY`), and while any of them is in flight, probe timeouts follow latency
    /// mode (1.25 × smoothed RTT, backing off by 1.5×).
    pub latency: bool,
    /// Earlier small messages of this stream each data packet carries again (see
    /// [`ConnectionConfig::redundant_messages`]).
    pub redundant_messages: u32,
}

impl StreamOptions {
    /// Options of a latency-mode stream with redundancy of one message.
    pub fn latency() -> Self {
        Self {
            latency: true,
            redundant_messages: 1,
        }
    }

    /// The flags of a packet of this stream.
    pub(super) fn packet_flags(&self, fin: bool, reset: bool) -> u32 {
        use crate::proto::PacketFlag;
        let mut flags = 0;
        if fin {
            flags |= PacketFlag::FinishStream as u32;
        }
        if reset {
            flags |= PacketFlag::ResetOffset as u32;
        }
        if self.latency {
            flags |= PacketFlag::AckImmediately as u32;
        }
        flags
    }
}

/// Settings of one datagram connection and of the streams it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionConfig {
    /// Datagram size (UDP payload) to start with and to fall back to. 1,232 is safe on every
    /// IPv6 path (and IPv4 with common tunnels).
    pub max_datagram: usize,
    /// Largest datagram path-MTU discovery may reach (1,452: a 1,500-byte Ethernet MTU under
    /// IPv6 and UDP headers). Equal to `max_datagram` turns discovery off.
    pub max_mtu: usize,
    /// Largest message accepted for sending or receiving.
    pub max_message_size: usize,
    /// Unacknowledged bytes a stream buffers for sending.
    pub stream_send_buffer: u64,
    /// Bytes a stream accepts beyond what it delivered (its receive window).
    pub stream_receive_window: u64,
    /// Memory the reassembly of all streams may hold (payload, the receive buffers it pins,
    /// bookkeeping). Streams are granted flow-control credit only from what is spare; beyond
    /// the limit, data that does not fill a stream from the front is refused unacknowledged
    /// (the sender resends it later). Streams start with
    /// [`INITIAL_STREAM_WINDOW`](super::INITIAL_STREAM_WINDOW) each, granted before any
    /// budget applies.
    pub receive_memory_limit: u64,
    /// Delivered messages stay charged to the receive memory until the application releases
    /// them ([`Session::release`](super::Session::release),
    /// [`Node::release`](crate::node::Node::release)): off (the default), delivery frees
    /// them and an application that stops consuming is the owner's problem; on, it stops the
    /// grants and so slows the peer (flow control reaches the application, as quinn's does
    /// when a stream is read).
    pub hold_delivered: bool,
    /// Most streams the peer may open.
    pub max_streams: usize,
    /// Longest the receiver holds an acknowledgement back (unless latency mode).
    pub max_ack_delay: Duration,
    /// Assumed RTT before the first sample.
    pub initial_rtt: Duration,
    /// Bounds of the retransmission timeout.
    pub min_rto: Duration,
    /// Upper bound of the retransmission timeout.
    pub max_rto: Duration,
    /// Latency mode (game traffic): acknowledge every packet at once and probe for tail loss
    /// after 1.25 × smoothed RTT, backing off by 1.5× instead of 2×.
    pub latency_mode: bool,
    /// Redundancy for small messages (latency mode): each data packet also carries this many
    /// earlier messages of its stream again, when they are still unacknowledged, at most
    /// [`REDUNDANT_MESSAGE_MAX`] bytes each, and fit. A lost packet is then usually repaired by
    /// the next one instead of by loss detection. 0 turns it off.
    pub redundant_messages: u32,
    /// The congestion controller.
    pub congestion: CongestionKind,
    /// How a [`Session`](super::Session) spreads packets over its paths: lowest RTT with room,
    /// plus (the default, `Redundant`) a copy of each latency-mode packet on a second path. One
    /// path (a [`Connection`](super::Connection)) ignores it.
    pub scheduler: SchedulerKind,
    /// Keep-alive: a ping after this long without sending anything ack-eliciting.
    pub ping_interval: Duration,
    /// Missed keep-alive intervals tolerated before the peer is declared gone.
    pub ping_faults: u32,
    /// Frame limits of the codec.
    pub frame_limits: FrameLimits,
    /// Byte streams: fragment payloads of at least this many bytes are handed to
    /// [`Node::poll_transmit_spliced`](crate::node::Node::poll_transmit_spliced)'s caller as
    /// [`Splice`](crate::frame::Splice)s rather than copied into the transmit buffer (the other
    /// transmit calls join them in). `usize::MAX` copies everything.
    pub splice_min: usize,
}

impl Default for ConnectionConfig {
    /// libatbus defaults where they apply (2 MiB messages, ping every 8 s, 2 faults).
    fn default() -> Self {
        Self {
            max_datagram: 1_232,
            max_mtu: 1_452,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE as usize,
            stream_send_buffer: 16 * 1024 * 1024,
            stream_receive_window: 16 * 1024 * 1024,
            receive_memory_limit: 32 * 1024 * 1024,
            hold_delivered: false,
            max_streams: 1_024,
            max_ack_delay: Duration::from_millis(10),
            initial_rtt: Duration::from_millis(100),
            min_rto: Duration::from_millis(10),
            max_rto: Duration::from_secs(10),
            latency_mode: false,
            redundant_messages: 0,
            congestion: CongestionKind::Bbr,
            scheduler: SchedulerKind::Redundant,
            ping_interval: Duration::from_secs(8),
            ping_faults: 2,
            frame_limits: FrameLimits::default(),
            splice_min: crate::frame::DEFAULT_SPLICE_MIN,
        }
    }
}

impl ConnectionConfig {
    /// The settings for latency-critical game traffic.
    pub fn latency() -> Self {
        Self {
            latency_mode: true,
            redundant_messages: 1,
            ..Self::default()
        }
    }

    /// The options every stream starts with: latency mode and redundancy as configured for
    /// the connection.
    pub fn stream_options(&self) -> StreamOptions {
        StreamOptions {
            latency: self.latency_mode,
            redundant_messages: self.redundant_messages,
        }
    }

    /// The silence after which the peer is declared gone.
    pub fn idle_timeout(&self) -> Duration {
        self.ping_interval * (self.ping_faults + 1)
    }
}
