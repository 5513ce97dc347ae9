//! Stream-data frames encoded in one pass.
//!
//! A `Packet` body carries its fragments as `content`: a nested `PacketContent` in a `bytes`
//! field. Built as a [`FrameMessage`], the content is encoded into a vector first and copied
//! into the frame after — every payload byte copied twice, and an allocation per packet (4 % of
//! B4's TCP 64 KiB profile was that first copy). A [`PacketFrame`] holds the content as a
//! message and writes it straight into the frame: the same bytes as
//! `encode_frame(&frame.to_message(), ..)` (the tests check it on arbitrary frames), one copy.

use bytes::BytesMut;
use prost::Message as _;

use super::encode::{encode_frame_spliced, encode_frame_with, frame_len};
use super::error::EncodeError;
use super::limits::FrameLimits;
use super::message_codec;
use super::splice::Splice;
use crate::proto::{FrameMessage, Packet, PacketContent, frame_message::Body};

/// A frame whose body is a `Packet` of stream data, its content not yet encoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PacketFrame {
    /// The frame's `packet_number`.
    pub packet_number: u64,
    /// The packet's `stream_id`.
    pub stream_id: i64,
    /// The packet's `stream_offset`.
    pub stream_offset: u64,
    /// The packet's `flags`.
    pub flags: u32,
    /// What the packet's `content` encodes.
    pub content: PacketContent,
}

impl PacketFrame {
    /// The equivalent message, content encoded (for decoders' tests and comparisons).
    pub fn to_message(&self) -> FrameMessage {
        FrameMessage {
            packet_number: self.packet_number,
            body: Some(Body::Packet(Packet {
                stream_id: self.stream_id,
                stream_offset: self.stream_offset,
                content: self.content.encode_to_vec().into(),
                flags: self.flags,
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    /// Size of the frame once encoded: header, message and hash trailer.
    pub fn encoded_len(&self) -> usize {
        frame_len(self.sizes().message)
    }

    fn sizes(&self) -> message_codec::PacketSizes {
        message_codec::packet_sizes(
            self.packet_number,
            self.stream_id,
            self.stream_offset,
            self.flags,
            self.content.encoded_len(),
        )
    }

    /// Appends the frame to `dst`, as [`encode_frame`](super::encode_frame) would append
    /// [`to_message`](Self::to_message); returns its size. Fails without writing anything when
    /// it exceeds `limits`.
    pub fn encode(&self, limits: &FrameLimits, dst: &mut BytesMut) -> Result<usize, EncodeError> {
        let sizes = self.sizes();
        encode_frame_with(sizes.message, limits, dst, |header, dst| {
            message_codec::encode_packet(header, self, &sizes, dst, None)
        })
    }

    /// As [`encode`](Self::encode), leaving fragment payloads of at least `min` bytes out of
    /// `dst`: they are pushed onto `splices` (offsets in `dst`; see [`Splice`]). Returns the
    /// frame's size with them.
    pub fn encode_spliced(
        &self,
        limits: &FrameLimits,
        dst: &mut BytesMut,
        min: usize,
        splices: &mut Vec<Splice>,
    ) -> Result<usize, EncodeError> {
        let sizes = self.sizes();
        encode_frame_spliced(
            sizes.message,
            limits,
            dst,
            splices,
            |header, dst, splices| {
                message_codec::encode_packet(header, self, &sizes, dst, Some((min, splices)))
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::content_codec::tests::any_fragment;
    use crate::frame::encode_frame;
    use crate::proto::PacketFragment;
    use bytes::Bytes;
    use proptest::prelude::*;

    fn frame(
        number: u64,
        stream: i64,
        offset: u64,
        flags: u32,
        fragments: Vec<(Vec<u8>, u32)>,
    ) -> PacketFrame {
        PacketFrame {
            packet_number: number,
            stream_id: stream,
            stream_offset: offset,
            flags,
            content: PacketContent {
                fragments: fragments
                    .into_iter()
                    .map(|(data, fragment_flag)| PacketFragment {
                        data: Bytes::from(data),
                        fragment_flag,
                        ..Default::default()
                    })
                    .collect(),
            },
        }
    }

    proptest! {
        #[test]
        fn writes_what_the_equivalent_message_encodes_to(
            number in prop_oneof![Just(0u64), any::<u64>()],
            stream in any::<i64>(),
            offset in prop_oneof![Just(0u64), any::<u64>()],
            flags in prop_oneof![Just(0u32), any::<u32>()],
            fragments in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 0..300), 0u32..4),
                0..5,
            ),
        ) {
            let packet = frame(number, stream, offset, flags, fragments);
            let limits = FrameLimits::default();
            let mut direct = BytesMut::from(&b"before"[..]);
            let len = packet.encode(&limits, &mut direct).unwrap();
            let mut via_message = BytesMut::from(&b"before"[..]);
            let expected = encode_frame(&packet.to_message(), &limits, &mut via_message).unwrap();
            prop_assert_eq!(len, expected);
            prop_assert_eq!(len, packet.encoded_len());
            prop_assert_eq!(direct, via_message);
        }
    }

    proptest! {
        #[test]
        fn spliced_frames_join_to_the_same_bytes(
            number in prop_oneof![Just(0u64), any::<u64>()],
            stream in any::<i64>(),
            offset in any::<u64>(),
            flags in any::<u32>(),
            fragments in proptest::collection::vec(any_fragment(600), 0..5),
            min in prop_oneof![Just(0usize), 1usize..700],
        ) {
            let packet = PacketFrame {
                packet_number: number,
                stream_id: stream,
                stream_offset: offset,
                flags,
                content: PacketContent { fragments },
            };
            let limits = FrameLimits::default();
            let mut plain = BytesMut::from(&b"before"[..]);
            let expected = packet.encode(&limits, &mut plain).unwrap();
            let mut spliced = BytesMut::from(&b"before"[..]);
            let mut splices = Vec::new();
            let len = packet.encode_spliced(&limits, &mut spliced, min, &mut splices).unwrap();
            prop_assert_eq!(len, expected);
            for splice in &splices {
                prop_assert!(splice.data.len() >= min);
                prop_assert!(splice.at >= 6);
            }
            let mut relative: Vec<Splice> = splices
                .into_iter()
                .map(|s| Splice { at: s.at - 6, data: s.data })
                .collect();
            crate::frame::join_splices(&mut spliced, 6, &mut relative);
            prop_assert_eq!(spliced, plain);
        }
    }

    #[test]
    fn a_large_payload_is_spliced_not_copied() {
        let packet = frame(1, 1, 0, 0, vec![(vec![7; 10_000], 0), (vec![8; 10], 1)]);
        let mut dst = BytesMut::new();
        let mut splices = Vec::new();
        let len = packet
            .encode_spliced(&FrameLimits::default(), &mut dst, 4096, &mut splices)
            .unwrap();
        assert_eq!(splices.len(), 1);
        assert_eq!(splices[0].data.len(), 10_000);
        assert_eq!(dst.len() + 10_000, len);
    }

    #[test]
    fn a_frame_beyond_the_limits_writes_nothing() {
        let packet = frame(1, 1, 0, 0, vec![(vec![7; 1_000], 0)]);
        let mut dst = BytesMut::new();
        assert!(matches!(
            packet.encode(&FrameLimits::new(100), &mut dst),
            Err(EncodeError::FrameTooLarge { .. })
        ));
        assert!(dst.is_empty());
    }
}
