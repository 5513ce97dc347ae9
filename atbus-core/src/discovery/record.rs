//! The node record, the group record and their parts, as operators write them.
//!
//! Every field of `../shared/docs/DISCOVERY.md` §1 is here. The serde names are the field names
//! of the specification (and of `proto/atbus/discovery.proto`), unknown fields are refused (a
//! misspelt `lables:` must not pass silently), and fields left out take their defaults:
//! `version` the current protocol version, everything else empty. Empty fields are left out when
//! serialising, so a record written back reads like the one an operator wrote.
//!
//! These are plain data. [`NodeRecord::validate`] checks the syntax rules; registries refuse
//! records that fail it.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::frame::PROTOCOL_VERSION;

/// Everything a peer needs to know to find and reach one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeRecord {
    /// Globally unique node name, a Kubernetes DNS subdomain.
    pub name: String,
    /// The atbus protocol version the node speaks; never 0. Defaults to [`PROTOCOL_VERSION`].
    #[serde(default = "default_version")]
    pub version: u32,
    /// Opaque bytes owned by the application. In YAML and JSON: a standard base64 string
    /// (RFC 4648 alphabet, with padding).
    #[serde(
        default,
        skip_serializing_if = "Bytes::is_empty",
        with = "base64_bytes"
    )]
    pub custom_data: Bytes,
    /// Where the node runs.
    #[serde(default, skip_serializing_if = "HostInfo::is_empty")]
    pub host: HostInfo,
    /// What the node is.
    #[serde(default, skip_serializing_if = "NodeMetadata::is_empty")]
    pub metadata: NodeMetadata,
    /// How the node can be reached directly. None: reached through relays only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<Gateway>,
    /// The relay(s) this node recommends for reaching it, and its own upstream relay(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertise_relay: Option<NodeSelector>,
}

fn default_version() -> u32 {
    PROTOCOL_VERSION
}

impl NodeRecord {
    /// A record with this name, the current protocol version, and every other field empty.
    pub fn new(name: impl Into<String>) -> Self {
        NodeRecord {
            name: name.into(),
            version: PROTOCOL_VERSION,
            custom_data: Bytes::new(),
            host: HostInfo::default(),
            metadata: NodeMetadata::default(),
            gateways: Vec::new(),
            advertise_relay: None,
        }
    }
}

/// Where a node runs: decides whether two nodes share a machine or a process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostInfo {
    /// Host name or IP of the machine. Empty: unknown, never the same machine as anything.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    /// Process id. 0: unknown, never the same process as anything.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pid: u32,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

impl HostInfo {
    /// Whether both fields are empty (unknown).
    pub fn is_empty(&self) -> bool {
        self.hostname.is_empty() && self.pid == 0
    }
}

/// Kubernetes-style metadata of a node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeMetadata {
    /// Namespace; part of the same-machine rule.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace_name: String,
    /// Application API version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// Application type, e.g. `app`, `relay`, `client`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Application group.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// Labels, matched by selectors. Suggested locality keys: `area.region`, `area.district`,
    /// `area.zone_id`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations: free-form values, never matched.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl NodeMetadata {
    /// Whether every field is empty.
    pub fn is_empty(&self) -> bool {
        self.namespace_name.is_empty()
            && self.api_version.is_empty()
            && self.kind.is_empty()
            && self.group.is_empty()
            && self.labels.is_empty()
            && self.annotations.is_empty()
    }
}

/// A way to reach a node directly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// Lower is preferred; among usable gateways only the lowest priority is tried.
    #[serde(default)]
    pub priority: i32,
    /// Addresses in the order to try them; see
    /// [`GatewayAddress`](super::GatewayAddress) for the syntax. At least one.
    pub addresses: Vec<String>,
    /// Which connecting nodes may use this gateway. Empty: every node.
    #[serde(default, skip_serializing_if = "GatewayMatch::is_empty")]
    pub r#match: GatewayMatch,
}

/// Restriction of a gateway to some connecting nodes; every part that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayMatch {
    /// The connecting node's `host.hostname` must equal this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The connecting node's metadata must match this selector.
    #[serde(default, skip_serializing_if = "MetadataSelector::is_empty")]
    pub metadata: MetadataSelector,
}

