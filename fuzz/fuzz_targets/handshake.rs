//! Untrusted frames against the registration handshake: two responders sharing one session
//! table, and an initiator that exchanges genuinely with the first.
//!
//! The first byte picks the duplicate-name policy (odd: `ReplaceOlder`). The rest is a sequence
//! of chunks `[control, len_lo, len_hi, bytes...]`; each chunk's bytes are decoded as a
//! `frame_message` (chunks that do not decode are skipped) and delivered:
//!
//! - bit 0 of `control`: 0 to a responder, 1 to the initiator;
//! - bit 2: which responder (the first or the second);
//! - bit 1: afterwards, the initiator and the first responder exchange what they have to send;
//! - bits 3..7: afterwards, time advances by that many seconds (up to 31: past the deadline)
//!   and due timeouts are delivered.
//!
//! Nothing may panic. Every body a side emits encodes as a frame; refusal messages keep their
//! bound; a final state is kept once reached; an established responder's session is the live
//! one under its peer's name unless the other responder's registration replaced it; a refused
//! responder admitted nothing.
#![no_main]

use std::time::Duration;

use atbus_core::Timestamp;
use atbus_core::frame::{FrameLimits, encode_frame};
use atbus_core::handshake::{
    DEFAULT_HANDSHAKE_DEADLINE, DuplicatePolicy, Established, HandshakeBody, Initiator,
    InitiatorOptions, InstanceId, LocalIdentity, MAX_MESSAGE_LEN, NoAuthentication, Refusal,
    Responder, ResponderState, SessionTable,
};
use atbus_core::proto::{FrameMessage, RegisterResult, register_result::Outcome};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use prost::Message as _;

fn check_sendable(body: &HandshakeBody) -> FrameMessage {
    if let HandshakeBody::RegisterResult(RegisterResult {
        outcome: Some(Outcome::Refused(refused)),
        ..
    }) = body
    {
        assert!(refused.message.len() <= MAX_MESSAGE_LEN);
    }
    let message = body.clone().into_frame_message();
    let mut buf = BytesMut::new();
    encode_frame(&message, &FrameLimits::default(), &mut buf).expect("a handshake body encodes");
    message
}

/// A responder's final state, owned, to compare before and after a call.
fn final_state(responder: &Responder) -> (Option<Established>, Option<Refusal>) {
    (
        responder.established().cloned(),
        responder.refusal().cloned(),
    )
}

fn check_responders(responders: &[Responder; 2], table: &SessionTable) {
    for (index, responder) in responders.iter().enumerate() {
        let other = &responders[1 - index];
        match responder.state() {
            ResponderState::Established(established) => {
                let live = table
                    .get(&established.peer_name)
                    .expect("an admitted name stays in the table");
                if live.session_id != established.session_id {
                    let replaced = other.replaced().expect("only a replacement ends a session");
                    assert_eq!(replaced.session_id, established.session_id);
                }
            }
            ResponderState::Refused(_) | ResponderState::AwaitingRegister => {}
        }
    }
    let established = responders
        .iter()
        .filter(|r| r.established().is_some())
        .count();
    assert!(
        table.len() <= established,
        "only admissions enter the table"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let policy = if first & 1 == 1 {
        DuplicatePolicy::ReplaceOlder
    } else {
        DuplicatePolicy::Refuse
    };
    let server = LocalIdentity::new("server-1", InstanceId::from_random(0x2222)).expect("valid");
    let client = LocalIdentity::new("client-1", InstanceId::from_random(0x1111)).expect("valid");
    let mut table = SessionTable::new(server.instance(), policy);
    let responder = || {
        Responder::new(
            &server,
            DEFAULT_HANDSHAKE_DEADLINE,
            Box::new(NoAuthentication),
            Timestamp::ZERO,
        )
    };
    let mut responders = [responder(), responder()];
    let options = if first & 2 == 2 {
        InitiatorOptions::datagram()
    } else {
        InitiatorOptions::default()
    };
    let mut initiator = Initiator::new(
        &client,
        options,
        Box::new(NoAuthentication),
        Timestamp::ZERO,
    );
    let mut now = Timestamp::ZERO;

    while let [control, lo, hi, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(tail.len());
        let (chunk, next) = tail.split_at(len);
        rest = next;
        if let Ok(message) = FrameMessage::decode(chunk) {
            if control & 1 == 1 {
                let before = initiator.established().cloned();
                let _ = initiator.handle_frame(now, &message);
                if before.is_some() {
                    assert_eq!(initiator.established().cloned(), before);
                }
            } else {
                let responder = &mut responders[usize::from(control >> 2 & 1)];
                let before = final_state(responder);
                let _ = responder.handle_frame(now, &message, &mut table);
                if before != (None, None) {
                    assert_eq!(final_state(responder), before, "a final state is kept");
                }
            }
        }
        if control & 2 == 2 {
            while let Some(body) = initiator.poll_body() {
                let message = check_sendable(&body);
                let _ = responders[0].handle_frame(now, &message, &mut table);
            }
            while let Some(body) = responders[0].poll_body() {
                let message = check_sendable(&body);
                let _ = initiator.handle_frame(now, &message);
            }
        }
        for responder in &mut responders {
            while let Some(body) = responder.poll_body() {
                check_sendable(&body);
            }
        }
        now += Duration::from_secs(u64::from(control >> 3));
        if initiator.poll_timeout().is_some_and(|t| t <= now) {
            let _ = initiator.handle_timeout(now);
        }
        for responder in &mut responders {
            if responder.poll_timeout().is_some_and(|t| t <= now) {
                let _ = responder.handle_timeout(now);
            }
        }
        check_responders(&responders, &table);
    }
});
