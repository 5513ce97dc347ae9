//! The atbus wire schema: the protobuf messages that travel inside atbus frames.
//!
//! The schema lives in `proto/atbus/protocol.proto`; the Rust types in this crate are generated
//! from it by `prost-build` (with `protox`, a pure-Rust schema compiler, so no system `protoc` is
//! needed) and committed to `src/generated/`. The test `generated_code_is_up_to_date` compiles
//! the schema again and fails on any difference; run it with `ATBUS_REGENERATE=1` to rewrite the
//! generated file after editing the schema:
//!
//! ```text
//! ATBUS_REGENERATE=1 cargo test -p atbus-proto --test generated
//! ```
//!
//! Every `bytes` field is generated as [`bytes::Bytes`], so decoding a message from a `Bytes`
//! buffer slices payloads out of it instead of copying them.
//!
//! The framing around a `FrameMessage` (version, length, hash) is not protobuf; it is implemented
//! by `atbus-core`'s frame codec and specified in the project's `docs/PROTOCOL.md`.

#![forbid(unsafe_code)]

/// The messages of protocol version 3, package `atbus.protocol`.
#[allow(missing_docs, clippy::all)]
pub mod protocol {
    include!("generated/atbus.protocol.rs");
}

pub use protocol::*;

/// Path of the schema file, relative to this crate's root.
pub const SCHEMA_PATH: &str = "atbus/protocol.proto";

/// The protobuf schema text, for tools that want to show or ship it.
pub const SCHEMA: &str = include_str!("../atbus/protocol.proto");
