//! Sessions over several paths: data uses them all, and losing one loses no message and
//! duplicates none.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use prost::Message as _;

use super::tests::payload;
use super::*;
use crate::frame::DatagramDecoder;
use crate::proto::{PacketContent, frame_message::Body};

/// One direction of one path: datagrams in flight with their arrival time.
type Wire = VecDeque<(Timestamp, Bytes)>;

/// Two sessions joined by several datagram paths, each with its own one-way delay, a rule that
/// drops datagrams, and a switch that cuts it.
pub(super) struct Net {
    byte_streams: Vec<usize>,
    pub(super) a: Session,
    pub(super) b: Session,
    pub(super) now: Timestamp,
    delays: Vec<Duration>,
    /// Per path, when set: bytes per second, each direction, and when the link is next free.
    pub(super) rates: Vec<Option<u64>>,
    busy_until: Vec<[Timestamp; 2]>,
    /// Per path: towards b, towards a.
    wires: Vec<[Wire; 2]>,
    cut: Vec<bool>,
    /// Decides whether the n-th datagram on a path in a direction (towards b: true) is dropped.
    pub(super) drop: Box<dyn FnMut(usize, bool, u64) -> bool>,
    sent: Vec<[u64; 2]>,
    pub(super) received_b: Vec<(i64, Bytes)>,
    /// When each message of `received_b` was delivered.
    pub(super) delivered_at_b: Vec<Timestamp>,
    /// Stream payload bytes sent towards b, per (path, stream), as read off the datagrams
    /// (datagram paths only; dropped ones included).
    pub(super) wire_bytes: BTreeMap<(usize, i64), u64>,
    /// The most copies a's scheduler held waiting once it had nothing more to send.
    pub(super) most_copies_waiting: usize,
    closed_a: Vec<(PathId, CloseReason)>,
}

impl Net {
    pub(super) fn new(delays: &[u64]) -> Self {
        Self::with_config(delays, &[], ConnectionConfig::default())
    }

    /// As [`new`](Self::new), the paths listed in `byte_streams` being byte streams (reliable,
    /// in order: the drop rule does not apply to them; only a cut loses their data).
    fn with_byte_streams(delays: &[u64], byte_streams: &[usize]) -> Self {
        Self::with_config(delays, byte_streams, ConnectionConfig::default())
    }

    /// As [`with_byte_streams`](Self::with_byte_streams), both sessions and all paths with
    /// `config`.
    pub(super) fn with_config(
        delays: &[u64],
        byte_streams: &[usize],
        config: ConnectionConfig,
    ) -> Self {
        let mut a = Session::new(config.clone());
        let mut b = Session::new(config.clone());
        let path = |i: usize| {
            if byte_streams.contains(&i) {
                Path::byte_stream(config.clone(), Timestamp::ZERO)
            } else {
                Path::new(config.clone(), Timestamp::ZERO)
            }
        };
        for i in 0..delays.len() {
            a.add_path(PathId(i as u64), path(i)).unwrap();
            b.add_path(PathId(i as u64), path(i)).unwrap();
        }
        Self {
            byte_streams: byte_streams.to_vec(),
            a,
            b,
            now: Timestamp::ZERO,
            delays: delays.iter().map(|d| Duration::from_millis(*d)).collect(),
            rates: vec![None; delays.len()],
            busy_until: vec![[Timestamp::ZERO; 2]; delays.len()],
            wires: delays.iter().map(|_| Default::default()).collect(),
            cut: vec![false; delays.len()],
            drop: Box::new(|_, _, _| false),
            sent: vec![[0; 2]; delays.len()],
            received_b: Vec::new(),
            delivered_at_b: Vec::new(),
            wire_bytes: BTreeMap::new(),
            most_copies_waiting: 0,
            closed_a: Vec::new(),
        }
    }

    /// Adds the stream payload of `datagram`, sent towards b on datagram path `p`, to
    /// `wire_bytes`.
    fn count_wire_bytes(&mut self, p: usize, datagram: Bytes) {
        let mut frames = Vec::new();
        DatagramDecoder::new(Default::default())
            .decode(datagram, &mut frames)
            .expect("the sender writes valid datagrams");
        for frame in frames {
            if let Some(Body::Packet(packet)) = frame.message.body {
                let content = PacketContent::decode(packet.content).expect("valid content");
                let bytes: usize = content.fragments.iter().map(|f| f.data.len()).sum();
                *self.wire_bytes.entry((p, packet.stream_id)).or_default() += bytes as u64;
            }
        }
    }

