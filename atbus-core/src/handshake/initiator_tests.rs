//! Every transition of the initiator, one at a time.

use std::time::Duration;

use super::test_support::*;
use super::*;
use crate::proto::{
    CloseReason, ConnectionClose, FrameMessage, PingData, RegisterResult, frame_message::Body,
    register_result::Outcome,
};

/// An initiator that has sent its register.
fn awaiting(options: InitiatorOptions) -> Initiator {
    let mut initiator = new_initiator(&client(), options);
    assert!(initiator.poll_body().is_some());
    initiator
}

fn failed_with(mut initiator: Initiator, frame: &FrameMessage) -> HandshakeError {
    let error = initiator
        .handle_frame(at(10), frame)
        .expect_err("the handshake fails");
    assert_eq!(initiator.state(), InitiatorState::Failed(&error));
    assert_eq!(initiator.error(), Some(&error));
    assert_eq!(initiator.poll_timeout(), None);
    assert_eq!(initiator.poll_body(), None);
    error
}

fn misbehaved(result: RegisterResult) -> Misbehavior {
    match failed_with(awaiting(InitiatorOptions::default()), &result_frame(result)) {
        HandshakeError::PeerMisbehaved(misbehavior) => misbehavior,
        other => panic!("expected a violation, got {other:?}"),
    }
}

#[test]
fn start_builds_register_and_sending_it_awaits_the_result() {
    let mut initiator = new_initiator(&client(), InitiatorOptions::default());
    assert_eq!(initiator.state(), InitiatorState::Start);
    assert_eq!(initiator.poll_timeout(), Some(at(30_000)));
    let Some(HandshakeBody::Register(register)) = initiator.poll_body() else {
        panic!("register first");
    };
    assert_eq!(register, good_register());
    assert_eq!(initiator.state(), InitiatorState::AwaitingResult);
    assert_eq!(initiator.poll_body(), None);
    assert_eq!(initiator.poll_timeout(), Some(at(30_000)));
    assert_eq!(initiator.established(), None);
    assert_eq!(initiator.rtt_sample(), None);
}

#[test]
fn joining_names_the_session_and_versions_follow_the_identity() {
    let session = SessionId::new(77).unwrap();
    let identity = client().with_versions(range(2, 5));
    let mut initiator = Initiator::new(
        &identity,
        InitiatorOptions {
            join: Some(session),
            ..InitiatorOptions::default()
        },
        Box::new(NoAuthentication),
        at(0),
    );
    let Some(HandshakeBody::Register(register)) = initiator.poll_body() else {
        panic!("register first");
    };
    assert_eq!(register.session_id, 77);
    assert_eq!((register.min_version, register.max_version), (2, 5));
}

#[test]
fn an_accepted_result_establishes() {
    let mut initiator = awaiting(InitiatorOptions::default());
    assert_eq!(
        initiator.handle_frame(at(40), &result_frame(good_result(9))),
        Ok(())
    );
    let established = Established {
        peer_name: "server-1".into(),
        peer_instance: instance(SERVER_INSTANCE),
        version: 3,
        session_id: SessionId::new(9).unwrap(),
        joined: false,
    };
    assert_eq!(initiator.state(), InitiatorState::Established(&established));
    assert_eq!(initiator.rtt_sample(), Some(Duration::from_millis(40)));
    assert_eq!(initiator.poll_timeout(), None);
    assert_eq!(initiator.poll_body(), None);
}

#[test]
fn joined_means_the_asked_session_came_back() {
    let options = |join| InitiatorOptions {
        join: SessionId::new(join),
        ..InitiatorOptions::default()
    };
    let mut initiator = awaiting(options(9));
    initiator
        .handle_frame(at(1), &result_frame(good_result(9)))
        .unwrap();
    assert!(initiator.established().unwrap().joined);
    let mut initiator = awaiting(options(8));
    initiator
        .handle_frame(at(1), &result_frame(good_result(9)))
        .unwrap();
    assert!(!initiator.established().unwrap().joined);
}

