//! B6 — idle scale: one node with 10,000 idle peers.
//!
//! A hub node accepts N transports (N client nodes in the same process, joined to it by
//! in-memory pipes, one registration handshake each, established 1 ms apart), then everything
//! idles for two minutes of virtual time. Printed:
//!
//! - memory per idle connection on the hub: the hub's heap (counted by an instrumented global
//!   allocator, `stats_alloc`) with N sessions, minus an empty hub's, divided by N — measured by
//!   dropping the hub and counting what the drop freed, so the clients' memory is not counted;
//! - the hub's work while idle: how often its timer fired, what it sent, and how that compares
//!   with one keep-alive per connection per ping interval (8 s).
//!
//! Run: `cargo run --release -p atbus-bench --bin b6_idle [N]`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use atbus_core::Timestamp;
use atbus_core::node::{Node, NodeConfig, NodeEvent, TransportId, TransportKind};
use bytes::BytesMut;
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Heap bytes in use now.
fn live() -> i64 {
    let stats = GLOBAL.stats();
    stats.bytes_allocated as i64 - stats.bytes_deallocated as i64 + stats.bytes_reallocated as i64
}

/// The hub, its clients, and which client transport each hub transport is joined to.
struct Bus {
    hub: Node,
    clients: Vec<(Node, TransportId)>,
    /// Hub transport → client index.
    by_hub_transport: std::collections::BTreeMap<TransportId, usize>,
    hub_transport: Vec<TransportId>,
    kind: TransportKind,
    buf: BytesMut,
    hub_datagrams: u64,
    hub_bytes: u64,
}

impl Bus {
    /// Moves everything the hub and the clients in `work` want to send, following replies:
    /// a client that receives something is drained too. Returns the clients touched, whose
    /// timers may have moved.
    fn exchange(&mut self, now: Timestamp, mut work: Vec<usize>) -> Vec<usize> {
        let mut touched = Vec::new();
        loop {
            self.buf.clear();
            while let Some(t) = self.hub.poll_transmit(now, &mut self.buf) {
                let data = self.buf.split().freeze();
                self.hub_datagrams += 1;
                self.hub_bytes += data.len() as u64;
                if let Some(&i) = self.by_hub_transport.get(&t) {
                    let (client, ct) = &mut self.clients[i];
                    client.handle_input(now, *ct, data);
                    work.push(i);
                }
            }
            while let Some(event) = self.hub.poll_event() {
                if let NodeEvent::PeerDown { peer, reason } = event {
                    panic!("{peer} went down while idle: {reason:?}");
                }
            }
            let Some(i) = work.pop() else {
                return touched;
            };
            touched.push(i);
            let (client, _) = &mut self.clients[i];
            while client.poll_transmit(now, &mut self.buf).is_some() {
                let data = self.buf.split().freeze();
                self.hub.handle_input(now, self.hub_transport[i], data);
            }
            while client.poll_event().is_some() {}
        }
    }
}

fn run(n: usize, kind: TransportKind) {
    let empty_before = live();
    let empty = Node::new(NodeConfig::new("hub-1")).expect("valid name");
    let empty_bytes = live() - empty_before;
    drop(empty);

    let mut bus = Bus {
        hub: Node::new(NodeConfig::new("hub-1")).expect("valid name"),
        clients: Vec::with_capacity(n),
        by_hub_transport: Default::default(),
        hub_transport: Vec::with_capacity(n),
        kind,
        buf: BytesMut::with_capacity(64 * 1024),
        hub_datagrams: 0,
        hub_bytes: 0,
    };
    let started = Instant::now();
    for i in 0..n {
        let now = Timestamp::from_millis(i as u64);
        let mut client = Node::new(NodeConfig {
            seed: i as u64 + 1,
            ..NodeConfig::new(format!("peer-{i:05}"))
        })
        .expect("valid name");
        let ct = client.handle_transport_connected(now, bus.kind, Some("hub-1"));
        let ht = bus.hub.handle_transport_accepted(now, bus.kind);
        bus.clients.push((client, ct));
        bus.by_hub_transport.insert(ht, i);
        bus.hub_transport.push(ht);
        bus.exchange(now, vec![i]);
    }
    let setup = started.elapsed();
    let sessions = bus.hub.peers().count();
    assert_eq!(sessions, n, "every client has a session with the hub");

    // Idle for two minutes of virtual time: the hub's timer fires only when something is due.
    let idle_from = Timestamp::from_millis(n as u64);
    let idle_until = idle_from + Duration::from_secs(120);
    let (datagrams_before, bytes_before) = (bus.hub_datagrams, bus.hub_bytes);
    let mut wakeups = 0u64;
    let idle_started = Instant::now();
    // Clients' timers in a heap (stale entries are skipped when popped).
    let mut client_timers: BinaryHeap<Reverse<(Timestamp, usize)>> = bus
        .clients
        .iter()
        .enumerate()
        .filter_map(|(i, (c, _))| c.poll_timeout().map(|t| Reverse((t, i))))
        .collect();
    loop {
        let client_next = client_timers.peek().map(|Reverse((t, _))| *t);
        let hub_next = bus.hub.poll_timeout();
        let Some(now) = client_next
            .into_iter()
            .chain(hub_next)
            .min()
            .filter(|t| *t <= idle_until)
        else {
            break;
        };
        let mut work = Vec::new();
        if hub_next.is_some_and(|t| t <= now) {
            wakeups += 1;
            bus.hub.handle_timeout(now);
        }
        while let Some(&Reverse((t, i))) = client_timers.peek() {
            if t > now {
                break;
            }
            client_timers.pop();
            let (client, _) = &mut bus.clients[i];
            if client.poll_timeout() == Some(t) {
                client.handle_timeout(now);
                work.push(i);
            }
        }
        for i in bus.exchange(now, work) {
            if let Some(t) = bus.clients[i].0.poll_timeout() {
                client_timers.push(Reverse((t, i)));
            }
        }
    }
    let idle_wall = idle_started.elapsed();
    let idle_datagrams = bus.hub_datagrams - datagrams_before;
    let idle_bytes = bus.hub_bytes - bytes_before;

    let before = live();
    let Bus { hub, clients, .. } = bus;
    drop(hub);
    let hub_bytes = before - live();
    drop(clients);

    let per_connection = (hub_bytes - empty_bytes) as f64 / n as f64;
    let intervals = 120.0 / 8.0;
    println!(
        "{kind:?}: {n} idle peers; hub heap {:.1} MiB, empty hub {empty_bytes} B => {per_connection:.0} B per idle connection (target <= 8,192: {})",
        hub_bytes as f64 / (1024.0 * 1024.0),
        if per_connection <= 8192.0 {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "  idle 120 s (virtual): hub timer fired {wakeups} times ({:.2} per connection per 8 s ping interval), sent {idle_datagrams} frames / {idle_bytes} B ({:.2} frames per connection per interval); wall time {:.2} s, setup {:.2} s",
        wakeups as f64 / n as f64 / intervals,
        idle_datagrams as f64 / n as f64 / intervals,
        idle_wall.as_secs_f64(),
        setup.as_secs_f64()
    );
}

fn main() {
    let n = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("a number of peers"))
        .unwrap_or(10_000);
    println!("B6: idle scale, one hub node, same run for both transport kinds");
    run(n, TransportKind::Datagram);
    run(n, TransportKind::ByteStream);
}
