//! Service discovery: node records, their validation, matching rules and route choice.
//!
//! Nodes find each other by name through *discovery records*. A node publishes a [`NodeRecord`]
//! (its name, where it runs, its Kubernetes-style metadata, the gateways through which it can be
//! reached and the relay it recommends); a peer that wants to send to it reads the record from a
//! [`DiscoveryView`] and [`choose_route`] decides how: directly through one of the target's
//! gateways, in-memory, over a Unix socket, TCP or UDP, or through one or more relays. All of it
//! is pure logic: no IO, no clock, no randomness, the same inputs always give the same route.
//!
//! The specification is `../shared/docs/DISCOVERY.md`; the project's `docs/DISCOVERY.md`
//! explains the rules as built with a worked multi-relay example (asserted by a test).
//!
//! # Records
//!
//! | type | what |
//! |---|---|
//! | [`NodeRecord`] | `name`, `version`, `custom_data`, `host` ([`HostInfo`]), `metadata` ([`NodeMetadata`]), `gateways` ([`Gateway`]), `advertise_relay` ([`NodeSelector`]) |
//! | [`GroupRecord`] | a multicast group: `name`, `members` and/or a `selector` |
//! | [`RecordSet`] | a file of records (`nodes:` and `groups:`), as operators write them |
//!
//! Records are plain data with serde support: operators write them as YAML or JSON, and
//! `custom_data` (opaque bytes) is written as a standard base64 string. atbus-core does not parse
//! YAML or JSON itself (it would pull a parser into every build of the core); a program that
//! reads config files uses `serde_norway` or `serde_json` and then [`NodeRecord::validated`]:
//!
//! ```
//! use atbus_core::discovery::NodeRecord;
//!
//! let yaml = r#"
//! name: app-eu-1
//! host: { hostname: eu-h1, pid: 100 }
//! metadata: { namespace_name: game, kind: app, labels: { area.region: eu } }
//! gateways:
//!   - priority: 0
//!     addresses: ["tcp://10.1.0.1:7000", "tcp://[2001:db8::1]:7000"]
//!     match: { metadata: { namespace_name: game } }
//! advertise_relay: { name: relay-eu-game }
//! "#;
//! let record = serde_norway::from_str::<NodeRecord>(yaml)?.validated()?;
//! assert_eq!(record.metadata.labels["area.region"], "eu");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! They also convert to and from the protobuf types of `atbus_proto::discovery` (how records
//! travel and how backends store them): `From<&NodeRecord>` one way, and `TryFrom`, which
//! validates, the other ([`NodeRecord::decode_protobuf`] decodes and validates bytes).
//!
//! # Validation
//!
//! [`NodeRecord::validate`] checks a record before it is stored; a registry refuses invalid
//! records. A [`ValidationError`] names the field (`gateways[1].addresses[0]`) and the rule:
//!
//! - node, relay, group and member names: Kubernetes DNS subdomains (at most 253 characters of
//!   lower-case alphanumerics, `-` and `.`; every dot-separated part starts and ends alphanumeric);
//! - label keys and annotation keys: Kubernetes qualified names (an optional DNS-subdomain prefix
//!   and `/`, then a name of at most 63 alphanumerics, `-`, `_`, `.` that starts and ends
//!   alphanumeric); label values: the same as that name, or empty; annotation values are free,
//!   but keys and values together are at most 256 KiB;
//! - gateway addresses: see [`GatewayAddress`]; a gateway has at least one address;
//! - `version` is not 0; an `advertise_relay` selects something (it names a relay or gives
//!   metadata: an empty selector would select every node).
//!
//! Namespace, kind, group, API version and host name are compared for equality only and are not
//! restricted.
//!
//! # Matching rules
//!
//! - **Same machine** ⇔ equal `metadata.namespace_name` **and** equal `host.hostname`. An empty
//!   host name means "unknown" and is never the same machine as anything.
//! - **Same process** ⇔ same machine **and** equal `host.pid`. Pid 0 means "unknown" and is
//!   never the same process.
//! - **Subset matching** ([`MetadataSelector::matches`]): every field and label the selector
//!   names must be present in the candidate and equal; the rest is unrestricted. Annotations are
//!   never matched.
//! - **Usable gateway**: its `match` matches the connecting node's own record (`host` against
//!   `host.hostname`, `metadata` by subset matching; an empty match matches everyone) **and** it
//!   has at least one address the connecting node can reach:
//!   - `mem://` only within the same process, `unix://` only within the same machine;
//!   - `tcp://` and `udp://` when the connecting node has that transport, and for IP literals the
//!     address family (a node without IPv6 never gets an IPv6 literal; a DNS name is kept,
//!     resolution picks the family);
//!   - addresses of schemes this version does not know (a newer peer's) are ignored.
//! - **Priority and alternatives**: among usable gateways the lowest `priority` number wins; ties
//!   keep every reachable address of the tied gateways as alternatives, tried in order with
//!   fail-over.
//! - **Transport preference**: within those alternatives, in-memory first, then Unix socket, then
//!   TCP and UDP in the order the record lists them (a stable sort, so the operator's order
//!   decides among equals). Priority is the operator's explicit word and therefore ranks before
//!   transport: a node that wants same-process peers to use memory lists `mem://` in its
//!   lowest-priority gateway (the usual record has one gateway with `mem://`, `unix://` and
//!   `tcp://` addresses, and the rules above drop the ones a peer cannot use).
//!
//! # Route choice
//!
//! A *discovery view* ([`DiscoveryView`]) is a read-only snapshot of records by name: route
//! choice reads records from it and nothing else. [`choose_route`] takes the local node's own
//! record, a target name, a view and [`RouteOptions`] (relay preference, an explicitly configured
//! upstream relay, the relay depth limit, and the local node's transports and address families,
//! which no record carries), and returns a [`RouteChoice`]: ordered alternative [`Route`]s, each
//! the full expected path of [`Hop`]s with the addresses by which each hop is reached.
//!
//! The search, from a node `from` to a node `to` (at first the local node and the target):
//!
//! 1. **Direct**: if `to` has a usable gateway for `from`, the route is the single hop `to`.
//! 2. **Relay candidates** otherwise, in two classes:
//!    - *own upstream*: the relays that `from`'s own `advertise_relay` selects; for the local
//!      node, [`RouteOptions::upstream_relay`] replaces that when set. Relays have upstream relays
//!      too, chosen the same way from their own records.
//!    - *target's advertised*: the relays that `to`'s `advertise_relay` selects.
//!
//!    [`RelayPreference`] orders the classes (default: own upstream first); a relay in both
//!    classes counts in the first. A node never relays for itself, and a node already on the
//!    path, the origin and the final target are never candidates (**no loops**).
//! 3. **Through a relay `r`**: the path is the route from `from` to `r` followed by the route
//!    from `r` to `to`, both found by these same rules recursively; the second half is computed
//!    *from `r`'s record*, because `r` makes that choice when the message reaches it. Each half
//!    takes the first route of its own search; a candidate whose halves cannot be joined without
//!    a repeated node or within the depth limit is not viable.
//! 4. **Alternatives**: within a class, every viable candidate is evaluated and the shorter path
//!    wins (ties: relay name order, which is the view's order). The first class with a viable
//!    candidate decides; the other class is tried only when the preferred one has none ("if the
//!    preferred relay is unreachable, the other is tried"). At the top level the [`RouteChoice`]
//!    keeps every viable route, preferred class first, shortest first within a class, so that
//!    the node can fail over at run time.
//! 5. **Depth limit**: a path crosses at most [`RouteOptions::max_relays`] relays (default
//!    [`DEFAULT_MAX_RELAYS`], 6: own relay, zone, region, the remote region, the target's relay,
//!    and one spare; well under the hop limit of 16 that relays enforce on the wire). A search
//!    that needed more fails with [`RouteError::DepthExceeded`]. The search also stops after
//!    [`RouteOptions::max_search_steps`] evaluations, so a hostile set of records cannot make it
//!    run for long.
//!
//! Only the local node's transports and address families are known; the other nodes on the path
//! are assumed to reach every family and transport. The path is the *expected* one: every relay
//! decides again when a message reaches it, by the same rules and its own view, so the path holds
//! while views agree and relays use the same preference.
//!
//! Route choice fails with a typed [`RouteError`]: the target is unknown, is the local node
//! itself, has no usable gateway and no reachable relay, needs more relays than allowed, or the
//! search exceeded its step budget.
//!
//! ```
//! use atbus_core::discovery::{
//!     choose_route, Discovery, DiscoveryView, MemoryRegistry, RecordSet, RouteOptions,
//! };
//!
//! // A client that no one can dial, a relay, and a server that only accepts relays.
//! let records: RecordSet = serde_norway::from_str(r#"
//! nodes:
//!   - name: client-1
//!     advertise_relay: { name: relay-1 }
//!   - name: relay-1
//!     metadata: { kind: relay }
//!     gateways: [{ addresses: ["tcp://10.0.0.2:7100"] }]
//!   - name: server-1
//!     gateways:
//!       - addresses: ["tcp://10.0.0.3:7000", "udp://10.0.0.3:7000"]
//!         match: { metadata: { kind: relay } }
//! "#)?;
//! let mut registry = MemoryRegistry::new();
//! for node in records.nodes {
//!     registry.put(node)?;
//! }
//! let client = registry.get("client-1").expect("registered").clone();
//! let choice = choose_route(&client, "server-1", &registry, &RouteOptions::default())?;
//! assert_eq!(choice.preferred().to_string(), "relay-1 -> server-1");
//! assert_eq!(choice.preferred().next_hop().addresses[0].to_string(), "tcp://10.0.0.2:7100");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Backends
//!
//! [`Discovery`] is the interface a node uses: [`DiscoveryView`] reads (get, list by selector)
//! plus put, delete and watch. A watch is a pollable subscription, not a thread or a future: the
//! owner drains [`WatchEvent`]s with [`Discovery::poll_watch`] as it drains every other output of
//! the core, and they arrive in revision order. [`MemoryRegistry`] implements it in memory for
//! one process and the simulator. An asynchronous backend such as etcd (in the tokio adapter)
//! keeps a local cache of records fed by its etcd watch, serves [`DiscoveryView`] from that cache
//! synchronously, turns put and delete into requests to its etcd task, and queues the changes
//! it observes as [`WatchEvent`]s, so route choice and the node never wait on the network.