#[test]
fn a_refusal_fails_with_the_responders_reason() {
    let error = failed_with(
        awaiting(InitiatorOptions::default()),
        &result_frame(refused_result(CloseReason::DuplicateName, "taken")),
    );
    assert_eq!(
        error,
        HandshakeError::Refused {
            reason: CloseReason::DuplicateName,
            message: "taken".into()
        }
    );
    assert_eq!(error.close_reason(), CloseReason::DuplicateName);
    // An unknown reason value is kept as UNKNOWN; a huge message is cut to 256 bytes.
    let mut odd = refused_result(CloseReason::Unknown, &"x".repeat(100_000));
    if let Some(Outcome::Refused(refused)) = &mut odd.outcome {
        refused.reason = 1_000;
    }
    let HandshakeError::Refused { reason, message } =
        failed_with(awaiting(InitiatorOptions::default()), &result_frame(odd))
    else {
        panic!("a refusal");
    };
    assert_eq!(reason, CloseReason::Unknown);
    assert_eq!(message.len(), MAX_MESSAGE_LEN);
}

#[test]
fn an_unsupported_version_refusal_names_both_ranges() {
    let mut result = refused_result(CloseReason::UnsupportedVersion, "no");
    result.min_version = 5;
    result.max_version = 6;
    let error = failed_with(awaiting(InitiatorOptions::default()), &result_frame(result));
    assert_eq!(
        error,
        HandshakeError::UnsupportedVersion {
            ours: range(3, 3),
            theirs: range(5, 6)
        }
    );
    assert_eq!(error.close_reason(), CloseReason::UnsupportedVersion);
    assert_eq!(
        error.to_string(),
        "no common protocol version: we speak 3, the peer speaks 5..=6"
    );
}

#[test]
fn a_close_fails_with_the_peers_reason() {
    let close = FrameMessage {
        body: Some(Body::Close(ConnectionClose {
            reason: CloseReason::Shutdown as i32,
            message: "bye".into(),
        })),
        ..FrameMessage::default()
    };
    let error = failed_with(awaiting(InitiatorOptions::default()), &close);
    assert_eq!(
        error,
        HandshakeError::PeerClosed {
            reason: CloseReason::Shutdown,
            message: "bye".into()
        }
    );
    assert_eq!(error.close_reason(), CloseReason::Shutdown);
}

#[test]
fn steps_out_of_place_are_violations() {
    let error = failed_with(
        awaiting(InitiatorOptions::default()),
        &register_frame(good_register()),
    );
    assert_eq!(
        error,
        HandshakeError::PeerMisbehaved(Misbehavior::UnexpectedStep {
            state: "awaiting register_result",
            step: "register"
        })
    );
    assert_eq!(error.close_reason(), CloseReason::ProtocolViolation);
    // A result before the register was even handed out.
    let error = failed_with(
        new_initiator(&client(), InitiatorOptions::default()),
        &result_frame(good_result(1)),
    );
    assert_eq!(
        error,
        HandshakeError::PeerMisbehaved(Misbehavior::UnexpectedStep {
            state: "starting",
            step: "register_result"
        })
    );
    let mut two = result_frame(good_result(1));
    two.body = Some(Body::Ping(PingData::default()));
    assert_eq!(
        failed_with(awaiting(InitiatorOptions::default()), &two),
        HandshakeError::PeerMisbehaved(Misbehavior::SeveralBodies)
    );
}

#[test]
fn other_bodies_and_empty_frames_are_ignored_while_waiting() {
    let mut initiator = awaiting(InitiatorOptions::default());
    let ping = FrameMessage {
        body: Some(Body::Ping(PingData::default())),
        ..FrameMessage::default()
    };
    assert_eq!(initiator.handle_frame(at(1), &ping), Ok(()));
    assert_eq!(
        initiator.handle_frame(at(1), &FrameMessage::default()),
        Ok(())
    );
    assert_eq!(initiator.state(), InitiatorState::AwaitingResult);
}

