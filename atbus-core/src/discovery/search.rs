//! The route search: direct hops, relay candidates by class, and the recursion through relays.
//!
//! Invariants (asserted by the proptests):
//!
//! - every node passed to [`Search::best`] as `from` or `to` is in `barred` for the duration of
//!   the call, and candidates in `barred` are skipped, so no path repeats a node or contains the
//!   origin;
//! - `best(from, to, k)` returns a path of at most `k` relays: a relay takes one unit, the path
//!   to it is searched with what is left after that unit, the path from it with what is left
//!   after both;
//! - every hop of a path is a direct hop from the node before it (the recursion bottoms out
//!   only in [`direct_addresses`]).

use std::collections::{BTreeMap, BTreeSet};

use super::address::GatewayAddress;
use super::matching::{AddressFamilies, Transports, direct_addresses};
use super::record::{NodeRecord, NodeSelector};
use super::route::{Hop, RelayPreference, RouteOptions};
use super::view::DiscoveryView;

/// What the search learnt on the way, for the error when it finds nothing.
#[derive(Debug, Default)]
pub(super) struct SearchNotes {
    /// A viable-looking relay was skipped because the depth limit was reached.
    pub(super) depth_cut: bool,
    /// The step budget ran out.
    pub(super) exhausted: bool,
    /// Relays that were tried.
    pub(super) relays_tried: BTreeSet<String>,
    /// Relay names that a selector or the options name but the view does not have.
    pub(super) unknown_relays: BTreeSet<String>,
}

/// A node on a path being built, with the addresses by which the node before it reaches it.
struct Step<'a> {
    node: &'a NodeRecord,
    addresses: Vec<GatewayAddress>,
}

type Path<'a> = Vec<Step<'a>>;

fn to_hops(path: Path<'_>) -> Vec<Hop> {
    path.into_iter()
        .map(|step| Hop {
            node: step.node.name.clone(),
            addresses: step.addresses,
        })
        .collect()
}

/// One route search from the origin (the local node) to a target.
pub(super) struct Search<'a, V: DiscoveryView + ?Sized> {
    view: &'a V,
    options: &'a RouteOptions,
    origin: &'a NodeRecord,
    /// Names that may not be used as relays now: the origin, the target, and the relays on the
    /// path being built (a stack: pushed on the way in, truncated on the way out).
    barred: Vec<&'a str>,
    steps: usize,
    notes: SearchNotes,
    /// The relays each node's `advertise_relay` selects, by node name: a metadata selector scans
    /// the view, and the same nodes come up at many steps of one search.
    advertised: BTreeMap<&'a str, Vec<&'a NodeRecord>>,
}

impl<'a, V: DiscoveryView + ?Sized> Search<'a, V> {
    pub(super) fn new(
        view: &'a V,
        options: &'a RouteOptions,
        origin: &'a NodeRecord,
        target: &'a NodeRecord,
    ) -> Self {
        Search {
            view,
            options,
            origin,
            barred: vec![origin.name.as_str(), target.name.as_str()],
            steps: 0,
            notes: SearchNotes::default(),
            advertised: BTreeMap::new(),
        }
    }

    pub(super) fn into_notes(self) -> SearchNotes {
        self.notes
    }

