//! The async-io / futures-io runtime adapter of atbus, for async-std and smol.
//!
//! Everything but the runtime lives in `atbus-driver` (the run loop, the socket tasks, the
//! [`Bus`] API, `mem://` links); this crate supplies the runtime on the smol-rs building blocks
//! that async-std and smol share, so it serves both (async-std itself is deprecated upstream in
//! favour of smol):
//!
//! - sockets and timers on `async-io`'s reactor and `async-net`'s sockets;
//! - TCP with `TCP_NODELAY` (the node batches its own writes; the writer task gathers queued
//!   frames into one write);
//! - UDP: one socket per listen address serves every peer (demultiplexed by source address),
//!   with 4 MiB socket buffers asked for;
//! - Unix-domain stream sockets (on Unix platforms);
//! - tasks on the executor you choose: `AsyncIoRuntime::smol()` (feature `smol`),
//!   `AsyncIoRuntime::async_std()` (feature `async-std`), or any spawner with
//!   [`AsyncIoRuntime::new`].
//!
//! ```no_run
//! # #[cfg(feature = "smol")]
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use atbus_async_std::{AsyncIoRuntime, Bus, BusConfig};
//!
//! let mut config = BusConfig::new("game-1");
//! config.listen = vec!["tcp://127.0.0.1:0".into(), "udp://127.0.0.1:0".into()];
//! let bus: Bus = atbus_async_std::start(AsyncIoRuntime::smol(), config).await?;
//! bus.send("chat-1", 1, b"hello".to_vec().into()).await?;
//! if let Some(message) = bus.recv().await {
//!     println!("{} says {:?}", message.from, message.data);
//! }
//! bus.shutdown(std::time::Duration::from_secs(1)).await;
//! # Ok(()) }
//! ```
//!
//! Unlike tokio, async-io has no "current runtime" to find: both executors are global and
//! may be compiled in together, so [`start`] takes the runtime by name.

#![forbid(unsafe_code)]

mod runtime;

use std::sync::Arc;

pub use atbus_core as core;
pub use atbus_driver::{
    Bus, BusConfig, BusEvent, BusMetrics, FileConfig, Message, Messages, SendError, ShutdownReport,
    StartError,
};
pub use runtime::AsyncIoRuntime;

/// Starts a bus whose tasks run on `runtime`'s executor.
pub async fn start(runtime: AsyncIoRuntime, config: BusConfig) -> Result<Bus, StartError> {
    Bus::start(Arc::new(runtime), config).await
}
