//! The initiator: the side that opened the connection and registers on it.
//!
//! ```text
//!            poll_body:                  register_result:
//!            register                    accepted and checked
//!  Start ───────────────▶ AwaitingResult ─────────────────────▶ Established
//!    │                     │    ▲    │
//!    │   handle_timeout:   │    │    │ register_result refused or malformed,
//!    │   resend due        └────┘    │ register, two bodies, close, deadline
//!    │   (datagram links: poll_body  │
//!    │   gives register again)       ▼
//!    └──────────────────────────▶ Failed(HandshakeError)
//!      result before register,
//!      register, close, deadline
//! ```

use std::time::Duration;

use crate::Timestamp;
use crate::discovery::check_node_name;
use crate::proto::{CloseReason, FrameMessage, Register, RegisterResult, register_result::Outcome};

use super::body::{Incoming, check_auth_len, classify, shortened};
use super::timing::ResendTimer;
use super::{
    Authenticator, DEFAULT_HANDSHAKE_DEADLINE, DEFAULT_RESEND_INTERVAL, Established, HandshakeBody,
    HandshakeError, HandshakeTimeout, InstanceId, LocalIdentity, Misbehavior, SessionId,
    VersionRange,
};

/// How an initiator registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitiatorOptions {
    /// The session to join (a second connection of a session this responder gave us); `None`
    /// for a new session.
    pub join: Option<SessionId>,
    /// The node this connection is meant to reach; a responder with another name fails the
    /// handshake ([`HandshakeError::WrongPeer`]). `None` accepts any name.
    pub expected_peer: Option<String>,
    /// How long the handshake may take ([`DEFAULT_HANDSHAKE_DEADLINE`], 30 s).
    pub deadline: Duration,
    /// On a datagram link, when to send `register` again if no result came: first after this
    /// long, then twice as long each time. `None` on byte streams, which do not lose frames.
    pub resend: Option<Duration>,
}

impl Default for InitiatorOptions {
    /// A new session over a byte stream, to any peer, within 30 s.
    fn default() -> Self {
        InitiatorOptions {
            join: None,
            expected_peer: None,
            deadline: DEFAULT_HANDSHAKE_DEADLINE,
            resend: None,
        }
    }
}

impl InitiatorOptions {
    /// The defaults for a datagram link: `register` is sent again after 1 s, 2 s, 4 s, … until
    /// the deadline.
    pub fn datagram() -> Self {
        InitiatorOptions {
            resend: Some(DEFAULT_RESEND_INTERVAL),
            ..Self::default()
        }
    }
}

