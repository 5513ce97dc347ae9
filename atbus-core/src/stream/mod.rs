//! Streams: ordered, exactly-once delivery of whole messages over unreliable carriers.
//!
//! A stream carries messages in order, each exactly once. Offsets count message payload bytes;
//! message boundaries come from fragment flags. The sending side ([`SendBuffer`]) keeps every
//! byte until it is acknowledged, hands out ranges to send (lost ranges first, then new data
//! within the peer's window) and cuts them into [`Fragment`]s at message boundaries; the
//! receiving side ([`Assembler`]) puts fragments back together by offset, whatever their order,
//! duplication, overlap or cut, within a bounded window, and yields whole messages.
//!
//! How the pieces fit (one direction of one stream):
//!
//! ```text
//!  app ─write─▶ SendBuffer ─next_range/fragments─▶ packet ~~network~~▶ Assembler ─pop─▶ app
//!                  ▲   ▲                                                    │
//!                  │   └──────────── on_ack(contiguous, ranges) ◀── ack ────┘
//!                  └──── on_lost(range) ◀── loss detection of the connection
//! ```
//!
//! Flow control is the receiver's: it grants offsets ([`Assembler::grant`]) from the memory its
//! connection can spare, and the sender never sends beyond the last grant it heard. A sender can
//! abandon what is unacknowledged ([`SendBuffer::reset`], `RESET_OFFSET`), and the receiver skips
//! to the offset after it ([`Assembler::reset_to`]).
//!
//! The connection layer (issue "Reliable streams over connections") owns packets, timers and
//! acknowledgement frames; this module holds the data rules, which are the same for every
//! connection a stream uses.

mod assembler;
mod range_set;
mod send_buffer;

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::proto::{FragmentFlag, PacketFragment, PacketOptions};

pub use assembler::{
    AssembleError, AssembledMessage, Assembler, COMPACT_SLACK, ENTRY_COST, Source,
};
pub use range_set::RangeSet;
pub use send_buffer::{Abandoned, AckError, SendBuffer, WriteError};

/// What travels with a message besides its payload, on its first fragment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageMeta {
    /// Message type: below 100 internal, 100 and above the application's.
    pub packet_type: i32,
    /// Per-message options.
    pub options: Option<PacketOptions>,
    /// Application labels.
    pub labels: BTreeMap<String, String>,
}

/// A contiguous piece of one message at a stream offset.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    /// Stream offset of the first byte.
    pub offset: u64,
    /// The bytes (a slice of the message, not a copy).
    pub data: Bytes,
    /// Whether the message ends with this fragment.
    pub ends_message: bool,
    /// The message's metadata, on the fragment that starts the message.
    pub meta: Option<MessageMeta>,
}

impl Fragment {
    /// The wire form of this fragment, for a `packet_content`.
    pub fn to_proto(&self) -> PacketFragment {
        let meta = self.meta.clone().unwrap_or_default();
        PacketFragment {
            packet_type: meta.packet_type,
            data: self.data.clone(),
            fragment_flag: if self.ends_message {
                FragmentFlag::None as u32
            } else {
                FragmentFlag::HasMore as u32
            },
            options: meta.options,
            labels: meta.labels,
            forward_for: None,
            close_reason: 0,
        }
    }

    /// A fragment from its wire form at `offset`. Metadata is taken only when it is present
    /// (a fragment that does not start a message carries none).
    pub fn from_proto(offset: u64, fragment: PacketFragment) -> Self {
        let has_meta =
            fragment.packet_type != 0 || fragment.options.is_some() || !fragment.labels.is_empty();
        Self {
            offset,
            data: fragment.data,
            ends_message: fragment.fragment_flag & FragmentFlag::HasMore as u32 == 0,
            meta: has_meta.then_some(MessageMeta {
                packet_type: fragment.packet_type,
                options: fragment.options,
                labels: fragment.labels,
            }),
        }
    }
}

#[cfg(test)]
mod tests;
