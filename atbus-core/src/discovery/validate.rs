//! Validation of records: names, labels, annotations, gateway addresses, selectors.
//!
//! The string rules are in `syntax.rs`; they are listed in the [module docs](super#validation). A [`ValidationError`] names the field by its path in the
//! record (`gateways[1].addresses[0]`, `metadata.labels["area.region"]`), the [`Rule`] and what
//! exactly broke it (the [`Violation`]).

use core::fmt;
use std::collections::BTreeMap;

use super::address::{AddressError, GatewayAddress};
use super::record::{GroupRecord, MetadataSelector, NodeRecord, NodeSelector, RecordSet};
use super::syntax::{
    validate_annotations, validate_label_key, validate_label_value, validate_name,
};

/// Where in a record a field is, such as `gateways[1].addresses[0]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath(String);

impl FieldPath {
    /// A top-level field.
    pub fn root(field: &str) -> Self {
        FieldPath(field.to_owned())
    }

    /// A field of this one: `self.field`.
    pub fn field(&self, field: &str) -> Self {
        FieldPath(format!("{}.{field}", self.0))
    }

    /// An element of this list: `self[index]`.
    pub fn index(&self, index: usize) -> Self {
        FieldPath(format!("{}[{index}]", self.0))
    }

    /// An entry of this map: `self["key"]`.
    pub fn key(&self, key: &str) -> Self {
        FieldPath(format!("{}[{key:?}]", self.0))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The rule a field must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// Node, relay, group and member names.
    DnsSubdomain,
    /// Label keys and annotation keys.
    QualifiedName,
    /// Label values.
    LabelValue,
    /// Annotation keys and values together.
    AnnotationsSize,
    /// Gateway addresses.
    GatewayAddress,
    /// A gateway lists at least one address.
    GatewayHasAddress,
    /// The protocol version is set.
    ProtocolVersion,
    /// `advertise_relay` and group selectors select something.
    SelectorNotEmpty,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::DnsSubdomain => {
                "a name is a DNS subdomain: at most 253 characters of a-z, 0-9, '-' and '.', \
                 each dot-separated part starting and ending with a-z or 0-9"
            }
            Rule::QualifiedName => {
                "a key is [prefix/]name: an optional DNS-subdomain prefix, then a name of at most \
                 63 characters of A-Z, a-z, 0-9, '-', '_' and '.', starting and ending \
                 alphanumeric"
            }
            Rule::LabelValue => {
                "a label value is empty or at most 63 characters of A-Z, a-z, 0-9, '-', '_' and \
                 '.', starting and ending alphanumeric"
            }
            Rule::AnnotationsSize => "annotation keys and values total at most 256 KiB",
            Rule::GatewayAddress => {
                "a gateway address is scheme://host:port, unix:///path or mem://name"
            }
            Rule::GatewayHasAddress => "a gateway lists at least one address",
            Rule::ProtocolVersion => "the protocol version is not 0",
            Rule::SelectorNotEmpty => {
                "a relay or group selector gives a name or metadata (an empty one would select \
                 every node)"
            }
        })
    }
}

