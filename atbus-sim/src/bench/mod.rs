//! The benchmarks of `shared/docs/BENCHMARKS.md` that run in the simulator or in memory: B3
//! (bulk transfer against quinn-proto) and B5 (instructions per message against quinn-proto).
//! B2 lives in [`scenarios`](crate::scenarios) beside the KCP validation it builds on.

pub mod b3;
pub mod b5;
