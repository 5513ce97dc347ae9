//! Named link presets (each configures one direction; links usually use it both ways).
//!
//! | preset | one-way delay | jitter | loss | rate | queue |
//! |---|---|---|---|---|---|
//! | `kcp_test` | 30 ms | +[0, 32) ms, whole ms | 5 per bag of 100 | unlimited | 1,000 packets in flight |
//! | `wifi` | 3 ms | +[0, 6) ms, correlated | 1 % random, 0.1 % reordered | 100 Mbit/s | 256 KB |
//! | `cellular_4g` | 25 ms | +[0, 20) ms, correlated (RTT 50–90 ms) | 0.2 % bursty | 20 Mbit/s | 256 KB |
//! | `datacenter` | 50 µs | +[0, 10) µs | none | 10 Gbit/s | 1 MB |
//! | `satellite` | 300 ms | +[0, 10) ms | 0.5 % random | 20 Mbit/s | 1.5 MB (one BDP) |
//! | `b3a` | 25 ms | none | 1 % random | 10 Mbit/s | 62.5 KB (one BDP) |
//! | `b3b` | 100 ms | none | 0.1 % random | 100 Mbit/s | 2.5 MB (one BDP) |
//! | `b3c` | 1 ms | none | none | 1 Gbit/s | 250 KB (one BDP) |
//!
//! Every preset but `kcp_test` has an MTU of 1,472 bytes (UDP payload on Ethernet).

use std::time::Duration;

use crate::link::{LinkConfig, LossModel};

/// UDP payload of a 1,500-byte Ethernet frame over IPv4.
pub const ETHERNET_UDP_MTU: u32 = 1_472;

/// Names of every preset, for the runner.
pub const NAMES: [&str; 8] = [
    "kcp_test",
    "wifi",
    "cellular_4g",
    "datacenter",
    "satellite",
    "b3a",
    "b3b",
    "b3c",
];

/// The preset called `name`.
pub fn by_name(name: &str) -> Option<LinkConfig> {
    Some(match name {
        "kcp_test" => kcp_test(),
        "wifi" => wifi(),
        "cellular_4g" => cellular_4g(),
        "datacenter" => datacenter(),
        "satellite" => satellite(),
        "b3a" => b3a(),
        "b3b" => b3b(),
        "b3c" => b3c(),
        _ => return None,
    })
}

/// The link of KCP's own test (`test.h`, B2 of the benchmarks): each direction loses exactly 5
/// of every 100 packets (tickets drawn from a shuffled bag), delays each by a whole number of
/// milliseconds in [30, 62), delivers in FIFO order (a packet never overtakes the one ahead),
/// and holds at most 1,000 packets.
pub fn kcp_test() -> LinkConfig {
    LinkConfig {
        delay: Duration::from_millis(30),
        jitter: Duration::from_millis(32),
        jitter_granularity: Some(Duration::from_millis(1)),
        loss: LossModel::Bag { lost: 5, bag: 100 },
        fifo: true,
        max_in_flight: Some(1_000),
        ..LinkConfig::default()
    }
}

/// A hostile LAN for correctness tests (not a measured environment): 15 ms ± 10 ms, 5 % random
/// loss, 2 % duplicates, 5 % reordered by 20 ms, no bandwidth limit. The node scenarios use it.
pub fn hostile_lan() -> LinkConfig {
    LinkConfig {
        delay: Duration::from_millis(15),
        jitter: Duration::from_millis(10),
        fifo: false,
        loss: LossModel::Random { probability: 0.05 },
        duplicate: 0.02,
        reorder: 0.05,
        reorder_delay: Duration::from_millis(20),
        ..LinkConfig::default()
    }
}

/// A busy home Wi-Fi hop.
pub fn wifi() -> LinkConfig {
    LinkConfig {
        delay: Duration::from_millis(3),
        jitter: Duration::from_millis(6),
        jitter_correlation: 0.3,
        loss: LossModel::Random { probability: 0.01 },
        reorder: 0.001,
        reorder_delay: Duration::from_millis(4),
        fifo: false,
        bandwidth_bps: Some(100_000_000),
        queue_bytes: Some(256 * 1024),
        mtu: Some(ETHERNET_UDP_MTU),
        ..LinkConfig::default()
    }
}

