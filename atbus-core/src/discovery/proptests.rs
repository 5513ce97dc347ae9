//! Property tests: route-choice invariants over random topologies, record round trips through
//! YAML, JSON and protobuf, and parsers fed random text and bytes.

use std::collections::BTreeSet;

use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

use super::{
    AddressFamilies, DiscoveryView, Gateway, GatewayAddress, GatewayMatch, GroupRecord, Host,
    MemoryRegistry, MetadataSelector, NodeMetadata, NodeRecord, NodeSelector, RecordSet,
    RelayPreference, RouteChoice, RouteError, RouteOptions, Transports, choose_route,
    direct_addresses, validate_label_key, validate_label_value, validate_name,
};
use crate::discovery::Discovery;

/// Checks every route of a choice against the rules:
/// - the path ends at the target, never repeats a node, never contains the local node, and
///   crosses at most `max_relays` relays;
/// - every hop is a direct hop from the node before it, with exactly the addresses the matching
///   rules give (the local node's transports and families for the first hop), so the first hop
///   is always directly reachable and never an address family the local node lacks;
/// - every relay is one the rules select: the configured upstream relay, or a relay that the
///   `advertise_relay` of the local node, the target or a node on the path selects;
/// - a directly reachable target gets the direct route alone; no two routes share a path.
pub(super) fn assert_route_invariants<V: DiscoveryView + ?Sized>(
    local: &NodeRecord,
    view: &V,
    options: &RouteOptions,
    choice: &RouteChoice,
) {
    let direct = |from: &NodeRecord, to: &NodeRecord| {
        if from.name == local.name {
            direct_addresses(from, to, &options.transports, &options.families)
        } else {
            direct_addresses(
                from,
                to,
                &Transports::default(),
                &AddressFamilies::default(),
            )
        }
    };
    let routes = choice.routes();
    assert!(!routes.is_empty());
    let target = routes[0].hops().last().unwrap().node.clone();
    let target_record = view.get(&target).expect("target in view");
    let mut paths = BTreeSet::new();
    for route in routes {
        let path = route.path();
        assert_eq!(*path.last().unwrap(), target, "{route}");
        assert!(
            route.relays().len() <= options.max_relays,
            "{route} exceeds {}",
            options.max_relays
        );
        let unique: BTreeSet<&str> = path.iter().copied().collect();
        assert_eq!(unique.len(), path.len(), "loop in {route}");
        assert!(
            !unique.contains(local.name.as_str()),
            "{route} passes the local node"
        );
        assert!(paths.insert(path.join(" ")), "duplicate route {route}");
        let selectable = |relay: &NodeRecord| {
            options.upstream_relay.as_deref() == Some(relay.name.as_str())
                || std::iter::once(local)
                    .chain(path.iter().filter_map(|name| view.get(name)))
                    .filter_map(|node| node.advertise_relay.as_ref())
                    .any(|selector| !selector.is_empty() && selector.matches(relay))
        };
        for hop in route.relays() {
            let relay = view.get(&hop.node).expect("relay in view");
            assert!(
                selectable(relay),
                "{route}: {} is not a relay the rules select",
                relay.name
            );
        }
        let mut from = local;
        for hop in route.hops() {
            let to = view.get(&hop.node).expect("hop in view");
            assert!(
                !hop.addresses.is_empty(),
                "{route}: no address for {}",
                hop.node
            );
            assert_eq!(
                hop.addresses,
                direct(from, to),
                "{route}: hop {} -> {}",
                from.name,
                to.name
            );
            from = to;
        }
        for address in &route.next_hop().addresses {
            if let Some(Host::Ipv6(_)) = address.host() {
                assert!(
                    options.families.ipv6,
                    "IPv6 literal for a node without IPv6"
                );
            }
        }
    }
    if !direct(local, target_record).is_empty() {
        assert_eq!(routes.len(), 1);
        assert!(routes[0].is_direct());
    }
}

// ---- random topologies ----------------------------------------------------------------------

const NAMESPACES: [&str; 2] = ["a", "b"];
const HOSTS: [&str; 3] = ["h1", "h2", ""];
const KINDS: [&str; 2] = ["app", "relay"];
const REGIONS: [&str; 2] = ["eu", "ap"];
const ADDRESSES: [&str; 7] = [
    "mem://x",
    "unix:///s",
    "tcp://10.0.0.1:1",
    "tcp://[2001:db8::1]:1",
    "udp://h.example:1",
    "udp://10.0.0.2:2",
    "quic://h:1",
];

fn pick<T: Clone + core::fmt::Debug + 'static>(items: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(items)
}

