//! The tokio runtime adapter of atbus.
//!
//! Everything but the runtime lives in `atbus-driver` (the run loop, the socket tasks, the
//! [`Bus`] API); this crate supplies tokio's tasks, timers and sockets:
//!
//! - TCP with `TCP_NODELAY` (the node batches its own writes; the writer task gathers queued
//!   frames into one write);
//! - UDP: one socket per listen address serves every peer (demultiplexed by source address),
//!   with 4 MiB socket buffers asked for;
//! - Unix-domain stream sockets;
//! - `mem://` links between nodes of the same process (from `atbus-driver`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use atbus_tokio::{Bus, BusConfig};
//!
//! let mut config = BusConfig::new("game-1");
//! config.listen = vec!["tcp://127.0.0.1:0".into(), "udp://127.0.0.1:0".into()];
//! let bus = atbus_tokio::start(config).await?;
//! bus.send("chat-1", 1, bytes::Bytes::from_static(b"hello")).await?;
//! if let Some(message) = bus.recv().await {
//!     println!("{} says {:?}", message.from, message.data);
//! }
//! bus.shutdown(std::time::Duration::from_secs(1)).await;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod runtime;
mod vectored;

use std::sync::Arc;

pub use atbus_core as core;
pub use atbus_driver::{
    Bus, BusConfig, BusEvent, BusMetrics, FileConfig, Message, Messages, SendError, ShutdownReport,
    StartError,
};
pub use runtime::TokioRuntime;

/// Starts a bus on the current tokio runtime.
pub async fn start(config: BusConfig) -> Result<Bus, StartError> {
    Bus::start(Arc::new(TokioRuntime::current()), config).await
}
