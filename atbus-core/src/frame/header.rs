//! Parsing of the frame header: the `version` and `length` varints.

use super::error::{DecodeError, HeaderField};
use super::limits::FrameLimits;
use super::{MIN_PROTOCOL_VERSION, PROTOCOL_VERSION};

/// Longest encoding of one header varint (values fit in 32 bits).
const MAX_VARINT_LEN: usize = 5;

/// Longest possible frame header: two five-byte varints.
pub const MAX_HEADER_LEN: usize = 2 * MAX_VARINT_LEN;

/// A parsed, validated frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header {
    /// The frame's protocol version, within the supported range.
    pub version: u32,
    /// Length of the `frame_message`, within the limits.
    pub message_len: usize,
    /// Bytes taken by the two varints.
    pub header_len: usize,
}

impl Header {
    /// Size of the whole frame: header, message and hash trailer.
    pub fn frame_len(&self) -> usize {
        self.header_len + self.message_len + super::FRAME_HASH_LEN
    }
}

/// Reads one header varint from the start of `buf`.
///
/// Returns `Ok(None)` when `buf` ends before the varint does. Rejects varints longer than five
/// bytes and varints not in their shortest form, so every header has exactly one encoding.
fn read_varint(buf: &[u8], field: HeaderField) -> Result<Option<(u64, usize)>, DecodeError> {
    let mut value = 0u64;
    for (i, &byte) in buf.iter().take(MAX_VARINT_LEN).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if byte == 0 && i > 0 {
                return Err(DecodeError::MalformedHeader { field });
            }
            return Ok(Some((value, i + 1)));
        }
    }
    if buf.len() >= MAX_VARINT_LEN {
        return Err(DecodeError::MalformedHeader { field });
    }
    Ok(None)
}

/// Parses and validates the header at the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed to finish the header. Each check fails as
/// early as the bytes allow: an unsupported version is reported before the length is read, and
/// an oversize length before any of the message is needed.
pub(super) fn parse_header(
    buf: &[u8],
    limits: &FrameLimits,
) -> Result<Option<Header>, DecodeError> {
    let Some((version, version_len)) = read_varint(buf, HeaderField::Version)? else {
        return Ok(None);
    };
    if version < u64::from(MIN_PROTOCOL_VERSION) || version > u64::from(PROTOCOL_VERSION) {
        return Err(DecodeError::UnsupportedVersion {
            version,
            min: MIN_PROTOCOL_VERSION,
            max: PROTOCOL_VERSION,
        });
    }
    let Some((length, length_len)) = read_varint(&buf[version_len..], HeaderField::Length)? else {
        return Ok(None);
    };
    if length > u64::from(limits.max_frame_message_len) {
        return Err(DecodeError::FrameTooLarge {
            length,
            max: limits.max_frame_message_len,
        });
    }
    Ok(Some(Header {
        // Both values were range-checked against u32 limits above.
        version: version as u32,
        message_len: length as usize,
        header_len: version_len + length_len,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_shortest_form_only() {
        assert_eq!(read_varint(&[0x03], HeaderField::Version), Ok(Some((3, 1))));
        assert_eq!(
            read_varint(&[0x80, 0x01], HeaderField::Length),
            Ok(Some((128, 2)))
        );
        assert_eq!(
            read_varint(&[0x83, 0x00], HeaderField::Version),
            Err(DecodeError::MalformedHeader {
                field: HeaderField::Version
            })
        );
        assert_eq!(read_varint(&[0x00], HeaderField::Length), Ok(Some((0, 1))));
    }

    #[test]
    fn varint_incomplete_and_overlong() {
        assert_eq!(read_varint(&[], HeaderField::Length), Ok(None));
        assert_eq!(
            read_varint(&[0xff, 0xff, 0xff, 0xff], HeaderField::Length),
            Ok(None)
        );
        assert_eq!(
            read_varint(&[0xff; 5], HeaderField::Length),
            Err(DecodeError::MalformedHeader {
                field: HeaderField::Length
            })
        );
        // Five bytes may carry up to 35 bits; the caller range-checks the value.
        assert_eq!(
            read_varint(&[0xff, 0xff, 0xff, 0xff, 0x7f], HeaderField::Length),
            Ok(Some(((1 << 35) - 1, 5)))
        );
    }

    #[test]
    fn header_checks_fail_early() {
        let limits = FrameLimits::new(100);
        // Unsupported version is reported before the length arrives.
        assert!(matches!(
            parse_header(&[0x02], &limits),
            Err(DecodeError::UnsupportedVersion { version: 2, .. })
        ));
        assert!(matches!(
            parse_header(&[0x04], &limits),
            Err(DecodeError::UnsupportedVersion { version: 4, .. })
        ));
        // Oversize length is reported as soon as the length varint ends.
        assert_eq!(
            parse_header(&[0x03, 0x65], &limits),
            Err(DecodeError::FrameTooLarge {
                length: 101,
                max: 100
            })
        );
        assert_eq!(parse_header(&[0x03], &limits), Ok(None));
        assert_eq!(
            parse_header(&[0x03, 0x64], &limits),
            Ok(Some(Header {
                version: 3,
                message_len: 100,
                header_len: 2
            }))
        );
        // A length beyond 32 bits is too large, not a wrap-around.
        assert!(matches!(
            parse_header(
                &[0x03, 0xff, 0xff, 0xff, 0xff, 0x7f],
                &FrameLimits::new(u32::MAX)
            ),
            Err(DecodeError::FrameTooLarge { .. })
        ));
    }
}
