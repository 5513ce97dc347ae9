//! A send buffer and an assembler against a model: whatever the network does to packets (loss,
//! duplication, reordering, a different cut every time, lost acknowledgements), the receiver
//! delivers exactly the messages written, in order, once each, within its memory bounds.

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::proto::PacketOptions;

#[derive(Debug, Clone)]
struct Network {
    /// Per packet: the most payload it may carry, whether it is lost, duplicated, or delayed
    /// behind later packets, and the size of the buffer it arrives in (tiny pieces in large
    /// buffers make the assembler compact).
    packets: Vec<(u64, bool, bool, bool, u64)>,
    /// Per acknowledgement: whether it is lost.
    ack_losses: Vec<bool>,
}

fn network() -> impl Strategy<Value = Network> {
    (
        prop::collection::vec(
            (
                1u64..300,
                prop::bool::weighted(0.2),
                prop::bool::weighted(0.1),
                any::<bool>(),
                0u64..3_000,
            ),
            1..64,
        ),
        prop::collection::vec(prop::bool::weighted(0.3), 1..32),
    )
        .prop_map(|(mut packets, mut ack_losses)| {
            // Each pattern repeats; one packet and one acknowledgement per cycle get through, so
            // the network is lossy but not dead.
            packets[0].1 = false;
            ack_losses[0] = false;
            Network {
                packets,
                ack_losses,
            }
        })
}

fn messages() -> impl Strategy<Value = Vec<(Vec<u8>, Option<MessageMeta>)>> {
    prop::collection::vec(
        (
            prop::collection::vec(any::<u8>(), 1..400),
            prop::option::weighted(
                0.3,
                (100i32..200, any::<u64>()).prop_map(|(packet_type, sequence)| MessageMeta {
                    packet_type,
                    options: Some(PacketOptions { flags: 1, sequence }),
                    labels: [("k".to_owned(), "v".to_owned())].into(),
                }),
            ),
        ),
        1..40,
    )
}

const WINDOW: u64 = 2_000;
const MAX_MESSAGE: usize = 500;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_message_arrives_once_in_order(messages in messages(), network in network()) {
        let mut sender = SendBuffer::new(4 * WINDOW, MAX_MESSAGE);
        let mut receiver = Assembler::new(WINDOW, MAX_MESSAGE as u64);
        let mut written = messages.iter();
        let mut pending_write = written.next();
        let mut peer_limit = receiver.grant(u64::MAX).0;
        let mut in_flight: Vec<(Source, Vec<Fragment>)> = Vec::new();
        let mut sources = 0u64;
        let mut delivered = Vec::new();
        let mut fragments = Vec::new();
        let (mut packets_sent, mut acks_sent) = (0usize, 0usize);
        let bounds: Vec<u64> = messages.iter().scan(0u64, |acc, (d, _)| { *acc += d.len() as u64; Some(*acc) }).collect();

        for _round in 0..20_000usize {
            // The application writes while the buffer takes it.
            while let Some((data, meta)) = pending_write {
                match sender.write(Bytes::from(data.clone()), meta.clone()) {
                    Ok(_) => pending_write = written.next(),
                    Err(WriteError::Blocked { .. }) => break,
                    Err(e) => return Err(TestCaseError::fail(format!("write: {e}"))),
                }
            }
            let (max_len, lost, duplicated, delayed, source_len) = network.packets[packets_sent % network.packets.len()];
            if let Some(range) = sender.next_range(max_len, peer_limit, 150) {
                packets_sent += 1;
                prop_assert!(range.end - range.start <= max_len);
                fragments.clear();
                sender.fragments(range, &mut fragments);
                for f in &fragments {
                    let end = f.offset + f.data.len() as u64;
                    prop_assert!(!bounds.iter().any(|b| *b > f.offset && *b < end), "fragment {:?} spans a message end", (f.offset, end));
                    prop_assert_eq!(f.ends_message, bounds.contains(&end), "fragment {:?}", (f.offset, end));
                }
                if !lost {
                    sources += 1;
                    let packet = (Source { id: sources, len: source_len }, fragments.clone());
                    if delayed { in_flight.insert(0, packet.clone()) } else { in_flight.push(packet.clone()) }
                    if duplicated { in_flight.push(packet) }
                }
            } else if in_flight.is_empty() {
                // Nothing to send and nothing arriving: the retransmission timer fires.
                sender.on_all_lost();
            }
            // Deliver one packet per round (the newest unless it was delayed).
            if let Some((source, packet)) = in_flight.pop() {
                for fragment in packet {
                    // A sender that respects the window never trips this.
                    receiver.insert_from(fragment, source).map_err(|e| TestCaseError::fail(format!("insert: {e}")))?;
                }
                receiver.settle();
                prop_assert!(receiver.pinned() <= 2 * receiver.buffered() + COMPACT_SLACK);
                prop_assert!(receiver.buffered() <= WINDOW);
                while let Some(message) = receiver.pop() {
                    delivered.push(message);
                }
                acks_sent += 1;
                if !network.ack_losses[acks_sent % network.ack_losses.len()] {
                    sender.on_ack(receiver.contiguous(), &receiver.received_ranges())
                        .map_err(|e| TestCaseError::fail(format!("ack: {e}")))?;
                    peer_limit = receiver.grant(u64::MAX).0;
                }
            }
            prop_assert!(sender.unacked_bytes() <= 4 * WINDOW);
            if delivered.len() == messages.len() && sender.is_fully_acked() {
                break;
            }
        }
        prop_assert_eq!(delivered.len(), messages.len(), "not everything arrived");
        let mut offset = 0;
        for (message, (data, meta)) in delivered.iter().zip(&messages) {
            prop_assert_eq!(message.offset, offset);
            prop_assert_eq!(&message.data[..], &data[..]);
            prop_assert_eq!(&message.meta, &meta.clone().unwrap_or_default());
            offset += data.len() as u64;
        }
        prop_assert_eq!(receiver.buffered(), 0);
        prop_assert_eq!(receiver.memory(), 0);
    }

    #[test]
    fn fragments_survive_the_wire_form(
        offset in any::<u32>(),
        data in prop::collection::vec(any::<u8>(), 0..50),
        ends in any::<bool>(),
        typed in any::<bool>(),
    ) {
        let fragment = Fragment {
            offset: u64::from(offset),
            data: Bytes::from(data),
            ends_message: ends,
            meta: typed.then(|| MessageMeta { packet_type: 150, ..MessageMeta::default() }),
        };
        prop_assert_eq!(Fragment::from_proto(u64::from(offset), fragment.to_proto()), fragment);
    }
}

#[test]
fn hostile_fragments_never_grow_memory_past_the_window() {
    let mut receiver = Assembler::new(1_000, 10_000);
    // A peer that sends far-away data, absurd offsets and fragments that never complete.
    for i in 0..10_000u64 {
        let offset = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % 5_000;
        let _ = receiver.insert(Fragment {
            offset,
            data: Bytes::from_static(&[7; 16]),
            ends_message: false,
            meta: None,
        });
        assert!(receiver.buffered() <= 1_000);
    }
    assert!(
        receiver
            .insert(Fragment {
                offset: u64::MAX - 3,
                data: Bytes::from_static(&[1; 8]),
                ends_message: true,
                meta: None,
            })
            .is_err()
    );
}
