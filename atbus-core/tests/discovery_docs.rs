//! The worked example of `docs/DISCOVERY.md` is true: its YAML parses and validates, and route
//! choice gives exactly the paths and addresses the document shows.

use atbus_core::discovery::{
    AddressFamilies, MemoryRegistry, RecordSet, RelayPreference, RouteError, RouteOptions,
    choose_route,
};
use atbus_core::discovery::{DiscoveryView, NodeRecord};

fn document() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/DISCOVERY.md");
    std::fs::read_to_string(path).expect("docs/DISCOVERY.md")
}

/// The first ```yaml block after the marker line.
fn yaml_after<'d>(document: &'d str, marker: &str) -> &'d str {
    let after_marker = document
        .split_once(marker)
        .expect("marker in docs/DISCOVERY.md")
        .1;
    let block = after_marker.split_once("```yaml\n").expect("yaml block").1;
    block.split_once("```").expect("end of yaml block").0
}

fn topology(document: &str) -> MemoryRegistry {
    let records: RecordSet =
        serde_norway::from_str(yaml_after(document, "<!-- worked-example-topology -->"))
            .expect("example parses");
    records.validate().expect("example validates");
    MemoryRegistry::from_records(records).expect("registry accepts the example")
}

fn node(registry: &MemoryRegistry, name: &str) -> NodeRecord {
    registry.get(name).cloned().expect("node in the example")
}

/// The addresses of the preferred route's first hop, as text.
fn first_hop_addresses(choice: &atbus_core::discovery::RouteChoice) -> Vec<String> {
    let hop = choice.preferred().next_hop();
    hop.addresses.iter().map(ToString::to_string).collect()
}

/// Route `from` → `to` as the document writes it: `from -> hop -> ... -> to`.
fn written(from: &str, route: &atbus_core::discovery::Route) -> String {
    format!("{from} -> {route}")
}

#[test]
fn worked_example_paths_are_the_documented_ones() {
    let document = document();
    let registry = topology(&document);
    let app_eu = node(&registry, "app-eu-1");
    let default = RouteOptions::default();

    let choice = choose_route(&app_eu, "app-ap-1", &registry, &default).unwrap();
    let path = written("app-eu-1", choice.preferred());
    assert_eq!(
        path,
        "app-eu-1 -> relay-eu-game -> relay-eu -> relay-ap -> relay-ap-game -> app-ap-1"
    );
    assert_eq!(choice.routes().len(), 1);
    assert!(document.contains(&path), "the document shows {path}");

    // Hop by hop, the addresses the document lists.
    let hops: Vec<String> = choice
        .preferred()
        .hops()
        .iter()
        .map(|hop| {
            let addresses: Vec<String> = hop.addresses.iter().map(ToString::to_string).collect();
            format!("{}: {}", hop.node, addresses.join(", "))
        })
        .collect();
    let expected = [
        "relay-eu-game: tcp://[2001:db8:1::10]:7100, tcp://10.1.0.10:7100",
        "relay-eu: udp://10.1.0.20:7201, tcp://10.1.0.20:7200",
        "relay-ap: tcp://10.2.0.20:7200",
        "relay-ap-game: tcp://10.2.0.10:7101",
        "app-ap-1: tcp://10.2.0.1:7000",
    ];
    assert_eq!(hops, expected);
    for line in expected {
        assert!(
            document.contains(&format!("`{line}`")),
            "the document lists `{line}`"
        );
    }

    // The same with the target's relay preferred.
    let mut target_first = RouteOptions::default();
    target_first.relay_preference = RelayPreference::TargetAdvertisedFirst;
    let choice = choose_route(&app_eu, "app-ap-1", &registry, &target_first).unwrap();
    assert_eq!(written("app-eu-1", choice.preferred()), path);

    // Without IPv6 the first hop has no IPv6 literal.
    let mut v4_only = RouteOptions::default();
    v4_only.families = AddressFamilies {
        ipv4: true,
        ipv6: false,
    };
    let choice = choose_route(&app_eu, "app-ap-1", &registry, &v4_only).unwrap();
    let first = first_hop_addresses(&choice);
    assert_eq!(first, ["tcp://10.1.0.10:7100"]);

    // Three relays are not enough.
    let mut three = RouteOptions::default();
    three.max_relays = 3;
    assert_eq!(
        choose_route(&app_eu, "app-ap-1", &registry, &three),
        Err(RouteError::DepthExceeded {
            target: "app-ap-1".into(),
            max_relays: 3
        })
    );
}

#[test]
fn worked_example_reverse_direction_and_neighbours() {
    let document = document();
    let registry = topology(&document);
    let default = RouteOptions::default();

    let app_ap = node(&registry, "app-ap-1");
    let choice = choose_route(&app_ap, "app-eu-1", &registry, &default).unwrap();
    let routes: Vec<String> = choice
        .routes()
        .iter()
        .map(|r| written("app-ap-1", r))
        .collect();
    assert_eq!(
        routes,
        [
            "app-ap-1 -> relay-ap-game -> relay-ap -> relay-eu-game -> app-eu-1",
            "app-ap-1 -> relay-ap-game -> relay-eu-game -> app-eu-1",
        ]
    );
    for route in &routes {
        assert!(
            document.contains(route.as_str()),
            "the document shows {route}"
        );
    }

    let app_eu = node(&registry, "app-eu-1");
    let neighbour = choose_route(&app_eu, "app-eu-2", &registry, &default).unwrap();
    let addresses = first_hop_addresses(&neighbour);
    assert_eq!(
        addresses,
        ["unix:///run/atbus/app-eu-2.sock", "tcp://10.1.0.1:7001"]
    );
    assert!(document.contains("`unix:///run/atbus/app-eu-2.sock`, then `tcp://10.1.0.1:7001`"));
}

#[test]
fn documented_route_options_deserialize() {
    let document = document();
    let options: RouteOptions =
        serde_norway::from_str(yaml_after(&document, "<!-- route-options-example -->")).unwrap();
    let mut expected = RouteOptions::default();
    expected.upstream_relay = Some("relay-eu-game".into());
    expected.families.ipv6 = false;
    assert_eq!(options, expected);
    let empty: RouteOptions = serde_norway::from_str("{}").unwrap();
    assert_eq!(empty, RouteOptions::default());
    assert!(
        serde_norway::from_str::<RouteOptions>("max_relay: 3").is_err(),
        "typos are refused"
    );
}
