//! The place where authentication slots into the registration handshake.

use core::fmt;

use bytes::Bytes;

use crate::Timestamp;
use crate::proto::{Register, RegisterResult};

/// Authentication of a registration: what the initiator adds to `register`, how the responder
/// checks it, and how the initiator checks the responder's answer.
///
/// This is the hook for the authentication step of the protocol (access tokens with HMAC, TLS);
/// only [`NoAuthentication`] exists today. A handshake owns its authenticator (one per
/// handshake, so per-connection state such as a TLS session or a nonce lives in it), and calls
/// it at three points:
///
/// 1. the initiator, building `register`: [`register_auth`](Self::register_auth) fills
///    `register.auth`;
/// 2. the responder, after the version, instance and name checks and before the session table
///    is consulted: [`check_register`](Self::check_register) accepts (giving the bytes for
///    `register_result.auth`, such as the responder's own proof) or refuses, and the
///    registration is refused with `UNAUTHORIZED`;
/// 3. the initiator, on an accepted result, before it counts as established:
///    [`check_result`](Self::check_result); a failure closes with `UNAUTHORIZED`.
///
/// Implementations must be deterministic like the rest of the core: time comes in as `now`,
/// randomness from the node's seeded generator (given to the authenticator when it is made),
/// never from a global source. Authentication data is at most
/// [`MAX_AUTH_LEN`](super::MAX_AUTH_LEN) bytes each way; the handshake refuses more before an
/// authenticator sees it.
pub trait Authenticator: fmt::Debug + Send {
    /// Initiator: the data for `register.auth`. `register` holds every other field already.
    fn register_auth(&mut self, now: Timestamp, register: &Register) -> Bytes;

    /// Responder: checks `register` (its `auth` and its claims); `Ok` carries the data for
    /// `register_result.auth`.
    fn check_register(&mut self, now: Timestamp, register: &Register) -> Result<Bytes, AuthError>;

    /// Initiator: checks the responder's accepted `result` to our `register`.
    fn check_result(
        &mut self,
        now: Timestamp,
        register: &Register,
        result: &RegisterResult,
    ) -> Result<(), AuthError>;
}

/// Identity only: names are taken at their word (a trusted network). Sends no authentication
/// data and ignores any it receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoAuthentication;

impl Authenticator for NoAuthentication {
    fn register_auth(&mut self, _now: Timestamp, _register: &Register) -> Bytes {
        Bytes::new()
    }

    fn check_register(
        &mut self,
        _now: Timestamp,
        _register: &Register,
    ) -> Result<Bytes, AuthError> {
        Ok(Bytes::new())
    }

    fn check_result(
        &mut self,
        _now: Timestamp,
        _register: &Register,
        _result: &RegisterResult,
    ) -> Result<(), AuthError> {
        Ok(())
    }
}

/// An authenticator refused the other side's credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("authentication failed: {detail}")]
pub struct AuthError {
    /// What did not verify, for logs (never secret material).
    pub detail: String,
}

impl AuthError {
    /// A refusal explained by `detail`.
    pub fn new(detail: impl Into<String>) -> Self {
        AuthError {
            detail: detail.into(),
        }
    }
}
