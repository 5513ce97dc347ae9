//! The decoder of a packet's `content` (a hand-written fast path with prost as the fallback)
//! against prost alone, on arbitrary bytes: both must give the same fragments or both fail.
#![no_main]

use atbus_core::frame::decode_packet_content;
use atbus_core::proto::PacketContent;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use prost::Message as _;

fuzz_target!(|content: &[u8]| {
    let ours = decode_packet_content(Bytes::copy_from_slice(content));
    let theirs = PacketContent::decode(content);
    match (ours, theirs) {
        (Ok(ours), Ok(theirs)) => assert_eq!(ours, theirs),
        (Err(_), Err(_)) => {}
        (ours, theirs) => panic!("decoders disagree: ours {ours:?}, prost {theirs:?}"),
    }
});
