//! A lock-step two-endpoint harness (after quinn-proto's `Pair`) and the connection's tests.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::*;
use crate::frame::{FrameLimits, encode_frame};
use crate::proto::{Acknowledge, FrameMessage, PacketAcknowledge, frame_message::Body};

/// Two connections joined by a wire with a fixed one-way delay and a drop rule.
pub(super) struct Pair {
    pub(super) a: Connection,
    pub(super) b: Connection,
    pub(super) now: Timestamp,
    pub(super) delay: Duration,
    /// In flight towards b and towards a: (arrival, datagram).
    pub(super) to_b: VecDeque<(Timestamp, Bytes)>,
    pub(super) to_a: VecDeque<(Timestamp, Bytes)>,
    /// Decides whether the n-th datagram of a direction (towards b: true), of the given size, is
    /// dropped.
    pub(super) drop: Box<dyn FnMut(bool, u64, usize) -> bool>,
    pub(super) sent: [u64; 2],
    pub(super) received_a: Vec<(i64, Bytes)>,
    pub(super) received_b: Vec<(i64, Bytes)>,
    /// Streams b saw finished, in order, with how many messages b had received by then.
    pub(super) finished_b: Vec<(i64, usize)>,
}

impl Pair {
    pub(super) fn new(config: ConnectionConfig, delay: Duration) -> Self {
        Self {
            a: Connection::new(config.clone(), Timestamp::ZERO),
            b: Connection::new(config, Timestamp::ZERO),
            now: Timestamp::ZERO,
            delay,
            to_b: VecDeque::new(),
            to_a: VecDeque::new(),
            drop: Box::new(|_, _, _| false),
            sent: [0; 2],
            received_a: Vec::new(),
            received_b: Vec::new(),
            finished_b: Vec::new(),
        }
    }

    fn flush(&mut self) {
        let mut buf = BytesMut::new();
        for towards_b in [true, false] {
            loop {
                buf.clear();
                let conn = if towards_b { &mut self.a } else { &mut self.b };
                if conn.poll_transmit(self.now, &mut buf).is_none() {
                    break;
                }
                assert!(
                    buf.len() <= conn.config().max_mtu,
                    "datagram of {} bytes",
                    buf.len()
                );
                let count = &mut self.sent[usize::from(towards_b)];
                *count += 1;
                if (self.drop)(towards_b, *count, buf.len()) {
                    continue;
                }
                let queue = if towards_b {
                    &mut self.to_b
                } else {
                    &mut self.to_a
                };
                queue.push_back((self.now + self.delay, buf.split().freeze()));
            }
        }
        while let Some(event) = self.a.poll_event() {
            if let ConnectionEvent::Message { stream, data, .. } = event {
                self.received_a.push((stream, data));
            }
        }
        while let Some(event) = self.b.poll_event() {
            match event {
                ConnectionEvent::Message { stream, data, .. } => {
                    self.received_b.push((stream, data))
                }
                ConnectionEvent::StreamFinished { stream } => {
                    self.finished_b.push((stream, self.received_b.len()))
                }
                ConnectionEvent::Closed { .. } => {}
            }
        }
    }

