//! Arbitrary frames into a connection that has data in flight.
//!
//! The input is a sequence of chunks, each `[control, len, bytes...]`. When `control` is odd the
//! bytes are wrapped as a `frame_message` in a frame with a correct header and hash, so the
//! connection logic itself (not only the decoder) meets hostile acknowledgements, stream data and
//! closes; otherwise they go in as a raw datagram. A `control` of 250 or more also resets one of
//! the connection's own streams. Between chunks time advances by `control` milliseconds and the
//! connection transmits and handles its timeouts. Nothing may panic, and memory stays within the
//! configured bounds: send buffers, and the receive budget plus what filling streams from the
//! front may take.
#![no_main]

use atbus_core::Timestamp;
use atbus_core::connection::{Connection, ConnectionConfig, INITIAL_STREAM_WINDOW};
use atbus_core::frame::frame_hash;
use atbus_core::stream::COMPACT_SLACK;
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let config = ConnectionConfig {
        max_streams: 8,
        stream_receive_window: 64 * 1024,
        receive_memory_limit: 128 * 1024,
        ..ConnectionConfig::default()
    };
    let receive_bound = config.receive_memory_limit
        + config.max_streams as u64 * (INITIAL_STREAM_WINDOW + COMPACT_SLACK)
        + 64 * 1024;
    let mut now = Timestamp::ZERO;
    let mut connection = Connection::new(config.clone(), now);
    for stream in 0..3 {
        let _ = connection.send(now, stream, Bytes::from(vec![stream as u8; 3_000]), None);
    }
    let mut buf = BytesMut::new();
    let mut rest = data;
    while let [control, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (chunk, next) = tail.split_at(len);
        rest = next;
        let datagram = if control & 1 == 1 {
            let mut frame = vec![3u8];
            prost::encoding::encode_varint(chunk.len() as u64, &mut frame);
            frame.extend_from_slice(chunk);
            let hash = frame_hash(&frame);
            frame.extend_from_slice(&hash.to_le_bytes());
            Bytes::from(frame)
        } else {
            Bytes::copy_from_slice(chunk)
        };
        connection.handle_datagram(now, datagram);
        if *control >= 250 {
            let _ = connection.reset_stream(i64::from(control % 3));
        }
        now += Duration::from_millis(u64::from(*control));
        if connection.poll_timeout().is_some_and(|t| t <= now) {
            connection.handle_timeout(now);
        }
        while connection.poll_transmit(now, &mut buf).is_some() {
            buf.clear();
        }
        while connection.poll_event().is_some() {}
        assert!(connection.unacked_bytes() <= 3 * config.stream_send_buffer);
        assert!(connection.receive_memory() <= receive_bound);
    }
});
