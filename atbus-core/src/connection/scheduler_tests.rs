//! The path scheduler: copies of latency-mode packets on a second path arrive once, cut the
//! delay that loss on one path causes, cost only the copy path's capacity, never send anything
//! again, and change nothing for other streams or for one path.
//!
//! Times asserted are virtual (the harness is deterministic); the loss of each datagram is
//! drawn from a seed, printed with the figures.

use std::time::Duration;

use super::session_tests::{Net, secs};
use super::tests::payload;
use super::*;

/// Latency messages, one every [`INTERVAL`].
const MESSAGES: usize = 500;
const INTERVAL: Duration = Duration::from_millis(20);
/// One-way delays of the two paths.
const DELAYS: [u64; 2] = [10, 25];

/// A number in [0, 1) drawn from `seed` for the `n`-th datagram on path `p` in one direction
/// (splitmix64: the same seed drops the same datagrams whatever the scheduler).
fn draw(seed: u64, p: usize, towards_b: bool, n: u64) -> f64 {
    let mut z = seed
        .wrapping_add((p as u64) << 48)
        .wrapping_add(u64::from(towards_b) << 40)
        .wrapping_add(n)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn config(kind: SchedulerKind) -> ConnectionConfig {
    ConnectionConfig {
        scheduler: kind,
        ..ConnectionConfig::default()
    }
}

/// Two paths ([`DELAYS`]) losing datagrams (both directions) with probability `loss[p]`; a
/// latency-mode stream 1 with `options`; [`MESSAGES`] messages of 64 bytes at [`INTERVAL`].
/// Returns the network once all is delivered and each message's delay (send to delivery).
fn latency_run(
    kind: SchedulerKind,
    options: StreamOptions,
    seed: u64,
    loss: [f64; 2],
) -> (Net, Vec<Duration>) {
    let mut net = Net::with_config(&DELAYS, &[], config(kind));
    net.drop = Box::new(move |p, towards_b, n| draw(seed, p, towards_b, n) < loss[p]);
    net.a.set_stream_options(1, options).unwrap();
    let mut sent_at = Vec::new();
    for i in 0..MESSAGES {
        let at = Timestamp::ZERO + INTERVAL * i as u32;
        net.run_until(at);
        net.a.send(1, payload(i, 64), None).unwrap();
        sent_at.push(at);
    }
    net.run_until(secs(30));
    net.check_exactly_once_in_order(1, MESSAGES, 64);
    assert_eq!(net.a.streams().unacked_bytes(), 0);
    let delays = sent_at
        .iter()
        .zip(&net.delivered_at_b)
        .map(|(sent, delivered)| *delivered - *sent)
        .collect();
    (net, delays)
}

/// Worst, 99th percentile and mean of `delays`.
fn summary(delays: &[Duration]) -> (Duration, Duration, Duration) {
    let mut sorted = delays.to_vec();
    sorted.sort();
    let p99 = sorted[sorted.len() * 99 / 100];
    let mean = sorted.iter().sum::<Duration>() / sorted.len() as u32;
    (*sorted.last().expect("some"), p99, mean)
}

/// Over all paths of `session`: (copies sent, stream bytes sent again, packets lost).
fn totals(session: &Session) -> (u64, u64, u64) {
    session.paths().fold((0, 0, 0), |(c, r, l), (_, path)| {
        let stats = path.stats();
        (
            c + stats.copies_sent,
            r + stats.retransmitted_bytes,
            l + path.metrics().packets_lost,
        )
    })
}

fn assert_nothing_in_flight(session: &Session) {
    for (id, path) in session.paths() {
        assert_eq!(path.sent.bytes_in_flight, 0, "{id:?}");
        assert_eq!(path.sent.latency_in_flight, 0, "{id:?}");
        assert!(path.recovery_deadline().is_none(), "{id:?}");
    }
}

#[test]
fn a_copy_goes_on_the_second_path_and_is_in_flight_there() {
    let mut net = Net::with_config(&DELAYS, &[], config(SchedulerKind::Redundant));
    net.a
        .set_stream_options(1, StreamOptions::latency())
        .unwrap();
    net.a.send(1, payload(0, 100), None).unwrap();
    net.flush();
    let path = |net: &Net, p: u64| -> (u64, usize, u64) {
        let (_, path) = net.a.paths().find(|(id, _)| *id == PathId(p)).unwrap();
        let stats = path.stats();
        assert_eq!(stats.copy_bytes > 0, stats.copies_sent > 0);
        (
            path.sent.bytes_in_flight,
            path.sent.latency_in_flight,
            stats.copies_sent,
        )
    };
    // Paths tie on the initial RTT: the original takes path 0, the copy path 1, where it is in
    // flight as any packet (window, latency-mode probe timeout).
    let (in_flight_0, latency_0, copies_0) = path(&net, 0);
    let (in_flight_1, latency_1, copies_1) = path(&net, 1);
    assert!(in_flight_0 > 0 && in_flight_1 > 0);
    assert_eq!((latency_0, latency_1), (1, 1));
    assert_eq!((copies_0, copies_1), (0, 1));
    assert_eq!(net.a.pending_copies(), 0);
    net.run_until(secs(1));
    // Delivered once; each path's acknowledgement released its own packet.
    net.check_exactly_once_in_order(1, 1, 100);
    assert_nothing_in_flight(&net.a);
    assert_eq!(totals(&net.a).1, 0, "nothing sent again");
    // Both copies of the 100 bytes crossed the wire, one per path.
    assert_eq!(net.wire_bytes.get(&(0, 1)), Some(&100));
    assert_eq!(net.wire_bytes.get(&(1, 1)), Some(&100));
}

#[test]
fn copies_cut_the_worst_delay_when_one_path_loses() {
    for options in [
        StreamOptions::latency(),
        StreamOptions {
            latency: true,
            redundant_messages: 0,
        },
    ] {
        for seed in [1, 2, 3] {
            // 20 % loss each way on the fast path, none on the slow one.
            let loss = [0.2, 0.0];
            let (plain, plain_delays) = latency_run(SchedulerKind::LowestRtt, options, seed, loss);
            let (copied, copied_delays) =
                latency_run(SchedulerKind::Redundant, options, seed, loss);
            let (plain_worst, plain_p99, plain_mean) = summary(&plain_delays);
            let (worst, p99, mean) = summary(&copied_delays);
            let (copies, resent, lost) = totals(&copied.a);
            println!(
                "seed {seed}, redundant_messages {}: lowest-rtt worst {plain_worst:?} p99 \
                 {plain_p99:?} mean {plain_mean:?} (resent {} B); redundant worst {worst:?} p99 \
                 {p99:?} mean {mean:?} ({copies} copies, {lost} lost, resent {resent} B)",
                options.redundant_messages,
                totals(&plain.a).1,
            );
            assert!(
                worst < plain_worst,
                "seed {seed}: {worst:?} vs {plain_worst:?}"
            );
            // The slow path never loses: every message arrives within its one-way delay plus
            // little (the copy leaves right after the original).
            assert!(
                worst <= Duration::from_millis(DELAYS[1] + 5),
                "seed {seed}: {worst:?}"
            );
            assert!(copies >= MESSAGES as u64, "a copy per latency packet");
            assert_nothing_in_flight(&copied.a);
        }
    }
}

#[test]
fn both_paths_lossy_every_message_arrives_once_in_order() {
    for seed in [4, 5, 6] {
        let loss = [0.1, 0.1];
        let (plain, plain_delays) = latency_run(
            SchedulerKind::LowestRtt,
            StreamOptions::latency(),
            seed,
            loss,
        );
        let (copied, delays) = latency_run(
            SchedulerKind::Redundant,
            StreamOptions::latency(),
            seed,
            loss,
        );
        let (plain_worst, plain_p99, plain_mean) = summary(&plain_delays);
        let (worst, p99, mean) = summary(&delays);
        println!(
            "seed {seed}, 10 % loss on both: lowest-rtt worst {plain_worst:?} p99 {plain_p99:?} \
             mean {plain_mean:?}; redundant worst {worst:?} p99 {p99:?} mean {mean:?}"
        );
        assert!(p99 < plain_p99, "seed {seed}: {p99:?} vs {plain_p99:?}");
        assert_nothing_in_flight(&copied.a);
        assert_nothing_in_flight(&plain.a);
    }
}

#[test]
fn a_lost_copy_sends_nothing_again() {
    let latency = StreamOptions {
        latency: true,
        redundant_messages: 0,
    };
    // Path 1 loses every third datagram towards b, then every one of them.
    for every in [3, 1] {
        let mut net = Net::with_config(&DELAYS, &[], config(SchedulerKind::Redundant));
        net.drop = Box::new(move |p, towards_b, n| p == 1 && towards_b && n % every == 0);
        net.a.set_stream_options(1, latency).unwrap();
        for i in 0..100 {
            net.run_until(Timestamp::ZERO + INTERVAL * i as u32);
            net.a.send(1, payload(i, 64), None).unwrap();
        }
        net.run_until(secs(5));
        net.check_exactly_once_in_order(1, 100, 64);
        // The originals all went on path 0, each once; no stream byte was sent again.
        assert_eq!(
            net.wire_bytes.get(&(0, 1)),
            Some(&(100 * 64)),
            "every {every}"
        );
        assert_eq!(totals(&net.a).1, 0, "every {every}: nothing sent again");
        let (_, copy_path) = net.a.paths().find(|(id, _)| *id == PathId(1)).unwrap();
        let stats = copy_path.stats();
        assert!(stats.copies_sent > 0);
        if every == 1 {
            // Nothing is ever acknowledged there: the copies stay in flight, within the
            // window, and the path probes (it will close as idle).
            assert_eq!(
                copy_path.sent.bytes_in_flight,
                copy_path.metrics().bytes_sent
            );
            assert!(copy_path.sent.bytes_in_flight <= copy_path.congestion.window());
            assert!(stats.probe_timeouts > 0);
        } else {
            // The copy path declares its own losses (its congestion state sees them).
            let lost = copy_path.metrics().packets_lost;
            assert!(lost > 0, "{stats:?}");
            assert_eq!(copy_path.sent.bytes_in_flight, 0);
        }
    }
}

#[test]
fn only_latency_streams_are_copied() {
    for kind in [SchedulerKind::LowestRtt, SchedulerKind::Redundant] {
        let mut net = Net::with_config(&DELAYS, &[], config(kind));
        let latency = StreamOptions {
            latency: true,
            redundant_messages: 0,
        };
        net.a.set_stream_options(1, latency).unwrap();
        for i in 0..200 {
            net.run_until(Timestamp::ZERO + INTERVAL * i as u32);
            net.a.send(1, payload(i, 100), None).unwrap();
            net.a.send(2, payload(i, 2_000), None).unwrap();
        }
        net.run_until(secs(10));
        net.check_exactly_once_in_order(1, 200, 100);
        net.check_exactly_once_in_order(2, 200, 2_000);
        let on_wire = |stream: i64| -> u64 {
            net.wire_bytes
                .iter()
                .filter(|((_, s), _)| *s == stream)
                .map(|(_, bytes)| bytes)
                .sum()
        };
        assert_eq!(totals(&net.a).1, 0, "{kind:?}: no loss, nothing sent again");
        // The bulk stream's bytes cross the wire once; the latency stream's once per path.
        assert_eq!(on_wire(2), 200 * 2_000, "{kind:?}");
        let copies = u64::from(kind == SchedulerKind::Redundant);
        assert_eq!(on_wire(1), (1 + copies) * 200 * 100, "{kind:?}");
        println!(
            "{kind:?}: stream bytes on the wire by (path, stream): {:?}",
            net.wire_bytes
        );
    }
}

#[test]
fn one_path_is_the_same_under_either_scheduler() {
    let run = |kind| {
        let mut net = Net::with_config(&[10], &[], config(kind));
        net.drop = Box::new(|_, _, n| draw(7, 0, true, n) < 0.1);
        net.a
            .set_stream_options(1, StreamOptions::latency())
            .unwrap();
        for i in 0..200 {
            net.run_until(Timestamp::ZERO + INTERVAL * i as u32);
            net.a.send(1, payload(i, 64), None).unwrap();
            net.a.send(2, payload(i, 1_500), None).unwrap();
        }
        net.run_until(secs(10));
        net.check_exactly_once_in_order(1, 200, 64);
        net.check_exactly_once_in_order(2, 200, 1_500);
        assert_eq!(net.a.pending_copies(), 0);
        let (_, path) = net.a.paths().next().unwrap();
        (path.stats().clone(), net.delivered_at_b.clone())
    };
    let (plain, plain_times) = run(SchedulerKind::LowestRtt);
    let (redundant, times) = run(SchedulerKind::Redundant);
    assert_eq!(plain.copies_sent, 0);
    assert_eq!(redundant, plain);
    assert_eq!(times, plain_times);
}

#[test]
fn copying_stops_below_two_paths_and_after_a_switch() {
    let mut net = Net::with_config(&DELAYS, &[], config(SchedulerKind::Redundant));
    net.a
        .set_stream_options(1, StreamOptions::latency())
        .unwrap();
    net.a.send(1, payload(0, 100), None).unwrap();
    net.flush();
    assert_eq!(totals(&net.a).0, 1);
    // Path 1 dies: no copy is made any more, and none waits.
    net.cut(1);
    net.a.remove_path(PathId(1)).unwrap();
    net.b.remove_path(PathId(1)).unwrap();
    for i in 1..20 {
        net.a.send(1, payload(i, 100), None).unwrap();
        net.run_until(net.now + INTERVAL);
    }
    assert_eq!(net.a.pending_copies(), 0);
    let (_, path_0) = net.a.paths().next().unwrap();
    assert_eq!(path_0.stats().copies_sent, 0);
    net.run_until(secs(2));
    net.check_exactly_once_in_order(1, 20, 100);
    // Switched off on a session with two paths: no copies either.
    let mut net = Net::with_config(&DELAYS, &[], config(SchedulerKind::Redundant));
    net.a.set_scheduler(SchedulerKind::LowestRtt);
    assert_eq!(net.a.scheduler(), SchedulerKind::LowestRtt);
    net.a
        .set_stream_options(1, StreamOptions::latency())
        .unwrap();
    for i in 0..20 {
        net.a.send(1, payload(i, 100), None).unwrap();
        net.run_until(net.now + INTERVAL);
    }
    net.run_until(secs(2));
    net.check_exactly_once_in_order(1, 20, 100);
    assert_eq!(totals(&net.a).0, 0);
}

#[test]
fn failover_with_copies_loses_and_duplicates_nothing() {
    for (kill_at_ms, seed) in [(150, 8), (1_000, 9), (3_000, 10)] {
        let mut net = Net::with_config(&DELAYS, &[], config(SchedulerKind::Redundant));
        net.drop = Box::new(move |p, towards_b, n| draw(seed, p, towards_b, n) < 0.1);
        net.a
            .set_stream_options(1, StreamOptions::latency())
            .unwrap();
        let mut killed = false;
        for i in 0..300 {
            let at = Timestamp::ZERO + INTERVAL * i as u32;
            net.run_until(at);
            if !killed && at >= Timestamp::from_millis(kill_at_ms) {
                // The fast path's transport dies, with originals and copies in flight.
                net.cut(0);
                net.a.remove_path(PathId(0)).unwrap();
                net.b.remove_path(PathId(0)).unwrap();
                killed = true;
            }
            net.a.send(1, payload(i, 64), None).unwrap();
            net.a.send(2, payload(i, 3_000), None).unwrap();
        }
        net.run_until(secs(60));
        net.check_exactly_once_in_order(1, 300, 64);
        net.check_exactly_once_in_order(2, 300, 3_000);
        assert_eq!(net.a.streams().unacked_bytes(), 0);
        assert_eq!(net.a.pending_copies(), 0);
        assert_nothing_in_flight(&net.a);
    }
}

#[test]
fn copies_wait_for_room_under_bulk_load() {
    // Two 8 Mbit/s links full of bulk data: copies wait for window and pacer, or go stale.
    let mut net = Net::with_config(&DELAYS, &[], config(SchedulerKind::Redundant));
    net.rates = vec![Some(1_000_000), Some(1_000_000)];
    net.a
        .set_stream_options(1, StreamOptions::latency())
        .unwrap();
    for i in 0..300 {
        net.a.send(2, payload(i, 8_000), None).unwrap();
    }
    for i in 0..150 {
        net.run_until(Timestamp::ZERO + INTERVAL * i as u32);
        net.a.send(1, payload(i, 64), None).unwrap();
    }
    net.run_until(secs(20));
    net.check_exactly_once_in_order(1, 150, 64);
    net.check_exactly_once_in_order(2, 300, 8_000);
    let copies = totals(&net.a).0;
    let waiting = net.most_copies_waiting;
    println!("under bulk load: {copies} copies for 150 messages, at most {waiting} waiting");
    assert!(copies > 0);
    // Copies did wait for room (and a timer or an acknowledgement let them go).
    assert!((1..=scheduler::MAX_PENDING_COPIES).contains(&waiting));
    assert_eq!(net.a.pending_copies(), 0);
    assert_nothing_in_flight(&net.a);
}

#[test]
fn a_copy_waiting_for_a_write_blocked_path_asks_for_no_timer() {
    // The original leaves on path 0; its copy can only go on path 1, whose transport cannot
    // take bytes. Unblocking is the owner's input, so no timer may wait for it: a deadline that
    // handle_timeout and poll_transmit leave at or before `now` makes the owner's loop spin.
    let mut net = Net::with_config(&DELAYS, &[], config(SchedulerKind::Redundant));
    net.a
        .set_stream_options(1, StreamOptions::latency())
        .unwrap();
    net.a.set_path_blocked(PathId(1), true);
    net.a.send(1, payload(0, 100), None).unwrap();
    net.flush();
    assert_eq!(net.a.pending_copies(), 1);
    let mut buf = BytesMut::new();
    let mut now = net.now;
    for _ in 0..3 {
        let deadline = net.a.poll_timeout().expect("the original's probe timeout");
        now = now.max(deadline);
        net.a.handle_timeout(now);
        while net.a.poll_transmit(now, &mut buf).is_some() {
            buf.clear();
        }
        let next = net.a.poll_timeout().expect("the original's probe timeout");
        assert!(
            next > now,
            "a timer at {next:?} that nothing clears (now {now:?})"
        );
    }
    // Unblocked, the path carries on: everything arrives once.
    net.a.set_path_blocked(PathId(1), false);
    net.run_until(secs(5));
    net.check_exactly_once_in_order(1, 1, 100);
    assert_nothing_in_flight(&net.a);
}
