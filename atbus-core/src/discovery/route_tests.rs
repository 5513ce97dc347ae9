//! Route choice over a two-region, multi-namespace topology, asserting full paths.
//!
//! ```text
//!  region eu                                              region ap
//!  ─────────                                              ─────────
//!  host eu-h1: app-eu-1 (pid 100), app-eu-3 (pid 100),    host ap-h1: app-ap-1, app-ap-2
//!              app-eu-2 (pid 101), monitor (ns ops)
//!  host eu-h2: relay-eu-game (edge), app-eu-4             host ap-h2: relay-ap-game (edge)
//!  host eu-h4: relay-eu-game-b (edge, IPv6 only)
//!  host eu-h3: relay-eu (regional, ns infra)   ◄──────►   host ap-h3: relay-ap (regional)
//! ```
//!
//! - Apps in namespace `game` accept apps of their own region (match on namespace and the
//!   `area.region` label); edge relays accept the apps of their region and relays (match on
//!   kind); regional relays accept relays (`relay-eu`), or only regional relays and the relays of
//!   their region (`relay-ap`); `relay-eu` also accepts namespace `ops` at a worse priority.
//! - Apps advertise their region's edge relay (by name or by metadata); edge relays advertise
//!   their regional relay (by metadata); regional relays advertise nothing.

use super::proptests::assert_route_invariants;
use super::test_support::node;
use super::{
    AddressFamilies, Discovery, DiscoveryView, GatewayAddress, MemoryRegistry, NodeRecord,
    RelayPreference, RouteError, RouteOptions, Transports, choose_route,
};

fn region_apps(m: &mut super::GatewayMatch, region: &str) {
    m.metadata.namespace_name = Some("game".into());
    m.metadata
        .labels
        .insert("area.region".into(), region.into());
}

fn relays_of(m: &mut super::GatewayMatch, region: Option<&str>) {
    m.metadata.kind = Some("relay".into());
    if let Some(region) = region {
        m.metadata
            .labels
            .insert("area.region".into(), region.into());
    }
}

