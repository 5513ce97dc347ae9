//! The discovery interface: a synchronous read view for route choice, and a registry with
//! put, delete and pollable watches.
//!
//! Two traits, so that the sans-IO core and asynchronous backends meet without threads or
//! futures in the core:
//!
//! - [`DiscoveryView`] is what route choice reads: records by name and by selector, from memory,
//!   synchronously, in name order (deterministic).
//! - [`Discovery`] adds the writes and watches a node needs. A watch is a subscription whose
//!   [`WatchEvent`]s the owner drains with [`Discovery::poll_watch`], like every other output of
//!   the core. Events of one subscription come in the order of the changes, with revisions that
//!   never decrease.
//!
//! How an etcd backend (in the tokio adapter) satisfies [`Discovery`]: it keeps a local cache of
//! the records under its key prefix (a [`MemoryRegistry`](super::MemoryRegistry) does), filled by
//! an initial range read and kept current by an etcd watch running in a task; the view methods
//! read that cache. `put` and `delete` validate synchronously and hand the write to the task
//! (which also owns the lease and its keep-alive); the change becomes visible, and reaches
//! subscribers, when the etcd watch reports it. After a reconnect or a compacted watch the task
//! re-reads the prefix and every subscription gets a [`WatchEvent::Resync`] followed by the
//! current records. The node drains events the same way for both backends.

use super::record::{GroupRecord, NodeRecord, NodeSelector};
use super::validate::ValidationError;

/// A read-only view of discovery records, as route choice sees it.
///
/// Iteration is in name order, so that everything computed from a view is deterministic.
pub trait DiscoveryView {
    /// The node record of this name.
    fn get(&self, name: &str) -> Option<&NodeRecord>;

    /// Every node record, in name order.
    fn nodes(&self) -> Box<dyn Iterator<Item = &NodeRecord> + '_>;

    /// The group record of this name.
    fn group(&self, name: &str) -> Option<&GroupRecord>;

    /// Every group record, in name order.
    fn groups(&self) -> Box<dyn Iterator<Item = &GroupRecord> + '_>;

    /// The node records a selector matches, in name order. An empty selector matches every node.
    fn list(&self, selector: &NodeSelector) -> Vec<&NodeRecord> {
        match &selector.name {
            Some(name) => self
                .get(name)
                .filter(|n| selector.matches(n))
                .into_iter()
                .collect(),
            None => self.nodes().filter(|n| selector.matches(n)).collect(),
        }
    }

    /// The members of a group that have a record, in name order. Empty for an unknown group.
    fn group_members(&self, name: &str) -> Vec<&NodeRecord> {
        let Some(group) = self.group(name) else {
            return Vec::new();
        };
        let mut members: Vec<&NodeRecord> = match &group.selector {
            Some(selector) if !selector.is_empty() => self.list(selector),
            _ => Vec::new(),
        };
        members.extend(group.members.iter().filter_map(|m| self.get(m)));
        members.sort_by(|a, b| a.name.cmp(&b.name));
        members.dedup_by(|a, b| a.name == b.name);
        members
    }
}

/// Identifies one watch subscription of a [`Discovery`] backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatchId(pub(super) u64);

/// What a watch reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchFilter {
    /// Node changes of nodes matching this selector (an empty selector: every node); `None`: no
    /// node changes.
    pub nodes: Option<NodeSelector>,
    /// Whether group changes are reported.
    pub groups: bool,
}

impl WatchFilter {
    /// Every change of every node and group.
    pub fn all() -> Self {
        WatchFilter {
            nodes: Some(NodeSelector::default()),
            groups: true,
        }
    }

    /// Changes of the nodes matching this selector, no groups.
    pub fn nodes(selector: NodeSelector) -> Self {
        WatchFilter {
            nodes: Some(selector),
            groups: false,
        }
    }

