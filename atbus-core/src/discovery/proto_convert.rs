//! Conversion between the record types and the protobuf messages of `atbus_proto::discovery`.
//!
//! Outgoing conversion is infallible (`From<&NodeRecord>`); incoming conversion validates
//! (`TryFrom<pb::NodeRecord>`), so a record from the wire or from a store is checked before
//! anything uses it. Absent sub-messages read as empty: an absent `match` or `metadata` selector
//! restricts nothing, an absent `host` is unknown. Empty ones are written as absent, so encodings
//! stay small and every record has one encoding.

use bytes::Buf;
use prost::Message as _;

use super::record::{
    Gateway, GatewayMatch, GroupRecord, HostInfo, MetadataSelector, NodeMetadata, NodeRecord,
    NodeSelector,
};
use super::validate::ValidationError;
use crate::proto::discovery as pb;

/// Why bytes did not give a valid node or group record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordDecodeError {
    /// The bytes are not valid protobuf for the message.
    #[error("malformed discovery record: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// The record decoded but breaks a validation rule.
    #[error("invalid discovery record: {0}")]
    Invalid(#[from] ValidationError),
}

impl NodeRecord {
    /// The protobuf encoding of the record (an `atbus.discovery.node_record`).
    pub fn encode_protobuf(&self) -> Vec<u8> {
        pb::NodeRecord::from(self).encode_to_vec()
    }

    /// Decodes and validates an `atbus.discovery.node_record`. `custom_data` shares the buffer
    /// when it is a `Bytes`.
    pub fn decode_protobuf(bytes: impl Buf) -> Result<Self, RecordDecodeError> {
        Ok(NodeRecord::try_from(pb::NodeRecord::decode(bytes)?)?)
    }
}

impl GroupRecord {
    /// The protobuf encoding of the group (an `atbus.discovery.group_record`).
    pub fn encode_protobuf(&self) -> Vec<u8> {
        pb::GroupRecord::from(self).encode_to_vec()
    }

    /// Decodes and validates an `atbus.discovery.group_record`.
    pub fn decode_protobuf(bytes: impl Buf) -> Result<Self, RecordDecodeError> {
        Ok(GroupRecord::try_from(pb::GroupRecord::decode(bytes)?)?)
    }
}

impl From<&NodeRecord> for pb::NodeRecord {
    fn from(record: &NodeRecord) -> Self {
        pb::NodeRecord {
            name: record.name.clone(),
            version: record.version,
            custom_data: record.custom_data.clone(),
            host: (!record.host.is_empty()).then(|| pb::HostInfo {
                hostname: record.host.hostname.clone(),
                pid: record.host.pid,
            }),
            metadata: (!record.metadata.is_empty()).then(|| metadata_to_proto(&record.metadata)),
            gateways: record.gateways.iter().map(gateway_to_proto).collect(),
            advertise_relay: record.advertise_relay.as_ref().map(selector_to_proto),
        }
    }
}

impl TryFrom<pb::NodeRecord> for NodeRecord {
    type Error = ValidationError;

    fn try_from(record: pb::NodeRecord) -> Result<Self, Self::Error> {
        let host = record.host.unwrap_or_default();
        let metadata = record.metadata.unwrap_or_default();
        NodeRecord {
            name: record.name,
            version: record.version,
            custom_data: record.custom_data,
            host: HostInfo {
                hostname: host.hostname,
                pid: host.pid,
            },
            metadata: NodeMetadata {
                namespace_name: metadata.namespace_name,
                api_version: metadata.api_version,
                kind: metadata.kind,
                group: metadata.group,
                labels: metadata.labels,
                annotations: metadata.annotations,
            },
            gateways: record
                .gateways
                .into_iter()
                .map(gateway_from_proto)
                .collect(),
            advertise_relay: record.advertise_relay.map(selector_from_proto),
        }
        .validated()
    }
}

impl From<&GroupRecord> for pb::GroupRecord {
    fn from(group: &GroupRecord) -> Self {
        pb::GroupRecord {
            name: group.name.clone(),
            members: group.members.clone(),
            selector: group.selector.as_ref().map(selector_to_proto),
        }
    }
}

impl TryFrom<pb::GroupRecord> for GroupRecord {
    type Error = ValidationError;

    fn try_from(group: pb::GroupRecord) -> Result<Self, Self::Error> {
        GroupRecord {
            name: group.name,
            members: group.members,
            selector: group.selector.map(selector_from_proto),
        }
        .validated()
    }
}

fn metadata_to_proto(metadata: &NodeMetadata) -> pb::NodeMetadata {
    pb::NodeMetadata {
        namespace_name: metadata.namespace_name.clone(),
        api_version: metadata.api_version.clone(),
        kind: metadata.kind.clone(),
        group: metadata.group.clone(),
        labels: metadata.labels.clone(),
        annotations: metadata.annotations.clone(),
    }
}

fn gateway_to_proto(gateway: &Gateway) -> pb::Gateway {
    pb::Gateway {
        priority: gateway.priority,
        addresses: gateway.addresses.clone(),
        r#match: (!gateway.r#match.is_empty()).then(|| pb::GatewayMatch {
            host: gateway.r#match.host.clone(),
            metadata: metadata_selector_to_proto(&gateway.r#match.metadata),
        }),
    }
}

