//! The proxy: [`Proxy::spawn`] binds the listening socket and starts the tasks; the returned
//! [`ProxyHandle`] reads counters, changes impairments and shuts it down.
//!
//! Tasks, all in one `JoinSet` that the handle owns:
//!
//! ```text
//!  clients ──► listener ──► lane "client->server" ──► sender ──► client's upstream socket ──► server
//!  clients ◄── sender ◄── lane "server->client" ◄── session (one per client) ◄───────────────┘
//! ```
//!
//! The listener receives from every client on the listening socket and gives each new client
//! address its own upstream socket (bound to an ephemeral port, as a NAT would), so the server
//! sees one source address per client; a session task per client receives the server's replies
//! on that socket. Every packet is judged by its direction's impairer under a short lock and, if
//! it survives, queued in that direction's delay line; one sender task per direction sends the
//! queued copies when they are due.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::error::{ImpairmentError, NetemError};
use crate::impairer::Impairer;
use crate::impairments::Impairments;
use crate::schedule::{DelayLine, Scheduled};
use crate::stats::{Direction, DirectionCounters, ProxyStats, bump};

/// Largest UDP payload the proxy receives whole (IPv4's limit is 65,507 bytes).
const MAX_DATAGRAM: usize = 65_536;

/// How to start a proxy.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProxyConfig {
    /// Where clients send to. Port 0 picks a free port; read it from
    /// [`ProxyHandle::local_addr`].
    pub listen: SocketAddr,
    /// The server every client's packets go to.
    pub upstream: SocketAddr,
    /// Impairments from the clients to the server.
    pub client_to_server: Impairments,
    /// Impairments from the server to the clients.
    pub server_to_client: Impairments,
    /// Seed of the random choices; the same seed and the same packet arrival order give the
    /// same drops, duplicates, jitter and reordering.
    pub seed: u64,
    /// Most clients (each with its own upstream socket) kept at once; packets from further
    /// clients are refused and counted. Clients are kept until shutdown.
    pub max_clients: usize,
    /// Most payload bytes one direction holds in its delay line; copies beyond it are dropped
    /// and counted as `overflow_dropped`.
    pub max_in_flight_bytes: usize,
}

impl ProxyConfig {
    /// A perfect proxy from `listen` to `upstream`: no impairments, seed 0, at most 1,024
    /// clients and 64 MiB in flight per direction.
    pub fn new(listen: SocketAddr, upstream: SocketAddr) -> Self {
        Self {
            listen,
            upstream,
            client_to_server: Impairments::none(),
            server_to_client: Impairments::none(),
            seed: 0,
            max_clients: 1024,
            max_in_flight_bytes: 64 << 20,
        }
    }

    /// The same impairments in both directions.
    pub fn with_impairments(mut self, impairments: Impairments) -> Self {
        self.client_to_server = impairments.clone();
        self.server_to_client = impairments;
        self
    }

    /// The impairments of one direction.
    pub fn with_direction(mut self, direction: Direction, impairments: Impairments) -> Self {
        match direction {
            Direction::ClientToServer => self.client_to_server = impairments,
            Direction::ServerToClient => self.server_to_client = impairments,
        }
        self
    }

    /// The seed of the random choices.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// The lossy UDP proxy. See [`Proxy::spawn`].
#[derive(Debug)]
pub struct Proxy {
    _private: (),
}

impl Proxy {
    /// Binds `config.listen` and starts forwarding on the current tokio runtime.
    ///
    /// The proxy runs until [`ProxyHandle::shutdown`] or until the handle is dropped.
    pub async fn spawn(config: ProxyConfig) -> Result<ProxyHandle, NetemError> {
        for direction in Direction::BOTH {
            config_for(&config, direction)
                .validate()
                .map_err(|source| NetemError::Impairments { direction, source })?;
        }
        if config.max_clients == 0 {
            return Err(NetemError::ZeroLimit {
                field: "max_clients",
            });
        }
        if config.max_in_flight_bytes == 0 {
            return Err(NetemError::ZeroLimit {
                field: "max_in_flight_bytes",
            });
        }
        let listen = UdpSocket::bind(config.listen)
            .await
            .map_err(|source| NetemError::Bind {
                addr: config.listen,
                source,
            })?;
        let local_addr = listen.local_addr().map_err(|source| NetemError::Bind {
            addr: config.listen,
            source,
        })?;
        let lane = |direction: Direction| Lane {
            state: Mutex::new(LaneState {
                impairer: Impairer::new(
                    config_for(&config, direction).clone(),
                    config.seed,
                    direction.index() as u64,
                ),
                line: DelayLine::new(config.max_in_flight_bytes),
            }),
            wake: Notify::new(),
            counters: DirectionCounters::default(),
        };
        let shared = Arc::new(Shared {
            epoch: Instant::now(),
            upstream: config.upstream,
            lanes: [
                lane(Direction::ClientToServer),
                lane(Direction::ServerToClient),
            ],
            clients: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            stray: AtomicU64::new(0),
            recv_errors: AtomicU64::new(0),
            tasks: Mutex::new(Some(JoinSet::new())),
        });
        for direction in Direction::BOTH {
            shared.spawn(send_due(shared.clone(), direction));
        }
        shared.spawn(listen_to_clients(
            shared.clone(),
            Arc::new(listen),
            config.max_clients,
        ));
        Ok(ProxyHandle { shared, local_addr })
    }
}

fn config_for(config: &ProxyConfig, direction: Direction) -> &Impairments {
    match direction {
        Direction::ClientToServer => &config.client_to_server,
        Direction::ServerToClient => &config.server_to_client,
    }
}

/// A running proxy. Dropping it stops the proxy too, without waiting for its tasks to end.
#[derive(Debug)]
pub struct ProxyHandle {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
}

impl ProxyHandle {
    /// The address clients send to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server the proxy forwards to.
    pub fn upstream_addr(&self) -> SocketAddr {
        self.shared.upstream
    }

