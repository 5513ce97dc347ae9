//! The run loop: one task that owns the node and does what the node's drain rule says.
//!
//! ```text
//!   wait for an input or the node's timeout
//!   handle it, and every input already queued behind it (batched)
//!   handle_timeout when due
//!   drain: transmits to their sockets, events to the API (Connect → a connect task, ...)
//!   retry sends that waited for room
//! ```
//!
//! Inputs come through one channel: commands from [`Bus`](crate::Bus) handles, and bytes,
//! datagrams, accepts, connects and closes from the socket tasks (`links.rs`). The loop never
//! blocks on a socket: writes go to the writers' queues.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use atbus_core::Timestamp;
use atbus_core::connection::SendError as StreamSendError;
use atbus_core::discovery::{Discovery, Gateway, GatewayAddress, GatewayMatch, NodeRecord};
use atbus_core::frame::{FrameLimits, Splice, spliced_pieces};
use atbus_core::node::{AttemptId, Node, NodeEvent, NodeSendError, TransportId, TransportKind};
use atbus_core::stream::WriteError;

use crate::bus::{BusConfig, BusEvent, Message, SendError, ShutdownReport, StartError};
use crate::datagram::{DatagramLink, GsoBatch, spawn_datagram};
use crate::delivery::{self, Outbox};
use crate::input::{Command, Input, Reply};
use crate::links::{BufferPool, StreamWriter, spawn_stream};
use crate::listen::{Listening, bind_all};
use crate::runtime::{BoxFuture, Runtime, StreamSocket};
use crate::transmit_pool::TransmitPool;

/// Messages a bus lets into its run loop before the node takes them (sends wait beyond).
const SEND_CREDITS: usize = 256;

/// Inputs handled per wake-up before the loop drains (bounds the latency of transmits).
const BATCH: usize = 1_024;

/// A send that waits for room.
struct HeldSend {
    to: String,
    stream: i64,
    data: Bytes,
}

/// A shutdown under way.
struct Shutdown {
    deadline: Instant,
    reply: Reply<ShutdownReport>,
    report: ShutdownReport,
}

