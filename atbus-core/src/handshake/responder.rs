//! The responder: the side that accepted the connection and judges the registration.
//!
//! ```text
//!  new ──▶ AwaitingRegister ──register: valid, authenticated, admitted──▶ Established   (answer: accepted)
//!               │        └────register: refused──────────────────────▶ Refused(reason) (answer: refused)
//!               └── deadline / close / another body / bad frame ─────▶ Refused(reason) (no answer)
//! ```
//!
//! Every `register` gets exactly one `register_result`, and the same one again if the same
//! `register` comes again (its sender did not get the first on a datagram link).

use crate::Timestamp;
use crate::discovery::check_node_name;
use crate::proto::{
    FrameMessage, Register, RegisterAccepted, RegisterRefused, RegisterResult,
    register_result::Outcome,
};

use super::body::{Incoming, check_auth_len, classify, shortened};
use super::{
    Authenticator, Claim, Established, HandshakeBody, HandshakeTimeout, InstanceId, LiveSession,
    LocalIdentity, Misbehavior, NameTaken, Refusal, SessionId, SessionTable, VersionRange,
};

/// Where a [`Responder`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponderState<'a> {
    /// Waiting for the initiator's `register`.
    AwaitingRegister,
    /// The connection belongs to a session.
    Established(&'a Established),
    /// The registration was refused, or never came; the connection closes with
    /// [`close_reason`](Refusal::close_reason).
    Refused(&'a Refusal),
}

/// Everything the responder's states share.
#[derive(Debug)]
struct Settings {
    identity: LocalIdentity,
    authenticator: Box<dyn Authenticator>,
    timeout: HandshakeTimeout,
    /// The session a registration asking for a new one joins instead (a simultaneous open).
    adopt: Option<SessionId>,
}

/// An accepted registration.
#[derive(Debug)]
struct Accepted {
    established: Established,
    replaced: Option<LiveSession>,
    auth: bytes::Bytes,
}

/// Waiting for `register`.
#[derive(Debug)]
struct AwaitingRegister;

impl AwaitingRegister {
    /// Judges `register` and answers it.
    fn on_register(
        &self,
        now: Timestamp,
        register: &Register,
        settings: &mut Settings,
        table: &mut SessionTable,
    ) -> Stage {
        let ours = settings.identity.versions();
        let mut result = RegisterResult {
            name: settings.identity.name().to_owned(),
            min_version: ours.min(),
            max_version: ours.max(),
            instance_id: settings.identity.instance().get(),
            ..RegisterResult::default()
        };
        match Self::admit(now, register, settings, table) {
            Ok(accepted) => {
                result.outcome = Some(Outcome::Accepted(RegisterAccepted {
                    version: accepted.established.version,
                    session_id: accepted.established.session_id.get(),
                    adopted: register.session_id == 0 && accepted.established.joined,
                }));
                result.auth = accepted.auth;
                Stage::Established {
                    established: accepted.established,
                    replaced: accepted.replaced,
                    register: register.clone(),
                    result,
                }
            }
            Err(refusal) => {
                result.outcome = Some(Outcome::Refused(RegisterRefused {
                    reason: refusal.close_reason() as i32,
                    message: shortened(&refusal.to_string()).to_owned(),
                }));
                Stage::Refused {
                    refusal,
                    answered: Some((register.clone(), result)),
                }
            }
        }
    }

    /// The checks, in order: what makes the message meaningless (a protocol violation), then
    /// the version (a newer version may define the rest differently), then the claim itself.
    fn admit(
        now: Timestamp,
        register: &Register,
        settings: &mut Settings,
        table: &mut SessionTable,
    ) -> Result<Accepted, Refusal> {
        let misbehaved = Refusal::PeerMisbehaved;
        check_auth_len("register.auth", &register.auth).map_err(misbehaved)?;
        let theirs = VersionRange::new(register.min_version, register.max_version).ok_or(
            misbehaved(Misbehavior::InvalidVersionRange {
                min: register.min_version,
                max: register.max_version,
            }),
        )?;
        let ours = settings.identity.versions();
        let version = ours
            .highest_common(theirs)
            .ok_or(Refusal::UnsupportedVersion { ours, theirs })?;
        let instance = InstanceId::new(register.instance_id)
            .ok_or(misbehaved(Misbehavior::MissingInstance))?;
        check_node_name(&register.name, "register.name").map_err(Refusal::InvalidName)?;
        if register.name == settings.identity.name() {
            return Err(Refusal::OwnName {
                name: register.name.clone(),
            });
        }
        let auth = settings
            .authenticator
            .check_register(now, register)
            .map_err(Refusal::Unauthorized)?;
        let claim = Claim {
            name: &register.name,
            instance,
            session: SessionId::new(register.session_id).or(settings.adopt),
        };
        let admission =
            table
                .admit(&claim)
                .map_err(|NameTaken { existing }| Refusal::DuplicateName {
                    name: register.name.clone(),
                    existing,
                })?;
        Ok(Accepted {
            established: Established {
                peer_name: register.name.clone(),
                peer_instance: instance,
                version,
                session_id: admission.session_id,
                joined: admission.joined,
            },
            replaced: admission.replaced,
            auth,
        })
    }
}

#[derive(Debug)]
enum Stage {
    AwaitingRegister(AwaitingRegister),
    Established {
        established: Established,
        replaced: Option<LiveSession>,
        /// The register answered and the answer, to answer it again.
        register: Register,
        result: RegisterResult,
    },
    Refused {
        refusal: Refusal,
        /// The register refused and the refusal sent, when a register caused it.
        answered: Option<(Register, RegisterResult)>,
    },
}

/// The responder side of the registration handshake (sans-IO).
///
/// Driven like the [`Initiator`](super::Initiator), except that
/// [`handle_frame`](Self::handle_frame) also takes the node's [`SessionTable`], which an
/// accepted registration updates.
#[derive(Debug)]
pub struct Responder {
    settings: Settings,
    stage: Stage,
    /// The answer to send.
    outbox: Option<RegisterResult>,
}

impl Responder {
    /// A handshake on a connection accepted at `now`, answering for `identity`; `authenticator`
    /// checks the registration.
    pub fn new(
        identity: &LocalIdentity,
        deadline: std::time::Duration,
        authenticator: Box<dyn Authenticator>,
        now: Timestamp,
    ) -> Self {
        Responder {
            settings: Settings {
                identity: identity.clone(),
                authenticator,
                timeout: HandshakeTimeout {
                    started: now,
                    limit: deadline,
                },
                adopt: None,
            },
            stage: Stage::AwaitingRegister(AwaitingRegister),
            outbox: None,
        }
    }

    /// Makes a registration that asks for a new session join `session` instead, when that is
    /// the sender's live session in the table: the node calls this when the sender and it
    /// opened connections to each other at once and its own registration won (PROTOCOL.md
    /// §6). The answer says `adopted`.
    pub fn adopt(&mut self, session: SessionId) {
        self.settings.adopt = Some(session);
    }

    /// A frame arrived on the connection.
    ///
    /// Before the registration: a `register` is judged and answered (accepted or refused); a
    /// `register_result`, another body, or two bodies in one frame refuse the connection as a
    /// protocol violation without an answer; a `close` ends it with the peer's reason; an empty
    /// frame is ignored. Once established, the same `register` again is answered again, a
    /// different one (or a `register_result`) is reported as `Err` without changing the state,
    /// and everything else belongs to the connection. Once refused, the refusal is returned
    /// again (and the same `register` answered again).
    pub fn handle_frame(
        &mut self,
        now: Timestamp,
        message: &FrameMessage,
        table: &mut SessionTable,
    ) -> Result<(), Refusal> {
        let incoming = classify(message);
        if let Some((register, result)) = self.stage.answered() {
            // A register answered before is answered again: its sender missed the answer.
            if matches!(incoming, Ok(Incoming::Register(again)) if again == register) {
                self.outbox = Some(result.clone());
                return self.stage.outcome();
            }
        }
        let next = match &mut self.stage {
            Stage::AwaitingRegister(waiting) => match incoming {
                Ok(Incoming::Register(register)) => {
                    waiting.on_register(now, register, &mut self.settings, table)
                }
                Ok(Incoming::Empty) => return Ok(()),
                Ok(Incoming::Close(reason, message)) => Stage::Refused {
                    refusal: Refusal::PeerClosed {
                        reason,
                        message: message.to_owned(),
                    },
                    answered: None,
                },
                Ok(Incoming::Result(_)) => refused(Misbehavior::UnexpectedStep {
                    state: "awaiting register",
                    step: "register_result",
                }),
                Ok(Incoming::Data(body)) => refused(Misbehavior::UnexpectedBody { body }),
                Err(misbehavior) => refused(misbehavior),
            },
            Stage::Established { .. } => {
                return match incoming {
                    Ok(Incoming::Register(_)) => {
                        Err(Refusal::PeerMisbehaved(Misbehavior::ChangedRegister))
                    }
                    Ok(Incoming::Result(_)) => {
                        Err(Refusal::PeerMisbehaved(Misbehavior::UnexpectedStep {
                            state: "established",
                            step: "register_result",
                        }))
                    }
                    Err(misbehavior) => Err(Refusal::PeerMisbehaved(misbehavior)),
                    Ok(_) => Ok(()),
                };
            }
            Stage::Refused { refusal, .. } => return Err(refusal.clone()),
        };
        self.stage = next;
        if let Some((_, result)) = self.stage.answered() {
            self.outbox = Some(result.clone());
        }
        self.stage.outcome()
    }

    /// The instant [`poll_timeout`](Self::poll_timeout) gave has come: refuses the connection
    /// if no `register` came before the deadline (`Err` once, on that call).
    pub fn handle_timeout(&mut self, now: Timestamp) -> Result<(), HandshakeTimeout> {
        let timeout = self.settings.timeout;
        if matches!(self.stage, Stage::AwaitingRegister(_)) && timeout.expired(now) {
            self.stage = Stage::Refused {
                refusal: Refusal::Timeout(timeout),
                answered: None,
            };
            return Err(timeout);
        }
        Ok(())
    }

    /// The next handshake step to send: the answer to the latest `register`.
    pub fn poll_body(&mut self) -> Option<HandshakeBody> {
        self.outbox.take().map(HandshakeBody::RegisterResult)
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called: the deadline while
    /// waiting for `register`, then `None`.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        match self.stage {
            Stage::AwaitingRegister(_) => Some(self.deadline()),
            _ => None,
        }
    }

    /// When the handshake fails if no `register` came: its start plus its deadline. A node on a
    /// datagram link keeps a refused responder until then, to answer a repeated `register`.
    pub fn deadline(&self) -> Timestamp {
        self.settings.timeout.deadline()
    }

    /// Where the handshake is.
    pub fn state(&self) -> ResponderState<'_> {
        match &self.stage {
            Stage::AwaitingRegister(_) => ResponderState::AwaitingRegister,
            Stage::Established { established, .. } => ResponderState::Established(established),
            Stage::Refused { refusal, .. } => ResponderState::Refused(refusal),
        }
    }

    /// The session, once established.
    pub fn established(&self) -> Option<&Established> {
        match &self.stage {
            Stage::Established { established, .. } => Some(established),
            _ => None,
        }
    }

    /// Why the connection was refused, once it was.
    pub fn refusal(&self) -> Option<&Refusal> {
        match &self.stage {
            Stage::Refused { refusal, .. } => Some(refusal),
            _ => None,
        }
    }

    /// The session this registration replaced (see [`DuplicatePolicy`](super::DuplicatePolicy)
    /// and [`ReplaceCause`](super::ReplaceCause)): the node ends it and closes its connections
    /// with `PEER_RESET`.
    pub fn replaced(&self) -> Option<&LiveSession> {
        match &self.stage {
            Stage::Established { replaced, .. } => replaced.as_ref(),
            _ => None,
        }
    }
}

impl Stage {
    /// The register this handshake answered and its answer, if a register decided it.
    fn answered(&self) -> Option<(&Register, &RegisterResult)> {
        match self {
            Stage::Established {
                register, result, ..
            }
            | Stage::Refused {
                answered: Some((register, result)),
                ..
            } => Some((register, result)),
            Stage::AwaitingRegister(_) | Stage::Refused { answered: None, .. } => None,
        }
    }

    /// What `handle_frame` returns in this stage: the refusal once refused.
    fn outcome(&self) -> Result<(), Refusal> {
        match self {
            Stage::Refused { refusal, .. } => Err(refusal.clone()),
            _ => Ok(()),
        }
    }
}

fn refused(misbehavior: Misbehavior) -> Stage {
    Stage::Refused {
        refusal: Refusal::PeerMisbehaved(misbehavior),
        answered: None,
    }
}
