//! Helpers for the handshake tests: identities, frames through the real codec, an
//! authenticator that refuses, and a lock-step pair of an initiator and a responder.

use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::*;
use crate::Timestamp;
use crate::frame::{DatagramDecoder, FrameLimits, encode_frame};
use crate::proto::{
    FrameMessage, Register, RegisterAccepted, RegisterRefused, RegisterResult,
    register_result::Outcome,
};

pub(super) const CLIENT_INSTANCE: u64 = 0x1111;
pub(super) const SERVER_INSTANCE: u64 = 0x2222;

pub(super) fn instance(value: u64) -> InstanceId {
    InstanceId::new(value).expect("non-zero")
}

pub(super) fn range(min: u32, max: u32) -> VersionRange {
    VersionRange::new(min, max).expect("valid range")
}

pub(super) fn identity(name: &str, value: u64) -> LocalIdentity {
    LocalIdentity::new(name, instance(value)).expect("valid name")
}

pub(super) fn client() -> LocalIdentity {
    identity("client-1", CLIENT_INSTANCE)
}

pub(super) fn server() -> LocalIdentity {
    identity("server-1", SERVER_INSTANCE)
}

pub(super) fn at(millis: u64) -> Timestamp {
    Timestamp::from_millis(millis)
}

/// `body` as it arrives after encoding and decoding through the frame codec.
pub(super) fn wire(body: HandshakeBody) -> FrameMessage {
    let mut buf = BytesMut::new();
    encode_frame(
        &body.into_frame_message(),
        &FrameLimits::default(),
        &mut buf,
    )
    .expect("encodes");
    let mut frames = Vec::new();
    DatagramDecoder::new(FrameLimits::default())
        .decode(buf.freeze(), &mut frames)
        .expect("decodes");
    assert_eq!(frames.len(), 1);
    frames.remove(0).message
}

pub(super) fn register_frame(register: Register) -> FrameMessage {
    HandshakeBody::Register(register).into_frame_message()
}

pub(super) fn result_frame(result: RegisterResult) -> FrameMessage {
    HandshakeBody::RegisterResult(result).into_frame_message()
}

/// A well-formed `register` from the client.
pub(super) fn good_register() -> Register {
    Register {
        name: "client-1".into(),
        min_version: 3,
        max_version: 3,
        instance_id: CLIENT_INSTANCE,
        session_id: 0,
        auth: Bytes::new(),
    }
}

/// A well-formed accepting `register_result` from the server.
pub(super) fn good_result(session_id: u64) -> RegisterResult {
    RegisterResult {
        name: "server-1".into(),
        min_version: 3,
        max_version: 3,
        instance_id: SERVER_INSTANCE,
        outcome: Some(Outcome::Accepted(RegisterAccepted {
            version: 3,
            session_id,
            adopted: false,
        })),
        auth: Bytes::new(),
    }
}

pub(super) fn refused_result(reason: crate::proto::CloseReason, message: &str) -> RegisterResult {
    RegisterResult {
        outcome: Some(Outcome::Refused(RegisterRefused {
            reason: reason as i32,
            message: message.into(),
        })),
        ..good_result(1)
    }
}

/// An authenticator that refuses everything it checks.
#[derive(Debug)]
pub(super) struct RefuseAll;

impl Authenticator for RefuseAll {
    fn register_auth(&mut self, _now: Timestamp, _register: &Register) -> Bytes {
        Bytes::from_static(b"not-a-token")
    }

    fn check_register(
        &mut self,
        _now: Timestamp,
        _register: &Register,
    ) -> Result<Bytes, AuthError> {
        Err(AuthError::new("no token matches"))
    }

    fn check_result(
        &mut self,
        _now: Timestamp,
        _register: &Register,
        _result: &RegisterResult,
    ) -> Result<(), AuthError> {
        Err(AuthError::new("the responder proved nothing"))
    }
}

pub(super) fn new_initiator(identity: &LocalIdentity, options: InitiatorOptions) -> Initiator {
    Initiator::new(
        identity,
        options,
        Box::new(NoAuthentication),
        Timestamp::ZERO,
    )
}

pub(super) fn new_responder(identity: &LocalIdentity) -> Responder {
    Responder::new(
        identity,
        DEFAULT_HANDSHAKE_DEADLINE,
        Box::new(NoAuthentication),
        Timestamp::ZERO,
    )
}

/// An initiator and a responder connected by a lossless (or lossy) in-memory link, driven in
/// lock step through the real frame codec, with the responder's session table.
pub(super) struct Pair {
    pub now: Timestamp,
    pub initiator: Initiator,
    pub responder: Responder,
    pub table: SessionTable,
    /// Drop this many of the responder's next answers.
    pub lose_answers: usize,
    /// Errors the two sides reported, in order.
    pub initiator_errors: Vec<HandshakeError>,
    pub responder_errors: Vec<Refusal>,
}

impl Pair {
    pub fn new(initiator: Initiator, responder: Responder, table: SessionTable) -> Self {
        Pair {
            now: Timestamp::ZERO,
            initiator,
            responder,
            table,
            lose_answers: 0,
            initiator_errors: Vec::new(),
            responder_errors: Vec::new(),
        }
    }

    /// The client and the server with default options and an empty table.
    pub fn default_pair() -> Self {
        Pair::new(
            new_initiator(&client(), InitiatorOptions::default()),
            new_responder(&server()),
            SessionTable::new(instance(SERVER_INSTANCE), DuplicatePolicy::Refuse),
        )
    }

    /// Delivers everything both sides have to send, until neither has anything; `latency`
    /// passes per flight.
    pub fn exchange(&mut self, latency: Duration) {
        loop {
            let mut moved = false;
            while let Some(body) = self.initiator.poll_body() {
                moved = true;
                self.now += latency;
                let frame = wire(body);
                if let Err(refusal) = self
                    .responder
                    .handle_frame(self.now, &frame, &mut self.table)
                {
                    self.responder_errors.push(refusal);
                }
            }
            while let Some(body) = self.responder.poll_body() {
                moved = true;
                if self.lose_answers > 0 {
                    self.lose_answers -= 1;
                    continue;
                }
                self.now += latency;
                let frame = wire(body);
                if let Err(error) = self.initiator.handle_frame(self.now, &frame) {
                    self.initiator_errors.push(error);
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// Advances to the earliest timeout of either side and delivers it; false when neither
    /// has one.
    pub fn advance(&mut self) -> bool {
        let next = [self.initiator.poll_timeout(), self.responder.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else {
            return false;
        };
        self.now = self.now.max(next);
        if let Err(timeout) = self.initiator.handle_timeout(self.now) {
            self.initiator_errors.push(HandshakeError::Timeout(timeout));
        }
        if let Err(timeout) = self.responder.handle_timeout(self.now) {
            self.responder_errors.push(Refusal::Timeout(timeout));
        }
        true
    }

    /// Exchanges and advances time until both sides are quiet.
    pub fn run(&mut self, latency: Duration) {
        loop {
            self.exchange(latency);
            if !self.advance() {
                return;
            }
        }
    }
}
