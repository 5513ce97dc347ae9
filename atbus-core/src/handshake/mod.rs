//! The registration handshake: binds a new connection to a session between two node names.
//!
//! The side that opened the connection (the [`Initiator`]) sends one `register`; the side that
//! accepted it (the [`Responder`]) answers with one `register_result`, accepted or refused. One
//! round trip; nothing else travels on the connection before it (the connection's streams start
//! once it is established). Both sides are sans-IO state machines like the rest of the core:
//! no socket, no clock, no randomness of their own, and no dependency on
//! [`Connection`](crate::connection::Connection) — the node carries their frames.
//!
//! # Messages
//!
//! | step | fields |
//! |---|---|
//! | `register` (initiator → responder) | claimed `name`; `min_version`, `max_version`; `instance_id` (random per run of the node, never 0); `session_id` to join, or 0; `auth` (empty until authentication exists) |
//! | `register_result` (responder → initiator) | responder's `name`, `min_version`, `max_version`, `instance_id`; `accepted { version, session_id }` or `refused { reason, message }`; `auth` |
//!
//! They ride in `frame_message` fields 16 and 17, alone in their frame ([`HandshakeBody`],
//! [`carries_handshake`]); `docs/PROTOCOL.md` § 6 has the bytes.
//!
//! # States
//!
//! ```text
//!  Initiator:  Start ──register──▶ AwaitingResult ──accepted, checked──▶ Established{peer, instance, version, session}
//!                                      │  ▲ resend (datagram links)
//!                                      └──┴─ refused / invalid / close / deadline ──▶ Failed(HandshakeError)
//!
//!  Responder:  AwaitingRegister ──register admitted──▶ Established{peer, instance, version, session}
//!                     └── register refused / invalid frame / close / deadline ──▶ Refused(Refusal)
//! ```
//!
//! Each state is its own type inside [`initiator`](Initiator) and [`responder`](Responder), and
//! only a state's own handler builds the next, so a handshake cannot skip a step;
//! [`InitiatorState`] and [`ResponderState`] are the public view. `Established`, `Failed` and
//! `Refused` are final.
//!
//! # Inputs and outputs
//!
//! - `handle_frame(now, &frame_message)`: every frame that arrives on the connection while the
//!   handshake runs, and afterwards every frame that [`carries_handshake`]. Returns `Err` when
//!   the connection must close (the error's `close_reason()` says with what).
//! - `handle_timeout(now)`: at the instant `poll_timeout()` gave. Returns the typed
//!   [`HandshakeTimeout`] when the deadline passed.
//! - `poll_body()`: the steps to send, as [`HandshakeBody`]; the caller wraps each in a
//!   `frame_message` ([`HandshakeBody::into_frame_message`]) and encodes it.
//! - `poll_timeout()`: the deadline (default [`DEFAULT_HANDSHAKE_DEADLINE`], 30 s, as libatbus),
//!   or the initiator's next resend on datagram links, whichever is first.
//!
//! # Rules
//!
//! - **Version negotiation**: each side speaks a [`VersionRange`] (default
//!   [`VersionRange::SUPPORTED`], the frame codec's versions). The responder picks the highest
//!   version both contain; the initiator accepts only exactly that version. No overlap: the
//!   responder refuses with `UNSUPPORTED_VERSION` and its range, and the initiator fails with
//!   [`HandshakeError::UnsupportedVersion`] naming both ranges (the responder's [`Refusal`]
//!   names them too).
//! - **Names** are checked by the node-name rule of discovery records
//!   ([`check_node_name`](crate::discovery::check_node_name)). A name that breaks it is refused
//!   with `UNAUTHORIZED` — no node may use it, which is what that reason says; an empty name is
//!   how anonymous clients will ask for a name once authentication exists. A claim of the
//!   responder's own name is refused with `DUPLICATE_NAME`.
//! - **Duplicate names and sessions**: the responder judges the claim against its
//!   [`SessionTable`] (name → live session: instance and session id). New name: new session.
//!   Same instance naming the live session: it joins it (a second connection of a
//!   multi-connection session). Same instance naming no or another session: the live session is
//!   abandoned and replaced. Another instance: refused with `DUPLICATE_NAME` under
//!   [`DuplicatePolicy::Refuse`] (the default), or the old session replaced under
//!   [`DuplicatePolicy::ReplaceOlder`] (a restarted node need not wait for its old session's
//!   idle timeout).
//! - **Order of the responder's checks**: frame shape and field sizes, version range, common
//!   version, instance id, name, authentication, session table. A malformed message is a
//!   `PROTOCOL_VIOLATION` whatever it claims, and the version comes before anything a newer
//!   version might define differently.
//! - **Answers**: every `register` gets exactly one `register_result`, and the same one again if
//!   the same `register` comes again (a datagram peer missed the answer). A responder refuses
//!   without answering only what is not a `register`: another body first, a bad frame, a close,
//!   the deadline.
//! - **Deadline**: both sides fail at `start + deadline` if not established. On datagram links
//!   the initiator sends `register` again after 1 s, 2 s, 4 s, … ([`InitiatorOptions::datagram`]).
//! - **Limits**: `auth` at most [`MAX_AUTH_LEN`] bytes, messages kept to [`MAX_MESSAGE_LEN`];
//!   names above 253 bytes fail the name rule. Hostile input ends in a typed refusal or
//!   failure, never a panic.
//!
//! # Authentication
//!
//! [`Authenticator`] is where the authentication step of the protocol slots in: it adds
//! `register.auth`, checks it on the responder (refusing with `UNAUTHORIZED`) and checks the
//! responder's `register_result.auth` on the initiator. Only [`NoAuthentication`] (identity
//! only, for trusted networks) exists now; tokens and TLS will be further implementations,
//! and may use the field numbers both messages keep free for them.
//!
//! # Driving it from a node
//!
//! 1. On a new outgoing connection: `Initiator::new(identity, options, authenticator, now)`;
//!    on an accepted one: `Responder::new(identity, deadline, authenticator, now)`.
//! 2. Drain `poll_body()`, wrapping each step in a `frame_message` and encoding it onto the
//!    transport (`packet_number` 0: the connection's numbering starts after the handshake);
//!    arm the timer from `poll_timeout()`.
//! 3. Decode incoming frames (a `StreamDecoder` or `DatagramDecoder`) and give each to
//!    `handle_frame`, then drain again. On `Err`, close the connection with the error's
//!    `close_reason()` (after sending the answer the responder queued), count the reason in the
//!    metrics, and on the responder side of a datagram link keep the refused responder until
//!    its [`deadline`](Responder::deadline) to answer repeated `register`s.
//! 4. Once established: bind the connection to `Established::session_id` with
//!    `Established::peer_name`, start the connection's streams at the agreed `version`, end the
//!    session the responder [`replaced`](Responder::replaced) (if any) with `PEER_RESET`, and
//!    from then on route only frames that [`carries_handshake`] to the handshake.
//! 5. When a session ends, [`SessionTable::remove`] it.
//!
//! ```
//! use atbus_core::Timestamp;
//! use atbus_core::frame::{encode_frame, FrameLimits, StreamDecoder};
//! use atbus_core::handshake::{
//!     DuplicatePolicy, Initiator, InitiatorOptions, InstanceId, LocalIdentity,
//!     NoAuthentication, Responder, SessionTable, DEFAULT_HANDSHAKE_DEADLINE,
//! };
//! use bytes::BytesMut;
//!
//! let now = Timestamp::ZERO;
//! let client = LocalIdentity::new("client-1", InstanceId::from_random(0x5eed_0001))?;
//! let server = LocalIdentity::new("server-1", InstanceId::from_random(0x5eed_0002))?;
//! let mut sessions = SessionTable::new(server.instance(), DuplicatePolicy::Refuse);
//!
//! let mut initiator =
//!     Initiator::new(&client, InitiatorOptions::default(), Box::new(NoAuthentication), now);
//! let mut responder =
//!     Responder::new(&server, DEFAULT_HANDSHAKE_DEADLINE, Box::new(NoAuthentication), now);
//!
//! // One flight each way, through the frame codec as on a byte stream.
//! let limits = FrameLimits::default();
//! let mut to_server = BytesMut::new();
//! while let Some(body) = initiator.poll_body() {
//!     encode_frame(&body.into_frame_message(), &limits, &mut to_server)?;
//! }
//! let mut decoder = StreamDecoder::new(limits);
//! decoder.feed(&to_server);
//! while let Some(frame) = decoder.next_frame()? {
//!     responder.handle_frame(now, &frame.message, &mut sessions)?;
//! }
//! let mut to_client = BytesMut::new();
//! while let Some(body) = responder.poll_body() {
//!     encode_frame(&body.into_frame_message(), &limits, &mut to_client)?;
//! }
//! let mut decoder = StreamDecoder::new(limits);
//! decoder.feed(&to_client);
//! while let Some(frame) = decoder.next_frame()? {
//!     initiator.handle_frame(now, &frame.message)?;
//! }
//!
//! let client_side = initiator.established().expect("established");
//! let server_side = responder.established().expect("established");
//! assert_eq!(client_side.peer_name, "server-1");
//! assert_eq!(server_side.peer_name, "client-1");
//! assert_eq!(client_side.session_id, server_side.session_id);
//! assert_eq!(client_side.version, 3);
//! assert_eq!(sessions.get("client-1").map(|s| s.session_id), Some(server_side.session_id));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod auth;
mod body;
mod error;
mod identity;
mod initiator;
mod responder;
mod session_table;
mod timing;
mod version;

