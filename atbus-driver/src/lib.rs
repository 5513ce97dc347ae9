//! The runtime-independent half of atbus's adapters.
//!
//! `atbus-core` is sans-IO: a [`Node`](atbus_core::node::Node) never touches a socket or a
//! clock. This crate is the run loop around it, written once: the drain rule, the timer from
//! `poll_timeout`, the transports the node asks for (`Connect`), the socket tasks that move
//! bytes, and the async [`Bus`] API. An adapter (`atbus-tokio`, `atbus-async-std`) supplies
//! only a [`Runtime`]: spawning, timers, and TCP, UDP and Unix sockets. `mem://` links
//! between nodes of one process are built here, on in-memory pipes.
//!
//! ```text
//!   Bus handles ──commands──▶ ┌──────────────────────────┐ ──messages──▶ Bus::recv
//!                             │ run loop (one task)       │ ──events────▶ Bus::events
//!   socket tasks ──inputs───▶ │  Node: handle_* / poll_*  │
//!        ▲                    └──────────────────────────┘
//!        └──────────── writers' queues (bounded: backpressure) ◀──┘
//! ```
//!
//! - **Backpressure**: [`Bus::send`] waits while the peer's stream buffers are full or the
//!   queue for a peer without a session is; a byte stream whose writer queue is full is
//!   marked unwritable in the node, so the session's other transports take its data.
//! - **Shutdown**: [`Bus::shutdown`] waits up to its flush time for everything sent to be
//!   acknowledged, closes every session with close frames, and returns what was not
//!   delivered.
//! - **Receiving**: a message not yet taken ([`Bus::recv`], [`Messages`]) holds its session's
//!   flow-control credit, so an application that stops taking messages slows its peers
//!   instead of piling them up.

#![forbid(unsafe_code)]

mod bus;
mod config;
#[cfg(feature = "conformance")]
pub mod conformance;
mod datagram;
mod delivery;
mod driver;
mod input;
mod links;
mod listen;
mod memory;
mod runtime;
mod transmit_pool;

pub use bus::{
    Bus, BusConfig, BusEvent, BusMetrics, Message, SendError, ShutdownReport, StartError,
};
pub use config::FileConfig;
pub use delivery::Messages;
/// The batched UDP IO crate the driver uses, for adapters' [`DatagramSocket::try_io`].
pub use quinn_udp;
#[cfg(unix)]
pub use runtime::remove_stale_unix_socket;
pub use runtime::{BoxFuture, DatagramSocket, Direction, Runtime, StreamListener, StreamSocket};
