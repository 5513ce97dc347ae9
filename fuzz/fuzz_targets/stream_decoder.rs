//! Byte-stream decoder on arbitrary input in arbitrary splits.
//!
//! The first byte chooses the chunk size the input is fed in, and (its low bit) whether chunks go
//! in as slices (`feed`) or alternately as `Bytes` (`feed_bytes`, sliced without copying) and
//! slices. Every frame the decoder accepts must
//! re-encode to a frame that decodes to the same message, and after the first error the decoder
//! must keep returning that error.
#![no_main]

use atbus_core::frame::{FrameLimits, StreamDecoder, encode_frame};
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, input)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    // Small limits reach the oversize path with small inputs too.
    let limits = FrameLimits::new(4096);
    let mut decoder = StreamDecoder::new(limits);
    let mixed = chunk % 2 == 1;
    for (i, piece) in input.chunks(chunk).enumerate() {
        if mixed && i % 2 == 0 {
            decoder.feed_bytes(Bytes::copy_from_slice(piece));
        } else {
            decoder.feed(piece);
        }
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    let mut again = BytesMut::new();
                    encode_frame(&frame.message, &limits, &mut again)
                        .expect("accepted frame re-encodes");
                    let mut check = StreamDecoder::new(limits);
                    check.feed(&again);
                    let round = check
                        .next_frame()
                        .expect("re-encoded frame decodes")
                        .expect("whole");
                    assert_eq!(round.message, frame.message);
                }
                Ok(None) => break,
                Err(error) => {
                    assert_eq!(decoder.next_frame(), Err(error.clone()));
                    assert_eq!(decoder.finish(), Err(error));
                    return;
                }
            }
        }
    }
    let _ = decoder.finish();
});
