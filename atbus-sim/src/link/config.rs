//! How one direction of a simulated link behaves.

use std::time::Duration;

use crate::scenario::ScenarioError;

/// Which kind of transport a link simulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkKind {
    /// Datagrams (UDP-like): each transmission arrives whole, late, duplicated, reordered or not
    /// at all.
    Datagram,
    /// A reliable, ordered byte pipe (TCP-like): bytes arrive in order after delay and
    /// serialisation; a partition resets it.
    ByteStream,
}

/// How packets are lost.
#[derive(Debug, Clone, PartialEq)]
pub enum LossModel {
    /// Nothing is lost at random.
    None,
    /// Each packet is lost independently with this probability.
    Random {
        /// Probability in `[0, 1]`.
        probability: f64,
    },
    /// Exactly `lost` of every `bag` packets are lost: each packet draws a ticket, without
    /// replacement, from a shuffled bag of `bag` tickets of which `lost` are losing (KCP's
    /// `test.h`). The bag is refilled when empty.
    Bag {
        /// Losing tickets per bag.
        lost: u32,
        /// Tickets per bag.
        bag: u32,
    },
    /// Bursty loss (Gilbert–Elliott): a two-state chain, stepped once per packet, with a loss
    /// probability per state.
    GilbertElliott {
        /// Probability of moving from the good to the bad state, per packet.
        good_to_bad: f64,
        /// Probability of moving from the bad to the good state, per packet.
        bad_to_good: f64,
        /// Loss probability in the good state.
        loss_in_good: f64,
        /// Loss probability in the bad state.
        loss_in_bad: f64,
    },
}

impl LossModel {
    /// The long-run fraction of packets lost.
    pub fn mean_loss(&self) -> f64 {
        match *self {
            LossModel::None => 0.0,
            LossModel::Random { probability } => probability,
            LossModel::Bag { lost, bag } => f64::from(lost) / f64::from(bag.max(1)),
            LossModel::GilbertElliott {
                good_to_bad,
                bad_to_good,
                loss_in_good,
                loss_in_bad,
            } => {
                let bad_share = good_to_bad / (good_to_bad + bad_to_good).max(f64::MIN_POSITIVE);
                bad_share * loss_in_bad + (1.0 - bad_share) * loss_in_good
            }
        }
    }
}

/// One direction of a link.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// Fixed one-way propagation delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `[0, jitter)` per packet.
    pub jitter: Duration,
    /// Correlation of successive jitter samples in `[0, 1)`: each sample is
    /// `correlation × previous + (1 − correlation) × fresh`.
    pub jitter_correlation: f64,
    /// When set, jitter samples are rounded down to a multiple of this (for example 1 ms, as
    /// KCP's test draws whole milliseconds).
    pub jitter_granularity: Option<Duration>,
    /// How packets are lost.
    pub loss: LossModel,
    /// Probability that a packet is delivered twice.
    pub duplicate: f64,
    /// Probability that a packet is held back by `reorder_delay`, letting later ones pass it.
    pub reorder: f64,
    /// Extra delay of a reordered packet.
    pub reorder_delay: Duration,
    /// When true, a packet is never delivered before one sent ahead of it (except reordered
    /// ones): a packet with a short delay waits behind a slower one, as in a FIFO queue.
    pub fifo: bool,
    /// Link rate in bits per second; `None` is unlimited (no serialisation delay).
    pub bandwidth_bps: Option<u64>,
    /// Bottleneck queue in bytes: packets waiting to be serialised plus the one being
    /// serialised; a packet that would exceed it is dropped (tail drop). Needs a bandwidth.
    pub queue_bytes: Option<u64>,
    /// Most packets inside the link at once (queued or propagating); more are dropped.
    pub max_in_flight: Option<u32>,
    /// Largest datagram the link carries; larger ones are dropped and counted.
    pub mtu: Option<u32>,
}

impl Default for LinkConfig {
    /// A perfect link: no delay, no loss, unlimited rate.
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            jitter_correlation: 0.0,
            jitter_granularity: None,
            loss: LossModel::None,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
            fifo: true,
            bandwidth_bps: None,
            queue_bytes: None,
            max_in_flight: None,
            mtu: None,
        }
    }
}

fn probability(field: String, value: f64) -> Result<(), ScenarioError> {
    if !(0.0..=1.0).contains(&value) {
        return Err(ScenarioError::new(
            field,
            format!("{value} is not a probability between 0 and 1"),
        ));
    }
    Ok(())
}

impl LinkConfig {
    /// Checks every field; `path` names this config in errors (for example `links[2].a_to_b`).
    pub fn validate(&self, path: &str) -> Result<(), ScenarioError> {
        let field = |name: &str| format!("{path}.{name}");
        if !(0.0..1.0).contains(&self.jitter_correlation) {
            return Err(ScenarioError::new(
                field("jitter_correlation"),
                format!("{} is not in [0, 1)", self.jitter_correlation),
            ));
        }
        if self.jitter_granularity == Some(Duration::ZERO) {
            return Err(ScenarioError::new(
                field("jitter_granularity"),
                "must be positive",
            ));
        }
        probability(field("duplicate"), self.duplicate)?;
        probability(field("reorder"), self.reorder)?;
        match self.loss {
            LossModel::None => {}
            LossModel::Random { probability: p } => probability(field("loss.probability"), p)?,
            LossModel::Bag { lost, bag } => {
                if bag == 0 {
                    return Err(ScenarioError::new(
                        field("loss.bag"),
                        "a bag needs at least one ticket",
                    ));
                }
                if lost > bag {
                    return Err(ScenarioError::new(
                        field("loss.lost"),
                        format!("{lost} losing tickets do not fit a bag of {bag}"),
                    ));
                }
            }
            LossModel::GilbertElliott {
                good_to_bad,
                bad_to_good,
                loss_in_good,
                loss_in_bad,
            } => {
                probability(field("loss.good_to_bad"), good_to_bad)?;
                probability(field("loss.bad_to_good"), bad_to_good)?;
                probability(field("loss.loss_in_good"), loss_in_good)?;
                probability(field("loss.loss_in_bad"), loss_in_bad)?;
            }
        }
        if self.bandwidth_bps == Some(0) {
            return Err(ScenarioError::new(
                field("bandwidth_bps"),
                "a rate must be positive",
            ));
        }
        if self.queue_bytes.is_some() && self.bandwidth_bps.is_none() {
            return Err(ScenarioError::new(
                field("queue_bytes"),
                "a bottleneck queue needs a bandwidth to drain at",
            ));
        }
        if self.max_in_flight == Some(0) {
            return Err(ScenarioError::new(
                field("max_in_flight"),
                "must be positive",
            ));
        }
        if self.mtu == Some(0) {
            return Err(ScenarioError::new(field("mtu"), "must be positive"));
        }
        Ok(())
    }
}
