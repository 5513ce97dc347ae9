//! The async API: a [`Bus`] is a running node, whatever the runtime.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use atbus_core::discovery::{
    AddressError, GatewayAddress, NodeRecord, RegistryError, check_node_name,
};
use atbus_core::metrics::{NodeMetrics, PeerMetrics};
use atbus_core::node::{ConnectError, NodeConfig, NodeSendError};
use atbus_core::proto::CloseReason;

use crate::delivery::{self, Messages};
use crate::driver::Driver;
use crate::input::{Command, Input};
use crate::runtime::Runtime;

/// A message received from another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The sender's name.
    pub from: String,
    /// The stream it came on.
    pub stream: i64,
    /// The payload.
    pub data: Bytes,
}

/// What happens to the bus's sessions.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BusEvent {
    /// A session with `peer` came up.
    PeerUp {
        /// The peer.
        peer: String,
    },
    /// The session with `peer` ended.
    PeerDown {
        /// The peer.
        peer: String,
        /// Why.
        reason: CloseReason,
    },
    /// The node refused a message [`Bus::send`] had accepted (the stream was finished, the
    /// message is larger than the limit, ...); it is handed back.
    SendRefused {
        /// The peer.
        peer: String,
        /// The stream.
        stream: i64,
        /// The message.
        data: Bytes,
        /// Why.
        error: NodeSendError,
    },
    /// Messages to `peer` that were not delivered, or may not have been.
    SendFailed {
        /// The peer.
        peer: String,
        /// Why.
        reason: CloseReason,
        /// The peer cannot have them.
        not_sent: Vec<(i64, Bytes)>,
        /// The peer may have them.
        unacknowledged: Vec<(i64, Bytes)>,
    },
    /// An attempt to reach `peer` at `address` failed (the next address is tried).
    ConnectFailed {
        /// The peer, when known.
        peer: Option<String>,
        /// Where.
        address: GatewayAddress,
        /// What went wrong.
        error: ConnectError,
    },
    /// Messages wait for `peer`, and discovery knows no direct route to it.
    NoRoute {
        /// The peer.
        peer: String,
    },
}

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The node refused it (invalid name, message too large, ...).
    #[error(transparent)]
    Refused(#[from] NodeSendError),
    /// The bus is shutting down or gone.
    #[error("the bus is shut down")]
    ShutDown,
}

/// Why a bus did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The node's name is not a valid node name.
    #[error("invalid node name: {0}")]
    Name(#[from] atbus_core::handshake::IdentityError),
    /// A listen address does not parse.
    #[error("listen address {address:?}: {source}")]
    Address {
        /// The address as given.
        address: String,
        /// Why.
        source: AddressError,
    },
    /// A listen address uses a scheme the adapter does not listen on.
    #[error("cannot listen on {0}")]
    Unsupported(String),
    /// Binding a listen address failed.
    #[error("listening on {address}: {source}")]
    Listen {
        /// The address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// A discovery record was refused.
    #[error("discovery record: {0}")]
    Record(#[from] RegistryError),
}

/// A snapshot of a bus's metrics, for exporters: the node's totals, and each peer with a
/// session (its live transports merged with those that already closed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BusMetrics {
    /// Refusals, closes, ended sessions by reason, and the ended sessions' traffic.
    pub node: NodeMetrics,
    /// Per peer with a session, by name.
    pub peers: Vec<(String, PeerMetrics)>,
}

/// What a shutdown could not deliver.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShutdownReport {
    /// Messages (peer, stream, payload) the peers cannot have.
    pub not_sent: Vec<(String, i64, Bytes)>,
    /// Messages the peers may have, never acknowledged.
    pub unacknowledged: Vec<(String, i64, Bytes)>,
}

impl ShutdownReport {
    /// Whether everything was delivered.
    pub fn is_clean(&self) -> bool {
        self.not_sent.is_empty() && self.unacknowledged.is_empty()
    }
}

/// Settings of a bus: the node's, where it listens, and what it knows of other nodes.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// The node's settings (its name among them).
    pub node: NodeConfig,
    /// Addresses to listen on: `tcp://host:port`, `udp://host:port`, `unix:///path`,
    /// `mem://name` (port 0 picks one).
    pub listen: Vec<String>,
    /// Discovery records of other nodes, known from the start.
    pub records: Vec<NodeRecord>,
    /// Batched UDP IO (`recvmmsg`, and GSO/GRO where the kernel has them); off, one datagram
    /// per system call. On by default.
    pub udp_offload: bool,
}

impl BusConfig {
    /// A bus called `name`, listening nowhere, knowing nobody.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            node: NodeConfig::new(name),
            listen: Vec::new(),
            records: Vec::new(),
            udp_offload: true,
        }
    }
}

/// A running node: send by name, receive, watch sessions, shut down.
///
/// Cloning gives another handle to the same node. Dropping the last handle without
/// [`shutdown`](Self::shutdown) stops the node as a zero-flush shutdown would.
#[derive(Debug, Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    inputs: async_channel::Sender<Input>,
    credits: async_channel::Sender<()>,
    messages: async_channel::Receiver<Message>,
    delivery: Arc<delivery::Shared>,
    record: NodeRecord,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let (reply, _) = async_channel::bounded(1);
        let _ = self.inputs.try_send(Input::Command(Command::Shutdown {
            flush: Duration::ZERO,
            reply,
        }));
    }
}

