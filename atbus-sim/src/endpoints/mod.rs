//! Endpoints the simulator can drive: peers to compare atbus with, and simple baselines.

mod atbus;
mod frames;
mod kcp;
mod misbehaving;
mod node;
pub mod quinn;
mod raw;

pub use self::atbus::AtbusEndpoint;
pub use self::frames::FrameEndpoint;
pub use self::kcp::{KcpConfig, KcpEndpoint, KcpMode, KcpTiming};
pub use self::misbehaving::{MisbehavingPeer, Offence};
pub use self::node::{NodeEndpoint, NodeTally};
pub use self::quinn::{QuinnConfig, QuinnCongestion, QuinnEndpoint};
pub use self::raw::RawEndpoint;
