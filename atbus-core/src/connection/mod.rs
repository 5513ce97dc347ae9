//! A reliable connection over one datagram link, carrying many ordered message streams.
//!
//! # Layers
//!
//! Every datagram holds one or more frames; every frame carries a hop-level *packet number*
//! (strictly increasing, never reused). The peer acknowledges packet numbers, which drives RTT
//! estimation, loss detection and congestion control without ambiguity, even for
//! retransmissions. Stream data is acknowledged separately, by offset and ranges per stream
//! (end-to-end reliability, the same through relays); a packet declared lost puts its stream
//! ranges back at the front of their send queue at once.
//!
//! The code follows the same cut: a [`Connection`] is one path — packet numbers, RTT, loss
//! recovery, congestion control, pacing, path MTU, liveness — carrying a [`StreamSet`], which
//! holds everything end-to-end about the streams (send buffers, reassembly, flow control, the
//! receive budget, stream events) behind a narrow interface. A session can drive one stream set
//! over several paths.
//!
//! # State machine
//!
//! ```text
//!            handle_datagram / handle_timeout / send
//!   Open ───────────────────────────────────────────▶ Open
//!     │  idle for ping_interval × (faults + 1), a peer's close frame,
//!     │  or a protocol violation
//!     ▼
//!   Closed(reason)   — terminal: nothing is sent or accepted any more
//! ```
//!
//! Inside `Open`, per event:
//!
//! - **datagram in**: decode (a bad datagram is dropped and counted); for each frame, record its
//!   packet number (ack-eliciting frames arm an acknowledgement: at once in latency mode, on a
//!   gap, or for every second packet, otherwise after `max_ack_delay`); stream data goes to the
//!   stream's assembler; acknowledgements release stream data, update RTT and the congestion
//!   window, and declare earlier packets lost by packet threshold (3) or time threshold (9/8 ×
//!   RTT).
//! - **timeout**: the earliest of the ack deadline, the loss-time deadline, the probe timeout
//!   (PTO) and the keep-alive. A PTO sends a probe (the oldest unacknowledged data again, or a
//!   ping) and backs off.
//! - **poll_transmit**: an acknowledgement if one is due (each stream's grant is raised then,
//!   from the receive budget), then stream data (lost ranges first, then new data, round-robin
//!   over streams, within the congestion window and each stream's flow-control window; a
//!   stream's end or reset rides on its data, or alone when it has none), then a probe or
//!   keep-alive ping if due.
//! - **send / finish / reset_stream / set_stream_options**: application commands on one stream
//!   (opened on first use, up to `max_streams`). A reset abandons the stream's unacknowledged
//!   messages and returns them; the peer skips them.
//!
//! # Invariants
//!
//! - Memory: per stream, unacknowledged send data ≤ `stream_send_buffer`; streams ≤
//!   `max_streams`; acknowledgement ranges ≤ [`ack::MAX_ACK_RANGES`].
//! - Receive memory (charged: payload, the buffers zero-copy pieces pin, bookkeeping; see
//!   `budget`) stays below `receive_memory_limit` plus one datagram's charge, except for data
//!   that fills a stream from the front, which is always taken (a hole must stay fillable) and
//!   is bounded by the stream's grant. Out-of-order data beyond the limit is refused
//!   *unacknowledged*: its packet number is not recorded, so the sender declares it lost and
//!   sends it again — refusing never loses data. Grants are given from what is spare, so a
//!   conforming sender is slowed rather than refused in the common case.
//! - Nothing from a frame that failed decoding is used; an acknowledgement of data never sent
//!   closes the connection with `PROTOCOL_VIOLATION`.
//! - Bytes in flight never exceed the congestion window, except one probe per PTO.

pub mod ack;
mod budget;
mod config;
mod pacer;
pub(crate) mod packet_map;
mod path;
mod pmtud;
mod receive;
mod recovery;
mod rtt;
pub mod scheduler;
mod session;
mod streams;
mod transmit;

use bytes::{Bytes, BytesMut};

use crate::Timestamp;
use crate::metrics::TransportMetrics;
use crate::proto::CloseReason;
use crate::stream::{Abandoned, MessageMeta, WriteError};

pub use config::{ConnectionConfig, REDUNDANT_MESSAGE_MAX, StreamOptions};
pub use path::Path;
pub use rtt::RttEstimator;
pub use scheduler::SchedulerKind;
pub use session::{AddPathError, PathId, Session, SessionEvent};
pub use streams::StreamSet;

/// Most bytes one `poll_transmit` writes on a byte-stream connection; also the fragment size
/// there. 64 KiB and room for the frame's fields, so that a 64 KiB message travels whole in one
/// fragment (at exactly 64 KiB it took two, joined by a copy on receipt).
const BYTE_STREAM_WRITE: usize = 64 * 1024 + 1024;

