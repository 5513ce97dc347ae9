//! A userspace lossy UDP proxy for testing atbus over real sockets.
//!
//! `atbus-netem` sits between UDP clients and one server, like `tc netem` on a link but in a
//! process of its own, with no privileges and on any OS: it drops (independently or in
//! Gilbert–Elliott bursts), delays with jitter, duplicates and reorders datagrams, and can
//! limit the rate behind a tail-drop queue, each direction on its own. Each client address gets
//! its own upstream socket, so the server sees one source per client, as behind a NAT, and
//! replies go back to the client they belong to. The random choices come from a seed, so a run
//! with the same packet arrival order is the same run.
//!
//! The crate ships the `atbus-netem` binary (see the project's `docs/NETEM.md`) and this
//! library, which a test embeds on its own tokio runtime:
//!
//! ```
//! use std::time::Duration;
//! use atbus_netem::{Direction, Impairments, Proxy, ProxyConfig};
//! use tokio::net::UdpSocket;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = UdpSocket::bind("127.0.0.1:0").await?;
//! let config = ProxyConfig::new("127.0.0.1:0".parse()?, server.local_addr()?)
//!     .with_impairments(Impairments {
//!         delay: Duration::from_millis(20),
//!         ..Impairments::default()
//!     })
//!     .with_seed(1);
//! let proxy = Proxy::spawn(config).await?;
//!
//! let client = UdpSocket::bind("127.0.0.1:0").await?;
//! client.send_to(b"hello", proxy.local_addr()).await?;
//! let mut buf = [0; 16];
//! let (len, _) = server.recv_from(&mut buf).await?; // 20 ms later
//! assert_eq!(&buf[..len], b"hello");
//!
//! // Cut the link from the server to the clients, then heal it.
//! proxy.set_impairments(Direction::ServerToClient, Impairments::partition())?;
//! proxy.set_impairments(Direction::ServerToClient, Impairments::none())?;
//!
//! assert_eq!(proxy.stats().client_to_server.packets_out, 1);
//! proxy.shutdown().await; // the port is free again
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod impairer;
mod impairments;
mod proxy;
mod rate;
mod schedule;
mod stats;

pub use error::{ImpairmentError, NetemError};
pub use impairments::{BurstLoss, Impairments, RateLimit};
pub use proxy::{Proxy, ProxyConfig, ProxyHandle};
pub use stats::{Direction, DirectionStats, ProxyStats};