fn world() -> MemoryRegistry {
    let edge_relay_of = |region: &'static str| {
        move |m: &mut super::MetadataSelector| {
            m.kind = Some("relay".into());
            m.labels.insert("area.region".into(), region.into());
            m.labels.insert("role".into(), "edge".into());
        }
    };
    let regional_relay_of = |region: &'static str| {
        move |m: &mut super::MetadataSelector| {
            m.kind = Some("relay".into());
            m.labels.insert("area.region".into(), region.into());
            m.labels.insert("role".into(), "regional".into());
        }
    };
    let app = |name: &str, host: &str, pid: u32, region: &str| {
        node(name)
            .namespace("game")
            .host(host, pid)
            .kind("app")
            .label("area.region", region)
    };
    let records = [
        app("app-eu-1", "eu-h1", 100, "eu")
            .gateway_matching(
                0,
                &[
                    "tcp://10.1.0.1:7000",
                    "unix:///run/atbus/app-eu-1.sock",
                    "mem://app-eu-1",
                ],
                |m| region_apps(m, "eu"),
            )
            .advertise("relay-eu-game")
            .build(),
        app("app-eu-2", "eu-h1", 101, "eu")
            .gateway_matching(
                0,
                &[
                    "mem://app-eu-2",
                    "unix:///run/atbus/app-eu-2.sock",
                    "tcp://10.1.0.1:7001",
                ],
                |m| region_apps(m, "eu"),
            )
            .advertise_matching(edge_relay_of("eu"))
            .build(),
        app("app-eu-3", "eu-h1", 100, "eu")
            .gateway_matching(0, &["tcp://10.1.0.1:7002", "mem://app-eu-3"], |m| {
                m.metadata.namespace_name = Some("game".into())
            })
            .advertise("relay-eu-game")
            .build(),
        app("app-eu-4", "eu-h2", 400, "eu")
            .advertise("relay-eu-game")
            .build(),
        node("relay-eu-game")
            .namespace("game")
            .host("eu-h2", 200)
            .kind("relay")
            .label("area.region", "eu")
            .label("role", "edge")
            .gateway_matching(
                -1,
                &[
                    "tcp://127.0.0.1:7100",
                    "unix:///run/atbus/relay-eu-game.sock",
                ],
                |m| m.host = Some("eu-h2".into()),
            )
            .gateway_matching(
                0,
                &["tcp://[2001:db8:1::10]:7100", "tcp://10.1.0.10:7100"],
                |m| region_apps(m, "eu"),
            )
            .gateway_matching(5, &["udp://10.1.0.10:7101"], |m| relays_of(m, None))
            .advertise_matching(regional_relay_of("eu"))
            .build(),
        node("relay-eu-game-b")
            .namespace("game")
            .host("eu-h4", 201)
            .kind("relay")
            .label("area.region", "eu")
            .label("role", "edge")
            .gateway_matching(0, &["tcp://[2001:db8:1::11]:7100"], |m| {
                region_apps(m, "eu")
            })
            .gateway_matching(5, &["udp://10.1.0.11:7101"], |m| relays_of(m, None))
            .advertise_matching(regional_relay_of("eu"))
            .build(),
        node("relay-eu")
            .namespace("infra")
            .host("eu-h3", 300)
            .kind("relay")
            .label("area.region", "eu")
            .label("role", "regional")
            .gateway_matching(0, &["tcp://10.1.0.20:7200"], |m| relays_of(m, None))
            .gateway_matching(10, &["tcp://10.1.0.20:7201"], |m| {
                m.metadata.namespace_name = Some("ops".into())
            })
            .build(),
        node("relay-ap")
            .namespace("infra")
            .host("ap-h3", 300)
            .kind("relay")
            .label("area.region", "ap")
            .label("role", "regional")
            .gateway_matching(0, &["tcp://10.2.0.20:7200"], |m| {
                m.metadata.labels.insert("role".into(), "regional".into());
            })
            .gateway_matching(1, &["tcp://10.2.0.20:7202"], |m| relays_of(m, Some("ap")))
            .build(),
        node("relay-ap-game")
            .namespace("game")
            .host("ap-h2", 200)
            .kind("relay")
            .label("area.region", "ap")
            .label("role", "edge")
            .gateway_matching(0, &["tcp://10.2.0.10:7100"], |m| region_apps(m, "ap"))
            .gateway_matching(5, &["tcp://10.2.0.10:7101"], |m| relays_of(m, Some("ap")))
            .advertise_matching(regional_relay_of("ap"))
            .build(),
        app("app-ap-1", "ap-h1", 100, "ap")
            .gateway_matching(0, &["tcp://10.2.0.1:7000"], |m| region_apps(m, "ap"))
            .advertise_matching(edge_relay_of("ap"))
            .build(),
        app("app-ap-2", "ap-h1", 101, "ap")
            .gateway_matching(0, &["udp://ap-h1.example:7001"], |m| {
                m.metadata.namespace_name = Some("game".into())
            })
            .advertise("relay-ap-game")
            .build(),
        node("monitor")
            .namespace("ops")
            .host("eu-h1", 500)
            .kind("monitor")
            .label("area.region", "eu")
            .advertise("relay-eu")
            .build(),
        node("isolated").namespace("lab").host("lab-h1", 1).build(),
    ];
    let mut registry = MemoryRegistry::new();
    for record in records {
        registry.put(record).unwrap();
    }
    registry
}

type Tweak = fn(&mut RouteOptions);

fn no_tweak(_: &mut RouteOptions) {}

fn local(registry: &MemoryRegistry, name: &str) -> NodeRecord {
    registry
        .get(name)
        .cloned()
        .expect("local node in the topology")
}

