//! Matching rules: same machine, same process, subset matching, usable gateways, and the ordered
//! addresses one node uses to reach another directly.
//!
//! The rules are listed in the [module docs](super#matching-rules).

use serde::{Deserialize, Serialize};

use super::address::{GatewayAddress, Host, Transport};
use super::record::{
    Gateway, GatewayMatch, GroupRecord, MetadataSelector, NodeMetadata, NodeRecord, NodeSelector,
};

/// The address families a node can use. No record carries them: the local node's come from its
/// configuration ([`RouteOptions::families`](super::RouteOptions::families)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AddressFamilies {
    /// The node can reach IPv4 addresses.
    pub ipv4: bool,
    /// The node can reach IPv6 addresses.
    pub ipv6: bool,
}

impl Default for AddressFamilies {
    /// Both families.
    fn default() -> Self {
        AddressFamilies {
            ipv4: true,
            ipv6: true,
        }
    }
}

impl AddressFamilies {
    /// Whether a node with these families can reach this host. Host names are kept: the resolver
    /// picks a family the node has.
    pub fn reaches(&self, host: &Host) -> bool {
        match host {
            Host::Ipv4(_) => self.ipv4,
            Host::Ipv6(_) => self.ipv6,
            Host::Name(_) => self.ipv4 || self.ipv6,
        }
    }
}

/// The transports a node's runtime supports (an adapter may lack UDP or Unix sockets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Transports {
    /// In-process memory links.
    pub memory: bool,
    /// Unix-domain sockets.
    pub unix: bool,
    /// TCP.
    pub tcp: bool,
    /// atbus reliable datagrams over UDP.
    pub udp: bool,
}

impl Default for Transports {
    /// Every transport.
    fn default() -> Self {
        Transports {
            memory: true,
            unix: true,
            tcp: true,
            udp: true,
        }
    }
}

impl Transports {
    /// Whether the transport is supported. [`Transport::Unknown`] never is.
    pub fn supports(&self, transport: Transport) -> bool {
        match transport {
            Transport::Memory => self.memory,
            Transport::Unix => self.unix,
            Transport::Tcp => self.tcp,
            Transport::Udp => self.udp,
            Transport::Unknown => false,
        }
    }
}

/// Same machine ⇔ equal namespace and equal, known (non-empty) host name.
pub fn same_machine(a: &NodeRecord, b: &NodeRecord) -> bool {
    !a.host.hostname.is_empty()
        && a.host.hostname == b.host.hostname
        && a.metadata.namespace_name == b.metadata.namespace_name
}

/// Same process ⇔ same machine and equal, known (non-zero) pid.
pub fn same_process(a: &NodeRecord, b: &NodeRecord) -> bool {
    same_machine(a, b) && a.host.pid != 0 && a.host.pid == b.host.pid
}

impl MetadataSelector {
    /// Subset matching: every field set and every label listed is present and equal.
    pub fn matches(&self, metadata: &NodeMetadata) -> bool {
        let field =
            |wanted: &Option<String>, actual: &str| wanted.as_deref().is_none_or(|w| w == actual);
        field(&self.namespace_name, &metadata.namespace_name)
            && field(&self.api_version, &metadata.api_version)
            && field(&self.kind, &metadata.kind)
            && field(&self.group, &metadata.group)
            && self
                .labels
                .iter()
                .all(|(key, value)| metadata.labels.get(key) == Some(value))
    }
}

impl NodeSelector {
    /// Whether the node has the name (if set) and matches the metadata. An empty selector
    /// matches every node.
    pub fn matches(&self, node: &NodeRecord) -> bool {
        self.name.as_deref().is_none_or(|name| name == node.name)
            && self.metadata.matches(&node.metadata)
    }
}

impl GatewayMatch {
    /// Whether the connecting node may use a gateway with this match. Empty matches everyone.
    pub fn matches(&self, connecting: &NodeRecord) -> bool {
        self.host
            .as_deref()
            .is_none_or(|host| host == connecting.host.hostname)
            && self.metadata.matches(&connecting.metadata)
    }
}

impl GroupRecord {
    /// Whether the node is a member: listed by name, or matched by the selector.
    pub fn contains(&self, node: &NodeRecord) -> bool {
        self.members.contains(&node.name)
            || self
                .selector
                .as_ref()
                .is_some_and(|selector| !selector.is_empty() && selector.matches(node))
    }
}