    /// Runs until nothing is in flight and no timer is due before `until`.
    pub(super) fn run_until(&mut self, until: Timestamp) {
        loop {
            self.flush();
            let next = [
                self.to_b.front().map(|d| d.0),
                self.to_a.front().map(|d| d.0),
                self.a.poll_timeout(),
                self.b.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next.filter(|t| *t <= until) else {
                self.now = until;
                return;
            };
            self.now = next.max(self.now);
            while self.to_b.front().is_some_and(|d| d.0 <= self.now) {
                let (_, datagram) = self.to_b.pop_front().expect("front");
                self.b.handle_datagram(self.now, datagram);
            }
            while self.to_a.front().is_some_and(|d| d.0 <= self.now) {
                let (_, datagram) = self.to_a.pop_front().expect("front");
                self.a.handle_datagram(self.now, datagram);
            }
            if self.a.poll_timeout().is_some_and(|t| t <= self.now) {
                self.a.handle_timeout(self.now);
            }
            if self.b.poll_timeout().is_some_and(|t| t <= self.now) {
                self.b.handle_timeout(self.now);
            }
        }
    }
}

pub(super) fn payload(i: usize, len: usize) -> Bytes {
    Bytes::from((0..len).map(|j| (i * 7 + j) as u8).collect::<Vec<_>>())
}

pub(super) fn secs(n: u64) -> Timestamp {
    Timestamp::from_millis(n * 1_000)
}

#[test]
fn messages_flow_both_ways_in_order() {
    let mut pair = Pair::new(ConnectionConfig::default(), Duration::from_millis(20));
    for i in 0..100 {
        pair.a.send(pair.now, 1, payload(i, 100), None).unwrap();
        pair.b.send(pair.now, 2, payload(i, 50), None).unwrap();
    }
    pair.run_until(secs(2));
    assert!(pair.received_b == (0..100).map(|i| (1, payload(i, 100))).collect::<Vec<_>>());
    assert!(pair.received_a == (0..100).map(|i| (2, payload(i, 50))).collect::<Vec<_>>());
    assert_eq!(pair.a.unacked_bytes(), 0);
    assert!(pair.a.rtt().smoothed() >= Duration::from_millis(40));
    assert!(
        pair.a.rtt().smoothed() < Duration::from_millis(60),
        "{:?}",
        pair.a.rtt()
    );
}

#[test]
fn large_messages_are_fragmented_and_reassembled() {
    let mut pair = Pair::new(ConnectionConfig::default(), Duration::from_millis(5));
    let big = payload(1, 300_000);
    pair.a.send(pair.now, 0, big.clone(), None).unwrap();
    pair.a.send(pair.now, 0, payload(2, 10), None).unwrap();
    pair.run_until(secs(10));
    assert!(pair.received_b == vec![(0, big), (0, payload(2, 10))]);
    // 300 kB in datagrams of at most 1,452 bytes.
    assert!(pair.a.stats().datagrams_sent > 210);
}

#[test]
fn loss_is_repaired_exactly_once_in_order() {
    for (every, latency_mode) in [(3, false), (2, true), (5, true), (7, false)] {
        let config = ConnectionConfig {
            latency_mode,
            ..ConnectionConfig::default()
        };
        let mut pair = Pair::new(config, Duration::from_millis(15));
        pair.drop = Box::new(move |_, n, _| n % every == 0);
        for i in 0..300 {
            pair.a
                .send(pair.now, 5, payload(i, 1 + i % 700), None)
                .unwrap();
        }
        pair.run_until(secs(30));
        let expected: Vec<_> = (0..300).map(|i| (5, payload(i, 1 + i % 700))).collect();
        assert_eq!(
            pair.received_b.len(),
            expected.len(),
            "dropping every {every}th datagram each way"
        );
        assert!(
            pair.received_b == expected,
            "wrong messages dropping every {every}th datagram"
        );
        assert!(pair.a.metrics().packets_lost > 0);
        assert_eq!(pair.a.unacked_bytes(), 0);
    }
}

#[test]
fn finished_streams_end_after_their_last_message_even_under_loss() {
    for every in [0, 2, 3] {
        let mut pair = Pair::new(ConnectionConfig::default(), Duration::from_millis(10));
        pair.drop = Box::new(move |_, n, _| every > 0 && n % every == 0);
        for i in 0..50 {
            pair.a.send(pair.now, 3, payload(i, 200), None).unwrap();
        }
        pair.a.finish(3).unwrap();
        pair.a.finish(4).unwrap(); // A stream that ends before carrying anything.
        assert!(matches!(
            pair.a.send(pair.now, 3, payload(0, 1), None),
            Err(SendError::Write(crate::stream::WriteError::Finished))
        ));
        pair.run_until(secs(20));
        assert_eq!(pair.received_b.len(), 50, "dropping every {every}th");
        let mut finished = pair.finished_b.clone();
        finished.sort();
        assert_eq!(
            finished.iter().map(|f| f.0).collect::<Vec<_>>(),
            vec![3, 4],
            "each finished once"
        );
        assert!(
            pair.finished_b.contains(&(3, 50)),
            "stream 3 ends after its 50th message"
        );
        assert!(
            [3, 4].iter().all(|&s| pair.a.streams.is_send_done(s)),
            "the peer acknowledged both ends"
        );
    }
}

#[test]
fn the_end_rides_with_the_last_data() {
    use crate::proto::PacketFlag;
    let mut connection = Connection::new(ConnectionConfig::default(), Timestamp::ZERO);
    connection
        .send(Timestamp::ZERO, 1, payload(0, 100), None)
        .unwrap();
    connection.finish(1).unwrap();
    let mut buf = BytesMut::new();
    connection.poll_transmit(Timestamp::ZERO, &mut buf).unwrap();
    let mut frames = Vec::new();
    crate::frame::DatagramDecoder::default()
        .decode(buf.split().freeze(), &mut frames)
        .unwrap();
    let Some(Body::Packet(packet)) = &frames[0].message.body else {
        panic!("a data packet first");
    };
    assert_eq!(packet.flags, PacketFlag::FinishStream as u32);
    assert!(!packet.content.is_empty());
    assert_eq!(
        connection.poll_transmit(Timestamp::ZERO, &mut buf),
        None,
        "no separate end packet"
    );
}

#[test]
fn data_beyond_the_announced_end_closes_the_connection() {
    use crate::proto::{Packet, PacketContent, PacketFlag, PacketFragment};
    use prost::Message as _;
    let mut connection = Connection::new(ConnectionConfig::default(), Timestamp::ZERO);
    let packet = |number, offset: u64, flags, data: &'static [u8]| {
        let content = PacketContent {
            fragments: vec![PacketFragment {
                data: Bytes::from_static(data),
                ..Default::default()
            }],
        };
        datagram(FrameMessage {
            packet_number: number,
            body: Some(Body::Packet(Packet {
                stream_id: 1,
                stream_offset: offset,
                content: content.encode_to_vec().into(),
                flags,
                ..Default::default()
            })),
            ..Default::default()
        })
    };
    connection.handle_datagram(
        Timestamp::ZERO,
        packet(1, 0, PacketFlag::FinishStream as u32, b"end"),
    );
    assert_eq!(connection.close_reason(), None);
    connection.handle_datagram(Timestamp::ZERO, packet(2, 3, 0, b"more"));
    assert_eq!(
        connection.close_reason(),
        Some(CloseReason::ProtocolViolation)
    );
}

