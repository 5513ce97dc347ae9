//! Both sides driven against each other in memory, through the frame codec.

use std::time::Duration;

use super::test_support::*;
use super::*;
use crate::Timestamp;
use crate::proto::CloseReason;

const LATENCY: Duration = Duration::from_millis(20);

fn pair_with(
    client: &LocalIdentity,
    options: InitiatorOptions,
    server: &LocalIdentity,
    table: SessionTable,
) -> Pair {
    Pair::new(new_initiator(client, options), new_responder(server), table)
}

fn server_table(policy: DuplicatePolicy) -> SessionTable {
    SessionTable::new(instance(SERVER_INSTANCE), policy)
}

#[test]
fn happy_path_takes_one_round_trip() {
    let mut pair = Pair::default_pair();
    pair.run(LATENCY);
    let client_side = pair.initiator.established().expect("initiator established");
    let server_side = pair.responder.established().expect("responder established");
    assert_eq!(client_side.peer_name, "server-1");
    assert_eq!(client_side.peer_instance, instance(SERVER_INSTANCE));
    assert_eq!(server_side.peer_name, "client-1");
    assert_eq!(server_side.peer_instance, instance(CLIENT_INSTANCE));
    assert_eq!(client_side.session_id, server_side.session_id);
    assert_eq!((client_side.version, server_side.version), (3, 3));
    assert!(!client_side.joined && !server_side.joined);
    assert_eq!(pair.initiator.rtt_sample(), Some(2 * LATENCY));
    assert_eq!(pair.now, Timestamp::ZERO + 2 * LATENCY);
    assert!(pair.initiator_errors.is_empty() && pair.responder_errors.is_empty());
    assert_eq!(
        pair.table.get("client-1").map(|s| s.session_id),
        Some(server_side.session_id)
    );
}

#[test]
fn version_mismatch_fails_both_sides_with_both_ranges() {
    // The initiator newer than the responder, then older.
    for (client_range, server_range) in [(range(4, 5), range(3, 3)), (range(1, 2), range(3, 4))] {
        let mut pair = pair_with(
            &client().with_versions(client_range),
            InitiatorOptions::default(),
            &server().with_versions(server_range),
            server_table(DuplicatePolicy::Refuse),
        );
        pair.run(LATENCY);
        let expected_client = HandshakeError::UnsupportedVersion {
            ours: client_range,
            theirs: server_range,
        };
        let expected_server = Refusal::UnsupportedVersion {
            ours: server_range,
            theirs: client_range,
        };
        assert_eq!(pair.initiator.error(), Some(&expected_client));
        assert_eq!(pair.responder.refusal(), Some(&expected_server));
        assert_eq!(
            expected_client.close_reason(),
            CloseReason::UnsupportedVersion
        );
        assert_eq!(pair.initiator_errors, [expected_client]);
        assert_eq!(pair.responder_errors, [expected_server]);
        assert!(pair.table.is_empty());
    }
}

#[test]
fn overlapping_ranges_agree_on_the_highest_common_version() {
    let mut pair = pair_with(
        &client().with_versions(range(2, 4)),
        InitiatorOptions::default(),
        &server().with_versions(range(3, 9)),
        server_table(DuplicatePolicy::Refuse),
    );
    pair.run(LATENCY);
    assert_eq!(pair.initiator.established().unwrap().version, 4);
    assert_eq!(pair.responder.established().unwrap().version, 4);
}

#[test]
fn both_sides_give_up_at_the_deadline() {
    // The register never arrives: the responder times out; so does the initiator.
    let mut initiator = new_initiator(&client(), InitiatorOptions::default());
    let mut responder = new_responder(&server());
    assert!(initiator.poll_body().is_some()); // lost
    let deadline = initiator.poll_timeout().unwrap();
    assert_eq!(responder.poll_timeout(), Some(deadline));
    assert_eq!(deadline, Timestamp::ZERO + DEFAULT_HANDSHAKE_DEADLINE);
    let initiator_timeout = initiator.handle_timeout(deadline).unwrap_err();
    let responder_timeout = responder.handle_timeout(deadline).unwrap_err();
    assert_eq!(initiator_timeout.deadline(), deadline);
    assert_eq!(responder_timeout.deadline(), deadline);
    assert_eq!(
        initiator.error().unwrap().close_reason(),
        CloseReason::HandshakeTimeout
    );
    assert_eq!(
        responder.refusal().unwrap().close_reason(),
        CloseReason::HandshakeTimeout
    );
}

