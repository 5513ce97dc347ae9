//! The decisions of one direction, without IO: given a packet's arrival time and length, what
//! becomes of it ([`Verdict`]). The proxy's tasks carry the verdicts out on real sockets; unit
//! tests drive this with made-up times.
//!
//! Randomness comes from a ChaCha8 generator seeded from the proxy's seed and the direction, so
//! the same seed and the same arrival order give the same verdicts.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::impairments::Impairments;
use crate::rate::RateLimiter;

/// What becomes of one copy that survived loss and the rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Release {
    /// When to send it, as time since the proxy started.
    pub at: Duration,
    /// Whether it was held back to be reordered.
    pub reordered: bool,
}

/// What becomes of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Verdict {
    /// Lost by the loss model: nothing is sent.
    pub lost: bool,
    /// A second copy was made.
    pub duplicated: bool,
    /// Copies the rate limiter's full queue dropped.
    pub queue_dropped: u8,
    /// The copies to send: none, one, or two when duplicated.
    pub releases: [Option<Release>; 2],
}

/// One direction's impairments and the state they need between packets.
#[derive(Debug)]
pub(crate) struct Impairer {
    config: Impairments,
    rng: ChaCha8Rng,
    /// Gilbert–Elliott state: true while bad.
    bad: bool,
    rate: RateLimiter,
    /// Latest release of a copy that was not reordered, to keep those in order.
    last_release: Duration,
}

impl Impairer {
    /// An impairer for `config` (already validated), with its own random stream `stream` of
    /// `seed`.
    pub fn new(config: Impairments, seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Self {
            config,
            rng,
            bad: false,
            rate: RateLimiter::default(),
            last_release: Duration::ZERO,
        }
    }

    /// Replaces the impairments (already validated). The random stream, the burst state, the
    /// rate limiter's backlog and the FIFO order carry on.
    pub fn set(&mut self, config: Impairments) {
        if config.burst_loss.is_none() {
            self.bad = false;
        }
        self.config = config;
    }

    /// The impairments in force.
    pub fn config(&self) -> &Impairments {
        &self.config
    }

    /// What becomes of a packet of `len` bytes that arrived at `now`.
    pub fn judge(&mut self, now: Duration, len: usize) -> Verdict {
        let mut verdict = Verdict::default();
        if self.lose() {
            verdict.lost = true;
            return verdict;
        }
        verdict.duplicated = self.chance(self.config.duplicate);
        let copies = if verdict.duplicated { 2 } else { 1 };
        for slot in verdict.releases.iter_mut().take(copies) {
            match self.release(now, len) {
                Some(release) => *slot = Some(release),
                None => verdict.queue_dropped += 1,
            }
        }
        verdict
    }

    /// Steps the loss model once.
    fn lose(&mut self) -> bool {
        let Some(burst) = self.config.burst_loss else {
            return self.chance(self.config.loss);
        };
        let loss = if self.bad {
            burst.loss_in_bad
        } else {
            self.config.loss
        };
        let lost = self.chance(loss);
        let flip = if self.bad { burst.r } else { burst.p };
        if self.chance(flip) {
            self.bad = !self.bad;
        }
        lost
    }

    /// Rate limit, delay, jitter and reordering for one copy.
    fn release(&mut self, now: Duration, len: usize) -> Option<Release> {
        let sent = match self.config.rate {
            Some(limit) => self.rate.admit(&limit, now, len)?,
            None => now,
        };
        let mut at = sent + self.config.delay + self.jitter();
        if self.chance(self.config.reorder) {
            return Some(Release {
                at: at + self.config.reorder_delay,
                reordered: true,
            });
        }
        at = at.max(self.last_release);
        self.last_release = at;
        Some(Release {
            at,
            reordered: false,
        })
    }

