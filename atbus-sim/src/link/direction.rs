//! The running state of one direction of a link: what happens to each transmission.
//!
//! For every transmission, in this order: MTU check (datagrams), partition, scripted drop,
//! random loss, in-flight limit, bottleneck queue (tail drop), serialisation at the link rate,
//! propagation delay plus jitter, reordering, FIFO ordering, duplication.

use std::time::Duration;

use atbus_core::Timestamp;

use super::config::{LinkConfig, LinkKind, LossModel};
use crate::metrics::DropCause;
use crate::rng::SimRng;

/// What the link does with one transmission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Dropped, for this reason.
    Dropped(DropCause),
    /// Delivered at `arrival`, and a second time at `duplicate` when set.
    Delivered {
        /// Arrival of the transmission.
        arrival: Timestamp,
        /// Arrival of a duplicate, if the link duplicated it.
        duplicate: Option<Timestamp>,
    },
}

/// Per-direction state.
#[derive(Debug)]
pub(crate) struct Direction {
    pub config: LinkConfig,
    kind: LinkKind,
    rng: SimRng,
    /// Tickets left in the loss bag (a permutation drawn from lazily).
    bag: Vec<u32>,
    /// Gilbert–Elliott state: true when bad.
    burst: bool,
    previous_jitter: f64,
    /// The link is busy serialising until then.
    busy_until: Timestamp,
    /// Latest arrival scheduled so far, for FIFO delivery.
    last_arrival: Timestamp,
    /// Transmissions inside the link now.
    pub in_flight: u32,
    /// Transmissions offered to this direction so far (numbers scripted drops).
    pub offered: u64,
}

impl Direction {
    pub fn new(config: LinkConfig, kind: LinkKind, rng: SimRng) -> Self {
        Self {
            config,
            kind,
            rng,
            bag: Vec::new(),
            burst: false,
            previous_jitter: 0.0,
            busy_until: Timestamp::ZERO,
            last_arrival: Timestamp::ZERO,
            in_flight: 0,
            offered: 0,
        }
    }

    /// Forgets everything in flight (a byte-stream link that was reset).
    pub fn reset(&mut self, now: Timestamp) {
        self.busy_until = now;
        self.last_arrival = now;
        self.in_flight = 0;
    }

    fn lost(&mut self) -> bool {
        match self.config.loss {
            LossModel::None => false,
            LossModel::Random { probability } => self.rng.chance(probability),
            LossModel::Bag { lost, bag } => {
                if self.bag.is_empty() {
                    self.bag.extend(0..bag);
                }
                let pick = self.rng.below(self.bag.len() as u64) as usize;
                self.bag.swap_remove(pick) < lost
            }
            LossModel::GilbertElliott {
                good_to_bad,
                bad_to_good,
                loss_in_good,
                loss_in_bad,
            } => {
                let flip = if self.burst { bad_to_good } else { good_to_bad };
                if self.rng.chance(flip) {
                    self.burst = !self.burst;
                }
                self.rng.chance(if self.burst {
                    loss_in_bad
                } else {
                    loss_in_good
                })
            }
        }
    }

    fn jitter(&mut self) -> Duration {
        let range = self.config.jitter.as_nanos() as f64;
        if range == 0.0 {
            return Duration::ZERO;
        }
        let fresh = self.rng.next_f64() * range;
        let correlation = self.config.jitter_correlation;
        let sample = correlation * self.previous_jitter + (1.0 - correlation) * fresh;
        self.previous_jitter = sample;
        let mut nanos = sample as u64;
        if let Some(step) = self.config.jitter_granularity {
            let step = step.as_nanos() as u64;
            nanos -= nanos % step;
        }
        Duration::from_nanos(nanos)
    }

    /// Serialisation time of `len` bytes at the link rate.
    fn serialisation(&self, len: usize) -> Duration {
        match self.config.bandwidth_bps {
            None => Duration::ZERO,
            Some(bps) => {
                Duration::from_nanos(((len as u128 * 8 * 1_000_000_000) / u128::from(bps)) as u64)
            }
        }
    }

