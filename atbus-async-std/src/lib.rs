//! The async-io / futures-io runtime adapter of atbus, for async-std and smol.
//!
//! `atbus-async-std` will offer the same API as `atbus-tokio`, built on the runtime-neutral
//! `async-io` and `futures-io` traits (async-std itself is deprecated upstream), so that it serves
//! both async-std and smol users. The loop that drives a node is shared with the tokio adapter,
//! not written twice.
//!
//! Status: placeholder; the adapter is built by the issue "Runtime adapters". Today it only
//! re-exports the core.

#![forbid(unsafe_code)]

pub use atbus_core as core;
