//! What a path counts in its [`TransportMetrics`]: traffic, fragments, loss and RTT samples.

use std::time::Duration;

use super::tests::{Pair, payload, run_byte_streams, secs};
use super::*;

#[test]
fn a_clean_path_counts_what_the_other_side_receives() {
    let mut pair = Pair::new(ConnectionConfig::default(), Duration::from_millis(20));
    for i in 0..200 {
        pair.a.send(pair.now, 1, payload(i, 900), None).unwrap();
    }
    pair.a.send(pair.now, 2, payload(7, 20_000), None).unwrap();
    pair.run_until(secs(5));
    assert_eq!(pair.received_b.len(), 201);
    let (a, b) = (pair.a.metrics(), pair.b.metrics());
    // Every frame and byte sent arrived, and the other way round.
    assert_eq!(a.packets_sent, b.packets_received);
    assert_eq!(a.bytes_sent, b.bytes_received);
    assert_eq!(b.packets_sent, a.packets_received);
    assert_eq!(b.bytes_sent, a.bytes_received);
    // Several frames share a datagram (an acknowledgement and data, small messages).
    assert!(a.packets_sent >= pair.a.stats().datagrams_sent);
    assert!(a.bytes_sent > 200 * 900 + 20_000);
    // Each data packet is a fragment; nothing was sent twice or lost.
    assert!(a.fragments_sent >= 200 * 900 / 1_452, "{a:?}");
    assert_eq!(a.fragments_sent, b.fragments_received);
    assert_eq!((a.retransmissions, a.packets_lost), (0, 0));
    assert_eq!(a.loss_rate(), 0.0);
    // RTT samples: 40 ms of wire, less the acknowledgement delay the peer reports.
    assert!(a.rtt.count() > 10, "{:?}", a.rtt);
    let mean = a.rtt.mean().unwrap();
    assert!(mean >= Duration::from_millis(40), "{mean:?}");
    assert!(mean < Duration::from_millis(50), "{mean:?}");
    // The histogram holds the same samples: (30, 45] and (45, 60] ms.
    assert_eq!(a.latency.count(), a.rtt.count());
    assert_eq!(a.latency.counts()[2] + a.latency.counts()[3], a.rtt.count());
    // The owner records how a path ended, not the path.
    assert_eq!((a.closed.total(), a.refused.total()), (0, 0));
}

#[test]
fn loss_is_counted_as_lost_frames_and_retransmitted_fragments() {
    let mut pair = Pair::new(ConnectionConfig::default(), Duration::from_millis(15));
    pair.drop = Box::new(|towards_b, n, _| towards_b && n % 5 == 0);
    for i in 0..300 {
        pair.a.send(pair.now, 3, payload(i, 1_000), None).unwrap();
    }
    pair.run_until(secs(30));
    assert_eq!(pair.received_b.len(), 300);
    let (a, b) = (pair.a.metrics(), pair.b.metrics());
    assert!(a.packets_lost > 0, "{a:?}");
    assert!(a.retransmissions > 0, "{a:?}");
    // Every fragment arrived once in the end; the lost ones were sent again.
    assert!(a.fragments_sent > b.fragments_received);
    assert!(a.fragments_sent - a.retransmissions <= b.fragments_received);
    assert!(b.packets_received < a.packets_sent);
    // One datagram in five towards b: about a fifth of a's frames, fewer counted as lost
    // (acknowledgement-only frames are never declared lost).
    let loss = a.loss_rate();
    assert!(loss > 0.02 && loss < 0.25, "loss rate {loss}");
    assert_eq!(a.latency.count(), a.rtt.count());
}

#[test]
fn byte_streams_count_bytes_and_frames_but_take_no_rtt_samples() {
    let mut a = Connection::byte_stream(ConnectionConfig::default(), Timestamp::ZERO);
    let mut b = Connection::byte_stream(ConnectionConfig::default(), Timestamp::ZERO);
    for i in 0..100 {
        a.send(Timestamp::ZERO, 1, payload(i, 3_000), None).unwrap();
    }
    let (received, _) = run_byte_streams(&mut a, &mut b, secs(2));
    assert_eq!(received.len(), 100);
    let (ma, mb) = (a.metrics(), b.metrics());
    assert_eq!(ma.bytes_sent, mb.bytes_received);
    assert_eq!(ma.packets_sent, mb.packets_received);
    assert_eq!(ma.fragments_sent, mb.fragments_received);
    assert!(ma.bytes_sent > 300_000);
    assert_eq!((ma.packets_lost, ma.retransmissions), (0, 0));
    // No packet numbers, no acknowledgements of them: no RTT samples.
    assert_eq!(ma.rtt.count(), 0);
}
