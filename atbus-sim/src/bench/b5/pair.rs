//! A lock-step harness that moves messages through two protocol stacks in memory: the sender
//! queues a message, its datagrams go straight into the receiver, the receiver's datagrams
//! (acknowledgements) straight back, and time advances by a fixed step per message.

use std::time::Duration;

use bytes::Bytes;

use atbus_core::Timestamp;

/// One side of the pair, as the harness drives it.
pub trait Peer {
    /// Whether the side can carry messages (its handshake, if any, is over).
    fn ready(&self) -> bool;
    /// The application sends `message` to the other side (one stream, in order).
    fn send(&mut self, now: Timestamp, message: Bytes);
    /// The next datagram to carry to the other side.
    fn poll_transmit(&mut self, now: Timestamp) -> Option<Bytes>;
    /// A datagram from the other side arrived.
    fn handle_datagram(&mut self, now: Timestamp, datagram: Bytes);
    /// The next message delivered to the application.
    fn poll_delivered(&mut self) -> Option<Bytes>;
    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    fn poll_timeout(&mut self) -> Option<Timestamp>;
    /// A timeout expired.
    fn handle_timeout(&mut self, now: Timestamp);
}

/// What a workload did, for a check that it really ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PairOutcome {
    /// Messages delivered to the receiver, in order and intact.
    pub delivered: u64,
    /// Datagrams carried, both ways (handshake included).
    pub datagrams: u64,
    /// Datagram bytes carried, both ways.
    pub bytes: u64,
}

/// Virtual time between two messages: 100 µs (10,000 messages a second).
pub const STEP: Duration = Duration::from_micros(100);

/// Most steps the handshake and the final drain may take.
const MAX_IDLE_STEPS: u64 = 100_000;

/// The message with sequence number `seq`: `size` bytes, the number first.
pub fn message(seq: u64, size: usize) -> Bytes {
    let mut data = [0u8; 256];
    data[..8].copy_from_slice(&seq.to_le_bytes());
    Bytes::copy_from_slice(&data[..size.clamp(8, data.len())])
}

struct Driver {
    now: Timestamp,
    outcome: PairOutcome,
    expected_size: usize,
}

impl Driver {
    fn check(&mut self, message: Bytes) {
        let seq = u64::from_le_bytes(message[..8].try_into().expect("8 bytes"));
        assert_eq!(seq, self.outcome.delivered, "messages out of order or lost");
        assert_eq!(message.len(), self.expected_size, "message resized");
        self.outcome.delivered += 1;
    }

    /// Carries datagrams both ways until neither side has anything to send.
    fn exchange<P: Peer>(&mut self, a: &mut P, b: &mut P) {
        loop {
            let mut moved = false;
            while let Some(datagram) = a.poll_transmit(self.now) {
                self.outcome.datagrams += 1;
                self.outcome.bytes += datagram.len() as u64;
                b.handle_datagram(self.now, datagram);
                moved = true;
            }
            while let Some(message) = b.poll_delivered() {
                self.check(message);
            }
            while let Some(datagram) = b.poll_transmit(self.now) {
                self.outcome.datagrams += 1;
                self.outcome.bytes += datagram.len() as u64;
                a.handle_datagram(self.now, datagram);
                moved = true;
            }
            // The sender receives nothing but acknowledgements.
            while a.poll_delivered().is_some() {}
            if !moved {
                return;
            }
        }
    }

    /// Advances time by one step and runs the timers that came due.
    fn tick<P: Peer>(&mut self, a: &mut P, b: &mut P) {
        self.now += STEP;
        for side in [&mut *a, &mut *b] {
            if side.poll_timeout().is_some_and(|t| t <= self.now) {
                side.handle_timeout(self.now);
            }
        }
        self.exchange(a, b);
    }
}

/// Sends `count` messages of `size` bytes from `a` to `b`, one per [`STEP`], after the sides are
/// ready, and runs until every one is delivered.
///
/// # Panics
///
/// If a message is lost, reordered or altered, or the pair stops making progress.
pub fn run<P: Peer>(a: &mut P, b: &mut P, count: u64, size: usize) -> PairOutcome {
    let mut driver = Driver {
        now: Timestamp::ZERO,
        outcome: PairOutcome::default(),
        expected_size: size.clamp(8, 256),
    };
    driver.exchange(a, b);
    let mut idle = 0;
    while !(a.ready() && b.ready()) {
        driver.tick(a, b);
        idle += 1;
        assert!(idle < MAX_IDLE_STEPS, "the handshake does not complete");
    }
    for seq in 0..count {
        a.send(driver.now, message(seq, size));
        driver.exchange(a, b);
        driver.tick(a, b);
    }
    let mut idle = 0;
    while driver.outcome.delivered < count {
        driver.tick(a, b);
        idle += 1;
        assert!(idle < MAX_IDLE_STEPS, "messages are not delivered");
    }
    driver.outcome
}
