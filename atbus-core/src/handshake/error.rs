//! What can go wrong in a handshake, split by side: the initiator's [`HandshakeError`], the
//! responder's [`Refusal`], and the peer's protocol violations ([`Misbehavior`]) that both
//! share. Each maps to the [`CloseReason`] the connection closes with.

use super::{AuthError, HandshakeTimeout, LiveSession, VersionRange};
use crate::discovery::ValidationError;
use crate::proto::CloseReason;

/// A handshake rule the peer broke. The connection closes with `PROTOCOL_VIOLATION`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misbehavior {
    /// A frame carried more than one of `body`, `register` and `register_result`.
    #[error("a frame carries more than one of a body, register and register_result")]
    SeveralBodies,
    /// A handshake step that this side never receives, or not in this state.
    #[error("received {step} while {state}")]
    UnexpectedStep {
        /// What this side was doing.
        state: &'static str,
        /// The step received.
        step: &'static str,
    },
    /// A non-handshake body before the registration.
    #[error("received a {body} body before registering")]
    UnexpectedBody {
        /// The body received.
        body: &'static str,
    },
    /// A version range that is empty or starts at 0.
    #[error("invalid protocol version range {min}..={max}")]
    InvalidVersionRange {
        /// The lowest version sent.
        min: u32,
        /// The highest version sent.
        max: u32,
    },
    /// An instance id of 0 (missing).
    #[error("instance_id is missing")]
    MissingInstance,
    /// A field longer than the handshake allows.
    #[error("{field} is {length} bytes long, at most {max} allowed")]
    FieldTooLarge {
        /// The field.
        field: &'static str,
        /// Its length.
        length: usize,
        /// The most allowed.
        max: usize,
    },
    /// A `register_result` with neither `accepted` nor `refused`.
    #[error("register_result has no outcome")]
    MissingOutcome,
    /// An accepted `register_result` without a session id.
    #[error("accepted register_result has no session_id")]
    MissingSession,
    /// The responder's own name in an accepted result is not a valid node name.
    #[error("the responder's name is invalid: {0}")]
    InvalidPeerName(ValidationError),
    /// The responder accepted with another version than the highest common one.
    #[error("the responder chose version {chosen}; the highest common version is {expected:?}")]
    VersionNotNegotiated {
        /// The version the responder chose.
        chosen: u32,
        /// The highest version both ranges contain, if any.
        expected: Option<u32>,
    },
    /// A second `register` on the connection that differs from the first.
    #[error("a second, different register on the same connection")]
    ChangedRegister,
    /// A second `register_result` that differs from the first.
    #[error("a second, different register_result on the same connection")]
    ChangedResult,
}

/// Why the initiator's handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The two version ranges do not overlap (the responder refused with `UNSUPPORTED_VERSION`).
    #[error("no common protocol version: we speak {ours}, the peer speaks {theirs}")]
    UnsupportedVersion {
        /// Our range.
        ours: VersionRange,
        /// The responder's range.
        theirs: VersionRange,
    },
    /// The responder refused the registration for another reason (`DUPLICATE_NAME`,
    /// `UNAUTHORIZED`, `PROTOCOL_VIOLATION`, …).
    #[error("the peer refused the registration ({reason:?}): {message}")]
    Refused {
        /// The responder's reason.
        reason: CloseReason,
        /// The responder's explanation (at most 256 bytes).
        message: String,
    },
    /// The responder is not the node this connection was meant to reach.
    #[error("expected to reach {expected:?}, reached {actual:?}")]
    WrongPeer {
        /// The name we dialled.
        expected: String,
        /// The name that answered.
        actual: String,
    },
    /// Our authenticator refused the responder's answer.
    #[error(transparent)]
    Unauthorized(AuthError),
    /// No answer before the deadline.
    #[error(transparent)]
    Timeout(HandshakeTimeout),
    /// The peer closed the connection during the handshake.
    #[error("the peer closed the connection ({reason:?}): {message}")]
    PeerClosed {
        /// The peer's reason.
        reason: CloseReason,
        /// The peer's explanation (at most 256 bytes).
        message: String,
    },
    /// The responder broke a handshake rule.
    #[error("the peer misbehaved: {0}")]
    PeerMisbehaved(Misbehavior),
}

impl HandshakeError {
    /// The reason to close the connection with (for a refusal or a peer's close: theirs).
    pub fn close_reason(&self) -> CloseReason {
        match self {
            HandshakeError::UnsupportedVersion { .. } => CloseReason::UnsupportedVersion,
            HandshakeError::Refused { reason, .. } | HandshakeError::PeerClosed { reason, .. } => {
                *reason
            }
            HandshakeError::WrongPeer { .. } | HandshakeError::Unauthorized(_) => {
                CloseReason::Unauthorized
            }
            HandshakeError::Timeout(_) => CloseReason::HandshakeTimeout,
            HandshakeError::PeerMisbehaved(_) => CloseReason::ProtocolViolation,
        }
    }
}

/// Why the responder refused a registration, or gave up waiting for one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The two version ranges do not overlap: `UNSUPPORTED_VERSION`.
    #[error("no common protocol version: we speak {ours}, the peer speaks {theirs}")]
    UnsupportedVersion {
        /// Our range.
        ours: VersionRange,
        /// The initiator's range.
        theirs: VersionRange,
    },
    /// The claimed name is not a valid node name: `UNAUTHORIZED` (no node may use that name;
    /// an empty name is how anonymous clients will ask for one, which needs authentication).
    #[error("not a valid node name: {0}")]
    InvalidName(ValidationError),
    /// The authenticator refused the initiator's credentials: `UNAUTHORIZED`.
    #[error(transparent)]
    Unauthorized(AuthError),
    /// Another running instance holds a live session under this name: `DUPLICATE_NAME`.
    #[error("node name {name:?} is in use by another running instance ({})", existing.instance)]
    DuplicateName {
        /// The claimed name.
        name: String,
        /// The live session that holds it.
        existing: LiveSession,
    },
    /// The claimed name is the responder's own: `DUPLICATE_NAME` (a node that dialled itself,
    /// or another process configured with its name).
    #[error("node name {name:?} is this node's own")]
    OwnName {
        /// The claimed name.
        name: String,
    },
    /// No registration arrived before the deadline: `HANDSHAKE_TIMEOUT`.
    #[error(transparent)]
    Timeout(HandshakeTimeout),
    /// The peer closed the connection before registering.
    #[error("the peer closed the connection ({reason:?}): {message}")]
    PeerClosed {
        /// The peer's reason.
        reason: CloseReason,
        /// The peer's explanation (at most 256 bytes).
        message: String,
    },
    /// The initiator broke a handshake rule: `PROTOCOL_VIOLATION`.
    #[error("the peer misbehaved: {0}")]
    PeerMisbehaved(Misbehavior),
}

impl Refusal {
    /// The reason the refusal carries on the wire and the connection closes with.
    pub fn close_reason(&self) -> CloseReason {
        match self {
            Refusal::UnsupportedVersion { .. } => CloseReason::UnsupportedVersion,
            Refusal::InvalidName(_) | Refusal::Unauthorized(_) => CloseReason::Unauthorized,
            Refusal::DuplicateName { .. } | Refusal::OwnName { .. } => CloseReason::DuplicateName,
            Refusal::Timeout(_) => CloseReason::HandshakeTimeout,
            Refusal::PeerClosed { reason, .. } => *reason,
            Refusal::PeerMisbehaved(_) => CloseReason::ProtocolViolation,
        }
    }
}
