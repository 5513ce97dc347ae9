//! Benchmarks of atbus-rs, each printed as a ratio against a baseline measured in the same run.
//!
//! The benchmarks live in `benches/` of this crate (run them with `cargo bench -p atbus-bench`)
//! so that library users never compile the benchmark harness or the peers measured against.
//! The scenarios are those of the project's `docs/BENCHMARKS.md`.

#![forbid(unsafe_code)]