    /// The counters now. They are updated one by one, so a snapshot taken while packets flow
    /// may be a packet apart between fields; once traffic is quiet they add up exactly.
    pub fn stats(&self) -> ProxyStats {
        let shared = &self.shared;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ProxyStats {
            client_to_server: shared.lanes[0].counters.snapshot(),
            server_to_client: shared.lanes[1].counters.snapshot(),
            clients: get(&shared.clients),
            refused: get(&shared.refused),
            stray: get(&shared.stray),
            recv_errors: get(&shared.recv_errors),
        }
    }

    /// The impairments of one direction now.
    pub fn impairments(&self, direction: Direction) -> Impairments {
        self.shared.lane(direction).lock().impairer.config().clone()
    }

    /// Changes the impairments of one direction from the next packet on; copies already
    /// waiting in the delay line keep their release times. Set
    /// [`Impairments::partition`] in both directions to cut the link, and
    /// [`Impairments::none`] to heal it.
    pub fn set_impairments(
        &self,
        direction: Direction,
        impairments: Impairments,
    ) -> Result<(), ImpairmentError> {
        impairments.validate()?;
        self.shared.lane(direction).lock().impairer.set(impairments);
        Ok(())
    }

    /// Stops the proxy and waits until every task has ended, so that the listening port and
    /// every upstream socket are closed when this returns. Copies still waiting in the delay
    /// lines are discarded.
    pub async fn shutdown(self) {
        let tasks = self.shared.take_tasks();
        if let Some(mut tasks) = tasks {
            tasks.shutdown().await;
        }
        self.shared.clear_lanes();
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        // The tasks hold the shared state: abort them (dropping the set does) to break the
        // cycle, and drop the queued copies, which hold sockets.
        drop(self.shared.take_tasks());
        self.shared.clear_lanes();
    }
}

/// State the handle and the tasks share.
#[derive(Debug)]
struct Shared {
    /// Time zero of the impairers' clocks.
    epoch: Instant,
    upstream: SocketAddr,
    /// Client to server, then server to client.
    lanes: [Lane; 2],
    clients: AtomicU64,
    refused: AtomicU64,
    stray: AtomicU64,
    recv_errors: AtomicU64,
    /// `None` once shut down: nothing more is spawned.
    tasks: Mutex<Option<JoinSet<()>>>,
}

impl Shared {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    fn lane(&self, direction: Direction) -> &Lane {
        &self.lanes[direction.index()]
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        if let Some(tasks) = lock(&self.tasks).as_mut() {
            tasks.spawn(task);
        }
    }

    fn take_tasks(&self) -> Option<JoinSet<()>> {
        lock(&self.tasks).take()
    }

    fn clear_lanes(&self) {
        for lane in &self.lanes {
            let mut state = lane.lock();
            let max = state.line.max_bytes();
            state.line = DelayLine::new(max);
        }
    }
}

/// One direction: its impairer, its delay line and its counters.
#[derive(Debug)]
struct Lane {
    state: Mutex<LaneState>,
    /// Wakes the sender when a copy is queued.
    wake: Notify,
    counters: DirectionCounters,
}

#[derive(Debug)]
struct LaneState {
    impairer: Impairer,
    line: DelayLine,
}

impl Lane {
    fn lock(&self) -> MutexGuard<'_, LaneState> {
        lock(&self.state)
    }

