//! Copies waiting to be sent, earliest first: the proxy's delay line for one direction.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;

/// One copy waiting for its release time.
#[derive(Debug)]
pub(crate) struct Scheduled {
    /// When to send, as time since the proxy started.
    pub at: Duration,
    /// Arrival order, so that copies due at the same time leave in the order they came.
    seq: u64,
    pub payload: Arc<[u8]>,
    /// The socket to send from.
    pub socket: Arc<UdpSocket>,
    /// Where to send it.
    pub to: SocketAddr,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    /// Reversed, so that the max-heap pops the earliest copy.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The copies of one direction that wait to be sent, with their total size bounded.
#[derive(Debug)]
pub(crate) struct DelayLine {
    heap: BinaryHeap<Scheduled>,
    next_seq: u64,
    bytes: usize,
    max_bytes: usize,
}

impl DelayLine {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            heap: BinaryHeap::new(),
            next_seq: 0,
            bytes: 0,
            max_bytes,
        }
    }

    /// The byte limit.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Queues a copy; returns false (and queues nothing) when it would exceed the byte limit.
    pub fn push(
        &mut self,
        at: Duration,
        payload: Arc<[u8]>,
        socket: Arc<UdpSocket>,
        to: SocketAddr,
    ) -> bool {
        if self.bytes + payload.len() > self.max_bytes {
            return false;
        }
        self.bytes += payload.len();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Scheduled {
            at,
            seq,
            payload,
            socket,
            to,
        });
        true
    }

    /// Moves every copy due at `now` into `due`, earliest first; returns when the next one is
    /// due.
    pub fn pop_due(&mut self, now: Duration, due: &mut Vec<Scheduled>) -> Option<Duration> {
        while self.heap.peek().is_some_and(|top| top.at <= now) {
            if let Some(item) = self.heap.pop() {
                self.bytes -= item.payload.len();
                due.push(item);
            }
        }
        self.heap.peek().map(|top| top.at)
    }
}