/// What exactly broke a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// The value is empty.
    Empty,
    /// A part of the value is empty (`prefix`, `name`, or a dot-separated `part`).
    EmptyPart(&'static str),
    /// The value or a part of it is too long.
    TooLong {
        /// Which part (`value`, `prefix`, `name`, `total`).
        part: &'static str,
        /// Its length in bytes.
        length: usize,
        /// The most allowed.
        max: usize,
    },
    /// A character outside the allowed set.
    InvalidCharacter {
        /// The character.
        character: char,
        /// Its byte offset in the value.
        position: usize,
    },
    /// A part starts or ends with a character that is allowed only inside.
    NotAlphanumericAtEdge {
        /// Byte offset of the character.
        position: usize,
    },
    /// More than one `/` in a key.
    TooManySlashes,
    /// The address parser refused the value.
    Address(AddressError),
    /// The value is zero.
    Zero,
    /// The selector or list is empty.
    Nothing,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Empty => f.write_str("is empty"),
            Violation::EmptyPart(part) => write!(f, "has an empty {part}"),
            Violation::TooLong { part, length, max } => {
                write!(f, "{part} is {length} bytes long, at most {max} allowed")
            }
            Violation::InvalidCharacter {
                character,
                position,
            } => write!(
                f,
                "character {character:?} at byte {position} is not allowed"
            ),
            Violation::NotAlphanumericAtEdge { position } => write!(
                f,
                "character at byte {position} starts or ends a part and must be alphanumeric"
            ),
            Violation::TooManySlashes => f.write_str("has more than one '/'"),
            Violation::Address(error) => write!(f, "{error}"),
            Violation::Zero => f.write_str("is 0"),
            Violation::Nothing => f.write_str("is empty"),
        }
    }
}

/// A record field that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {value:?} {violation}; rule: {rule}")]
pub struct ValidationError {
    /// Where the field is.
    pub field: FieldPath,
    /// The offending value (shortened to 100 characters).
    pub value: String,
    /// The rule it breaks.
    pub rule: Rule,
    /// How it breaks it.
    pub violation: Violation,
}

impl ValidationError {
    fn new(field: FieldPath, value: &str, rule: Rule, violation: Violation) -> Self {
        const SHOWN: usize = 100;
        let value = match value.char_indices().nth(SHOWN) {
            Some((end, _)) => format!("{}…", &value[..end]),
            None => value.to_owned(),
        };
        ValidationError {
            field,
            value,
            rule,
            violation,
        }
    }
}

/// Field paths are built only when a check fails, so validating a good record allocates
/// nothing for them.
fn check(
    result: Result<(), Violation>,
    field: impl FnOnce() -> FieldPath,
    value: &str,
    rule: Rule,
) -> Result<(), ValidationError> {
    result.map_err(|violation| ValidationError::new(field(), value, rule, violation))
}

/// A node, relay, group or member name.
fn check_name(name: &str, field: impl FnOnce() -> FieldPath) -> Result<(), ValidationError> {
    check(validate_name(name), field, name, Rule::DnsSubdomain)
}

/// Checks a node name that does not come from a record (a name claimed in a registration
/// handshake, say) by the same rule as records' names; the error names it `field`.
pub fn check_node_name(name: &str, field: &str) -> Result<(), ValidationError> {
    check_name(name, || FieldPath::root(field))
}

fn check_labels(
    labels: &BTreeMap<String, String>,
    field: impl Fn() -> FieldPath,
) -> Result<(), ValidationError> {
    for (key, value) in labels {
        check(
            validate_label_key(key),
            || field().key(key),
            key,
            Rule::QualifiedName,
        )?;
        check(
            validate_label_value(value),
            || field().key(key),
            value,
            Rule::LabelValue,
        )?;
    }
    Ok(())
}

fn check_metadata_selector(
    selector: &MetadataSelector,
    field: impl Fn() -> FieldPath,
) -> Result<(), ValidationError> {
    check_labels(&selector.labels, || field().field("labels"))
}

/// A relay or group selector: not empty, a valid name if named, valid labels.
fn check_selector(
    selector: &NodeSelector,
    field: impl Fn() -> FieldPath,
) -> Result<(), ValidationError> {
    if selector.is_empty() {
        return Err(ValidationError::new(
            field(),
            "",
            Rule::SelectorNotEmpty,
            Violation::Nothing,
        ));
    }
    if let Some(name) = &selector.name {
        check_name(name, || field().field("name"))?;
    }
    check_metadata_selector(&selector.metadata, || field().field("metadata"))
}