/// Whether `from` can use this address of `to`: memory within one process, Unix sockets within
/// one machine, network addresses when the transport and (for IP literals) the family are there.
fn reaches(
    from: &NodeRecord,
    to: &NodeRecord,
    address: &GatewayAddress,
    transports: &Transports,
    families: &AddressFamilies,
) -> bool {
    let transport = address.transport();
    transports.supports(transport)
        && match transport {
            Transport::Memory => same_process(from, to),
            Transport::Unix => same_machine(from, to),
            Transport::Tcp | Transport::Udp => address.host().is_some_and(|h| families.reaches(h)),
            Transport::Unknown => false,
        }
}

/// The parsed addresses of a gateway that `from` can reach, in the record's order. Addresses
/// that do not parse (never in a validated record) are skipped.
fn reachable_addresses(
    from: &NodeRecord,
    to: &NodeRecord,
    gateway: &Gateway,
    transports: &Transports,
    families: &AddressFamilies,
) -> Vec<GatewayAddress> {
    gateway
        .addresses
        .iter()
        .filter_map(|text| GatewayAddress::parse(text).ok())
        .filter(|address| reaches(from, to, address, transports, families))
        .collect()
}

/// The gateways of `to` that `from` uses: those whose `match` matches `from` and that have an
/// address `from` can reach, keeping only the lowest priority (every tied gateway, in record
/// order).
pub fn usable_gateways<'a>(
    from: &NodeRecord,
    to: &'a NodeRecord,
    transports: &Transports,
    families: &AddressFamilies,
) -> Vec<&'a Gateway> {
    tied_gateways(from, to, transports, families)
        .into_iter()
        .map(|(gateway, _)| gateway)
        .collect()
}

/// The addresses by which `from` reaches `to` directly, in the order to try them: the
/// reachable addresses of the [usable gateways](usable_gateways), memory first, then Unix
/// sockets, then TCP and UDP in record order, without duplicates. Empty: no direct route.
pub fn direct_addresses(
    from: &NodeRecord,
    to: &NodeRecord,
    transports: &Transports,
    families: &AddressFamilies,
) -> Vec<GatewayAddress> {
    let mut addresses: Vec<GatewayAddress> = Vec::new();
    for (_, reachable) in tied_gateways(from, to, transports, families) {
        for address in reachable {
            if !addresses.contains(&address) {
                addresses.push(address);
            }
        }
    }
    addresses.sort_by_key(|address| address.transport().preference_rank());
    addresses
}

