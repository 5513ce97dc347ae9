//! The event loop: virtual time, the event queue, links, workloads and faults.
//!
//! # Model
//!
//! Time is a [`Timestamp`] starting at zero and jumps from event to event; there is no tick.
//! Events are ordered by time, then by the order they were scheduled, so two runs of the same
//! scenario with the same seed process the same events in the same order. Every processed event
//! is folded into a running XXH3 hash (the *trace hash*), which tests compare bit for bit.
//!
//! Events: a transmission arriving at the far end of a link; an endpoint's timer; a workload's
//! next send; a partition starting or healing; a node being killed.
//!
//! After every input to an endpoint the engine applies the drain rule: it polls transmissions
//! (each offered to its link, which decides its fate) and received messages (matched to the
//! workload that sent them, echoed where the workload says so) until both are empty, offers
//! pending bulk data, then re-arms the endpoint's timer from `poll_timeout`.
//!
//! # Invariants
//!
//! - An endpoint is only called while its node is alive.
//! - A timer event is acted on only if it is the endpoint's latest (older ones are stale).
//! - A delivery on a byte-stream link is dropped if the link was reset after it was sent.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::hash::Hasher;

use bytes::Bytes;
use twox_hash::XxHash3_64;

use atbus_core::Timestamp;

use crate::endpoint::{Endpoint, LinkId, MemoryPeaks, NodeId, Received};
use crate::link::{DirectionState, Fate, LinkKind};
use crate::metrics::{DirectionStats, DropCause, MessageRecord, Metrics};
use crate::rng::SimRng;
use crate::scenario::{Direction, Fault, Scenario, ScenarioError, Workload};
use crate::workload;

#[derive(Debug)]
enum EventKind {
    Deliver {
        link: usize,
        dir: u8,
        epoch: u32,
        data: Bytes,
    },
    Timer {
        node: usize,
        generation: u64,
    },
    WorkloadSend {
        workload: usize,
    },
    PartitionStart {
        link: usize,
    },
    PartitionEnd {
        link: usize,
    },
    SetMtu {
        link: usize,
        mtu: Option<u32>,
    },
    Kill {
        node: usize,
    },
}

