//! A peer that registers with a node and then breaks a rule on purpose, to test that the node
//! refuses or closes it with a typed reason while its other sessions go on.
//!
//! It speaks the protocol with the core's own parts — an [`Initiator`] for the registration, a
//! [`Connection`] afterwards — configured to be hostile: a version range the node does not
//! speak, limits larger than the node's (more streams, larger messages), or a hand-made packet
//! far beyond the flow-control window. It initiates on every link to its target node and
//! records what came back: the handshake's error, the close reason the node sent.
//!
//! ```text
//!   link up ──register──▶ [refused: handshake_error] ──or── established ──▶ offence ──▶ [close frame: closed_with]
//! ```

use std::collections::{BTreeMap, VecDeque};

use bytes::{Bytes, BytesMut};
use prost::Message as _;

use atbus_core::Timestamp;
use atbus_core::connection::{
    Connection, ConnectionConfig, ConnectionEvent, INITIAL_STREAM_WINDOW,
};
use atbus_core::frame::{DatagramDecoder, StreamDecoder, encode_frame};
use atbus_core::handshake::{
    HandshakeError, Initiator, InitiatorOptions, InstanceId, LocalIdentity, NoAuthentication,
    VersionRange,
};
use atbus_core::proto::{
    CloseReason, FrameMessage, Packet, PacketContent, PacketFlag, PacketFragment,
    frame_message::Body,
};

use crate::endpoint::{Endpoint, LinkId, LinkKind, NodeId, Received, SendError, Transmit};

/// The rule the peer breaks once registered (or, for versions, while registering).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offence {
    /// Registers speaking only these versions.
    Versions(VersionRange),
    /// Sends one small message on each of this many streams (the peer's own limit allows them).
    OpenStreams(i64),
    /// Sends one message of this many bytes (the peer's own limit allows it).
    LargeMessage(usize),
    /// Sends a packet of stream data starting this many bytes past the initial flow-control
    /// window, which no grant allowed.
    BeyondWindow(u64),
}

/// What one link of the peer is doing.
enum LinkState {
    Registering {
        initiator: Box<Initiator>,
        /// Byte streams: frames are decoded here until the handshake ends.
        decoder: Option<StreamDecoder>,
    },
    Connected(Box<Connection>),
    Done,
}

/// A misbehaving peer (see the module docs).
pub struct MisbehavingPeer {
    identity: LocalIdentity,
    /// The settings of its connections, larger limits included.
    config: ConnectionConfig,
    offence: Offence,
    target: NodeId,
    links: BTreeMap<LinkId, (LinkKind, LinkState)>,
    outgoing: VecDeque<Transmit>,
    buffer: BytesMut,
    handshake_error: Option<HandshakeError>,
    closed_with: Option<CloseReason>,
    offences: u64,
}

impl MisbehavingPeer {
    /// A peer called `name` (instance from `seed`) that registers with node `target` on every
    /// link to it and then commits `offence`; its connections follow `config`.
    pub fn new(
        name: &str,
        seed: u64,
        target: NodeId,
        config: ConnectionConfig,
        offence: Offence,
    ) -> Self {
        let mut identity =
            LocalIdentity::new(name, InstanceId::from_random(seed | 1)).expect("a valid node name");
        if let Offence::Versions(versions) = &offence {
            identity = identity.with_versions(*versions);
        }
        Self {
            identity,
            config,
            offence,
            target,
            links: BTreeMap::new(),
            outgoing: VecDeque::new(),
            buffer: BytesMut::new(),
            handshake_error: None,
            closed_with: None,
            offences: 0,
        }
    }

    /// Why the registration failed, if it did.
    pub fn handshake_error(&self) -> Option<&HandshakeError> {
        self.handshake_error.as_ref()
    }

    /// Why its first connection closed, if one did: the reason of the node's close frame
    /// (or its own idle timeout, had the node gone silent).
    pub fn closed_with(&self) -> Option<CloseReason> {
        self.closed_with
    }

