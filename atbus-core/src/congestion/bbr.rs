//! A BBR-like congestion controller (after BBR v1): pace at the measured bottleneck bandwidth,
//! keep about two bandwidth-delay products in flight, and do not treat random loss or jitter as
//! congestion — what Wi-Fi and mobile paths need.
//!
//! ```text
//!   Startup ──bandwidth stopped growing (3 rounds < +25 %)──▶ Drain ──in flight ≤ BDP──▶ ProbeBw
//!   (pacing gain 2.89)                                        (gain 1/2.89)              (gains 1.25, 0.75, 1 × 6,
//!                                                                                         one phase per min RTT)
//! ```
//!
//! Model: every acknowledged packet gives a delivery-rate sample — bytes delivered between its
//! sending and its acknowledgement, over that time. The bottleneck bandwidth is the maximum
//! sample over the last 10 rounds (app-limited samples count only when they raise it); the
//! minimum RTT comes from the connection. Window = 2 × bandwidth × min RTT (at least four
//! packets) plus the ack aggregation allowance; pacing rate = gain × bandwidth. Losses do not
//! reduce either; persistent congestion (three probe timeouts in a row) restarts from Startup.
//!
//! Ack aggregation (as Linux BBR's `extra_acked`): acknowledgements that arrive in bursts —
//! a receiver that reads a batch of datagrams and answers once, GRO, Wi-Fi — deliver more in a
//! burst than the bandwidth explains, then nothing for a while. A window of 2 × BDP from the
//! *idle* minimum RTT then runs dry between bursts, and the sender waits with the link idle.
//! Each "ack epoch" measures the bytes acknowledged beyond `bandwidth × time` since the epoch
//! began (it restarts whenever acknowledgements fall behind the bandwidth); the maximum excess
//! over the last 10 rounds, at most 100 ms at the bandwidth, is added to the window once the
//! pipe is full (Drain and ProbeBw, as Linux; Startup's gain covers bursts). On loopback this
//! took atbus-tokio UDP (B4) from 172 to 335 MB/s; the simulated B3 links do not move.
//!
//! Left out, knowingly: ProbeRTT (the minimum RTT is never re-measured by draining the queue),
//! and BBR v2's loss and ECN bounds.

use std::time::Duration;

use super::windowed_max::WindowedMax;
use super::{CongestionController, SentPacketInfo};
use crate::Timestamp;
use crate::connection::packet_map::PacketMap;

const STARTUP_GAIN: f64 = 2.885;
const PROBE_GAINS: [f64; 8] = [1.25, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
const BANDWIDTH_WINDOW_ROUNDS: u64 = 10;
const FULL_PIPE_ROUNDS: u32 = 3;
/// An ack epoch restarts after this many bytes (as Linux BBR), so the excess stays recent.
const MAX_ACK_EPOCH_BYTES: u64 = 1 << 20;
/// Largest ack aggregation allowance, in time at the bandwidth.
const MAX_EXTRA_ACKED: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Startup,
    Drain,
    ProbeBw {
        phase: usize,
        phase_start: Timestamp,
    },
}

/// What was known when a packet left, for its delivery-rate sample.
#[derive(Debug, Clone, Copy)]
struct PacketState {
    delivered: u64,
    delivered_time: Timestamp,
    app_limited: bool,
}

/// BBR-like controller state.
#[derive(Debug, Clone)]
pub struct Bbr {
    max_datagram: u64,
    initial_rtt: Duration,
    state: State,
    packets: PacketMap<PacketState>,
    delivered: u64,
    delivered_time: Timestamp,
    round: u64,
    next_round_delivered: u64,
    bandwidth: WindowedMax,
    full_bandwidth: u64,
    full_bandwidth_rounds: u32,
    min_rtt: Option<Duration>,
    bytes_in_flight: u64,
    /// When the current ack epoch began, and the bytes acknowledged in it.
    ack_epoch: Option<(Timestamp, u64)>,
    /// Most bytes acknowledged beyond the bandwidth in an epoch, over the last rounds.
    extra_acked: WindowedMax,
    /// The window and pacing rate, computed when their inputs change (acknowledgements,
    /// persistent congestion) rather than on each of the several reads per packet.
    window: u64,
    pacing_rate: u64,
}

