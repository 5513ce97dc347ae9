//! Errors, split by operation: [`ImpairmentError`] for a configuration that makes no sense,
//! [`NetemError`] for starting a proxy.

use std::io;
use std::net::SocketAddr;

use crate::stats::Direction;

/// An [`Impairments`](crate::Impairments) value that cannot be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ImpairmentError {
    /// A probability outside `[0, 1]` (or NaN).
    #[error("{field} must be a probability in [0, 1], got {value}")]
    Probability {
        /// The field, for example `"loss"` or `"burst_loss.p"`.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// A rate limit of zero bytes per second would never send anything.
    #[error("a rate limit needs a rate above zero bytes per second")]
    ZeroRate,
    /// A rate-limit queue of zero bytes would drop every packet.
    #[error("a rate limit needs a queue of at least one byte")]
    ZeroQueue,
    /// A reorder probability without a reorder delay would hold nothing back.
    #[error("reorder probability {reorder} needs a non-zero reorder delay")]
    ReorderWithoutDelay {
        /// The reorder probability given.
        reorder: f64,
    },
}

/// Why [`Proxy::spawn`](crate::Proxy::spawn) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetemError {
    /// The listening socket could not be bound.
    #[error("cannot bind the proxy on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The impairments of one direction are invalid.
    #[error("invalid impairments for {direction}: {source}")]
    Impairments {
        /// The direction they were meant for.
        direction: Direction,
        /// What is wrong with them.
        #[source]
        source: ImpairmentError,
    },
    /// `max_clients` or `max_in_flight_bytes` is zero: the proxy would forward nothing.
    #[error("{field} must be above zero")]
    ZeroLimit {
        /// The configuration field.
        field: &'static str,
    },
}