/// Where an [`Initiator`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitiatorState<'a> {
    /// `register` is built and waits for [`poll_body`](Initiator::poll_body).
    Start,
    /// `register` was sent; waiting for the result.
    AwaitingResult,
    /// The connection belongs to a session.
    Established(&'a Established),
    /// The handshake failed; the connection closes with
    /// [`close_reason`](HandshakeError::close_reason).
    Failed(&'a HandshakeError),
}

/// Everything the initiator's states share.
#[derive(Debug)]
struct Settings {
    versions: VersionRange,
    join: Option<SessionId>,
    expected_peer: Option<String>,
    authenticator: Box<dyn Authenticator>,
    timeout: HandshakeTimeout,
}

/// `register` built, not yet handed out.
#[derive(Debug)]
struct Start {
    register: Register,
    resend: Option<Duration>,
}

impl Start {
    /// Hands out `register`; the resend schedule starts at the handshake's start.
    fn send(&self, started: Timestamp) -> (HandshakeBody, AwaitingResult) {
        let waiting = AwaitingResult {
            register: self.register.clone(),
            resend: self
                .resend
                .map(|interval| ResendTimer::new(started, interval)),
            resend_due: false,
            sends: 1,
        };
        (HandshakeBody::Register(self.register.clone()), waiting)
    }
}

/// `register` sent, the answer awaited.
#[derive(Debug)]
struct AwaitingResult {
    register: Register,
    resend: Option<ResendTimer>,
    /// The resend timer fired: `poll_body` sends `register` again.
    resend_due: bool,
    /// Times `register` was handed out.
    sends: u32,
}

impl AwaitingResult {
    /// Judges the responder's answer.
    fn on_result(&self, now: Timestamp, result: &RegisterResult, settings: &mut Settings) -> Stage {
        match self.check(now, result, settings) {
            Ok(established) => Stage::Established {
                established,
                result: result.clone(),
                // Karn: a resent register makes the sample ambiguous.
                rtt: (self.sends == 1).then(|| now - settings.timeout.started),
            },
            Err(error) => Stage::Failed(error),
        }
    }

    fn check(
        &self,
        now: Timestamp,
        result: &RegisterResult,
        settings: &mut Settings,
    ) -> Result<Established, HandshakeError> {
        let misbehaved = HandshakeError::PeerMisbehaved;
        check_auth_len("register_result.auth", &result.auth).map_err(misbehaved)?;
        let theirs = VersionRange::new(result.min_version, result.max_version).ok_or(
            Misbehavior::InvalidVersionRange {
                min: result.min_version,
                max: result.max_version,
            },
        );
        let accepted = match &result.outcome {
            None => return Err(misbehaved(Misbehavior::MissingOutcome)),
            Some(Outcome::Refused(refused)) => {
                let reason = CloseReason::try_from(refused.reason).unwrap_or(CloseReason::Unknown);
                return Err(match (reason, theirs) {
                    (CloseReason::UnsupportedVersion, Ok(theirs)) => {
                        HandshakeError::UnsupportedVersion {
                            ours: settings.versions,
                            theirs,
                        }
                    }
                    _ => HandshakeError::Refused {
                        reason,
                        message: shortened(&refused.message).to_owned(),
                    },
                });
            }
            Some(Outcome::Accepted(accepted)) => accepted,
        };
        let theirs = theirs.map_err(misbehaved)?;
        check_node_name(&result.name, "register_result.name")
            .map_err(|error| misbehaved(Misbehavior::InvalidPeerName(error)))?;
        if let Some(expected) = &settings.expected_peer {
            if *expected != result.name {
                return Err(HandshakeError::WrongPeer {
                    expected: expected.clone(),
                    actual: result.name.clone(),
                });
            }
        }
        let peer_instance =
            InstanceId::new(result.instance_id).ok_or(misbehaved(Misbehavior::MissingInstance))?;
        let expected = settings.versions.highest_common(theirs);
        if expected != Some(accepted.version) {
            return Err(misbehaved(Misbehavior::VersionNotNegotiated {
                chosen: accepted.version,
                expected,
            }));
        }
        let session_id =
            SessionId::new(accepted.session_id).ok_or(misbehaved(Misbehavior::MissingSession))?;
        settings
            .authenticator
            .check_result(now, &self.register, result)
            .map_err(HandshakeError::Unauthorized)?;
        Ok(Established {
            peer_name: result.name.clone(),
            peer_instance,
            version: accepted.version,
            session_id,
            joined: settings.join == Some(session_id) || accepted.adopted,
        })
    }
}

#[derive(Debug)]
enum Stage {
    Start(Start),
    AwaitingResult(AwaitingResult),
    Established {
        established: Established,
        /// The accepted result, to recognise it if it comes again.
        result: RegisterResult,
        rtt: Option<Duration>,
    },
    Failed(HandshakeError),
}

impl Stage {
    fn name(&self) -> &'static str {
        match self {
            Stage::Start(_) => "starting",
            Stage::AwaitingResult(_) => "awaiting register_result",
            Stage::Established { .. } => "established",
            Stage::Failed(_) => "failed",
        }
    }
}

/// The initiator side of the registration handshake (sans-IO).
///
/// Drive it like every machine of the core: after [`new`](Self::new) and after each
/// [`handle_frame`](Self::handle_frame) or [`handle_timeout`](Self::handle_timeout), send what
/// [`poll_body`](Self::poll_body) gives until it gives nothing, then arm the timer from
/// [`poll_timeout`](Self::poll_timeout). See the [module docs](super) for the protocol.
#[derive(Debug)]
pub struct Initiator {
    settings: Settings,
    stage: Stage,
}

impl Initiator {
    /// A handshake that registers `identity` on a new connection at `now`; `authenticator`
    /// fills `register.auth` now and checks the result later.
    pub fn new(
        identity: &LocalIdentity,
        options: InitiatorOptions,
        mut authenticator: Box<dyn Authenticator>,
        now: Timestamp,
    ) -> Self {
        let mut register = Register {
            name: identity.name().to_owned(),
            min_version: identity.versions().min(),
            max_version: identity.versions().max(),
            instance_id: identity.instance().get(),
            session_id: options.join.map_or(0, SessionId::get),
            ..Register::default()
        };
        register.auth = authenticator.register_auth(now, &register);
        Initiator {
            settings: Settings {
                versions: identity.versions(),
                join: options.join,
                expected_peer: options.expected_peer,
                authenticator,
                timeout: HandshakeTimeout {
                    started: now,
                    limit: options.deadline,
                },
            },
            stage: Stage::Start(Start {
                register,
                resend: options.resend,
            }),
        }
    }

    /// The node this connection is meant to reach, if the caller said.
    pub fn expected_peer(&self) -> Option<&str> {
        self.settings.expected_peer.as_deref()
    }

    /// The session this connection asks to join, if any ([`InitiatorOptions::join`]).
    pub fn join(&self) -> Option<SessionId> {
        self.settings.join
    }

