//! A session: the streams between two nodes, carried over several paths at once.
//!
//! A [`Session`] owns one [`StreamSet`] and any number of [`Path`]s (a UDP path and a TCP one,
//! two UDP paths, ...), each named by a [`PathId`] its owner chooses. Stream offsets are the
//! same on every path, so a byte may travel any path, and the receiver takes each byte once
//! whatever path brought it: a range lost on one path is sent again on another, and nothing is
//! delivered twice.
//!
//! # State machine
//!
//! ```text
//!   paths:  added ──handle_* / poll_*──▶ open ──closes (idle, peer, violation)──▶ removed
//!                                         │                                      ▲
//!                                         └────────── remove_path ───────────────┘
//! ```
//!
//! The session itself has no state beyond its paths and streams: it lives while its owner
//! keeps it, with no path at all in between (messages then wait in the streams' send buffers).
//!
//! - **Sending — the scheduler** ([`scheduler`](super::scheduler), chosen by
//!   [`SchedulerKind`]): by default lowest RTT with room — `poll_transmit` offers each open
//!   path the chance to write a datagram, in order of smoothed RTT (ties by id); a path writes
//!   its acknowledgements and probes whenever due, and stream data only while its congestion
//!   window and pacer allow, so data fills the fastest path first and overflows to the next.
//!   The redundant kind also copies each packet of a latency-mode stream onto a second path
//!   (copies go out first, on the next call).
//! - **Receiving**: datagrams (or byte-stream bytes) arrive per path; stream data and stream
//!   acknowledgements go to the shared streams, packet-number acknowledgements to their path.
//! - **A path dies** (`remove_path`, or it closes by itself: idle timeout, the peer's close, a
//!   protocol violation): what it had in flight goes back to the streams at once
//!   ([`Path::abandon`]) and is sent on the other paths; the owner is told
//!   ([`SessionEvent::PathClosed`]).
//!
//! # Invariants
//!
//! - Every message is delivered once, in order per stream, whatever paths carried it and
//!   whichever died (the stream layer's offsets, not the paths, decide what is new).
//! - A closed path sends nothing more (its close frame aside) and leaves the session once its
//!   close is reported and its close frame went out.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::{Bytes, BytesMut};

use super::scheduler::PathScheduler;
use super::{
    ConnectionConfig, ConnectionEvent, Path, SchedulerKind, SendError, StreamOptions, StreamSet,
};
use crate::Timestamp;
use crate::frame::{Splice, joined};
use crate::proto::CloseReason;
use crate::stream::{Abandoned, MessageMeta};

/// A path of a session, named by the session's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathId(pub u64);

/// Something the session tells its owner.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
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
    /// A path closed by itself and left the session; what it had in flight goes on the others.
    PathClosed {
        /// The path.
        path: PathId,
        /// Why.
        reason: CloseReason,
    },
}

/// Why a path could not join a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddPathError {
    /// The session already has a path with this id.
    #[error("path {0:?} already belongs to the session")]
    Duplicate(PathId),
}

/// The streams between two nodes over several paths (see the module docs).
#[derive(Debug)]
pub struct Session {
    streams: StreamSet,
    /// Boxed: a path is large, and a map node holds room for eleven of them, so inline paths
    /// would cost an idle one-path session 8 KB (measured for B6).
    paths: BTreeMap<PathId, Box<Path>>,
    /// Paths that closed by themselves: reported, their in-flight data handed back; they stay
    /// until their close frame (if any) went out.
    closed: BTreeSet<PathId>,
    events: VecDeque<SessionEvent>,
    scheduler: PathScheduler,
}

impl Session {
    /// A session with no path yet; its streams follow `config`.
    pub fn new(config: ConnectionConfig) -> Self {
        Self {
            scheduler: PathScheduler::new(config.scheduler),
            streams: StreamSet::new(config),
            paths: BTreeMap::new(),
            closed: BTreeSet::new(),
            events: VecDeque::new(),
        }
    }

    /// How packets are spread over the paths (initially
    /// [`ConnectionConfig::scheduler`]).
    pub fn scheduler(&self) -> SchedulerKind {
        self.scheduler.kind()
    }

    /// Changes how packets are spread over the paths, from the next packet on; copies still
    /// waiting are dropped when the new kind makes none.
    pub fn set_scheduler(&mut self, kind: SchedulerKind) {
        self.scheduler.set_kind(kind);
        self.update_scheduler();
    }

    /// Copies of latency-mode packets waiting for a second path with room.
    pub fn pending_copies(&self) -> usize {
        self.scheduler.pending_copies()
    }

    /// The set of open paths changed (or the scheduler's kind): redundancy starts or stops.
    fn update_scheduler(&mut self) {
        let open = self.paths.len() - self.closed.len();
        self.scheduler.update(open, &mut self.streams);
    }