#[test]
fn a_lost_answer_on_a_byte_stream_ends_at_the_deadline() {
    let mut pair = Pair::default_pair();
    pair.lose_answers = 1;
    pair.run(LATENCY);
    assert!(pair.responder.established().is_some());
    assert!(matches!(
        pair.initiator.error(),
        Some(HandshakeError::Timeout(_))
    ));
    assert_eq!(pair.now, Timestamp::ZERO + DEFAULT_HANDSHAKE_DEADLINE);
}

#[test]
fn a_lost_answer_on_a_datagram_link_is_repaired_by_a_resend() {
    let mut pair = pair_with(
        &client(),
        InitiatorOptions::datagram(),
        &server(),
        server_table(DuplicatePolicy::Refuse),
    );
    pair.lose_answers = 2;
    pair.run(LATENCY);
    let client_side = pair.initiator.established().expect("established");
    assert_eq!(
        client_side.session_id,
        pair.responder.established().unwrap().session_id
    );
    // Sent at 0 (answer lost), 1 s (answer lost), 3 s (answered).
    assert!(pair.now >= Timestamp::from_millis(3_000) && pair.now < Timestamp::from_millis(4_000));
    assert_eq!(pair.initiator.rtt_sample(), None);
    assert_eq!(pair.table.len(), 1);
    assert!(pair.initiator_errors.is_empty() && pair.responder_errors.is_empty());
}

#[test]
fn a_refusal_lost_on_a_datagram_link_is_repeated() {
    let mut pair = pair_with(
        &client().with_versions(range(7, 7)),
        InitiatorOptions::datagram(),
        &server(),
        server_table(DuplicatePolicy::Refuse),
    );
    pair.lose_answers = 1;
    pair.run(LATENCY);
    assert!(matches!(
        pair.initiator.error(),
        Some(HandshakeError::UnsupportedVersion { .. })
    ));
}

/// Establishes the client (instance `value`) with `table`; returns the session.
fn establish(table: SessionTable, value: u64, join: Option<SessionId>) -> (Pair, SessionId) {
    let mut pair = pair_with(
        &identity("client-1", value),
        InitiatorOptions {
            join,
            ..InitiatorOptions::default()
        },
        &server(),
        table,
    );
    pair.run(LATENCY);
    let session = pair
        .initiator
        .established()
        .unwrap_or_else(|| panic!("not established: {:?}", pair.initiator.state()))
        .session_id;
    (pair, session)
}

#[test]
fn a_duplicate_name_is_refused_under_the_default_policy() {
    let (first, session) = establish(
        server_table(DuplicatePolicy::default()),
        CLIENT_INSTANCE,
        None,
    );
    let mut second = pair_with(
        &identity("client-1", 0x3333),
        InitiatorOptions::default(),
        &server(),
        first.table,
    );
    second.run(LATENCY);
    let Some(HandshakeError::Refused { reason, message }) = second.initiator.error() else {
        panic!("refused: {:?}", second.initiator.state());
    };
    assert_eq!(*reason, CloseReason::DuplicateName);
    assert!(message.contains("client-1"), "{message}");
    assert!(matches!(
        second.responder.refusal(),
        Some(Refusal::DuplicateName { .. })
    ));
    assert_eq!(
        second.table.get("client-1").unwrap().session_id,
        session,
        "the first session keeps the name"
    );
}

#[test]
fn a_restarted_node_replaces_its_old_session_under_replace_older() {
    let (first, old) = establish(
        server_table(DuplicatePolicy::ReplaceOlder),
        CLIENT_INSTANCE,
        None,
    );
    let (second, new) = establish(first.table, 0x3333, Some(old));
    assert_ne!(new, old);
    assert!(!second.initiator.established().unwrap().joined);
    assert_eq!(
        second.responder.replaced(),
        Some(&LiveSession {
            instance: instance(CLIENT_INSTANCE),
            session_id: old
        })
    );
    assert_eq!(second.table.get("client-1").unwrap().session_id, new);
}