#[test]
fn path_mtu_is_discovered_and_a_black_hole_is_survived() {
    // A path that carries 1,452 bytes: discovery reaches the ceiling.
    let mut pair = Pair::new(ConnectionConfig::default(), Duration::from_millis(10));
    for i in 0..100 {
        pair.a.send(pair.now, 0, payload(i, 1_000), None).unwrap();
    }
    pair.run_until(secs(2));
    assert_eq!(pair.a.current_mtu(), 1_452);

    // A path that carries 1,300 bytes: discovery stays below, nothing is lost for good.
    let mut pair = Pair::new(ConnectionConfig::default(), Duration::from_millis(10));
    pair.drop = Box::new(|_, _, len| len > 1_300);
    for i in 0..100 {
        pair.a.send(pair.now, 0, payload(i, 1_000), None).unwrap();
    }
    pair.run_until(secs(5));
    assert!(
        (1_232..=1_300).contains(&pair.a.current_mtu()),
        "{}",
        pair.a.current_mtu()
    );
    assert_eq!(pair.received_b.len(), 100);
    assert_eq!(
        pair.a.metrics().packets_lost,
        0,
        "lost probes are not data losses"
    );

    // The path shrinks after discovery (a black hole): the connection falls back and delivers.
    let mut pair = Pair::new(ConnectionConfig::default(), Duration::from_millis(10));
    pair.a.send(pair.now, 0, payload(0, 5_000), None).unwrap();
    pair.run_until(secs(2));
    assert_eq!(pair.a.current_mtu(), 1_452);
    pair.drop = Box::new(|_, _, len| len > 1_232);
    for i in 1..50 {
        pair.a.send(pair.now, 0, payload(i, 3_000), None).unwrap();
    }
    pair.run_until(secs(30));
    assert_eq!(pair.received_b.len(), 50);
    assert!(
        pair.a.current_mtu() <= 1_232 + 16,
        "{}",
        pair.a.current_mtu()
    );
}