/// A gateway match on metadata; each field restricts with probability `restrict`.
fn small_selector(restrict: f64) -> impl Strategy<Value = MetadataSelector> {
    (
        option::weighted(restrict, pick(&NAMESPACES)),
        option::weighted(restrict, pick(&KINDS)),
        option::weighted(restrict, pick(&REGIONS)),
    )
        .prop_map(|(namespace, kind, region)| MetadataSelector {
            namespace_name: namespace.map(Into::into),
            kind: kind.map(Into::into),
            labels: region
                .map(|r| ("region".to_owned(), r.to_owned()))
                .into_iter()
                .collect(),
            ..MetadataSelector::default()
        })
}

fn topology_gateway(restrict: f64) -> impl Strategy<Value = Gateway> {
    (
        0..3i32,
        vec(pick(&ADDRESSES), 1..=3),
        option::weighted(restrict / 3.0, pick(&HOSTS)),
        small_selector(restrict),
    )
        .prop_map(|(priority, addresses, host, metadata)| Gateway {
            priority,
            addresses: addresses.into_iter().map(Into::into).collect(),
            r#match: GatewayMatch {
                host: host.map(Into::into),
                metadata,
            },
        })
}

/// An advertise_relay: none, a node by index (the last index has no record), or the relays
/// (of a region).
fn topology_advertise(n: usize) -> impl Strategy<Value = Option<NodeSelector>> {
    let by_metadata = option::of(pick(&REGIONS)).prop_map(|region| {
        let mut metadata = MetadataSelector {
            kind: Some("relay".into()),
            ..MetadataSelector::default()
        };
        if let Some(region) = region {
            metadata.labels.insert("region".into(), region.into());
        }
        Some(NodeSelector::metadata(metadata))
    });
    prop_oneof![
        1 => Just(None),
        2 => (0..=n).prop_map(|i| Some(NodeSelector::name(format!("n{i}")))),
        2 => by_metadata,
    ]
}

/// Node `index` of `n`. Relays get one or two permissive gateways, apps one
/// restrictive gateway, so that many targets need relays.
fn topology_node(index: usize, n: usize) -> impl Strategy<Value = NodeRecord> {
    let relay = (1..=2usize).prop_flat_map(|g| vec(topology_gateway(0.15), g));
    let app = vec(topology_gateway(0.6), 1);
    (
        pick(&NAMESPACES),
        pick(&HOSTS),
        0..3u32,
        pick(&REGIONS),
        prop_oneof![
            relay.prop_map(|g| ("relay", g)),
            app.prop_map(|g| ("app", g))
        ],
        topology_advertise(n),
    )
        .prop_map(
            move |(namespace, host, pid, region, (kind, gateways), advertise_relay)| {
                let mut record = NodeRecord::new(format!("n{index}"));
                record.host.hostname = host.into();
                record.host.pid = pid;
                record.metadata.namespace_name = namespace.into();
                record.metadata.kind = kind.into();
                record
                    .metadata
                    .labels
                    .insert("region".into(), region.into());
                record.gateways = gateways;
                record.advertise_relay = advertise_relay;
                record
            },
        )
}

fn topology() -> impl Strategy<Value = Vec<NodeRecord>> {
    (2..=9usize).prop_flat_map(|n| (0..n).map(|i| topology_node(i, n)).collect::<Vec<_>>())
}

/// A topology and a target name: mostly another node of it, sometimes the local node or a name
/// without a record.
fn topology_and_target() -> impl Strategy<Value = (Vec<NodeRecord>, String)> {
    topology().prop_flat_map(|nodes| {
        let n = nodes.len();
        let target = prop_oneof![8 => 1..n, 1 => Just(0), 1 => Just(n)];
        (Just(nodes), target.prop_map(|i| format!("n{i}")))
    })
}

fn route_options() -> impl Strategy<Value = RouteOptions> {
    (
        any::<bool>(),
        option::of(0..10usize),
        0..=5usize,
        [
            proptest::bool::weighted(0.85),
            proptest::bool::weighted(0.7),
        ],
        [0.9, 0.9, 0.85, 0.85].map(proptest::bool::weighted),
    )
        .prop_map(
            |(target_first, upstream, max_relays, [ipv4, ipv6], [memory, unix, tcp, udp])| {
                RouteOptions {
                    relay_preference: if target_first {
                        RelayPreference::TargetAdvertisedFirst
                    } else {
                        RelayPreference::OwnUpstreamFirst
                    },
                    upstream_relay: upstream.map(|i| format!("n{i}")),
                    max_relays,
                    families: AddressFamilies { ipv4, ipv6 },
                    transports: Transports {
                        memory,
                        unix,
                        tcp,
                        udp,
                    },
                    ..RouteOptions::default()
                }
            },
        )
}

