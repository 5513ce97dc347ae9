//! Misbehaving peers against a node, for several seeds each: a second instance claiming a
//! connected name, a peer speaking an unsupported version, a peer opening more streams than
//! allowed, one sending a message larger than allowed, one sending beyond the flow-control
//! window. Each is refused or closed with a typed reason and counted in the node's metrics,
//! while two well-behaved peers of the same node deliver every message exactly once.
//!
//! Replay one seed: `ATBUS_SIM_SEED=<seed> cargo test -p atbus-sim --test node_misbehaving`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use atbus_core::Timestamp;
use atbus_core::connection::ConnectionConfig;
use atbus_core::handshake::{HandshakeError, VersionRange};
use atbus_core::metrics::{NodeMetrics, PeerMetrics};
use atbus_core::node::NodeConfig;
use atbus_core::proto::CloseReason;
use atbus_sim::seeds::for_each_seed;
use atbus_sim::{
    Endpoint, LinkConfig, LinkId, LinkKind, LossModel, MemoryPeaks, MisbehavingPeer, NodeEndpoint,
    NodeId, Offence, Received, RunReport, Scenario, SendError, Simulator, Transmit, Workload,
};

const SERVER: &str = "server-1";

// ----- watching an endpoint until the simulator drops it -----

/// An endpoint that hands a view of itself to the test when the simulator is done with it,
/// and, when it has `after_input`, after every input it handled.
struct Watched<E: Endpoint> {
    inner: E,
    on_drop: Look<E>,
    after_input: Option<Look<E>>,
}

/// A look at an endpoint.
type Look<E> = Box<dyn FnMut(&E)>;

impl<E: Endpoint> Watched<E> {
    fn new(inner: E, on_drop: Look<E>) -> Self {
        Self {
            inner,
            on_drop,
            after_input: None,
        }
    }
}

impl<E: Endpoint> Drop for Watched<E> {
    fn drop(&mut self) {
        (self.on_drop)(&self.inner);
    }
}

impl<E: Endpoint> Endpoint for Watched<E> {
    fn handle_link_up(&mut self, now: Timestamp, link: LinkId, peer: NodeId, kind: LinkKind) {
        self.inner.handle_link_up(now, link, peer, kind)
    }
    fn handle_link_down(&mut self, now: Timestamp, link: LinkId) {
        self.inner.handle_link_down(now, link)
    }
    fn handle_input(&mut self, now: Timestamp, link: LinkId, data: Bytes) {
        self.inner.handle_input(now, link, data);
        if let Some(after) = &mut self.after_input {
            after(&self.inner);
        }
    }
    fn handle_timeout(&mut self, now: Timestamp) {
        self.inner.handle_timeout(now)
    }
    fn send_message(
        &mut self,
        now: Timestamp,
        to: NodeId,
        stream: u64,
        payload: Bytes,
    ) -> Result<(), SendError> {
        self.inner.send_message(now, to, stream, payload)
    }
    fn poll_transmit(&mut self, now: Timestamp) -> Option<Transmit> {
        self.inner.poll_transmit(now)
    }
    fn poll_received(&mut self) -> Option<Received> {
        self.inner.poll_received()
    }
    fn poll_timeout(&mut self) -> Option<Timestamp> {
        self.inner.poll_timeout()
    }
    fn memory_peaks(&self) -> Option<MemoryPeaks> {
        self.inner.memory_peaks()
    }
}

/// An endpoint whose links come up only once `open` is set: the twin registers only after the
/// server admitted game-1. A fixed head start cannot promise that: game-1's link loses 3 % of
/// its datagrams, its `register` among them, and a datagram initiator sends it again only
/// after 1 s (§6), so game-1 may register long after any short delay — and then the twin is
/// the first claimant and rightly holds the name (seed 42).
struct Gated<E: Endpoint> {
    inner: E,
    open: Rc<Cell<bool>>,
    /// Link-ups held back while closed.
    held: Vec<(LinkId, NodeId, LinkKind)>,
    /// The latest time the simulator told us, to check the gate again soon after.
    now: Timestamp,
}