    /// How many times the offence was committed (once per registered link).
    pub fn offences(&self) -> u64 {
        self.offences
    }

    fn queue(&mut self, link: LinkId, message: &FrameMessage) {
        let mut buf = BytesMut::new();
        if encode_frame(message, &self.config.frame_limits, &mut buf).is_ok() {
            self.outgoing.push_back(Transmit {
                link,
                data: buf.freeze(),
            });
        }
    }

    /// Moves the initiator's handshake steps to the outgoing queue.
    fn drain_handshake(&mut self, link: LinkId) {
        let mut bodies = Vec::new();
        if let Some((_, LinkState::Registering { initiator, .. })) = self.links.get_mut(&link) {
            while let Some(body) = initiator.poll_body() {
                bodies.push(body.into_frame_message());
            }
        }
        for body in bodies {
            self.queue(link, &body);
        }
    }

    /// The registration on `link` ended: failed, or established (the offence follows, and the
    /// bytes after the handshake go to the connection).
    fn registered(&mut self, now: Timestamp, link: LinkId, leftover: Bytes) {
        let Some((kind, state)) = self.links.get_mut(&link) else {
            return;
        };
        let LinkState::Registering { initiator, .. } = state else {
            return;
        };
        if let Some(error) = initiator.error() {
            self.handshake_error = Some(error.clone());
            *state = LinkState::Done;
            return;
        }
        if initiator.established().is_none() {
            return;
        }
        let mut connection = match kind {
            LinkKind::Datagram => Connection::new(self.config.clone(), now),
            LinkKind::ByteStream => Connection::byte_stream(self.config.clone(), now),
        };
        if !leftover.is_empty() {
            connection.handle_bytes(now, Bytes::copy_from_slice(&leftover));
        }
        let byte_stream = connection.is_byte_stream();
        self.offences += 1;
        let crafted = match self.offence {
            Offence::Versions(_) => None,
            Offence::OpenStreams(streams) => {
                for stream in 0..streams {
                    let _ = connection.send(now, stream, Bytes::from_static(b"hello"), None);
                }
                None
            }
            Offence::LargeMessage(size) => {
                let _ = connection.send(now, 1, Bytes::from(vec![0x5a; size]), None);
                None
            }
            Offence::BeyondWindow(beyond) => Some(beyond_window(beyond, byte_stream)),
        };
        *state = LinkState::Connected(Box::new(connection));
        if let Some(message) = crafted {
            self.queue(link, &message);
        }
    }

    fn collect(&mut self) {
        for (_, state) in self.links.values_mut() {
            if let LinkState::Connected(connection) = state {
                while let Some(event) = connection.poll_event() {
                    if let ConnectionEvent::Closed { reason } = event {
                        self.closed_with.get_or_insert(reason);
                    }
                }
            }
        }
    }
}

/// One packet of stream 1 whose data starts `beyond` bytes past the initial window.
fn beyond_window(beyond: u64, byte_stream: bool) -> FrameMessage {
    let content = PacketContent {
        fragments: vec![PacketFragment {
            data: Bytes::from(vec![0xa5; 1_000]),
            ..Default::default()
        }],
    };
    FrameMessage {
        // Byte streams do not number frames; on a datagram link, a number far ahead.
        packet_number: if byte_stream { 0 } else { 1 << 40 },
        body: Some(Body::Packet(Packet {
            stream_id: 1,
            stream_offset: INITIAL_STREAM_WINDOW + beyond,
            content: content.encode_to_vec().into(),
            flags: PacketFlag::AckImmediately as u32,
            ..Default::default()
        })),
        ..Default::default()
    }
}

