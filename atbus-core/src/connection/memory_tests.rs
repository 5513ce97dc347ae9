//! Receive memory under pressure: hostile fragments cannot grow it past the budget, and a
//! conforming sender that outruns the budget is slowed, never loses data.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use prost::Message as _;

use super::*;
use crate::frame::{FrameLimits, encode_frame};
use crate::proto::{
    FrameMessage, Packet, PacketContent, PacketFragment, PingData, frame_message::Body,
};
use crate::stream::{COMPACT_SLACK, ENTRY_COST};

/// One datagram: a frame carrying `data` at `offset` of `stream`, padded with a ping to
/// `padded_to` bytes so that the fragment pins a large buffer.
fn padded_packet(number: u64, stream: i64, offset: u64, data: &[u8], padded_to: usize) -> Bytes {
    let content = PacketContent {
        fragments: vec![PacketFragment {
            data: Bytes::copy_from_slice(data),
            fragment_flag: crate::proto::FragmentFlag::HasMore as u32,
            ..Default::default()
        }],
    };
    let mut buf = BytesMut::new();
    let limits = FrameLimits::default();
    let packet = FrameMessage {
        packet_number: number,
        body: Some(Body::Packet(Packet {
            stream_id: stream,
            stream_offset: offset,
            content: content.encode_to_vec().into(),
            ..Default::default()
        })),
        ..Default::default()
    };
    encode_frame(&packet, &limits, &mut buf).unwrap();
    let padding = padded_to.saturating_sub(buf.len() + 40);
    let ping = FrameMessage {
        packet_number: number + 1,
        body: Some(Body::Ping(PingData {
            timepoint_microseconds: 0,
            pmtud_padding: vec![0; padding].into(),
            ..Default::default()
        })),
        ..Default::default()
    };
    encode_frame(&ping, &limits, &mut buf).unwrap();
    buf.freeze()
}

#[test]
fn hostile_tiny_fragments_stay_within_the_budget_and_healthy_streams_flow() {
    const LIMIT: u64 = 256 * 1024;
    let config = ConnectionConfig {
        receive_memory_limit: LIMIT,
        max_streams: 64,
        ..ConnectionConfig::default()
    };
    let mut connection = Connection::new(config, Timestamp::ZERO);
    let mut number = 1;
    let mut now = Timestamp::ZERO;
    // A peer sends one byte every other offset of the initial window of 60 streams, each
    // byte alone in a padded 1,400-byte datagram and never the first byte of its stream: a
    // zero-copy receiver would pin 700 times the data, and none of it can ever be delivered.
    for stream in 0..60 {
        for offset in (1..INITIAL_STREAM_WINDOW).step_by(2).take(2_000) {
            now += Duration::from_micros(10);
            connection.handle_datagram(now, padded_packet(number, stream, offset, b"x", 1_400));
            number += 2;
            assert!(
                connection.receive_memory() <= LIMIT + 1_400 + 4 * ENTRY_COST,
                "receive memory {} after stream {stream} offset {offset}",
                connection.receive_memory()
            );
        }
    }
    assert_eq!(connection.close_reason(), None);
    assert!(connection.stats().packets_refused > 0);
    assert!(connection.peak_receive_memory() <= LIMIT + 1_400 + 4 * ENTRY_COST);
    // Data that starts a stream is still taken, and complete messages are delivered.
    while connection.poll_event().is_some() {}
    let content = PacketContent {
        fragments: vec![PacketFragment {
            data: Bytes::from_static(b"hello"),
            ..Default::default()
        }],
    };
    let mut buf = BytesMut::new();
    let message = FrameMessage {
        packet_number: number,
        body: Some(Body::Packet(Packet {
            stream_id: 61,
            stream_offset: 0,
            content: content.encode_to_vec().into(),
            ..Default::default()
        })),
        ..Default::default()
    };
    encode_frame(&message, &FrameLimits::default(), &mut buf).unwrap();
    connection.handle_datagram(now, buf.freeze());
    assert!(matches!(
        connection.poll_event(),
        Some(ConnectionEvent::Message { stream: 61, data, .. }) if data == "hello"
    ));
}

#[test]
fn small_pieces_are_compacted_out_of_the_buffers_they_arrived_in() {
    let mut connection = Connection::new(ConnectionConfig::default(), Timestamp::ZERO);
    for i in 0..500u64 {
        connection.handle_datagram(
            Timestamp::ZERO,
            padded_packet(1 + 2 * i, 1, 1 + 2 * i, b"y", 1_400),
        );
    }
    // 500 one-byte pieces: 500 bytes of data, charged as at most twice that plus the slack
    // and the bookkeeping entries, not 500 × 1,400.
    let bound = 2 * 500 + COMPACT_SLACK + 2 * 500 * ENTRY_COST;
    assert!(
        connection.receive_memory() <= bound,
        "{} > {bound}",
        connection.receive_memory()
    );
}