/// How often a closed gate is checked.
const GATE_CHECK: Duration = Duration::from_millis(5);

impl<E: Endpoint> Gated<E> {
    fn release(&mut self, now: Timestamp) {
        self.now = now;
        if self.open.get() {
            for (link, peer, kind) in std::mem::take(&mut self.held) {
                self.inner.handle_link_up(now, link, peer, kind);
            }
        }
    }
}

impl<E: Endpoint> Endpoint for Gated<E> {
    fn handle_link_up(&mut self, now: Timestamp, link: LinkId, peer: NodeId, kind: LinkKind) {
        self.held.push((link, peer, kind));
        self.release(now);
    }
    fn handle_link_down(&mut self, now: Timestamp, link: LinkId) {
        self.held.retain(|&(l, ..)| l != link);
        self.inner.handle_link_down(now, link)
    }
    fn handle_input(&mut self, now: Timestamp, link: LinkId, data: Bytes) {
        self.release(now);
        self.inner.handle_input(now, link, data)
    }
    fn handle_timeout(&mut self, now: Timestamp) {
        self.release(now);
        self.inner.handle_timeout(now)
    }
    fn send_message(
        &mut self,
        now: Timestamp,
        to: NodeId,
        stream: u64,
        payload: Bytes,
    ) -> Result<(), SendError> {
        self.release(now);
        self.inner.send_message(now, to, stream, payload)
    }
    fn poll_transmit(&mut self, now: Timestamp) -> Option<Transmit> {
        self.inner.poll_transmit(now)
    }
    fn poll_received(&mut self) -> Option<Received> {
        self.inner.poll_received()
    }
    fn poll_timeout(&mut self) -> Option<Timestamp> {
        let inner = self.inner.poll_timeout();
        if self.held.is_empty() {
            return inner;
        }
        let check = self.now + GATE_CHECK;
        Some(inner.map_or(check, |t| t.min(check)))
    }
    fn memory_peaks(&self) -> Option<MemoryPeaks> {
        self.inner.memory_peaks()
    }
}

/// A node's figures at the end of a run.
#[derive(Debug, Default)]
struct NodeView {
    metrics: NodeMetrics,
    /// Every peer with a live session, with its metrics.
    peers: Vec<(String, PeerMetrics)>,
    /// Packets refused (left unacknowledged) over all live paths.
    packets_refused: u64,
}

impl NodeView {
    fn of(endpoint: &NodeEndpoint) -> Self {
        let node = endpoint.node();
        let peers: Vec<(String, PeerMetrics)> = node
            .peers()
            .map(|p| (p.to_owned(), node.peer_metrics(p).expect("live peer")))
            .collect();
        let packets_refused = peers
            .iter()
            .filter_map(|(p, _)| node.session(p))
            .flat_map(|s| s.paths().map(|(_, path)| path.stats().packets_refused))
            .sum();
        Self {
            metrics: node.metrics().clone(),
            peers,
            packets_refused,
        }
    }

    fn peer(&self, name: &str) -> Option<&PeerMetrics> {
        self.peers.iter().find(|(p, _)| p == name).map(|(_, m)| m)
    }
}

/// What the misbehaving peer saw.
#[derive(Debug, Default)]
struct RogueView {
    handshake_error: Option<HandshakeError>,
    closed_with: Option<CloseReason>,
    offences: u64,
}

type Shared<T> = Rc<RefCell<T>>;

// ----- the scenario -----

/// Who misbehaves.
enum Rogue {
    /// A second node instance called `game-1`.
    Twin,
    /// A misbehaving peer called `rogue-1` whose connections follow `config`.
    Peer(ConnectionConfig, Offence),
}