/// (local, target, options, expected routes in order)
#[test]
fn routes_through_the_topology() {
    let world = world();
    let v4_only: Tweak = |o| {
        o.families = AddressFamilies {
            ipv4: true,
            ipv6: false,
        }
    };
    let target_first: Tweak = |o| o.relay_preference = RelayPreference::TargetAdvertisedFirst;
    let cases: &[(&str, &str, Tweak, &[&str])] = &[
        // Direct: same process, same machine, any region for app-ap-2.
        ("app-eu-1", "app-eu-3", no_tweak, &["app-eu-3"]),
        ("app-eu-1", "app-eu-2", no_tweak, &["app-eu-2"]),
        ("app-eu-1", "app-ap-2", no_tweak, &["app-ap-2"]),
        // Own edge relay, own regional relay, the target's regional and edge relays.
        (
            "app-eu-1",
            "app-ap-1",
            no_tweak,
            &["relay-eu-game -> relay-eu -> relay-ap -> relay-ap-game -> app-ap-1"],
        ),
        (
            "app-eu-1",
            "app-ap-1",
            target_first,
            &["relay-eu-game -> relay-eu -> relay-ap -> relay-ap-game -> app-ap-1"],
        ),
        // app-eu-2 advertises both edge relays by metadata: two alternatives, name order.
        (
            "app-eu-2",
            "app-ap-1",
            no_tweak,
            &[
                "relay-eu-game -> relay-eu -> relay-ap -> relay-ap-game -> app-ap-1",
                "relay-eu-game-b -> relay-eu -> relay-ap -> relay-ap-game -> app-ap-1",
            ],
        ),
        // Without IPv6 the local node cannot reach relay-eu-game-b (IPv6 only for apps)
        // directly; it is reached through relay-eu-game, so that route is longer and comes second.
        (
            "app-eu-2",
            "app-ap-1",
            v4_only,
            &[
                "relay-eu-game -> relay-eu -> relay-ap -> relay-ap-game -> app-ap-1",
                "relay-eu-game -> relay-eu-game-b -> relay-eu -> relay-ap -> relay-ap-game -> app-ap-1",
            ],
        ),
        // The configured upstream replaces what the node's record advertises.
        (
            "app-eu-2",
            "app-ap-1",
            |o| o.upstream_relay = Some("relay-eu-game-b".into()),
            &["relay-eu-game-b -> relay-eu -> relay-ap -> relay-ap-game -> app-ap-1"],
        ),
        // Own upstream first, at every level: relay-ap-game goes up to relay-ap although it
        // could reach the target's relay directly. The target's-relay class gives the second
        // route (relay-eu-game reached through relay-ap-game).
        (
            "app-ap-1",
            "app-eu-1",
            no_tweak,
            &[
                "relay-ap-game -> relay-ap -> relay-eu-game -> app-eu-1",
                "relay-ap-game -> relay-eu-game -> app-eu-1",
            ],
        ),
        // Target's relay first, at every level: relay-eu-game is reached through its own
        // advertised relay-eu; the own-relay class follows as the alternative.
        (
            "app-ap-1",
            "app-eu-1",
            target_first,
            &[
                "relay-ap-game -> relay-eu -> relay-eu-game -> app-eu-1",
                "relay-ap-game -> relay-eu-game -> app-eu-1",
            ],
        ),
        // Another namespace on the same host is not the same machine: through relays.
        (
            "monitor",
            "app-eu-1",
            no_tweak,
            &["relay-eu -> relay-eu-game -> app-eu-1"],
        ),
        (
            "monitor",
            "app-ap-1",
            no_tweak,
            &["relay-eu -> relay-ap -> relay-ap-game -> app-ap-1"],
        ),
        // A node that cannot reach its (configured) upstream falls back to the target's relay.
        (
            "monitor",
            "app-eu-1",
            |o| o.upstream_relay = Some("relay-ap".into()),
            &["relay-eu -> relay-eu-game -> app-eu-1"],
        ),
        // A gateway matched on host gives app-eu-4 its way to its own relay.
        (
            "app-eu-4",
            "app-ap-1",
            no_tweak,
            &["relay-eu-game -> relay-eu -> relay-ap -> relay-ap-game -> app-ap-1"],
        ),
    ];
    for (from, to, tweak, expected) in cases {
        let mut options = RouteOptions::default();
        tweak(&mut options);
        let local = local(&world, from);
        let choice = choose_route(&local, to, &world, &options)
            .unwrap_or_else(|e| panic!("{from} -> {to}: {e}"));
        let routes: Vec<String> = choice.routes().iter().map(ToString::to_string).collect();
        assert_eq!(routes, *expected, "{from} -> {to} with {options:?}");
        assert_route_invariants(&local, &world, &options, &choice);
    }
}