#[test]
fn a_second_connection_joins_the_session() {
    let (first, session) = establish(server_table(DuplicatePolicy::Refuse), CLIENT_INSTANCE, None);
    let (second, joined) = establish(first.table, CLIENT_INSTANCE, Some(session));
    assert_eq!(joined, session);
    assert!(second.initiator.established().unwrap().joined);
    assert!(second.responder.established().unwrap().joined);
    assert_eq!(second.responder.replaced(), None);
    assert_eq!(second.table.len(), 1);
}

#[test]
fn a_session_the_responder_forgot_is_not_joined() {
    // The responder restarted (an empty table, a new instance): the initiator learns its
    // session is gone from the new id and `joined == false`.
    let (_, session) = establish(server_table(DuplicatePolicy::Refuse), CLIENT_INSTANCE, None);
    let restarted = SessionTable::new(instance(0x4444), DuplicatePolicy::Refuse);
    let (again, new) = establish(restarted, CLIENT_INSTANCE, Some(session));
    assert_ne!(new, session);
    assert!(!again.initiator.established().unwrap().joined);
}

#[test]
fn hostile_registers_end_in_typed_refusals() {
    let cases: [(LocalIdentity, CloseReason); 2] = [
        // A name the server itself holds.
        (
            identity("server-1", CLIENT_INSTANCE),
            CloseReason::DuplicateName,
        ),
        // A range that does not overlap.
        (
            client().with_versions(range(100, 200)),
            CloseReason::UnsupportedVersion,
        ),
    ];
    for (identity, reason) in cases {
        let mut pair = pair_with(
            &identity,
            InitiatorOptions::default(),
            &server(),
            server_table(DuplicatePolicy::Refuse),
        );
        pair.run(LATENCY);
        assert_eq!(pair.initiator.error().unwrap().close_reason(), reason);
        assert_eq!(pair.responder.refusal().unwrap().close_reason(), reason);
    }
}

#[test]
fn wire_vectors_match_the_protocol_document() {
    use crate::frame::{FrameLimits, encode_frame};
    use crate::proto::{Register, RegisterAccepted, RegisterResult, register_result::Outcome};

    let encode = |body: HandshakeBody| {
        let mut buf = bytes::BytesMut::new();
        encode_frame(
            &body.into_frame_message(),
            &FrameLimits::default(),
            &mut buf,
        )
        .unwrap();
        buf.to_vec()
    };
    let register = Register {
        name: "app-1".into(),
        min_version: 3,
        max_version: 3,
        instance_id: 0x0102_0304_0506_0708,
        ..Register::default()
    };
    assert_eq!(
        encode(HandshakeBody::Register(register)),
        [
            0x03, 0x17, 0x82, 0x01, 0x14, 0x0a, 0x05, b'a', b'p', b'p', b'-', b'1', 0x10, 0x03,
            0x18, 0x03, 0x21, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x35, 0x0b, 0x78,
            0x9b,
        ]
    );
    let result = RegisterResult {
        name: "relay-1".into(),
        min_version: 3,
        max_version: 3,
        instance_id: 0x1112_1314_1516_1718,
        outcome: Some(Outcome::Accepted(RegisterAccepted {
            version: 3,
            session_id: 0x2122_2324_2526_2728,
            adopted: false,
        })),
        ..RegisterResult::default()
    };
    assert_eq!(
        encode(HandshakeBody::RegisterResult(result)),
        [
            0x03, 0x26, 0x8a, 0x01, 0x23, 0x0a, 0x07, b'r', b'e', b'l', b'a', b'y', b'-', b'1',
            0x10, 0x03, 0x18, 0x03, 0x21, 0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11, 0x2a,
            0x0b, 0x08, 0x03, 0x11, 0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21, 0x71, 0xe0,
            0xa4, 0x82,
        ]
    );
}
