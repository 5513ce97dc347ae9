//! Every transition of the responder, one at a time.

use super::test_support::*;
use super::*;
use crate::proto::{
    CloseReason, ConnectionClose, FrameMessage, Packet, Register, RegisterResult,
    frame_message::Body, register_result::Outcome,
};

fn table() -> SessionTable {
    SessionTable::new(instance(SERVER_INSTANCE), DuplicatePolicy::Refuse)
}

/// The refusal a fresh responder gives `register`, and the answer it sends.
fn refuse(register: Register) -> (Refusal, RegisterResult) {
    let mut responder = new_responder(&server());
    let mut table = table();
    let refusal = responder
        .handle_frame(at(5), &register_frame(register), &mut table)
        .expect_err("refused");
    assert_eq!(responder.state(), ResponderState::Refused(&refusal));
    assert_eq!(responder.refusal(), Some(&refusal));
    assert_eq!(responder.poll_timeout(), None);
    assert!(table.is_empty(), "a refusal admits nothing");
    let Some(HandshakeBody::RegisterResult(result)) = responder.poll_body() else {
        panic!("every register is answered");
    };
    assert_eq!(responder.poll_body(), None);
    let Some(Outcome::Refused(refused)) = &result.outcome else {
        panic!("a refusal");
    };
    assert_eq!(refused.reason, refusal.close_reason() as i32);
    assert!(refused.message.len() <= MAX_MESSAGE_LEN);
    assert_eq!(
        (
            result.name.as_str(),
            result.min_version,
            result.max_version,
            result.instance_id
        ),
        ("server-1", 3, 3, SERVER_INSTANCE)
    );
    (refusal, result)
}

/// The refusal a fresh responder gives `frame`, which gets no answer.
fn refuse_unanswered(frame: &FrameMessage) -> Refusal {
    let mut responder = new_responder(&server());
    let refusal = responder
        .handle_frame(at(5), frame, &mut table())
        .expect_err("refused");
    assert_eq!(responder.state(), ResponderState::Refused(&refusal));
    assert_eq!(responder.poll_body(), None, "only a register is answered");
    refusal
}

#[test]
fn waits_for_register_until_the_deadline() {
    let mut responder = new_responder(&server());
    assert_eq!(responder.state(), ResponderState::AwaitingRegister);
    assert_eq!(responder.poll_timeout(), Some(at(30_000)));
    assert_eq!(responder.deadline(), at(30_000));
    assert_eq!(responder.poll_body(), None);
    assert_eq!(
        responder.handle_frame(at(1), &FrameMessage::default(), &mut table()),
        Ok(())
    );
    assert_eq!(responder.handle_timeout(at(29_999)), Ok(()));
    let timeout = HandshakeTimeout {
        started: at(0),
        limit: DEFAULT_HANDSHAKE_DEADLINE,
    };
    assert_eq!(responder.handle_timeout(at(30_000)), Err(timeout));
    assert_eq!(responder.refusal(), Some(&Refusal::Timeout(timeout)));
    assert_eq!(
        responder.refusal().unwrap().close_reason(),
        CloseReason::HandshakeTimeout
    );
    assert_eq!(responder.poll_timeout(), None);
    assert_eq!(responder.poll_body(), None);
    assert_eq!(responder.handle_timeout(at(40_000)), Ok(()));
}

#[test]
fn a_valid_register_is_admitted_and_answered() {
    let mut responder = new_responder(&server());
    let mut table = table();
    assert_eq!(
        responder.handle_frame(at(5), &register_frame(good_register()), &mut table),
        Ok(())
    );
    let live = *table.get("client-1").expect("admitted");
    let established = Established {
        peer_name: "client-1".into(),
        peer_instance: instance(CLIENT_INSTANCE),
        version: 3,
        session_id: live.session_id,
        joined: false,
    };
    assert_eq!(responder.state(), ResponderState::Established(&established));
    assert_eq!(responder.replaced(), None);
    assert_eq!(responder.poll_timeout(), None);
    let Some(HandshakeBody::RegisterResult(result)) = responder.poll_body() else {
        panic!("an answer");
    };
    assert_eq!(result, good_result(live.session_id.get()));
    assert_eq!(responder.poll_body(), None);
    assert_eq!(responder.handle_timeout(at(60_000)), Ok(()));
}