    /// Whether a node belongs to the watched set.
    pub fn selects(&self, node: &NodeRecord) -> bool {
        self.nodes.as_ref().is_some_and(|s| s.matches(node))
    }
}

/// Where a new watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchStart {
    /// With a [`WatchEvent::Resync`] and the current records that the filter selects (list and
    /// watch in one, with nothing missed in between), then the changes.
    Snapshot,
    /// With the next change.
    Changes,
}

/// One change seen by a watch.
///
/// A node that stops matching the watch's selector is reported as [`WatchEvent::NodeDeleted`]
/// (it left the watched set) and one that starts matching as [`WatchEvent::NodePut`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WatchEvent {
    /// A node record was created or changed (or entered the watched set).
    NodePut {
        /// Revision of the change.
        revision: u64,
        /// The record as it is now (boxed: events of every kind share queues).
        record: Box<NodeRecord>,
    },
    /// A node record was deleted (or left the watched set).
    NodeDeleted {
        /// Revision of the change.
        revision: u64,
        /// Name of the node.
        name: String,
    },
    /// A group record was created or changed.
    GroupPut {
        /// Revision of the change.
        revision: u64,
        /// The record as it is now.
        group: GroupRecord,
    },
    /// A group record was deleted.
    GroupDeleted {
        /// Revision of the change.
        revision: u64,
        /// Name of the group.
        name: String,
    },
    /// Forget what this watch reported before: the complete current state follows as put
    /// events carrying this revision. Sent when a watch starts with a snapshot, when its queue
    /// overflowed, and by remote backends after they re-read their store.
    Resync {
        /// Revision of the state that follows.
        revision: u64,
    },
}

impl WatchEvent {
    /// The revision the event carries.
    pub fn revision(&self) -> u64 {
        match self {
            WatchEvent::NodePut { revision, .. }
            | WatchEvent::NodeDeleted { revision, .. }
            | WatchEvent::GroupPut { revision, .. }
            | WatchEvent::GroupDeleted { revision, .. }
            | WatchEvent::Resync { revision } => *revision,
        }
    }
}

/// Which kind of record holds a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A node record.
    Node,
    /// A group record.
    Group,
}

impl core::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            RecordKind::Node => "node",
            RecordKind::Group => "group",
        })
    }
}

/// Why a registry refused a write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The record breaks a validation rule; nothing was stored.
    #[error("record refused: {0}")]
    Invalid(#[from] ValidationError),
    /// A node and a group may not share a name (a destination may be either).
    #[error("name {name:?} is already taken by a {taken_by} record")]
    NameTaken {
        /// The name.
        name: String,
        /// The kind of record that has it.
        taken_by: RecordKind,
    },
}

/// A discovery backend: the view, plus writes and watches.
///
/// Writes validate first and refuse invalid records. A backend may apply a write later (a remote
/// store applies it when the store confirms it); a write is visible when watches report it.
/// [`MemoryRegistry`](super::MemoryRegistry) applies writes at once.
pub trait Discovery: DiscoveryView {
    /// Creates or replaces the node record of `record.name`.
    fn put(&mut self, record: NodeRecord) -> Result<(), RegistryError>;

    /// Deletes the node record of this name; nothing happens if there is none.
    fn delete(&mut self, name: &str) -> Result<(), RegistryError>;

    /// Creates or replaces the group record of `group.name`.
    fn put_group(&mut self, group: GroupRecord) -> Result<(), RegistryError>;

    /// Deletes the group record of this name; nothing happens if there is none.
    fn delete_group(&mut self, name: &str) -> Result<(), RegistryError>;

    /// Starts a watch.
    fn watch(&mut self, filter: WatchFilter, start: WatchStart) -> WatchId;

    /// The next event of a watch, in order; `None` when there is none now (or the watch is
    /// unknown).
    fn poll_watch(&mut self, watch: WatchId) -> Option<WatchEvent>;

    /// Ends a watch and drops its queued events.
    fn cancel_watch(&mut self, watch: WatchId);
}
