//! The codec's `frame_message` decoder (a hand-written fast path with prost as the fallback)
//! against prost alone, on arbitrary message bytes inside a frame with a correct hash: both must
//! give the same message or both must fail. Accepted messages must also re-encode to the bytes
//! prost writes.
#![no_main]

use atbus_core::frame::{DatagramDecoder, FrameLimits, encode_frame, frame_hash};
use atbus_core::proto::FrameMessage;
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use prost::Message as _;

fuzz_target!(|message_bytes: &[u8]| {
    let mut frame = vec![3u8];
    prost::encoding::encode_varint(message_bytes.len() as u64, &mut frame);
    frame.extend_from_slice(message_bytes);
    let hash = frame_hash(&frame);
    frame.extend_from_slice(&hash.to_le_bytes());

    let limits = FrameLimits::default();
    let mut out = Vec::new();
    let ours = DatagramDecoder::new(limits).decode(Bytes::from(frame), &mut out);
    let theirs = FrameMessage::decode(message_bytes);
    match (ours, theirs) {
        (Ok(1), Ok(expected)) => {
            let message = &out[0].message;
            assert_eq!(message, &expected);
            let mut again = BytesMut::new();
            encode_frame(message, &limits, &mut again).expect("re-encodes");
            let prost_bytes = expected.encode_to_vec();
            assert_eq!(
                &again[again.len() - 4 - prost_bytes.len()..again.len() - 4],
                &prost_bytes[..]
            );
        }
        (Err(_), Err(_)) => {}
        (ours, theirs) => panic!("decoders disagree: ours {ours:?}, prost {theirs:?}"),
    }
});