#[cfg(test)]
mod initiator_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod responder_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

pub use auth::{AuthError, Authenticator, NoAuthentication};
pub use body::{HandshakeBody, MAX_AUTH_LEN, MAX_MESSAGE_LEN, carries_handshake};
pub use error::{HandshakeError, Misbehavior, Refusal};
pub use identity::{IdentityError, InstanceId, LocalIdentity, SessionId};
pub use initiator::{Initiator, InitiatorOptions, InitiatorState};
pub use responder::{Responder, ResponderState};
pub use session_table::{
    Admission, Claim, Decision, DuplicatePolicy, LiveSession, NameTaken, ReplaceCause, SessionTable,
};
pub use timing::{DEFAULT_HANDSHAKE_DEADLINE, DEFAULT_RESEND_INTERVAL, HandshakeTimeout};
pub use version::VersionRange;

/// A handshake's result: the connection belongs to a session with a named peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Established {
    /// The peer's node name.
    pub peer_name: String,
    /// The peer's instance (its current run).
    pub peer_instance: InstanceId,
    /// The protocol version both sides use on this connection.
    pub version: u32,
    /// The session the connection belongs to.
    pub session_id: SessionId,
    /// Whether the connection joined a live session (rather than starting a new one). On the
    /// initiator: the responder gave back the session it asked to join; otherwise the session
    /// it remembered is gone and stream state starts over.
    pub joined: bool,
}