#[test]
fn the_highest_common_version_is_chosen() {
    let mut responder = Responder::new(
        &server().with_versions(range(3, 6)),
        DEFAULT_HANDSHAKE_DEADLINE,
        Box::new(NoAuthentication),
        at(0),
    );
    let register = Register {
        min_version: 2,
        max_version: 5,
        ..good_register()
    };
    responder
        .handle_frame(at(1), &register_frame(register), &mut table())
        .unwrap();
    assert_eq!(responder.established().unwrap().version, 5);
}

#[test]
fn unsupported_versions_are_refused_with_both_ranges() {
    for (min, max) in [(1, 2), (4, 9)] {
        let (refusal, result) = refuse(Register {
            min_version: min,
            max_version: max,
            ..good_register()
        });
        assert_eq!(
            refusal,
            Refusal::UnsupportedVersion {
                ours: range(3, 3),
                theirs: range(min, max)
            }
        );
        assert_eq!(refusal.close_reason(), CloseReason::UnsupportedVersion);
        let Some(Outcome::Refused(refused)) = result.outcome else {
            unreachable!()
        };
        assert_eq!(
            refused.message,
            format!("no common protocol version: we speak 3, the peer speaks {min}..={max}")
        );
    }
}

#[test]
fn invalid_names_are_unauthorized() {
    for name in [
        "",
        "Client",
        "a..b",
        "-a",
        &"a".repeat(254),
        &"n".repeat(1 << 20),
    ] {
        let (refusal, _) = refuse(Register {
            name: name.into(),
            ..good_register()
        });
        let Refusal::InvalidName(error) = &refusal else {
            panic!("{name:.20}: {refusal:?}");
        };
        assert_eq!(error.field.as_str(), "register.name");
        assert_eq!(refusal.close_reason(), CloseReason::Unauthorized);
    }
}

#[test]
fn the_responders_own_name_is_a_duplicate() {
    let (refusal, _) = refuse(Register {
        name: "server-1".into(),
        ..good_register()
    });
    assert_eq!(
        refusal,
        Refusal::OwnName {
            name: "server-1".into()
        }
    );
    assert_eq!(refusal.close_reason(), CloseReason::DuplicateName);
}

#[test]
fn malformed_registers_are_violations_and_still_answered() {
    let cases = [
        (
            Register {
                min_version: 0,
                max_version: 0,
                ..good_register()
            },
            Misbehavior::InvalidVersionRange { min: 0, max: 0 },
        ),
        (
            Register {
                min_version: 4,
                max_version: 3,
                ..good_register()
            },
            Misbehavior::InvalidVersionRange { min: 4, max: 3 },
        ),
        (
            Register {
                instance_id: 0,
                ..good_register()
            },
            Misbehavior::MissingInstance,
        ),
        (
            Register {
                auth: vec![7; MAX_AUTH_LEN + 1].into(),
                ..good_register()
            },
            Misbehavior::FieldTooLarge {
                field: "register.auth",
                length: MAX_AUTH_LEN + 1,
                max: MAX_AUTH_LEN,
            },
        ),
        // An empty register: the version range is checked first.
        (
            Register::default(),
            Misbehavior::InvalidVersionRange { min: 0, max: 0 },
        ),
    ];
    for (register, misbehavior) in cases {
        let (refusal, _) = refuse(register);
        assert_eq!(refusal, Refusal::PeerMisbehaved(misbehavior));
        assert_eq!(refusal.close_reason(), CloseReason::ProtocolViolation);
    }
}

#[test]
fn the_version_is_checked_before_the_name() {
    let (refusal, _) = refuse(Register {
        name: "Not A Name".into(),
        min_version: 9,
        max_version: 9,
        ..good_register()
    });
    assert!(matches!(refusal, Refusal::UnsupportedVersion { .. }));
}

#[test]
fn the_authenticator_checks_the_register() {
    let mut responder = Responder::new(
        &server(),
        DEFAULT_HANDSHAKE_DEADLINE,
        Box::new(RefuseAll),
        at(0),
    );
    let mut table = table();
    let refusal = responder
        .handle_frame(at(1), &register_frame(good_register()), &mut table)
        .unwrap_err();
    assert_eq!(
        refusal,
        Refusal::Unauthorized(AuthError::new("no token matches"))
    );
    assert_eq!(refusal.close_reason(), CloseReason::Unauthorized);
    assert!(table.is_empty());
}