fn lossy() -> LinkConfig {
    LinkConfig {
        delay: Duration::from_millis(10),
        jitter: Duration::from_millis(5),
        fifo: false,
        loss: LossModel::Random { probability: 0.03 },
        duplicate: 0.01,
        reorder: 0.03,
        reorder_delay: Duration::from_millis(10),
        ..LinkConfig::default()
    }
}

/// The server's settings: small limits, so that they are easy to break.
fn server_config() -> NodeConfig {
    let mut config = NodeConfig::new("placeholder");
    config.connection.max_streams = 16;
    config.connection.max_message_size = 64 * 1024;
    config
}

/// Nodes: the rogue (0, so that it initiates), `game-1` (1), `game-2` (2) and the server (3).
/// game-1 talks with the server both ways over a lossy datagram link, game-2 sends to it over
/// a byte stream; the rogue's link to the server is `rogue_link` with a clean 40 ms delay. A
/// twin's link comes up only once the server has admitted game-1 (see [`Gated`]).
fn run(
    test: &str,
    seed: u64,
    rogue: Rogue,
    rogue_link: LinkKind,
) -> Result<(RunReport, NodeView, RogueView), String> {
    let rogue_name = match rogue {
        Rogue::Twin => "game-1-twin",
        Rogue::Peer(..) => "rogue-1",
    };
    let scenario = Scenario::new(test, seed)
        .node(rogue_name)
        .node("game-1")
        .node("game-2")
        .node(SERVER)
        .link(
            rogue_name,
            SERVER,
            rogue_link,
            LinkConfig {
                delay: Duration::from_millis(40),
                ..LinkConfig::default()
            },
        )
        .link("game-1", SERVER, LinkKind::Datagram, lossy())
        .link(
            "game-2",
            SERVER,
            LinkKind::ByteStream,
            LinkConfig {
                delay: Duration::from_millis(5),
                ..LinkConfig::default()
            },
        )
        .workload(messages("game-1", SERVER, 1, 400))
        .workload(messages(SERVER, "game-1", 2, 200))
        .workload(messages("game-2", SERVER, 3, 300))
        .deadline(Duration::from_secs(60));
    let names = scenario.nodes.clone();
    let server: Shared<NodeView> = Rc::default();
    let seen: Shared<RogueView> = Rc::default();
    // Set once the server has a session with game-1 (the real one: the twin waits for it).
    let game_1_admitted: Rc<Cell<bool>> = Rc::default();
    let mut rogue = Some(rogue);
    let mut factory = |id: NodeId, _: &str| -> Box<dyn Endpoint> {
        match id.0 {
            0 => match rogue.take().expect("one rogue") {
                Rogue::Twin => {
                    // Its own name, as it believes it, is game-1; it claims it only while
                    // game-1 holds it.
                    let mut twin_names = names.clone();
                    twin_names[0] = "game-1".into();
                    Box::new(Gated {
                        inner: NodeEndpoint::new(id, twin_names, NodeConfig::new("x")),
                        open: game_1_admitted.clone(),
                        held: Vec::new(),
                        now: Timestamp::ZERO,
                    })
                }
                Rogue::Peer(config, offence) => {
                    let seen = seen.clone();
                    Box::new(Watched::new(
                        MisbehavingPeer::new("rogue-1", seed, NodeId(3), config, offence),
                        Box::new(move |peer: &MisbehavingPeer| {
                            *seen.borrow_mut() = RogueView {
                                handshake_error: peer.handshake_error().cloned(),
                                closed_with: peer.closed_with(),
                                offences: peer.offences(),
                            }
                        }),
                    ))
                }
            },
            3 => {
                let server = server.clone();
                let mut watched = Watched::new(
                    NodeEndpoint::new(id, names.clone(), server_config()),
                    Box::new(move |node: &NodeEndpoint| *server.borrow_mut() = NodeView::of(node)),
                );
                let admitted = game_1_admitted.clone();
                watched.after_input = Some(Box::new(move |node: &NodeEndpoint| {
                    if node.node().session("game-1").is_some() {
                        admitted.set(true);
                    }
                }));
                Box::new(watched)
            }
            _ => Box::new(NodeEndpoint::new(id, names.clone(), NodeConfig::new("x"))),
        }
    };
    let report = Simulator::new(scenario, &mut factory)
        .map_err(|e| e.to_string())?
        .run();
    let server = server.take();
    let seen = seen.take();
    Ok((report, server, seen))
}