proptest! {
    // About 4% of random cases route through relays; 2048 cases check some 80 relay routes.
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Route choice never loops, never exceeds the depth limit, and its first hop is always
    /// directly reachable by the rules; errors are the ones the situation allows.
    #[test]
    fn route_choice_invariants((nodes, target) in topology_and_target(), options in route_options()) {
        let mut registry = MemoryRegistry::new();
        for node in &nodes {
            registry.put(node.clone()).unwrap();
        }
        let local = &nodes[0];
        let result = choose_route(local, &target, &registry, &options);
        prop_assert_eq!(&result, &choose_route(local, &target, &registry, &options), "deterministic");
        match result {
            Ok(choice) => assert_route_invariants(local, &registry, &options, &choice),
            Err(RouteError::TargetIsLocal { .. }) => prop_assert_eq!(&target, &local.name),
            Err(RouteError::UnknownTarget { .. }) => prop_assert!(registry.get(&target).is_none()),
            Err(RouteError::NoRoute { .. } | RouteError::DepthExceeded { .. }) => {
                let to = registry.get(&target).unwrap();
                prop_assert!(direct_addresses(local, to, &options.transports, &options.families).is_empty());
            }
            Err(other) => prop_assert!(false, "unexpected {other}"),
        }
    }

    /// A relay-rich topology with a tiny step budget stops with SearchLimit, never hangs.
    #[test]
    fn search_budget_holds((nodes, target) in topology_and_target(), steps in 1..20usize) {
        let mut registry = MemoryRegistry::new();
        for node in &nodes {
            registry.put(node.clone()).unwrap();
        }
        let options = RouteOptions { max_search_steps: steps, max_relays: 16, ..RouteOptions::default() };
        if let Ok(choice) = choose_route(&nodes[0], &target, &registry, &options) {
            assert_route_invariants(&nodes[0], &registry, &options, &choice);
        }
    }
}

// ---- valid records, for round trips ---------------------------------------------------------

fn dns_name() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,4}[a-z0-9])?){0,2}"
}

fn label_key() -> impl Strategy<Value = String> {
    "([a-z0-9]{1,4}(\\.[a-z0-9]{1,3})?/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,6}[A-Za-z0-9])?"
}

fn label_value() -> impl Strategy<Value = String> {
    "([A-Za-z0-9]([A-Za-z0-9_.-]{0,6}[A-Za-z0-9])?)?"
}

fn free_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,12}",
        ".{0,12}",
        Just("null".to_owned()),
        Just("~".to_owned()),
        Just("0x1F".to_owned())
    ]
}

fn address() -> impl Strategy<Value = String> {
    let host = prop_oneof![
        any::<[u8; 4]>().prop_map(|ip| core::net::Ipv4Addr::from(ip).to_string()),
        any::<[u16; 8]>().prop_map(|ip| format!("[{}]", core::net::Ipv6Addr::from(ip))),
        "[a-z]([a-z0-9-]{0,8}[a-z0-9])?(\\.[a-z]{1,4}){0,2}",
    ];
    prop_oneof![
        (
            prop_oneof![Just("tcp"), Just("udp"), Just("quic")],
            host,
            1..=u16::MAX
        )
            .prop_map(|(scheme, host, port)| format!("{scheme}://{host}:{port}")),
        "[A-Za-z0-9._-]{1,20}".prop_map(|name| format!("mem://{name}")),
        "(/[a-z0-9._-]{1,8}){1,3}".prop_map(|path| format!("unix://{path}")),
    ]
}

fn metadata_selector() -> impl Strategy<Value = MetadataSelector> {
    (
        option::of(free_text()),
        option::of(free_text()),
        option::of(free_text()),
        option::of(free_text()),
        btree_map(label_key(), label_value(), 0..3),
    )
        .prop_map(
            |(namespace_name, api_version, kind, group, labels)| MetadataSelector {
                namespace_name,
                api_version,
                kind,
                group,
                labels,
            },
        )
}

