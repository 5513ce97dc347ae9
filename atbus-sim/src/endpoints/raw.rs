//! The simplest endpoint: a message is a datagram, as is.
//!
//! No framing, no reliability, one stream. It measures the simulator itself (the speed target
//! is stated for endpoints this simple) and the raw behaviour of a link.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use atbus_core::Timestamp;

use crate::endpoint::{Endpoint, LinkId, LinkKind, NodeId, Received, SendError, Transmit};

/// One node whose messages travel as bare datagrams.
#[derive(Default)]
pub struct RawEndpoint {
    stream: u64,
    links: BTreeMap<LinkId, NodeId>,
    outgoing: VecDeque<Transmit>,
    received: VecDeque<Received>,
}

impl RawEndpoint {
    /// An endpoint that reports received messages on `stream` and refuses other streams.
    pub fn new(stream: u64) -> Self {
        Self {
            stream,
            ..Self::default()
        }
    }
}

impl Endpoint for RawEndpoint {
    fn handle_link_up(&mut self, _now: Timestamp, link: LinkId, peer: NodeId, kind: LinkKind) {
        if kind == LinkKind::Datagram {
            self.links.insert(link, peer);
        }
    }

    fn handle_link_down(&mut self, _now: Timestamp, link: LinkId) {
        self.links.remove(&link);
    }

    fn handle_input(&mut self, _now: Timestamp, link: LinkId, data: Bytes) {
        if let Some(&from) = self.links.get(&link) {
            self.received.push_back(Received {
                from,
                stream: self.stream,
                payload: data,
            });
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
        if stream != self.stream {
            return Err(SendError::Refused(format!(
                "this endpoint carries stream {} only",
                self.stream
            )));
        }
        let link = self
            .links
            .iter()
            .find(|(_, peer)| **peer == to)
            .map(|(link, _)| *link)
            .ok_or(SendError::NoRoute(to))?;
        self.outgoing.push_back(Transmit {
            link,
            data: payload,
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