#[test]
fn malformed_results_are_violations() {
    let mut result = good_result(1);
    result.outcome = None;
    assert_eq!(misbehaved(result), Misbehavior::MissingOutcome);

    let mut result = good_result(1);
    result.min_version = 4;
    assert_eq!(
        misbehaved(result),
        Misbehavior::InvalidVersionRange { min: 4, max: 3 }
    );

    let mut result = good_result(1);
    result.instance_id = 0;
    assert_eq!(misbehaved(result), Misbehavior::MissingInstance);

    assert_eq!(misbehaved(good_result(0)), Misbehavior::MissingSession);

    for name in ["", "Server", &"s".repeat(300)] {
        let mut result = good_result(1);
        result.name = name.into();
        let Misbehavior::InvalidPeerName(error) = misbehaved(result) else {
            panic!("invalid name {name:?}");
        };
        assert_eq!(error.field.as_str(), "register_result.name");
    }

    let mut result = good_result(1);
    result.auth = vec![0; MAX_AUTH_LEN + 1].into();
    assert_eq!(
        misbehaved(result),
        Misbehavior::FieldTooLarge {
            field: "register_result.auth",
            length: MAX_AUTH_LEN + 1,
            max: MAX_AUTH_LEN
        }
    );
}

#[test]
fn only_the_highest_common_version_is_accepted() {
    let identity = client().with_versions(range(2, 4));
    let result = |version, min, max| {
        let mut result = good_result(1);
        result.min_version = min;
        result.max_version = max;
        result.outcome = Some(Outcome::Accepted(crate::proto::RegisterAccepted {
            version,
            session_id: 1,
            adopted: false,
        }));
        result_frame(result)
    };
    let start = || {
        let mut initiator = new_initiator(&identity, InitiatorOptions::default());
        initiator.poll_body();
        initiator
    };
    let mut initiator = start();
    initiator.handle_frame(at(1), &result(4, 3, 9)).unwrap();
    assert_eq!(initiator.established().unwrap().version, 4);
    // A downgrade to a common but lower version, a version outside our range, a version
    // without overlap.
    for (version, min, max, expected) in [(3, 3, 9, Some(4)), (5, 3, 9, Some(4)), (5, 5, 9, None)] {
        assert_eq!(
            failed_with(start(), &result(version, min, max)),
            HandshakeError::PeerMisbehaved(Misbehavior::VersionNotNegotiated {
                chosen: version,
                expected
            })
        );
    }
}

#[test]
fn the_wrong_peer_is_unauthorized() {
    let options = InitiatorOptions {
        expected_peer: Some("server-2".into()),
        ..InitiatorOptions::default()
    };
    let error = failed_with(awaiting(options), &result_frame(good_result(1)));
    assert_eq!(
        error,
        HandshakeError::WrongPeer {
            expected: "server-2".into(),
            actual: "server-1".into()
        }
    );
    assert_eq!(error.close_reason(), CloseReason::Unauthorized);
    let options = InitiatorOptions {
        expected_peer: Some("server-1".into()),
        ..InitiatorOptions::default()
    };
    let mut initiator = awaiting(options);
    initiator
        .handle_frame(at(1), &result_frame(good_result(1)))
        .unwrap();
    assert!(initiator.established().is_some());
}

#[test]
fn the_authenticator_checks_the_result() {
    let mut initiator = Initiator::new(
        &client(),
        InitiatorOptions::default(),
        Box::new(RefuseAll),
        at(0),
    );
    let Some(HandshakeBody::Register(register)) = initiator.poll_body() else {
        panic!("register first");
    };
    assert_eq!(&register.auth[..], b"not-a-token");
    let error = failed_with(initiator, &result_frame(good_result(1)));
    assert_eq!(
        error,
        HandshakeError::Unauthorized(AuthError::new("the responder proved nothing"))
    );
    assert_eq!(error.close_reason(), CloseReason::Unauthorized);
}