/// The run loop's state.
pub(crate) struct Driver {
    runtime: Arc<dyn Runtime>,
    node: Node,
    start: Instant,
    inputs_tx: async_channel::Sender<Input>,
    inputs: async_channel::Receiver<Input>,
    /// Send credits: a `Bus::send` puts one in before its command, the loop takes one out
    /// when the node took (or refused) the message — so the messages between the API and
    /// the node are bounded, without a round trip per send.
    credits: async_channel::Receiver<()>,
    streams: HashMap<TransportId, StreamWriter>,
    udp: Vec<DatagramLink>,
    udp_peers: HashMap<(usize, SocketAddr), TransportId>,
    udp_of: HashMap<TransportId, (usize, SocketAddr)>,
    /// Received messages on their way to the application (their credit is released as it
    /// takes them).
    outbox: Outbox,
    subscribers: Vec<async_channel::Sender<BusEvent>>,
    held: VecDeque<HeldSend>,
    shutdown: Option<Shutdown>,
    /// The loop's timer and its deadline, kept across waits while no earlier wake-up is
    /// needed: the node's deadline moves with every send (keep-alive), and a fresh timer per
    /// wait cost a registration with the reactor each time.
    sleep: Option<(Instant, BoxFuture<'static, ()>)>,
    /// Where the node writes transmits; a byte-stream transmit takes it whole to its writer
    /// and the loop writes on in a recycled one (`transmit_pool`).
    buf: BytesMut,
    /// Payloads of the transmit in `buf` left out of it (byte streams; see
    /// [`Node::poll_transmit_spliced`]).
    splices: Vec<Splice>,
    transmit_pool: Arc<TransmitPool>,
    /// Read buffers of the byte streams (see `links`).
    read_pool: Arc<BufferPool>,
    /// The current step's time (see `now`).
    clock: Timestamp,
    /// The node's frame limits, for splitting byte streams into whole frames.
    frame_limits: FrameLimits,
    /// Whether UDP sockets batch their IO (`BusConfig::udp_offload`).
    udp_offload: bool,
    /// Keeps the listeners' accept tasks alive (dropping it stops them).
    _listening: Listening,
}

/// What [`Driver::start`] hands the [`Bus`](crate::Bus).
pub(crate) type Started = (
    Driver,
    async_channel::Sender<Input>,
    async_channel::Sender<()>,
    async_channel::Receiver<Message>,
    Arc<delivery::Shared>,
    NodeRecord,
);

impl Driver {
    /// Binds the listen addresses and builds the loop (not yet running).
    pub async fn start(
        runtime: Arc<dyn Runtime>,
        mut config: BusConfig,
    ) -> Result<Started, StartError> {
        // Same-host and same-process routes (unix://, mem://) need the host and process in
        // the node's record.
        let mut record = config
            .node
            .record
            .take()
            .unwrap_or_else(|| NodeRecord::new(config.node.name.clone()));
        if record.host.hostname.is_empty() {
            record.host.hostname = hostname();
        }
        if record.host.pid == 0 {
            record.host.pid = std::process::id();
        }
        config.node.record = Some(record.clone());
        // Messages stay charged until the application takes them (see `delivery`).
        config.node.connection.hold_delivered = true;
        let frame_limits = config.node.connection.frame_limits;
        let mut node = Node::new(config.node)?;
        for record in config.records {
            node.discovery_mut().put(record)?;
        }
        let (inputs_tx, inputs) = async_channel::bounded(4_096);
        let (credits_tx, credits) = async_channel::bounded(SEND_CREDITS);
        let (listening, sockets) = bind_all(&runtime, &config.listen, inputs_tx.clone()).await?;
        let mut udp = Vec::new();
        for socket in sockets {
            let index = udp.len();
            let link = spawn_datagram(
                &*runtime,
                index,
                socket,
                config.udp_offload,
                inputs_tx.clone(),
            )
            .map_err(|source| StartError::Listen {
                address: "udp".into(),
                source,
            })?;
            udp.push(link);
        }
        if !listening.addresses.is_empty() {
            record.gateways.push(Gateway {
                priority: 0,
                addresses: listening
                    .addresses
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                r#match: GatewayMatch::default(),
            });
        }
        let (outbox, received, shared) = Outbox::new();
        let driver = Driver {
            runtime,
            node,
            start: Instant::now(),
            inputs_tx: inputs_tx.clone(),
            inputs,
            credits,
            streams: HashMap::new(),
            udp,
            udp_peers: HashMap::new(),
            udp_of: HashMap::new(),
            outbox,
            sleep: None,
            subscribers: Vec::new(),
            held: VecDeque::new(),
            shutdown: None,
            buf: BytesMut::with_capacity(64 * 1024),
            splices: Vec::new(),
            transmit_pool: Arc::new(TransmitPool::default()),
            read_pool: Arc::default(),
            udp_offload: config.udp_offload,
            clock: Timestamp::ZERO,
            frame_limits,
            _listening: listening,
        };
        Ok((driver, inputs_tx, credits_tx, received, shared, record))
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        self.node.name()
    }

    /// Runs the loop in a task of its runtime.
    pub fn spawn(self) {
        let runtime = self.runtime.clone();
        runtime.spawn(Box::pin(self.run()));
    }

    /// The time of the current step: read once per wake-up and per drain, not per input (a
    /// clock read per 64-byte message was 5 % of the run loop).
    fn now(&self) -> Timestamp {
        self.clock
    }

    /// Reads the clock.
    fn tick(&mut self) -> Timestamp {
        self.clock = Timestamp::from_nanos(
            u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX),
        );
        self.clock
    }

    fn instant(&self, at: Timestamp) -> Instant {
        self.start + Duration::from_nanos(at.as_nanos())
    }