/// The usable gateways of the lowest priority, each with its reachable addresses.
fn tied_gateways<'a>(
    from: &NodeRecord,
    to: &'a NodeRecord,
    transports: &Transports,
    families: &AddressFamilies,
) -> Vec<(&'a Gateway, Vec<GatewayAddress>)> {
    let mut best: Vec<(&Gateway, Vec<GatewayAddress>)> = Vec::new();
    for gateway in &to.gateways {
        let priority = best.first().map(|(b, _)| gateway.priority.cmp(&b.priority));
        if priority == Some(core::cmp::Ordering::Greater) || !gateway.r#match.matches(from) {
            continue;
        }
        let reachable = reachable_addresses(from, to, gateway, transports, families);
        if reachable.is_empty() {
            continue;
        }
        if priority != Some(core::cmp::Ordering::Equal) {
            best.clear();
        }
        best.push((gateway, reachable));
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::test_support::{NodeBuilder, node};

    fn parse(texts: &[&str]) -> Vec<GatewayAddress> {
        texts
            .iter()
            .map(|t| GatewayAddress::parse(t).unwrap())
            .collect()
    }

    #[test]
    fn same_machine_and_process() {
        let base = || node("a").namespace("game").host("h1", 10);
        // (other node, same machine, same process)
        let cases: [(NodeBuilder, bool, bool); 6] = [
            (node("b").namespace("game").host("h1", 10), true, true),
            (node("b").namespace("game").host("h1", 11), true, false),
            (node("b").namespace("ops").host("h1", 10), false, false),
            (node("b").namespace("game").host("h2", 10), false, false),
            (node("b").namespace("game").host("", 10), false, false),
            (node("b").namespace("game").host("h1", 0), true, false),
        ];
        for (other, machine, process) in cases {
            let (a, b) = (base().build(), other.build());
            assert_eq!(same_machine(&a, &b), machine, "{:?}", b.host);
            assert_eq!(same_process(&a, &b), process, "{:?}", b.host);
        }
        let unknown = node("a").namespace("game").host("", 0).build();
        assert!(!same_machine(&unknown, &unknown.clone()));
        let unknown_pid = node("a").namespace("game").host("h1", 0).build();
        assert!(!same_process(&unknown_pid, &unknown_pid.clone()));
    }

    #[test]
    fn subset_matching() {
        let metadata = node("a")
            .namespace("game")
            .kind("app")
            .group("g1")
            .api_version("v2")
            .label("area.region", "eu")
            .label("tier", "")
            .build()
            .metadata;
        let selector = |f: fn(&mut MetadataSelector)| {
            let mut s = MetadataSelector::default();
            f(&mut s);
            s
        };
        let cases: [(MetadataSelector, bool); 11] = [
            (selector(|_| {}), true),
            (selector(|s| s.namespace_name = Some("game".into())), true),
            (selector(|s| s.namespace_name = Some("ops".into())), false),
            (selector(|s| s.kind = Some("app".into())), true),
            (selector(|s| s.kind = Some("relay".into())), false),
            (selector(|s| s.group = Some("g2".into())), false),
            (selector(|s| s.api_version = Some("v2".into())), true),
            (
                selector(|s| {
                    s.labels.insert("area.region".into(), "eu".into());
                }),
                true,
            ),
            (
                selector(|s| {
                    s.labels.insert("area.region".into(), "ap".into());
                }),
                false,
            ),
            (
                selector(|s| {
                    s.labels.insert("tier".into(), "".into());
                }),
                true,
            ),
            (
                selector(|s| {
                    s.labels.insert("area.zone_id".into(), "".into());
                }),
                false,
            ),
        ];
        for (selector, expected) in cases {
            assert_eq!(selector.matches(&metadata), expected, "{selector:?}");
        }
    }

    #[test]
    fn node_selectors_and_groups() {
        let a = node("a").kind("relay").build();
        assert!(NodeSelector::default().matches(&a));
        assert!(NodeSelector::name("a").matches(&a));
        assert!(!NodeSelector::name("b").matches(&a));
        let mut both = NodeSelector::name("a");
        both.metadata.kind = Some("app".into());
        assert!(!both.matches(&a), "name and metadata must both match");

        let group = GroupRecord {
            name: "g".into(),
            members: vec!["b".into()],
            selector: Some(NodeSelector::metadata(MetadataSelector {
                kind: Some("relay".into()),
                ..MetadataSelector::default()
            })),
        };
        assert!(group.contains(&a));
        assert!(group.contains(&node("b").build()));
        assert!(!group.contains(&node("c").build()));
        let empty_selector = GroupRecord {
            selector: Some(NodeSelector::default()),
            ..group
        };
        assert!(!empty_selector.contains(&node("c").build()));
    }

    #[test]
    fn gateway_match() {
        let connecting = node("a")
            .namespace("game")
            .host("h1", 1)
            .kind("app")
            .build();
        let cases: [(GatewayMatch, bool); 5] = [
            (GatewayMatch::default(), true),
            (
                GatewayMatch {
                    host: Some("h1".into()),
                    ..GatewayMatch::default()
                },
                true,
            ),
            (
                GatewayMatch {
                    host: Some("h2".into()),
                    ..GatewayMatch::default()
                },
                false,
            ),
            (
                GatewayMatch {
                    host: Some("h1".into()),
                    metadata: MetadataSelector {
                        kind: Some("relay".into()),
                        ..MetadataSelector::default()
                    },
                },
                false,
            ),
            (
                GatewayMatch {
                    host: None,
                    metadata: MetadataSelector {
                        namespace_name: Some("game".into()),
                        ..MetadataSelector::default()
                    },
                },
                true,
            ),
        ];
        for (m, expected) in cases {
            assert_eq!(m.matches(&connecting), expected, "{m:?}");
        }
    }

    /// One target offering every transport; who reaches it how.
    #[test]
    fn transport_preference_and_reachability() {
        let target = node("t")
            .namespace("game")
            .host("h1", 10)
            .gateway(
                0,
                &[
                    "tcp://10.0.0.1:7000",
                    "udp://[2001:db8::1]:7000",
                    "unix:///run/t.sock",
                    "mem://t",
                ],
            )
            .build();
        let v4_only = AddressFamilies {
            ipv4: true,
            ipv6: false,
        };
        let v6_only = AddressFamilies {
            ipv4: false,
            ipv6: true,
        };
        let no_udp = Transports {
            udp: false,
            ..Transports::default()
        };
        let all = Transports::default();
        let both = AddressFamilies::default();
        // (connecting node, transports, families, expected order)
        let cases: [(NodeBuilder, Transports, AddressFamilies, &[&str]); 7] = [
            (
                node("s").namespace("game").host("h1", 10),
                all,
                both,
                &[
                    "mem://t",
                    "unix:///run/t.sock",
                    "tcp://10.0.0.1:7000",
                    "udp://[2001:db8::1]:7000",
                ],
            ),
            (
                node("s").namespace("game").host("h1", 11),
                all,
                both,
                &[
                    "unix:///run/t.sock",
                    "tcp://10.0.0.1:7000",
                    "udp://[2001:db8::1]:7000",
                ],
            ),
            (
                node("s").namespace("ops").host("h1", 10),
                all,
                both,
                &["tcp://10.0.0.1:7000", "udp://[2001:db8::1]:7000"],
            ),
            (
                node("s").namespace("game").host("h2", 10),
                all,
                v4_only,
                &["tcp://10.0.0.1:7000"],
            ),
            (
                node("s").namespace("game").host("h2", 10),
                all,
                v6_only,
                &["udp://[2001:db8::1]:7000"],
            ),
            (
                node("s").namespace("game").host("h2", 10),
                no_udp,
                v6_only,
                &[],
            ),
            (
                node("s").namespace("game").host("h1", 10),
                Transports {
                    memory: false,
                    ..Transports::default()
                },
                v4_only,
                &["unix:///run/t.sock", "tcp://10.0.0.1:7000"],
            ),
        ];
        for (from, transports, families, expected) in cases {
            let from = from.build();
            assert_eq!(
                direct_addresses(&from, &target, &transports, &families),
                parse(expected),
                "{:?} {transports:?} {families:?}",
                from.host
            );
        }
    }

    /// Priority picks the tie set among usable gateways; unusable ones (by match or by having
    /// no reachable address) are skipped before priorities are compared.
    #[test]
    fn priority_ties_and_skips() {
        let from = node("s")
            .namespace("game")
            .host("h2", 1)
            .kind("app")
            .build();
        let target = node("t")
            .namespace("game")
            .host("h1", 10)
            .gateway(-1, &["mem://t"]) // not same process: skipped
            .gateway_matching(0, &["tcp://10.0.0.9:1"], |m| {
                m.metadata.kind = Some("relay".into())
            })
            .gateway(5, &["tcp://b.example:2", "tcp://[::1]:3"])
            .gateway(5, &["udp://c.example:4", "tcp://b.example:2"])
            .gateway(7, &["tcp://d.example:5"])
            .build();
        let all = Transports::default();
        let both = AddressFamilies::default();
        let priorities: Vec<i32> = usable_gateways(&from, &target, &all, &both)
            .iter()
            .map(|g| g.priority)
            .collect();
        assert_eq!(priorities, [5, 5]);
        assert_eq!(
            direct_addresses(&from, &target, &all, &both),
            parse(&["tcp://b.example:2", "tcp://[::1]:3", "udp://c.example:4"])
        );
        let v4 = AddressFamilies {
            ipv4: true,
            ipv6: false,
        };
        assert_eq!(
            direct_addresses(&from, &target, &all, &v4),
            parse(&["tcp://b.example:2", "udp://c.example:4"]),
            "a node without IPv6 never gets an IPv6 literal"
        );
        let nothing = AddressFamilies {
            ipv4: false,
            ipv6: false,
        };
        assert!(direct_addresses(&from, &target, &all, &nothing).is_empty());
    }

    #[test]
    fn unknown_schemes_are_never_used() {
        let from = node("s").build();
        let target = node("t")
            .gateway(0, &["quic://h:1"])
            .gateway(1, &["tcp://h:2"])
            .build();
        assert_eq!(
            direct_addresses(
                &from,
                &target,
                &Transports::default(),
                &AddressFamilies::default()
            ),
            parse(&["tcp://h:2"])
        );
    }
}