impl GatewayMatch {
    /// Whether the match restricts nothing.
    pub fn is_empty(&self) -> bool {
        self.host.is_none() && self.metadata.is_empty()
    }
}

/// Subset match of node metadata: every field set and every label listed must be present in
/// the candidate and equal. Annotations are never matched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataSelector {
    /// Required namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_name: Option<String>,
    /// Required application API version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Required kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Required group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Labels the candidate must carry, with these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl MetadataSelector {
    /// Whether the selector restricts nothing.
    pub fn is_empty(&self) -> bool {
        self.namespace_name.is_none()
            && self.api_version.is_none()
            && self.kind.is_none()
            && self.group.is_none()
            && self.labels.is_empty()
    }
}

/// Selects nodes by exact name and/or metadata; both must match when both are set.
///
/// An empty selector matches every node when listing; as an `advertise_relay` or a group
/// selector it is refused by validation, because there it would make every node a relay or a
/// member by accident.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSelector {
    /// Exact node name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Metadata the node must match.
    #[serde(default, skip_serializing_if = "MetadataSelector::is_empty")]
    pub metadata: MetadataSelector,
}

impl NodeSelector {
    /// A selector for the node of this name.
    pub fn name(name: impl Into<String>) -> Self {
        NodeSelector {
            name: Some(name.into()),
            metadata: MetadataSelector::default(),
        }
    }

    /// A selector for the nodes matching this metadata.
    pub fn metadata(metadata: MetadataSelector) -> Self {
        NodeSelector {
            name: None,
            metadata,
        }
    }

    /// Whether the selector restricts nothing.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.metadata.is_empty()
    }
}

/// A named set of nodes, the destination of a multicast.
///
/// Group names and node names share one namespace: a registry refuses a group named like a node
/// and the other way round, because a message's destination may be either.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRecord {
    /// Group name, a DNS subdomain.
    pub name: String,
    /// Member node names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Nodes matching this selector are members too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<NodeSelector>,
}

/// A file of records, as operators write it: `nodes:` and `groups:` lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSet {
    /// Node records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeRecord>,
    /// Group records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupRecord>,
}

/// serde for [`Bytes`] as a standard base64 string with padding.
mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(super) fn serialize<S: Serializer>(data: &Bytes, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(data))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Bytes, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD
            .decode(text.as_bytes())
            .map(Bytes::from)
            .map_err(|error| {
                D::Error::custom(format_args!("custom_data is not standard base64: {error}"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_fields_take_defaults() {
        let record: NodeRecord = serde_json::from_str(r#"{"name":"a"}"#).unwrap();
        assert_eq!(record, NodeRecord::new("a"));
        assert_eq!(record.version, PROTOCOL_VERSION);
    }

    #[test]
    fn empty_fields_are_left_out() {
        assert_eq!(
            serde_json::to_string(&NodeRecord::new("a")).unwrap(),
            r#"{"name":"a","version":3}"#
        );
    }

    #[test]
    fn custom_data_is_base64() {
        let mut record = NodeRecord::new("a");
        record.custom_data = Bytes::from_static(b"\x00\xffhi");
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains(r#""custom_data":"AP9oaQ==""#), "{json}");
        assert_eq!(serde_json::from_str::<NodeRecord>(&json).unwrap(), record);
    }

    #[test]
    fn bad_input_is_refused_with_the_reason() {
        let cases = [
            (
                r#"{"name":"a","custom_data":"***"}"#,
                "custom_data is not standard base64",
            ),
            (r#"{"name":"a","lables":{}}"#, "unknown field `lables`"),
            (
                r#"{"name":"a","gateways":[{"priority":1}]}"#,
                "missing field `addresses`",
            ),
            (r#"{"version":3}"#, "missing field `name`"),
        ];
        for (json, expected) in cases {
            let error = serde_json::from_str::<NodeRecord>(json)
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{json}: {error}");
        }
    }

    #[test]
    fn gateway_match_is_spelt_match() {
        let yaml = "name: a\ngateways:\n  - addresses: [\"tcp://h:1\"]\n    match: { host: h }\n";
        let record: NodeRecord = serde_norway::from_str(yaml).unwrap();
        assert_eq!(record.gateways[0].r#match.host.as_deref(), Some("h"));
        assert!(serde_norway::to_string(&record).unwrap().contains("match:"));
    }
}
