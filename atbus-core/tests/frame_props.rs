//! Property tests of the frame codec: round trips, arbitrary splits, corruption and garbage.

use atbus_core::frame::{
    DatagramDecoder, DecodeError, Frame, FrameLimits, StreamDecoder, encode_frame,
    encoded_frame_len,
};
use atbus_core::proto::{
    Acknowledge, ConnectionClose, FrameMessage, MessageHead, Packet, PacketAcknowledge, PingData,
    Register, RegisterAccepted, RegisterRefused, RegisterResult, StreamAcknowledge,
    frame_message::Body, register_result::Outcome,
};
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

fn bytes_up_to(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-z0-9.-]{1,40}"]
}

fn head() -> impl Strategy<Value = Option<Box<MessageHead>>> {
    prop::option::of(
        (name(), name(), name(), any::<u64>(), any::<u32>()).prop_map(
            |(source, destination, forward_for_source, forward_for_connection_id, hop_count)| {
                Box::new(MessageHead {
                    source,
                    destination,
                    forward_for_source,
                    forward_for_connection_id,
                    hop_count,
                })
            },
        ),
    )
}

fn ping() -> impl Strategy<Value = PingData> {
    (any::<u64>(), bytes_up_to(64), any::<u32>()).prop_map(|(t, padding, size)| PingData {
        timepoint_microseconds: t,
        pmtud_padding: padding,
        pmtud_received_size: size,
    })
}

fn body() -> impl Strategy<Value = Option<Body>> {
    prop_oneof![
        Just(None),
        ping().prop_map(|p| Some(Body::Ping(p))),
        ping().prop_map(|p| Some(Body::Pong(p))),
        (
            any::<i64>(),
            any::<u64>(),
            bytes_up_to(300),
            any::<u32>(),
            any::<u32>(),
            any::<u64>()
        )
            .prop_map(
                |(stream_id, stream_offset, content, flags, padding_size, t)| {
                    Some(Body::Packet(Packet {
                        stream_id,
                        stream_offset,
                        content,
                        flags,
                        padding_size,
                        timepoint_microseconds: t,
                    }))
                }
            ),
        (
            prop::collection::vec(
                (
                    any::<i64>(),
                    any::<u64>(),
                    any::<u64>(),
                    prop::collection::vec(any::<u64>(), 0..8)
                ),
                0..4
            ),
            any::<u64>(),
            prop::collection::vec(any::<u64>(), 0..8)
        )
            .prop_map(|(streams, t, ranges)| {
                Some(Body::Acknowledge(Acknowledge {
                    streams: streams
                        .into_iter()
                        .map(|(stream_id, ack, max, received_ranges)| StreamAcknowledge {
                            stream_id,
                            acknowledge_offset: ack,
                            received_max_offset: max,
                            received_ranges,
                            window_size: ack / 2,
                            finished: max % 2 == 0,
                        })
                        .collect(),
                    timepoint_microseconds: t,
                    ack_delay_microseconds: t / 3,
                    packets: Some(PacketAcknowledge {
                        largest_packet_number: t,
                        ranges,
                    }),
                }))
            }),
        (0i32..17, "[ -~]{0,40}")
            .prop_map(|(reason, message)| Some(Body::Close(ConnectionClose { reason, message }))),
    ]
}