fn valid_record() -> impl Strategy<Value = NodeRecord> {
    let gateway = (
        any::<i32>(),
        vec(address(), 1..4),
        option::of(free_text()),
        metadata_selector(),
    )
        .prop_map(|(priority, addresses, host, metadata)| Gateway {
            priority,
            addresses,
            r#match: GatewayMatch { host, metadata },
        });
    let advertise = option::of(
        (option::of(dns_name()), metadata_selector())
            .prop_map(|(name, metadata)| NodeSelector { name, metadata })
            .prop_filter("non-empty selector", |s| !s.is_empty()),
    );
    let metadata = (
        (free_text(), free_text(), free_text(), free_text()),
        btree_map(label_key(), label_value(), 0..4),
        btree_map(label_key(), free_text(), 0..3),
    )
        .prop_map(
            |((namespace_name, api_version, kind, group), labels, annotations)| NodeMetadata {
                namespace_name,
                api_version,
                kind,
                group,
                labels,
                annotations,
            },
        );
    (
        dns_name(),
        1..=u32::MAX,
        vec(any::<u8>(), 0..24),
        (free_text(), any::<u32>()),
        metadata,
        vec(gateway, 0..3),
        advertise,
    )
        .prop_map(
            |(name, version, data, (hostname, pid), metadata, gateways, advertise_relay)| {
                let mut record = NodeRecord::new(name);
                record.version = version;
                record.custom_data = data.into();
                record.host.hostname = hostname;
                record.host.pid = pid;
                record.metadata = metadata;
                record.gateways = gateways;
                record.advertise_relay = advertise_relay;
                record
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn records_round_trip(record in valid_record()) {
        prop_assert_eq!(record.validate(), Ok(()));
        let yaml = serde_norway::to_string(&record).unwrap();
        prop_assert_eq!(&serde_norway::from_str::<NodeRecord>(&yaml).unwrap(), &record, "YAML:\n{}", yaml);
        let json = serde_json::to_string(&record).unwrap();
        prop_assert_eq!(&serde_json::from_str::<NodeRecord>(&json).unwrap(), &record, "JSON: {}", json);
        let wire = record.encode_protobuf();
        prop_assert_eq!(&NodeRecord::decode_protobuf(wire.as_slice()).unwrap(), &record);
    }

    #[test]
    fn groups_and_record_sets_round_trip(
        name in dns_name(),
        members in vec(dns_name(), 0..4),
        selector in option::of(
            (option::of(dns_name()), metadata_selector())
                .prop_map(|(name, metadata)| NodeSelector { name, metadata })
                .prop_filter("non-empty selector", |s| !s.is_empty()),
        ),
        node in valid_record(),
    ) {
        let group = GroupRecord { name, members, selector };
        prop_assert_eq!(group.validate(), Ok(()));
        prop_assert_eq!(&GroupRecord::decode_protobuf(group.encode_protobuf().as_slice()).unwrap(), &group);
        let set = RecordSet { nodes: vec![node], groups: vec![group] };
        let yaml = serde_norway::to_string(&set).unwrap();
        prop_assert_eq!(&serde_norway::from_str::<RecordSet>(&yaml).unwrap(), &set, "YAML:\n{}", yaml);
        let json = serde_json::to_string(&set).unwrap();
        prop_assert_eq!(&serde_json::from_str::<RecordSet>(&json).unwrap(), &set, "JSON: {}", json);
    }

    #[test]
    fn canonical_addresses_parse_back(text in address()) {
        let parsed = GatewayAddress::parse(&text).unwrap();
        prop_assert_eq!(GatewayAddress::parse(&parsed.to_string()).unwrap(), parsed);
    }
}

// ---- hostile input --------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Any text gives an address or a typed error, never a panic; accepted text prints back to
    /// something that parses to the same address.
    #[test]
    fn address_parser_takes_any_text(
        text in prop_oneof![
            ".{0,40}",
            "(tcp|udp|unix|mem|x)://[a-z0-9:/\\[\\]%@._-]{0,30}",
        ]
    ) {
        if let Ok(address) = GatewayAddress::parse(&text) {
            prop_assert_eq!(GatewayAddress::parse(&address.to_string()), Ok(address));
        }
    }

    #[test]
    fn name_and_label_checks_take_any_text(text in ".{0,300}") {
        if validate_name(&text).is_ok() {
            prop_assert!(text.len() <= 253 && !text.is_empty());
        }
        if validate_label_key(&text).is_ok() {
            prop_assert!(text.matches('/').count() <= 1);
        }
        if validate_label_value(&text).is_ok() {
            prop_assert!(text.len() <= 63);
        }
    }

    /// Random bytes, and mutated encodings of valid records, decode to a valid record or a
    /// typed error.
    #[test]
    fn record_decoder_takes_any_bytes(
        bytes in vec(any::<u8>(), 0..200),
        record in valid_record(),
        flips in vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        if let Ok(record) = NodeRecord::decode_protobuf(bytes.as_slice()) {
            prop_assert_eq!(record.validate(), Ok(()));
        }
        let mut wire = record.encode_protobuf();
        if !wire.is_empty() {
            for (at, value) in flips {
                let len = wire.len();
                wire[at % len] = value;
            }
        }
        if let Ok(record) = NodeRecord::decode_protobuf(wire.as_slice()) {
            prop_assert_eq!(record.validate(), Ok(()));
        }
    }
}