#[test]
fn a_small_receive_window_slows_the_sender_but_loses_nothing() {
    let mut pair = Pair::new(ConnectionConfig::default(), Duration::from_millis(10));
    pair.b = Connection::new(
        ConnectionConfig {
            stream_receive_window: 1_000, // raised to the initial window, 64 KiB
            ..ConnectionConfig::default()
        },
        Timestamp::ZERO,
    );
    pair.drop = Box::new(|_, n, _| n % 5 == 0);
    for i in 0..40 {
        pair.a.send(pair.now, 1, payload(i, 50_000), None).unwrap();
    }
    pair.a.finish(1).unwrap();
    pair.run_until(secs(30));
    assert_eq!(pair.received_b.len(), 40);
    assert!(pair.received_b == (0..40).map(|i| (1, payload(i, 50_000))).collect::<Vec<_>>());
    assert_eq!(pair.finished_b.len(), 1);
}

#[test]
fn many_streams_with_gaps_keep_acknowledgements_within_a_datagram() {
    let mut pair = Pair::new(ConnectionConfig::default(), Duration::from_millis(10));
    pair.drop = Box::new(|towards_b, n, _| towards_b && n % 3 == 0);
    for stream in 0..300 {
        for i in 0..4 {
            pair.a
                .send(pair.now, stream, payload(i, 700), None)
                .unwrap();
        }
    }
    // The harness asserts every datagram stays within the MTU.
    pair.run_until(secs(30));
    assert_eq!(pair.received_b.len(), 1_200);
}

#[test]
fn hostile_packet_numbers_and_oversized_metadata_are_refused() {
    let mut connection = Connection::new(ConnectionConfig::default(), Timestamp::ZERO);
    connection.handle_datagram(
        Timestamp::ZERO,
        datagram(FrameMessage {
            packet_number: u64::MAX,
            body: Some(Body::Ping(Default::default())),
            ..Default::default()
        }),
    );
    assert_eq!(
        connection.close_reason(),
        Some(CloseReason::ProtocolViolation)
    );

    let mut connection = Connection::new(ConnectionConfig::default(), Timestamp::ZERO);
    let meta = crate::stream::MessageMeta {
        labels: [("k".to_owned(), "v".repeat(2_000))].into(),
        ..Default::default()
    };
    assert!(matches!(
        connection.send(Timestamp::ZERO, 1, payload(0, 10), Some(meta)),
        Err(SendError::MetadataTooLarge { .. })
    ));
}

#[test]
fn tail_loss_is_probed() {
    let mut pair = Pair::new(ConnectionConfig::latency(), Duration::from_millis(10));
    // The first two datagrams (the only data, then its first retransmission) are lost.
    pair.drop = Box::new(|towards_b, n, _| towards_b && n <= 2);
    pair.a.send(pair.now, 0, payload(0, 20), None).unwrap();
    pair.run_until(secs(5));
    assert_eq!(pair.received_b, vec![(0, payload(0, 20))]);
    assert!(pair.a.stats().probe_timeouts >= 2);
}