/// Flow-control window every stream grants before its first acknowledgement says otherwise:
/// a sender never sends beyond it until told, and a receiver always accepts at least it, so a
/// conforming sender never has data dropped for being beyond the window.
pub const INITIAL_STREAM_WINDOW: u64 = 64 * 1024;

/// Largest packet number accepted (as in QUIC, 2^62 − 1): far beyond any connection's life,
/// and no arithmetic on it can overflow.
const MAX_PACKET_NUMBER: u64 = (1 << 62) - 1;

/// Something the connection tells its owner.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectionEvent {
    /// A whole message arrived on `stream`.
    Message {
        /// The stream.
        stream: i64,
        /// The payload.
        data: Bytes,
        /// Its metadata.
        meta: MessageMeta,
    },
    /// The peer finished `stream` and every message on it was delivered.
    StreamFinished {
        /// The stream.
        stream: i64,
    },
    /// The connection closed; nothing more will happen on it.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

/// Why a message could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The stream refused it.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
    /// Too many streams are open.
    #[error("stream limit of {0} reached")]
    StreamLimit(usize),
    /// The message's metadata (type, options, labels) does not fit one datagram with its first
    /// byte.
    #[error("message metadata of {len} bytes does not fit a datagram (at most {max})")]
    MetadataTooLarge {
        /// Encoded size of the metadata.
        len: usize,
        /// What fits.
        max: usize,
    },
}

/// Diagnostics of one path that exporters' [`TransportMetrics`] do not carry: datagrams as
/// such, invalid input, probe timeouts, retransmitted bytes, refused packets. Traffic, loss and
/// RTT are in [`Path::metrics`] (one counter per thing: bytes and frames sent and received,
/// frames lost, fragments, retransmissions are counted there only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Datagrams sent (on a byte stream: writes, one per `poll_transmit` that wrote bytes).
    pub datagrams_sent: u64,
    /// Datagrams received that decoded.
    pub datagrams_received: u64,
    /// Datagrams dropped because they did not decode.
    pub datagrams_invalid: u64,
    /// Probe timeouts that fired.
    pub probe_timeouts: u64,
    /// Bytes of stream data sent again.
    pub retransmitted_bytes: u64,
    /// Data packets refused (left unacknowledged, for the sender to resend) because the
    /// receive memory was at its limit or the data reached beyond the stream's grant.
    pub packets_refused: u64,
    /// Datagrams sent as copies of packets another path of the session carried (the redundant
    /// scheduler, for latency-mode streams).
    pub copies_sent: u64,
    /// Bytes of those datagrams (also counted in `bytes_sent`).
    pub copy_bytes: u64,
}

/// A reliable connection (sans-IO): one [`Path`] carrying one [`StreamSet`].
#[derive(Debug)]
pub struct Connection {
    path: Path,
    streams: StreamSet,
}

impl Connection {
    /// A connection over a datagram link that starts at `now`.
    pub fn new(config: ConnectionConfig, now: Timestamp) -> Self {
        Self {
            streams: StreamSet::new(config.clone()),
            path: Path::new(config, now),
        }
    }

    /// A connection over a reliable byte stream (TCP, Unix socket, in-process pipe): frames go
    /// back to back, data is cut into large fragments (up to 64 KiB), and nothing is
    /// retransmitted by timers; unacknowledged data is still kept until the peer's stream
    /// acknowledgements release it, so that it can be sent another way if the stream dies.
    pub fn byte_stream(config: ConnectionConfig, now: Timestamp) -> Self {
        let path = Path::byte_stream(config, now);
        Self {
            streams: StreamSet::new(path.config.clone()),
            path,
        }
    }

    /// Whether this connection runs over a byte stream.
    pub fn is_byte_stream(&self) -> bool {
        self.path.is_byte_stream()
    }

    /// The settings.
    pub fn config(&self) -> &ConnectionConfig {
        self.path.config()
    }

    /// The datagram size in use (raised by path-MTU discovery).
    pub fn current_mtu(&self) -> usize {
        self.path.current_mtu()
    }

    /// The RTT estimate.
    pub fn rtt(&self) -> &RttEstimator {
        self.path.rtt()
    }

    /// Path diagnostics (datagrams, probe timeouts, refused packets).
    pub fn stats(&self) -> &ConnectionStats {
        self.path.stats()
    }

    /// Traffic, loss, fragments, retransmissions and RTT samples, for exporters.
    pub fn metrics(&self) -> &TransportMetrics {
        self.path.metrics()
    }

