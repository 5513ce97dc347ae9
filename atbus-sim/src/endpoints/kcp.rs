//! The `kcp` crate (a port of skywind3000's KCP) as a simulated endpoint, for comparison.
//!
//! KCP has one conversation per link and no streams: the endpoint carries one stream id (given
//! at construction) and refuses others. Timing follows one of two policies:
//!
//! - [`KcpTiming::Tick`]: `update` every tick (1 ms in KCP's own `test.cpp`), first tick one tick
//!   after start, and — as in `test.cpp`'s loop — at each millisecond the update runs before any
//!   input or send of that millisecond. This is the policy of the published table.
//! - [`KcpTiming::Check`]: event-driven, waking only when `check` says so (how a careful
//!   application drives KCP; cheaper, and not what the published figures used).

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use kcp::Kcp;

use atbus_core::Timestamp;

use crate::endpoint::{Endpoint, LinkId, LinkKind, NodeId, Received, SendError, Transmit};

/// KCP's three modes of the published test (`ikcp_nodelay` arguments from `test.cpp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KcpMode {
    /// `ikcp_nodelay(kcp, 0, 10, 0, 0)`.
    Default,
    /// `ikcp_nodelay(kcp, 0, 10, 0, 1)`.
    Normal,
    /// `ikcp_nodelay(kcp, 1, 10, 2, 1)`; the test's sender (kcp1) also sets `rx_minrto = 10`
    /// and `fastresend = 1`.
    Fast,
}

impl KcpMode {
    /// All modes, in the order of the published table.
    pub const ALL: [KcpMode; 3] = [KcpMode::Default, KcpMode::Normal, KcpMode::Fast];

    /// The mode's name in the published table.
    pub fn name(self) -> &'static str {
        match self {
            KcpMode::Default => "default",
            KcpMode::Normal => "normal",
            KcpMode::Fast => "fast",
        }
    }
}

/// When the endpoint calls KCP's `update`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KcpTiming {
    /// Every tick, as `test.cpp` does with `isleep(1)`.
    Tick(Duration),
    /// When `check` says so.
    Check,
}

/// Settings of one KCP endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KcpConfig {
    /// The mode.
    pub mode: KcpMode,
    /// Whether this endpoint is the test's sender (kcp1), which gets the extra fast-mode settings.
    pub sender: bool,
    /// Update policy.
    pub timing: KcpTiming,
    /// Send and receive windows in packets (`ikcp_wndsize`; the test uses 128).
    pub window: u16,
    /// The stream id reported for received messages; sends on other streams are refused.
    pub stream: u64,
    /// Most messages waiting to be sent before `send_message` refuses with `Full`.
    pub max_waiting: usize,
}

impl KcpConfig {
    /// The settings of KCP's `test.cpp` for `mode`.
    pub fn test_cpp(mode: KcpMode, sender: bool) -> Self {
        Self {
            mode,
            sender,
            timing: KcpTiming::Tick(Duration::from_millis(1)),
            window: 128,
            stream: 0,
            max_waiting: 1024,
        }
    }
}

/// Conversation id of `test.cpp`.
const CONV: u32 = 0x1122_3344;

/// KCP's output callback: collects each datagram it writes.
#[derive(Clone, Default)]
struct Outbox(Rc<RefCell<VecDeque<Bytes>>>);

