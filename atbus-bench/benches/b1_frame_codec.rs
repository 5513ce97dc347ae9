//! B1 — frame codec: encode + decode + hash check, beside a plain memcpy of the same bytes.
//!
//! Run with `cargo bench -p atbus-bench --bench b1_frame_codec`. Criterion prints its usual
//! statistics for every case; at the end a table prints frames/s, MB/s and the ratio of each
//! codec case to the memcpy baseline of the same size, all from the samples of this run.
//!
//! A second baseline, XXH3 of the frame, shows the floor the specified hash sets: a round trip
//! hashes every byte twice.
//!
//! One iteration of a codec case encodes a packet frame straight into the decoder's receive
//! buffer (as an in-process link or a socket read would fill it), then decodes it: header checks,
//! XXH3 hash over the whole frame, protobuf decode with the payload sliced, not copied. The
//! baseline copies the same number of bytes (the whole encoded frame) from one buffer to another.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use atbus_core::frame::{
    DatagramDecoder, FrameLimits, StreamDecoder, encode_frame, encoded_frame_len, frame_hash,
};
use atbus_core::proto::{FrameMessage, Packet, PacketContent, PacketFragment, frame_message::Body};
use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput};

/// Total time and iterations per case, accumulated from every sample criterion takes.
static TOTALS: Mutex<BTreeMap<String, (u64, Duration)>> = Mutex::new(BTreeMap::new());

fn record(case: &str, iters: u64, elapsed: Duration) -> Duration {
    let mut totals = TOTALS.lock().expect("not poisoned");
    let entry = totals.entry(case.to_owned()).or_default();
    entry.0 += iters;
    entry.1 += elapsed;
    elapsed
}

fn packet_frame(payload_len: usize) -> FrameMessage {
    let content = PacketContent {
        fragments: vec![PacketFragment {
            data: Bytes::from(vec![0xa5u8; payload_len]),
            ..Default::default()
        }],
    };
    FrameMessage {
        packet_number: 1_000_000,
        body: Some(Body::Packet(Packet {
            stream_id: 1,
            stream_offset: 123_456_789,
            content: prost::Message::encode_to_vec(&content).into(),
            timepoint_microseconds: 1_700_000_000_000,
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn bench_size(c: &mut Criterion, label: &str, payload_len: usize) {
    let message = packet_frame(payload_len);
    let frame_len = encoded_frame_len(&message);
    let limits = FrameLimits::default();
    let mut group = c.benchmark_group(format!("b1/{label}"));
    group.throughput(Throughput::Bytes(frame_len as u64));

    let case = format!("{label}/memcpy");
    let source = vec![0x5au8; frame_len];
    let mut target = vec![0u8; frame_len];
    group.bench_function("memcpy", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                target.copy_from_slice(black_box(&source));
                black_box(&mut target);
            }
            record(&case, iters, start.elapsed())
        })
    });

    // The spec fixes XXH3 as the frame hash; an encode+decode round trip hashes every byte
    // twice (sender and receiver), so this second baseline shows the floor the hash sets.
    let case = format!("{label}/xxh3");
    group.bench_function("xxh3 of the frame", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(frame_hash(black_box(&source)));
            }
            record(&case, iters, start.elapsed())
        })
    });

    // Zero-copy decoding shares buffers by reference count: one atomic increment and one
    // decrement per `Bytes` handed out. Their cost on this machine, for reference.
    let case = format!("{label}/refcount");
    let shared = Bytes::from(source.clone());
    drop(shared.clone()); // the first clone promotes the buffer to a shared one
    group.bench_function("Bytes clone+drop", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(black_box(&shared).clone());
            }
            record(&case, iters, start.elapsed())
        })
    });

    let case = format!("{label}/stream");
    let mut decoder = StreamDecoder::new(limits);
    group.bench_function("stream encode+decode+verify", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                encode_frame(black_box(&message), &limits, decoder.buffer_mut()).expect("encodes");
                let frame = decoder.next_frame().expect("valid").expect("whole");
                black_box(frame);
            }
            record(&case, iters, start.elapsed())
        })
    });

    let case = format!("{label}/datagram");
    let datagrams = DatagramDecoder::new(limits);
    let mut buffer = BytesMut::with_capacity(frame_len * 4);
    let mut out = Vec::with_capacity(1);
    group.bench_function("datagram encode+decode+verify", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                encode_frame(black_box(&message), &limits, &mut buffer).expect("encodes");
                let datagram = buffer.split().freeze();
                datagrams.decode(datagram, &mut out).expect("valid");
                black_box(out.pop());
            }
            record(&case, iters, start.elapsed())
        })
    });
    group.finish();
}

fn print_summary(sizes: &[(&str, usize)]) {
    let totals = TOTALS.lock().expect("not poisoned");
    let per_iter = |case: &str| {
        let (iters, elapsed) = totals[case];
        elapsed.as_secs_f64() / iters as f64
    };
    println!();
    println!("B1 frame codec. Baselines of this run: memcpy of the whole encoded frame, and the");
    println!("hash floor = memcpy + 2 x XXH3 of the frame (one copy, sender and receiver hash).");
    println!(
        "{:<6} {:>7} {:<30} {:>10} {:>12} {:>9} {:>9} {:>9}",
        "size", "frame B", "case", "ns/frame", "frames/s", "MB/s", "/memcpy", "/floor"
    );
    for &(label, payload_len) in sizes {
        let frame_len = encoded_frame_len(&packet_frame(payload_len));
        let memcpy = per_iter(&format!("{label}/memcpy"));
        let floor = memcpy + 2.0 * per_iter(&format!("{label}/xxh3"));
        for (case, name) in [
            ("memcpy", "memcpy (baseline)"),
            ("xxh3", "xxh3 of the frame"),
            ("refcount", "Bytes clone+drop (reference)"),
            ("stream", "stream encode+decode+verify"),
            ("datagram", "datagram encode+decode+verify"),
        ] {
            let secs = per_iter(&format!("{label}/{case}"));
            println!(
                "{:<6} {:>7} {:<30} {:>10.1} {:>12.0} {:>9.0} {:>9.3} {:>9.3}",
                label,
                frame_len,
                name,
                secs * 1e9,
                1.0 / secs,
                frame_len as f64 / secs / 1e6,
                memcpy / secs,
                floor / secs,
            );
        }
    }
    println!("/memcpy and /floor are bandwidth ratios: baseline time / case time (1.0 = as fast).");
}

fn main() {
    let sizes = [("64B", 64usize), ("64KiB", 64 * 1024)];
    let mut criterion = Criterion::default().configure_from_args();
    for &(label, payload_len) in &sizes {
        bench_size(&mut criterion, label, payload_len);
    }
    criterion.final_summary();
    // `cargo test --benches` runs each case once in test mode; the table needs real samples.
    if TOTALS
        .lock()
        .expect("not poisoned")
        .values()
        .all(|(iters, _)| *iters > 1)
    {
        print_summary(&sizes);
    }
}
