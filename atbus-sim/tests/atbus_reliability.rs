//! atbus connections under every preset and harsher links: every message arrives exactly once,
//! in order, unmodified, for many seeds, and the endpoints' memory stays within the configured
//! bounds.

use std::time::Duration;

use atbus_core::connection::{ConnectionConfig, INITIAL_STREAM_WINDOW};
use atbus_core::stream::COMPACT_SLACK;
use atbus_sim::seeds::for_each_seed;
use atbus_sim::{
    AtbusEndpoint, Endpoint, Fault, LinkConfig, LinkKind, LossModel, NodeId, Outcome, RunReport,
    Scenario, Simulator, Workload, presets,
};

fn check(
    name: &str,
    link: LinkConfig,
    config: ConnectionConfig,
    seeds: std::ops::Range<u64>,
    faults: Vec<Fault>,
) {
    check_kind(name, LinkKind::Datagram, link, config, seeds, faults);
}

fn check_kind(
    name: &str,
    kind: LinkKind,
    link: LinkConfig,
    config: ConnectionConfig,
    seeds: std::ops::Range<u64>,
    faults: Vec<Fault>,
) {
    check_with(name, kind, link, config, &[], seeds, faults);
}

/// As [`check_kind`], with `latency_streams` in latency mode on a default connection.
fn check_with(
    name: &str,
    kind: LinkKind,
    link: LinkConfig,
    config: ConnectionConfig,
    latency_streams: &[u64],
    seeds: std::ops::Range<u64>,
    faults: Vec<Fault>,
) {
    for_each_seed(name, seeds, |seed| {
        let mut scenario = Scenario::new(name, seed)
            .node("a")
            .node("b")
            .link("a", "b", kind, link.clone())
            .workload(Workload::Echo {
                client: "a".into(),
                server: "b".into(),
                stream: 1,
                size: 100,
                interval: Duration::from_millis(10),
                count: 300,
                start: Duration::ZERO,
            })
            .workload(Workload::Messages {
                from: "b".into(),
                to: "a".into(),
                stream: 2,
                size: 3_000,
                interval: Duration::from_millis(25),
                count: 100,
                start: Duration::ZERO,
            })
            .deadline(Duration::from_secs(600));
        for fault in &faults {
            scenario = scenario.fault(fault.clone());
        }
        let mut factory = |_: NodeId, _: &str| -> Box<dyn Endpoint> {
            Box::new(
                AtbusEndpoint::new(config.clone())
                    .with_latency_streams(latency_streams.iter().copied()),
            )
        };
        let report = Simulator::new(scenario, &mut factory)
            .map_err(|e| e.to_string())?
            .run();
        check_report(&report, &config, 2)
    });
}

/// Exactly once, in order, unmodified; and per connection, reassembly memory within the
/// receive budget (plus what filling holes from the front may take: each stream's initial
/// window and compaction slack, and one datagram) and unacknowledged data within the send
/// buffers of the `streams` streams used.
fn check_report(report: &RunReport, config: &ConnectionConfig, streams: u64) -> Result<(), String> {
    report.check_delivered_exactly_once()?;
    let receive_bound = config.receive_memory_limit
        + streams * (INITIAL_STREAM_WINDOW + COMPACT_SLACK)
        + config.max_mtu as u64;
    let send_bound = streams * config.stream_send_buffer;
    for (node, peaks) in report.memory.iter().enumerate() {
        let peaks = peaks.ok_or("the atbus endpoint reports its memory")?;
        if peaks.receive > receive_bound || peaks.send > send_bound {
            return Err(format!(
                "node {node}: memory peaks {peaks:?} beyond receive {receive_bound} / send {send_bound}"
            ));
        }
    }
    Ok(())
}

#[test]
fn every_preset_delivers_exactly_once_in_order() {
    for name in presets::NAMES {
        let link = presets::by_name(name).expect("preset");
        check(
            name,
            link.clone(),
            ConnectionConfig::default(),
            0..4,
            vec![],
        );
        check(
            name,
            link.clone(),
            ConnectionConfig::latency(),
            0..4,
            vec![],
        );
        // The echo stream in latency mode beside a default stream on one connection.
        check_with(
            name,
            LinkKind::Datagram,
            link,
            ConnectionConfig::default(),
            &[1],
            0..2,
            vec![],
        );
    }
}

#[test]
fn heavy_loss_reordering_and_duplication() {
    for loss in [0.1, 0.3] {
        let link = LinkConfig {
            delay: Duration::from_millis(20),
            jitter: Duration::from_millis(15),
            fifo: false,
            loss: LossModel::Random { probability: loss },
            duplicate: 0.05,
            reorder: 0.1,
            reorder_delay: Duration::from_millis(30),
            ..LinkConfig::default()
        };
        check(
            "heavy_loss",
            link.clone(),
            ConnectionConfig::default(),
            0..6,
            vec![],
        );
        check(
            "heavy_loss_latency",
            link,
            ConnectionConfig::latency(),
            0..6,
            vec![],
        );
    }
}

