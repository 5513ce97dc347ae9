//! Reproduction for B4's finding: receiving one large frame (or datagram) that carries many small
//! messages cost time quadratic in their number, in `Assembler::insert_from` (fixed: a
//! source buffer is now charged once for all its pieces; this shows the cost per message).
//!
//! Each fragment sliced from an `n × 64`-byte buffer is charged the whole buffer as pinned
//! memory, so `pinned > 2 × buffered + COMPACT_SLACK` holds after every insert and
//! `Assembler::compact` (which rebuilds the whole piece map) runs once per fragment.
//! Delivery (`pop`) only happens after the frame's fragments are all inserted.
//!
//! Run: `cargo run --release -p atbus-bench --example assembler_small_fragments`.

use std::time::Instant;

use atbus_core::stream::{Assembler, Fragment, Source};
use bytes::Bytes;

fn main() {
    println!(
        "| messages per buffer | insert_from, ns per message | insert (owned), ns per message |"
    );
    println!("|---|---|---|");
    for n in [16usize, 64, 256, 1024, 4096] {
        let size = 64usize;
        let buffer = Bytes::from(vec![7u8; n * size]);
        let run = |sliced: bool| {
            let mut assembler = Assembler::new(1 << 30, 1 << 24);
            let start = Instant::now();
            for i in 0..n {
                let data = buffer.slice(i * size..(i + 1) * size);
                let fragment = Fragment {
                    offset: (i * size) as u64,
                    data: if sliced {
                        data
                    } else {
                        Bytes::copy_from_slice(&data)
                    },
                    ends_message: true,
                    meta: None,
                };
                let result = if sliced {
                    assembler.insert_from(
                        fragment,
                        Source {
                            id: 1,
                            len: buffer.len() as u64,
                        },
                    )
                } else {
                    assembler.insert(fragment)
                };
                result.expect("in order, in the window");
            }
            assembler.settle();
            let mut popped = 0;
            while assembler.pop().is_some() {
                popped += 1;
            }
            assert_eq!(popped, n);
            start.elapsed().as_nanos() as f64 / n as f64
        };
        println!("| {n} | {:.0} | {:.0} |", run(true), run(false));
    }
}
