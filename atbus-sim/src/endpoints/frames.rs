//! An endpoint that sends each message as one atbus frame, with no reliability at all.
//!
//! What arrives is exactly what the link delivered: lost messages stay lost, duplicates and
//! reordering pass through. That makes it the baseline for checking the link model, and the
//! cheapest endpoint for measuring the simulator itself. On datagram links each frame is one
//! datagram; on byte-stream links frames go back to back through a [`StreamDecoder`].

use std::collections::{BTreeMap, VecDeque};

use bytes::{Bytes, BytesMut};

use atbus_core::Timestamp;
use atbus_core::frame::{DatagramDecoder, FrameLimits, StreamDecoder, encode_frame};
use atbus_core::proto::{FrameMessage, Packet, frame_message::Body};

use crate::endpoint::{Endpoint, LinkId, LinkKind, NodeId, Received, SendError, Transmit};

struct FrameLink {
    peer: NodeId,
    /// Present on byte-stream links.
    stream_decoder: Option<StreamDecoder>,
}

/// One node that frames messages and nothing more.
#[derive(Default)]
pub struct FrameEndpoint {
    links: BTreeMap<LinkId, FrameLink>,
    outgoing: VecDeque<Transmit>,
    received: VecDeque<Received>,
    frames: Vec<atbus_core::frame::Frame>,
    /// Frames that failed to decode (never expected: the simulator does not corrupt bytes).
    pub decode_errors: u64,
}

impl FrameEndpoint {
    /// A new endpoint.
    pub fn new() -> Self {
        Self::default()
    }

    fn accept(&mut self, peer: NodeId, message: FrameMessage) {
        if let Some(Body::Packet(packet)) = message.body {
            self.received.push_back(Received {
                from: peer,
                stream: packet.stream_id as u64,
                payload: packet.content,
            });
        }
    }
}

impl Endpoint for FrameEndpoint {
    fn handle_link_up(&mut self, _now: Timestamp, link: LinkId, peer: NodeId, kind: LinkKind) {
        let stream_decoder =
            (kind == LinkKind::ByteStream).then(|| StreamDecoder::new(FrameLimits::default()));
        self.links.insert(
            link,
            FrameLink {
                peer,
                stream_decoder,
            },
        );
    }

    fn handle_link_down(&mut self, _now: Timestamp, link: LinkId) {
        self.links.remove(&link);
    }

    fn handle_input(&mut self, _now: Timestamp, link: LinkId, data: Bytes) {
        let Some(state) = self.links.get_mut(&link) else {
            return;
        };
        let peer = state.peer;
        let mut decoded = Vec::new();
        match &mut state.stream_decoder {
            Some(decoder) => {
                decoder.feed(&data);
                loop {
                    match decoder.next_frame() {
                        Ok(Some(frame)) => decoded.push(frame.message),
                        Ok(None) => break,
                        Err(_) => {
                            self.decode_errors += 1;
                            break;
                        }
                    }
                }
            }
            None => {
                self.frames.clear();
                match DatagramDecoder::default().decode(data, &mut self.frames) {
                    Ok(_) => decoded.extend(self.frames.drain(..).map(|f| f.message)),
                    Err(_) => self.decode_errors += 1,
                }
            }
        }
        for message in decoded {
            self.accept(peer, message);
        }
    }

    fn handle_timeout(&mut self, _now: Timestamp) {}

    fn send_message(
        &mut self,
        _now: Timestamp,
        to: NodeId,
        stream: u64,
        payload: Bytes,
    ) -> Result<(), SendError> {
        let link = self
            .links
            .iter()
            .find(|(_, l)| l.peer == to)
            .map(|(id, _)| *id)
            .ok_or(SendError::NoRoute(to))?;
        let message = FrameMessage {
            body: Some(Body::Packet(Packet {
                stream_id: stream as i64,
                content: payload,
                ..Default::default()
            })),
            ..Default::default()
        };
        let mut data = BytesMut::new();
        encode_frame(&message, &FrameLimits::default(), &mut data)
            .map_err(|e| SendError::Refused(e.to_string()))?;
        self.outgoing.push_back(Transmit {
            link,
            data: data.freeze(),
        });
        Ok(())
    }

    fn poll_transmit(&mut self, _now: Timestamp) -> Option<Transmit> {
        self.outgoing.pop_front()
    }

    fn poll_received(&mut self) -> Option<Received> {
        self.received.pop_front()
    }

    fn poll_timeout(&mut self) -> Option<Timestamp> {
        None
    }
}