impl Bbr {
    /// A controller for packets of up to `max_datagram` bytes, assuming `initial_rtt`.
    pub fn new(max_datagram: u64, initial_rtt: Duration) -> Self {
        let mut bbr = Self {
            max_datagram,
            initial_rtt,
            state: State::Startup,
            packets: PacketMap::default(),
            delivered: 0,
            delivered_time: Timestamp::ZERO,
            round: 0,
            next_round_delivered: 0,
            bandwidth: WindowedMax::new(BANDWIDTH_WINDOW_ROUNDS),
            full_bandwidth: 0,
            full_bandwidth_rounds: 0,
            min_rtt: None,
            bytes_in_flight: 0,
            ack_epoch: None,
            extra_acked: WindowedMax::new(BANDWIDTH_WINDOW_ROUNDS),
            window: 0,
            pacing_rate: 0,
        };
        bbr.refresh();
        bbr
    }

    /// Recomputes the window and pacing rate from the estimates.
    fn refresh(&mut self) {
        self.window = self.compute_window();
        self.pacing_rate = self.compute_pacing_rate();
    }

    fn compute_window(&self) -> u64 {
        let floor = 4 * self.max_datagram;
        match self.bdp() {
            Some(bdp) => {
                // As Linux, only once the pipe is full: Startup's gain already covers bursts.
                let extra = match self.state {
                    State::Startup => 0,
                    State::Drain | State::ProbeBw { .. } => self.extra_acked.get(),
                };
                ((bdp as f64 * self.cwnd_gain()) as u64 + extra).max(floor)
            }
            None => 10 * self.max_datagram,
        }
    }

    fn compute_pacing_rate(&self) -> u64 {
        let bandwidth = self.bandwidth.get();
        let rate = if bandwidth == 0 {
            // Before any sample: the initial window per initial RTT, with the startup gain.
            (10 * self.max_datagram) as f64 / self.initial_rtt.as_secs_f64() * STARTUP_GAIN
        } else {
            bandwidth as f64 * self.pacing_gain()
        };
        rate.max(1.0) as u64
    }

    /// Bottleneck bandwidth estimate in bytes per second (0 before the first sample).
    pub fn bandwidth(&self) -> u64 {
        self.bandwidth.get()
    }

    fn bdp(&self) -> Option<u64> {
        let bandwidth = self.bandwidth.get();
        let rtt = self.min_rtt?;
        (bandwidth > 0).then_some((bandwidth as f64 * rtt.as_secs_f64()) as u64)
    }

    /// Measures how far acknowledgements ran ahead of the bandwidth in this epoch.
    fn update_ack_aggregation(&mut self, now: Timestamp, acked: u64) {
        let bandwidth = self.bandwidth.get();
        if bandwidth == 0 {
            return;
        }
        let (start, mut epoch_acked) = self.ack_epoch.unwrap_or((now, 0));
        let mut expected = (bandwidth as f64 * (now - start).as_secs_f64()) as u64;
        let mut start = start;
        if epoch_acked <= expected || epoch_acked + acked >= MAX_ACK_EPOCH_BYTES {
            // Acknowledgements caught up with (or fell behind) the bandwidth: a new epoch.
            start = now;
            epoch_acked = 0;
            expected = 0;
        }
        epoch_acked += acked;
        self.ack_epoch = Some((start, epoch_acked));
        let cap = (bandwidth as f64 * MAX_EXTRA_ACKED.as_secs_f64()) as u64;
        let extra = epoch_acked.saturating_sub(expected).min(cap);
        self.extra_acked.update(self.round, extra);
    }

    fn pacing_gain(&self) -> f64 {
        match self.state {
            State::Startup => STARTUP_GAIN,
            State::Drain => 1.0 / STARTUP_GAIN,
            State::ProbeBw { phase, .. } => PROBE_GAINS[phase],
        }
    }