impl Bus {
    /// Starts a node on `runtime`: binds every listen address, then runs.
    pub async fn start(runtime: Arc<dyn Runtime>, config: BusConfig) -> Result<Bus, StartError> {
        let (driver, inputs, credits, messages, delivery, record) =
            Driver::start(runtime, config).await?;
        let name = driver.name().to_owned();
        driver.spawn();
        Ok(Bus {
            inner: Arc::new(Inner {
                name,
                inputs,
                credits,
                messages,
                delivery,
                record,
            }),
        })
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The addresses the node listens on, as bound (ports picked).
    pub fn local_addresses(&self) -> Vec<GatewayAddress> {
        self.inner
            .record
            .gateways
            .iter()
            .flat_map(|g| g.addresses.iter())
            .filter_map(|a| GatewayAddress::parse(a).ok())
            .collect()
    }

    /// The node's discovery record: its name, host and process, and one gateway with its
    /// listen addresses. Other nodes reach it by this record.
    pub fn record(&self) -> NodeRecord {
        self.inner.record.clone()
    }

    async fn command<T>(
        &self,
        make: impl FnOnce(async_channel::Sender<T>) -> Command,
    ) -> Option<T> {
        let (reply, answer) = async_channel::bounded(1);
        self.inner
            .inputs
            .send(Input::Command(make(reply)))
            .await
            .ok()?;
        answer.recv().await.ok()
    }

    /// Sends `data` to the node `to` on `stream`. Waits while the bus holds as many messages
    /// as it lets wait for the node (backpressure: the node takes them as the peer's buffers
    /// drain); messages to one peer on one stream arrive in the order they were sent.
    ///
    /// `Ok` means the bus took the message: it is then delivered, or handed back in a
    /// [`BusEvent::SendFailed`], [`BusEvent::SendRefused`] or the [`ShutdownReport`] — never
    /// dropped silently.
    pub async fn send(&self, to: &str, stream: i64, data: Bytes) -> Result<(), SendError> {
        if check_node_name(to, "to").is_err() {
            return Err(SendError::Refused(NodeSendError::InvalidName(
                to.to_owned(),
            )));
        }
        self.inner
            .credits
            .send(())
            .await
            .map_err(|_| SendError::ShutDown)?;
        let command = Command::Send {
            to: to.to_owned(),
            stream,
            data,
        };
        self.inner
            .inputs
            .send(Input::Command(command))
            .await
            .map_err(|_| SendError::ShutDown)
    }

    /// Ends `stream` towards `to` after what was sent on it.
    pub async fn finish(&self, to: &str, stream: i64) -> Result<(), SendError> {
        let to = to.to_owned();
        self.command(|reply| Command::Finish { to, stream, reply })
            .await
            .unwrap_or(Err(SendError::ShutDown))
    }

    /// The next message; `None` once the bus is shut down.
    ///
    /// Received messages wait here until taken, and hold the flow-control credit of their
    /// session meanwhile: a bus whose messages are not taken stops granting its peers more
    /// (they are slowed, as a quinn stream that is not read slows its peer), so what waits is
    /// bounded by about twice [`receive_memory_limit`] per peer.
    ///
    /// [`receive_memory_limit`]: atbus_core::connection::ConnectionConfig::receive_memory_limit
    pub async fn recv(&self) -> Option<Message> {
        delivery::recv(
            &self.inner.messages,
            &self.inner.delivery,
            &self.inner.inputs,
        )
        .await
    }

    /// The received messages as a `Stream` (shared with [`recv`](Self::recv): each message
    /// goes to one reader).
    pub fn messages(&self) -> Messages {
        Messages::new(
            self.inner.messages.clone(),
            self.inner.delivery.clone(),
            self.inner.inputs.clone(),
        )
    }

    /// Events from now on, as a `Stream`.
    pub async fn events(&self) -> async_channel::Receiver<BusEvent> {
        match self.command(|reply| Command::Events { reply }).await {
            Some(events) => events,
            None => async_channel::unbounded().1,
        }
    }

    /// A snapshot of the node's metrics (see [`BusMetrics`]); `None` once shut down.
    pub async fn metrics(&self) -> Option<BusMetrics> {
        self.command(|reply| Command::Metrics { reply })
            .await
            .map(|m| *m)
    }

    /// Adds or replaces a discovery record.
    pub async fn put_record(&self, record: NodeRecord) -> Result<(), SendError> {
        self.command(|reply| Command::PutRecord {
            record: Box::new(record),
            reply,
        })
        .await
        .ok_or(SendError::ShutDown)
    }

    /// Ends the session with `peer` (close frames first); its undelivered messages come back
    /// in [`BusEvent::SendFailed`].
    pub async fn close_peer(&self, peer: &str) {
        let peer = peer.to_owned();
        let _ = self
            .inner
            .inputs
            .send(Input::Command(Command::ClosePeer { peer }))
            .await;
    }

    /// Stops the node: waits up to `flush` for every message sent to be acknowledged, then
    /// closes every session (close frames first) and reports what was not delivered.
    pub async fn shutdown(&self, flush: Duration) -> ShutdownReport {
        self.command(|reply| Command::Shutdown { flush, reply })
            .await
            .unwrap_or_default()
    }
}
