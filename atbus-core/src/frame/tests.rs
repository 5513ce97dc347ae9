//! Unit tests of the frame codec, including the test vectors of docs/PROTOCOL.md.
//!
//! The frame vectors were computed independently of this crate: the protobuf bytes by hand from
//! the schema, the hash with Python's `xxhash` package (`xxh3_64_intdigest(seed=0x01000193)`).

use bytes::{Bytes, BytesMut};
use prost::Message as _;

use super::*;
use crate::proto::{
    Packet, PacketContent, PacketFlag, PacketFragment, PingData, frame_message::Body,
};

/// `frame_message { ping { timepoint_microseconds: 1 } }`
const PING_FRAME: [u8; 10] = [0x03, 0x04, 0x5a, 0x02, 0x08, 0x01, 0x32, 0x4f, 0x0f, 0xe2];

/// `frame_message { packet_number: 1, packet { stream_id: -1, stream_offset: 5,
/// content: packet_content { fragments [{ data: "hi" }] }, flags: FINISH_STREAM } }`
const PACKET_FRAME: [u8; 24] = [
    0x03, 0x12, 0x10, 0x01, 0x6a, 0x0e, 0x08, 0x01, 0x10, 0x05, 0x1a, 0x06, 0x0a, 0x04, 0x12, 0x02,
    0x68, 0x69, 0x20, 0x01, 0x92, 0xa8, 0x0c, 0xb5,
];