impl Endpoint for MisbehavingPeer {
    fn handle_link_up(&mut self, now: Timestamp, link: LinkId, peer: NodeId, kind: LinkKind) {
        if peer != self.target {
            return;
        }
        let mut options = match kind {
            LinkKind::Datagram => InitiatorOptions::datagram(),
            LinkKind::ByteStream => InitiatorOptions::default(),
        };
        options.expected_peer = None;
        let initiator = Initiator::new(&self.identity, options, Box::new(NoAuthentication), now);
        let decoder =
            (kind == LinkKind::ByteStream).then(|| StreamDecoder::new(self.config.frame_limits));
        self.links.insert(
            link,
            (
                kind,
                LinkState::Registering {
                    initiator: Box::new(initiator),
                    decoder,
                },
            ),
        );
        self.drain_handshake(link);
    }

    fn handle_link_down(&mut self, _now: Timestamp, link: LinkId) {
        self.links.remove(&link);
    }

    fn handle_input(&mut self, now: Timestamp, link: LinkId, data: Bytes) {
        let limits = self.config.frame_limits;
        let Some((kind, state)) = self.links.get_mut(&link) else {
            return;
        };
        match state {
            LinkState::Done => {}
            LinkState::Connected(connection) => {
                match kind {
                    LinkKind::Datagram => connection.handle_datagram(now, data),
                    LinkKind::ByteStream => connection.handle_bytes(now, data),
                }
                self.collect();
            }
            LinkState::Registering { initiator, decoder } => {
                let mut frames = Vec::new();
                let mut leftover = Bytes::new();
                match decoder {
                    Some(decoder) => {
                        decoder.feed(&data);
                        // One frame at a time: what follows the result belongs to the connection.
                        while initiator.established().is_none() && initiator.error().is_none() {
                            match decoder.next_frame() {
                                Ok(Some(frame)) => {
                                    let _ = initiator.handle_frame(now, &frame.message);
                                }
                                _ => break,
                            }
                        }
                        leftover = decoder.buffer_mut().split().freeze();
                    }
                    None => {
                        if DatagramDecoder::new(limits)
                            .decode(data, &mut frames)
                            .is_ok()
                        {
                            for frame in &frames {
                                let _ = initiator.handle_frame(now, &frame.message);
                            }
                        }
                    }
                }
                self.registered(now, link, leftover);
            }
        }
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        let links: Vec<LinkId> = self.links.keys().copied().collect();
        for link in links {
            match self.links.get_mut(&link) {
                Some((_, LinkState::Registering { initiator, .. })) => {
                    if initiator.poll_timeout().is_some_and(|at| at <= now) {
                        let _ = initiator.handle_timeout(now);
                    }
                    self.drain_handshake(link);
                    self.registered(now, link, Bytes::new());
                }
                Some((_, LinkState::Connected(connection)))
                    if connection.poll_timeout().is_some_and(|at| at <= now) =>
                {
                    connection.handle_timeout(now);
                }
                _ => {}
            }
        }
        self.collect();
    }

    fn send_message(
        &mut self,
        _now: Timestamp,
        _to: NodeId,
        _stream: u64,
        _payload: Bytes,
    ) -> Result<(), SendError> {
        Err(SendError::Refused(
            "a misbehaving peer sends only its offence".into(),
        ))
    }

    fn poll_transmit(&mut self, now: Timestamp) -> Option<Transmit> {
        if let Some(transmit) = self.outgoing.pop_front() {
            return Some(transmit);
        }
        for (&link, (_, state)) in &mut self.links {
            if let LinkState::Connected(connection) = state {
                self.buffer.clear();
                if connection.poll_transmit(now, &mut self.buffer).is_some() {
                    return Some(Transmit {
                        link,
                        data: self.buffer.split().freeze(),
                    });
                }
            }
        }
        None
    }

    fn poll_received(&mut self) -> Option<Received> {
        None
    }

    fn poll_timeout(&mut self) -> Option<Timestamp> {
        self.links
            .values()
            .filter_map(|(_, state)| match state {
                LinkState::Registering { initiator, .. } => initiator.poll_timeout(),
                LinkState::Connected(connection) => connection.poll_timeout(),
                LinkState::Done => None,
            })
            .min()
    }
}
