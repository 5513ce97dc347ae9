//! Untrusted discovery input: protobuf node records, gateway addresses, and route choice over
//! whatever record decodes.
//!
//! The input is tried as an encoded `atbus.discovery.node_record` and as address text. A record
//! that decodes must be valid; it joins a small fixed topology (under the name `fuzzed`, so it
//! can collide with nobody) and routes are chosen to and from it. Nothing may panic, and every
//! route must end at its target without repeating a node.
#![no_main]

use atbus_core::discovery::{
    Discovery, GatewayAddress, MemoryRegistry, NodeRecord, NodeSelector, RouteOptions, choose_route,
};
use libfuzzer_sys::fuzz_target;

fn fixed_topology() -> MemoryRegistry {
    let mut registry = MemoryRegistry::new();
    let mut relay = NodeRecord::new("relay");
    relay.metadata.kind = "relay".into();
    relay.gateways.push(atbus_core::discovery::Gateway {
        addresses: vec!["tcp://10.0.0.1:7000".into()],
        ..Default::default()
    });
    let mut app = NodeRecord::new("app");
    app.advertise_relay = Some(NodeSelector::name("relay"));
    app.gateways.push(atbus_core::discovery::Gateway {
        addresses: vec!["tcp://10.0.0.2:7000".into()],
        r#match: atbus_core::discovery::GatewayMatch {
            host: Some("only-this-host".into()),
            ..Default::default()
        },
        ..Default::default()
    });
    registry.put(relay).expect("valid");
    registry.put(app).expect("valid");
    registry
}

fn check_route(local: &NodeRecord, target: &str, registry: &MemoryRegistry) {
    if let Ok(choice) = choose_route(local, target, registry, &RouteOptions::default()) {
        for route in choice.routes() {
            let path = route.path();
            assert_eq!(*path.last().expect("non-empty"), target);
            let mut seen = std::collections::BTreeSet::new();
            assert!(
                path.iter().all(|node| seen.insert(*node)),
                "loop in {route}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(address) = GatewayAddress::parse(text) {
            assert_eq!(GatewayAddress::parse(&address.to_string()), Ok(address));
        }
    }
    let Ok(mut record) = NodeRecord::decode_protobuf(data) else {
        return;
    };
    assert_eq!(record.validate(), Ok(()));
    record.name = "fuzzed".into();
    let mut registry = fixed_topology();
    registry
        .put(record.clone())
        .expect("a valid record with a free name is accepted");
    check_route(&record, "app", &registry);
    let app = NodeRecord::new("app");
    check_route(&app, "fuzzed", &registry);
});
