//! The path scheduler of a session: which path carries the next datagram, and, for
//! latency-mode streams, which second path carries a copy of it.
//!
//! # Kinds
//!
//! - [`SchedulerKind::LowestRtt`] (the default): the open paths are offered the next datagram
//!   in order of smoothed RTT (ties by id). A path writes its acknowledgements and probes
//!   whenever due, and stream data only while its congestion window and pacer allow, so data
//!   fills the fastest path first and overflows to the next.
//! - [`SchedulerKind::Redundant`]: the same for every packet, and each packet that carries data
//!   of a latency-mode stream ([`StreamOptions::latency`](super::StreamOptions)) is also sent
//!   on a second path — the open path of lowest RTT other than the one that sent it, with room
//!   in its congestion window and pacer — so that loss or a queue on one path does not delay
//!   it. Other streams are never copied. With fewer than two open paths it is `LowestRtt`.
//!
//! # Redundancy: the design
//!
//! Multipath TCP's redundant scheduler sends every segment on every subflow with room, and
//! each subflow, having its own sequence space, retransmits its own copies until they are
//! acknowledged; segments already acknowledged at the connection level are skipped. Multipath
//! QUIC duplicates frames onto several paths; each path has its own packet numbers and loss
//! recovery, and a lost frame is sent again only if the data is still unacknowledged. atbus
//! has QUIC's cut — per-path packet numbers, per-stream offsets acknowledged end to end — and
//! goes one step further: a copy is *unreliable*. It is a second chance for the data, never
//! a second obligation.
//!
//! Each range of a latency-mode stream has one **original** packet (booked on its path with the
//! range, as any packet) and at most one **copy** (booked on its path with no range):
//!
//! ```text
//!   original sent on P ──▶ copy queued (P) ──Q has room──▶ copy sent on Q ──▶ forgotten
//!                              │
//!                              ├── every byte acknowledged meanwhile ──▶ dropped
//!                              └── fewer than two open paths, or queue full ──▶ dropped
//! ```
//!
//! Events and what they do:
//!
//! - **P sends a packet of a latency-mode stream**: the stream set logs its range; the session
//!   queues a copy tagged with P (at most [`MAX_PENDING_COPIES`]; the oldest goes first).
//! - **`poll_transmit`**: queued copies go first. The copy goes on the lowest-RTT open path
//!   Q ≠ P whose window and pacer have room, in its own datagram, with Q's next packet number,
//!   the still-unacknowledged part of the range (its start first when Q's datagrams are
//!   smaller), the stream's end and reset when the range reaches them, and `ACK_IMMEDIATELY`.
//!   When no such Q has room, the copy waits (and `poll_timeout` includes the moment a pacer
//!   frees one).
//! - **The copy is acknowledged on Q** (by packet number): Q's RTT, congestion window and bytes
//!   in flight are updated as for any packet; the stream data is released by the stream
//!   acknowledgement that rides along, on any path.
//! - **The copy is lost on Q**: Q's congestion controller sees the loss (it was on Q's wire);
//!   nothing is sent again — the original still answers for the range.
//! - **The original is lost on P**: the range goes back to its stream as always, which sends
//!   again only what is not acknowledged: when the copy arrived and its stream acknowledgement
//!   came back first, nothing. If P declares the loss first, the range is sent again (and
//!   copied again): a wasted packet, never a duplicate delivery.
//! - **P or Q dies**: P's in-flight originals go back to the streams as for any path; Q's
//!   copies vanish with it.
//!
//! # Invariants
//!
//! - A copy never goes on the path that carried its original, nor on a closed path.
//! - A copy counts as bytes in flight on its own path, within that path's congestion window
//!   and pacer (honest accounting: redundancy costs the copy path's capacity, not another's).
//! - Packet numbers stay per path: a copy is acknowledged by its own path's acknowledgements.
//! - Delivery is decided by stream offsets only, so a byte that arrives twice is taken once:
//!   every message is delivered once, in order per stream.
//! - Copies never trigger retransmission: the loss of a copy changes only its path's
//!   congestion state.
//! - One path (the hot case): no order to establish, no log, no queue — `LowestRtt` and
//!   `Redundant` are the same code, with no allocation.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Range;
use std::time::Duration;

use bytes::BytesMut;

use super::{Path, PathId, StreamSet};
use crate::Timestamp;

/// Most copies waiting for a path with room; beyond it the oldest is dropped (a copy is a
/// second chance, not an obligation, and an old one is worth least).
pub const MAX_PENDING_COPIES: usize = 64;