mod address;
mod matching;
mod proto_convert;
mod record;
mod registry;
mod route;
mod search;
mod syntax;
mod validate;
mod view;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod route_tests;
#[cfg(test)]
mod test_support;

pub use address::{AddressError, GatewayAddress, Host, Transport};
pub use matching::{
    AddressFamilies, Transports, direct_addresses, same_machine, same_process, usable_gateways,
};
pub use proto_convert::RecordDecodeError;
pub use record::{
    Gateway, GatewayMatch, GroupRecord, HostInfo, MetadataSelector, NodeMetadata, NodeRecord,
    NodeSelector, RecordSet,
};
pub use registry::{MemoryRegistry, RegistryConfig};
pub use route::{
    DEFAULT_MAX_RELAYS, DEFAULT_MAX_SEARCH_STEPS, Hop, RelayPreference, Route, RouteChoice,
    RouteError, RouteOptions, choose_route,
};
pub use syntax::{
    MAX_ANNOTATIONS_SIZE, MAX_LABEL_LEN, MAX_NAME_LEN, validate_annotations, validate_label_key,
    validate_label_value, validate_name,
};
pub use validate::{FieldPath, Rule, ValidationError, Violation, check_node_name};
pub use view::{
    Discovery, DiscoveryView, RecordKind, RegistryError, WatchEvent, WatchFilter, WatchId,
    WatchStart,
};