fn gateway_from_proto(gateway: pb::Gateway) -> Gateway {
    let r#match = gateway.r#match.unwrap_or_default();
    Gateway {
        priority: gateway.priority,
        addresses: gateway.addresses,
        r#match: GatewayMatch {
            host: r#match.host,
            metadata: metadata_selector_from_proto(r#match.metadata),
        },
    }
}

fn metadata_selector_to_proto(selector: &MetadataSelector) -> Option<pb::MetadataSelector> {
    (!selector.is_empty()).then(|| pb::MetadataSelector {
        namespace_name: selector.namespace_name.clone(),
        api_version: selector.api_version.clone(),
        kind: selector.kind.clone(),
        group: selector.group.clone(),
        labels: selector.labels.clone(),
    })
}

fn metadata_selector_from_proto(selector: Option<pb::MetadataSelector>) -> MetadataSelector {
    let selector = selector.unwrap_or_default();
    MetadataSelector {
        namespace_name: selector.namespace_name,
        api_version: selector.api_version,
        kind: selector.kind,
        group: selector.group,
        labels: selector.labels,
    }
}

fn selector_to_proto(selector: &NodeSelector) -> pb::NodeSelector {
    pb::NodeSelector {
        name: selector.name.clone(),
        metadata: metadata_selector_to_proto(&selector.metadata),
    }
}

fn selector_from_proto(selector: pb::NodeSelector) -> NodeSelector {
    NodeSelector {
        name: selector.name,
        metadata: metadata_selector_from_proto(selector.metadata),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::test_support::node;
    use bytes::Bytes;

    #[test]
    fn full_record_round_trips() {
        let mut record = node("app-1")
            .namespace("game")
            .host("h1", 42)
            .kind("app")
            .group("g")
            .api_version("v1")
            .label("area.region", "eu")
            .gateway_matching(0, &["tcp://10.0.0.1:1", "mem://a"], |m| {
                m.host = Some("h1".into());
                m.metadata.labels.insert("tier".into(), "".into());
            })
            .gateway(3, &["udp://[::1]:2"])
            .advertise_matching(|m| m.kind = Some("relay".into()))
            .build();
        record.custom_data = Bytes::from_static(b"\x00app");
        record
            .metadata
            .annotations
            .insert("note".into(), "free text: ✓".into());
        let wire = Bytes::from(record.encode_protobuf());
        let decoded = NodeRecord::decode_protobuf(wire.clone()).unwrap();
        assert_eq!(decoded, record);
        // custom_data is a slice of the received buffer, not a copy.
        let start = wire.as_ptr() as usize;
        let data = decoded.custom_data.as_ptr() as usize;
        assert!(data >= start && data < start + wire.len());
    }

    #[test]
    fn absent_and_empty_read_the_same() {
        let minimal = NodeRecord::new("a");
        assert_eq!(pb::NodeRecord::from(&minimal).host, None);
        let with_empty_parts = pb::NodeRecord {
            name: "a".into(),
            version: 3,
            host: Some(pb::HostInfo::default()),
            metadata: Some(pb::NodeMetadata::default()),
            gateways: vec![pb::Gateway {
                priority: 0,
                addresses: vec!["tcp://h:1".into()],
                r#match: Some(pb::GatewayMatch {
                    host: None,
                    metadata: Some(pb::MetadataSelector::default()),
                }),
            }],
            ..pb::NodeRecord::default()
        };
        let record = NodeRecord::try_from(with_empty_parts).unwrap();
        assert!(record.gateways[0].r#match.is_empty());
        assert_eq!(pb::NodeRecord::from(&record).gateways[0].r#match, None);
    }

    #[test]
    fn invalid_records_are_refused_on_the_way_in() {
        let bad = pb::NodeRecord {
            name: "a".into(),
            version: 3,
            gateways: vec![pb::Gateway {
                addresses: vec!["tcp://h:1".into(), "tcp://h".into()],
                ..pb::Gateway::default()
            }],
            ..pb::NodeRecord::default()
        };
        let error = NodeRecord::decode_protobuf(bad.encode_to_vec().as_slice()).unwrap_err();
        match error {
            RecordDecodeError::Invalid(e) => {
                assert_eq!(e.field.as_str(), "gateways[0].addresses[1]")
            }
            other => panic!("{other}"),
        }
        let no_version = pb::NodeRecord {
            name: "a".into(),
            ..pb::NodeRecord::default()
        };
        assert!(
            NodeRecord::try_from(no_version).is_err(),
            "version 0 is refused"
        );
        assert!(matches!(
            NodeRecord::decode_protobuf(&b"\x0a\x05ab"[..]),
            Err(RecordDecodeError::Protobuf(_))
        ));
    }

    #[test]
    fn groups_round_trip() {
        let group = GroupRecord {
            name: "all-relays".into(),
            members: vec!["relay-1".into()],
            selector: Some(NodeSelector::metadata(MetadataSelector {
                kind: Some("relay".into()),
                ..MetadataSelector::default()
            })),
        };
        assert_eq!(
            GroupRecord::decode_protobuf(group.encode_protobuf().as_slice()).unwrap(),
            group
        );
        let bad = pb::GroupRecord {
            name: "G".into(),
            ..pb::GroupRecord::default()
        };
        assert!(GroupRecord::decode_protobuf(bad.encode_to_vec().as_slice()).is_err());
    }
}
