//! The in-memory registry: a [`Discovery`] backend for one process and for the simulator.

use std::collections::{BTreeMap, VecDeque};

use super::record::{GroupRecord, NodeRecord, RecordSet};
use super::view::{
    Discovery, DiscoveryView, RecordKind, RegistryError, WatchEvent, WatchFilter, WatchId,
    WatchStart,
};

/// Settings of a [`MemoryRegistry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryConfig {
    /// Most events queued per watch before it is resynchronised. Default 4096.
    pub watch_queue_limit: usize,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            watch_queue_limit: 4096,
        }
    }
}

/// An in-memory discovery registry, a [`Discovery`] backend for one process and the simulator.
///
/// Records live in `BTreeMap`s (name order, deterministic). Every write that changes something
/// takes the next revision (starting at 1) and is queued, in order, on every watch whose filter
/// it concerns. Writing a record equal to the stored one changes nothing and reports nothing.
///
/// Queues are bounded: when a watch's queue would exceed [`RegistryConfig::watch_queue_limit`]
/// its events are replaced by a [`WatchEvent::Resync`] and the current state, so a subscriber
/// that stops draining costs at most the limit or the current state, never an unbounded
/// history. Set the limit above the number of records a watch selects: a resync that is itself
/// longer than the limit is replaced by a newer one at the next change (still correct, but every
/// change then copies the state).
#[derive(Debug, Clone, Default)]
pub struct MemoryRegistry {
    config: RegistryConfig,
    revision: u64,
    nodes: BTreeMap<String, NodeRecord>,
    groups: BTreeMap<String, GroupRecord>,
    watches: BTreeMap<WatchId, Watch>,
    next_watch: u64,
}

#[derive(Debug, Clone)]
struct Watch {
    filter: WatchFilter,
    queue: VecDeque<WatchEvent>,
}

impl MemoryRegistry {
    /// An empty registry with default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty registry with these settings.
    pub fn with_config(config: RegistryConfig) -> Self {
        MemoryRegistry {
            config,
            ..Self::default()
        }
    }

    /// A registry holding every record of the set; the first refused record stops it.
    pub fn from_records(records: RecordSet) -> Result<Self, RegistryError> {
        let mut registry = Self::new();
        for node in records.nodes {
            registry.put(node)?;
        }
        for group in records.groups {
            registry.put_group(group)?;
        }
        Ok(registry)
    }

    /// Revision of the latest change; 0 before the first.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Number of node records.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of events queued on a watch.
    pub fn pending_events(&self, watch: WatchId) -> usize {
        self.watches.get(&watch).map_or(0, |w| w.queue.len())
    }

    fn check_name_free(&self, name: &str, kind: RecordKind) -> Result<(), RegistryError> {
        let taken_by = match kind {
            RecordKind::Node => self.groups.contains_key(name).then_some(RecordKind::Group),
            RecordKind::Group => self.nodes.contains_key(name).then_some(RecordKind::Node),
        };
        match taken_by {
            Some(taken_by) => Err(RegistryError::NameTaken {
                name: name.to_owned(),
                taken_by,
            }),
            None => Ok(()),
        }
    }

    /// Queues `event_for(filter)` on every watch that gets an event from this change.
    fn notify(&mut self, event_for: impl Fn(&WatchFilter) -> Option<WatchEvent>) {
        let limit = self.config.watch_queue_limit;
        let mut overflowed = Vec::new();
        for (id, watch) in &mut self.watches {
            if let Some(event) = event_for(&watch.filter) {
                if watch.queue.len() >= limit {
                    overflowed.push(*id);
                } else {
                    watch.queue.push_back(event);
                }
            }
        }
        for id in overflowed {
            self.resync(id);
        }
    }