fn ping_message() -> FrameMessage {
    FrameMessage {
        body: Some(Body::Ping(PingData {
            timepoint_microseconds: 1,
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn packet_message() -> FrameMessage {
    let content = PacketContent {
        fragments: vec![PacketFragment {
            data: Bytes::from_static(b"hi"),
            ..Default::default()
        }],
    };
    FrameMessage {
        packet_number: 1,
        body: Some(Body::Packet(Packet {
            stream_id: -1,
            stream_offset: 5,
            content: content.encode_to_vec().into(),
            flags: PacketFlag::FinishStream as u32,
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn encode(message: &FrameMessage) -> BytesMut {
    let mut buf = BytesMut::new();
    encode_frame(message, &FrameLimits::default(), &mut buf).expect("encodes");
    buf
}

#[test]
fn hash_vectors_of_the_specification() {
    let ten: Vec<u8> = (0u8..10).collect();
    assert_eq!(frame_hash(&ten).to_le_bytes(), [0x88, 0x3f, 0xa4, 0xa7]);
    assert_eq!(frame_hash(&[]).to_le_bytes(), [0x00, 0xcc, 0xc8, 0xbd]);
}

#[test]
fn frame_vectors_encode_exactly() {
    assert_eq!(&encode(&ping_message())[..], &PING_FRAME);
    assert_eq!(&encode(&packet_message())[..], &PACKET_FRAME);
    assert_eq!(encoded_frame_len(&ping_message()), PING_FRAME.len());
    assert_eq!(encoded_frame_len(&packet_message()), PACKET_FRAME.len());
}

#[test]
fn frame_vectors_decode_exactly() {
    let mut decoder = StreamDecoder::new(FrameLimits::default());
    decoder.feed(&PING_FRAME);
    decoder.feed(&PACKET_FRAME);
    let ping = decoder.next_frame().unwrap().unwrap();
    assert_eq!(ping.version, 3);
    assert_eq!(ping.wire_len, PING_FRAME.len());
    assert_eq!(ping.message, ping_message());
    let packet = decoder.next_frame().unwrap().unwrap();
    assert_eq!(packet.message, packet_message());
    assert_eq!(decoder.next_frame(), Ok(None));
    assert_eq!(decoder.finish(), Ok(()));
}

#[test]
fn stream_decoder_accepts_one_byte_at_a_time() {
    let mut decoder = StreamDecoder::new(FrameLimits::default());
    let mut frames = Vec::new();
    for byte in PACKET_FRAME.iter().chain(PING_FRAME.iter()) {
        decoder.feed(&[*byte]);
        while let Some(frame) = decoder.next_frame().unwrap() {
            frames.push(frame.message);
        }
    }
    assert_eq!(frames, vec![packet_message(), ping_message()]);
}

#[test]
fn stream_decoder_payloads_share_the_receive_buffer() {
    let mut decoder = StreamDecoder::new(FrameLimits::default());
    decoder.feed(&PACKET_FRAME);
    let region = decoder.buffer_mut().as_ptr_range();
    let frame = decoder.next_frame().unwrap().unwrap();
    let Some(Body::Packet(packet)) = frame.message.body else {
        panic!("packet body expected");
    };
    assert!(
        region.contains(&packet.content.as_ptr()),
        "content was copied"
    );
}

#[test]
fn stream_decoder_slices_whole_frames_out_of_bytes_input_and_buffers_only_a_partial_one() {
    let mut input = BytesMut::new();
    input.extend_from_slice(&PACKET_FRAME);
    input.extend_from_slice(&PING_FRAME);
    input.extend_from_slice(&PACKET_FRAME[..5]);
    let input = input.freeze();
    let region = input.as_ptr_range();
    assert_eq!(
        frame_len(&input, &FrameLimits::default()),
        Ok(Some(PACKET_FRAME.len()))
    );
    assert_eq!(frame_len(&input[..1], &FrameLimits::default()), Ok(None));
    let mut decoder = StreamDecoder::new(FrameLimits::default());
    decoder.feed_bytes(input);
    let frame = decoder.next_frame().unwrap().unwrap();
    let Some(Body::Packet(packet)) = frame.message.body else {
        panic!("packet body expected");
    };
    assert!(
        region.contains(&packet.content.as_ptr()),
        "content was copied"
    );
    assert_eq!(
        decoder.next_frame().unwrap().unwrap().message,
        ping_message()
    );
    assert_eq!(decoder.next_frame(), Ok(None));
    assert_eq!(decoder.buffered_len(), 5);
    // The rest of the partial frame, as bytes again: it joins the buffered start.
    decoder.feed_bytes(Bytes::copy_from_slice(&PACKET_FRAME[5..]));
    assert_eq!(
        decoder.next_frame().unwrap().unwrap().message,
        packet_message()
    );
    assert_eq!((decoder.buffered_len(), decoder.finish()), (0, Ok(())));
}

#[test]
fn datagram_decoder_payloads_share_the_datagram() {
    let datagram = Bytes::copy_from_slice(&PACKET_FRAME);
    let region = datagram.as_ptr_range();
    let mut out = Vec::new();
    DatagramDecoder::default()
        .decode(datagram, &mut out)
        .unwrap();
    let Some(Body::Packet(packet)) = &out[0].message.body else {
        panic!("packet body expected");
    };
    assert!(
        region.contains(&packet.content.as_ptr()),
        "content was copied"
    );
}

#[test]
fn stream_decoder_reports_truncation_at_end_of_stream() {
    let mut decoder = StreamDecoder::new(FrameLimits::default());
    decoder.feed(&PING_FRAME[..7]);
    assert_eq!(decoder.next_frame(), Ok(None));
    assert_eq!(
        decoder.finish(),
        Err(DecodeError::Truncated {
            available: 7,
            needed: PING_FRAME.len()
        })
    );
}

#[test]
fn stream_decoder_errors_are_final() {
    let mut bad = PING_FRAME;
    bad[9] ^= 1;
    let mut decoder = StreamDecoder::new(FrameLimits::default());
    decoder.feed(&bad);
    let error = decoder.next_frame().unwrap_err();
    assert!(matches!(error, DecodeError::HashMismatch { .. }));
    assert_eq!(
        error.close_reason(),
        crate::proto::CloseReason::InvalidFrame
    );
    // A good frame after a bad one is not delivered: the stream cannot be trusted any more.
    decoder.feed(&PING_FRAME);
    assert_eq!(decoder.next_frame(), Err(error.clone()));
    assert_eq!(decoder.finish(), Err(error));
}

#[test]
fn oversize_length_is_rejected_before_the_body_arrives() {
    // Header announcing a 1 GiB message, and nothing else.
    let mut header = BytesMut::new();
    prost::encoding::encode_varint(3, &mut header);
    prost::encoding::encode_varint(1 << 30, &mut header);
    let mut decoder = StreamDecoder::new(FrameLimits::default());
    decoder.feed(&header);
    assert_eq!(
        decoder.next_frame(),
        Err(DecodeError::FrameTooLarge {
            length: 1 << 30,
            max: DEFAULT_MAX_FRAME_MESSAGE_LEN
        })
    );
    assert_eq!(
        DatagramDecoder::default().decode(header.freeze(), &mut Vec::new()),
        Err(DecodeError::FrameTooLarge {
            length: 1 << 30,
            max: DEFAULT_MAX_FRAME_MESSAGE_LEN
        })
    );
}

#[test]
fn unsupported_versions_are_rejected() {
    for version in [0u8, 1, 2, 4, 0x7f] {
        let mut frame = PING_FRAME;
        frame[0] = version;
        let mut decoder = StreamDecoder::new(FrameLimits::default());
        decoder.feed(&frame);
        let error = decoder.next_frame().unwrap_err();
        assert_eq!(
            error,
            DecodeError::UnsupportedVersion {
                version: u64::from(version),
                min: MIN_PROTOCOL_VERSION,
                max: PROTOCOL_VERSION
            }
        );
        assert_eq!(
            error.close_reason(),
            crate::proto::CloseReason::UnsupportedVersion
        );
    }
}

#[test]
fn malformed_protobuf_with_a_valid_hash_is_rejected() {
    // Field 13 (packet) claims 100 bytes but the message is 2 bytes long.
    let mut frame = vec![0x03, 0x02, 0x6a, 0x64];
    let hash = frame_hash(&frame);
    frame.extend_from_slice(&hash.to_le_bytes());
    let mut decoder = StreamDecoder::new(FrameLimits::default());
    decoder.feed(&frame);
    assert!(matches!(
        decoder.next_frame(),
        Err(DecodeError::MalformedMessage(_))
    ));
}

#[test]
fn datagram_with_several_frames_decodes_all() {
    let mut datagram = encode(&ping_message());
    datagram.extend_from_slice(&encode(&packet_message()));
    let mut out = Vec::new();
    let decoder = DatagramDecoder::default();
    assert_eq!(decoder.decode(datagram.freeze(), &mut out), Ok(2));
    assert_eq!(out[0].message, ping_message());
    assert_eq!(out[1].message, packet_message());
}

#[test]
fn datagram_is_rejected_whole_when_any_frame_is_bad() {
    let decoder = DatagramDecoder::default();
    let mut out = vec![];
    // A good frame followed by a truncated one: nothing is delivered.
    let mut datagram = BytesMut::from(&PING_FRAME[..]);
    datagram.extend_from_slice(&PACKET_FRAME[..PACKET_FRAME.len() - 1]);
    assert_eq!(
        decoder.decode(datagram.freeze(), &mut out),
        Err(DecodeError::Truncated {
            available: PACKET_FRAME.len() - 1,
            needed: PACKET_FRAME.len()
        })
    );
    assert!(out.is_empty());
    // A good frame followed by a corrupted one.
    let mut datagram = BytesMut::from(&PING_FRAME[..]);
    let mut corrupted = PACKET_FRAME;
    corrupted[10] ^= 0x40;
    datagram.extend_from_slice(&corrupted);
    assert!(matches!(
        decoder.decode(datagram.freeze(), &mut out),
        Err(DecodeError::HashMismatch { .. })
    ));
    assert!(out.is_empty());
    assert_eq!(
        decoder.decode(Bytes::new(), &mut out),
        Err(DecodeError::EmptyDatagram)
    );
}

#[test]
fn datagram_decoder_keeps_earlier_output_on_error() {
    let decoder = DatagramDecoder::default();
    let mut out = Vec::new();
    decoder
        .decode(Bytes::from_static(&PING_FRAME), &mut out)
        .unwrap();
    assert!(
        decoder
            .decode(Bytes::from_static(&PING_FRAME[..5]), &mut out)
            .is_err()
    );
    assert_eq!(out.len(), 1);
}

#[test]
fn encoder_refuses_frames_the_peer_would_reject() {
    let limits = FrameLimits::new(16);
    let message = FrameMessage {
        body: Some(Body::Ping(PingData {
            pmtud_padding: Bytes::from(vec![0u8; 32]),
            ..Default::default()
        })),
        ..Default::default()
    };
    let mut buf = BytesMut::from(&b"keep"[..]);
    assert_eq!(
        encode_frame(&message, &limits, &mut buf),
        Err(EncodeError::FrameTooLarge {
            length: 36,
            max: 16
        })
    );
    assert_eq!(&buf[..], b"keep", "nothing written on error");
}

#[test]
fn empty_frame_message_is_a_valid_frame() {
    let frame = encode(&FrameMessage::default());
    assert_eq!(frame.len(), 2 + FRAME_HASH_LEN);
    let mut out = Vec::new();
    DatagramDecoder::default()
        .decode(frame.freeze(), &mut out)
        .unwrap();
    assert_eq!(out[0].message, FrameMessage::default());
}