    fn jitter(&mut self) -> Duration {
        let max = self.config.jitter.as_nanos().min(u128::from(u64::MAX)) as u64;
        if max == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.rng.random_range(0..=max))
        }
    }

    /// True with probability `p`; draws nothing for 0 and 1, so a perfect link costs no
    /// random numbers.
    fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            false
        } else if p >= 1.0 {
            true
        } else {
            self.rng.random::<f64>() < p
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impairments::{BurstLoss, RateLimit};

    const MS: Duration = Duration::from_millis(1);

    fn run(config: &Impairments, seed: u64, packets: u32) -> Vec<Verdict> {
        let mut imp = Impairer::new(config.clone(), seed, 0);
        (0..packets).map(|i| imp.judge(i * MS, 100)).collect()
    }

    #[test]
    fn a_perfect_link_sends_everything_at_once_in_order() {
        for (i, v) in run(&Impairments::none(), 1, 100).iter().enumerate() {
            assert!(!v.lost && !v.duplicated && v.queue_dropped == 0);
            let at = i as u32 * MS;
            assert_eq!(
                v.releases,
                [
                    Some(Release {
                        at,
                        reordered: false
                    }),
                    None
                ]
            );
        }
    }

    #[test]
    fn same_seed_same_verdicts_other_seed_others() {
        let config = Impairments {
            loss: 0.2,
            duplicate: 0.1,
            jitter: 5 * MS,
            reorder: 0.1,
            reorder_delay: 10 * MS,
            ..Impairments::default()
        };
        assert_eq!(run(&config, 7, 1000), run(&config, 7, 1000));
        assert_ne!(run(&config, 7, 1000), run(&config, 8, 1000));
        // The two directions draw from different streams of one seed.
        let mut up = Impairer::new(config.clone(), 7, 0);
        let mut down = Impairer::new(config, 7, 1);
        let a: Vec<_> = (0..100).map(|i| up.judge(i * MS, 1)).collect();
        let b: Vec<_> = (0..100).map(|i| down.judge(i * MS, 1)).collect();
        assert_ne!(a, b);
    }

    #[test]
    fn delay_is_a_floor_and_jitter_keeps_fifo() {
        let config = Impairments {
            delay: 20 * MS,
            jitter: 15 * MS,
            ..Impairments::default()
        };
        let mut last = Duration::ZERO;
        for (i, v) in run(&config, 3, 1000).iter().enumerate() {
            let r = v.releases[0].unwrap();
            let sent = i as u32 * MS;
            assert!(r.at >= sent + 20 * MS && r.at >= last);
            last = r.at;
        }
    }

    #[test]
    fn reordered_copies_are_held_back_and_others_stay_in_order() {
        let config = Impairments {
            reorder: 0.3,
            reorder_delay: 50 * MS,
            ..Impairments::default()
        };
        let verdicts = run(&config, 4, 1000);
        let held = verdicts
            .iter()
            .filter(|v| v.releases[0].unwrap().reordered)
            .count();
        assert!((200..400).contains(&held), "{held}");
        for (i, v) in verdicts.iter().enumerate() {
            let r = v.releases[0].unwrap();
            let sent = i as u32 * MS;
            assert_eq!(r.at, if r.reordered { sent + 50 * MS } else { sent });
        }
    }

    #[test]
    fn burst_loss_comes_in_runs() {
        // Classic Gilbert: lose everything while bad; bursts last 1 / r = 5 packets on average.
        let config = Impairments {
            burst_loss: Some(BurstLoss {
                p: 0.02,
                r: 0.2,
                loss_in_bad: 1.0,
            }),
            ..Impairments::default()
        };
        let lost: Vec<bool> = run(&config, 5, 100_000).iter().map(|v| v.lost).collect();
        let total = lost.iter().filter(|l| **l).count() as f64;
        let bursts = lost.windows(2).filter(|w| !w[0] && w[1]).count() as f64;
        let share = total / lost.len() as f64;
        // Mean loss p / (p + r) = 0.0909; mean burst 5.
        assert!((share - config.mean_loss()).abs() < 0.01, "{share}");
        assert!((4.0..6.0).contains(&(total / bursts)), "{}", total / bursts);
    }

    #[test]
    fn rate_limit_delays_and_drops_each_copy() {
        let config = Impairments {
            duplicate: 1.0,
            rate: Some(RateLimit {
                bytes_per_second: 1_000,
                queue_bytes: 250,
            }),
            ..Impairments::default()
        };
        let mut imp = Impairer::new(config, 1, 0);
        let v = imp.judge(Duration::ZERO, 100);
        assert!(v.duplicated);
        assert_eq!(v.releases[0].unwrap().at, 100 * MS);
        assert_eq!(v.releases[1].unwrap().at, 200 * MS);
        let v = imp.judge(Duration::ZERO, 100);
        assert_eq!(
            v.queue_dropped, 2,
            "200 bytes queued, 100 more would exceed 250"
        );
    }

    #[test]
    fn set_replaces_the_impairments() {
        let mut imp = Impairer::new(Impairments::none(), 1, 0);
        assert!(!imp.judge(Duration::ZERO, 1).lost);
        imp.set(Impairments::partition());
        assert!(imp.judge(Duration::ZERO, 1).lost);
        imp.set(Impairments::none());
        assert!(!imp.judge(Duration::ZERO, 1).lost);
    }
}
