//! Nodes by name over simulated links: the registration handshake, sessions, failover between
//! a session's transports, for many seeds. Every message arrives exactly once, in order,
//! unmodified.

use std::time::Duration;

use atbus_core::node::NodeConfig;
use atbus_sim::seeds::for_each_seed;
use atbus_sim::{
    Endpoint, Fault, LinkConfig, LinkKind, NodeEndpoint, NodeId, RunReport, Scenario, Simulator,
    Workload, presets,
};

fn run(scenario: Scenario) -> Result<RunReport, String> {
    let names: Vec<String> = scenario.nodes.clone();
    let mut factory = |id: NodeId, _: &str| -> Box<dyn Endpoint> {
        Box::new(NodeEndpoint::new(
            id,
            names.clone(),
            NodeConfig::new("placeholder"),
        ))
    };
    Ok(Simulator::new(scenario, &mut factory)
        .map_err(|e| e.to_string())?
        .run())
}

#[test]
fn a_mesh_of_nodes_exchanges_messages_by_name_under_loss() {
    let names = ["game-1", "game-2", "chat-1", "login-1", "match-1"];
    for_each_seed("node_mesh", 0..4, |seed| {
        let mut scenario = Scenario::new("node_mesh", seed).deadline(Duration::from_secs(300));
        for name in names {
            scenario = scenario.node(name);
        }
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                let kind = if (i + b.len()) % 2 == 0 {
                    LinkKind::Datagram
                } else {
                    LinkKind::ByteStream
                };
                scenario = scenario.link(a, b, kind, presets::hostile_lan());
            }
        }
        for (i, from) in names.iter().enumerate() {
            let to = names[(i + 1) % names.len()];
            scenario = scenario.workload(Workload::Messages {
                from: (*from).into(),
                to: to.into(),
                stream: i as u64,
                size: 600,
                interval: Duration::from_millis(5),
                count: 200,
                start: Duration::ZERO,
            });
        }
        run(scenario)?.check_delivered_exactly_once()
    });
}

#[test]
fn a_session_fails_over_when_one_of_its_transports_dies() {
    // Two links between the same nodes: a byte stream (reset by a partition mid-transfer) and
    // a lossy datagram link. The session runs over both; the reset one's data goes on the other.
    for_each_seed("node_failover", 0..4, |seed| {
        let scenario = Scenario::new("node_failover", seed)
            .node("client-1")
            .node("server-1")
            .link(
                "client-1",
                "server-1",
                LinkKind::ByteStream,
                LinkConfig {
                    delay: Duration::from_millis(5),
                    bandwidth_bps: Some(20_000_000),
                    ..LinkConfig::default()
                },
            )
            .link(
                "client-1",
                "server-1",
                LinkKind::Datagram,
                presets::hostile_lan(),
            )
            // The cut comes once the datagram link has surely joined the session: its join
            // is resent every second until answered, and with 5 % loss each way a first try
            // fails one time in ten (seed 5 cut at 300 ms, before any join had come through:
            // that is the peer-down case, tested elsewhere, not a failover).
            .fault(Fault::Partition {
                link: 0,
                from: Duration::from_millis(3_500),
                until: Duration::from_millis(5_000),
            })
            .workload(Workload::Messages {
                from: "client-1".into(),
                to: "server-1".into(),
                stream: 1,
                size: 2_000,
                interval: Duration::from_millis(2),
                count: 3_000,
                start: Duration::ZERO,
            })
            .workload(Workload::Messages {
                from: "server-1".into(),
                to: "client-1".into(),
                stream: 2,
                size: 100,
                interval: Duration::from_millis(10),
                count: 600,
                start: Duration::ZERO,
            })
            .deadline(Duration::from_secs(300));
        let report = run(scenario)?;
        report.check_delivered_exactly_once()?;
        // Both transports carried client data: the byte stream until it was reset, the
        // datagram link (lossy, slower, so second choice) at least while the stream was gone.
        let carried = |link: usize| {
            report
                .metrics
                .directions
                .get(&(link, 0))
                .map_or(0, |d| d.bytes_delivered)
        };
        if carried(0) < 100_000 || carried(1) < 100_000 {
            return Err(format!(
                "byte stream carried {}, datagram link {}",
                carried(0),
                carried(1)
            ));
        }
        Ok(())
    });
}

#[test]
fn a_partition_longer_than_the_idle_timeout_ends_the_session_and_it_comes_back() {
    // One datagram link, cut for 40 s: the session times out (24 s), the initiator registers
    // again until the link heals, and messages sent meanwhile wait in the queue or come back as
    // not sent — the workload only checks what was delivered was delivered once and in order.
    for_each_seed("node_reconnect", 0..2, |seed| {
        let scenario = Scenario::new("node_reconnect", seed)
            .node("edge-1")
            .node("core-1")
            .link(
                "edge-1",
                "core-1",
                LinkKind::Datagram,
                presets::hostile_lan(),
            )
            .fault(Fault::Partition {
                link: 0,
                from: Duration::from_secs(2),
                until: Duration::from_secs(42),
            })
            .workload(Workload::Messages {
                from: "edge-1".into(),
                to: "core-1".into(),
                stream: 1,
                size: 300,
                interval: Duration::from_millis(20),
                count: 50,
                start: Duration::ZERO,
            })
            .workload(Workload::Messages {
                from: "edge-1".into(),
                to: "core-1".into(),
                stream: 2,
                size: 300,
                interval: Duration::from_millis(20),
                count: 50,
                start: Duration::from_secs(60),
            })
            .deadline(Duration::from_secs(120));
        run(scenario)?.check_delivered_exactly_once()
    });
}