/// A 4G mobile path: RTT 50–90 ms, correlated jitter, 0.2 % loss in bursts.
pub fn cellular_4g() -> LinkConfig {
    LinkConfig {
        delay: Duration::from_millis(25),
        jitter: Duration::from_millis(20),
        jitter_correlation: 0.5,
        // Mean loss: bad 1/401 of the time × 40 % + good × 0.1 % ≈ 0.2 %.
        loss: LossModel::GilbertElliott {
            good_to_bad: 0.0005,
            bad_to_good: 0.2,
            loss_in_good: 0.001,
            loss_in_bad: 0.4,
        },
        fifo: false,
        bandwidth_bps: Some(20_000_000),
        queue_bytes: Some(256 * 1024),
        mtu: Some(ETHERNET_UDP_MTU),
        ..LinkConfig::default()
    }
}

/// Two hosts in one data centre.
pub fn datacenter() -> LinkConfig {
    LinkConfig {
        delay: Duration::from_micros(50),
        jitter: Duration::from_micros(10),
        bandwidth_bps: Some(10_000_000_000),
        queue_bytes: Some(1_000_000),
        mtu: Some(ETHERNET_UDP_MTU),
        ..LinkConfig::default()
    }
}

/// A geostationary satellite hop.
pub fn satellite() -> LinkConfig {
    LinkConfig {
        delay: Duration::from_millis(300),
        jitter: Duration::from_millis(10),
        loss: LossModel::Random { probability: 0.005 },
        bandwidth_bps: Some(20_000_000),
        queue_bytes: Some(1_500_000),
        mtu: Some(ETHERNET_UDP_MTU),
        ..LinkConfig::default()
    }
}

fn bulk_link(rate_bps: u64, one_way: Duration, loss: f64) -> LinkConfig {
    let bdp_bytes = (rate_bps as f64 * (2.0 * one_way.as_secs_f64()) / 8.0) as u64;
    LinkConfig {
        delay: one_way,
        loss: if loss > 0.0 {
            LossModel::Random { probability: loss }
        } else {
            LossModel::None
        },
        bandwidth_bps: Some(rate_bps),
        queue_bytes: Some(bdp_bytes),
        mtu: Some(ETHERNET_UDP_MTU),
        ..LinkConfig::default()
    }
}

/// B3 (a): 10 Mbit/s, 50 ms RTT, 1 % random loss, one BDP of queue.
pub fn b3a() -> LinkConfig {
    bulk_link(10_000_000, Duration::from_millis(25), 0.01)
}

/// B3 (b): 100 Mbit/s, 200 ms RTT, 0.1 % random loss, one BDP of queue.
pub fn b3b() -> LinkConfig {
    bulk_link(100_000_000, Duration::from_millis(100), 0.001)
}

/// B3 (c): 1 Gbit/s, 2 ms RTT, no loss, one BDP of queue.
pub fn b3c() -> LinkConfig {
    bulk_link(1_000_000_000, Duration::from_millis(1), 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_valid_and_named() {
        for name in NAMES {
            let config = by_name(name).expect("listed preset exists");
            config.validate(name).expect("preset is valid");
        }
        assert!(by_name("nope").is_none());
    }

    #[test]
    fn cellular_loss_averages_about_two_per_mille() {
        let mean = cellular_4g().loss.mean_loss();
        assert!((0.0018..0.0022).contains(&mean), "{mean}");
    }

    #[test]
    fn b3_queues_are_one_bandwidth_delay_product() {
        assert_eq!(b3a().queue_bytes, Some(62_500));
        assert_eq!(b3b().queue_bytes, Some(2_500_000));
        assert_eq!(b3c().queue_bytes, Some(250_000));
    }
}