/// How a session spreads its packets over its paths (see the module docs of
/// [`scheduler`](self)). Chosen in [`ConnectionConfig::scheduler`](super::ConnectionConfig) or
/// with [`Session::set_scheduler`](super::Session::set_scheduler); a single path ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SchedulerKind {
    /// The fastest path with room in its congestion window takes the next packet.
    LowestRtt,
    /// As `LowestRtt`, and each packet of a latency-mode stream is also sent on a second path
    /// (the next-lowest RTT one with room), when the session has two open paths or more. The
    /// default: streams not in latency mode are scheduled exactly as by `LowestRtt`.
    #[default]
    Redundant,
}

/// A packet of a latency-mode stream waiting to be copied onto a second path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PendingCopy {
    /// The path that carried the original.
    origin: PathId,
    stream: i64,
    range: Range<u64>,
}

/// The scheduler's state in a session: its kind, the order of paths (a list kept for reuse),
/// and the copies waiting for a path.
#[derive(Debug, Default)]
pub(super) struct PathScheduler {
    kind: SchedulerKind,
    order: Vec<(Duration, PathId)>,
    copies: VecDeque<PendingCopy>,
}

impl PathScheduler {
    pub(super) fn new(kind: SchedulerKind) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

    pub(super) fn kind(&self) -> SchedulerKind {
        self.kind
    }

    /// Sets the kind; [`update`](Self::update) must follow.
    pub(super) fn set_kind(&mut self, kind: SchedulerKind) {
        self.kind = kind;
    }

    /// Copies waiting for a path.
    pub(super) fn pending_copies(&self) -> usize {
        self.copies.len()
    }

    /// The paths or the kind changed: copying starts or stops (the streams log latency-mode
    /// ranges only while it is on; stopping drops the copies waiting).
    pub(super) fn update(&mut self, open_paths: usize, streams: &mut StreamSet) {
        let copying = self.kind == SchedulerKind::Redundant && open_paths >= 2;
        streams.log_latency_ranges(copying);
        if !copying {
            self.copies.clear();
        }
    }

    /// The paths in the order they are offered the next datagram: by smoothed RTT, ties by
    /// id. The list is lent out; [`give_back`](Self::give_back) returns it for reuse.
    pub(super) fn order(&mut self, paths: &BTreeMap<PathId, Box<Path>>) -> Vec<(Duration, PathId)> {
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        order.extend(paths.iter().map(|(id, path)| (path.rtt().smoothed(), *id)));
        order.sort_unstable();
        order
    }

    /// Takes back the list [`order`](Self::order) lent.
    pub(super) fn give_back(&mut self, order: Vec<(Duration, PathId)>) {
        self.order = order;
    }

    /// Path `origin` sent a datagram: the latency-mode ranges it carried, which the streams
    /// log only while copying is on, are queued for a copy.
    pub(super) fn on_sent(&mut self, origin: PathId, streams: &mut StreamSet) {
        for (stream, range) in streams.take_latency_ranges() {
            if self.copies.len() == MAX_PENDING_COPIES {
                self.copies.pop_front();
            }
            self.copies.push_back(PendingCopy {
                origin,
                stream,
                range,
            });
        }
    }

    /// Sends the oldest waiting copy that is still worth it on the lowest-RTT open path other
    /// than its origin with room, and returns that path and the datagram's size; `None` when
    /// nothing is waiting or no path has room. Copies whose data is all acknowledged are
    /// dropped on the way.
    pub(super) fn poll_copy(
        &mut self,
        paths: &mut BTreeMap<PathId, Box<Path>>,
        closed: &BTreeSet<PathId>,
        streams: &StreamSet,
        now: Timestamp,
        buf: &mut BytesMut,
    ) -> Option<(PathId, usize)> {
        while let Some(copy) = self.copies.front() {
            if streams.is_delivered(copy.stream, &copy.range) {
                self.copies.pop_front();
                continue;
            }
            let origin = copy.origin;
            let mut order = self.order(paths);
            let target = order
                .iter()
                .map(|(_, id)| *id)
                .filter(|id| *id != origin && !closed.contains(id))
                .find(|id| paths.get_mut(id).is_some_and(|p| p.has_room_for_copy(now)));
            order.clear();
            self.give_back(order);
            let target = target?;
            let copy = self.copies.pop_front().expect("front exists");
            let path = paths.get_mut(&target).expect("found above");
            if let Some(len) = path.write_copy(streams, now, copy.stream, copy.range, buf) {
                return Some((target, len));
            }
            // Nothing of it fits a datagram of that path: dropped.
        }
        None
    }

    /// When a path next has room for a waiting copy, if that waits for a pacer (a full window
    /// waits for acknowledgements instead, which are inputs).
    pub(super) fn copy_deadline(
        &self,
        paths: &BTreeMap<PathId, Box<Path>>,
        closed: &BTreeSet<PathId>,
    ) -> Option<Timestamp> {
        let copy = self.copies.front()?;
        paths
            .iter()
            .filter(|(id, _)| **id != copy.origin && !closed.contains(id))
            .filter_map(|(_, path)| path.copy_deadline())
            .min()
    }
}
