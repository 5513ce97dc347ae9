//! A packet's `content` (a nested `PacketContent`) written and read directly: spliced fragment
//! payloads on the way out (see `splice`), and fragments of plain fields on the fast path on the
//! way in — prost decodes anything else (options, labels, `forward_for`, unknown or repeated
//! fields), so every result and every error is prost's.

use bytes::Bytes;
use prost::Message as _;

use super::message_codec::{FieldReader, FieldWriter};
use super::splice::Splice;
use crate::proto::{PacketContent, PacketFragment};

/// Writes `fragment` as a `PacketContent.fragments` element, as prost would, its payload
/// spliced when it is at least `min` bytes and the fragment has no nested messages (a
/// message's first fragment may carry options and labels: it is written by prost, whole).
pub(super) fn encode_fragment_spliced(
    out: &mut FieldWriter<'_>,
    fragment: &PacketFragment,
    min: usize,
    splices: &mut Vec<Splice>,
) {
    let len = fragment.encoded_len();
    if fragment.data.len() < min.max(1)
        || fragment.options.is_some()
        || !fragment.labels.is_empty()
        || fragment.forward_for.is_some()
    {
        out.prost_field(1 << 3 | 2, len, fragment);
        return;
    }
    out.byte(1 << 3 | 2);
    out.varint(len as u64);
    // int32 and enum fields: negative values are sign-extended to ten bytes, as prost does.
    out.varint_field(1 << 3, i64::from(fragment.packet_type) as u64);
    out.byte(2 << 3 | 2);
    out.varint(fragment.data.len() as u64);
    out.flush();
    splices.push(Splice {
        at: out.dst.len(),
        data: fragment.data.clone(),
    });
    out.varint_field(3 << 3, u64::from(fragment.fragment_flag));
    out.varint_field(7 << 3, i64::from(fragment.close_reason) as u64);
}

/// Decodes a `Packet`'s `content` on the fast path — fragments of plain fields, in canonical
/// shape — or returns `None` for prost to decode it (options, labels, anything unusual).
fn decode_content_fast(bytes: &Bytes, mut list: Vec<PacketFragment>) -> Option<PacketContent> {
    list.clear();
    let mut content = PacketContent { fragments: list };
    let mut fields = FieldReader::new(bytes, 0, bytes.len());
    while fields.pos != fields.end {
        if fields.varint()? != 0x0a {
            return None;
        }
        let (start, end) = fields.delimited()?;
        let mut fragment = PacketFragment::default();
        let mut inner = FieldReader::new(bytes, start, end);
        while let Some(key) = inner.key()? {
            match key {
                // int32 and enum fields: prost keeps the low 32 bits of the varint.
                0x08 => fragment.packet_type = inner.varint()? as i32,
                0x12 => fragment.data = inner.bytes()?,
                0x18 => fragment.fragment_flag = inner.varint()? as u32,
                0x38 => fragment.close_reason = inner.varint()? as i32,
                _ => return None,
            }
        }
        content.fragments.push(fragment);
    }
    Some(content)
}

/// Decodes a `Packet`'s `content`: the fast path when it applies, prost otherwise. Payloads
/// are slices of `content`.
pub fn decode_packet_content(content: Bytes) -> Result<PacketContent, prost::DecodeError> {
    decode_packet_content_into(content, Vec::new())
}

/// As [`decode_packet_content`], the fragments in `list` (emptied first) when the fast path
/// applies: a list kept from packet to packet saves an allocation each.
pub fn decode_packet_content_into(
    content: Bytes,
    list: Vec<PacketFragment>,
) -> Result<PacketContent, prost::DecodeError> {
    match decode_content_fast(&content, list) {
        Some(decoded) => Ok(decoded),
        None => PacketContent::decode(content),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Fragments with plain fields of every kind of value, labelled or not (the slow path),
    /// their payloads up to `max_data` bytes.
    pub(in crate::frame) fn any_fragment(
        max_data: usize,
    ) -> impl proptest::strategy::Strategy<Value = PacketFragment> {
        use proptest::prelude::*;
        (
            proptest::collection::vec(any::<u8>(), 0..max_data),
            prop_oneof![Just(0i32), Just(-1), any::<i32>()],
            prop_oneof![Just(0u32), 0u32..4, any::<u32>()],
            prop_oneof![Just(0i32), Just(-3), 1i32..9, any::<i32>()],
            any::<bool>(),
        )
            .prop_map(
                |(data, packet_type, fragment_flag, close_reason, labelled)| {
                    let mut fragment = PacketFragment {
                        packet_type,
                        data: data.into(),
                        fragment_flag,
                        close_reason,
                        ..Default::default()
                    };
                    if labelled {
                        fragment.labels.insert("k".into(), "v".into());
                    }
                    fragment
                },
            )
    }

    proptest::proptest! {
        #[test]
        fn packet_contents_decode_as_prost_decodes_them(
            fragments in proptest::collection::vec(any_fragment(40), 0..4),
        ) {
            let content = PacketContent { fragments };
            let bytes = Bytes::from(content.encode_to_vec());
            proptest::prop_assert_eq!(decode_packet_content(bytes.clone()).unwrap(), content);
        }

        #[test]
        fn arbitrary_content_bytes_decode_as_prost_decodes_them(
            raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let bytes = Bytes::from(raw);
            let ours = decode_packet_content(bytes.clone()).ok();
            let prost = PacketContent::decode(bytes).ok();
            proptest::prop_assert_eq!(ours, prost);
        }
    }

    #[test]
    fn plain_fragments_take_the_fast_path() {
        let content = PacketContent {
            fragments: vec![
                PacketFragment {
                    packet_type: -5,
                    data: Bytes::from_static(b"abc"),
                    fragment_flag: 3,
                    close_reason: 2,
                    ..Default::default()
                },
                PacketFragment::default(),
            ],
        };
        let bytes = Bytes::from(content.encode_to_vec());
        assert_eq!(decode_content_fast(&bytes, Vec::new()), Some(content));
    }
}