    /// Replaces a watch's queue with a resync: the marker, then every record it selects.
    fn resync(&mut self, id: WatchId) {
        let Some(watch) = self.watches.get(&id) else {
            return;
        };
        let revision = self.revision;
        let mut queue = VecDeque::new();
        queue.push_back(WatchEvent::Resync { revision });
        queue.extend(
            self.nodes
                .values()
                .filter(|n| watch.filter.selects(n))
                .map(|record| WatchEvent::NodePut {
                    revision,
                    record: Box::new(record.clone()),
                }),
        );
        if watch.filter.groups {
            queue.extend(self.groups.values().map(|group| WatchEvent::GroupPut {
                revision,
                group: group.clone(),
            }));
        }
        if let Some(watch) = self.watches.get_mut(&id) {
            watch.queue = queue;
        }
    }
}

impl DiscoveryView for MemoryRegistry {
    fn get(&self, name: &str) -> Option<&NodeRecord> {
        self.nodes.get(name)
    }

    fn nodes(&self) -> Box<dyn Iterator<Item = &NodeRecord> + '_> {
        Box::new(self.nodes.values())
    }

    fn group(&self, name: &str) -> Option<&GroupRecord> {
        self.groups.get(name)
    }

    fn groups(&self) -> Box<dyn Iterator<Item = &GroupRecord> + '_> {
        Box::new(self.groups.values())
    }
}

impl Discovery for MemoryRegistry {
    fn put(&mut self, record: NodeRecord) -> Result<(), RegistryError> {
        record.validate()?;
        self.check_name_free(&record.name, RecordKind::Node)?;
        if self.nodes.get(&record.name) == Some(&record) {
            return Ok(());
        }
        self.revision += 1;
        let revision = self.revision;
        let old = self.nodes.insert(record.name.clone(), record.clone());
        self.notify(|filter| {
            if filter.selects(&record) {
                Some(WatchEvent::NodePut {
                    revision,
                    record: Box::new(record.clone()),
                })
            } else if old.as_ref().is_some_and(|old| filter.selects(old)) {
                Some(WatchEvent::NodeDeleted {
                    revision,
                    name: record.name.clone(),
                })
            } else {
                None
            }
        });
        Ok(())
    }

    fn delete(&mut self, name: &str) -> Result<(), RegistryError> {
        let Some(old) = self.nodes.remove(name) else {
            return Ok(());
        };
        self.revision += 1;
        let revision = self.revision;
        self.notify(|filter| {
            filter.selects(&old).then(|| WatchEvent::NodeDeleted {
                revision,
                name: old.name.clone(),
            })
        });
        Ok(())
    }

    fn put_group(&mut self, group: GroupRecord) -> Result<(), RegistryError> {
        group.validate()?;
        self.check_name_free(&group.name, RecordKind::Group)?;
        if self.groups.get(&group.name) == Some(&group) {
            return Ok(());
        }
        self.revision += 1;
        let revision = self.revision;
        self.groups.insert(group.name.clone(), group.clone());
        self.notify(|filter| {
            filter.groups.then(|| WatchEvent::GroupPut {
                revision,
                group: group.clone(),
            })
        });
        Ok(())
    }

    fn delete_group(&mut self, name: &str) -> Result<(), RegistryError> {
        if self.groups.remove(name).is_none() {
            return Ok(());
        }
        self.revision += 1;
        let revision = self.revision;
        self.notify(|filter| {
            filter.groups.then(|| WatchEvent::GroupDeleted {
                revision,
                name: name.to_owned(),
            })
        });
        Ok(())
    }

    fn watch(&mut self, filter: WatchFilter, start: WatchStart) -> WatchId {
        let id = WatchId(self.next_watch);
        self.next_watch += 1;
        self.watches.insert(
            id,
            Watch {
                filter,
                queue: VecDeque::new(),
            },
        );
        if start == WatchStart::Snapshot {
            self.resync(id);
        }
        id
    }

    fn poll_watch(&mut self, watch: WatchId) -> Option<WatchEvent> {
        self.watches.get_mut(&watch)?.queue.pop_front()
    }

