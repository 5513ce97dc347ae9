//! The tokio runtime adapter of atbus.
//!
//! `atbus-tokio` will put the sans-IO node of `atbus-core` on real TCP, UDP, Unix-socket and
//! in-process links under tokio: it owns sockets, timers and tasks, drives the core by its drain
//! rule, and offers an async API (a builder, `send(..).await` with backpressure, streams of
//! received messages and peer events), etcd discovery and the relay service binary.
//!
//! Status: placeholder; the adapter is built by the issue "Runtime adapters". Today it only
//! re-exports the core.

#![forbid(unsafe_code)]

pub use atbus_core as core;
