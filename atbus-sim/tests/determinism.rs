//! The same seed and scenario give the same trace, bit for bit; another seed gives another.

use std::time::Duration;

use atbus_sim::{
    Direction, Endpoint, Fault, FrameEndpoint, KcpConfig, KcpEndpoint, KcpMode, LinkConfig,
    LinkKind, LossModel, NodeId, RunReport, Scenario, Simulator, Workload, presets,
};

/// Every impairment at once: jitter with correlation, bursty loss, duplication, reordering, a
/// bottleneck queue, MTU drops, a scripted drop, partitions of a datagram link and of a byte
/// stream, a killed node.
fn busy_scenario(seed: u64) -> Scenario {
    let rough = LinkConfig {
        delay: Duration::from_millis(10),
        jitter: Duration::from_millis(8),
        jitter_correlation: 0.4,
        loss: LossModel::GilbertElliott {
            good_to_bad: 0.02,
            bad_to_good: 0.3,
            loss_in_good: 0.01,
            loss_in_bad: 0.5,
        },
        duplicate: 0.02,
        reorder: 0.05,
        reorder_delay: Duration::from_millis(7),
        fifo: false,
        bandwidth_bps: Some(2_000_000),
        queue_bytes: Some(20_000),
        mtu: Some(200),
        ..LinkConfig::default()
    };
    Scenario::new("busy", seed)
        .node("kcp-client")
        .node("kcp-server")
        .node("a")
        .node("b")
        .node("c")
        .link(
            "kcp-client",
            "kcp-server",
            LinkKind::Datagram,
            presets::kcp_test(),
        )
        .link("a", "b", LinkKind::Datagram, rough)
        .link("b", "c", LinkKind::ByteStream, presets::datacenter())
        .link("a", "c", LinkKind::Datagram, presets::wifi())
        .workload(Workload::Echo {
            client: "kcp-client".into(),
            server: "kcp-server".into(),
            stream: 0,
            size: 8,
            interval: Duration::from_millis(20),
            count: 200,
            start: Duration::from_millis(20),
        })
        .workload(Workload::Messages {
            from: "a".into(),
            to: "b".into(),
            stream: 3,
            size: 150,
            interval: Duration::from_millis(2),
            count: 500,
            start: Duration::ZERO,
        })
        .workload(Workload::Messages {
            from: "a".into(),
            to: "b".into(),
            stream: 4,
            size: 300,
            interval: Duration::from_millis(50),
            count: 10,
            start: Duration::ZERO,
        })
        .workload(Workload::Echo {
            client: "c".into(),
            server: "b".into(),
            stream: 5,
            size: 1_000,
            interval: Duration::from_millis(5),
            count: 400,
            start: Duration::ZERO,
        })
        .workload(Workload::Bulk {
            from: "a".into(),
            to: "b".into(),
            stream: 6,
            total_bytes: 200_000,
            message_size: 180,
            start: Duration::from_millis(100),
        })
        .workload(Workload::Echo {
            client: "c".into(),
            server: "a".into(),
            stream: 7,
            size: 64,
            interval: Duration::from_millis(1),
            count: 5_000,
            start: Duration::ZERO,
        })
        .fault(Fault::DropPacket {
            link: 1,
            direction: Direction::AToB,
            index: 3,
        })
        .fault(Fault::Partition {
            link: 2,
            from: Duration::from_millis(500),
            until: Duration::from_millis(900),
        })
        .fault(Fault::Partition {
            link: 1,
            from: Duration::from_millis(1_000),
            until: Duration::from_millis(1_200),
        })
        .fault(Fault::KillNode {
            node: "a".into(),
            at: Duration::from_secs(3),
        })
        .deadline(Duration::from_secs(30))
}

fn run(seed: u64) -> RunReport {
    let mut factory = |node: NodeId, name: &str| -> Box<dyn Endpoint> {
        if name.starts_with("kcp") {
            Box::new(KcpEndpoint::new(KcpConfig::test_cpp(
                KcpMode::Fast,
                node.0 == 0,
            )))
        } else {
            Box::new(FrameEndpoint::new())
        }
    };
    Simulator::new(busy_scenario(seed), &mut factory)
        .expect("valid")
        .run()
}

#[test]
fn same_seed_same_trace_bit_for_bit() {
    let first = run(42);
    let second = run(42);
    assert_eq!(first.trace_hash, second.trace_hash);
    assert_eq!(first.metrics.events, second.metrics.events);
    assert_eq!(first.metrics.messages, second.metrics.messages);
    assert_eq!(first.metrics.directions, second.metrics.directions);
    // The scenario really exercised the impairments it claims to.
    let total = first.metrics.total_traffic();
    for cause in [
        "loss",
        "queue_full",
        "mtu",
        "scripted",
        "partition",
        "unreachable",
    ] {
        assert!(
            total
                .drops
                .iter()
                .any(|(c, n)| c.to_string() == cause && *n > 0),
            "no {cause} drops: {:?}",
            total.drops
        );
    }
    assert!(first.metrics.duplicate_deliveries > 0);
    assert!(first.metrics.out_of_order_deliveries > 0);
    assert_eq!(first.metrics.corrupted_deliveries, 0);
}

#[test]
fn another_seed_gives_another_trace() {
    assert_ne!(run(1).trace_hash, run(2).trace_hash);
}
