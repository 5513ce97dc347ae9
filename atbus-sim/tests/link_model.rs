//! The link model measured through the simplest endpoints: each impairment does what its
//! configuration says, and nothing else does anything.

use std::time::Duration;

use atbus_sim::seeds::for_each_seed;
use atbus_sim::{
    DropCause, Endpoint, Fault, FrameEndpoint, LinkConfig, LinkKind, LossModel, Metrics, NodeId,
    Outcome, RawEndpoint, RunReport, Scenario, Simulator, Workload, presets,
};

fn one_way(
    seed: u64,
    link: LinkConfig,
    kind: LinkKind,
    count: u64,
    size: usize,
    interval: Duration,
) -> Scenario {
    Scenario::new("one_way", seed)
        .node("a")
        .node("b")
        .link("a", "b", kind, link)
        .workload(Workload::Messages {
            from: "a".into(),
            to: "b".into(),
            stream: 0,
            size,
            interval,
            count,
            start: Duration::ZERO,
        })
        .deadline(Duration::from_secs(24 * 3_600))
}

fn run_raw(scenario: Scenario) -> RunReport {
    let mut factory = |_: NodeId, _: &str| -> Box<dyn Endpoint> { Box::new(RawEndpoint::new(0)) };
    Simulator::new(scenario, &mut factory)
        .expect("valid scenario")
        .run()
}

fn run_frames(scenario: Scenario) -> RunReport {
    let mut factory = |_: NodeId, _: &str| -> Box<dyn Endpoint> { Box::new(FrameEndpoint::new()) };
    Simulator::new(scenario, &mut factory)
        .expect("valid scenario")
        .run()
}