    async fn run(mut self) {
        loop {
            let mut wake = self.node.poll_timeout().map(|t| self.instant(t));
            if let Some(shutdown) = &self.shutdown {
                wake = Some(wake.map_or(shutdown.deadline, |w| w.min(shutdown.deadline)));
            }
            let input = match wake {
                // The application took messages since the last pass: no sleep.
                _ if self.outbox.arm() => None,
                Some(at) => {
                    // A timer due no later than `at` serves: waking early only costs a pass.
                    if self.sleep.as_ref().is_none_or(|(due, _)| *due > at) {
                        self.sleep = Some((at, self.runtime.sleep_until(at)));
                    }
                    let (_, sleep) = self.sleep.as_mut().expect("armed above");
                    let inputs = &self.inputs;
                    let input =
                        futures_lite::future::or(async { Some(inputs.recv().await) }, async {
                            sleep.await;
                            None
                        })
                        .await;
                    if input.is_none() {
                        self.sleep = None;
                    }
                    input
                }
                None => Some(self.inputs.recv().await),
            };
            self.tick();
            match input {
                Some(Ok(input)) => self.handle(input),
                Some(Err(_)) => return,
                None => {}
            }
            for _ in 0..BATCH {
                match self.inputs.try_recv() {
                    Ok(input) => self.handle(input),
                    Err(_) => break,
                }
            }
            let now = self.tick();
            if self.node.poll_timeout().is_some_and(|t| t <= now) {
                self.node.handle_timeout(now);
            }
            let node = &mut self.node;
            self.outbox
                .release_taken(|peer, bytes, count| node.release(peer, bytes, count));
            self.drain();
            self.retry_held();
            if self.shutdown_done() {
                return;
            }
        }
    }

    fn handle(&mut self, input: Input) {
        let now = self.now();
        match input {
            Input::Command(command) => self.command(command),
            Input::Accepted(socket) => {
                let id = self
                    .node
                    .handle_transport_accepted(now, TransportKind::ByteStream);
                self.add_stream(id, socket);
            }
            Input::Connected { attempt, result } => match result {
                Ok(socket) => {
                    if let Some(id) = self.node.handle_connected(now, attempt) {
                        self.add_stream(id, socket);
                    }
                }
                Err(error) => {
                    tracing::debug!(?attempt, %error, "connect failed");
                    self.node.handle_connect_failed(now, attempt);
                }
            },
            Input::DatagramReady { attempt, result } => match result {
                Ok((remote, socket)) => {
                    let index = match socket {
                        Some(socket) => {
                            let index = self.udp.len();
                            match spawn_datagram(
                                &*self.runtime,
                                index,
                                socket,
                                self.udp_offload,
                                self.inputs_tx.clone(),
                            ) {
                                Ok(link) => {
                                    self.udp.push(link);
                                    Some(index)
                                }
                                Err(_) => None,
                            }
                        }
                        None => self.udp_socket_for(remote),
                    };
                    match index {
                        Some(index) if !self.udp_peers.contains_key(&(index, remote)) => {
                            if let Some(id) = self.node.handle_connected(now, attempt) {
                                self.udp_peers.insert((index, remote), id);
                                self.udp_of.insert(id, (index, remote));
                            }
                        }
                        _ => self.node.handle_connect_failed(now, attempt),
                    }
                }
                Err(error) => {
                    tracing::debug!(?attempt, %error, "datagram connect failed");
                    self.node.handle_connect_failed(now, attempt);
                }
            },
            Input::Data(id, data) => {
                if let Some(stream) = self.streams.get(&id) {
                    stream.processed();
                    self.node.handle_input(now, id, data);
                }
            }
            Input::Datagrams { socket, batch } => {
                for (from, data) in batch {
                    let id = match self.udp_peers.get(&(socket, from)) {
                        Some(id) => *id,
                        None => {
                            let id = self
                                .node
                                .handle_transport_accepted(now, TransportKind::Datagram);
                            self.udp_peers.insert((socket, from), id);
                            self.udp_of.insert(id, (socket, from));
                            id
                        }
                    };
                    self.node.handle_input(now, id, data);
                }
            }
            Input::Closed(id, error) => {
                if self.streams.remove(&id).is_some() {
                    tracing::debug!(?id, ?error, "transport closed");
                    self.node.handle_transport_closed(now, id);
                }
            }
            Input::Writable(id) => {
                if let Some(writer) = self.streams.get_mut(&id)
                    && writer.resume()
                {
                    self.node.set_transport_writable(id, true);
                }
            }
            // The pass that follows releases what was taken.
            Input::Released => {}
        }
    }

