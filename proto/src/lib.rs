//! The atbus wire schema: the protobuf messages that travel inside atbus frames, and the
//! discovery records that describe nodes.
//!
//! The schema lives in `proto/atbus/protocol.proto` (package `atbus.protocol`, re-exported at the
//! crate root) and `proto/atbus/discovery.proto` (package `atbus.discovery`, module
//! [`discovery`]); the Rust types in this crate are generated from them by `prost-build` (with `protox`, a pure-Rust schema compiler, so no system `protoc` is
//! needed) and committed to `src/generated/`. The test `generated_code_is_up_to_date` compiles
//! the schemas again and fails on any difference; run it with `ATBUS_REGENERATE=1` to rewrite the
//! generated files after editing a schema:
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

/// Node records and group records of service discovery, package `atbus.discovery`.
///
/// These are the stored and transmitted form; `atbus-core`'s `discovery` module converts them to
/// its validated record types and back.
#[allow(missing_docs, clippy::all)]
pub mod discovery {
    include!("generated/atbus.discovery.rs");
}

/// Path of the schema file, relative to this crate's root.
pub const SCHEMA_PATH: &str = "atbus/protocol.proto";

/// The protobuf schema text, for tools that want to show or ship it.
pub const SCHEMA: &str = include_str!("../atbus/protocol.proto");

/// Path of the discovery schema file, relative to this crate's root.
pub const DISCOVERY_SCHEMA_PATH: &str = "atbus/discovery.proto";

/// The discovery schema text.
pub const DISCOVERY_SCHEMA: &str = include_str!("../atbus/discovery.proto");