#[test]
fn a_second_instance_is_a_duplicate() {
    let mut table = table();
    let mut first = new_responder(&server());
    first
        .handle_frame(at(1), &register_frame(good_register()), &mut table)
        .unwrap();
    let existing = *table.get("client-1").unwrap();
    let mut second = new_responder(&server());
    let impostor = Register {
        instance_id: 0x9999,
        ..good_register()
    };
    let refusal = second
        .handle_frame(at(2), &register_frame(impostor), &mut table)
        .unwrap_err();
    assert_eq!(
        refusal,
        Refusal::DuplicateName {
            name: "client-1".into(),
            existing
        }
    );
    assert_eq!(refusal.close_reason(), CloseReason::DuplicateName);
    assert_eq!(table.get("client-1"), Some(&existing));
}

#[test]
fn bodies_other_than_register_are_refused_unanswered() {
    let packet = FrameMessage {
        body: Some(Body::Packet(Packet::default())),
        ..FrameMessage::default()
    };
    assert_eq!(
        refuse_unanswered(&packet),
        Refusal::PeerMisbehaved(Misbehavior::UnexpectedBody { body: "packet" })
    );
    assert_eq!(
        refuse_unanswered(&result_frame(good_result(1))),
        Refusal::PeerMisbehaved(Misbehavior::UnexpectedStep {
            state: "awaiting register",
            step: "register_result"
        })
    );
    let mut two = register_frame(good_register());
    two.register_result = Some(Box::default());
    assert_eq!(
        refuse_unanswered(&two),
        Refusal::PeerMisbehaved(Misbehavior::SeveralBodies)
    );
    let close = FrameMessage {
        body: Some(Body::Close(ConnectionClose {
            reason: CloseReason::Shutdown as i32,
            message: "bye".into(),
        })),
        ..FrameMessage::default()
    };
    let refusal = refuse_unanswered(&close);
    assert_eq!(
        refusal,
        Refusal::PeerClosed {
            reason: CloseReason::Shutdown,
            message: "bye".into()
        }
    );
    assert_eq!(refusal.close_reason(), CloseReason::Shutdown);
}

#[test]
fn once_established_the_same_register_is_answered_again() {
    let mut responder = new_responder(&server());
    let mut table = table();
    responder
        .handle_frame(at(1), &register_frame(good_register()), &mut table)
        .unwrap();
    let first = responder.poll_body().unwrap();
    let established = responder.established().cloned().unwrap();
    assert_eq!(
        responder.handle_frame(at(2), &register_frame(good_register()), &mut table),
        Ok(())
    );
    assert_eq!(responder.poll_body(), Some(first));
    assert_eq!(table.len(), 1, "answered again, not admitted again");
    let other = Register {
        session_id: 5,
        ..good_register()
    };
    assert_eq!(
        responder.handle_frame(at(2), &register_frame(other), &mut table),
        Err(Refusal::PeerMisbehaved(Misbehavior::ChangedRegister))
    );
    assert_eq!(
        responder.handle_frame(at(2), &result_frame(good_result(1)), &mut table),
        Err(Refusal::PeerMisbehaved(Misbehavior::UnexpectedStep {
            state: "established",
            step: "register_result"
        }))
    );
    let packet = FrameMessage {
        body: Some(Body::Packet(Packet::default())),
        ..FrameMessage::default()
    };
    assert_eq!(responder.handle_frame(at(2), &packet, &mut table), Ok(()));
    assert_eq!(responder.poll_body(), None);
    assert_eq!(responder.established(), Some(&established));
}

#[test]
fn once_refused_the_same_register_gets_the_same_refusal() {
    let mut responder = new_responder(&server());
    let mut table = table();
    let register = Register {
        name: "Bad".into(),
        ..good_register()
    };
    let refusal = responder
        .handle_frame(at(1), &register_frame(register.clone()), &mut table)
        .unwrap_err();
    let answer = responder.poll_body().unwrap();
    assert_eq!(
        responder.handle_frame(at(2), &register_frame(register), &mut table),
        Err(refusal.clone())
    );
    assert_eq!(responder.poll_body(), Some(answer));
    // Anything else: the refusal again, no answer.
    assert_eq!(
        responder.handle_frame(at(2), &register_frame(good_register()), &mut table),
        Err(refusal)
    );
    assert_eq!(responder.poll_body(), None);
    assert!(table.is_empty());
}
