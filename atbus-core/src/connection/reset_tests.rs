//! `RESET_OFFSET`: a sender abandons what is unacknowledged; the receiver skips it; nothing
//! after the reset is lost or duplicated, and nothing the sender reported as unsent arrives.

use std::time::Duration;

use bytes::Bytes;

use super::tests::{Pair, payload, secs};
use super::*;

/// Sends `before` messages, lets `run_for` pass, resets, sends `after` messages, and checks
/// what arrived against what the reset reported.
fn reset_mid_transfer(drop_every: u64, run_for: Duration, before: usize, after: usize) {
    let mut pair = Pair::new(ConnectionConfig::default(), Duration::from_millis(15));
    pair.drop = Box::new(move |towards_b, n, _| towards_b && n % drop_every == 0);
    let message = |i: usize| payload(i, 1_000 + i % 7 * 300);
    for i in 0..before {
        pair.a.send(pair.now, 1, message(i), None).unwrap();
    }
    pair.run_until(Timestamp::ZERO + run_for);
    let abandoned = pair.a.reset_stream(1).unwrap();
    for i in before..before + after {
        pair.a.send(pair.now, 1, message(i), None).unwrap();
    }
    pair.a.finish(1).unwrap();
    pair.run_until(secs(60));

    let received: Vec<&Bytes> = pair.received_b.iter().map(|(_, d)| d).collect();
    let unsent: Vec<Bytes> = abandoned.unsent.iter().map(|(d, _)| d.clone()).collect();
    let unacked: Vec<Bytes> = abandoned
        .unacknowledged
        .iter()
        .map(|(d, _)| d.clone())
        .collect();
    // Every message before the reset was delivered or handed back; the ones handed back as
    // never sent whole were not delivered; delivered ones came once, in order.
    let mut last_index = None;
    for (index, data) in received.iter().enumerate() {
        let i = (0..before + after)
            .find(|&i| message(i) == **data)
            .expect("a message that was sent");
        assert!(
            last_index.is_none_or(|l| i > l),
            "out of order or duplicate at {index}"
        );
        last_index = Some(i);
        assert!(
            !unsent.contains(data),
            "message {i} was reported unsent but arrived"
        );
    }
    for i in 0..before {
        let handed_back = unsent.contains(&message(i)) || unacked.contains(&message(i));
        let arrived = received.contains(&&message(i));
        assert!(handed_back || arrived, "message {i} vanished");
    }
    // Everything after the reset arrives, and the stream ends.
    for i in before..before + after {
        assert!(
            received.contains(&&message(i)),
            "message {i} after the reset is missing"
        );
    }
    assert_eq!(pair.finished_b.len(), 1);
    assert_eq!(pair.b.receive_memory(), 0);
    assert_eq!(pair.a.unacked_bytes(), 0);
}

#[test]
fn a_reset_mid_transfer_skips_what_it_abandoned_and_loses_nothing_after() {
    for (drop_every, run_ms) in [(3, 20), (4, 40), (5, 35), (1_000, 31), (2, 50)] {
        reset_mid_transfer(drop_every, Duration::from_millis(run_ms), 60, 30);
    }
}

#[test]
fn a_reset_with_nothing_after_it_still_reaches_the_receiver() {
    let mut pair = Pair::new(ConnectionConfig::default(), Duration::from_millis(10));
    // The first three datagrams towards b, which carry the messages, are lost.
    pair.drop = Box::new(|towards_b, n, _| towards_b && n <= 3);
    for i in 0..3 {
        pair.a.send(pair.now, 7, payload(i, 500), None).unwrap();
    }
    pair.run_until(Timestamp::from_millis(5));
    let abandoned = pair.a.reset_stream(7).unwrap();
    assert_eq!(abandoned.unacknowledged.len(), 3);
    pair.a.finish(7).unwrap();
    pair.run_until(secs(10));
    assert!(pair.received_b.is_empty());
    // The flag-only packet carried the reset and the end: the stream finished empty.
    assert_eq!(pair.finished_b, vec![(7, 0)]);
    assert_eq!(pair.a.unacked_bytes(), 0);
}