    /// Decides the fate of `len` bytes offered at `now`. `partitioned` and `scripted_drop` come
    /// from the scenario's faults.
    pub fn offer(
        &mut self,
        now: Timestamp,
        len: usize,
        partitioned: bool,
        scripted_drop: bool,
    ) -> Fate {
        self.offered += 1;
        let datagram = self.kind == LinkKind::Datagram;
        if datagram && self.config.mtu.is_some_and(|mtu| len > mtu as usize) {
            return Fate::Dropped(DropCause::Mtu);
        }
        if partitioned {
            return Fate::Dropped(DropCause::Partition);
        }
        if scripted_drop {
            return Fate::Dropped(DropCause::Scripted);
        }
        if datagram && self.lost() {
            return Fate::Dropped(DropCause::Loss);
        }
        if datagram
            && self
                .config
                .max_in_flight
                .is_some_and(|max| self.in_flight >= max)
        {
            return Fate::Dropped(DropCause::QueueFull);
        }
        let start = self.busy_until.max(now);
        if let (Some(limit), Some(bps)) = (self.config.queue_bytes, self.config.bandwidth_bps) {
            let backlog = ((start - now).as_nanos() * u128::from(bps) / 8_000_000_000) as u64;
            if datagram && backlog + len as u64 > limit {
                return Fate::Dropped(DropCause::QueueFull);
            }
        }
        let departure = start + self.serialisation(len);
        self.busy_until = departure;
        let mut arrival = departure + self.config.delay + self.jitter();
        let reordered = datagram && self.rng.chance(self.config.reorder);
        if reordered {
            arrival += self.config.reorder_delay;
        } else if self.config.fifo || !datagram {
            arrival = arrival.max(self.last_arrival);
            self.last_arrival = arrival;
        }
        let duplicate = (datagram && self.rng.chance(self.config.duplicate)).then_some(arrival);
        self.in_flight += 1 + u32::from(duplicate.is_some());
        Fate::Delivered { arrival, duplicate }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direction(config: LinkConfig) -> Direction {
        Direction::new(config, LinkKind::Datagram, SimRng::new(1))
    }

    fn arrival(fate: Fate) -> Timestamp {
        match fate {
            Fate::Delivered { arrival, .. } => arrival,
            Fate::Dropped(cause) => panic!("dropped: {cause:?}"),
        }
    }

    #[test]
    fn bag_loses_exactly_its_share() {
        let mut d = direction(LinkConfig {
            loss: LossModel::Bag { lost: 5, bag: 100 },
            ..Default::default()
        });
        for _ in 0..10 {
            let lost = (0..100)
                .filter(|_| {
                    matches!(
                        d.offer(Timestamp::ZERO, 10, false, false),
                        Fate::Dropped(DropCause::Loss)
                    )
                })
                .count();
            assert_eq!(lost, 5);
        }
    }

    #[test]
    fn bandwidth_serialises_and_queue_tail_drops() {
        // 8 Mbit/s: 1,000 bytes take 1 ms.
        let mut d = direction(LinkConfig {
            bandwidth_bps: Some(8_000_000),
            queue_bytes: Some(2_500),
            delay: Duration::from_millis(10),
            ..Default::default()
        });
        let t0 = Timestamp::ZERO;
        assert_eq!(
            arrival(d.offer(t0, 1_000, false, false)),
            Timestamp::from_millis(11)
        );
        assert_eq!(
            arrival(d.offer(t0, 1_000, false, false)),
            Timestamp::from_millis(12)
        );
        // 2,000 bytes are still to be serialised: a third 1,000 would exceed 2,500.
        assert_eq!(
            d.offer(t0, 1_000, false, false),
            Fate::Dropped(DropCause::QueueFull)
        );
        // A millisecond later 1,000 bytes have drained, and it fits.
        assert_eq!(
            arrival(d.offer(Timestamp::from_millis(1), 1_000, false, false)),
            Timestamp::from_millis(13)
        );
    }

    #[test]
    fn fifo_holds_fast_packets_behind_slow_ones() {
        let mut d = direction(LinkConfig {
            delay: Duration::from_millis(30),
            jitter: Duration::from_millis(32),
            jitter_granularity: Some(Duration::from_millis(1)),
            ..Default::default()
        });
        let mut last = Timestamp::ZERO;
        for ms in 0..1_000 {
            let t = arrival(d.offer(Timestamp::from_millis(ms), 8, false, false));
            assert!(t >= last);
            assert_eq!(t.as_nanos() % 1_000_000, 0, "whole milliseconds");
            let delay = t - Timestamp::from_millis(ms);
            assert!(delay >= Duration::from_millis(30));
            last = t;
        }
    }

    #[test]
    fn mtu_and_in_flight_limits_drop() {
        let mut d = direction(LinkConfig {
            mtu: Some(100),
            max_in_flight: Some(1),
            ..Default::default()
        });
        assert_eq!(
            d.offer(Timestamp::ZERO, 101, false, false),
            Fate::Dropped(DropCause::Mtu)
        );
        arrival(d.offer(Timestamp::ZERO, 100, false, false));
        assert_eq!(
            d.offer(Timestamp::ZERO, 100, false, false),
            Fate::Dropped(DropCause::QueueFull)
        );
    }
}