impl NodeRecord {
    /// Checks every syntax rule; the error names the first field at fault.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let root = FieldPath::root;
        check_name(&self.name, || root("name"))?;
        if self.version == 0 {
            return Err(ValidationError::new(
                root("version"),
                "0",
                Rule::ProtocolVersion,
                Violation::Zero,
            ));
        }
        check_labels(&self.metadata.labels, || root("metadata").field("labels"))?;
        validate_annotations(&self.metadata.annotations).map_err(|(key, rule, violation)| {
            let field = root("metadata").field("annotations");
            match key {
                Some(key) => ValidationError::new(field.key(key), key, rule, violation),
                None => ValidationError::new(field, "", rule, violation),
            }
        })?;
        for (g, gateway) in self.gateways.iter().enumerate() {
            let gateway_field = || root("gateways").index(g);
            if gateway.addresses.is_empty() {
                return Err(ValidationError::new(
                    gateway_field().field("addresses"),
                    "",
                    Rule::GatewayHasAddress,
                    Violation::Nothing,
                ));
            }
            for (a, address) in gateway.addresses.iter().enumerate() {
                check(
                    GatewayAddress::parse(address)
                        .map(drop)
                        .map_err(Violation::Address),
                    || gateway_field().field("addresses").index(a),
                    address,
                    Rule::GatewayAddress,
                )?;
            }
            check_metadata_selector(&gateway.r#match.metadata, || {
                gateway_field().field("match").field("metadata")
            })?;
        }
        if let Some(relay) = &self.advertise_relay {
            check_selector(relay, || root("advertise_relay"))?;
        }
        Ok(())
    }

    /// The record itself if it is valid: `serde_norway::from_str::<NodeRecord>(text)?.validated()?`.
    pub fn validated(self) -> Result<Self, ValidationError> {
        self.validate()?;
        Ok(self)
    }
}

impl GroupRecord {
    /// Checks the group name, every member name and the selector.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let root = FieldPath::root;
        check_name(&self.name, || root("name"))?;
        for (m, member) in self.members.iter().enumerate() {
            check_name(member, || root("members").index(m))?;
        }
        if let Some(selector) = &self.selector {
            check_selector(selector, || root("selector"))?;
        }
        Ok(())
    }

    /// The record itself if it is valid.
    pub fn validated(self) -> Result<Self, ValidationError> {
        self.validate()?;
        Ok(self)
    }
}

