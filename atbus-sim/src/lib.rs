//! A deterministic network simulator for atbus.
//!
//! `atbus-sim` drives sans-IO endpoints — atbus from `atbus-core`, and for comparison peers such
//! as the `kcp` crate — over simulated links with delay, jitter, loss (random, bagged or bursty),
//! duplication, reordering, bandwidth limits with a bottleneck queue, MTU limits, partitions and
//! killed nodes, in virtual time that starts at zero and jumps straight to the next event. The
//! same seed and scenario always produce the same trace, bit for bit, so every protocol rule can
//! be tested under hostile networks in CI and every failure replayed.
//!
//! # Writing a scenario
//!
//! ```
//! use std::time::Duration;
//! use atbus_sim::{presets, FrameEndpoint, LinkKind, Scenario, Simulator, Workload, Outcome};
//!
//! let scenario = Scenario::new("echo over wifi", 7)
//!     .node("client")
//!     .node("server")
//!     .link("client", "server", LinkKind::Datagram, presets::wifi())
//!     .workload(Workload::Echo {
//!         client: "client".into(),
//!         server: "server".into(),
//!         stream: 1,
//!         size: 64,
//!         interval: Duration::from_millis(20),
//!         count: 100,
//!         start: Duration::ZERO,
//!     })
//!     .deadline(Duration::from_secs(10));
//! let mut factory = |_, _: &str| -> Box<dyn atbus_sim::Endpoint> { Box::new(FrameEndpoint::new()) };
//! let report = Simulator::new(scenario, &mut factory)?.run();
//! // FrameEndpoint has no reliability: Wi-Fi loss leaves some echoes incomplete.
//! let latency = report.metrics.latency(None);
//! assert!(latency.count > 90 && latency.avg_ms > 2.0);
//! assert_eq!(report.outcome, Outcome::Stalled); // nothing left in flight, echoes missing
//! # Ok::<(), atbus_sim::ScenarioError>(())
//! ```
//!
//! See the project's `docs/SIMULATOR.md` for the link model, the presets, the runner and how to
//! replay a failing seed.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bench;
mod endpoint;
pub mod endpoints;
mod engine;
pub mod link;
pub mod metrics;
pub mod presets;
pub mod report;
mod rng;
pub mod scenario;
pub mod scenarios;
pub mod seeds;
mod workload;

pub use endpoint::{Endpoint, LinkId, MemoryPeaks, NodeId, Received, SendError, Transmit};
pub use endpoints::{
    AtbusEndpoint, FrameEndpoint, KcpConfig, KcpEndpoint, KcpMode, KcpTiming, MisbehavingPeer,
    NodeEndpoint, NodeTally, Offence, QuinnConfig, QuinnCongestion, QuinnEndpoint, RawEndpoint,
};
pub use engine::{EndpointFactory, Outcome, RunReport, Simulator};
pub use link::{LinkConfig, LinkKind, LossModel};
pub use metrics::{DropCause, LatencySummary, Metrics};
pub use rng::SimRng;
pub use scenario::{Direction, Fault, Scenario, ScenarioError, Workload};
pub use workload::MIN_MESSAGE_SIZE;

/// The core crate, re-exported so scenarios and endpoints use the same types.
pub use atbus_core as core;
