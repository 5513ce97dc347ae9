//! A userspace lossy UDP proxy for testing atbus over real sockets.
//!
//! Status: the impairment model (loss, burst loss, delay, jitter, duplication, reordering, rate
//! limits) and its counters; the proxy around it follows.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// The proxy that drives the impairer arrives in the next commit.
#![allow(dead_code)]

mod error;
mod impairer;
mod impairments;
mod rate;
mod stats;

pub use error::ImpairmentError;
pub use impairments::{BurstLoss, Impairments, RateLimit};
pub use stats::{Direction, DirectionStats, ProxyStats};