fn messages(from: &str, to: &str, stream: u64, count: u64) -> Workload {
    Workload::Messages {
        from: from.into(),
        to: to.into(),
        stream,
        size: 500,
        interval: Duration::from_millis(4),
        count,
        start: Duration::ZERO,
    }
}

/// The well-behaved peers were not disturbed: every message arrived exactly once, their
/// sessions are the ones they started with (one path each, none closed), and the only session
/// the server ended is the rogue's (if any).
fn others_unaffected(report: &RunReport, server: &NodeView, ended: u64) -> Result<(), String> {
    report.check_delivered_exactly_once()?;
    for peer in ["game-1", "game-2"] {
        let metrics = server
            .peer(peer)
            .ok_or_else(|| format!("the server has no session with {peer}: {server:?}"))?;
        if metrics.connections != 1 || metrics.transport.closed.total() != 0 {
            return Err(format!("{peer}'s session was disturbed: {metrics:?}"));
        }
        if metrics.transport.packets_received == 0 || metrics.transport.bytes_sent == 0 {
            return Err(format!("{peer}'s traffic was not counted: {metrics:?}"));
        }
    }
    let sessions_ended = server.metrics.sessions_ended.total();
    if sessions_ended != ended {
        return Err(format!(
            "{sessions_ended} sessions ended, expected {ended}: {:?}",
            server.metrics
        ));
    }
    Ok(())
}

fn link_for(seed: u64) -> LinkKind {
    if seed % 2 == 0 {
        LinkKind::ByteStream
    } else {
        LinkKind::Datagram
    }
}

fn check(condition: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(what()) }
}

// ----- the tests -----

#[test]
fn a_second_instance_claiming_a_connected_name_is_refused() {
    for_each_seed("node_misbehaving_duplicate_name", 0..4, |seed| {
        let link = link_for(seed);
        let (report, server, _) = run("duplicate_name", seed, Rogue::Twin, link)?;
        others_unaffected(&report, &server, 0)?;
        // Refused, counted; on a datagram link the twin registers again after each refusal
        // (its owner reconnects at once) and is refused each time.
        let refused = server.metrics.refused.get(CloseReason::DuplicateName);
        check(refused >= 1, || format!("no refusal counted: {server:?}"))?;
        check(refused == server.metrics.refused.total(), || {
            format!("refusals for other reasons: {:?}", server.metrics.refused)
        })?;
        check(link == LinkKind::Datagram || refused == 1, || {
            format!("{refused} refusals of one byte-stream registration")
        })?;
        check(server.metrics.closed.total() == 0, || {
            format!("transports closed: {:?}", server.metrics.closed)
        })?;
        check(server.peers.len() == 2, || format!("{:?}", server.peers))
    });
}

#[test]
fn a_peer_speaking_an_unsupported_version_is_refused_with_both_ranges() {
    for_each_seed("node_misbehaving_version", 0..4, |seed| {
        let versions = VersionRange::new(90, 99).expect("a valid range");
        let rogue = Rogue::Peer(ConnectionConfig::default(), Offence::Versions(versions));
        let (report, server, seen) = run("unsupported_version", seed, rogue, link_for(seed))?;
        others_unaffected(&report, &server, 0)?;
        let error = seen
            .handshake_error
            .clone()
            .ok_or_else(|| format!("the rogue was not refused: {seen:?}"))?;
        let text = error.to_string();
        check(
            matches!(error, HandshakeError::UnsupportedVersion { ours, .. } if ours == versions)
                && text.contains("no common protocol version")
                && text.contains("90"),
            || format!("unclear error: {text}"),
        )?;
        check(
            server.metrics.refused.get(CloseReason::UnsupportedVersion) == 1
                && server.metrics.refused.total() == 1,
            || format!("refusals: {:?}", server.metrics.refused),
        )?;
        check(seen.offences == 0, || "it was accepted".into())
    });
}

