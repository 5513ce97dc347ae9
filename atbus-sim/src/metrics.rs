//! What a run measured: message latencies, goodput, traffic per link direction, drops by cause.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use atbus_core::Timestamp;

/// Why the network dropped a transmission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropCause {
    /// Random or bursty loss.
    Loss,
    /// The bottleneck queue or the in-flight limit was full.
    QueueFull,
    /// The datagram was larger than the link's MTU.
    Mtu,
    /// The link was partitioned.
    Partition,
    /// A scripted fault dropped it.
    Scripted,
    /// It arrived at a node that was killed, or was in flight on a byte stream that was reset.
    Unreachable,
}

impl fmt::Display for DropCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DropCause::Loss => "loss",
            DropCause::QueueFull => "queue_full",
            DropCause::Mtu => "mtu",
            DropCause::Partition => "partition",
            DropCause::Scripted => "scripted",
            DropCause::Unreachable => "unreachable",
        })
    }
}

/// Traffic of one direction of one link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectionStats {
    /// Transmissions offered by the sending endpoint.
    pub packets_sent: u64,
    /// Bytes offered by the sending endpoint.
    pub bytes_sent: u64,
    /// Transmissions handed to the receiving endpoint (duplicates included).
    pub packets_delivered: u64,
    /// Bytes handed to the receiving endpoint.
    pub bytes_delivered: u64,
    /// Transmissions dropped, by cause.
    pub drops: BTreeMap<DropCause, u64>,
}

/// One application message of a workload, from send to delivery (and back, for echoes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// Index of the workload that sent it.
    pub workload: usize,
    /// Payload size in bytes.
    pub size: usize,
    /// When the application handed it to the sending endpoint.
    pub sent_at: Timestamp,
    /// When the receiving endpoint delivered it (for an echo: when the echo came back).
    pub completed_at: Option<Timestamp>,
}

impl MessageRecord {
    /// Send-to-completion time, if completed.
    pub fn latency(&self) -> Option<Duration> {
        self.completed_at.map(|done| done - self.sent_at)
    }
}

/// Everything a run measured.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// Every message, by message id (ids count from 0 in send order).
    pub messages: Vec<MessageRecord>,
    /// Traffic per link direction: key is (link index, 0 for a→b or 1 for b→a).
    pub directions: BTreeMap<(usize, u8), DirectionStats>,
    /// Deliveries of a message id that was already delivered.
    pub duplicate_deliveries: u64,
    /// Deliveries out of send order within a (workload, stream).
    pub out_of_order_deliveries: u64,
    /// Deliveries whose payload did not match what was sent.
    pub corrupted_deliveries: u64,
    /// Messages the sending endpoint refused.
    pub send_failures: u64,
    /// Events the simulator processed.
    pub events: u64,
    /// Transmissions delivered to endpoints (duplicates included).
    pub deliveries: u64,
    /// Virtual time when the run ended.
    pub ended_at: Timestamp,
}

/// Summary statistics of a set of latencies.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LatencySummary {
    /// Completed messages.
    pub count: usize,
    /// Mean latency in milliseconds.
    pub avg_ms: f64,
    /// Median latency in milliseconds.
    pub p50_ms: f64,
    /// 99th-percentile latency in milliseconds.
    pub p99_ms: f64,
    /// Largest latency in milliseconds.
    pub max_ms: f64,
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

impl Metrics {
    /// Latency summary of the completed messages of `workload` (all workloads when `None`).
    pub fn latency(&self, workload: Option<usize>) -> LatencySummary {
        let mut latencies: Vec<Duration> = self
            .messages
            .iter()
            .filter(|m| workload.is_none_or(|w| m.workload == w))
            .filter_map(MessageRecord::latency)
            .collect();
        if latencies.is_empty() {
            return LatencySummary::default();
        }
        latencies.sort_unstable();
        let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
        let total: Duration = latencies.iter().sum();
        LatencySummary {
            count: latencies.len(),
            avg_ms: millis(total) / latencies.len() as f64,
            p50_ms: millis(pick(0.5)),
            p99_ms: millis(pick(0.99)),
            max_ms: millis(latencies[latencies.len() - 1]),
        }
    }

    /// Messages sent and not completed.
    pub fn incomplete(&self) -> usize {
        self.messages
            .iter()
            .filter(|m| m.completed_at.is_none())
            .count()
    }

    /// Payload bytes of completed messages per second of virtual time, from the first send to
    /// the last completion.
    pub fn goodput_bps(&self) -> f64 {
        let completed = self.messages.iter().filter(|m| m.completed_at.is_some());
        let bytes: usize = completed.clone().map(|m| m.size).sum();
        let start = self.messages.iter().map(|m| m.sent_at).min();
        let end = completed.filter_map(|m| m.completed_at).max();
        match (start, end) {
            (Some(start), Some(end)) if end > start => {
                bytes as f64 * 8.0 / (end - start).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    /// Traffic summed over every link direction.
    pub fn total_traffic(&self) -> DirectionStats {
        let mut total = DirectionStats::default();
        for stats in self.directions.values() {
            total.packets_sent += stats.packets_sent;
            total.bytes_sent += stats.bytes_sent;
            total.packets_delivered += stats.packets_delivered;
            total.bytes_delivered += stats.bytes_delivered;
            for (cause, count) in &stats.drops {
                *total.drops.entry(*cause).or_default() += count;
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_summary_of_known_values() {
        let mut metrics = Metrics::default();
        for ms in 1..=100u64 {
            metrics.messages.push(MessageRecord {
                workload: 0,
                size: 10,
                sent_at: Timestamp::ZERO,
                completed_at: Some(Timestamp::from_millis(ms)),
            });
        }
        metrics.messages.push(MessageRecord {
            workload: 0,
            size: 10,
            sent_at: Timestamp::ZERO,
            completed_at: None,
        });
        let summary = metrics.latency(None);
        assert_eq!(summary.count, 100);
        assert!((summary.avg_ms - 50.5).abs() < 1e-9);
        assert_eq!(summary.max_ms, 100.0);
        assert_eq!(summary.p99_ms, 99.0);
        assert_eq!(metrics.incomplete(), 1);
        // 1,000 bytes delivered in 100 ms.
        assert!((metrics.goodput_bps() - 80_000.0).abs() < 1e-6);
    }
}