fn addresses(texts: &[&str]) -> Vec<GatewayAddress> {
    texts
        .iter()
        .map(|t| GatewayAddress::parse(t).unwrap())
        .collect()
}

/// The addresses of every hop: transport preference, priority, match on host, families.
#[test]
fn hop_addresses() {
    let world = world();
    let v4_only = RouteOptions {
        families: AddressFamilies {
            ipv4: true,
            ipv6: false,
        },
        ..RouteOptions::default()
    };
    let cases: &[(&str, &str, &RouteOptions, &[&[&str]])] = &[
        // Same process: memory first, then Unix (not offered), then TCP.
        (
            "app-eu-1",
            "app-eu-3",
            &RouteOptions::default(),
            &[&["mem://app-eu-3", "tcp://10.1.0.1:7002"]],
        ),
        // Same machine: Unix first; memory is dropped.
        (
            "app-eu-1",
            "app-eu-2",
            &RouteOptions::default(),
            &[&["unix:///run/atbus/app-eu-2.sock", "tcp://10.1.0.1:7001"]],
        ),
        // Dual stack keeps the record's order; a node without IPv6 gets no IPv6 literal.
        (
            "app-eu-1",
            "app-ap-1",
            &RouteOptions::default(),
            &[
                &["tcp://[2001:db8:1::10]:7100", "tcp://10.1.0.10:7100"],
                &["tcp://10.1.0.20:7200"],
                &["tcp://10.2.0.20:7200"],
                &["tcp://10.2.0.10:7101"],
                &["tcp://10.2.0.1:7000"],
            ],
        ),
        (
            "app-eu-1",
            "relay-eu-game",
            &v4_only,
            &[&["tcp://10.1.0.10:7100"]],
        ),
        // A gateway matched on host, at a better priority, with a Unix socket on the same machine.
        (
            "app-eu-4",
            "relay-eu-game",
            &RouteOptions::default(),
            &[&[
                "unix:///run/atbus/relay-eu-game.sock",
                "tcp://127.0.0.1:7100",
            ]],
        ),
        // Relays reach edge relays over the relay gateway.
        (
            "relay-eu",
            "relay-eu-game",
            &RouteOptions::default(),
            &[&["udp://10.1.0.10:7101"]],
        ),
    ];
    for (from, to, options, expected) in cases {
        let local = local(&world, from);
        let choice = choose_route(&local, to, &world, options).unwrap();
        let hops: Vec<Vec<GatewayAddress>> = choice
            .preferred()
            .hops()
            .iter()
            .map(|h| h.addresses.clone())
            .collect();
        let expected: Vec<Vec<GatewayAddress>> = expected.iter().map(|e| addresses(e)).collect();
        assert_eq!(hops, expected, "{from} -> {to}");
    }
}