    /// Why the connection closed, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.path.close_reason()
    }

    /// Queues a message on `stream` (opened on first use).
    pub fn send(
        &mut self,
        _now: Timestamp,
        stream: i64,
        data: Bytes,
        meta: Option<MessageMeta>,
    ) -> Result<(), SendError> {
        if self.path.close_reason().is_some() {
            return Err(SendError::Closed);
        }
        let max_datagram = self.path.config().max_datagram;
        self.streams.send(stream, data, meta, max_datagram)
    }

    /// Ends `stream` after the messages already queued on it; the peer gets
    /// [`ConnectionEvent::StreamFinished`] once it delivered them all.
    pub fn finish(&mut self, stream: i64) -> Result<(), SendError> {
        if self.path.close_reason().is_some() {
            return Err(SendError::Closed);
        }
        self.streams.finish(stream)
    }

    /// Memory held for reassembly over all streams, as charged (payload, the receive buffers
    /// it pins, bookkeeping): bounded by
    /// [`receive_memory_limit`](ConnectionConfig::receive_memory_limit) plus what the streams'
    /// grants allow to fill holes.
    pub fn receive_memory(&self) -> u64 {
        self.streams.receive_memory()
    }

    /// The most [`receive_memory`](Self::receive_memory) ever reached.
    pub fn peak_receive_memory(&self) -> u64 {
        self.streams.peak_receive_memory()
    }

    /// Sets how `stream` (opened if new) sends its data: latency mode and redundancy. Applies
    /// to packets sent from now on.
    pub fn set_stream_options(
        &mut self,
        stream: i64,
        options: StreamOptions,
    ) -> Result<(), SendError> {
        if self.path.close_reason().is_some() {
            return Err(SendError::Closed);
        }
        self.streams.set_stream_options(stream, options)
    }

    /// Abandons every message of `stream` not yet acknowledged and returns them (see
    /// [`Abandoned`]: which ones the peer cannot have delivered, and which it may have). The
    /// peer is told to skip them (`RESET_OFFSET`); messages sent afterwards continue the
    /// stream. For data that is late (a game state superseded by a newer one), or that a
    /// session delivered another way.
    pub fn reset_stream(&mut self, stream: i64) -> Result<Abandoned, SendError> {
        if self.path.close_reason().is_some() {
            return Err(SendError::Closed);
        }
        self.streams.reset_stream(stream)
    }

    /// Unacknowledged bytes queued on all streams.
    pub fn unacked_bytes(&self) -> u64 {
        self.streams.unacked_bytes()
    }

    /// The streams it carries.
    pub fn streams(&self) -> &StreamSet {
        &self.streams
    }

    /// The application is done with delivered messages, `bytes` in all, `count` of them: with
    /// [`hold_delivered`](ConnectionConfig::hold_delivered) their charge leaves the receive
    /// memory, and streams waiting for it are granted more at once. Without, it does nothing.
    pub fn release(&mut self, bytes: u64, count: u64) {
        if self.streams.release(bytes, count) {
            self.path.ack_now = true;
        }
    }

    /// Closes the connection: a close frame goes out with the next transmit.
    pub fn close(&mut self, reason: CloseReason) {
        self.path.close(reason);
    }

    /// The next event, if any: stream events (messages, stream ends) first, then the
    /// connection's close, which comes after everything delivered before it.
    pub fn poll_event(&mut self) -> Option<ConnectionEvent> {
        self.streams.poll_event().or_else(|| self.path.poll_event())
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.path.poll_timeout(&self.streams)
    }

    /// A timeout expired: acknowledgements, loss detection, probes, keep-alive, idle.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.path.handle_timeout(&mut self.streams, now);
    }

    /// A datagram arrived. A datagram that does not decode is dropped and counted; a frame that
    /// breaks a protocol rule closes the connection with a reason.
    pub fn handle_datagram(&mut self, now: Timestamp, datagram: Bytes) {
        self.path.handle_datagram(&mut self.streams, now, datagram);
    }

    /// Bytes arrived on a byte-stream connection, in any split. A byte stream that breaks the
    /// frame format cannot be resynchronised: the connection closes with the decoder's reason.
    pub fn handle_bytes(&mut self, now: Timestamp, data: Bytes) {
        self.path.handle_bytes(&mut self.streams, now, data);
    }

    /// Appends the next datagram (or the next bytes of a byte stream) to `buf` and returns its
    /// size, or `None` when there is nothing to send now.
    pub fn poll_transmit(&mut self, now: Timestamp, buf: &mut BytesMut) -> Option<usize> {
        self.path.poll_transmit(&mut self.streams, now, buf)
    }
}

#[cfg(test)]
mod memory_tests;
#[cfg(test)]
mod metrics_tests;
#[cfg(test)]
mod reset_tests;
#[cfg(test)]
mod scheduler_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod tests;
