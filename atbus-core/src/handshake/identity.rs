//! Who takes part in a handshake: node names, instance ids, session ids.

use core::fmt;
use std::num::NonZeroU64;

use super::VersionRange;
use crate::discovery::{ValidationError, check_node_name};

/// Identifies one run of a node: drawn from the node's seeded generator when it starts, never 0.
///
/// Two connections that claim the same name with the same instance come from the same running
/// node (a second connection of a session); a new instance under a known name means the node
/// restarted — or that another process claims the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId(NonZeroU64);

impl InstanceId {
    /// The instance `value`, or `None` for 0 (which on the wire means "missing").
    pub const fn new(value: u64) -> Option<Self> {
        match NonZeroU64::new(value) {
            Some(value) => Some(InstanceId(value)),
            None => None,
        }
    }

    /// An instance from 64 random bits: 0, which is not an instance, becomes 1.
    pub const fn from_random(bits: u64) -> Self {
        match NonZeroU64::new(bits) {
            Some(value) => InstanceId(value),
            None => InstanceId(NonZeroU64::MIN),
        }
    }

    /// The value carried on the wire.
    pub const fn get(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.get())
    }
}

/// Identifies a session between two node names, as the responder that created it numbered it;
/// never 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(NonZeroU64);

impl SessionId {
    /// The session `value`, or `None` for 0 (which on the wire means "none").
    pub const fn new(value: u64) -> Option<Self> {
        match NonZeroU64::new(value) {
            Some(value) => Some(SessionId(value)),
            None => None,
        }
    }

    /// The value carried on the wire.
    pub const fn get(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.get())
    }
}

/// The local node as a handshake presents it: a valid node name, this run's instance and the
/// protocol versions it speaks. Built once per node and cloned into each handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalIdentity {
    name: String,
    instance: InstanceId,
    versions: VersionRange,
}

/// Why a [`LocalIdentity`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The name breaks the node-name rule of discovery records.
    #[error("invalid local node name: {0}")]
    InvalidName(#[from] ValidationError),
}

impl LocalIdentity {
    /// The node `name` (checked by the node-name rule of discovery records) in its run
    /// `instance`, speaking [`VersionRange::SUPPORTED`].
    pub fn new(name: impl Into<String>, instance: InstanceId) -> Result<Self, IdentityError> {
        let name = name.into();
        check_node_name(&name, "name")?;
        Ok(LocalIdentity {
            name,
            instance,
            versions: VersionRange::SUPPORTED,
        })
    }

    /// The same identity speaking `versions` instead (tests, and nodes held back to an older
    /// version during a rolling upgrade).
    pub fn with_versions(mut self, versions: VersionRange) -> Self {
        self.versions = versions;
        self
    }

    /// The node name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This run's instance.
    pub fn instance(&self) -> InstanceId {
        self.instance
    }

    /// The protocol versions spoken.
    pub fn versions(&self) -> VersionRange {
        self.versions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_never_an_id() {
        assert_eq!(InstanceId::new(0), None);
        assert_eq!(SessionId::new(0), None);
        assert_eq!(InstanceId::from_random(0).get(), 1);
        assert_eq!(InstanceId::from_random(u64::MAX).get(), u64::MAX);
        assert_eq!(
            InstanceId::new(0x2a).unwrap().to_string(),
            "000000000000002a"
        );
        assert_eq!(SessionId::new(7).unwrap().get(), 7);
    }

    #[test]
    fn local_names_follow_the_node_name_rule() {
        let instance = InstanceId::from_random(9);
        let identity = LocalIdentity::new("app-1.eu", instance).expect("valid");
        assert_eq!(identity.name(), "app-1.eu");
        assert_eq!(identity.instance(), instance);
        assert_eq!(identity.versions(), VersionRange::SUPPORTED);
        let older = identity.with_versions(VersionRange::new(1, 2).unwrap());
        assert_eq!(older.versions().max(), 2);
        for bad in ["", "App", "a_b", &"a".repeat(254)] {
            let IdentityError::InvalidName(error) = LocalIdentity::new(bad, instance).unwrap_err();
            assert_eq!(error.field.as_str(), "name", "{bad}");
        }
    }
}
