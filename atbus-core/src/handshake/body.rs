//! The handshake's frames: the two steps as one type, how they ride in a `frame_message`, and
//! how a received `frame_message` looks to a handshake.

use crate::proto::frame_message::Body;
use crate::proto::{CloseReason, FrameMessage, Register, RegisterResult};

use super::Misbehavior;

/// Most bytes of authentication data in `register.auth` or `register_result.auth`.
pub const MAX_AUTH_LEN: usize = 16 * 1024;

/// Most bytes of a refusal's or a close's human-readable message that are sent or kept.
pub const MAX_MESSAGE_LEN: usize = 256;

/// One step of the registration handshake, as a handshake emits it from `poll_body`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeBody {
    /// Initiator to responder.
    Register(Register),
    /// Responder to initiator.
    RegisterResult(RegisterResult),
}

impl HandshakeBody {
    /// A `frame_message` that carries this step and nothing else, ready for
    /// [`encode_frame`](crate::frame::encode_frame). On a datagram link the caller sets
    /// `packet_number` if the link numbers handshake frames.
    pub fn into_frame_message(self) -> FrameMessage {
        match self {
            HandshakeBody::Register(register) => FrameMessage {
                register: Some(Box::new(register)),
                ..Default::default()
            },
            HandshakeBody::RegisterResult(result) => FrameMessage {
                register_result: Some(Box::new(result)),
                ..Default::default()
            },
        }
    }
}

impl From<HandshakeBody> for FrameMessage {
    fn from(body: HandshakeBody) -> Self {
        body.into_frame_message()
    }
}

/// Whether `message` carries a handshake step (`register` or `register_result`): such frames go
/// to the connection's handshake, before and after it is established (a datagram peer may send
/// a step again when the answer was lost), never to its streams.
pub fn carries_handshake(message: &FrameMessage) -> bool {
    message.register.is_some() || message.register_result.is_some()
}

/// A received frame as a handshake sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Incoming<'a> {
    Register(&'a Register),
    Result(&'a RegisterResult),
    /// The peer closed the connection.
    Close(CloseReason, &'a str),
    /// Another body: `ping`, `pong`, `packet` or `acknowledge`.
    Data(&'static str),
    /// A frame without a body.
    Empty,
}

/// Sorts a received frame; more than one body is a violation.
pub(super) fn classify(message: &FrameMessage) -> Result<Incoming<'_>, Misbehavior> {
    let bodies = usize::from(message.body.is_some())
        + usize::from(message.register.is_some())
        + usize::from(message.register_result.is_some());
    if bodies > 1 {
        return Err(Misbehavior::SeveralBodies);
    }
    if let Some(register) = &message.register {
        return Ok(Incoming::Register(register));
    }
    if let Some(result) = &message.register_result {
        return Ok(Incoming::Result(result));
    }
    Ok(match &message.body {
        None => Incoming::Empty,
        Some(Body::Close(close)) => Incoming::Close(
            CloseReason::try_from(close.reason).unwrap_or(CloseReason::Unknown),
            shortened(&close.message),
        ),
        Some(Body::Ping(_)) => Incoming::Data("ping"),
        Some(Body::Pong(_)) => Incoming::Data("pong"),
        Some(Body::Packet(_)) => Incoming::Data("packet"),
        Some(Body::Acknowledge(_)) => Incoming::Data("acknowledge"),
    })
}

/// `text` cut to at most [`MAX_MESSAGE_LEN`] bytes, on a character boundary.
pub(super) fn shortened(text: &str) -> &str {
    if text.len() <= MAX_MESSAGE_LEN {
        return text;
    }
    let mut end = MAX_MESSAGE_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `Err` when `auth` is longer than [`MAX_AUTH_LEN`].
pub(super) fn check_auth_len(field: &'static str, auth: &[u8]) -> Result<(), Misbehavior> {
    if auth.len() > MAX_AUTH_LEN {
        return Err(Misbehavior::FieldTooLarge {
            field,
            length: auth.len(),
            max: MAX_AUTH_LEN,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{ConnectionClose, PingData};

    #[test]
    fn steps_ride_alone_in_a_frame() {
        let register = Register {
            name: "a".into(),
            ..Default::default()
        };
        let message: FrameMessage = HandshakeBody::Register(register.clone()).into();
        assert!(carries_handshake(&message));
        assert_eq!(classify(&message), Ok(Incoming::Register(&register)));
        let result = RegisterResult::default();
        let message = HandshakeBody::RegisterResult(result.clone()).into_frame_message();
        assert!(carries_handshake(&message));
        assert_eq!(classify(&message), Ok(Incoming::Result(&result)));
        assert!(!carries_handshake(&FrameMessage::default()));
    }

    #[test]
    fn frames_sort_into_what_a_handshake_needs() {
        assert_eq!(classify(&FrameMessage::default()), Ok(Incoming::Empty));
        let ping = FrameMessage {
            body: Some(Body::Ping(PingData::default())),
            ..Default::default()
        };
        assert_eq!(classify(&ping), Ok(Incoming::Data("ping")));
        let close = FrameMessage {
            body: Some(Body::Close(ConnectionClose {
                reason: 999,
                message: "é".repeat(200),
            })),
            ..Default::default()
        };
        let Ok(Incoming::Close(reason, message)) = classify(&close) else {
            panic!("a close");
        };
        assert_eq!(reason, CloseReason::Unknown);
        assert_eq!(message.len(), MAX_MESSAGE_LEN);
        let mut both = ping.clone();
        both.register = Some(Box::default());
        assert_eq!(classify(&both), Err(Misbehavior::SeveralBodies));
        let steps = FrameMessage {
            register: Some(Box::default()),
            register_result: Some(Box::default()),
            ..Default::default()
        };
        assert_eq!(classify(&steps), Err(Misbehavior::SeveralBodies));
    }

    #[test]
    fn shortening_respects_character_boundaries() {
        assert_eq!(shortened("abc"), "abc");
        let text = format!("a{}", "€".repeat(100)); // 1 + 300 bytes
        let cut = shortened(&text);
        assert!(cut.len() <= MAX_MESSAGE_LEN && cut.len() > MAX_MESSAGE_LEN - 3);
        assert!(text.starts_with(cut));
        assert_eq!(check_auth_len("auth", &[0; MAX_AUTH_LEN]), Ok(()));
        assert!(check_auth_len("auth", &[0; MAX_AUTH_LEN + 1]).is_err());
    }
}