fn drops(metrics: &Metrics, cause: DropCause) -> u64 {
    metrics
        .total_traffic()
        .drops
        .get(&cause)
        .copied()
        .unwrap_or(0)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn random_loss_matches_its_probability() {
    for_each_seed("random_loss_matches_its_probability", 0..5, |seed| {
        let link = LinkConfig {
            loss: LossModel::Random { probability: 0.1 },
            ..LinkConfig::default()
        };
        let report = run_raw(one_way(seed, link, LinkKind::Datagram, 20_000, 16, ms(1)));
        let lost = drops(&report.metrics, DropCause::Loss);
        // Binomial(20,000, 0.1): sd 42; allow 5 sd.
        if !(1_790..=2_210).contains(&lost) {
            return Err(format!("{lost} of 20,000 lost at 10 %"));
        }
        if report.metrics.incomplete() as u64 != lost {
            return Err("every undelivered message must be a counted drop".into());
        }
        Ok(())
    });
}

#[test]
fn bag_loss_is_exact_per_bag() {
    for_each_seed("bag_loss_is_exact_per_bag", 0..5, |seed| {
        let report = run_raw(one_way(
            seed,
            presets::kcp_test(),
            LinkKind::Datagram,
            10_000,
            8,
            ms(20),
        ));
        let lost = drops(&report.metrics, DropCause::Loss);
        (lost == 500)
            .then_some(())
            .ok_or(format!("{lost} lost of 10,000, expected exactly 500"))
    });
}

#[test]
fn kcp_test_delays_are_whole_milliseconds_in_range_and_fifo() {
    for_each_seed(
        "kcp_test_delays_are_whole_milliseconds_in_range_and_fifo",
        0..3,
        |seed| {
            let report = run_raw(one_way(
                seed,
                presets::kcp_test(),
                LinkKind::Datagram,
                2_000,
                8,
                ms(1),
            ));
            let mut last_completion = None;
            for message in &report.metrics.messages {
                let Some(latency) = message.latency() else {
                    continue;
                };
                if latency < ms(30) || latency.as_nanos() % 1_000_000 != 0 {
                    return Err(format!("latency {latency:?}"));
                }
                if last_completion.is_some_and(|last| message.completed_at < Some(last)) {
                    return Err("a packet overtook the one ahead of it".into());
                }
                last_completion = message.completed_at;
            }
            // Sent 1 ms apart with up to 31 ms of extra delay, FIFO makes some wait behind others,
            // but nothing waits longer than the slowest delay after its predecessor.
            let latency = report.metrics.latency(None);
            if latency.max_ms > 61.0 + 0.0 || latency.p50_ms < 45.0 {
                return Err(format!("latency summary {latency:?}"));
            }
            if report.metrics.out_of_order_deliveries != 0 {
                return Err("FIFO link reordered".into());
            }
            Ok(())
        },
    );
}

#[test]
fn jitter_without_fifo_reorders_and_with_fifo_does_not() {
    let link = |fifo| LinkConfig {
        delay: ms(10),
        jitter: ms(10),
        fifo,
        ..LinkConfig::default()
    };
    let free = run_raw(one_way(
        1,
        link(false),
        LinkKind::Datagram,
        2_000,
        16,
        ms(1),
    ));
    assert!(free.metrics.out_of_order_deliveries > 100);
    let fifo = run_raw(one_way(1, link(true), LinkKind::Datagram, 2_000, 16, ms(1)));
    assert_eq!(fifo.metrics.out_of_order_deliveries, 0);
    // Every latency within [delay, delay + jitter) without FIFO.
    for message in &free.metrics.messages {
        let latency = message.latency().expect("no loss");
        assert!(latency >= ms(10) && latency < ms(20), "{latency:?}");
    }
}

#[test]
fn reordering_and_duplication_match_their_probabilities() {
    for_each_seed(
        "reordering_and_duplication_match_their_probabilities",
        0..3,
        |seed| {
            let link = LinkConfig {
                delay: ms(5),
                duplicate: 0.05,
                reorder: 0.1,
                reorder_delay: ms(3),
                ..LinkConfig::default()
            };
            let report = run_raw(one_way(seed, link, LinkKind::Datagram, 10_000, 16, ms(1)));
            let m = &report.metrics;
            // Binomial(10,000, 0.05): sd 22.
            if !(390..=610).contains(&m.duplicate_deliveries) {
                return Err(format!("{} duplicates at 5 %", m.duplicate_deliveries));
            }
            // A message held 3 ms is overtaken by the next ones: roughly one out-of-order
            // delivery per reordered message (those overtaken by another reordered one excepted).
            if !(700..=1_100).contains(&m.out_of_order_deliveries) {
                return Err(format!(
                    "{} out of order at 10 %",
                    m.out_of_order_deliveries
                ));
            }
            (m.incomplete() == 0)
                .then_some(())
                .ok_or("nothing may be lost".into())
        },
    );
}

#[test]
fn gilbert_elliott_loss_is_bursty_with_the_configured_mean() {
    for_each_seed(
        "gilbert_elliott_loss_is_bursty_with_the_configured_mean",
        0..3,
        |seed| {
            let model = LossModel::GilbertElliott {
                good_to_bad: 0.01,
                bad_to_good: 0.2,
                loss_in_good: 0.0,
                loss_in_bad: 0.8,
            };
            let mean = model.mean_loss();
            let link = LinkConfig {
                loss: model,
                ..LinkConfig::default()
            };
            let report = run_raw(one_way(seed, link, LinkKind::Datagram, 50_000, 8, ms(1)));
            let lost: Vec<bool> = report
                .metrics
                .messages
                .iter()
                .map(|m| m.completed_at.is_none())
                .collect();
            let rate = lost.iter().filter(|l| **l).count() as f64 / lost.len() as f64;
            if (rate - mean).abs() > 0.3 * mean {
                return Err(format!("loss rate {rate:.4}, configured mean {mean:.4}"));
            }
            let after_loss = lost.windows(2).filter(|w| w[0]).count() as f64;
            let loss_after_loss = lost.windows(2).filter(|w| w[0] && w[1]).count() as f64;
            let conditional = loss_after_loss / after_loss;
            (conditional > 3.0 * rate).then_some(()).ok_or(format!(
                "P(loss | loss) {conditional:.3} is not bursty against {rate:.4}"
            ))
        },
    );
}

#[test]
fn bandwidth_paces_delivery_and_the_queue_tail_drops() {
    // 1 MB at 8 Mbit/s takes one second on the wire; a queue of 1 MB holds it all.
    let link = LinkConfig {
        delay: ms(20),
        bandwidth_bps: Some(8_000_000),
        queue_bytes: Some(1_000_000),
        ..LinkConfig::default()
    };
    let bulk = |link: LinkConfig| {
        Scenario::new("bulk", 1)
            .node("a")
            .node("b")
            .link("a", "b", LinkKind::Datagram, link)
            .workload(Workload::Bulk {
                from: "a".into(),
                to: "b".into(),
                stream: 0,
                total_bytes: 1_000_000,
                message_size: 1_000,
                start: Duration::ZERO,
            })
    };
    let report = run_raw(bulk(link.clone()));
    assert_eq!(report.outcome, Outcome::Completed);
    // The last byte leaves at 1 s and arrives 20 ms later; goodput counts from the first send to
    // the last delivery.
    assert_eq!(report.metrics.ended_at.as_millis(), 1_020);
    let goodput = report.metrics.goodput_bps();
    let expected = 8_000_000.0 / 1.020;
    assert!((goodput - expected).abs() < 1e-6 * expected, "{goodput}");

    let small_queue = LinkConfig {
        queue_bytes: Some(100_000),
        ..link
    };
    let report = run_raw(bulk(small_queue));
    let dropped = drops(&report.metrics, DropCause::QueueFull);
    // The raw endpoint offers everything at once: the queue holds 100 kB, the packet being
    // serialised included (100 packets), and drops the rest.
    assert_eq!(dropped, 900, "{:?}", report.metrics.total_traffic());
}

#[test]
fn oversize_datagrams_are_dropped_and_counted() {
    let report = run_raw(one_way(
        1,
        presets::wifi(),
        LinkKind::Datagram,
        10,
        1_500,
        ms(1),
    ));
    assert_eq!(drops(&report.metrics, DropCause::Mtu), 10);
    assert_eq!(report.metrics.incomplete(), 10);
}

#[test]
fn datagram_partition_drops_then_heals() {
    let scenario = one_way(1, LinkConfig::default(), LinkKind::Datagram, 100, 8, ms(10)).fault(
        Fault::Partition {
            link: 0,
            from: ms(200),
            until: ms(500),
        },
    );
    let report = run_raw(scenario);
    // Messages at 200, 210, ..., 490 ms fall into the partition.
    assert_eq!(drops(&report.metrics, DropCause::Partition), 30);
    assert_eq!(report.metrics.incomplete(), 30);
}

#[test]
fn byte_stream_carries_everything_in_order_and_resets_on_partition() {
    let link = LinkConfig {
        delay: ms(5),
        jitter: ms(5),
        bandwidth_bps: Some(10_000_000),
        ..LinkConfig::default()
    };
    let clean = run_frames(one_way(
        1,
        link.clone(),
        LinkKind::ByteStream,
        1_000,
        700,
        ms(1),
    ));
    assert_eq!(clean.outcome, Outcome::Completed);
    assert_eq!(clean.metrics.out_of_order_deliveries, 0);
    assert_eq!(clean.metrics.corrupted_deliveries, 0);

    let cut = one_way(1, link, LinkKind::ByteStream, 1_000, 700, ms(1)).fault(Fault::Partition {
        link: 0,
        from: ms(300),
        until: ms(400),
    });
    let report = run_frames(cut);
    let m = &report.metrics;
    // While the pipe is down the endpoint has no link: those sends are refused, not lost.
    assert_eq!(m.send_failures, 100);
    // Bytes in flight at the reset never arrive.
    assert!(drops(m, DropCause::Unreachable) > 0);
    assert_eq!(m.out_of_order_deliveries, 0);
    assert_eq!(m.corrupted_deliveries, 0);
    // After the heal, messages flow again.
    assert!(
        m.messages
            .iter()
            .rev()
            .take(100)
            .all(|r| r.completed_at.is_some())
    );
}

#[test]
fn killed_node_is_unreachable_and_the_run_stalls() {
    let scenario = one_way(
        1,
        LinkConfig {
            delay: ms(50),
            ..LinkConfig::default()
        },
        LinkKind::Datagram,
        100,
        8,
        ms(10),
    )
    .fault(Fault::KillNode {
        node: "b".into(),
        at: ms(500),
    });
    let report = run_raw(scenario);
    assert_eq!(report.outcome, Outcome::Stalled);
    // Sent before 450 ms: delivered. In flight at the kill: unreachable. After: no link.
    assert_eq!(report.metrics.latency(None).count, 45);
    assert_eq!(drops(&report.metrics, DropCause::Unreachable), 5);
    assert_eq!(report.metrics.send_failures, 50);
}

#[test]
fn virtual_time_jumps_over_idle_periods() {
    let report = run_raw(one_way(
        1,
        presets::satellite(),
        LinkKind::Datagram,
        10,
        100,
        Duration::from_secs(3_600),
    ));
    // Ten messages an hour apart: a handful of events, not a tick per millisecond.
    assert!(
        report.metrics.events <= 30,
        "{} events",
        report.metrics.events
    );
    assert!(report.metrics.ended_at.as_millis() >= 9 * 3_600 * 1_000);
}