    /// Judges a packet that arrived at `now` and queues its surviving copies for `to`, to be
    /// sent from `socket`.
    fn offer(&self, now: Duration, packet: &[u8], socket: &Arc<UdpSocket>, to: SocketAddr) {
        let c = &self.counters;
        bump(&c.packets_in, 1);
        bump(&c.bytes_in, packet.len() as u64);
        let mut queued = false;
        {
            let mut state = self.lock();
            let verdict = state.impairer.judge(now, packet.len());
            if verdict.lost {
                bump(&c.lost, 1);
                return;
            }
            bump(&c.duplicated, u64::from(verdict.duplicated));
            bump(&c.queue_dropped, u64::from(verdict.queue_dropped));
            let payload: Arc<[u8]> = Arc::from(packet);
            for release in verdict.releases.into_iter().flatten() {
                if state
                    .line
                    .push(release.at, payload.clone(), socket.clone(), to)
                {
                    queued = true;
                    bump(&c.in_flight, 1);
                    bump(&c.reordered, u64::from(release.reordered));
                } else {
                    bump(&c.overflow_dropped, 1);
                }
            }
        }
        if queued {
            self.wake.notify_one();
        }
    }
}

/// Locks a mutex, carrying on after a panic elsewhere: the state stays consistent because
/// nothing in this crate panics while holding a lock.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The sender of one direction: sends every copy when it is due.
async fn send_due(shared: Arc<Shared>, direction: Direction) {
    let lane = shared.lane(direction);
    let c = &lane.counters;
    let mut due: Vec<Scheduled> = Vec::new();
    loop {
        let next = lane.lock().line.pop_due(shared.now(), &mut due);
        for copy in due.drain(..) {
            match copy.socket.send_to(&copy.payload, copy.to).await {
                Ok(_) => {
                    bump(&c.packets_out, 1);
                    bump(&c.bytes_out, copy.payload.len() as u64);
                }
                Err(_) => bump(&c.send_errors, 1),
            }
            c.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
        match next {
            Some(at) => {
                tokio::select! {
                    () = lane.wake.notified() => {}
                    () = tokio::time::sleep_until(shared.epoch + at) => {}
                }
            }
            None => lane.wake.notified().await,
        }
    }
}

/// The listener: receives from every client and opens an upstream socket per new client.
async fn listen_to_clients(shared: Arc<Shared>, listen: Arc<UdpSocket>, max_clients: usize) {
    let mut sessions: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let Some((len, client)) = receive(&shared, &listen, &mut buf).await else {
            continue;
        };
        let upstream_socket = match sessions.get(&client) {
            Some(socket) => socket.clone(),
            None if sessions.len() >= max_clients => {
                bump(&shared.refused, 1);
                continue;
            }
            None => match bind_like(shared.upstream).await {
                Ok(socket) => {
                    let socket = Arc::new(socket);
                    sessions.insert(client, socket.clone());
                    bump(&shared.clients, 1);
                    shared.spawn(relay_replies(
                        shared.clone(),
                        socket.clone(),
                        listen.clone(),
                        client,
                    ));
                    socket
                }
                Err(_) => {
                    bump(&shared.refused, 1);
                    continue;
                }
            },
        };
        shared.lane(Direction::ClientToServer).offer(
            shared.now(),
            &buf[..len],
            &upstream_socket,
            shared.upstream,
        );
    }
}

/// One client's session: receives the server's replies on the client's upstream socket.
async fn relay_replies(
    shared: Arc<Shared>,
    upstream_socket: Arc<UdpSocket>,
    listen: Arc<UdpSocket>,
    client: SocketAddr,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let Some((len, from)) = receive(&shared, &upstream_socket, &mut buf).await else {
            continue;
        };
        if from != shared.upstream {
            bump(&shared.stray, 1);
            continue;
        }
        shared
            .lane(Direction::ServerToClient)
            .offer(shared.now(), &buf[..len], &listen, client);
    }
}

/// Receives one datagram. Errors are counted; after one that is not an ICMP echo of an earlier
/// send (which some systems report on the next receive), waits a millisecond so that a
/// persistent error cannot spin.
async fn receive(
    shared: &Shared,
    socket: &UdpSocket,
    buf: &mut [u8],
) -> Option<(usize, SocketAddr)> {
    match socket.recv_from(buf).await {
        Ok(received) => Some(received),
        Err(error) => {
            bump(&shared.recv_errors, 1);
            if !matches!(
                error.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionRefused
                    | io::ErrorKind::Interrupted
            ) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            None
        }
    }
}

/// Binds an ephemeral port from which to reach `peer`: on `peer`'s own address when that is a
/// loopback one (so nothing listens beyond this machine), else on the unspecified address of
/// its family.
async fn bind_like(peer: SocketAddr) -> io::Result<UdpSocket> {
    let ip = match peer {
        _ if peer.ip().is_loopback() => peer.ip(),
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    UdpSocket::bind((ip, 0)).await
}
