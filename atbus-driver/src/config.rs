//! A bus's configuration as a file states it (YAML, TOML or JSON through serde), with
//! libatbus's defaults where they fit.
//!
//! ```yaml
//! name: game-1
//! listen: [tcp://0.0.0.0:7001, udp://0.0.0.0:7001]
//! labels: {zone: eu-1}
//! nodes:                      # other nodes' discovery records, known from the start
//!   - name: chat-1
//!     gateways: [{addresses: [tcp://10.0.0.2:7001]}]
//! # limits (libatbus names in brackets)
//! message_size_limit: 2097152 # [msg_size] largest message
//! send_buffer_bytes: 8388608  # [send_buffer_size] waiting for a session, per peer
//! handshake_timeout_ms: 30000 # [first_idle_timeout]
//! connect_timeout_ms: 10000
//! ping_interval_ms: 8000      # [ping_interval]
//! udp_offload: true           # recvmmsg, GSO and GRO where the kernel has them
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use atbus_core::discovery::NodeRecord;

use crate::BusConfig;

/// The file form of a [`BusConfig`]. Every field but `name` has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// The node's name.
    pub name: String,
    /// Addresses to listen on.
    pub listen: Vec<String>,
    /// Labels of the node's own record (gateways of others may match on them).
    pub labels: BTreeMap<String, String>,
    /// Other nodes' discovery records.
    pub nodes: Vec<NodeRecord>,
    /// Seed of the node's randomness; `None`: drawn from the clock at start.
    pub seed: Option<u64>,
    /// Largest message, bytes.
    pub message_size_limit: usize,
    /// Bytes per peer that may wait for a session.
    pub send_buffer_bytes: u64,
    /// Messages per peer that may wait for a session.
    pub send_buffer_messages: usize,
    /// Unacknowledged bytes per stream before `send` waits.
    pub stream_send_buffer: u64,
    /// Handshake deadline, milliseconds.
    pub handshake_timeout_ms: u64,
    /// Connect attempt deadline (handshake included), milliseconds.
    pub connect_timeout_ms: u64,
    /// Keep-alive interval, milliseconds.
    pub ping_interval_ms: u64,
    /// Batched UDP IO (`recvmmsg`, GSO, GRO); off, one datagram per system call.
    pub udp_offload: bool,
}

impl Default for FileConfig {
    fn default() -> Self {
        let config = BusConfig::new("");
        let node = &config.node;
        Self {
            name: String::new(),
            listen: Vec::new(),
            labels: BTreeMap::new(),
            nodes: Vec::new(),
            seed: None,
            message_size_limit: node.connection.max_message_size,
            send_buffer_bytes: node.pending_bytes,
            send_buffer_messages: node.pending_messages,
            stream_send_buffer: node.connection.stream_send_buffer,
            handshake_timeout_ms: millis(node.handshake_deadline),
            connect_timeout_ms: millis(node.connect_timeout),
            ping_interval_ms: millis(node.connection.ping_interval),
            udp_offload: config.udp_offload,
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl FileConfig {
    /// The [`BusConfig`] it states. `seed_fallback` is used when the file sets no seed (pass
    /// something that differs per run, such as the clock, so that restarts are new instances).
    pub fn into_bus_config(self, seed_fallback: u64) -> BusConfig {
        let mut config = BusConfig::new(self.name.clone());
        config.udp_offload = self.udp_offload;
        let node = &mut config.node;
        node.seed = self.seed.unwrap_or(seed_fallback);
        node.connection.max_message_size = self.message_size_limit;
        node.pending_bytes = self.send_buffer_bytes;
        node.pending_messages = self.send_buffer_messages;
        node.connection.stream_send_buffer = self.stream_send_buffer;
        node.handshake_deadline = Duration::from_millis(self.handshake_timeout_ms);
        node.connect_timeout = Duration::from_millis(self.connect_timeout_ms);
        node.connection.ping_interval = Duration::from_millis(self.ping_interval_ms);
        if !self.labels.is_empty() {
            let mut record = NodeRecord::new(self.name);
            record.metadata.labels = self.labels;
            node.record = Some(record);
        }
        config.listen = self.listen;
        config.records = self.nodes;
        config
    }
}
