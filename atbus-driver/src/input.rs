//! What reaches the run loop: commands from the API and news from the socket tasks, all through
//! one channel so that the loop waits on one thing (and its timer).

use std::io;
use std::net::SocketAddr;

use bytes::Bytes;

use atbus_core::node::{AttemptId, TransportId};

use crate::bus::{BusEvent, SendError, ShutdownReport};
use crate::runtime::StreamSocket;

/// A one-shot answer (a bounded channel of one).
pub(crate) type Reply<T> = async_channel::Sender<T>;

/// One input of the run loop.
pub(crate) enum Input {
    /// The API asks something.
    Command(Command),
    /// A listener accepted a byte stream.
    Accepted(StreamSocket),
    /// A connect the node asked for finished.
    Connected {
        attempt: AttemptId,
        result: io::Result<StreamSocket>,
    },
    /// The remote address of a datagram attempt was resolved (with a new socket to send
    /// from, when none of the right family existed), or could not be.
    DatagramReady {
        attempt: AttemptId,
        result: io::Result<(
            SocketAddr,
            Option<std::sync::Arc<dyn crate::runtime::DatagramSocket>>,
        )>,
    },
    /// Bytes arrived on a byte-stream transport.
    Data(TransportId, Bytes),
    /// Datagrams arrived on UDP socket `socket`, each with its source.
    Datagrams {
        socket: usize,
        batch: Vec<(SocketAddr, Bytes)>,
    },
    /// A transport's socket closed or failed.
    Closed(TransportId, Option<io::Error>),
    /// A byte stream's writer caught up after it was full.
    Writable(TransportId),
    /// The application took messages while the loop slept (see `delivery`).
    Released,
}

/// What the API asks of the run loop.
pub(crate) enum Command {
    /// Send a message: not answered (it holds one of the bus's send credits, returned when
    /// the node takes it; held while the peer is full; a refusal is an event).
    Send {
        to: String,
        stream: i64,
        data: Bytes,
    },
    /// Finish a stream.
    Finish {
        to: String,
        stream: i64,
        reply: Reply<Result<(), SendError>>,
    },
    /// Close the session with a peer.
    ClosePeer { peer: String },
    /// Flush, close every session and stop.
    Shutdown {
        flush: std::time::Duration,
        reply: Reply<ShutdownReport>,
    },
    /// Subscribe to events (answered with the receiver).
    Events {
        reply: Reply<async_channel::Receiver<BusEvent>>,
    },
    /// A snapshot of the node's metrics.
    Metrics {
        reply: Reply<Box<crate::bus::BusMetrics>>,
    },
    /// Add or replace a discovery record.
    PutRecord {
        record: Box<atbus_core::discovery::NodeRecord>,
        reply: Reply<()>,
    },
}