#[test]
fn the_deadline_fails_the_handshake_once() {
    let mut initiator = awaiting(InitiatorOptions::default());
    assert_eq!(initiator.handle_timeout(at(29_999)), Ok(()));
    let timeout = HandshakeTimeout {
        started: at(0),
        limit: DEFAULT_HANDSHAKE_DEADLINE,
    };
    assert_eq!(initiator.handle_timeout(at(30_000)), Err(timeout));
    assert_eq!(initiator.error(), Some(&HandshakeError::Timeout(timeout)));
    assert_eq!(
        initiator.error().unwrap().close_reason(),
        CloseReason::HandshakeTimeout
    );
    assert_eq!(initiator.poll_timeout(), None);
    assert_eq!(initiator.handle_timeout(at(40_000)), Ok(()));
    // A failed handshake keeps reporting its failure.
    assert_eq!(
        initiator.handle_frame(at(40_000), &result_frame(good_result(1))),
        Err(HandshakeError::Timeout(timeout))
    );
    // A deadline reached before the register was even handed out fails too.
    let mut unsent = new_initiator(&client(), InitiatorOptions::default());
    assert_eq!(unsent.handle_timeout(at(30_000)), Err(timeout));
}

#[test]
fn datagram_links_resend_register_with_back_off() {
    let mut initiator = awaiting(InitiatorOptions::datagram());
    assert_eq!(initiator.poll_timeout(), Some(at(1_000)));
    assert_eq!(initiator.handle_timeout(at(999)), Ok(()));
    assert_eq!(initiator.poll_body(), None);
    assert_eq!(initiator.handle_timeout(at(1_000)), Ok(()));
    assert_eq!(
        initiator.poll_body(),
        Some(HandshakeBody::Register(good_register()))
    );
    assert_eq!(initiator.poll_body(), None);
    assert_eq!(initiator.poll_timeout(), Some(at(3_000)));
    initiator.handle_timeout(at(3_000)).unwrap();
    assert!(initiator.poll_body().is_some());
    assert_eq!(initiator.poll_timeout(), Some(at(7_000)));
    // Resends never push the deadline back.
    let mut late = awaiting(InitiatorOptions {
        resend: Some(Duration::from_secs(20)),
        ..InitiatorOptions::datagram()
    });
    late.handle_timeout(at(20_000)).unwrap();
    assert_eq!(late.poll_timeout(), Some(at(30_000)));
    // After a resend the RTT sample is ambiguous and not given.
    initiator
        .handle_frame(at(3_100), &result_frame(good_result(1)))
        .unwrap();
    assert!(initiator.established().is_some());
    assert_eq!(initiator.rtt_sample(), None);
}

#[test]
fn once_established_only_the_same_result_is_welcome() {
    let mut initiator = awaiting(InitiatorOptions::default());
    initiator
        .handle_frame(at(1), &result_frame(good_result(9)))
        .unwrap();
    let established = initiator.established().cloned().unwrap();
    assert_eq!(
        initiator.handle_frame(at(2), &result_frame(good_result(9))),
        Ok(())
    );
    assert_eq!(
        initiator.handle_frame(at(2), &result_frame(good_result(8))),
        Err(HandshakeError::PeerMisbehaved(Misbehavior::ChangedResult))
    );
    assert_eq!(
        initiator.handle_frame(at(2), &register_frame(good_register())),
        Err(HandshakeError::PeerMisbehaved(
            Misbehavior::UnexpectedStep {
                state: "established",
                step: "register"
            }
        ))
    );
    let mut two = result_frame(good_result(9));
    two.body = Some(Body::Ping(PingData::default()));
    assert_eq!(
        initiator.handle_frame(at(2), &two),
        Err(HandshakeError::PeerMisbehaved(Misbehavior::SeveralBodies))
    );
    // Stream traffic is the connection's business now.
    let ping = FrameMessage {
        body: Some(Body::Ping(PingData::default())),
        ..FrameMessage::default()
    };
    assert_eq!(initiator.handle_frame(at(2), &ping), Ok(()));
    assert_eq!(initiator.handle_timeout(at(60_000)), Ok(()));
    assert_eq!(initiator.established(), Some(&established));
}