#[test]
fn keepalive_holds_an_idle_connection_and_silence_closes_it() {
    let mut pair = Pair::new(ConnectionConfig::default(), Duration::from_millis(10));
    pair.run_until(secs(60));
    assert_eq!(pair.a.close_reason(), None);
    assert_eq!(pair.b.close_reason(), None);
    // The peer goes silent: declared gone ping interval × (faults + 1) = 24 s after the last
    // datagram from it.
    pair.drop = Box::new(|_, _, _| true);
    let silent_since = pair.a.path.last_received;
    pair.run_until(silent_since + Duration::from_millis(23_999));
    assert_eq!(pair.a.close_reason(), None);
    pair.run_until(silent_since + Duration::from_millis(24_001));
    assert_eq!(pair.a.close_reason(), Some(CloseReason::IdleTimeout));
}

#[test]
fn garbage_is_dropped_and_counted_without_closing() {
    let mut connection = Connection::new(ConnectionConfig::default(), Timestamp::ZERO);
    connection.handle_datagram(Timestamp::ZERO, Bytes::from_static(b"\x03\x05garbage"));
    connection.handle_datagram(Timestamp::ZERO, Bytes::new());
    assert_eq!(connection.stats().datagrams_invalid, 2);
    assert_eq!(connection.close_reason(), None);
}

fn datagram(message: FrameMessage) -> Bytes {
    let mut buf = BytesMut::new();
    encode_frame(&message, &FrameLimits::default(), &mut buf).unwrap();
    buf.freeze()
}

#[test]
fn acknowledging_what_was_never_sent_closes_the_connection() {
    let mut connection = Connection::new(ConnectionConfig::default(), Timestamp::ZERO);
    connection.handle_datagram(
        Timestamp::ZERO,
        datagram(FrameMessage {
            packet_number: 1,
            body: Some(Body::Acknowledge(Acknowledge {
                packets: Some(PacketAcknowledge {
                    largest_packet_number: 1_000,
                    ranges: vec![0],
                }),
                ..Default::default()
            })),
            ..Default::default()
        }),
    );
    assert_eq!(
        connection.close_reason(),
        Some(CloseReason::ProtocolViolation)
    );
    assert_eq!(
        connection.poll_event(),
        Some(ConnectionEvent::Closed {
            reason: CloseReason::ProtocolViolation
        })
    );
    // The close goes out once, then nothing more.
    let mut buf = BytesMut::new();
    assert!(
        connection
            .poll_transmit(Timestamp::ZERO, &mut buf)
            .is_some()
    );
    assert!(
        connection
            .poll_transmit(Timestamp::ZERO, &mut buf)
            .is_none()
    );
}

#[test]
fn absurd_acknowledgement_ranges_close_the_connection() {
    let mut connection = Connection::new(ConnectionConfig::default(), Timestamp::ZERO);
    connection
        .send(Timestamp::ZERO, 0, payload(0, 10), None)
        .unwrap();
    let mut buf = BytesMut::new();
    connection.poll_transmit(Timestamp::ZERO, &mut buf).unwrap();
    connection.handle_datagram(
        Timestamp::ZERO,
        datagram(FrameMessage {
            packet_number: 1,
            body: Some(Body::Acknowledge(Acknowledge {
                packets: Some(PacketAcknowledge {
                    largest_packet_number: 1,
                    ranges: vec![u64::MAX],
                }),
                ..Default::default()
            })),
            ..Default::default()
        }),
    );
    assert_eq!(
        connection.close_reason(),
        Some(CloseReason::ProtocolViolation)
    );
}