    pub(super) fn flush(&mut self) {
        let mut buf = BytesMut::new();
        for towards_b in [true, false] {
            loop {
                buf.clear();
                let session = if towards_b { &mut self.a } else { &mut self.b };
                let Some((path, _)) = session.poll_transmit(self.now, &mut buf) else {
                    break;
                };
                let p = path.0 as usize;
                let count = &mut self.sent[p][usize::from(towards_b)];
                *count += 1;
                let count = *count;
                let stream = self.byte_streams.contains(&p);
                if towards_b && !stream {
                    self.count_wire_bytes(p, Bytes::copy_from_slice(&buf));
                }
                if self.cut[p] || (!stream && (self.drop)(p, towards_b, count)) {
                    continue;
                }
                // A rate-limited link serialises datagrams (an unbounded queue: the sender's
                // congestion control keeps it short).
                let departure = match self.rates[p] {
                    Some(rate) => {
                        let busy = &mut self.busy_until[p][usize::from(towards_b)];
                        let start = (*busy).max(self.now);
                        *busy =
                            start + Duration::from_nanos(buf.len() as u64 * 1_000_000_000 / rate);
                        *busy
                    }
                    None => self.now,
                };
                let arrival = departure + self.delays[p];
                self.wires[p][usize::from(!towards_b)].push_back((arrival, buf.split().freeze()));
            }
        }
        self.most_copies_waiting = self.most_copies_waiting.max(self.a.pending_copies());
        while let Some(event) = self.b.poll_event() {
            if let SessionEvent::Message { stream, data, .. } = event {
                self.received_b.push((stream, data));
                self.delivered_at_b.push(self.now);
            }
        }
        while let Some(event) = self.a.poll_event() {
            if let SessionEvent::PathClosed { path, reason } = event {
                self.closed_a.push((path, reason));
            }
        }
    }

    pub(super) fn run_until(&mut self, until: Timestamp) {
        loop {
            self.flush();
            let next = self
                .wires
                .iter()
                .flat_map(|w| w.iter().filter_map(|q| q.front().map(|d| d.0)))
                .chain(self.a.poll_timeout())
                .chain(self.b.poll_timeout())
                .min();
            let Some(next) = next.filter(|t| *t <= until) else {
                self.now = until;
                return;
            };
            self.now = next.max(self.now);
            for (p, wire) in self.wires.iter_mut().enumerate() {
                let stream = self.byte_streams.contains(&p);
                let id = PathId(p as u64);
                while wire[0].front().is_some_and(|d| d.0 <= self.now) {
                    let (_, data) = wire[0].pop_front().expect("front");
                    if stream {
                        self.b.handle_bytes(id, self.now, data.clone());
                    } else {
                        self.b.handle_datagram(id, self.now, data);
                    }
                }
                while wire[1].front().is_some_and(|d| d.0 <= self.now) {
                    let (_, data) = wire[1].pop_front().expect("front");
                    if stream {
                        self.a.handle_bytes(id, self.now, data.clone());
                    } else {
                        self.a.handle_datagram(id, self.now, data);
                    }
                }
            }
            self.a.handle_timeout(self.now);
            self.b.handle_timeout(self.now);
        }
    }

    /// Cuts path `p` both ways: what is in flight on it is lost.
    pub(super) fn cut(&mut self, p: usize) {
        self.cut[p] = true;
        self.wires[p] = Default::default();
    }

    pub(super) fn check_exactly_once_in_order(&self, stream: i64, count: usize, size: usize) {
        let got: Vec<&Bytes> = self
            .received_b
            .iter()
            .filter(|(s, _)| *s == stream)
            .map(|(_, d)| d)
            .collect();
        assert_eq!(got.len(), count, "messages on stream {stream}");
        for (i, data) in got.iter().enumerate() {
            assert_eq!(**data, payload(i, size), "message {i} of stream {stream}");
        }
    }
}

pub(super) fn secs(n: u64) -> Timestamp {
    Timestamp::from_millis(n * 1_000)
}

#[test]
fn data_fills_the_fastest_path_and_overflows_to_the_other() {
    let mut net = Net::new(&[10, 40]);
    // Two 8 Mbit/s links: one cannot take it all.
    net.rates = vec![Some(1_000_000), Some(1_000_000)];
    for i in 0..600 {
        net.a.send(1, payload(i, 8_000), None).unwrap();
    }
    // 4.8 MB take at least 4.8 s on one link; on both, well under that (virtual time: the
    // simulation is deterministic).
    net.run_until(Timestamp::from_millis(3_500));
    net.check_exactly_once_in_order(1, 600, 8_000);
    let data_on = |p: usize| net.a.paths().nth(p).unwrap().1.metrics().bytes_sent;
    // Both paths carried a real share of the 4.8 MB, the faster one more.
    assert!(data_on(1) > 500_000, "slow path carried {}", data_on(1));
    assert!(data_on(0) > data_on(1), "{} vs {}", data_on(0), data_on(1));
}