    /// A frame arrived on the connection.
    ///
    /// Before the result: a `register_result` decides the handshake; a `register`, two bodies
    /// in one frame or a malformed result fail it (`PROTOCOL_VIOLATION`); a `close` fails it with
    /// the peer's reason; other bodies are ignored (on a datagram link the responder's first
    /// data may overtake a lost result). Once established, the same result again is ignored, a
    /// different one or a `register` is reported as `Err` without changing the state, and
    /// everything else belongs to the connection. Once failed, the failure is returned again.
    pub fn handle_frame(
        &mut self,
        now: Timestamp,
        message: &FrameMessage,
    ) -> Result<(), HandshakeError> {
        let incoming = classify(message);
        let state = self.stage.name();
        let next = match &mut self.stage {
            Stage::Failed(error) => return Err(error.clone()),
            Stage::Established { result, .. } => {
                return match incoming {
                    Ok(Incoming::Result(again)) if again == result => Ok(()),
                    Ok(Incoming::Result(_)) => {
                        Err(HandshakeError::PeerMisbehaved(Misbehavior::ChangedResult))
                    }
                    Ok(Incoming::Register(_)) => Err(HandshakeError::PeerMisbehaved(
                        Misbehavior::UnexpectedStep {
                            state,
                            step: "register",
                        },
                    )),
                    Err(misbehavior) => Err(HandshakeError::PeerMisbehaved(misbehavior)),
                    Ok(_) => Ok(()),
                };
            }
            Stage::Start(_) | Stage::AwaitingResult(_) => match incoming {
                Err(misbehavior) => Stage::Failed(HandshakeError::PeerMisbehaved(misbehavior)),
                Ok(Incoming::Result(result)) => match &self.stage {
                    Stage::AwaitingResult(waiting) => {
                        waiting.on_result(now, result, &mut self.settings)
                    }
                    _ => Stage::Failed(HandshakeError::PeerMisbehaved(
                        Misbehavior::UnexpectedStep {
                            state,
                            step: "register_result",
                        },
                    )),
                },
                Ok(Incoming::Register(_)) => Stage::Failed(HandshakeError::PeerMisbehaved(
                    Misbehavior::UnexpectedStep {
                        state,
                        step: "register",
                    },
                )),
                Ok(Incoming::Close(reason, message)) => Stage::Failed(HandshakeError::PeerClosed {
                    reason,
                    message: message.to_owned(),
                }),
                Ok(Incoming::Data(_) | Incoming::Empty) => return Ok(()),
            },
        };
        self.stage = next;
        match &self.stage {
            Stage::Failed(error) => Err(error.clone()),
            _ => Ok(()),
        }
    }

    /// The instant [`poll_timeout`](Self::poll_timeout) gave has come: fails the handshake at
    /// its deadline (`Err` once, on that call), or schedules `register` to be sent again.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Result<(), HandshakeTimeout> {
        if !matches!(self.stage, Stage::Start(_) | Stage::AwaitingResult(_)) {
            return Ok(());
        }
        let timeout = self.settings.timeout;
        if timeout.expired(now) {
            self.stage = Stage::Failed(HandshakeError::Timeout(timeout));
            return Err(timeout);
        }
        if let Stage::AwaitingResult(waiting) = &mut self.stage {
            if waiting.resend.as_mut().is_some_and(|timer| timer.fire(now)) {
                waiting.resend_due = true;
            }
        }
        Ok(())
    }

    /// The next handshake step to send: `register`, first from [`Start`](InitiatorState::Start),
    /// then again each time the resend timer fired.
    pub fn poll_body(&mut self) -> Option<HandshakeBody> {
        match &mut self.stage {
            Stage::Start(start) => {
                let (body, waiting) = start.send(self.settings.timeout.started);
                self.stage = Stage::AwaitingResult(waiting);
                Some(body)
            }
            Stage::AwaitingResult(waiting) if waiting.resend_due => {
                waiting.resend_due = false;
                waiting.sends = waiting.sends.saturating_add(1);
                Some(HandshakeBody::Register(waiting.register.clone()))
            }
            _ => None,
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called: the deadline, or the
    /// next resend if sooner; `None` once established or failed.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let deadline = self.settings.timeout.deadline();
        match &self.stage {
            Stage::Start(_) => Some(deadline),
            Stage::AwaitingResult(waiting) => Some(
                waiting
                    .resend
                    .map_or(deadline, |timer| timer.next().min(deadline)),
            ),
            Stage::Established { .. } | Stage::Failed(_) => None,
        }
    }

    /// Where the handshake is.
    pub fn state(&self) -> InitiatorState<'_> {
        match &self.stage {
            Stage::Start(_) => InitiatorState::Start,
            Stage::AwaitingResult(_) => InitiatorState::AwaitingResult,
            Stage::Established { established, .. } => InitiatorState::Established(established),
            Stage::Failed(error) => InitiatorState::Failed(error),
        }
    }

    /// The session, once established.
    pub fn established(&self) -> Option<&Established> {
        match &self.stage {
            Stage::Established { established, .. } => Some(established),
            _ => None,
        }
    }

    /// Why the handshake failed, once it has.
    pub fn error(&self) -> Option<&HandshakeError> {
        match &self.stage {
            Stage::Failed(error) => Some(error),
            _ => None,
        }
    }

    /// Time from the start to the result, once established, when `register` was sent only
    /// once (a resent one makes the sample ambiguous): a first RTT sample for the connection.
    pub fn rtt_sample(&self) -> Option<Duration> {
        match &self.stage {
            Stage::Established { rtt, .. } => *rtt,
            _ => None,
        }
    }
}
