//! Nodes that open transports on demand, by route choice over discovery records: a mesh where
//! every pair dials each other at once, failover across a peer's alternative addresses, and a
//! dial that runs out of addresses. Seeds are printed and replayable.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use atbus_core::discovery::{Gateway, GatewayMatch, MetadataSelector, NodeRecord};
use atbus_core::node::NodeConfig;
use atbus_sim::seeds::for_each_seed;
use atbus_sim::{
    Endpoint, Fault, LinkKind, NodeEndpoint, NodeId, NodeTally, Outcome, RunReport, Scenario,
    Simulator, Workload, presets,
};

/// The label that names a simulated node in its record's metadata.
const SIM_NODE: &str = "sim-node";

/// A record for every node: its links' addresses, each usable only by the link's first node
/// (a gateway `match` on the connecting node's `sim-node` label), in declaration order.
fn records(scenario: &Scenario, extra: &BTreeMap<String, Vec<String>>) -> Vec<NodeRecord> {
    scenario
        .nodes
        .iter()
        .map(|name| {
            let mut record = NodeRecord::new(name.clone());
            record.metadata.labels.insert(SIM_NODE.into(), name.clone());
            for (index, link) in scenario.links.iter().enumerate() {
                if link.b != *name {
                    continue;
                }
                let mut labels = BTreeMap::new();
                labels.insert(SIM_NODE.to_owned(), link.a.clone());
                record.gateways.push(Gateway {
                    priority: 0,
                    addresses: vec![NodeEndpoint::link_address(index, link.kind)],
                    r#match: GatewayMatch {
                        host: None,
                        metadata: MetadataSelector {
                            labels,
                            ..MetadataSelector::default()
                        },
                    },
                });
            }
            if let Some(addresses) = extra.get(name) {
                record.gateways = vec![Gateway {
                    priority: 0,
                    addresses: addresses.clone(),
                    r#match: GatewayMatch::default(),
                }];
            }
            record
        })
        .collect()
}

/// A node's tally, readable after the run.
type Tally = Rc<RefCell<NodeTally>>;

/// Runs `scenario` with dialing nodes; `extra` replaces a node's gateways by one gateway with
/// these addresses. Returns the report and each node's tally.
fn run(
    scenario: Scenario,
    config: NodeConfig,
    extra: &BTreeMap<String, Vec<String>>,
) -> Result<(RunReport, Vec<Tally>), String> {
    let names: Vec<String> = scenario.nodes.clone();
    let records = records(&scenario, extra);
    let mut tallies = Vec::new();
    let mut factory = |id: NodeId, _: &str| -> Box<dyn Endpoint> {
        let endpoint = NodeEndpoint::dialing(id, names.clone(), config.clone(), &records);
        tallies.push(endpoint.tally());
        Box::new(endpoint)
    };
    let report = Simulator::new(scenario, &mut factory)
        .map_err(|e| e.to_string())?
        .run();
    Ok((report, tallies))
}

#[test]
fn a_mesh_dials_by_route_choice_and_every_pair_opens_at_once() {
    // Six nodes; each ordered pair has its own link (a TCP connection or a UDP flow from the
    // first node), so both sides of every pair dial each other at the same instant.
    let names = [
        "game-1", "game-2", "chat-1", "login-1", "match-1", "guild-1",
    ];
    for_each_seed("node_dial_mesh", 0..4, |seed| {
        let mut scenario = Scenario::new("node_dial_mesh", seed).deadline(Duration::from_secs(300));
        for name in names {
            scenario = scenario.node(name);
        }
        for (i, a) in names.iter().enumerate() {
            for (j, b) in names.iter().enumerate() {
                if i != j {
                    let kind = if (i + j) % 2 == 0 {
                        LinkKind::Datagram
                    } else {
                        LinkKind::ByteStream
                    };
                    scenario = scenario.link(a, b, kind, presets::hostile_lan());
                }
            }
        }
        for (i, from) in names.iter().enumerate() {
            // Neighbours send both ways (they dial each other at once), distance 2 one way.
            for step in [1, 5, 2] {
                let to = names[(i + step) % names.len()];
                scenario = scenario.workload(Workload::Messages {
                    from: (*from).into(),
                    to: to.into(),
                    stream: (i * 10 + step) as u64,
                    size: 500,
                    interval: Duration::from_millis(5),
                    count: 100,
                    start: Duration::ZERO,
                });
            }
        }
        let (report, tallies) = run(scenario, NodeConfig::new("placeholder"), &BTreeMap::new())?;
        report.check_delivered_exactly_once()?;
        for (i, tally) in tallies.iter().enumerate() {
            let tally = tally.borrow();
            // Each node dials the three it sends to and has sessions with four (two of them
            // dialled it too, at the same instant): one session per pair, none replaced.
            if tally.connects != 3
                || tally.peers_up != 4
                || tally.failed_messages > 0
                || tally.connect_failures > 0
                || tally.peers_down > 0
            {
                return Err(format!("{}: {tally:?}", names[i]));
            }
        }
        Ok(())
    });
}