/// The handshake steps (fields 16 and 17, beside the body oneof): absent most of the time.
fn handshake_steps() -> impl Strategy<Value = (Option<Box<Register>>, Option<Box<RegisterResult>>)>
{
    let register = (
        "[a-z0-9.-]{0,20}",
        any::<(u32, u32, u64, u64)>(),
        prop::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(|(name, (min, max, instance, session), auth)| Register {
            name,
            min_version: min,
            max_version: max,
            instance_id: instance,
            session_id: session,
            auth: auth.into(),
        });
    let outcome = prop_oneof![
        Just(None),
        any::<(u32, u64, bool)>().prop_map(|(version, session_id, adopted)| Some(
            Outcome::Accepted(RegisterAccepted {
                version,
                session_id,
                adopted,
            })
        )),
        (0i32..17, "[ -~]{0,40}").prop_map(|(reason, message)| Some(Outcome::Refused(
            RegisterRefused { reason, message }
        ))),
    ];
    let result = ("[a-z0-9.-]{0,20}", any::<(u32, u32, u64)>(), outcome).prop_map(
        |(name, (min, max, instance), outcome)| RegisterResult {
            name,
            min_version: min,
            max_version: max,
            instance_id: instance,
            outcome,
            auth: Bytes::new(),
        },
    );
    prop_oneof![
        6 => Just((None, None)),
        1 => register.prop_map(|r| (Some(Box::new(r)), None)),
        1 => result.prop_map(|r| (None, Some(Box::new(r)))),
    ]
}

fn frame_message() -> impl Strategy<Value = FrameMessage> {
    (head(), any::<u64>(), body(), handshake_steps()).prop_map(
        |(head, packet_number, body, (register, register_result))| FrameMessage {
            head,
            packet_number,
            body,
            register,
            register_result,
        },
    )
}

fn encode(message: &FrameMessage) -> BytesMut {
    let mut buf = BytesMut::new();
    let written = encode_frame(message, &FrameLimits::default(), &mut buf).expect("encodes");
    assert_eq!(written, buf.len());
    assert_eq!(written, encoded_frame_len(message));
    buf
}

/// Feeds `input` in the given chunk sizes, collecting every frame and the final outcome.
fn decode_stream(input: &[u8], chunks: &[usize]) -> (Vec<Frame>, Result<(), DecodeError>) {
    let mut decoder = StreamDecoder::new(FrameLimits::default());
    let mut frames = Vec::new();
    let mut rest = input;
    let mut sizes = chunks.iter().copied().cycle();
    while !rest.is_empty() {
        let take = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(take);
        rest = tail;
        decoder.feed(chunk);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(error) => return (frames, Err(error)),
            }
        }
    }
    let end = decoder.finish();
    (frames, end)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trip_through_both_decoders(message in frame_message()) {
        let wire = encode(&message);
        let (frames, end) = decode_stream(&wire, &[wire.len()]);
        prop_assert_eq!(end, Ok(()));
        prop_assert_eq!(frames.len(), 1);
        prop_assert_eq!(&frames[0].message, &message);
        prop_assert_eq!(frames[0].wire_len, wire.len());

        let mut out = Vec::new();
        prop_assert_eq!(DatagramDecoder::default().decode(wire.freeze(), &mut out), Ok(1));
        prop_assert_eq!(&out[0].message, &message);
    }

    #[test]
    fn any_split_of_a_concatenation_yields_the_same_frames(
        messages in prop::collection::vec(frame_message(), 1..8),
        chunks in prop::collection::vec(1usize..64, 1..16),
    ) {
        let mut wire = BytesMut::new();
        for message in &messages {
            wire.extend_from_slice(&encode(message));
        }
        let (frames, end) = decode_stream(&wire, &chunks);
        prop_assert_eq!(end, Ok(()));
        let decoded: Vec<_> = frames.into_iter().map(|f| f.message).collect();
        prop_assert_eq!(&decoded, &messages);

        // The same concatenation is also a valid multi-frame datagram.
        let mut out = Vec::new();
        prop_assert_eq!(DatagramDecoder::default().decode(wire.freeze(), &mut out), Ok(messages.len()));
        let decoded: Vec<_> = out.into_iter().map(|f| f.message).collect();
        prop_assert_eq!(decoded, messages);
    }

    #[test]
    fn a_flipped_byte_is_never_accepted_as_a_different_frame(
        message in frame_message(),
        index in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let mut wire = encode(&message).to_vec();
        let at = index.index(wire.len());
        wire[at] ^= mask;

        let (frames, end) = decode_stream(&wire, &[7]);
        for frame in &frames {
            prop_assert_eq!(&frame.message, &message, "a corrupted frame was accepted as another");
        }
        // The hash covers every byte, so the corruption is detected (bar a 2^-32 collision).
        prop_assert!(end.is_err(), "corruption at byte {} went unnoticed", at);

        let mut out = Vec::new();
        prop_assert!(DatagramDecoder::default().decode(Bytes::from(wire), &mut out).is_err());
        prop_assert!(out.is_empty());
    }

    #[test]
    fn random_bytes_never_panic(
        garbage in prop::collection::vec(any::<u8>(), 0..2048),
        chunks in prop::collection::vec(1usize..128, 1..8),
        with_valid_header in any::<bool>(),
    ) {
        let mut input = Vec::new();
        if with_valid_header {
            // Get past the version and length checks so the hash and protobuf paths are reached.
            input.push(3);
            prost::encoding::encode_varint(garbage.len().saturating_sub(4) as u64, &mut input);
        }
        input.extend_from_slice(&garbage);
        let (_frames, _end) = decode_stream(&input, &chunks);
        let mut out = Vec::new();
        let _ = DatagramDecoder::default().decode(Bytes::from(input), &mut out);
    }
}

