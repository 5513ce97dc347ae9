//! Received messages on their way to the application, and the flow-control credit they hold.
//!
//! The node runs with [`hold_delivered`](atbus_core::connection::ConnectionConfig::hold_delivered):
//! a delivered message stays charged to its session's receive memory until the application
//! takes it from the bus ([`Bus::recv`](crate::Bus::recv) or [`Messages`]). An application
//! that stops taking messages thus stops the grants, and the peer is slowed by flow control,
//! as a quinn stream that is not read slows its peer; the bus's memory stays bounded.
//!
//! # How takes reach the run loop, cheaply
//!
//! - The run loop pushes messages into an unbounded channel (bounded in practice by the
//!   charge above) and notes them, in order, as runs of one peer (`Outbox::queue`).
//! - Taking a message increments one shared counter (`taken`). The loop turns the count into
//!   releases per peer ([`Node::release`](atbus_core::node::Node::release)) at its next pass:
//!   the channel is first in, first out, so the first `taken` messages noted are the taken
//!   ones.
//! - An idle loop must still learn of takes (a peer may wait for the credit they free), but a
//!   wake-up per message would cost what the counter saves. Before it sleeps with messages
//!   outstanding, the loop sets `hungry` and reads `taken` again; a take that finds `hungry`
//!   set clears it and wakes the loop with one input. Both sides use sequentially consistent
//!   operations, so either the loop sees the take or the take sees `hungry`: no take is
//!   missed, and there is at most one wake-up per sleep.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures_lite::Stream;

use crate::bus::Message;
use crate::input::Input;

/// What the run loop and the takers share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Messages taken from the channel, ever.
    taken: AtomicU64,
    /// The run loop sleeps with messages outstanding: the next take must wake it.
    hungry: AtomicBool,
}

impl Shared {
    /// A message was taken: counted, and the loop woken if it waits for takes.
    fn on_taken(&self, wake: &async_channel::Sender<Input>) {
        self.taken.fetch_add(1, Ordering::SeqCst);
        if self.hungry.load(Ordering::SeqCst) && self.hungry.swap(false, Ordering::SeqCst) {
            // A full input channel means the loop is busy and will look anyway.
            let _ = wake.try_send(Input::Released);
        }
    }
}

/// Consecutive messages from one peer, not released yet.
struct Run {
    peer: String,
    bytes: u64,
    count: u64,
}

/// The run loop's side: the channel, and the messages in it by peer.
pub(crate) struct Outbox {
    channel: async_channel::Sender<Message>,
    shared: Arc<Shared>,
    queue: VecDeque<Run>,
    /// Messages released so far (a prefix of all messages pushed).
    released: u64,
}

impl Outbox {
    /// An outbox, and the application's end of its channel.
    pub fn new() -> (Self, async_channel::Receiver<Message>, Arc<Shared>) {
        let (channel, receiver) = async_channel::unbounded();
        let shared = Arc::new(Shared::default());
        let outbox = Self {
            channel,
            shared: shared.clone(),
            queue: VecDeque::new(),
            released: 0,
        };
        (outbox, receiver, shared)
    }

    /// Hands `message` to the application. Returns it when nobody can take it any more (every
    /// receiver is gone): its credit is then the caller's to release.
    pub fn push(&mut self, message: Message) -> Result<(), Message> {
        let (peer, bytes) = (message.from.as_str(), message.data.len() as u64);
        match self.queue.back_mut() {
            Some(run) if run.peer == peer => {
                run.bytes += bytes;
                run.count += 1;
            }
            _ => self.queue.push_back(Run {
                peer: peer.to_owned(),
                bytes,
                count: 1,
            }),
        }
        self.channel.try_send(message).map_err(|e| {
            let run = self.queue.back_mut().expect("noted above");
            run.bytes -= bytes;
            run.count -= 1;
            if run.count == 0 {
                self.queue.pop_back();
            }
            e.into_inner()
        })
    }

    /// Calls `release(peer, bytes, count)` for the messages taken since the last call, merged
    /// by runs of one peer.
    pub fn release_taken(&mut self, mut release: impl FnMut(&str, u64, u64)) {
        let taken = self.shared.taken.load(Ordering::SeqCst);
        let mut due = taken - self.released;
        self.released = taken;
        while due > 0 {
            let Some(run) = self.queue.front_mut() else {
                debug_assert!(false, "more messages taken than pushed");
                return;
            };
            if run.count <= due {
                due -= run.count;
                release(&run.peer, run.bytes, run.count);
                self.queue.pop_front();
            } else {
                // Part of a run: its messages' sizes are not kept, so the bytes are split
                // evenly and the rest released with the run's last message.
                let bytes = run.bytes / run.count * due;
                release(&run.peer, bytes, due);
                run.bytes -= bytes;
                run.count -= due;
                due = 0;
            }
        }
    }

    /// Before the loop sleeps: with messages outstanding, asks the next take to wake it.
    /// Returns whether messages were taken meanwhile (the loop should not sleep).
    pub fn arm(&self) -> bool {
        if self.queue.is_empty() {
            return false;
        }
        self.shared.hungry.store(true, Ordering::SeqCst);
        self.shared.taken.load(Ordering::SeqCst) != self.released
    }
}

/// Received messages as a `Stream` (see [`Bus::messages`](crate::Bus::messages)); each message
/// goes to one reader, and taking it frees the flow-control credit it held.
pub struct Messages {
    receiver: Pin<Box<async_channel::Receiver<Message>>>,
    shared: Arc<Shared>,
    wake: async_channel::Sender<Input>,
}

impl std::fmt::Debug for Messages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messages").finish_non_exhaustive()
    }
}

impl Messages {
    pub(crate) fn new(
        receiver: async_channel::Receiver<Message>,
        shared: Arc<Shared>,
        wake: async_channel::Sender<Input>,
    ) -> Self {
        Self {
            receiver: Box::pin(receiver),
            shared,
            wake,
        }
    }
}

impl Stream for Messages {
    type Item = Message;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        let polled = self.receiver.as_mut().poll_next(cx);
        if let Poll::Ready(Some(_)) = &polled {
            self.shared.on_taken(&self.wake);
        }
        polled
    }
}

/// Takes the next message from `receiver`, counted as taken.
pub(crate) async fn recv(
    receiver: &async_channel::Receiver<Message>,
    shared: &Shared,
    wake: &async_channel::Sender<Input>,
) -> Option<Message> {
    let message = receiver.recv().await.ok()?;
    shared.on_taken(wake);
    Some(message)
}