    fn command(&mut self, command: Command) {
        let now = self.now();
        match command {
            Command::Send { to, stream, data } => {
                if let Some(shutdown) = &mut self.shutdown {
                    shutdown.report.not_sent.push((to, stream, data));
                    let _ = self.credits.try_recv();
                } else if self.held.iter().any(|h| h.to == to) {
                    // Behind the ones already waiting for this peer: order is kept.
                    self.held.push_back(HeldSend { to, stream, data });
                } else if !self.offer(now, &to, stream, &data) {
                    self.held.push_back(HeldSend { to, stream, data });
                }
            }
            Command::Finish { to, stream, reply } => {
                let result = self.node.finish(&to, stream).map_err(SendError::from);
                let _ = reply.try_send(result);
            }
            Command::ClosePeer { peer } => self.node.close_peer(now, &peer),
            Command::Shutdown { flush, reply } => {
                if self.shutdown.is_none() {
                    let mut report = ShutdownReport::default();
                    for held in self.held.drain(..) {
                        report.not_sent.push((held.to, held.stream, held.data));
                        let _ = self.credits.try_recv();
                    }
                    self.shutdown = Some(Shutdown {
                        deadline: Instant::now() + flush,
                        reply,
                        report,
                    });
                }
            }
            Command::Events { reply } => {
                let (tx, rx) = async_channel::unbounded();
                self.subscribers.push(tx);
                let _ = reply.try_send(rx);
            }
            Command::Metrics { reply } => {
                let peers = self
                    .node
                    .peers()
                    .filter_map(|peer| Some((peer.to_owned(), self.node.peer_metrics(peer)?)))
                    .collect();
                let metrics = crate::bus::BusMetrics {
                    node: self.node.metrics().clone(),
                    peers,
                };
                let _ = reply.try_send(Box::new(metrics));
            }
            Command::PutRecord { record, reply } => {
                if let Err(error) = self.node.discovery_mut().put(*record) {
                    tracing::warn!(%error, "discovery record refused");
                }
                let _ = reply.try_send(());
            }
        }
    }

    /// Offers a message to the node; gives it back when the peer has no room for it now.
    /// Taken or refused, its send credit returns.
    /// Offers a message to the node: true when it was taken (sent, or refused and handed back
    /// in `SendRefused`; either way its credit returns), false when it must wait.
    fn offer(&mut self, now: Timestamp, to: &str, stream: i64, data: &Bytes) -> bool {
        match self.node.send(now, to, stream, data.clone()) {
            Ok(()) => {
                let _ = self.credits.try_recv();
                true
            }
            Err(
                NodeSendError::QueueFull { .. }
                | NodeSendError::Stream {
                    source: StreamSendError::Write(WriteError::Blocked { .. }),
                    ..
                },
            ) => false,
            Err(error) => {
                let _ = self.credits.try_recv();
                self.publish(BusEvent::SendRefused {
                    peer: to.to_owned(),
                    stream,
                    data: data.clone(),
                    error,
                });
                true
            }
        }
    }