    /// Adds a path (a [`Path::new`] for a datagram link, a [`Path::byte_stream`] for a byte
    /// stream). Data waiting in the streams may leave on it at once.
    pub fn add_path(&mut self, id: PathId, path: Path) -> Result<(), AddPathError> {
        if self.paths.contains_key(&id) {
            return Err(AddPathError::Duplicate(id));
        }
        self.paths.insert(id, Box::new(path));
        self.update_scheduler();
        Ok(())
    }

    /// Removes a path whose transport died: what it had in flight is sent on the others.
    /// Returns the path, or `None` if it was not in the session.
    pub fn remove_path(&mut self, id: PathId) -> Option<Path> {
        let mut path = self.paths.remove(&id)?;
        if !self.closed.remove(&id) {
            path.abandon(&mut self.streams);
        }
        self.update_scheduler();
        Some(*path)
    }

    /// The open paths, by id.
    pub fn paths(&self) -> impl Iterator<Item = (PathId, &Path)> {
        self.paths
            .iter()
            .filter(|(id, _)| !self.closed.contains(id))
            .map(|(id, path)| (*id, &**path))
    }

    /// The open path `id`, if the session has it.
    pub fn path(&self, id: PathId) -> Option<&Path> {
        self.paths
            .get(&id)
            .filter(|_| !self.closed.contains(&id))
            .map(|path| &**path)
    }

    /// Keeps (or stops keeping) the handshake frames that arrive on `path` (see
    /// [`Path::keep_handshake_frames`]).
    pub fn keep_handshake_frames(&mut self, path: PathId, keep: bool) {
        if let Some(p) = self.paths.get_mut(&path) {
            p.keep_handshake_frames(keep);
        }
    }

    /// The handshake frames `path` kept since the last call.
    pub fn take_handshake_frames(&mut self, path: PathId) -> Vec<crate::proto::FrameMessage> {
        self.paths
            .get_mut(&path)
            .map(|p| p.take_handshake_frames())
            .unwrap_or_default()
    }

    /// The streams.
    pub fn streams(&self) -> &StreamSet {
        &self.streams
    }

    /// Queues a message on `stream` (opened on first use). Its metadata must fit the smallest
    /// datagram of any path ([`ConnectionConfig::max_datagram`]).
    pub fn send(
        &mut self,
        stream: i64,
        data: Bytes,
        meta: Option<MessageMeta>,
    ) -> Result<(), SendError> {
        let max_datagram = self.streams.config().max_datagram;
        self.streams.send(stream, data, meta, max_datagram)
    }

    /// Queues a message the owner had already accepted (it waited for this session): taken
    /// even when the stream's send buffer is full, which it may then exceed, so that it is
    /// neither refused nor overtaken by later messages.
    pub fn send_committed(&mut self, stream: i64, data: Bytes) -> Result<(), SendError> {
        self.streams.send_committed(stream, data)
    }

    /// Ends `stream` after the messages already queued on it.
    pub fn finish(&mut self, stream: i64) -> Result<(), SendError> {
        self.streams.finish(stream)
    }

    /// Abandons the unacknowledged messages of `stream` and returns them; the peer skips them.
    pub fn reset_stream(&mut self, stream: i64) -> Result<Abandoned, SendError> {
        self.streams.reset_stream(stream)
    }

    /// Sets latency mode and redundancy of `stream`.
    pub fn set_stream_options(
        &mut self,
        stream: i64,
        options: StreamOptions,
    ) -> Result<(), SendError> {
        self.streams.set_stream_options(stream, options)
    }

    /// The application is done with delivered messages, `bytes` in all, `count` of them: with
    /// [`hold_delivered`](ConnectionConfig::hold_delivered) their charge leaves the receive
    /// memory, and streams waiting for it are granted more at once (on the first open path).
    /// Without, it does nothing.
    pub fn release(&mut self, bytes: u64, count: u64) {
        if self.streams.release(bytes, count)
            && let Some((_, path)) = self
                .paths
                .iter_mut()
                .find(|(id, _)| !self.closed.contains(id))
        {
            path.ack_now = true;
        }
    }

    /// A datagram arrived on `path`; ignored when the path is not in the session.
    pub fn handle_datagram(&mut self, path: PathId, now: Timestamp, datagram: Bytes) {
        if let Some(p) = self.paths.get_mut(&path) {
            p.handle_datagram(&mut self.streams, now, datagram);
        }
        self.collect();
    }

    /// Bytes arrived on byte-stream `path`; ignored when the path is not in the session.
    pub fn handle_bytes(&mut self, path: PathId, now: Timestamp, data: Bytes) {
        if let Some(p) = self.paths.get_mut(&path) {
            p.handle_bytes(&mut self.streams, now, data);
        }
        self.collect();
    }

