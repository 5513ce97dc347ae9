//! Every atbus protocol rule as pure sans-IO state machines.
//!
//! `atbus-core` is the heart of atbus-rs. It holds the frame codec, and (as the project grows)
//! streams, connections, sessions, handshakes, the discovery model, route choice and relay
//! rules, all as plain data structures driven by method calls. It owns no socket, reads no clock,
//! starts no thread and uses no global randomness, so that the runtime adapters (`atbus-tokio`,
//! `atbus-async-std`) and the deterministic simulator (`atbus-sim`) drive exactly the same logic,
//! and the same inputs always give the same outputs.
//!
//! # The sans-IO contract
//!
//! - **Inputs** are `handle_*` calls that take the current time explicitly: bytes or a datagram
//!   that arrived on a transport, a transport that opened or closed, a timeout that expired.
//! - **Outputs** are drained with `poll_*` calls: bytes to transmit, events, and the next instant
//!   at which a timeout must be delivered.
//! - **Drain rule**: after any input or command, the driver drains transmits and events until
//!   empty, then re-arms its timer from the next timeout.
//!
//! Time is the core's own [`Timestamp`], supplied by the driver, so that a simulator can start
//! its clock at zero.
//!
//! Today the crate provides the [`frame`] codec, [`stream`] data handling, reliable datagram
//! [`connection`]s with [`congestion`] control, [`discovery`]: node records, their
//! validation, the matching rules, route choice through relays, and an in-memory registry; the
//! registration [`handshake`] that binds a connection to a session between two node names; and
//! per-connection and per-peer [`metrics`] for exporters.
//!
//! # Frames
//!
//! ```
//! use atbus_core::frame::{encode_frame, FrameLimits, StreamDecoder};
//! use atbus_core::proto::{frame_message::Body, FrameMessage, PingData};
//! use bytes::BytesMut;
//!
//! let limits = FrameLimits::default();
//! let ping = FrameMessage {
//!     body: Some(Body::Ping(PingData { timepoint_microseconds: 1, ..Default::default() })),
//!     ..Default::default()
//! };
//! let mut wire = BytesMut::new();
//! encode_frame(&ping, &limits, &mut wire)?;
//!
//! // A byte-stream link may deliver the bytes in any split.
//! let mut decoder = StreamDecoder::new(limits);
//! let (first, rest) = wire.split_at(3);
//! decoder.feed(first);
//! assert!(decoder.next_frame()?.is_none());
//! decoder.feed(rest);
//! let frame = decoder.next_frame()?.expect("one whole frame");
//! assert_eq!(frame.message, ping);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod congestion;
pub mod connection;
pub mod discovery;
pub mod frame;
pub mod handshake;
pub mod metrics;
pub mod node;
pub mod stream;
pub mod time;

pub use time::Timestamp;

/// The generated wire-schema types, re-exported from `atbus-proto`.
pub use atbus_proto as proto;