impl RecordSet {
    /// Checks every record; field paths start with `nodes[i].` or `groups[i].`.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let within = |list: &str, index: usize, mut error: ValidationError| {
            error.field = FieldPath(format!("{list}[{index}].{}", error.field));
            error
        };
        for (i, node) in self.nodes.iter().enumerate() {
            node.validate().map_err(|e| within("nodes", i, e))?;
        }
        for (i, group) in self.groups.iter().enumerate() {
            group.validate().map_err(|e| within("groups", i, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::record::Gateway;

    /// A valid record and one edit per row that breaks one rule; the error names field and rule.
    #[test]
    fn record_errors_name_field_and_rule() {
        let mut base = NodeRecord::new("app-1");
        base.gateways = vec![
            Gateway {
                priority: 0,
                addresses: vec!["mem://app-1".into()],
                ..Gateway::default()
            },
            Gateway {
                priority: 1,
                addresses: vec!["tcp://10.0.0.1:7000".into()],
                ..Gateway::default()
            },
        ];
        base.metadata
            .labels
            .insert("area.region".into(), "eu".into());
        base.advertise_relay = Some(NodeSelector::name("relay-1"));
        assert_eq!(base.validate(), Ok(()));

        type Edit = fn(&mut NodeRecord);
        let cases: [(Edit, &str, Rule); 10] = [
            (|r| r.name = "App".into(), "name", Rule::DnsSubdomain),
            (|r| r.version = 0, "version", Rule::ProtocolVersion),
            (
                |r| {
                    r.metadata.labels.insert("bad key".into(), "v".into());
                },
                r#"metadata.labels["bad key"]"#,
                Rule::QualifiedName,
            ),
            (
                |r| {
                    r.metadata.labels.insert("k".into(), "-v".into());
                },
                r#"metadata.labels["k"]"#,
                Rule::LabelValue,
            ),
            (
                |r| {
                    r.metadata
                        .annotations
                        .insert("/x".into(), "free text".into());
                },
                r#"metadata.annotations["/x"]"#,
                Rule::QualifiedName,
            ),
            (
                |r| r.gateways[1].addresses.push("tcp://::1:80".into()),
                "gateways[1].addresses[1]",
                Rule::GatewayAddress,
            ),
            (
                |r| r.gateways[0].addresses.clear(),
                "gateways[0].addresses",
                Rule::GatewayHasAddress,
            ),
            (
                |r| {
                    r.gateways[1]
                        .r#match
                        .metadata
                        .labels
                        .insert("k".into(), "a b".into());
                },
                r#"gateways[1].match.metadata.labels["k"]"#,
                Rule::LabelValue,
            ),
            (
                |r| r.advertise_relay = Some(NodeSelector::default()),
                "advertise_relay",
                Rule::SelectorNotEmpty,
            ),
            (
                |r| r.advertise_relay = Some(NodeSelector::name("Relay")),
                "advertise_relay.name",
                Rule::DnsSubdomain,
            ),
        ];
        for (edit, field, rule) in cases {
            let mut record = base.clone();
            edit(&mut record);
            let error = record.validate().unwrap_err();
            assert_eq!((error.field.as_str(), error.rule), (field, rule), "{error}");
            let text = error.to_string();
            assert!(text.starts_with(field) && text.contains("rule: "), "{text}");
        }
    }

    #[test]
    fn error_text_reads_well() {
        let mut record = NodeRecord::new("a");
        record.gateways.push(Gateway {
            addresses: vec!["tcp://h".into()],
            ..Gateway::default()
        });
        assert_eq!(
            record.validate().unwrap_err().to_string(),
            "gateways[0].addresses[0]: \"tcp://h\" missing :port (addresses are scheme://host:port); \
             rule: a gateway address is scheme://host:port, unix:///path or mem://name"
        );
    }

    #[test]
    fn groups_and_record_sets() {
        let mut group = GroupRecord {
            name: "all-apps".into(),
            members: vec!["app-1".into()],
            selector: Some(NodeSelector::metadata(MetadataSelector {
                kind: Some("app".into()),
                ..MetadataSelector::default()
            })),
        };
        assert_eq!(group.validate(), Ok(()));
        group.members.push("App_2".into());
        let set = RecordSet {
            nodes: vec![NodeRecord::new("a")],
            groups: vec![group.clone()],
        };
        let error = set.validate().unwrap_err();
        assert_eq!(error.field.as_str(), "groups[0].members[1]");
        group.members.pop();
        group.selector = Some(NodeSelector::default());
        assert_eq!(group.validate().unwrap_err().rule, Rule::SelectorNotEmpty);
    }

    #[test]
    fn names_outside_records_follow_the_record_rule() {
        assert_eq!(check_node_name("app-1.eu", "register.name"), Ok(()));
        let error = check_node_name("App", "register.name").unwrap_err();
        assert_eq!(error.field.as_str(), "register.name");
        assert_eq!(error.rule, Rule::DnsSubdomain);
        assert_eq!(
            error.violation,
            Violation::InvalidCharacter {
                character: 'A',
                position: 0
            }
        );
        let long = check_node_name(&"a".repeat(100_000), "register.name").unwrap_err();
        assert_eq!(long.value.chars().count(), 101);
    }

    #[test]
    fn long_values_are_shortened_in_errors() {
        let record = NodeRecord::new("X".repeat(1000));
        let error = record.validate().unwrap_err();
        assert_eq!(error.value.chars().count(), 101);
    }
}
