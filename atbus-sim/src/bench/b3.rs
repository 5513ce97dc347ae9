//! B3: bulk transfer under loss and delay — atbus against quinn-proto over the same links with the
//! same seed.
//!
//! Each link (`b3a`, `b3b`, `b3c` presets, used both ways) carries one transfer of
//! [`B3_LINKS`]`.bytes` on one stream in 16 KiB messages, offered as fast as the sender accepts
//! them. Goodput is payload delivered over first send → last delivery, as a fraction of the
//! link rate; wire bytes are every datagram sent, both ways, including those the link dropped.

use std::time::Duration;

use atbus_core::congestion::CongestionKind;
use atbus_core::connection::ConnectionConfig;

use crate::endpoint::{Endpoint, NodeId};
use crate::endpoints::{AtbusEndpoint, QuinnConfig, QuinnCongestion, QuinnEndpoint};
use crate::engine::{Outcome, Simulator};
use crate::link::{LinkConfig, LinkKind};
use crate::presets;
use crate::scenario::{Scenario, ScenarioError, Workload};

/// Message size of the transfer.
pub const MESSAGE_SIZE: usize = 16 * 1024;

/// One B3 link: its preset, the bytes it carries, and the goodput target (fraction of link rate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct B3Link {
    /// Preset name (`b3a`, `b3b`, `b3c`).
    pub preset: &'static str,
    /// A one-line description for tables.
    pub label: &'static str,
    /// Bytes transferred.
    pub bytes: u64,
    /// The least goodput, as a fraction of link rate, the benchmark asks of atbus.
    pub target: f64,
}

/// The three links of B3, with the sizes and targets of `shared/docs/BENCHMARKS.md`.
pub const B3_LINKS: [B3Link; 3] = [
    B3Link {
        preset: "b3a",
        label: "10 Mbit/s, 50 ms, 1 % loss",
        bytes: 16 << 20,
        target: 0.80,
    },
    B3Link {
        preset: "b3b",
        label: "100 Mbit/s, 200 ms, 0.1 % loss",
        bytes: 128 << 20,
        target: 0.80,
    },
    B3Link {
        preset: "b3c",
        label: "1 Gbit/s, 2 ms, no loss",
        bytes: 1 << 30,
        target: 0.95,
    },
];

/// An endpoint measured in B3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contender {
    /// atbus connections with this congestion controller.
    Atbus(CongestionKind),
    /// quinn-proto with this congestion controller.
    Quinn(QuinnCongestion),
}

impl Contender {
    /// Every contender: atbus BBR-like (its default), atbus NewReno, quinn CUBIC (its default),
    /// quinn BBR.
    pub const ALL: [Contender; 4] = [
        Contender::Atbus(CongestionKind::Bbr),
        Contender::Atbus(CongestionKind::NewReno),
        Contender::Quinn(QuinnCongestion::Cubic),
        Contender::Quinn(QuinnCongestion::Bbr),
    ];

    /// A name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Contender::Atbus(CongestionKind::Bbr) => "atbus bbr",
            Contender::Atbus(CongestionKind::NewReno) => "atbus newreno",
            Contender::Atbus(_) => "atbus",
            Contender::Quinn(QuinnCongestion::Cubic) => "quinn cubic",
            Contender::Quinn(QuinnCongestion::Bbr) => "quinn bbr",
        }
    }

    /// The endpoint of `node` for a run with `seed`.
    pub fn endpoint(self, node: NodeId, seed: u64) -> Box<dyn Endpoint> {
        match self {
            Contender::Atbus(congestion) => Box::new(AtbusEndpoint::new(ConnectionConfig {
                congestion,
                ..ConnectionConfig::default()
            })),
            Contender::Quinn(congestion) => {
                Box::new(QuinnEndpoint::new(node, QuinnConfig::new(seed, congestion)))
            }
        }
    }
}

/// The result of one transfer.
#[derive(Debug, Clone, PartialEq)]
pub struct B3Result {
    /// The link.
    pub link: B3Link,
    /// Who carried it.
    pub contender: Contender,
    /// How the run ended.
    pub outcome: Outcome,
    /// Virtual seconds from start to the last delivery (or the end of the run).
    pub seconds: f64,
    /// Payload bits per second, first send → last delivery.
    pub goodput_bps: f64,
    /// `goodput_bps` over the link rate.
    pub fraction: f64,
    /// Datagram bytes sent both ways, dropped ones included.
    pub wire_bytes: u64,
    /// Duplicate, out-of-order and corrupted deliveries (must be 0).
    pub anomalies: u64,
}

/// The B3 scenario for `link` and `seed`: node "sender" sends `link.bytes` to node "receiver".
pub fn scenario(link: &B3Link, config: LinkConfig, seed: u64) -> Scenario {
    Scenario::new(format!("b3/{}", link.preset), seed)
        .node("sender")
        .node("receiver")
        .link("sender", "receiver", LinkKind::Datagram, config)
        .workload(Workload::Bulk {
            from: "sender".into(),
            to: "receiver".into(),
            stream: 0,
            total_bytes: link.bytes,
            message_size: MESSAGE_SIZE,
            start: Duration::ZERO,
        })
        .deadline(Duration::from_secs(600))
}

/// Runs one transfer.
///
/// # Panics
///
/// If `link.preset` is not a preset with a rate (the B3 presets all have one).
pub fn run(link: &B3Link, contender: Contender, seed: u64) -> Result<B3Result, ScenarioError> {
    let config = presets::by_name(link.preset).expect("B3 preset");
    let rate = config.bandwidth_bps.expect("B3 links have a rate") as f64;
    let mut factory = |node: NodeId, _: &str| contender.endpoint(node, seed);
    let report = Simulator::new(scenario(link, config, seed), &mut factory)?.run();
    let m = &report.metrics;
    let goodput_bps = m.goodput_bps();
    Ok(B3Result {
        link: *link,
        contender,
        outcome: report.outcome,
        seconds: m.ended_at.as_nanos() as f64 / 1e9,
        goodput_bps,
        fraction: goodput_bps / rate,
        wire_bytes: m.total_traffic().bytes_sent,
        anomalies: m.duplicate_deliveries + m.out_of_order_deliveries + m.corrupted_deliveries,
    })
}
