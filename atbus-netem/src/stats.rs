//! Counters per direction, updated by the proxy's tasks and read at any time through
//! [`ProxyHandle::stats`](crate::ProxyHandle::stats).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// One direction through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the clients to the upstream server ("up").
    ClientToServer,
    /// From the upstream server back to the clients ("down").
    ServerToClient,
}

impl Direction {
    /// Both directions, client to server first.
    pub const BOTH: [Direction; 2] = [Direction::ClientToServer, Direction::ServerToClient];

    pub(crate) fn index(self) -> usize {
        match self {
            Direction::ClientToServer => 0,
            Direction::ServerToClient => 1,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::ClientToServer => "client->server",
            Direction::ServerToClient => "server->client",
        })
    }
}

/// A snapshot of one direction's counters.
///
/// Every packet received is either still in flight, sent, or dropped for one reason:
/// `packets_in + duplicated == packets_out + dropped() + in_flight`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirectionStats {
    /// Packets received from the sender side.
    pub packets_in: u64,
    /// Payload bytes received.
    pub bytes_in: u64,
    /// Packets (copies) sent on to the receiver side.
    pub packets_out: u64,
    /// Payload bytes sent.
    pub bytes_out: u64,
    /// Packets dropped by the loss model (independent or burst loss).
    pub lost: u64,
    /// Copies dropped because the rate limiter's queue was full.
    pub queue_dropped: u64,
    /// Copies dropped because the proxy already held `max_in_flight_bytes` for this direction.
    pub overflow_dropped: u64,
    /// Copies the operating system refused to send.
    pub send_errors: u64,
    /// Extra copies made by duplication.
    pub duplicated: u64,
    /// Copies held back to be reordered.
    pub reordered: u64,
    /// Copies waiting in the proxy now (delayed, rate-limited or held back).
    pub in_flight: u64,
}

impl DirectionStats {
    /// Packets and copies dropped for any reason.
    pub fn dropped(&self) -> u64 {
        self.lost + self.queue_dropped + self.overflow_dropped + self.send_errors
    }
}

impl fmt::Display for DirectionStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "in {} out {} lost {} qdrop {} overflow {} senderr {} dup {} reord {} inflight {}",
            self.packets_in,
            self.packets_out,
            self.lost,
            self.queue_dropped,
            self.overflow_dropped,
            self.send_errors,
            self.duplicated,
            self.reordered,
            self.in_flight
        )
    }
}

/// A snapshot of the whole proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProxyStats {
    /// Client to server.
    pub client_to_server: DirectionStats,
    /// Server to client.
    pub server_to_client: DirectionStats,
    /// Clients seen so far, each with its own upstream socket.
    pub clients: u64,
    /// Packets from new clients turned away: `max_clients` reached, or no upstream socket
    /// could be bound for them.
    pub refused: u64,
    /// Packets that reached a client's upstream socket from an address other than the
    /// upstream server, and were ignored.
    pub stray: u64,
    /// Receive errors reported by the operating system on any of the proxy's sockets.
    pub recv_errors: u64,
}

impl ProxyStats {
    /// The counters of one direction.
    pub fn direction(&self, direction: Direction) -> &DirectionStats {
        match direction {
            Direction::ClientToServer => &self.client_to_server,
            Direction::ServerToClient => &self.server_to_client,
        }
    }
}

impl fmt::Display for ProxyStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "clients {} refused {} stray {} recverr {} | up: {} | down: {}",
            self.clients,
            self.refused,
            self.stray,
            self.recv_errors,
            self.client_to_server,
            self.server_to_client
        )
    }
}

/// The live counters of one direction.
#[derive(Debug, Default)]
pub(crate) struct DirectionCounters {
    pub packets_in: AtomicU64,
    pub bytes_in: AtomicU64,
    pub packets_out: AtomicU64,
    pub bytes_out: AtomicU64,
    pub lost: AtomicU64,
    pub queue_dropped: AtomicU64,
    pub overflow_dropped: AtomicU64,
    pub send_errors: AtomicU64,
    pub duplicated: AtomicU64,
    pub reordered: AtomicU64,
    pub in_flight: AtomicU64,
}

/// Adds `n` to a counter.
pub(crate) fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl DirectionCounters {
    pub fn snapshot(&self) -> DirectionStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        DirectionStats {
            packets_in: get(&self.packets_in),
            bytes_in: get(&self.bytes_in),
            packets_out: get(&self.packets_out),
            bytes_out: get(&self.bytes_out),
            lost: get(&self.lost),
            queue_dropped: get(&self.queue_dropped),
            overflow_dropped: get(&self.overflow_dropped),
            send_errors: get(&self.send_errors),
            duplicated: get(&self.duplicated),
            reordered: get(&self.reordered),
            in_flight: get(&self.in_flight),
        }
    }
}