#[test]
fn a_dial_fails_over_across_the_peers_addresses() {
    // The server's record lists three addresses: one that names no link (the connect fails at
    // once), a UDP link that is cut until long after the connect timeout (the attempt times
    // out), and a working TCP link.
    for_each_seed("node_dial_failover", 0..4, |seed| {
        let scenario = Scenario::new("node_dial_failover", seed)
            .node("client-1")
            .node("server-1")
            .link(
                "client-1",
                "server-1",
                LinkKind::Datagram,
                presets::hostile_lan(),
            )
            .link(
                "client-1",
                "server-1",
                LinkKind::ByteStream,
                presets::hostile_lan(),
            )
            .fault(Fault::Partition {
                link: 0,
                from: Duration::ZERO,
                until: Duration::from_secs(60),
            })
            .workload(Workload::Messages {
                from: "client-1".into(),
                to: "server-1".into(),
                stream: 1,
                size: 800,
                interval: Duration::from_millis(10),
                count: 300,
                start: Duration::ZERO,
            })
            .deadline(Duration::from_secs(120));
        let mut extra = BTreeMap::new();
        extra.insert(
            "server-1".to_owned(),
            vec![
                NodeEndpoint::link_address(99, LinkKind::ByteStream),
                NodeEndpoint::link_address(0, LinkKind::Datagram),
                NodeEndpoint::link_address(1, LinkKind::ByteStream),
            ],
        );
        let mut config = NodeConfig::new("placeholder");
        config.connect_timeout = Duration::from_secs(2);
        let (report, tallies) = run(scenario, config, &extra)?;
        report.check_delivered_exactly_once()?;
        let client = tallies[0].borrow();
        if client.connects != 3 || client.connect_failures != 2 || client.failed_messages != 0 {
            return Err(format!("client: {client:?}"));
        }
        let carried = report
            .metrics
            .directions
            .get(&(1, 0))
            .map_or(0, |d| d.bytes_delivered);
        if carried < 240_000 {
            return Err(format!("the TCP link carried only {carried} bytes"));
        }
        Ok(())
    });
}

#[test]
fn a_dial_out_of_addresses_hands_the_waiting_messages_back() {
    // Both of the server's addresses are dead: the client's messages come back as not sent,
    // none is delivered, and the attempts are reported.
    for_each_seed("node_dial_exhausted", 0..2, |seed| {
        let scenario = Scenario::new("node_dial_exhausted", seed)
            .node("client-1")
            .node("server-1")
            .link(
                "client-1",
                "server-1",
                LinkKind::Datagram,
                presets::hostile_lan(),
            )
            .fault(Fault::Partition {
                link: 0,
                from: Duration::ZERO,
                until: Duration::from_secs(100),
            })
            .workload(Workload::Messages {
                from: "client-1".into(),
                to: "server-1".into(),
                stream: 1,
                size: 100,
                interval: Duration::from_millis(1),
                count: 20,
                start: Duration::ZERO,
            })
            .deadline(Duration::from_secs(30));
        let mut extra = BTreeMap::new();
        extra.insert(
            "server-1".to_owned(),
            vec![
                NodeEndpoint::link_address(7, LinkKind::ByteStream),
                NodeEndpoint::link_address(0, LinkKind::Datagram),
            ],
        );
        let mut config = NodeConfig::new("placeholder");
        config.connect_timeout = Duration::from_secs(2);
        let (report, tallies) = run(scenario, config, &extra)?;
        if report.outcome == Outcome::Completed {
            return Err("messages were delivered over dead addresses".into());
        }
        let delivered = report
            .metrics
            .messages
            .iter()
            .filter(|m| m.completed_at.is_some())
            .count();
        let client = tallies[0].borrow();
        if delivered != 0
            || client.connects != 2
            || client.connect_failures != 2
            || client.failed_messages != 20
        {
            return Err(format!("{delivered} delivered; client: {client:?}"));
        }
        Ok(())
    });
}
