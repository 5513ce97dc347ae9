//! Real-socket helpers for the loopback tests: a recording (and optionally echoing) server,
//! numbered packets, and waiting for a condition.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atbus_netem::{Impairments, Proxy, ProxyConfig, ProxyHandle};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long a test waits for something that should happen at once before it fails. A bound on
/// a hung test, not a timing assertion.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// One datagram a [`Server`] received.
#[derive(Debug, Clone)]
pub struct Received {
    pub payload: Vec<u8>,
    pub from: SocketAddr,
    pub at: Instant,
}

/// A UDP server on loopback that records what it receives and, if asked, echoes it.
pub struct Server {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl Server {
    pub async fn start(echo: bool) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind server");
        let addr = socket.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let task_log = log.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            loop {
                let (len, from) = socket.recv_from(&mut buf).await.expect("server recv");
                // Logged before the echo, so that whoever sees the echo sees the log entry.
                task_log.lock().unwrap().push(Received {
                    payload: buf[..len].to_vec(),
                    from,
                    at: Instant::now(),
                });
                if echo {
                    socket.send_to(&buf[..len], from).await.expect("echo");
                }
            }
        });
        Self { addr, log, task }
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.log.lock().unwrap().len()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A proxy on an ephemeral loopback port in front of `server`.
pub async fn proxy(server: SocketAddr, up: Impairments, down: Impairments) -> ProxyHandle {
    let mut config = ProxyConfig::new("127.0.0.1:0".parse().unwrap(), server).with_seed(1);
    config.client_to_server = up;
    config.server_to_client = down;
    Proxy::spawn(config).await.expect("spawn proxy")
}

/// A client socket on an ephemeral loopback port.
pub async fn client() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.expect("bind client")
}

/// A packet numbered `seq`, `len` bytes long (at least 8), the rest a pattern of `seq`.
pub fn packet(seq: u64, len: usize) -> Vec<u8> {
    let mut p = seq.to_be_bytes().to_vec();
    p.extend((0..len.saturating_sub(8)).map(|i| (seq as usize + i) as u8));
    p
}

/// The number of a packet made by [`packet`].
pub fn seq_of(payload: &[u8]) -> u64 {
    u64::from_be_bytes(payload[..8].try_into().unwrap())
}

/// Waits until `done` holds, polling every millisecond; panics after [`PATIENCE`].
pub async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Receives one datagram, or panics after [`PATIENCE`].
pub async fn recv(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 65_536];
    let (len, from) = tokio::time::timeout(PATIENCE, socket.recv_from(&mut buf))
        .await
        .expect("a datagram in time")
        .expect("recv");
    buf.truncate(len);
    (buf, from)
}