    /// Every viable route from `from` (the origin) to `to`: the direct hop alone if there is
    /// one, else one route per viable relay candidate, preferred class first, shortest first
    /// within a class (stable, so name order among equals), without duplicate paths.
    pub(super) fn alternatives(
        &mut self,
        from: &'a NodeRecord,
        to: &'a NodeRecord,
    ) -> Vec<Vec<Hop>> {
        if !self.step() {
            return Vec::new();
        }
        if let Some(step) = self.direct(from, to) {
            return vec![to_hops(vec![step])];
        }
        let mut routes: Vec<Path<'a>> = Vec::new();
        for class in self.relay_classes(from, to) {
            let mut found: Vec<Path<'a>> = class
                .into_iter()
                .filter_map(|relay| self.via(from, relay, to, self.options.max_relays))
                .collect();
            found.sort_by_key(Vec::len);
            for path in found {
                let same_nodes = |r: &Path<'a>| {
                    r.iter()
                        .map(|s| &s.node.name)
                        .eq(path.iter().map(|s| &s.node.name))
                };
                if !routes.iter().any(same_nodes) {
                    routes.push(path);
                }
            }
        }
        routes.into_iter().map(to_hops).collect()
    }

    /// The preferred path from `from` to `to` with at most `relays_left` relays.
    fn best(
        &mut self,
        from: &'a NodeRecord,
        to: &'a NodeRecord,
        relays_left: usize,
    ) -> Option<Path<'a>> {
        if !self.step() {
            return None;
        }
        if let Some(step) = self.direct(from, to) {
            return Some(vec![step]);
        }
        for class in self.relay_classes(from, to) {
            let mut shortest: Option<Path<'a>> = None;
            for relay in class {
                if let Some(path) = self.via(from, relay, to, relays_left) {
                    if shortest.as_ref().is_none_or(|s| path.len() < s.len()) {
                        shortest = Some(path);
                    }
                }
            }
            if shortest.is_some() {
                return shortest;
            }
        }
        None
    }

    /// The path from `from` to `to` through `relay`: the path to the relay, then the relay's
    /// own path to `to`.
    fn via(
        &mut self,
        from: &'a NodeRecord,
        relay: &'a NodeRecord,
        to: &'a NodeRecord,
        relays_left: usize,
    ) -> Option<Path<'a>> {
        if self.barred.contains(&relay.name.as_str()) {
            return None;
        }
        if relays_left == 0 {
            self.notes.depth_cut = true;
            return None;
        }
        self.notes.relays_tried.insert(relay.name.clone());
        let mark = self.barred.len();
        self.barred.push(relay.name.as_str());
        let path = self
            .best(from, relay, relays_left - 1)
            .and_then(|mut path| {
                // `path` ends with the relay; the nodes before it are relays too.
                let used = path.len();
                self.barred
                    .extend(path[..used - 1].iter().map(|s| s.node.name.as_str()));
                let rest = self.best(relay, to, relays_left - used)?;
                path.extend(rest);
                Some(path)
            });
        self.barred.truncate(mark);
        path
    }

    /// One evaluation of the budget; false (and noted) once it is spent.
    fn step(&mut self) -> bool {
        if self.steps >= self.options.max_search_steps {
            self.notes.exhausted = true;
            return false;
        }
        self.steps += 1;
        true
    }

    /// The direct hop from `from` to `to`, if `to` has a usable gateway for `from`. The local
    /// node's transports and families are known; other nodes are assumed to have them all.
    fn direct(&self, from: &NodeRecord, to: &'a NodeRecord) -> Option<Step<'a>> {
        let all = (Transports::default(), AddressFamilies::default());
        let (transports, families) = if from.name == self.origin.name {
            (&self.options.transports, &self.options.families)
        } else {
            (&all.0, &all.1)
        };
        let addresses = direct_addresses(from, to, transports, families);
        (!addresses.is_empty()).then_some(Step {
            node: to,
            addresses,
        })
    }

    /// The relay candidates for `from` → `to` in two classes, preferred first; a relay in both
    /// counts in the first. Names are in the view's (name) order within a selector.
    fn relay_classes(
        &mut self,
        from: &'a NodeRecord,
        to: &'a NodeRecord,
    ) -> [Vec<&'a NodeRecord>; 2] {
        let own = match (&self.options.upstream_relay, from.name == self.origin.name) {
            (Some(name), true) => self.select(&NodeSelector::name(name.clone())),
            _ => self.advertised_relays(from),
        };
        let advertised = self.advertised_relays(to);
        let (first, mut second) = match self.options.relay_preference {
            RelayPreference::OwnUpstreamFirst => (own, advertised),
            RelayPreference::TargetAdvertisedFirst => (advertised, own),
        };
        second.retain(|relay| !first.iter().any(|f| f.name == relay.name));
        [first, second]
    }

    /// The relays `node`'s own `advertise_relay` selects.
    fn advertised_relays(&mut self, node: &'a NodeRecord) -> Vec<&'a NodeRecord> {
        if let Some(relays) = self.advertised.get(node.name.as_str()) {
            return relays.clone();
        }
        let relays = node
            .advertise_relay
            .as_ref()
            .map_or_else(Vec::new, |s| self.select(s));
        self.advertised.insert(node.name.as_str(), relays.clone());
        relays
    }

    /// The records a relay selector selects; an empty selector selects nothing.
    fn select(&mut self, selector: &NodeSelector) -> Vec<&'a NodeRecord> {
        if selector.is_empty() {
            return Vec::new();
        }
        let view: &'a V = self.view;
        if let Some(name) = &selector.name {
            if view.get(name).is_none() {
                self.notes.unknown_relays.insert(name.clone());
            }
        }
        view.list(selector)
    }
}
