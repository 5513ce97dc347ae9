//! B5: CPU per message, counted in instructions.
//!
//! A 64-byte message goes through two protocol stacks in memory — send → transmit → input →
//! delivered, acknowledgements back the same way — in the lock-step [`pair`] harness, one
//! message per 100 µs of virtual time, for atbus ([`peers::AtbusPeer`]) and quinn-proto
//! ([`peers::QuinnPeer`]). The runner ([`callgrind`]) runs the workload of each stack under
//! `valgrind --tool=callgrind` for two message counts and reports
//! (I₂ − I₁) / (N₂ − N₁): setup (process start, the TLS certificate, quinn's handshake, atbus's
//! first path-MTU probes) is the same in both runs and cancels. The same is measured for
//! [`peers::LoopbackPeer`], which has no protocol, to show what the harness itself costs.

pub mod callgrind;
pub mod pair;
pub mod peers;

pub use self::callgrind::{B5Error, B5Figure, measure};
pub use self::pair::PairOutcome;

/// Bytes per message.
pub const MESSAGE_SIZE: usize = 64;

/// The two message counts whose difference is measured.
pub const COUNTS: (u64, u64) = (1_000, 11_000);

/// A stack B5 measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    /// An atbus datagram connection pair, default settings.
    Atbus,
    /// A quinn-proto endpoint and connection pair.
    Quinn,
    /// The harness alone: messages passed through as datagrams.
    Loopback,
}

impl Stack {
    /// Every stack, in the order of the table.
    pub const ALL: [Stack; 3] = [Stack::Atbus, Stack::Quinn, Stack::Loopback];

    /// Its name on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Stack::Atbus => "atbus",
            Stack::Quinn => "quinn",
            Stack::Loopback => "loopback",
        }
    }

    /// The stack called `name`.
    pub fn by_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Runs the workload: `count` messages of [`MESSAGE_SIZE`] bytes through a fresh pair of
/// `stack`.
///
/// # Panics
///
/// If a message is lost, reordered or altered (the stacks are reliable and the wire is perfect).
pub fn workload(stack: Stack, count: u64) -> PairOutcome {
    match stack {
        Stack::Atbus => {
            let (mut a, mut b) = (peers::AtbusPeer::new(), peers::AtbusPeer::new());
            pair::run(&mut a, &mut b, count, MESSAGE_SIZE)
        }
        Stack::Quinn => {
            let (mut a, mut b) = peers::QuinnPeer::pair();
            pair::run(&mut a, &mut b, count, MESSAGE_SIZE)
        }
        Stack::Loopback => {
            let (mut a, mut b) = (
                peers::LoopbackPeer::default(),
                peers::LoopbackPeer::default(),
            );
            pair::run(&mut a, &mut b, count, MESSAGE_SIZE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stack_delivers_every_message() {
        for stack in Stack::ALL {
            let outcome = workload(stack, 300);
            assert_eq!(outcome.delivered, 300, "{}", stack.name());
            assert!(outcome.datagrams >= 300, "{}", stack.name());
        }
    }
}