    /// Sends that waited: offered again, in order, each peer's stopping at its first refusal.
    fn retry_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let now = self.now();
        let mut held = std::mem::take(&mut self.held);
        let mut blocked_peers: Vec<String> = Vec::new();
        held.retain(|h| {
            if blocked_peers.contains(&h.to) {
                return true;
            }
            let waits = !self.offer(now, &h.to, h.stream, &h.data);
            if waits {
                blocked_peers.push(h.to.clone());
            }
            waits
        });
        self.held = held;
        self.drain();
    }

    /// The drain rule: transmits to their sockets and events to their consumers, until the
    /// node has neither.
    fn drain(&mut self) {
        loop {
            let now = self.tick();
            let mut progressed = false;
            // Consecutive datagrams to one peer leave as one GSO batch where the socket can.
            let mut batch: Option<GsoBatch> = None;
            loop {
                let start = self.buf.len();
                let Some(id) =
                    self.node
                        .poll_transmit_spliced(now, &mut self.buf, &mut self.splices)
                else {
                    break;
                };
                for splice in &mut self.splices {
                    splice.at -= start;
                }
                progressed = true;
                let len = self.buf.len() - start;
                let udp = self.udp_of.get(&id).copied();
                if let (Some(b), Some((socket, to))) = (&mut batch, udp)
                    && b.push(socket, to, len, self.udp[socket].max_segments())
                {
                    continue;
                }
                let tail = self.buf.split_off(start);
                match batch.take() {
                    // The batch leaves with the front of the buffer; the loop writes on in the
                    // rest.
                    Some(b) => {
                        let front = std::mem::replace(&mut self.buf, tail);
                        self.send_batch(b, front);
                    }
                    None => self.buf.unsplit(tail),
                }
                match udp {
                    Some((socket, to)) => batch = Some(GsoBatch::new(socket, to, len)),
                    None => {
                        // The buffer holds this transmit only (a batch went out above).
                        let next = self.transmit_pool.take();
                        let full = std::mem::replace(&mut self.buf, next);
                        let data = TransmitPool::hand_over(&self.transmit_pool, full);
                        self.transmit(id, data);
                    }
                }
            }
            if let Some(b) = batch {
                let next = self.transmit_pool.take();
                let full = std::mem::replace(&mut self.buf, next);
                self.send_batch(b, full);
            }
            while let Some(event) = self.node.poll_event() {
                self.event(event);
                progressed = true;
            }
            if !progressed {
                return;
            }
        }
    }

    /// Starts the socket tasks of byte-stream transport `id`.
    fn add_stream(&mut self, id: TransportId, socket: StreamSocket) {
        let writer = spawn_stream(
            &*self.runtime,
            id,
            socket,
            self.frame_limits,
            self.read_pool.clone(),
            self.inputs_tx.clone(),
        );
        self.streams.insert(id, writer);
    }

    /// Sends `data`, the transmit for `id`, with the payloads of `self.splices` (offsets in
    /// `data`) in their places.
    fn transmit(&mut self, id: TransportId, data: Bytes) {
        if let Some(writer) = self.streams.get_mut(&id) {
            let mut queued = true;
            spliced_pieces(data, &mut self.splices, |piece| {
                queued &= writer.write(piece)
            });
            if !queued {
                self.node.set_transport_writable(id, false);
            }
        } else if let Some(&(index, to)) = self.udp_of.get(&id) {
            debug_assert!(self.splices.is_empty(), "datagrams are never spliced");
            self.udp[index].send(to, data, None);
        }
        // A transport gone meanwhile: its splices go with it.
        self.splices.clear();
    }

    /// Sends the datagrams of `batch`, which are all of `data`.
    fn send_batch(&mut self, batch: GsoBatch, data: BytesMut) {
        let data = TransmitPool::hand_over(&self.transmit_pool, data);
        debug_assert_eq!(data.len(), batch.len);
        self.udp[batch.socket].send(batch.to, data, batch.segment_size());
    }

    fn publish(&mut self, event: BusEvent) {
        self.subscribers
            .retain(|s| s.try_send(event.clone()).is_ok());
    }

    fn event(&mut self, event: NodeEvent) {
        match event {
            NodeEvent::Message { from, stream, data } => {
                if let Err(message) = self.outbox.push(Message { from, stream, data }) {
                    // Nobody will take it: its credit is free at once.
                    let bytes = message.data.len() as u64;
                    self.node.release(&message.from, bytes, 1);
                }
            }
            NodeEvent::StreamFinished { .. } => {}
            NodeEvent::PeerUp { peer } => {
                tracing::info!(node = self.node.name(), %peer, "session up");
                self.publish(BusEvent::PeerUp { peer })
            }
            NodeEvent::PeerDown { peer, reason } => {
                tracing::info!(
                    node = self.node.name(),
                    %peer,
                    reason = reason.as_str_name(),
                    "session down"
                );
                self.publish(BusEvent::PeerDown { peer, reason })
            }
            NodeEvent::SendFailed {
                peer,
                reason,
                not_sent,
                unacknowledged,
            } => {
                tracing::warn!(
                    node = self.node.name(),
                    %peer,
                    reason = reason.as_str_name(),
                    not_sent = not_sent.len(),
                    unacknowledged = unacknowledged.len(),
                    "messages handed back"
                );
                if let Some(shutdown) = &mut self.shutdown {
                    let tag = |(s, d): &(i64, Bytes)| (peer.clone(), *s, d.clone());
                    shutdown.report.not_sent.extend(not_sent.iter().map(tag));
                    shutdown
                        .report
                        .unacknowledged
                        .extend(unacknowledged.iter().map(tag));
                }
                self.publish(BusEvent::SendFailed {
                    peer,
                    reason,
                    not_sent,
                    unacknowledged,
                });
            }
            NodeEvent::PeerWanted { peer } => {
                tracing::warn!(node = self.node.name(), %peer, "no direct route in discovery");
                self.publish(BusEvent::NoRoute { peer })
            }
            NodeEvent::Connect {
                attempt,
                address,
                peer,
            } => {
                tracing::debug!(node = self.node.name(), ?peer, %address, ?attempt, "connecting");
                self.connect(attempt, address)
            }
            NodeEvent::ConnectFailed {
                peer,
                address,
                error,
                ..
            } => {
                tracing::warn!(node = self.node.name(), ?peer, %address, %error, "connect failed");
                self.publish(BusEvent::ConnectFailed {
                    peer,
                    address,
                    error,
                })
            }
            NodeEvent::CloseTransport { transport, reason } => {
                tracing::debug!(
                    node = self.node.name(),
                    ?transport,
                    reason = reason.as_str_name(),
                    "closing transport"
                );
                // Dropping the writer flushes its queue, closes the socket, stops the reader.
                self.streams.remove(&transport);
                if let Some(key) = self.udp_of.remove(&transport) {
                    self.udp_peers.remove(&key);
                }
            }
        }
    }

    /// A UDP socket of the family of `remote`, if one is bound.
    fn udp_socket_for(&self, remote: SocketAddr) -> Option<usize> {
        self.udp
            .iter()
            .position(|link| link.local.is_ipv4() == remote.is_ipv4())
    }

    /// Opens what the node asked for, in a task; the result comes back as an input.
    fn connect(&mut self, attempt: AttemptId, address: GatewayAddress) {
        let runtime = self.runtime.clone();
        let inputs = self.inputs_tx.clone();
        match address {
            GatewayAddress::Tcp { host, port } => runtime.clone().spawn(Box::pin(async move {
                let result = async {
                    let to = runtime.resolve(host.to_string(), port).await?;
                    runtime.connect_tcp(to).await
                }
                .await;
                let _ = inputs.send(Input::Connected { attempt, result }).await;
            })),
            GatewayAddress::Unix(path) => runtime.clone().spawn(Box::pin(async move {
                let result = runtime.connect_unix(path).await;
                let _ = inputs.send(Input::Connected { attempt, result }).await;
            })),
            GatewayAddress::Memory(name) => {
                let result = crate::memory::connect(&name);
                self.handle(Input::Connected { attempt, result });
            }
            GatewayAddress::Udp { host, port } => {
                let families: Vec<bool> = self.udp.iter().map(|l| l.local.is_ipv4()).collect();
                runtime.clone().spawn(Box::pin(async move {
                    let result = async {
                        let remote = runtime.resolve(host.to_string(), port).await?;
                        if families.contains(&remote.is_ipv4()) {
                            return Ok((remote, None));
                        }
                        let any: SocketAddr = if remote.is_ipv4() {
                            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
                        } else {
                            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                        };
                        Ok((remote, Some(runtime.bind_udp(any).await?)))
                    }
                    .await;
                    let _ = inputs.send(Input::DatagramReady { attempt, result }).await;
                }));
            }
            GatewayAddress::Unknown { .. } => {
                let now = self.now();
                self.node.handle_connect_failed(now, attempt);
            }
        }
    }

    /// When a shutdown is under way: once everything sent was acknowledged (or the flush time
    /// is up), every session closes and the report goes out. True when the loop may end.
    fn shutdown_done(&mut self) -> bool {
        let Some(shutdown) = &self.shutdown else {
            return false;
        };
        let flushed = self.held.is_empty()
            && self.node.waiting_peers().next().is_none()
            && self.node.peers().all(|peer| {
                self.node
                    .session(peer)
                    .is_none_or(|s| s.streams().unacked_bytes() == 0)
            });
        if !flushed && Instant::now() < shutdown.deadline {
            return false;
        }
        let now = self.tick();
        self.node.close_all(now);
        self.drain();
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.reply.try_send(shutdown.report);
        }
        true
    }
}

/// This machine's name, as same-host routes compare it (`/proc/sys/kernel/hostname`, then
/// `$HOSTNAME`, then `localhost`).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}