/// A conforming sender on many streams, a receiver whose budget holds far less than the
/// streams' windows, and loss: everything arrives once, in order, and the receiver's memory
/// stays within its budget plus what filling holes may take.
#[test]
fn a_tight_budget_slows_many_streams_but_loses_nothing() {
    use super::tests::{Pair, payload, secs};
    const LIMIT: u64 = 512 * 1024;
    let mut pair = Pair::new(ConnectionConfig::default(), Duration::from_millis(20));
    pair.b = Connection::new(
        ConnectionConfig {
            receive_memory_limit: LIMIT,
            ..ConnectionConfig::default()
        },
        Timestamp::ZERO,
    );
    pair.drop = Box::new(|towards_b, n, _| towards_b && n % 7 == 0);
    let streams = 16;
    for i in 0..40 {
        for stream in 0..streams {
            pair.a
                .send(pair.now, stream, payload(i, 20_000), None)
                .unwrap();
        }
    }
    pair.run_until(secs(60));
    // Data beyond the budget was refused and sent again, not lost.
    assert!(pair.b.stats().packets_refused > 0);
    assert_eq!(pair.received_b.len(), 40 * streams as usize);
    assert_each_stream_in_order(&pair.received_b, streams, 40, 20_000);
    let peak = pair.b.peak_receive_memory();
    let bound = LIMIT + streams as u64 * (INITIAL_STREAM_WINDOW + COMPACT_SLACK);
    assert!(peak <= bound, "peak receive memory {peak} > {bound}");
    assert_eq!(pair.b.receive_memory(), 0);
}

/// The stall seen with larger pacer bursts: a receiver whose budget is full refuses every
/// packet that does not fill its stream from the front, and acknowledges nothing of it. When
/// the packets that would fill the holes are lost on the wire, nothing the sender has in
/// flight is ever acknowledged, so no loss is detected; a probe timeout must still bring an
/// acknowledgement (a probe carries a ping, which is always acknowledged), or the transfer
/// stalls for good.
#[test]
fn a_probe_is_acknowledged_even_when_its_data_is_refused() {
    use crate::frame::DatagramDecoder;
    let mut a = Connection::new(ConnectionConfig::default(), Timestamp::ZERO);
    let mut b = Connection::new(
        ConnectionConfig {
            receive_memory_limit: 1,
            ..ConnectionConfig::default()
        },
        Timestamp::ZERO,
    );
    a.send(Timestamp::ZERO, 0, Bytes::from(vec![7u8; 50_000]), None)
        .unwrap();
    let mut now = Timestamp::ZERO;
    let mut buf = BytesMut::new();
    let mut datagrams = Vec::new();
    while a.poll_transmit(now, &mut buf).is_some() {
        datagrams.push(buf.split().freeze());
    }
    assert!(datagrams.len() >= 3, "{} datagrams", datagrams.len());
    // The first (the stream's head) is lost; the second is taken and fills the budget; the
    // rest are refused.
    for datagram in &datagrams[1..] {
        b.handle_datagram(now, datagram.clone());
    }
    assert!(b.stats().packets_refused > 0);
    assert!(b.receive_memory() >= 1);
    // Its acknowledgement of the one packet it took is lost too: the sender hears nothing.
    while b.poll_transmit(now, &mut buf).is_some() {
        buf.clear();
    }
    // The sender goes on as its pacer allows; the receiver refuses it all and says nothing.
    while a.stats().probe_timeouts == 0 {
        now = a.poll_timeout().expect("a probe timeout is armed");
        assert!(now < Timestamp::from_millis(1_000));
        a.handle_timeout(now);
        if a.stats().probe_timeouts > 0 {
            break;
        }
        while a.poll_transmit(now, &mut buf).is_some() {
            b.handle_datagram(now, buf.split().freeze());
        }
        assert!(b.poll_transmit(now, &mut buf).is_none());
    }
    // The probe timeout fired; its datagram carries a ping besides data (which the receiver
    // refuses unless it is the head of its stream).
    let mut probe = Vec::new();
    while a.poll_transmit(now, &mut buf).is_some() {
        probe.push(buf.split().freeze());
    }
    let mut frames = Vec::new();
    DatagramDecoder::new(FrameLimits::default())
        .decode(probe[0].clone(), &mut frames)
        .unwrap();
    assert!(
        frames
            .iter()
            .any(|f| matches!(f.message.body, Some(Body::Ping(_)))),
        "the probe carries a ping"
    );
    for datagram in probe {
        b.handle_datagram(now, datagram);
    }
    // The receiver acknowledges the ping: the sender learns that the head was lost.
    let mut answered = false;
    while b.poll_transmit(now, &mut buf).is_some() {
        a.handle_datagram(now, buf.split().freeze());
        answered = true;
    }
    assert!(answered, "the receiver acknowledges the probe");
    assert!(a.metrics().packets_lost > 0);
    assert_eq!(a.close_reason(), None);
}