#[test]
fn a_path_removed_mid_transfer_loses_and_duplicates_nothing() {
    for (kill_at_ms, drop_every) in [(150, 0), (400, 7), (90, 3)] {
        let mut net = Net::new(&[10, 25]);
        net.drop =
            Box::new(move |_, towards_b, n| towards_b && drop_every > 0 && n % drop_every == 0);
        for i in 0..400 {
            net.a.send(1, payload(i, 3_000), None).unwrap();
            net.a.send(2, payload(i, 200), None).unwrap();
        }
        net.run_until(Timestamp::from_millis(kill_at_ms));
        // The transport of path 0 dies: both ends learn it, in-flight data is lost.
        net.cut(0);
        net.a.remove_path(PathId(0)).unwrap();
        net.b.remove_path(PathId(0)).unwrap();
        net.run_until(secs(60));
        net.check_exactly_once_in_order(1, 400, 3_000);
        net.check_exactly_once_in_order(2, 400, 200);
        assert_eq!(net.a.streams().unacked_bytes(), 0);
    }
}

#[test]
fn a_path_that_goes_silent_closes_by_itself_and_the_other_carries_on() {
    let mut net = Net::new(&[10, 30]);
    for i in 0..200 {
        net.a.send(1, payload(i, 5_000), None).unwrap();
    }
    net.run_until(Timestamp::from_millis(100));
    // Path 0 silently stops carrying anything; nobody tells the sessions.
    net.cut(0);
    for i in 200..300 {
        net.a.send(1, payload(i, 5_000), None).unwrap();
    }
    net.run_until(secs(90));
    net.check_exactly_once_in_order(1, 300, 5_000);
    assert_eq!(net.closed_a, vec![(PathId(0), CloseReason::IdleTimeout)]);
    assert_eq!(net.a.paths().count(), 1);
}

#[test]
fn a_session_without_paths_keeps_messages_until_one_comes() {
    let config = ConnectionConfig::default();
    let mut net = Net::new(&[10]);
    net.cut(0);
    net.a.remove_path(PathId(0)).unwrap();
    net.b.remove_path(PathId(0)).unwrap();
    for i in 0..50 {
        net.a.send(4, payload(i, 1_000), None).unwrap();
    }
    net.run_until(secs(1));
    assert!(net.received_b.is_empty());
    // A new transport comes up.
    net.cut[0] = false;
    let now = net.now;
    net.a
        .add_path(PathId(7), Path::new(config.clone(), now))
        .unwrap();
    net.b.add_path(PathId(7), Path::new(config, now)).unwrap();
    net.delays = vec![Duration::from_millis(10); 8];
    net.wires = (0..8).map(|_| Default::default()).collect();
    net.cut = vec![false; 8];
    net.sent = vec![[0; 2]; 8];
    net.rates = vec![None; 8];
    net.busy_until = vec![[now; 2]; 8];
    net.run_until(secs(5));
    net.check_exactly_once_in_order(4, 50, 1_000);
    assert!(matches!(
        net.a
            .add_path(PathId(7), Path::new(ConnectionConfig::default(), net.now)),
        Err(AddPathError::Duplicate(PathId(7)))
    ));
}

#[test]
fn a_byte_stream_path_dying_fails_over_to_a_datagram_path() {
    // Path 0 is TCP-like (reliable, in order, fast), path 1 a lossy UDP path.
    let mut net = Net::with_byte_streams(&[5, 20], &[0]);
    net.drop = Box::new(|p, towards_b, n| p == 1 && towards_b && n % 5 == 0);
    net.rates = vec![Some(2_000_000), Some(2_000_000)];
    for i in 0..300 {
        net.a.send(1, payload(i, 6_000), None).unwrap();
    }
    net.run_until(Timestamp::from_millis(200));
    net.cut(0);
    net.a.remove_path(PathId(0)).unwrap();
    net.b.remove_path(PathId(0)).unwrap();
    net.run_until(secs(60));
    net.check_exactly_once_in_order(1, 300, 6_000);
    assert_eq!(net.a.streams().unacked_bytes(), 0);
    // A good part of the 1.8 MB went over the datagram path after the byte stream died.
    let (_, udp) = net.a.paths().next().unwrap();
    assert!(
        udp.metrics().bytes_sent > 500_000,
        "{}",
        udp.metrics().bytes_sent
    );
}