#[derive(Debug)]
struct Event {
    at: Timestamp,
    seq: u64,
    kind: EventKind,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

struct NodeState {
    endpoint: Box<dyn Endpoint>,
    alive: bool,
    timer_generation: u64,
    armed: Option<Timestamp>,
}

struct LinkState {
    a: usize,
    b: usize,
    kind: LinkKind,
    directions: [DirectionState; 2],
    /// Partitions in force (they may overlap).
    partitions: u32,
    /// Incremented when a byte-stream link is reset; deliveries of older epochs are dropped.
    epoch: u32,
    scripted_drops: BTreeSet<(u8, u64)>,
}

/// Resolved workload: node indices instead of names, plus progress.
struct WorkloadState {
    spec: Workload,
    from: usize,
    to: usize,
    stream: u64,
    sent: u64,
    /// Last id delivered, per receiving side (0: the receiver, 1: the echo's return), for the
    /// order check.
    last_delivered: [Option<u64>; 2],
    /// Bulk: bytes still to offer.
    bulk_remaining: u64,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every workload sent and completed every message.
    Completed,
    /// The deadline came first.
    DeadlineReached,
    /// Nothing was left to happen before the workloads completed (for example a killed node).
    Stalled,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// How the run ended.
    pub outcome: Outcome,
    /// What was measured.
    pub metrics: Metrics,
    /// Hash of every processed event, for determinism checks.
    pub trace_hash: u64,
    /// Per node, in declaration order: the memory peaks its endpoint reported, if it accounts
    /// them.
    pub memory: Vec<Option<MemoryPeaks>>,
}

/// Events at one virtual instant beyond which the run is declared stuck.
const MAX_EVENTS_PER_INSTANT: u64 = 1_000_000;

/// Makes the endpoint of each node.
pub type EndpointFactory<'a> = dyn FnMut(NodeId, &str) -> Box<dyn Endpoint> + 'a;

/// A simulation of one scenario.
pub struct Simulator {
    scenario: Scenario,
    now: Timestamp,
    seq: u64,
    queue: BinaryHeap<Reverse<Event>>,
    nodes: Vec<NodeState>,
    links: Vec<LinkState>,
    workloads: Vec<WorkloadState>,
    metrics: Metrics,
    trace: XxHash3_64,
    /// Messages sent and not yet completed, plus sends not yet made.
    outstanding: u64,
    /// Bulk workloads by sending node.
    bulk_senders: BTreeMap<usize, Vec<usize>>,
    /// Ids of echo messages that reached the echoing side.
    echoed: BTreeSet<u64>,
}

impl Simulator {
    /// Validates `scenario` and sets up a run, making each node's endpoint with `factory`.
    pub fn new(
        scenario: Scenario,
        factory: &mut EndpointFactory<'_>,
    ) -> Result<Self, ScenarioError> {
        scenario.validate()?;
        let nodes = scenario
            .nodes
            .iter()
            .enumerate()
            .map(|(i, name)| NodeState {
                endpoint: factory(NodeId(i), name),
                alive: true,
                timer_generation: 0,
                armed: None,
            })
            .collect();
        let links = scenario
            .links
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let a = scenario.node_index(&spec.a, String::new())?;
                let b = scenario.node_index(&spec.b, String::new())?;
                let rng = |dir: u64| {
                    SimRng::stream(scenario.seed, 0x4c49_4e4b_0000_0000 | (i as u64) << 1 | dir)
                };
                Ok(LinkState {
                    a,
                    b,
                    kind: spec.kind,
                    directions: [
                        DirectionState::new(spec.a_to_b.clone(), spec.kind, rng(0)),
                        DirectionState::new(spec.b_to_a.clone(), spec.kind, rng(1)),
                    ],
                    partitions: 0,
                    epoch: 0,
                    scripted_drops: BTreeSet::new(),
                })
            })
            .collect::<Result<Vec<_>, ScenarioError>>()?;
        let mut sim = Self {
            now: Timestamp::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            nodes,
            links,
            workloads: Vec::new(),
            metrics: Metrics::default(),
            trace: XxHash3_64::with_seed(scenario.seed),
            outstanding: 0,
            bulk_senders: BTreeMap::new(),
            echoed: BTreeSet::new(),
            scenario,
        };
        sim.schedule_workloads()?;
        sim.schedule_faults()?;
        for link in 0..sim.links.len() {
            sim.metrics
                .directions
                .insert((link, 0), DirectionStats::default());
            sim.metrics
                .directions
                .insert((link, 1), DirectionStats::default());
        }
        for link in 0..sim.links.len() {
            sim.link_up(link);
        }
        Ok(sim)
    }

    fn schedule(&mut self, at: Timestamp, kind: EventKind) {
        self.seq += 1;
        self.queue.push(Reverse(Event {
            at,
            seq: self.seq,
            kind,
        }));
    }

    fn schedule_workloads(&mut self) -> Result<(), ScenarioError> {
        for (i, spec) in self.scenario.workloads.clone().into_iter().enumerate() {
            let (from, to, stream, start, total) = match &spec {
                Workload::Messages {
                    from,
                    to,
                    stream,
                    start,
                    count,
                    ..
                } => (from, to, *stream, *start, *count),
                Workload::Echo {
                    client,
                    server,
                    stream,
                    start,
                    count,
                    ..
                } => (client, server, *stream, *start, *count),
                Workload::Bulk {
                    from,
                    to,
                    stream,
                    start,
                    total_bytes,
                    message_size,
                    ..
                } => (
                    from,
                    to,
                    *stream,
                    *start,
                    total_bytes.div_ceil(*message_size as u64),
                ),
            };
            let from = self.scenario.node_index(from, String::new())?;
            let to = self.scenario.node_index(to, String::new())?;
            let bulk_remaining = match &spec {
                Workload::Bulk { total_bytes, .. } => *total_bytes,
                _ => 0,
            };
            self.outstanding += total;
            self.workloads.push(WorkloadState {
                spec,
                from,
                to,
                stream,
                sent: 0,
                last_delivered: [None; 2],
                bulk_remaining,
            });
            self.schedule(
                Timestamp::ZERO + start,
                EventKind::WorkloadSend { workload: i },
            );
        }
        Ok(())
    }

    fn schedule_faults(&mut self) -> Result<(), ScenarioError> {
        for fault in self.scenario.faults.clone() {
            match fault {
                Fault::Partition { link, from, until } => {
                    self.schedule(Timestamp::ZERO + from, EventKind::PartitionStart { link });
                    self.schedule(Timestamp::ZERO + until, EventKind::PartitionEnd { link });
                }
                Fault::DropPacket {
                    link,
                    direction,
                    index,
                } => {
                    let dir = match direction {
                        Direction::AToB => 0,
                        Direction::BToA => 1,
                    };
                    self.links[link].scripted_drops.insert((dir, index));
                }
                Fault::KillNode { node, at } => {
                    let node = self.scenario.node_index(&node, String::new())?;
                    self.schedule(Timestamp::ZERO + at, EventKind::Kill { node });
                }
                Fault::SetMtu { link, at, mtu } => {
                    self.schedule(Timestamp::ZERO + at, EventKind::SetMtu { link, mtu });
                }
            }
        }
        Ok(())
    }

    fn link_up(&mut self, link: usize) {
        let (a, b, kind) = (
            self.links[link].a,
            self.links[link].b,
            self.links[link].kind,
        );
        for (node, peer) in [(a, b), (b, a)] {
            if self.nodes[node].alive && self.nodes[peer].alive {
                let now = self.now;
                self.nodes[node]
                    .endpoint
                    .handle_link_up(now, LinkId(link), NodeId(peer), kind);
                self.drain(node);
            }
        }
    }

    fn link_down(&mut self, link: usize) {
        let (a, b) = (self.links[link].a, self.links[link].b);
        for node in [a, b] {
            if self.nodes[node].alive {
                let now = self.now;
                self.nodes[node]
                    .endpoint
                    .handle_link_down(now, LinkId(link));
                self.drain(node);
            }
        }
    }

    /// Runs the scenario to completion, the deadline, or a stall.
    pub fn run(mut self) -> RunReport {
        let deadline = Timestamp::ZERO + self.scenario.deadline;
        let mut same_instant = 0u64;
        let outcome = loop {
            if self.outstanding == 0 && !self.workloads.is_empty() {
                break Outcome::Completed;
            }
            let Some(Reverse(event)) = self.queue.pop() else {
                break Outcome::Stalled;
            };
            if event.at > deadline {
                self.now = deadline;
                break Outcome::DeadlineReached;
            }
            if event.at == self.now {
                same_instant += 1;
                // An endpoint that keeps asking for a timeout it does not act on would spin here
                // forever; fail loudly instead.
                if same_instant >= MAX_EVENTS_PER_INSTANT {
                    let node = match &event.kind {
                        EventKind::Timer { node, .. } | EventKind::Kill { node } => {
                            format!(", last event for node {:?}", self.scenario.nodes[*node])
                        }
                        _ => String::new(),
                    };
                    panic!(
                        "no progress in scenario {:?} with seed {}: {same_instant} events at {:?} \
                         (an endpoint's timer does not advance{node})\nreplay: {}={}",
                        self.scenario.name,
                        self.scenario.seed,
                        self.now,
                        crate::seeds::SEED_ENV,
                        self.scenario.seed,
                    );
                }
            } else {
                same_instant = 0;
            }
            self.now = event.at;
            self.metrics.events += 1;
            self.trace.write_u64(event.at.as_nanos());
            self.process(event.kind);
        };
        self.metrics.ended_at = self.now;
        RunReport {
            scenario: self.scenario.name.clone(),
            seed: self.scenario.seed,
            outcome,
            trace_hash: self.trace.finish(),
            memory: self
                .nodes
                .iter()
                .map(|n| n.endpoint.memory_peaks())
                .collect(),
            metrics: self.metrics,
        }
    }

    fn process(&mut self, kind: EventKind) {
        match kind {
            EventKind::Deliver {
                link,
                dir,
                epoch,
                data,
            } => self.deliver(link, dir, epoch, data),
            EventKind::Timer { node, generation } => {
                self.trace.write_u8(1);
                self.trace.write_usize(node);
                let state = &mut self.nodes[node];
                if state.alive && state.timer_generation == generation {
                    state.armed = None;
                    let now = self.now;
                    state.endpoint.handle_timeout(now);
                    self.drain(node);
                }
            }
            EventKind::WorkloadSend { workload } => {
                self.trace.write_u8(2);
                self.trace.write_usize(workload);
                self.workload_send(workload);
            }
            EventKind::PartitionStart { link } => {
                self.trace.write_u8(3);
                self.trace.write_usize(link);
                self.links[link].partitions += 1;
                if self.links[link].kind == LinkKind::ByteStream && self.links[link].partitions == 1
                {
                    let now = self.now;
                    let state = &mut self.links[link];
                    state.epoch += 1;
                    state.directions.iter_mut().for_each(|d| d.reset(now));
                    self.link_down(link);
                }
            }
            EventKind::PartitionEnd { link } => {
                self.trace.write_u8(4);
                self.trace.write_usize(link);
                self.links[link].partitions -= 1;
                if self.links[link].kind == LinkKind::ByteStream && self.links[link].partitions == 0
                {
                    self.link_up(link);
                }
            }
            EventKind::SetMtu { link, mtu } => {
                self.trace.write_u8(6);
                self.trace.write_usize(link);
                self.trace.write_u32(mtu.unwrap_or(0));
                for direction in &mut self.links[link].directions {
                    direction.config.mtu = mtu;
                }
            }
            EventKind::Kill { node } => {
                self.trace.write_u8(5);
                self.trace.write_usize(node);
                if self.nodes[node].alive {
                    self.nodes[node].alive = false;
                    let touching: Vec<usize> = (0..self.links.len())
                        .filter(|&l| self.links[l].a == node || self.links[l].b == node)
                        .collect();
                    for link in touching {
                        self.links[link].epoch += 1;
                        self.link_down(link);
                    }
                }
            }
        }
    }

    fn drop_counted(&mut self, link: usize, dir: u8, cause: DropCause) {
        let stats = self.metrics.directions.entry((link, dir)).or_default();
        *stats.drops.entry(cause).or_default() += 1;
        self.trace.write_u8(0x10 | cause as u8);
    }

    fn deliver(&mut self, link: usize, dir: u8, epoch: u32, data: Bytes) {
        self.trace.write_u8(0);
        self.trace.write_usize(link);
        self.trace.write_u8(dir);
        self.trace.write(&data);
        let state = &mut self.links[link];
        let direction = &mut state.directions[dir as usize];
        direction.in_flight = direction.in_flight.saturating_sub(1);
        let receiver = if dir == 0 { state.b } else { state.a };
        let stale = epoch != state.epoch;
        let cut = state.kind == LinkKind::Datagram && state.partitions > 0;
        if stale || !self.nodes[receiver].alive {
            return self.drop_counted(link, dir, DropCause::Unreachable);
        }
        if cut {
            return self.drop_counted(link, dir, DropCause::Partition);
        }
        let stats = self.metrics.directions.entry((link, dir)).or_default();
        stats.packets_delivered += 1;
        stats.bytes_delivered += data.len() as u64;
        self.metrics.deliveries += 1;
        let now = self.now;
        self.nodes[receiver]
            .endpoint
            .handle_input(now, LinkId(link), data);
        self.drain(receiver);
    }

    fn transmit(&mut self, node: usize, link: LinkId, data: Bytes) {
        let Some(state) = self.links.get_mut(link.0) else {
            // An endpoint sent on a link that does not exist: a bug in the endpoint.
            panic!("node {node} transmitted on unknown link {link:?}");
        };
        let dir: u8 = if state.a == node {
            0
        } else {
            assert_eq!(
                state.b, node,
                "node {node} transmitted on link {link:?}, which is not its own"
            );
            1
        };
        let direction = &mut state.directions[dir as usize];
        let index = direction.offered;
        let scripted = state.scripted_drops.remove(&(dir, index));
        let partitioned = state.partitions > 0;
        let fate = direction.offer(self.now, data.len(), partitioned, scripted);
        let epoch = state.epoch;
        let stats = self.metrics.directions.entry((link.0, dir)).or_default();
        stats.packets_sent += 1;
        stats.bytes_sent += data.len() as u64;
        match fate {
            Fate::Dropped(cause) => self.drop_counted(link.0, dir, cause),
            Fate::Delivered { arrival, duplicate } => {
                if let Some(again) = duplicate {
                    self.schedule(
                        again,
                        EventKind::Deliver {
                            link: link.0,
                            dir,
                            epoch,
                            data: data.clone(),
                        },
                    );
                }
                self.schedule(
                    arrival,
                    EventKind::Deliver {
                        link: link.0,
                        dir,
                        epoch,
                        data,
                    },
                );
            }
        }
    }

    /// The drain rule, then re-arming the node's timer.
    fn drain(&mut self, node: usize) {
        let now = self.now;
        let mut received = Vec::new();
        loop {
            let mut progressed = false;
            // Messages first: the application's answers (echoes) then leave in the same
            // transmissions as the acknowledgements of what they answer.
            while let Some(message) = self.nodes[node].endpoint.poll_received() {
                received.push(message);
            }
            for message in received.drain(..) {
                self.on_received(node, message);
                progressed = true;
            }
            while let Some(transmit) = self.nodes[node].endpoint.poll_transmit(now) {
                self.transmit(node, transmit.link, transmit.data);
                progressed = true;
            }
            if self.offer_bulk(node) {
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        let state = &mut self.nodes[node];
        let next = state.endpoint.poll_timeout();
        if next != state.armed {
            state.armed = next;
            state.timer_generation += 1;
            if let Some(at) = next {
                let generation = state.timer_generation;
                self.schedule(at.max(now), EventKind::Timer { node, generation });
            }
        }
    }

    fn new_message(&mut self, workload: usize, size: usize) -> (u64, Bytes) {
        let id = self.metrics.messages.len() as u64;
        self.metrics.messages.push(MessageRecord {
            workload,
            size,
            sent_at: self.now,
            completed_at: None,
        });
        (id, workload::payload(id, size))
    }

    fn send(&mut self, from: usize, to: usize, stream: u64, payload: Bytes) -> bool {
        let now = self.now;
        match self.nodes[from]
            .endpoint
            .send_message(now, NodeId(to), stream, payload)
        {
            Ok(()) => true,
            Err(_) => {
                self.metrics.send_failures += 1;
                false
            }
        }
    }

    fn workload_send(&mut self, w: usize) {
        let state = &self.workloads[w];
        let (from, to, stream) = (state.from, state.to, state.stream);
        let (size, interval, count) = match state.spec {
            Workload::Messages {
                size,
                interval,
                count,
                ..
            }
            | Workload::Echo {
                size,
                interval,
                count,
                ..
            } => (size, interval, count),
            Workload::Bulk { .. } => {
                self.bulk_senders.entry(from).or_default().push(w);
                if self.nodes[from].alive {
                    self.drain(from);
                }
                return;
            }
        };
        if !self.nodes[from].alive {
            return;
        }
        let (_, payload) = self.new_message(w, size);
        self.workloads[w].sent += 1;
        if !self.send(from, to, stream, payload) {
            // A refused message will never complete.
            self.outstanding -= 1;
        }
        self.drain(from);
        if self.workloads[w].sent < count {
            let at = self.now + interval;
            self.schedule(at, EventKind::WorkloadSend { workload: w });
        }
    }

    /// Offers bulk data of `node` until its endpoint refuses; true if anything was accepted.
    fn offer_bulk(&mut self, node: usize) -> bool {
        // Indexed rather than cloned: this runs on every drain of a bulk sender.
        let count = self.bulk_senders.get(&node).map_or(0, Vec::len);
        let mut accepted = false;
        for i in 0..count {
            let w = self.bulk_senders[&node][i];
            let Workload::Bulk { message_size, .. } = self.workloads[w].spec else {
                continue;
            };
            while self.workloads[w].bulk_remaining > 0 {
                let size = (message_size as u64).min(self.workloads[w].bulk_remaining) as usize;
                let size = size.max(workload::MIN_MESSAGE_SIZE);
                let (from, to, stream) = (
                    self.workloads[w].from,
                    self.workloads[w].to,
                    self.workloads[w].stream,
                );
                let id = self.metrics.messages.len() as u64;
                let payload = workload::payload(id, size);
                let now = self.now;
                match self.nodes[from]
                    .endpoint
                    .send_message(now, NodeId(to), stream, payload)
                {
                    Ok(()) => {
                        self.new_message(w, size);
                        let state = &mut self.workloads[w];
                        state.sent += 1;
                        state.bulk_remaining = state.bulk_remaining.saturating_sub(size as u64);
                        accepted = true;
                    }
                    Err(_) => break,
                }
            }
        }
        accepted
    }

    fn on_received(&mut self, node: usize, message: Received) {
        let messages = &self.metrics.messages;
        let Some(id) = workload::check(&message.payload, |id| {
            messages.get(id as usize).map(|m| m.size)
        }) else {
            self.metrics.corrupted_deliveries += 1;
            return;
        };
        let w = self.metrics.messages[id as usize].workload;
        let state = &self.workloads[w];
        let (from, to, stream) = (state.from, state.to, state.stream);
        let echo = matches!(state.spec, Workload::Echo { .. });
        let side = if node == to && message.from == NodeId(from) {
            0
        } else if echo && node == from && message.from == NodeId(to) {
            1
        } else {
            // Delivered to the wrong node, or claiming the wrong sender.
            self.metrics.corrupted_deliveries += 1;
            return;
        };
        if message.stream != stream {
            self.metrics.corrupted_deliveries += 1;
            return;
        }
        let first_delivery = if side == 0 && echo {
            self.echoed.insert(id)
        } else {
            self.metrics.messages[id as usize].completed_at.is_none()
        };
        if !first_delivery {
            self.metrics.duplicate_deliveries += 1;
            return;
        }
        let last = &mut self.workloads[w].last_delivered[side];
        if last.is_some_and(|last| id < last) {
            self.metrics.out_of_order_deliveries += 1;
        } else {
            *last = Some(id);
        }
        if echo && side == 0 {
            self.send(to, from, stream, message.payload);
            return;
        }
        self.metrics.messages[id as usize].completed_at = Some(self.now);
        self.outstanding -= 1;
    }
}
