//! Encodes a handful of atbus frames, prints their bytes, and decodes them again the way each
//! kind of link delivers them: as a byte stream cut into odd pieces, and as one datagram. Then
//! shows what the decoders say about a corrupted frame, a frame of an unknown version and an
//! oversize length.
//!
//! Run with `cargo run -p atbus-core --example frames`.

use std::collections::BTreeMap;

use atbus_core::frame::{DatagramDecoder, FrameLimits, StreamDecoder, encode_frame};
use atbus_core::proto::{
    Acknowledge, CloseReason, ConnectionClose, FrameMessage, MessageHead, Packet, PacketContent,
    PacketFlag, PacketFragment, PingData, StreamAcknowledge, frame_message::Body,
};
use bytes::{Bytes, BytesMut};
use prost::Message as _;

fn sample_frames() -> Vec<(&'static str, FrameMessage)> {
    let ping = FrameMessage {
        body: Some(Body::Ping(PingData {
            timepoint_microseconds: 8_000_000,
            ..Default::default()
        })),
        ..Default::default()
    };
    let content = PacketContent {
        fragments: vec![
            PacketFragment {
                data: Bytes::from_static(b"end of a message"),
                ..Default::default()
            },
            PacketFragment {
                data: Bytes::from_static(b"start of the next"),
                fragment_flag: 1,
                labels: BTreeMap::from([("area.region".to_owned(), "eu-west".to_owned())]),
                ..Default::default()
            },
        ],
    };
    let packet = FrameMessage {
        head: Some(Box::new(MessageHead {
            source: "gamesvr-1.lobby".to_owned(),
            destination: "matchsvr-0.lobby".to_owned(),
            ..Default::default()
        })),
        packet_number: 42,
        body: Some(Body::Packet(Packet {
            stream_id: 7,
            stream_offset: 4096,
            content: content.encode_to_vec().into(),
            timepoint_microseconds: 8_001_250,
            ..Default::default()
        })),
        ..Default::default()
    };
    let ack = FrameMessage {
        packet_number: 43,
        body: Some(Body::Acknowledge(Acknowledge {
            streams: vec![StreamAcknowledge {
                stream_id: 7,
                acknowledge_offset: 4096,
                received_max_offset: 4129,
                received_ranges: vec![16, 17],
                window_size: 1 << 20,
                finished: false,
            }],
            timepoint_microseconds: 8_001_250,
            ack_delay_microseconds: 120,
            packets: None,
        })),
        ..Default::default()
    };
    let finish = FrameMessage {
        body: Some(Body::Packet(Packet {
            stream_id: 7,
            stream_offset: 4129,
            flags: PacketFlag::FinishStream as u32,
            ..Default::default()
        })),
        ..Default::default()
    };
    let close = FrameMessage {
        body: Some(Body::Close(ConnectionClose {
            reason: CloseReason::Shutdown as i32,
            message: "bye".to_owned(),
        })),
        ..Default::default()
    };
    vec![
        ("ping", ping),
        ("packet", packet),
        ("acknowledge", ack),
        ("finish stream", finish),
        ("close", close),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let limits = FrameLimits::default();
    let frames = sample_frames();

    println!("== encoded frames (version | length | frame_message | xxh3 hash) ==");
    let mut wire = BytesMut::new();
    for (name, message) in &frames {
        let start = wire.len();
        let written = encode_frame(message, &limits, &mut wire)?;
        println!("{name:>14}: {written:>3} bytes  {}", hex(&wire[start..]));
    }

    println!("\n== byte stream, delivered in pieces of 1, 2, 3, ... bytes ==");
    let mut decoder = StreamDecoder::new(limits);
    let mut rest: &[u8] = &wire;
    let mut piece = 1;
    let mut decoded = 0;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(piece.min(rest.len()));
        decoder.feed(chunk);
        rest = tail;
        piece += 1;
        while let Some(frame) = decoder.next_frame()? {
            let (name, original) = &frames[decoded];
            assert_eq!(&frame.message, original);
            println!(
                "{name:>14}: v{} {} bytes  {:?}",
                frame.version, frame.wire_len, frame.message.body
            );
            decoded += 1;
        }
    }
    decoder.finish()?;

    println!("\n== the same bytes as one datagram ==");
    let mut out = Vec::new();
    let count = DatagramDecoder::new(limits).decode(wire.clone().freeze(), &mut out)?;
    println!(
        "{count} frames accepted, {} bytes",
        out.iter().map(|f| f.wire_len).sum::<usize>()
    );

    println!("\n== hostile input ==");
    let mut corrupted = wire.clone();
    corrupted[5] ^= 0x01;
    let mut decoder = StreamDecoder::new(limits);
    decoder.feed(&corrupted);
    let error = decoder.next_frame().expect_err("corruption is detected");
    println!(
        "flipped bit:      {error}  -> close reason {:?}",
        error.close_reason()
    );

    let mut old = wire.clone();
    old[0] = 2;
    let error = DatagramDecoder::new(limits)
        .decode(old.freeze(), &mut out)
        .expect_err("version 2 is refused");
    println!("version 2:        {error}");

    let mut decoder = StreamDecoder::new(limits);
    decoder.feed(&[0x03, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    let error = decoder.next_frame().expect_err("4 GiB is refused");
    println!("4 GiB length:     {error}");
    Ok(())
}