/// A rogue that registers, commits `offence` (its connections follow `config`), and must be
/// closed with `reason` on `link`.
fn closed_for(
    test: &str,
    seed: u64,
    config: ConnectionConfig,
    offence: Offence,
    link: LinkKind,
    reason: CloseReason,
) -> Result<(), String> {
    let (report, server, seen) = run(test, seed, Rogue::Peer(config, offence), link)?;
    others_unaffected(&report, &server, 1)?;
    let metrics = &server.metrics;
    check(seen.offences == 1, || format!("{seen:?}"))?;
    check(
        metrics.sessions_ended.get(reason) == 1
            && metrics.closed.get(reason) == 1
            && metrics.closed.total() == 1,
        || format!("expected one {reason:?} close: {metrics:?}"),
    )?;
    // The rogue's figures moved to the server's totals; its name is forgotten.
    check(
        metrics.ended.connections == 1
            && metrics.ended.transport.closed.get(reason) == 1
            && metrics.ended.transport.packets_received > 0,
        || format!("the rogue's path was not absorbed: {:?}", metrics.ended),
    )?;
    check(server.peer("rogue-1").is_none(), || {
        "the rogue still has a session".into()
    })?;
    // The server's close frame told the rogue why.
    check(seen.closed_with == Some(reason), || {
        format!("the rogue saw {:?}", seen.closed_with)
    })
}

#[test]
fn a_peer_opening_more_streams_than_allowed_is_closed() {
    for_each_seed("node_misbehaving_streams", 0..4, |seed| {
        let config = ConnectionConfig {
            max_streams: 1_000,
            ..ConnectionConfig::default()
        };
        closed_for(
            "stream_flood",
            seed,
            config,
            Offence::OpenStreams(40),
            link_for(seed),
            CloseReason::StreamLimit,
        )
    });
}

#[test]
fn a_peer_sending_a_message_larger_than_allowed_is_closed() {
    for_each_seed("node_misbehaving_message_size", 0..4, |seed| {
        closed_for(
            "large_message",
            seed,
            ConnectionConfig::default(),
            Offence::LargeMessage(300_000),
            link_for(seed),
            CloseReason::MessageTooLarge,
        )
    });
}

#[test]
fn a_byte_stream_peer_sending_beyond_the_window_is_closed() {
    for_each_seed("node_misbehaving_window", 0..3, |seed| {
        closed_for(
            "beyond_window",
            seed,
            ConnectionConfig::default(),
            Offence::BeyondWindow(1 << 20),
            LinkKind::ByteStream,
            CloseReason::FlowControl,
        )
    });
}

#[test]
fn a_datagram_peer_sending_beyond_the_window_is_refused_unacknowledged() {
    // On a datagram link, data beyond the grant may come from a conforming sender (its reset
    // overtaken by later data), so it is refused, left unacknowledged and counted rather than
    // closing the path: it costs the node no memory, and the peer's session stays up.
    for_each_seed("node_misbehaving_window_datagram", 0..3, |seed| {
        let (report, server, seen) = run(
            "beyond_window_datagram",
            seed,
            Rogue::Peer(ConnectionConfig::default(), Offence::BeyondWindow(1 << 20)),
            LinkKind::Datagram,
        )?;
        others_unaffected(&report, &server, 0)?;
        check(seen.offences == 1 && seen.closed_with.is_none(), || {
            format!("{seen:?}")
        })?;
        check(server.packets_refused >= 1, || {
            format!("nothing refused: {server:?}")
        })?;
        let rogue = server
            .peer("rogue-1")
            .ok_or_else(|| "the rogue's session ended".to_string())?;
        check(rogue.transport.fragments_received >= 1, || {
            format!("{rogue:?}")
        })
    });
}
