//! Route choice: the options, the result and the errors; the search itself is in `search.rs`.
//!
//! The rules and the algorithm are described in the [module docs](super#route-choice).

use core::fmt;

use serde::{Deserialize, Serialize};

use super::address::GatewayAddress;
use super::matching::{AddressFamilies, Transports};
use super::record::NodeRecord;
use super::search::Search;
use super::view::DiscoveryView;

/// Default of [`RouteOptions::max_relays`]: own relay, zone, region, the remote region, the
/// target's relay, and one spare. Relays on the wire enforce their own hop limit (16) as well.
pub const DEFAULT_MAX_RELAYS: usize = 6;

/// Default of [`RouteOptions::max_search_steps`]. Real topologies need a few hundred steps at
/// most; the budget only stops hostile or degenerate record sets.
pub const DEFAULT_MAX_SEARCH_STEPS: usize = 100_000;

/// Which relay class is tried first when the target has no usable gateway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelayPreference {
    /// The connecting node's own upstream relay first, then the target's advertised relay.
    #[default]
    OwnUpstreamFirst,
    /// The target's advertised relay first, then the connecting node's own upstream relay.
    TargetAdvertisedFirst,
}

/// The local node's settings for route choice: what its configuration says and no record
/// carries.
///
/// Start from `RouteOptions::default()` (or deserialize it from the node's configuration) and
/// set the fields that differ; the struct may gain fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RouteOptions {
    /// Which relay class is tried first. Default: own upstream first.
    pub relay_preference: RelayPreference,
    /// The local node's upstream relay by name. When set it replaces the relays that the local
    /// node's own `advertise_relay` selects (for the local node only: relays' upstreams always
    /// come from their records).
    pub upstream_relay: Option<String>,
    /// Most relays on a path. Default [`DEFAULT_MAX_RELAYS`]; 0 allows direct routes only.
    pub max_relays: usize,
    /// Most search steps (one step evaluates one pair of nodes) before the search gives up with
    /// [`RouteError::SearchLimit`]. Default [`DEFAULT_MAX_SEARCH_STEPS`].
    pub max_search_steps: usize,
    /// Transports the local node's runtime supports. Default: all.
    pub transports: Transports,
    /// Address families the local node has. Default: IPv4 and IPv6.
    pub families: AddressFamilies,
}

impl Default for RouteOptions {
    fn default() -> Self {
        RouteOptions {
            relay_preference: RelayPreference::default(),
            upstream_relay: None,
            max_relays: DEFAULT_MAX_RELAYS,
            max_search_steps: DEFAULT_MAX_SEARCH_STEPS,
            transports: Transports::default(),
            families: AddressFamilies::default(),
        }
    }
}

/// One node on a path, with the addresses by which the node before it reaches it directly (in
/// the order to try them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The node's name.
    pub node: String,
    /// Its addresses, as the previous node on the path uses them; never empty.
    pub addresses: Vec<GatewayAddress>,
}

/// The full expected path from the local node to a target: relays, then the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    hops: Vec<Hop>,
}

impl Route {
    pub(super) fn new(hops: Vec<Hop>) -> Self {
        debug_assert!(!hops.is_empty());
        Route { hops }
    }

    /// Every hop after the local node; the last is the target.
    pub fn hops(&self) -> &[Hop] {
        &self.hops
    }

    /// The hop the local node connects to.
    pub fn next_hop(&self) -> &Hop {
        &self.hops[0]
    }

    /// The relays, in path order (every hop but the last).
    pub fn relays(&self) -> &[Hop] {
        &self.hops[..self.hops.len() - 1]
    }

    /// Whether the target is reached directly.
    pub fn is_direct(&self) -> bool {
        self.hops.len() == 1
    }

    /// The node names of the path after the local node.
    pub fn path(&self) -> Vec<&str> {
        self.hops.iter().map(|hop| hop.node.as_str()).collect()
    }
}

impl fmt::Display for Route {
    /// `relay-a -> relay-b -> target`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path().join(" -> "))
    }
}

/// The routes to a target, preferred first. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteChoice {
    routes: Vec<Route>,
}

impl RouteChoice {
    /// Every viable route: direct, or (when there is no direct one) through relays of the
    /// preferred class, shortest first, then of the other class. The node tries them in order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The first route.
    pub fn preferred(&self) -> &Route {
        &self.routes[0]
    }

    /// Every (next-hop node, address) pair in the order to try them, without repeats.
    pub fn next_hops(&self) -> Vec<(&str, &GatewayAddress)> {
        let mut hops: Vec<(&str, &GatewayAddress)> = Vec::new();
        for route in &self.routes {
            let hop = route.next_hop();
            for address in &hop.addresses {
                if !hops.contains(&(hop.node.as_str(), address)) {
                    hops.push((hop.node.as_str(), address));
                }
            }
        }
        hops
    }
}

/// Why no route was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// The view has no record of the target.
    #[error("unknown target {target:?}: the discovery view has no record of that name")]
    UnknownTarget {
        /// The target name.
        target: String,
    },
    /// The target is the local node: a message to oneself never touches the network.
    #[error("{target:?} is the local node itself")]
    TargetIsLocal {
        /// The target name.
        target: String,
    },
    /// No gateway of the target is usable and no relay is reachable.
    #[error(
        "no route to {target:?}: none of its gateways is usable and no relay is reachable \
         (relays tried: {relays_tried:?}; relays named but without a record: {unknown_relays:?})"
    )]
    NoRoute {
        /// The target name.
        target: String,
        /// Relays that were tried as candidates, in name order.
        relays_tried: Vec<String>,
        /// Relay names from an `advertise_relay` or the options that the view does not know.
        unknown_relays: Vec<String>,
    },
    /// No route within the relay limit, and the limit cut the search short (a higher limit may
    /// find one).
    #[error("no route to {target:?} within {max_relays} relays (the limit cut the search)")]
    DepthExceeded {
        /// The target name.
        target: String,
        /// The limit in force.
        max_relays: usize,
    },
    /// The search used up its step budget before it found a route.
    #[error("route search for {target:?} gave up after {steps} steps")]
    SearchLimit {
        /// The target name.
        target: String,
        /// The budget in force.
        steps: usize,
    },
}

/// Chooses the routes from the local node to `target`. See the
/// [module docs](super#route-choice) for the rules.
///
/// `local` is the local node's own record (it need not be in the view, and when it is, this
/// one is used for the local node).
pub fn choose_route<V: DiscoveryView + ?Sized>(
    local: &NodeRecord,
    target: &str,
    view: &V,
    options: &RouteOptions,
) -> Result<RouteChoice, RouteError> {
    if target == local.name {
        return Err(RouteError::TargetIsLocal {
            target: target.to_owned(),
        });
    }
    let to = view.get(target).ok_or_else(|| RouteError::UnknownTarget {
        target: target.to_owned(),
    })?;
    let mut search = Search::new(view, options, local, to);
    let routes = search.alternatives(local, to);
    if !routes.is_empty() {
        return Ok(RouteChoice {
            routes: routes.into_iter().map(Route::new).collect(),
        });
    }
    let target = target.to_owned();
    let notes = search.into_notes();
    Err(if notes.exhausted {
        RouteError::SearchLimit {
            target,
            steps: options.max_search_steps,
        }
    } else if notes.depth_cut {
        RouteError::DepthExceeded {
            target,
            max_relays: options.max_relays,
        }
    } else {
        RouteError::NoRoute {
            target,
            relays_tried: notes.relays_tried.into_iter().collect(),
            unknown_relays: notes.unknown_relays.into_iter().collect(),
        }
    })
}
