//! quinn-proto driven by the simulator: every message arrives exactly once, in order, unmodified,
//! over lossy links, with either congestion controller.

use std::time::Duration;

use atbus_sim::seeds::for_each_seed;
use atbus_sim::{
    Endpoint, LinkConfig, LinkKind, NodeId, Outcome, QuinnConfig, QuinnCongestion, QuinnEndpoint,
    Scenario, Simulator, Workload, presets,
};

fn check(name: &str, link: LinkConfig, congestion: QuinnCongestion, seeds: std::ops::Range<u64>) {
    for_each_seed(name, seeds, |seed| {
        let scenario = Scenario::new(name, seed)
            .node("a")
            .node("b")
            .link("a", "b", LinkKind::Datagram, link.clone())
            // 1 MiB one way in 16 KiB messages, while 100-byte echoes and 3,000-byte messages
            // cross it on other streams.
            .workload(Workload::Bulk {
                from: "a".into(),
                to: "b".into(),
                stream: 7,
                total_bytes: 1 << 20,
                message_size: 16 * 1024,
                start: Duration::ZERO,
            })
            .workload(Workload::Echo {
                client: "a".into(),
                server: "b".into(),
                stream: 1,
                size: 100,
                interval: Duration::from_millis(10),
                count: 100,
                start: Duration::ZERO,
            })
            .workload(Workload::Messages {
                from: "b".into(),
                to: "a".into(),
                stream: 2,
                size: 3_000,
                interval: Duration::from_millis(25),
                count: 40,
                start: Duration::ZERO,
            })
            .deadline(Duration::from_secs(120));
        let mut factory = |node: NodeId, _: &str| -> Box<dyn Endpoint> {
            Box::new(QuinnEndpoint::new(node, QuinnConfig::new(seed, congestion)))
        };
        let report = Simulator::new(scenario, &mut factory)
            .map_err(|e| e.to_string())?
            .run();
        report.check_delivered_exactly_once()?;
        let m = &report.metrics;
        if m.send_failures > 0 {
            return Err(format!("{} sends refused", m.send_failures));
        }
        Ok(())
    });
}

#[test]
fn lossy_links_deliver_exactly_once_in_order_with_cubic() {
    check(
        "quinn_wifi_cubic",
        presets::wifi(),
        QuinnCongestion::Cubic,
        0..3,
    );
    check(
        "quinn_b3a_cubic",
        presets::b3a(),
        QuinnCongestion::Cubic,
        0..3,
    );
}

#[test]
fn lossy_links_deliver_exactly_once_in_order_with_bbr() {
    check(
        "quinn_cellular_bbr",
        presets::cellular_4g(),
        QuinnCongestion::Bbr,
        0..3,
    );
    check("quinn_b3a_bbr", presets::b3a(), QuinnCongestion::Bbr, 0..3);
}

fn bulk_run(seed: u64) -> atbus_sim::RunReport {
    let scenario = Scenario::new("quinn_determinism", seed)
        .node("a")
        .node("b")
        .link("a", "b", LinkKind::Datagram, presets::b3a())
        .workload(Workload::Bulk {
            from: "a".into(),
            to: "b".into(),
            stream: 0,
            total_bytes: 512 * 1024,
            message_size: 16 * 1024,
            start: Duration::ZERO,
        })
        .deadline(Duration::from_secs(60));
    let mut factory = |node: NodeId, _: &str| -> Box<dyn Endpoint> {
        Box::new(QuinnEndpoint::new(
            node,
            QuinnConfig::new(seed, QuinnCongestion::Cubic),
        ))
    };
    Simulator::new(scenario, &mut factory)
        .expect("valid scenario")
        .run()
}

#[test]
fn same_seed_gives_the_same_run() {
    // TLS randomness changes the bytes but not the sizes, so everything but the trace hash
    // (which folds in the bytes) repeats: every delivery time and every link counter.
    let first = bulk_run(5);
    let second = bulk_run(5);
    assert_eq!(first.outcome, Outcome::Completed);
    let times = |r: &atbus_sim::RunReport| -> Vec<_> {
        r.metrics.messages.iter().map(|m| m.completed_at).collect()
    };
    assert_eq!(times(&first), times(&second));
    assert_eq!(first.metrics.directions, second.metrics.directions);
    assert_eq!(first.metrics.events, second.metrics.events);
    let other = bulk_run(6);
    assert_ne!(first.metrics.directions, other.metrics.directions);
}

#[test]
fn a_killed_peer_ends_the_connection_without_panicking() {
    let scenario = Scenario::new("quinn_kill", 1)
        .node("a")
        .node("b")
        .link("a", "b", LinkKind::Datagram, presets::wifi())
        .workload(Workload::Echo {
            client: "a".into(),
            server: "b".into(),
            stream: 1,
            size: 100,
            interval: Duration::from_millis(10),
            count: 500,
            start: Duration::ZERO,
        })
        .fault(atbus_sim::Fault::KillNode {
            node: "b".into(),
            at: Duration::from_secs(1),
        })
        .deadline(Duration::from_secs(120));
    let mut factory = |node: NodeId, _: &str| -> Box<dyn Endpoint> {
        Box::new(QuinnEndpoint::new(
            node,
            QuinnConfig::new(1, QuinnCongestion::Bbr),
        ))
    };
    let report = Simulator::new(scenario, &mut factory)
        .expect("valid scenario")
        .run();
    let m = &report.metrics;
    // Echoes before the kill came back; after it the link is gone and sends are refused.
    let completed = m.messages.len() - m.incomplete();
    assert!(
        (50..500).contains(&completed),
        "{completed} echoes completed"
    );
    assert!(m.send_failures > 0);
    assert!(m.ended_at < atbus_sim::core::Timestamp::from_millis(120_000));
    assert_eq!(
        m.duplicate_deliveries + m.out_of_order_deliveries + m.corrupted_deliveries,
        0
    );
}