#[test]
fn streams_past_the_limit_close_the_connection() {
    let config = ConnectionConfig {
        max_streams: 4,
        ..ConnectionConfig::default()
    };
    let mut sender = Pair::new(ConnectionConfig::default(), Duration::from_millis(1));
    for stream in 0..5 {
        sender
            .a
            .send(sender.now, stream, payload(0, 10), None)
            .unwrap();
    }
    let mut buf = BytesMut::new();
    let mut receiver = Connection::new(config, Timestamp::ZERO);
    while sender.a.poll_transmit(Timestamp::ZERO, &mut buf).is_some() {
        receiver.handle_datagram(Timestamp::ZERO, buf.split().freeze());
    }
    assert_eq!(receiver.close_reason(), Some(CloseReason::StreamLimit));
}

/// Two byte-stream connections joined by a pipe that delivers bytes in ever-changing chunk sizes.
pub(super) fn run_byte_streams(
    a: &mut Connection,
    b: &mut Connection,
    until: Timestamp,
) -> (Vec<(i64, Bytes)>, Vec<i64>) {
    let mut now = Timestamp::ZERO;
    let mut received = Vec::new();
    let mut finished = Vec::new();
    let mut buf = BytesMut::new();
    let mut chunk = 1usize;
    let mut pump = |from: &mut Connection, to: &mut Connection, now: Timestamp| {
        buf.clear();
        while from.poll_transmit(now, &mut buf).is_some() {}
        for piece in buf.chunks(chunk) {
            to.handle_bytes(now, Bytes::copy_from_slice(piece));
        }
        chunk = chunk % 5_000 + 37;
    };
    while now < until {
        pump(a, b, now);
        pump(b, a, now);
        while let Some(event) = b.poll_event() {
            match event {
                ConnectionEvent::Message { stream, data, .. } => received.push((stream, data)),
                ConnectionEvent::StreamFinished { stream } => finished.push(stream),
                ConnectionEvent::Closed { .. } => {}
            }
        }
        while a.poll_event().is_some() {}
        now += Duration::from_millis(5);
        for connection in [&mut *a, &mut *b] {
            if connection.poll_timeout().is_some_and(|t| t <= now) {
                connection.handle_timeout(now);
            }
        }
    }
    (received, finished)
}

#[test]
fn byte_streams_carry_messages_in_large_fragments_without_packet_numbers() {
    let mut a = Connection::byte_stream(ConnectionConfig::default(), Timestamp::ZERO);
    let mut b = Connection::byte_stream(ConnectionConfig::default(), Timestamp::ZERO);
    assert!(a.is_byte_stream());
    let big = payload(9, 500_000);
    for i in 0..200 {
        a.send(Timestamp::ZERO, 1, payload(i, 300), None).unwrap();
    }
    a.send(Timestamp::ZERO, 2, big.clone(), None).unwrap();
    a.finish(1).unwrap();
    // Frames carry no packet numbers and fragments up to 64 KiB.
    let mut buf = BytesMut::new();
    let mut first = a
        .poll_transmit(Timestamp::ZERO, &mut buf)
        .map(|_| buf.split().freeze())
        .unwrap();
    let mut decoder = crate::frame::StreamDecoder::new(FrameLimits::default());
    decoder.feed(&first);
    let frame = decoder.next_frame().unwrap().unwrap();
    assert_eq!(frame.message.packet_number, 0);
    assert!(
        first.len() > 30_000,
        "one write holds many frames: {}",
        first.len()
    );
    b.handle_bytes(Timestamp::ZERO, first.split_to(first.len()));

    // The harness collects b's events, those of this first write included.
    let (received, finished) = run_byte_streams(&mut a, &mut b, secs(5));
    let on_one: Vec<_> = received
        .iter()
        .filter(|(s, _)| *s == 1)
        .map(|(_, d)| d.clone())
        .collect();
    assert!(on_one == (0..200).map(|i| payload(i, 300)).collect::<Vec<_>>());
    assert!(
        received
            .iter()
            .filter(|(s, _)| *s == 2)
            .map(|(_, d)| d)
            .eq([&big])
    );
    assert_eq!(finished, vec![1]);
    assert_eq!(
        a.unacked_bytes(),
        0,
        "stream acknowledgements released the send buffers"
    );
    assert_eq!(a.metrics().packets_lost, 0);
}

