//! A deterministic network simulator for atbus.
//!
//! `atbus-sim` will drive any sans-IO endpoint — atbus nodes from `atbus-core`, and for
//! comparison peers such as the `kcp` and `quinn-proto` crates — over simulated links with
//! delay, jitter, loss, reordering, bandwidth limits and partitions, in virtual time that jumps
//! straight to the next event. The same seed and scenario always produce the same trace, so
//! every protocol rule can be tested under hostile networks in CI and every failure replayed.
//!
//! Status: this crate is a placeholder in the workspace; the simulator is built by the issue
//! "atbus-sim: a deterministic network simulator". Today it only re-exports the core so that the
//! dependency direction (simulator → core, never the reverse) is fixed from the start.

#![forbid(unsafe_code)]

pub use atbus_core as core;
