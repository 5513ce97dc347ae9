//! Arbitrary sequences of frames, genuine exchanges and timeouts fed to both sides: nothing
//! panics, and every side ends in one final state that it keeps, reports consistently, and
//! that agrees with the session table.

use std::time::Duration;

use bytes::BytesMut;
use proptest::prelude::*;

use super::test_support::*;
use super::*;
use crate::Timestamp;
use crate::frame::{FrameLimits, encode_frame};
use crate::proto::{
    ConnectionClose, FrameMessage, Packet, PingData, Register, RegisterAccepted, RegisterRefused,
    RegisterResult, frame_message::Body, register_result::Outcome,
};

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("client-1".to_owned()),
        Just("server-1".to_owned()),
        Just(String::new()),
        Just("x".repeat(300)),
        "[a-z0-9.-]{1,12}",
        ".{0,8}",
    ]
}

fn version() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..6, Just(u32::MAX)]
}

fn id() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0),
        Just(CLIENT_INSTANCE),
        Just(SERVER_INSTANCE),
        1u64..4,
        any::<u64>()
    ]
}

fn auth() -> impl Strategy<Value = bytes::Bytes> {
    prop_oneof![
        4 => Just(bytes::Bytes::new()),
        1 => Just(bytes::Bytes::from(vec![0; MAX_AUTH_LEN + 1])),
    ]
}

fn register() -> impl Strategy<Value = Register> {
    (name(), version(), version(), id(), id(), auth()).prop_map(
        |(name, min_version, max_version, instance_id, session_id, auth)| Register {
            name,
            min_version,
            max_version,
            instance_id,
            session_id,
            auth,
        },
    )
}

fn result() -> impl Strategy<Value = RegisterResult> {
    let outcome = prop_oneof![
        Just(None),
        (version(), id()).prop_map(|(version, session_id)| Some(Outcome::Accepted(
            RegisterAccepted {
                version,
                session_id,
                adopted: false,
            }
        ))),
        (0i32..20, ".{0,40}").prop_map(|(reason, message)| Some(Outcome::Refused(
            RegisterRefused { reason, message }
        ))),
    ];
    (name(), version(), version(), id(), outcome, auth()).prop_map(
        |(name, min_version, max_version, instance_id, outcome, auth)| RegisterResult {
            name,
            min_version,
            max_version,
            instance_id,
            outcome,
            auth,
        },
    )
}

fn frame() -> impl Strategy<Value = FrameMessage> {
    let body = prop_oneof![
        Just(Body::Ping(PingData::default())),
        Just(Body::Packet(Packet::default())),
        (0i32..20).prop_map(|reason| Body::Close(ConnectionClose {
            reason,
            message: "bye".into()
        })),
    ];
    prop_oneof![
        3 => register().prop_map(register_frame),
        3 => result().prop_map(result_frame),
        1 => body.clone().prop_map(|body| FrameMessage {
            body: Some(body),
            ..FrameMessage::default()
        }),
        1 => Just(FrameMessage::default()),
        1 => (register(), body).prop_map(|(register, body)| FrameMessage {
            body: Some(body),
            ..register_frame(register)
        }),
    ]
}

#[derive(Debug, Clone)]
enum Step {
    /// A forged or garbled frame reaches the responder.
    ToResponder(FrameMessage),
    /// A forged or garbled frame reaches the initiator.
    ToInitiator(FrameMessage),
    /// The two sides exchange what they have to send.
    Exchange,
    /// Time passes, in milliseconds, and timeouts that are due are delivered.
    Advance(u32),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => frame().prop_map(Step::ToResponder),
        3 => frame().prop_map(Step::ToInitiator),
        3 => Just(Step::Exchange),
        1 => prop_oneof![0u32..2_000, Just(30_000)].prop_map(Step::Advance),
    ]
}

/// The final state of a side, if it reached one.
#[derive(Debug, Clone, PartialEq)]
enum Final {
    Established(Established),
    Failed(HandshakeError),
    Refused(Refusal),
}

fn initiator_final(initiator: &Initiator) -> Option<Final> {
    match initiator.state() {
        InitiatorState::Established(e) => Some(Final::Established(e.clone())),
        InitiatorState::Failed(e) => Some(Final::Failed(e.clone())),
        _ => None,
    }
}

fn responder_final(responder: &Responder) -> Option<Final> {
    match responder.state() {
        ResponderState::Established(e) => Some(Final::Established(e.clone())),
        ResponderState::Refused(r) => Some(Final::Refused(r.clone())),
        ResponderState::AwaitingRegister => None,
    }
}

/// Every body a side emits encodes as a frame, and refusal messages keep their bound.
fn check_sendable(body: &HandshakeBody) {
    let mut buf = BytesMut::new();
    encode_frame(
        &body.clone().into_frame_message(),
        &FrameLimits::default(),
        &mut buf,
    )
    .expect("a handshake body always encodes");
    if let HandshakeBody::RegisterResult(RegisterResult {
        outcome: Some(Outcome::Refused(refused)),
        ..
    }) = body
    {
        assert!(refused.message.len() <= MAX_MESSAGE_LEN);
    }
}