/// On a byte stream a message that fits a write travels whole: a 64 KiB message is one
/// fragment, never the tail of one write and the head of the next (which the receiver would
/// join by a copy), even with small messages between them.
#[test]
fn byte_streams_send_messages_up_to_a_write_whole() {
    let mut a = Connection::byte_stream(ConnectionConfig::default(), Timestamp::ZERO);
    let mut b = Connection::byte_stream(ConnectionConfig::default(), Timestamp::ZERO);
    let mut sent = Vec::new();
    for i in 0..40 {
        // The first fills the initial window exactly: a message the window cuts is split.
        let size = if i % 3 == 2 { 1_000 } else { 64 * 1024 };
        sent.push(payload(i, size));
        a.send(Timestamp::ZERO, 1, payload(i, size), None).unwrap();
    }
    let (received, _) = run_byte_streams(&mut a, &mut b, secs(5));
    assert!(received.iter().map(|(_, d)| d).eq(sent.iter()));
    assert_eq!(a.metrics().fragments_sent, 40, "one fragment per message");
}

#[test]
fn garbage_on_a_byte_stream_closes_it_with_a_reason() {
    let mut connection = Connection::byte_stream(ConnectionConfig::default(), Timestamp::ZERO);
    connection.handle_bytes(
        Timestamp::ZERO,
        Bytes::from_static(&[0x03, 0x02, 0x00, 0x00, 1, 2, 3, 4]),
    );
    assert_eq!(connection.close_reason(), Some(CloseReason::InvalidFrame));
    let mut connection = Connection::byte_stream(ConnectionConfig::default(), Timestamp::ZERO);
    connection.handle_bytes(Timestamp::ZERO, Bytes::from_static(&[0x07]));
    assert_eq!(
        connection.close_reason(),
        Some(CloseReason::UnsupportedVersion)
    );
}

#[test]
fn a_latency_stream_is_acknowledged_at_once_and_probed_sooner() {
    let config = ConnectionConfig::default();
    let mut a = Connection::new(config.clone(), Timestamp::ZERO);
    let mut b = Connection::new(config, Timestamp::ZERO);
    a.set_stream_options(1, StreamOptions::latency()).unwrap();
    let mut buf = BytesMut::new();
    let now = Timestamp::from_millis(5);
    // A default stream's lone in-order packet waits for the delayed acknowledgement...
    a.send(now, 2, payload(0, 100), None).unwrap();
    a.poll_transmit(now, &mut buf).unwrap();
    let pto_default = a.poll_timeout().unwrap();
    b.handle_datagram(now, buf.split().freeze());
    assert!(b.poll_transmit(now, &mut buf).is_none());
    assert_eq!(b.poll_timeout(), Some(now + b.config().max_ack_delay));
    // ...a latency stream's is acknowledged at once.
    let mut a = Connection::new(ConnectionConfig::default(), Timestamp::ZERO);
    let mut b = Connection::new(ConnectionConfig::default(), Timestamp::ZERO);
    a.set_stream_options(1, StreamOptions::latency()).unwrap();
    a.send(now, 1, payload(0, 100), None).unwrap();
    a.poll_transmit(now, &mut buf).unwrap();
    let pto_latency = a.poll_timeout().unwrap();
    b.handle_datagram(now, buf.split().freeze());
    assert!(b.poll_transmit(now, &mut buf).is_some());
    // With the same RTT estimate, its tail-loss probe comes sooner.
    assert!(
        pto_latency < pto_default,
        "{pto_latency:?} vs {pto_default:?}"
    );
    // Both kinds of packet still deliver their message.
    assert!(matches!(
        b.poll_event(),
        Some(ConnectionEvent::Message { stream: 1, .. })
    ));
}