    /// Timers that are due run on every path.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        for path in self.paths.values_mut() {
            if path.poll_timeout(&self.streams).is_some_and(|t| t <= now) {
                path.handle_timeout(&mut self.streams, now);
            }
        }
        self.collect();
    }

    /// The next datagram (or byte-stream bytes) to send, appended to `buf`, and the path it
    /// goes on; `None` when nothing is due now. Waiting copies of latency-mode packets go
    /// first (redundant scheduler); then paths are offered the chance in order of smoothed
    /// RTT, so stream data takes the fastest path with room (see the module docs).
    pub fn poll_transmit(&mut self, now: Timestamp, buf: &mut BytesMut) -> Option<(PathId, usize)> {
        joined(buf, |buf, splices| {
            self.poll_transmit_spliced(now, buf, splices)
        })
    }

    /// As [`poll_transmit`](Self::poll_transmit), leaving the large payloads of byte-stream
    /// paths out of `buf`: they are appended to `splices` (offsets in `buf`; see
    /// [`Splice`]), and the size returned counts them.
    pub fn poll_transmit_spliced(
        &mut self,
        now: Timestamp,
        buf: &mut BytesMut,
        splices: &mut Vec<Splice>,
    ) -> Option<(PathId, usize)> {
        if self.paths.len() == 1 {
            // The usual case: no order to establish, no copies (one path makes none).
            let id = *self.paths.keys().next().expect("one path");
            if let Some(len) = self.offer(id, now, buf, splices) {
                return Some((id, len));
            }
        } else {
            if self.scheduler.pending_copies() > 0
                && let Some(sent) =
                    self.scheduler
                        .poll_copy(&mut self.paths, &self.closed, &self.streams, now, buf)
            {
                return Some(sent);
            }
            let order = self.scheduler.order(&self.paths);
            let sent = order.iter().find_map(|&(_, id)| {
                let len = self.offer(id, now, buf, splices)?;
                Some((id, len))
            });
            self.scheduler.give_back(order);
            if let Some((id, len)) = sent {
                self.scheduler.on_sent(id, &mut self.streams);
                return Some((id, len));
            }
        }
        self.collect();
        None
    }

    /// Lets path `id` write a datagram; a closed path with nothing left to send (its close
    /// frame is out) leaves the session.
    fn offer(
        &mut self,
        id: PathId,
        now: Timestamp,
        buf: &mut BytesMut,
        splices: &mut Vec<Splice>,
    ) -> Option<usize> {
        let path = self.paths.get_mut(&id)?;
        let len = path.poll_transmit_spliced(&mut self.streams, now, buf, splices);
        if len.is_none() && self.closed.remove(&id) {
            self.paths.remove(&id);
        }
        len
    }

    /// Tells path `id` whether its transport can take bytes now (see
    /// [`Path::set_write_blocked`]): the scheduler passes over a blocked path.
    pub fn set_path_blocked(&mut self, id: PathId, blocked: bool) {
        if let Some(path) = self.paths.get_mut(&id) {
            path.set_write_blocked(blocked);
        }
    }

    /// Closes every path: each sends its close frame with the next transmits, then leaves
    /// (reported as [`SessionEvent::PathClosed`]). The streams stay, with what they hold.
    pub fn close(&mut self, reason: CloseReason) {
        for path in self.paths.values_mut() {
            path.close(reason);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let paths = self
            .paths
            .values()
            .filter_map(|path| path.poll_timeout(&self.streams))
            .min();
        if self.scheduler.pending_copies() == 0 {
            return paths;
        }
        paths
            .into_iter()
            .chain(self.scheduler.copy_deadline(&self.paths, &self.closed))
            .min()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.collect();
        self.events.pop_front()
    }

    /// Moves stream events to the queue, and retires paths that closed by themselves: their
    /// close frame, if any, must go out first, so a path leaves once it has nothing to send.
    fn collect(&mut self) {
        while let Some(event) = self.streams.poll_event() {
            self.events.push_back(match event {
                ConnectionEvent::Message { stream, data, meta } => {
                    SessionEvent::Message { stream, data, meta }
                }
                ConnectionEvent::StreamFinished { stream } => {
                    SessionEvent::StreamFinished { stream }
                }
                // Streams do not close; paths do (below).
                ConnectionEvent::Closed { .. } => continue,
            });
        }
        let closed: Vec<(PathId, CloseReason)> = self
            .paths
            .iter_mut()
            .filter_map(|(id, path)| {
                let mut reason = None;
                while let Some(event) = path.poll_event() {
                    if let ConnectionEvent::Closed { reason: r } = event {
                        reason = Some(r);
                    }
                }
                reason.map(|r| (*id, r))
            })
            .collect();
        for (id, reason) in closed {
            if let Some(path) = self.paths.get_mut(&id) {
                path.abandon(&mut self.streams);
                self.closed.insert(id);
                self.events
                    .push_back(SessionEvent::PathClosed { path: id, reason });
                self.update_scheduler();
            }
        }
    }
}