impl io::Write for Outbox {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().push_back(Bytes::copy_from_slice(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Conversation {
    kcp: Kcp<Outbox>,
    outbox: Outbox,
    peer: NodeId,
}

/// One node running KCP over each of its datagram links.
pub struct KcpEndpoint {
    config: KcpConfig,
    conversations: BTreeMap<LinkId, Conversation>,
    received: VecDeque<Received>,
    /// Millisecond of the latest `update` in tick mode.
    updated_at: Option<u64>,
    next_tick: Option<Timestamp>,
    recv_buffer: Vec<u8>,
}

impl KcpEndpoint {
    /// An endpoint with `config`.
    pub fn new(config: KcpConfig) -> Self {
        Self {
            config,
            conversations: BTreeMap::new(),
            received: VecDeque::new(),
            updated_at: None,
            next_tick: None,
            recv_buffer: vec![0; 64 * 1024],
        }
    }

    fn millis(now: Timestamp) -> u32 {
        now.as_millis() as u32
    }

    fn new_kcp(&self, outbox: &Outbox) -> Kcp<Outbox> {
        let mut kcp = Kcp::new(CONV, outbox.clone());
        kcp.set_wndsize(self.config.window, self.config.window);
        match self.config.mode {
            KcpMode::Default => kcp.set_nodelay(false, 10, 0, false),
            KcpMode::Normal => kcp.set_nodelay(false, 10, 0, true),
            KcpMode::Fast => {
                kcp.set_nodelay(true, 10, 2, true);
                if self.config.sender {
                    kcp.set_rx_minrto(10);
                    kcp.set_fast_resend(1);
                }
            }
        }
        kcp
    }

    /// Before an input or a send. In tick mode: runs the update of the current millisecond once,
    /// before the first input or send of that millisecond (the order of `test.cpp`'s loop). In
    /// check mode: nothing (the update follows the input or send).
    fn before_input(&mut self, now: Timestamp) {
        if let KcpTiming::Tick(_) = self.config.timing {
            let ms = now.as_millis();
            if self.next_tick.is_some_and(|tick| tick <= now) && self.updated_at != Some(ms) {
                self.update_all(now);
            }
        }
    }

    /// After an input or a send: in check mode, lets KCP act on it now.
    fn after_input(&mut self, now: Timestamp) {
        if self.config.timing == KcpTiming::Check {
            self.update_all(now);
        }
    }

    fn update_all(&mut self, now: Timestamp) {
        let current = Self::millis(now);
        for conversation in self.conversations.values_mut() {
            // `update` fails only before the first call, which this is not.
            let _ = conversation.kcp.update(current);
        }
        self.updated_at = Some(now.as_millis());
        if let KcpTiming::Tick(tick) = self.config.timing {
            let mut next = self.next_tick.unwrap_or(now);
            while next <= now {
                next += tick;
            }
            self.next_tick = Some(next);
        }
    }

    fn collect_received(&mut self) {
        for conversation in self.conversations.values_mut() {
            loop {
                match conversation.kcp.recv(&mut self.recv_buffer) {
                    Ok(len) => self.received.push_back(Received {
                        from: conversation.peer,
                        stream: self.config.stream,
                        payload: Bytes::copy_from_slice(&self.recv_buffer[..len]),
                    }),
                    Err(kcp::Error::UserBufTooSmall) => {
                        let size = conversation.kcp.peeksize().unwrap_or(0);
                        self.recv_buffer
                            .resize(size.max(self.recv_buffer.len() * 2), 0);
                    }
                    Err(_) => break,
                }
            }
        }
    }
}

impl Endpoint for KcpEndpoint {
    fn handle_link_up(&mut self, now: Timestamp, link: LinkId, peer: NodeId, kind: LinkKind) {
        if kind != LinkKind::Datagram {
            return;
        }
        let outbox = Outbox::default();
        let kcp = self.new_kcp(&outbox);
        self.conversations
            .insert(link, Conversation { kcp, outbox, peer });
        match self.config.timing {
            // `test.cpp` sleeps one tick before its first update.
            KcpTiming::Tick(tick) => {
                if self.next_tick.is_none() {
                    self.next_tick = Some(now + tick);
                }
            }
            KcpTiming::Check => self.update_all(now),
        }
    }

    fn handle_link_down(&mut self, _now: Timestamp, link: LinkId) {
        self.conversations.remove(&link);
    }

    fn handle_input(&mut self, now: Timestamp, link: LinkId, data: Bytes) {
        self.before_input(now);
        if let Some(conversation) = self.conversations.get_mut(&link) {
            // Garbage is KCP's to reject; the simulator carries only what KCP sent.
            let _ = conversation.kcp.input(&data);
        }
        self.after_input(now);
        self.collect_received();
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        match self.config.timing {
            KcpTiming::Tick(_) => {
                if self.updated_at != Some(now.as_millis()) {
                    self.update_all(now);
                } else if let (Some(next), KcpTiming::Tick(tick)) =
                    (self.next_tick, self.config.timing)
                {
                    if next <= now {
                        self.next_tick = Some(next + tick);
                    }
                }
            }
            KcpTiming::Check => self.update_all(now),
        }
        self.collect_received();
    }

    fn send_message(
        &mut self,
        now: Timestamp,
        to: NodeId,
        stream: u64,
        payload: Bytes,
    ) -> Result<(), SendError> {
        if stream != self.config.stream {
            return Err(SendError::Refused(format!(
                "KCP has no streams; this endpoint carries stream {} only",
                self.config.stream
            )));
        }
        self.before_input(now);
        let max_waiting = self.config.max_waiting;
        let conversation = self
            .conversations
            .values_mut()
            .find(|c| c.peer == to)
            .ok_or(SendError::NoRoute(to))?;
        if conversation.kcp.wait_snd() >= max_waiting {
            return Err(SendError::Full);
        }
        conversation
            .kcp
            .send(&payload)
            .map_err(|e| SendError::Refused(e.to_string()))?;
        self.after_input(now);
        Ok(())
    }

    fn poll_transmit(&mut self, _now: Timestamp) -> Option<Transmit> {
        self.conversations.iter().find_map(|(link, conversation)| {
            let data = conversation.outbox.0.borrow_mut().pop_front()?;
            Some(Transmit { link: *link, data })
        })
    }

    fn poll_received(&mut self) -> Option<Received> {
        self.received.pop_front()
    }

    fn poll_timeout(&mut self) -> Option<Timestamp> {
        match self.config.timing {
            KcpTiming::Tick(_) => self.next_tick,
            KcpTiming::Check => {
                let now_ms = self.updated_at?;
                let current = now_ms as u32;
                self.conversations
                    .values()
                    .map(|c| c.kcp.check(current))
                    .min()
                    .map(|delay| Timestamp::from_millis(now_ms + u64::from(delay.max(1))))
            }
        }
    }
}