#[test]
fn a_partition_that_heals_loses_nothing() {
    let link = LinkConfig {
        delay: Duration::from_millis(15),
        loss: LossModel::Random { probability: 0.02 },
        ..LinkConfig::default()
    };
    let partition = Fault::Partition {
        link: 0,
        from: Duration::from_millis(1_000),
        until: Duration::from_millis(4_000),
    };
    check(
        "partition",
        link.clone(),
        ConnectionConfig::default(),
        0..4,
        vec![partition.clone()],
    );
    check(
        "partition_latency",
        link,
        ConnectionConfig::latency(),
        0..4,
        vec![partition],
    );
}

#[test]
fn byte_stream_links_deliver_exactly_once_in_order() {
    for name in ["datacenter", "wifi", "satellite", "b3a"] {
        let link = presets::by_name(name).expect("preset");
        check_kind(
            name,
            LinkKind::ByteStream,
            link,
            ConnectionConfig::default(),
            0..3,
            vec![],
        );
    }
}

#[test]
fn the_path_mtu_shrinking_and_growing_mid_transfer_loses_nothing() {
    for config in [ConnectionConfig::default(), ConnectionConfig::latency()] {
        for_each_seed(
            "the_path_mtu_shrinking_and_growing_mid_transfer_loses_nothing",
            0..3,
            |seed| {
                let link = LinkConfig {
                    delay: Duration::from_millis(10),
                    mtu: Some(1_472),
                    ..LinkConfig::default()
                };
                let scenario = Scenario::new("mtu_change", seed)
                    .node("a")
                    .node("b")
                    .link("a", "b", LinkKind::Datagram, link)
                    .workload(Workload::Messages {
                        from: "a".into(),
                        to: "b".into(),
                        stream: 1,
                        size: 3_000,
                        interval: Duration::from_millis(10),
                        count: 400,
                        start: Duration::ZERO,
                    })
                    // Discovery reaches 1,452 early; the path drops to 1,300, then recovers.
                    .fault(Fault::SetMtu {
                        link: 0,
                        at: Duration::from_secs(1),
                        mtu: Some(1_300),
                    })
                    .fault(Fault::SetMtu {
                        link: 0,
                        at: Duration::from_millis(2_500),
                        mtu: Some(1_472),
                    })
                    .deadline(Duration::from_secs(120));
                let mut factory = |_: NodeId, _: &str| -> Box<dyn Endpoint> {
                    Box::new(AtbusEndpoint::new(config.clone()))
                };
                let report = Simulator::new(scenario, &mut factory)
                    .map_err(|e| e.to_string())?
                    .run();
                let m = &report.metrics;
                let mtu_drops = m
                    .total_traffic()
                    .drops
                    .get(&atbus_sim::DropCause::Mtu)
                    .copied()
                    .unwrap_or(0);
                if mtu_drops == 0 {
                    return Err(
                        "the MTU change dropped nothing: the scenario does not test it".into(),
                    );
                }
                if report.outcome != Outcome::Completed
                    || m.duplicate_deliveries + m.out_of_order_deliveries > 0
                {
                    return Err(format!(
                        "{:?}, {} incomplete, {mtu_drops} MTU drops",
                        report.outcome,
                        m.incomplete()
                    ));
                }
                Ok(())
            },
        );
    }
}

/// Two bulk transfers and small messages into a receiver whose budget is far below what the
/// link keeps in flight, under loss and reordering: the sender is slowed and resends what was
/// refused, nothing is lost, and memory stays within the budget.
#[test]
fn a_tight_receive_budget_holds_under_loss_and_loses_nothing() {
    let config = ConnectionConfig {
        receive_memory_limit: 96 * 1024,
        stream_send_buffer: 512 * 1024,
        ..ConnectionConfig::default()
    };
    let link = LinkConfig {
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(5),
        fifo: false,
        loss: LossModel::Random { probability: 0.05 },
        reorder: 0.05,
        reorder_delay: Duration::from_millis(10),
        bandwidth_bps: Some(50_000_000),
        ..LinkConfig::default()
    };
    for_each_seed("a_tight_receive_budget", 0..3, |seed| {
        let mut scenario = Scenario::new("tight_budget", seed)
            .node("a")
            .node("b")
            .link("a", "b", LinkKind::Datagram, link.clone())
            .deadline(Duration::from_secs(600));
        for stream in [1, 2] {
            scenario = scenario.workload(Workload::Bulk {
                from: "a".into(),
                to: "b".into(),
                stream,
                total_bytes: 1 << 20,
                message_size: 16 * 1024,
                start: Duration::ZERO,
            });
        }
        scenario = scenario.workload(Workload::Messages {
            from: "a".into(),
            to: "b".into(),
            stream: 3,
            size: 200,
            interval: Duration::from_millis(20),
            count: 200,
            start: Duration::ZERO,
        });
        let mut factory = |_: NodeId, _: &str| -> Box<dyn Endpoint> {
            Box::new(AtbusEndpoint::new(config.clone()))
        };
        let report = Simulator::new(scenario, &mut factory)
            .map_err(|e| e.to_string())?
            .run();
        check_report(&report, &config, 3)
    });
}