    fn cwnd_gain(&self) -> f64 {
        match self.state {
            State::Startup | State::Drain => STARTUP_GAIN,
            State::ProbeBw { .. } => 2.0,
        }
    }

    fn advance_state(&mut self, now: Timestamp, round_ended: bool) {
        match self.state {
            State::Startup => {
                if round_ended {
                    let bandwidth = self.bandwidth.get();
                    if bandwidth as f64 >= self.full_bandwidth as f64 * 1.25 {
                        self.full_bandwidth = bandwidth;
                        self.full_bandwidth_rounds = 0;
                    } else {
                        self.full_bandwidth_rounds += 1;
                        if self.full_bandwidth_rounds >= FULL_PIPE_ROUNDS {
                            self.state = State::Drain;
                        }
                    }
                }
            }
            State::Drain => {
                if self.bdp().is_some_and(|bdp| self.bytes_in_flight <= bdp) {
                    self.state = State::ProbeBw {
                        phase: 0,
                        phase_start: now,
                    };
                }
            }
            State::ProbeBw { phase, phase_start } => {
                let rtt = self.min_rtt.unwrap_or(self.initial_rtt);
                if now - phase_start >= rtt {
                    self.state = State::ProbeBw {
                        phase: (phase + 1) % PROBE_GAINS.len(),
                        phase_start: now,
                    };
                }
            }
        }
    }
}

impl CongestionController for Bbr {
    fn on_sent(&mut self, sent: &SentPacketInfo) {
        if sent.bytes_in_flight == 0 {
            // Restarting from idle: rate samples start from now.
            self.delivered_time = sent.time;
        }
        self.bytes_in_flight = sent.bytes_in_flight + sent.bytes;
        self.packets.insert(
            sent.packet_number,
            PacketState {
                delivered: self.delivered,
                delivered_time: self.delivered_time,
                app_limited: sent.app_limited,
            },
        );
    }

    fn on_ack(
        &mut self,
        now: Timestamp,
        packet_number: u64,
        _sent_at: Timestamp,
        bytes: u64,
        _rtt: Duration,
        min_rtt: Duration,
    ) {
        self.min_rtt = Some(min_rtt);
        self.bytes_in_flight = self.bytes_in_flight.saturating_sub(bytes);
        self.delivered += bytes;
        self.delivered_time = now;
        let Some(packet) = self.packets.remove(packet_number) else {
            self.refresh();
            return;
        };
        let round_ended = packet.delivered >= self.next_round_delivered;
        if round_ended {
            self.round += 1;
            self.next_round_delivered = self.delivered;
        }
        let interval = now - packet.delivered_time;
        if !interval.is_zero() {
            let rate = ((self.delivered - packet.delivered) as f64 / interval.as_secs_f64()) as u64;
            if !packet.app_limited || rate > self.bandwidth.get() {
                self.bandwidth.update(self.round, rate);
            }
        }
        self.update_ack_aggregation(now, bytes);
        self.advance_state(now, round_ended);
        self.refresh();
    }

    fn on_lost(&mut self, packet_number: u64, bytes: u64) {
        self.packets.remove(packet_number);
        self.bytes_in_flight = self.bytes_in_flight.saturating_sub(bytes);
    }

    fn on_congestion_event(&mut self, _now: Timestamp, _latest_sent_at: Timestamp) {
        // Random loss is not congestion; the bandwidth estimate already reflects real queues.
    }

    fn on_persistent_congestion(&mut self) {
        self.bandwidth = WindowedMax::new(BANDWIDTH_WINDOW_ROUNDS);
        self.full_bandwidth = 0;
        self.full_bandwidth_rounds = 0;
        self.state = State::Startup;
        self.refresh();
    }

    fn window(&self) -> u64 {
        self.window
    }

