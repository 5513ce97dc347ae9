//! Datagram decoder on arbitrary datagrams.
//!
//! A datagram is accepted whole or not at all: on error the output vector is unchanged, on
//! success the frames' wire lengths add up to the datagram's length.
#![no_main]

use atbus_core::frame::{DatagramDecoder, FrameLimits};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let decoder = DatagramDecoder::new(FrameLimits::new(1500));
    let mut out = Vec::new();
    match decoder.decode(Bytes::copy_from_slice(data), &mut out) {
        Ok(count) => {
            assert_eq!(count, out.len());
            assert_eq!(out.iter().map(|f| f.wire_len).sum::<usize>(), data.len());
        }
        Err(_) => assert!(out.is_empty()),
    }
});
