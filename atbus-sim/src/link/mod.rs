//! Simulated links: configuration per direction and the state that decides each packet's fate.

mod config;
mod direction;

pub use config::{LinkConfig, LinkKind, LossModel};
pub(crate) use direction::Direction as DirectionState;
pub use direction::Fate;