    fn cancel_watch(&mut self, watch: WatchId) {
        self.watches.remove(&watch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::record::{MetadataSelector, NodeSelector};
    use crate::discovery::test_support::node;

    fn drain(registry: &mut MemoryRegistry, watch: WatchId) -> Vec<WatchEvent> {
        std::iter::from_fn(|| registry.poll_watch(watch)).collect()
    }

    fn put(revision: u64, record: &NodeRecord) -> WatchEvent {
        WatchEvent::NodePut {
            revision,
            record: Box::new(record.clone()),
        }
    }

    fn deleted(revision: u64, name: &str) -> WatchEvent {
        WatchEvent::NodeDeleted {
            revision,
            name: name.into(),
        }
    }

    fn relays() -> NodeSelector {
        NodeSelector::metadata(MetadataSelector {
            kind: Some("relay".into()),
            ..MetadataSelector::default()
        })
    }

    #[test]
    fn put_get_list_delete() {
        let mut registry = MemoryRegistry::new();
        let (a, r1, r2) = (
            node("app-1").kind("app").build(),
            node("relay-2").kind("relay").build(),
            node("relay-1").kind("relay").build(),
        );
        for record in [&a, &r1, &r2] {
            registry.put(record.clone()).unwrap();
        }
        assert_eq!(registry.get("app-1"), Some(&a));
        assert_eq!(registry.get("nobody"), None);
        let names =
            |list: Vec<&NodeRecord>| list.iter().map(|n| n.name.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(registry.list(&relays())),
            ["relay-1", "relay-2"],
            "name order"
        );
        assert_eq!(
            names(registry.list(&NodeSelector::default())),
            ["app-1", "relay-1", "relay-2"]
        );
        assert_eq!(
            names(registry.list(&NodeSelector::name("app-1"))),
            ["app-1"]
        );
        let mut named_relay = relays();
        named_relay.name = Some("app-1".into());
        assert!(registry.list(&named_relay).is_empty());
        assert_eq!(registry.revision(), 3);
        registry.delete("app-1").unwrap();
        registry.delete("app-1").unwrap();
        assert_eq!(registry.get("app-1"), None);
        assert_eq!((registry.revision(), registry.node_count()), (4, 2));
    }

    #[test]
    fn invalid_records_and_name_clashes_are_refused() {
        let mut registry = MemoryRegistry::new();
        let error = registry.put(node("Bad_Name").build()).unwrap_err();
        assert!(
            matches!(error, RegistryError::Invalid(ref e) if e.field.as_str() == "name"),
            "{error}"
        );
        assert_eq!(registry.node_count(), 0);
        registry.put(node("a").build()).unwrap();
        let group = GroupRecord {
            name: "a".into(),
            members: vec![],
            selector: None,
        };
        assert_eq!(
            registry.put_group(group.clone()),
            Err(RegistryError::NameTaken {
                name: "a".into(),
                taken_by: RecordKind::Node
            })
        );
        registry
            .put_group(GroupRecord {
                name: "g".into(),
                ..group
            })
            .unwrap();
        assert_eq!(
            registry.put(node("g").build()),
            Err(RegistryError::NameTaken {
                name: "g".into(),
                taken_by: RecordKind::Group
            })
        );
        assert_eq!(registry.revision(), 2);
    }

    #[test]
    fn watch_reports_changes_in_order() {
        let mut registry = MemoryRegistry::new();
        let early = node("relay-0").kind("relay").build();
        registry.put(early.clone()).unwrap();
        let all = registry.watch(WatchFilter::all(), WatchStart::Changes);
        let only_relays = registry.watch(WatchFilter::nodes(relays()), WatchStart::Snapshot);

        let relay = node("relay-1").kind("relay").build();
        let app = node("app-1").kind("app").build();
        let relay_now_app = node("relay-1").kind("app").build();
        let group = GroupRecord {
            name: "g".into(),
            members: vec!["app-1".into()],
            selector: None,
        };
        registry.put(relay.clone()).unwrap(); // 2
        registry.put(app.clone()).unwrap(); // 3
        registry.put(app.clone()).unwrap(); // unchanged: no revision, no event
        registry.put_group(group.clone()).unwrap(); // 4
        registry.put(relay_now_app.clone()).unwrap(); // 5: leaves the relay set
        registry.delete("app-1").unwrap(); // 6
        registry.delete_group("g").unwrap(); // 7
        registry.delete("relay-0").unwrap(); // 8

        assert_eq!(
            drain(&mut registry, all),
            [
                put(2, &relay),
                put(3, &app),
                WatchEvent::GroupPut { revision: 4, group },
                put(5, &relay_now_app),
                deleted(6, "app-1"),
                WatchEvent::GroupDeleted {
                    revision: 7,
                    name: "g".into()
                },
                deleted(8, "relay-0"),
            ]
        );
        assert_eq!(
            drain(&mut registry, only_relays),
            [
                WatchEvent::Resync { revision: 1 },
                put(1, &early),
                put(2, &relay),
                deleted(5, "relay-1"),
                deleted(8, "relay-0"),
            ]
        );
        assert_eq!(registry.poll_watch(all), None);
        registry.cancel_watch(all);
        registry.put(node("x").build()).unwrap();
        assert_eq!(registry.poll_watch(all), None, "cancelled");
    }

    #[test]
    fn overflowing_watch_is_resynchronised() {
        let mut registry = MemoryRegistry::with_config(RegistryConfig {
            watch_queue_limit: 3,
        });
        let watch = registry.watch(WatchFilter::all(), WatchStart::Changes);
        let records: Vec<NodeRecord> = (0..5).map(|i| node(&format!("n{i}")).build()).collect();
        for record in &records[..3] {
            registry.put(record.clone()).unwrap();
        }
        assert_eq!(registry.pending_events(watch), 3);
        registry.put(records[3].clone()).unwrap();
        let events = drain(&mut registry, watch);
        assert_eq!(
            events,
            [
                WatchEvent::Resync { revision: 4 },
                put(4, &records[0]),
                put(4, &records[1]),
                put(4, &records[2]),
                put(4, &records[3]),
            ]
        );
        // Drained: changes are reported one by one again.
        registry.delete("n0").unwrap();
        assert_eq!(drain(&mut registry, watch), [deleted(5, "n0")]);
        // A resync larger than the limit is replaced by a newer one on the next change.
        registry.put(records[4].clone()).unwrap();
        registry.put(records[0].clone()).unwrap();
        registry.put(node("n5").build()).unwrap();
        registry.delete("n1").unwrap();
        let events = drain(&mut registry, watch);
        assert_eq!(events[0], WatchEvent::Resync { revision: 9 });
        let names: Vec<&str> = events[1..]
            .iter()
            .map(|e| match e {
                WatchEvent::NodePut {
                    revision: 9,
                    record,
                } => record.name.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["n0", "n2", "n3", "n4", "n5"]);
    }

    #[test]
    fn group_members_by_name_and_selector() {
        let mut registry = MemoryRegistry::new();
        for record in [
            node("a").kind("app").build(),
            node("b").kind("relay").build(),
            node("c").kind("app").build(),
        ] {
            registry.put(record).unwrap();
        }
        let selector = NodeSelector::metadata(MetadataSelector {
            kind: Some("app".into()),
            ..MetadataSelector::default()
        });
        registry
            .put_group(GroupRecord {
                name: "g".into(),
                members: vec!["b".into(), "a".into(), "gone".into()],
                selector: Some(selector),
            })
            .unwrap();
        let members: Vec<&str> = registry
            .group_members("g")
            .iter()
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(members, ["a", "b", "c"]);
        assert!(registry.group_members("nope").is_empty());
        assert_eq!(registry.groups().count(), 1);
    }

    #[test]
    fn from_records_stops_at_the_first_refusal() {
        let set = RecordSet {
            nodes: vec![node("a").build(), node("B").build()],
            groups: vec![],
        };
        assert!(matches!(
            MemoryRegistry::from_records(set),
            Err(RegistryError::Invalid(_))
        ));
    }
}