    fn pacing_rate(&self) -> Option<u64> {
        Some(self.pacing_rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `bbr` on a path of `rate` bytes per second and `rtt` for `duration`, in 1 ms
    /// steps. Acknowledgements due are released only every `ack_batch` (a receiver that
    /// answers once per batch). Returns the bytes delivered.
    fn run_path(
        bbr: &mut Bbr,
        rate: u64,
        rtt: Duration,
        ack_batch: Duration,
        duration: Duration,
    ) -> u64 {
        let mut link_free = Timestamp::ZERO;
        let mut in_flight: Vec<(u64, Timestamp, Timestamp)> = Vec::new();
        let mut now = Timestamp::ZERO;
        let mut number = 0;
        let mut bytes_in_flight = 0;
        let mut credit = 0.0;
        let mut delivered = 0;
        let end = Timestamp::ZERO + duration;
        while now < end {
            // Send while the window and the pacer allow (pacing credit accrues per millisecond).
            credit = (credit + bbr.pacing_rate().unwrap() as f64 / 1_000.0).min(2_000.0);
            while bytes_in_flight + 1_000 <= bbr.window() && credit >= 1_000.0 {
                credit -= 1_000.0;
                number += 1;
                bbr.on_sent(&SentPacketInfo {
                    packet_number: number,
                    time: now,
                    bytes: 1_000,
                    bytes_in_flight,
                    app_limited: false,
                });
                bytes_in_flight += 1_000;
                link_free = link_free.max(now) + Duration::from_micros(1_000_000 * 1_000 / rate);
                in_flight.push((number, now, link_free + rtt));
            }
            now += Duration::from_millis(1);
            if (now - Timestamp::ZERO).as_nanos() % ack_batch.as_nanos() != 0 {
                continue;
            }
            in_flight.retain(|&(n, sent, acked_at)| {
                if acked_at <= now {
                    bbr.on_ack(now, n, sent, 1_000, rtt, rtt);
                    bytes_in_flight -= 1_000;
                    delivered += 1_000;
                    false
                } else {
                    true
                }
            });
        }
        delivered
    }

    /// A sender on a 1 MB/s, 100 ms path: each packet is acknowledged RTT + queueing later.
    #[test]
    fn finds_the_bottleneck_and_leaves_startup() {
        let mut bbr = Bbr::new(1_000, Duration::from_millis(100));
        let rate = 1_000_000u64; // bytes per second
        let rtt = Duration::from_millis(100);
        let second = Duration::from_secs(1);
        run_path(&mut bbr, rate, rtt, Duration::from_millis(1), 5 * second);
        assert!(
            matches!(bbr.state, State::ProbeBw { .. }),
            "{:?}",
            bbr.state
        );
        let estimate = bbr.bandwidth() as f64;
        assert!(
            (estimate - rate as f64).abs() < 0.1 * rate as f64,
            "estimate {estimate}"
        );
        // About two bandwidth-delay products in flight (smooth acknowledgements: little
        // aggregation allowance).
        assert!(
            (150_000..=260_000).contains(&bbr.window()),
            "{}",
            bbr.window()
        );
        // Loss does not shrink it.
        let before = bbr.window();
        let now = Timestamp::ZERO + 5 * second;
        bbr.on_congestion_event(now, now);
        assert_eq!(bbr.window(), before);
    }

    /// Acknowledgements released in bursts every 20 ms on a 10 ms path: a window of 2 × BDP
    /// (20 KB) runs dry between bursts; the aggregation allowance keeps the link busy.
    #[test]
    fn bursts_of_acknowledgements_widen_the_window_and_keep_the_link_busy() {
        let mut bbr = Bbr::new(1_000, Duration::from_millis(100));
        let rate = 1_000_000u64;
        let rtt = Duration::from_millis(10);
        let seconds = 5;
        let delivered = run_path(
            &mut bbr,
            rate,
            rtt,
            Duration::from_millis(20),
            Duration::from_secs(seconds),
        );
        let bdp = rate / 100;
        assert!(
            bbr.window() >= 2 * bdp + 15_000,
            "window {} with the bursts",
            bbr.window()
        );
        assert!(
            delivered >= rate * seconds * 8 / 10,
            "delivered {delivered} of {} the link could carry",
            rate * seconds
        );
    }
}