fn check_initiator_call(
    before: &Option<Final>,
    after: &Initiator,
    outcome: Result<(), HandshakeError>,
) {
    let now = initiator_final(after);
    if before.is_some() {
        assert_eq!(&now, before, "a final state is kept");
    }
    match (&now, outcome) {
        (Some(Final::Failed(error)), Err(reported)) => assert_eq!(&reported, error),
        (Some(Final::Failed(_)), Ok(())) => panic!("a failed handshake returned Ok"),
        // Established: a late violation is reported without changing the state.
        (Some(Final::Established(_)), Err(_)) => {
            assert!(before.is_some(), "an Err on the call that established")
        }
        (None, Err(reported)) => panic!("Err({reported}) without failing"),
        _ => {}
    }
    assert_eq!(after.poll_timeout().is_none(), now.is_some());
}

fn check_responder_call(
    before: &Option<Final>,
    after: &Responder,
    table: &SessionTable,
    outcome: Result<(), Refusal>,
) {
    let now = responder_final(after);
    if before.is_some() {
        assert_eq!(&now, before, "a final state is kept");
    }
    match (&now, outcome) {
        (Some(Final::Refused(refusal)), Err(reported)) => assert_eq!(&reported, refusal),
        (Some(Final::Refused(_)), Ok(())) => panic!("a refused handshake returned Ok"),
        (Some(Final::Established(_)), Err(_)) => {
            assert!(before.is_some(), "an Err on the call that established")
        }
        (None, Err(reported)) => panic!("Err({reported}) without refusing"),
        _ => {}
    }
    assert_eq!(after.poll_timeout().is_none(), now.is_some());
    if let Some(Final::Established(established)) = &now {
        // The only responder on this table: its session is the live one under the name.
        let live = table.get(&established.peer_name).expect("admitted");
        assert_eq!(live.session_id, established.session_id);
        assert_eq!(live.instance, established.peer_instance);
        assert!(VersionRange::SUPPORTED.contains(established.version));
    } else {
        assert!(table.is_empty(), "nothing admitted unless established");
    }
}

fn run(steps: Vec<Step>, options: InitiatorOptions) {
    let mut initiator = new_initiator(&client(), options);
    let mut responder = new_responder(&server());
    let mut table = SessionTable::new(instance(SERVER_INSTANCE), DuplicatePolicy::Refuse);
    let mut now = Timestamp::ZERO;
    for step in steps {
        match step {
            Step::ToResponder(frame) => {
                let before = responder_final(&responder);
                let outcome = responder.handle_frame(now, &frame, &mut table);
                check_responder_call(&before, &responder, &table, outcome);
            }
            Step::ToInitiator(frame) => {
                let before = initiator_final(&initiator);
                let outcome = initiator.handle_frame(now, &frame);
                check_initiator_call(&before, &initiator, outcome);
            }
            Step::Exchange => {
                while let Some(body) = initiator.poll_body() {
                    check_sendable(&body);
                    let before = responder_final(&responder);
                    let outcome = responder.handle_frame(now, &wire(body), &mut table);
                    check_responder_call(&before, &responder, &table, outcome);
                }
                let mut answers = 0;
                while let Some(body) = responder.poll_body() {
                    answers += 1;
                    check_sendable(&body);
                    let before = initiator_final(&initiator);
                    let outcome = initiator.handle_frame(now, &wire(body));
                    check_initiator_call(&before, &initiator, outcome);
                }
                assert!(answers <= 1, "one answer per register");
            }
            Step::Advance(millis) => {
                now += Duration::from_millis(u64::from(millis));
                if initiator.poll_timeout().is_some_and(|t| t <= now) {
                    let before = initiator_final(&initiator);
                    let outcome = initiator
                        .handle_timeout(now)
                        .map_err(HandshakeError::Timeout);
                    check_initiator_call(&before, &initiator, outcome);
                }
                if responder.poll_timeout().is_some_and(|t| t <= now) {
                    let before = responder_final(&responder);
                    let outcome = responder.handle_timeout(now).map_err(Refusal::Timeout);
                    check_responder_call(&before, &responder, &table, outcome);
                }
            }
        }
    }
    // Both sides established by the genuine exchange alone agree.
    if let (Some(a), Some(b)) = (initiator.established(), responder.established()) {
        if a.peer_name == "server-1" && b.peer_name == "client-1" && a.session_id == b.session_id {
            assert_eq!(a.version, b.version);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_frames_never_break_either_side(steps in prop::collection::vec(step(), 0..24)) {
        run(steps, InitiatorOptions::default());
    }

    #[test]
    fn arbitrary_frames_on_a_datagram_link(steps in prop::collection::vec(step(), 0..24)) {
        run(steps, InitiatorOptions::datagram());
    }

    #[test]
    fn without_interference_both_sides_establish(latency in 0u64..5_000) {
        let mut pair = Pair::default_pair();
        pair.run(Duration::from_millis(latency));
        let a = pair.initiator.established().expect("initiator established");
        let b = pair.responder.established().expect("responder established");
        prop_assert_eq!(a.session_id, b.session_id);
        prop_assert_eq!(a.version, b.version);
    }
}
