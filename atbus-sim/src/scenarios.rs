//! Built-in scenarios: the runner's named scenarios and the ones the tests and benchmarks share.

use std::time::Duration;

use crate::endpoint::Endpoint;
use crate::endpoints::{FrameEndpoint, KcpConfig, KcpEndpoint, KcpMode};
use crate::engine::{RunReport, Simulator};
use crate::link::{LinkConfig, LinkKind};
use crate::presets;
use crate::scenario::{Scenario, ScenarioError, Workload};

/// KCP's published test results (avg, max round trip in ms), from the end of `test.cpp`.
pub const KCP_PUBLISHED: [(KcpMode, u32, u32); 3] = [
    (KcpMode::Default, 740, 1_507),
    (KcpMode::Normal, 156, 571),
    (KcpMode::Fast, 138, 392),
];

/// B2: KCP's own test. A client echoes 8-byte messages, one every 20 ms from 20 ms on, through a
/// server, over the `kcp_test` link both ways; the run ends when 1,001 echoes have returned
/// (`test.cpp` counts sequence numbers 0 to 1,000).
pub fn b2_echo(seed: u64) -> Scenario {
    Scenario::new("b2_echo", seed)
        .node("client")
        .node("server")
        .link("client", "server", LinkKind::Datagram, presets::kcp_test())
        .workload(Workload::Echo {
            client: "client".into(),
            server: "server".into(),
            stream: 0,
            size: 8,
            interval: Duration::from_millis(20),
            count: 1_001,
            start: Duration::from_millis(20),
        })
        .deadline(Duration::from_secs(600))
}

/// Runs B2 with KCP in `mode`, configured as `test.cpp` configures it.
pub fn run_kcp_b2(mode: KcpMode, seed: u64) -> Result<RunReport, ScenarioError> {
    let mut factory = |node: crate::NodeId, _: &str| -> Box<dyn Endpoint> {
        Box::new(KcpEndpoint::new(KcpConfig::test_cpp(mode, node.0 == 0)))
    };
    Ok(Simulator::new(b2_echo(seed), &mut factory)?.run())
}

/// Runs B2 with atbus connections configured by `config`.
pub fn run_atbus_b2(
    config: &atbus_core::connection::ConnectionConfig,
    seed: u64,
) -> Result<RunReport, ScenarioError> {
    run_atbus_b2_streams(config, &[], seed)
}

/// Runs B2 with atbus connections configured by `config`, with `latency_streams` in latency
/// mode (B2's echo runs on stream 0).
pub fn run_atbus_b2_streams(
    config: &atbus_core::connection::ConnectionConfig,
    latency_streams: &[u64],
    seed: u64,
) -> Result<RunReport, ScenarioError> {
    let mut factory = |_: crate::NodeId, _: &str| -> Box<dyn Endpoint> {
        Box::new(
            crate::AtbusEndpoint::new(config.clone())
                .with_latency_streams(latency_streams.iter().copied()),
        )
    };
    Ok(Simulator::new(b2_echo(seed), &mut factory)?.run())
}

/// Echo of 64-byte messages every 20 ms over a link preset, with the unreliable frame endpoint.
pub fn frame_echo(preset: &str, link: LinkConfig, seed: u64, count: u64) -> Scenario {
    Scenario::new(format!("frame_echo/{preset}"), seed)
        .node("client")
        .node("server")
        .link("client", "server", LinkKind::Datagram, link)
        .workload(Workload::Echo {
            client: "client".into(),
            server: "server".into(),
            stream: 1,
            size: 64,
            interval: Duration::from_millis(20),
            count,
            start: Duration::ZERO,
        })
        .deadline(Duration::from_secs(3_600))
}

/// A factory that gives every node a [`FrameEndpoint`].
pub fn frame_endpoints(_: crate::NodeId, _: &str) -> Box<dyn Endpoint> {
    Box::new(FrameEndpoint::new())
}

/// The simulator's own speed test: `pairs` pairs of [`RawEndpoint`](crate::RawEndpoint)s, each
/// sending `per_pair` 64-byte messages one microsecond apart over a 50 µs link with jitter and
/// 1 % loss. Each message is one delivery (or one drop).
pub fn speed(seed: u64, pairs: usize, per_pair: u64) -> Scenario {
    let link = LinkConfig {
        delay: Duration::from_micros(50),
        jitter: Duration::from_micros(10),
        loss: crate::link::LossModel::Random { probability: 0.01 },
        ..LinkConfig::default()
    };
    let mut scenario = Scenario::new("speed", seed).deadline(Duration::from_secs(3_600));
    for pair in 0..pairs {
        let (a, b) = (format!("a{pair}"), format!("b{pair}"));
        scenario = scenario
            .node(a.clone())
            .node(b.clone())
            .link(&a, &b, LinkKind::Datagram, link.clone())
            .workload(Workload::Messages {
                from: a,
                to: b,
                stream: 0,
                size: 64,
                interval: Duration::from_micros(1),
                count: per_pair,
                start: Duration::ZERO,
            });
    }
    scenario
}

/// A factory that gives every node a [`RawEndpoint`](crate::RawEndpoint) on stream 0.
pub fn raw_endpoints(_: crate::NodeId, _: &str) -> Box<dyn Endpoint> {
    Box::new(crate::RawEndpoint::new(0))
}