/// Wraps arbitrary `frame_message` bytes in a frame with a correct header and hash.
fn frame_around(message_bytes: &[u8]) -> Bytes {
    let mut frame = vec![3u8];
    prost::encoding::encode_varint(message_bytes.len() as u64, &mut frame);
    frame.extend_from_slice(message_bytes);
    let hash = atbus_core::frame::frame_hash(&frame);
    frame.extend_from_slice(&hash.to_le_bytes());
    Bytes::from(frame)
}

/// The codec's decoder and prost's must agree on every input: same message or same error.
fn assert_decoders_agree(message_bytes: &[u8]) -> Result<(), TestCaseError> {
    use prost::Message as _;
    let expected = FrameMessage::decode(message_bytes).map_err(DecodeError::MalformedMessage);
    let mut out = Vec::new();
    let actual = DatagramDecoder::default()
        .decode(frame_around(message_bytes), &mut out)
        .map(|_| out.pop().expect("one frame").message);
    prop_assert_eq!(actual, expected);
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(prop::sample::Index, u8),
    Truncate(prop::sample::Index),
    Insert(prop::sample::Index, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), 1u8..=255).prop_map(|(i, m)| Mutation::Flip(i, m)),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn encoder_writes_exactly_what_prost_writes(message in frame_message()) {
        use prost::Message as _;
        let wire = encode(&message);
        let expected = message.encode_to_vec();
        let header_len = wire.len() - expected.len() - 4;
        prop_assert_eq!(&wire[header_len..wire.len() - 4], &expected[..]);
    }

    #[test]
    fn decoder_agrees_with_prost_on_mutated_messages(
        message in frame_message(),
        mutations in prop::collection::vec(mutation(), 0..4),
    ) {
        use prost::Message as _;
        let mut bytes = message.encode_to_vec();
        for mutation in mutations {
            match mutation {
                Mutation::Flip(i, mask) if !bytes.is_empty() => {
                    let at = i.index(bytes.len());
                    bytes[at] ^= mask;
                }
                Mutation::Truncate(i) if !bytes.is_empty() => bytes.truncate(i.index(bytes.len())),
                Mutation::Insert(i, byte) => bytes.insert(i.index(bytes.len() + 1), byte),
                _ => {}
            }
        }
        assert_decoders_agree(&bytes)?;
    }

    #[test]
    fn decoder_agrees_with_prost_on_random_messages(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        assert_decoders_agree(&bytes)?;
    }
}

#[test]
fn small_limits_reject_large_frames_without_buffering_them() {
    let limits = FrameLimits::new(64);
    let message = FrameMessage {
        body: Some(Body::Ping(PingData {
            pmtud_padding: Bytes::from(vec![7u8; 100]),
            ..Default::default()
        })),
        ..Default::default()
    };
    let wire = encode(&message);
    let mut decoder = StreamDecoder::new(limits);
    // Only the header has arrived: the length is already known to be too large.
    decoder.feed(&wire[..3]);
    assert!(matches!(
        decoder.next_frame(),
        Err(DecodeError::FrameTooLarge {
            length: 104,
            max: 64
        })
    ));
}