#[test]
fn next_hops_flatten_alternatives_in_order() {
    let world = world();
    let choice = choose_route(
        &local(&world, "app-eu-2"),
        "app-ap-1",
        &world,
        &RouteOptions::default(),
    )
    .unwrap();
    let next: Vec<(String, String)> = choice
        .next_hops()
        .into_iter()
        .map(|(node, address)| (node.to_owned(), address.to_string()))
        .collect();
    let expected = [
        ("relay-eu-game", "tcp://[2001:db8:1::10]:7100"),
        ("relay-eu-game", "tcp://10.1.0.10:7100"),
        ("relay-eu-game-b", "tcp://[2001:db8:1::11]:7100"),
    ];
    assert_eq!(next, expected.map(|(n, a)| (n.to_owned(), a.to_owned())));
    assert_eq!(choice.preferred().relays().len(), 4);
    assert!(!choice.preferred().is_direct());
    assert_eq!(choice.preferred().next_hop().node, "relay-eu-game");
}

#[test]
fn errors_say_why() {
    let world = world();
    let depth = |max_relays| RouteOptions {
        max_relays,
        ..RouteOptions::default()
    };
    let upstream = |name: &str| RouteOptions {
        upstream_relay: Some(name.into()),
        relay_preference: RelayPreference::TargetAdvertisedFirst,
        ..RouteOptions::default()
    };
    let no_tcp = RouteOptions {
        transports: Transports {
            tcp: false,
            ..Transports::default()
        },
        ..RouteOptions::default()
    };
    let no_route = |target: &str, tried: &[&str], unknown: &[&str]| RouteError::NoRoute {
        target: target.into(),
        relays_tried: tried.iter().map(|s| (*s).into()).collect(),
        unknown_relays: unknown.iter().map(|s| (*s).into()).collect(),
    };
    let cases: Vec<(&str, &str, RouteOptions, RouteError)> = vec![
        (
            "app-eu-1",
            "nobody",
            RouteOptions::default(),
            RouteError::UnknownTarget {
                target: "nobody".into(),
            },
        ),
        (
            "app-eu-1",
            "app-eu-1",
            RouteOptions::default(),
            RouteError::TargetIsLocal {
                target: "app-eu-1".into(),
            },
        ),
        (
            "isolated",
            "app-ap-1",
            RouteOptions::default(),
            no_route("app-ap-1", &["relay-ap", "relay-ap-game"], &[]),
        ),
        (
            "app-eu-1",
            "app-ap-1",
            depth(0),
            RouteError::DepthExceeded {
                target: "app-ap-1".into(),
                max_relays: 0,
            },
        ),
        (
            "app-eu-1",
            "app-ap-1",
            depth(3),
            RouteError::DepthExceeded {
                target: "app-ap-1".into(),
                max_relays: 3,
            },
        ),
        (
            "app-eu-1",
            "app-ap-1",
            upstream("relay-nowhere"),
            no_route(
                "app-ap-1",
                &["relay-ap", "relay-ap-game"],
                &["relay-nowhere"],
            ),
        ),
        (
            "app-eu-1",
            "app-ap-1",
            no_tcp,
            no_route(
                "app-ap-1",
                &["relay-ap", "relay-ap-game", "relay-eu", "relay-eu-game"],
                &[],
            ),
        ),
        (
            "app-eu-1",
            "app-ap-1",
            RouteOptions {
                max_search_steps: 3,
                ..RouteOptions::default()
            },
            RouteError::SearchLimit {
                target: "app-ap-1".into(),
                steps: 3,
            },
        ),
    ];
    for (from, to, options, expected) in cases {
        let result = choose_route(&local(&world, from), to, &world, &options);
        assert_eq!(result, Err(expected.clone()), "{from} -> {to}");
        assert!(!expected.to_string().is_empty());
    }
    assert!(choose_route(&local(&world, "app-eu-1"), "app-ap-1", &world, &depth(4)).is_ok());
}

/// The local record passed in is the one used, even when the view holds an older one.
#[test]
fn local_record_comes_from_the_caller() {
    let world = world();
    let mut moved = local(&world, "app-eu-1");
    moved
        .metadata
        .labels
        .insert("area.region".into(), "ap".into());
    let choice = choose_route(&moved, "app-ap-1", &world, &RouteOptions::default()).unwrap();
    assert_eq!(choice.preferred().to_string(), "app-ap-1");
}