/// With `hold_delivered`, an application that stops releasing what it received stops the
/// grants: the sender is held to the budget (plus each stream's initial window), and every
/// release lets more through, until all arrived once and in order.
#[test]
fn held_messages_stop_the_sender_until_released() {
    use super::tests::{Pair, payload, secs};
    const LIMIT: u64 = 1024 * 1024;
    const SIZE: usize = 20_000;
    let streams = 4i64;
    let mut pair = Pair::new(ConnectionConfig::default(), Duration::from_millis(5));
    pair.b = Connection::new(
        ConnectionConfig {
            receive_memory_limit: LIMIT,
            hold_delivered: true,
            ..ConnectionConfig::default()
        },
        Timestamp::ZERO,
    );
    let per_stream = 100;
    for i in 0..per_stream {
        for stream in 0..streams {
            pair.a
                .send(pair.now, stream, payload(i, SIZE), None)
                .unwrap();
        }
    }
    let total = per_stream * streams as usize;
    // Reserved grants keep it within the limit, the floors within the limit again (they are
    // given while anything is spare, without counting other streams' unused credit), plus
    // each stream's floor and a message in flight.
    let bound = 2 * LIMIT + streams as u64 * (INITIAL_STREAM_WINDOW + SIZE as u64);
    let mut released = 0;
    let mut rounds = 0;
    let mut deadline = secs(0);
    while pair.received_b.len() < total {
        deadline += Duration::from_secs(5);
        pair.run_until(deadline);
        let fresh = &pair.received_b[released..];
        let bytes: u64 = fresh.iter().map(|(_, d)| d.len() as u64).sum();
        // Nothing released since the last round: what arrived is what the budget allowed.
        assert!(
            bytes <= bound,
            "{bytes} bytes arrived unreleased (bound {bound})"
        );
        assert!(!fresh.is_empty(), "the sender stalled for good");
        assert!(pair.b.streams().held_receive_memory() >= bytes);
        pair.b.release(bytes, fresh.len() as u64);
        released = pair.received_b.len();
        rounds += 1;
    }
    assert!(
        rounds >= 3,
        "{rounds} rounds: the budget did not hold the sender back"
    );
    assert_each_stream_in_order(&pair.received_b, streams, per_stream, SIZE);
    assert_eq!(pair.b.streams().held_receive_memory(), 0);
}

/// Without `hold_delivered` (the default), releases change nothing and delivery frees the
/// budget: the same transfer goes through in one round.
#[test]
fn without_holding_delivery_frees_the_budget() {
    use super::tests::{Pair, payload, secs};
    let mut pair = Pair::new(ConnectionConfig::default(), Duration::from_millis(5));
    pair.b = Connection::new(
        ConnectionConfig {
            receive_memory_limit: 1024 * 1024,
            ..ConnectionConfig::default()
        },
        Timestamp::ZERO,
    );
    for i in 0..400 {
        pair.a
            .send(pair.now, i % 4, payload(i as usize, 20_000), None)
            .unwrap();
    }
    pair.run_until(secs(5));
    assert_eq!(pair.received_b.len(), 400);
    pair.b.release(1_000, 1);
    assert_eq!(pair.b.streams().held_receive_memory(), 0);
}

/// Each of `streams` streams delivered `count` messages `payload(0..count, size)`, in order.
fn assert_each_stream_in_order(received: &[(i64, Bytes)], streams: i64, count: usize, size: usize) {
    use super::tests::payload;
    for stream in 0..streams {
        let got: Vec<_> = received
            .iter()
            .filter(|(s, _)| *s == stream)
            .map(|(_, d)| d.clone())
            .collect();
        let want: Vec<_> = (0..count).map(|i| payload(i, size)).collect();
        assert!(
            got == want,
            "stream {stream}: {} messages, not as sent",
            got.len()
        );
    }
}
