//! Builders that keep the tables of records in tests short.

use super::record::{Gateway, GatewayMatch, MetadataSelector, NodeRecord, NodeSelector};

/// Builds a [`NodeRecord`] field by field.
#[derive(Debug, Clone)]
pub(crate) struct NodeBuilder(NodeRecord);

/// Starts a record with this name.
pub(crate) fn node(name: &str) -> NodeBuilder {
    NodeBuilder(NodeRecord::new(name))
}

impl NodeBuilder {
    pub(crate) fn namespace(mut self, namespace: &str) -> Self {
        self.0.metadata.namespace_name = namespace.into();
        self
    }

    pub(crate) fn host(mut self, hostname: &str, pid: u32) -> Self {
        self.0.host.hostname = hostname.into();
        self.0.host.pid = pid;
        self
    }

    pub(crate) fn kind(mut self, kind: &str) -> Self {
        self.0.metadata.kind = kind.into();
        self
    }

    pub(crate) fn group(mut self, group: &str) -> Self {
        self.0.metadata.group = group.into();
        self
    }

    pub(crate) fn api_version(mut self, version: &str) -> Self {
        self.0.metadata.api_version = version.into();
        self
    }

    pub(crate) fn label(mut self, key: &str, value: &str) -> Self {
        self.0.metadata.labels.insert(key.into(), value.into());
        self
    }

    /// A gateway that every node may use.
    pub(crate) fn gateway(self, priority: i32, addresses: &[&str]) -> Self {
        self.gateway_matching(priority, addresses, |_| {})
    }

    /// A gateway restricted by a match.
    pub(crate) fn gateway_matching(
        mut self,
        priority: i32,
        addresses: &[&str],
        restrict: impl FnOnce(&mut GatewayMatch),
    ) -> Self {
        let mut gateway = Gateway {
            priority,
            addresses: addresses.iter().map(|a| (*a).to_owned()).collect(),
            r#match: GatewayMatch::default(),
        };
        restrict(&mut gateway.r#match);
        self.0.gateways.push(gateway);
        self
    }

    /// Advertises the relay of this name.
    pub(crate) fn advertise(mut self, relay: &str) -> Self {
        self.0.advertise_relay = Some(NodeSelector::name(relay));
        self
    }

    /// Advertises the relays matching this metadata.
    pub(crate) fn advertise_matching(mut self, select: impl FnOnce(&mut MetadataSelector)) -> Self {
        let mut metadata = MetadataSelector::default();
        select(&mut metadata);
        self.0.advertise_relay = Some(NodeSelector::metadata(metadata));
        self
    }

    pub(crate) fn build(self) -> NodeRecord {
        self.0
    }
}
