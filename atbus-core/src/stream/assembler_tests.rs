//! Unit tests of the assembler.

use super::*;

fn fragment(offset: u64, data: &'static [u8], ends_message: bool) -> Fragment {
    Fragment {
        offset,
        data: Bytes::from_static(data),
        ends_message,
        meta: None,
    }
}

#[test]
fn out_of_order_overlapping_fragments_make_whole_messages() {
    let mut assembler = Assembler::new(100, 100);
    assembler.insert(fragment(5, b"wor", false)).unwrap();
    assert_eq!(assembler.pop(), None);
    assembler.insert(fragment(3, b"lo", true)).unwrap();
    assembler.insert(fragment(7, b"rld!", true)).unwrap(); // overlaps "wor"
    assert_eq!(assembler.received_ranges(), vec![3..11]);
    assert_eq!(assembler.contiguous(), 0);
    assembler.insert(fragment(0, b"hel", false)).unwrap();
    assert_eq!(assembler.pop().unwrap().data, Bytes::from_static(b"hello"));
    assert_eq!(assembler.pop().unwrap().data, Bytes::from_static(b"world!"));
    assert_eq!(assembler.pop(), None);
    assert_eq!(assembler.buffered(), 0);
    // Duplicates of delivered data are ignored.
    assembler.insert(fragment(0, b"hel", false)).unwrap();
    assert_eq!(assembler.pop(), None);
}

#[test]
fn single_fragment_messages_are_not_copied() {
    let mut assembler = Assembler::new(100, 100);
    let data = Bytes::from_static(b"payload");
    assembler
        .insert(Fragment {
            offset: 0,
            data: data.clone(),
            ends_message: true,
            meta: None,
        })
        .unwrap();
    assert_eq!(assembler.pop().unwrap().data.as_ptr(), data.as_ptr());
}

#[test]
fn window_bounds_memory() {
    let mut assembler = Assembler::new(10, 100);
    assert_eq!(
        assembler.insert(fragment(8, b"abc", false)),
        Err(AssembleError::BeyondWindow { end: 11, limit: 10 })
    );
    assert_eq!(
        assembler.insert(Fragment {
            offset: u64::MAX - 1,
            data: Bytes::from_static(b"abc"),
            ends_message: false,
            meta: None
        }),
        Err(AssembleError::BeyondWindow {
            end: u64::MAX,
            limit: 10
        })
    );
    assert_eq!(assembler.buffered(), 0);
}

#[test]
fn contradicting_boundaries_are_refused() {
    let mut assembler = Assembler::new(100, 100);
    assembler.insert(fragment(0, b"abcdef", false)).unwrap();
    // Claims a message ends at 3, inside a fragment that did not end there.
    assert_eq!(
        assembler.insert(fragment(0, b"abc", true)),
        Err(AssembleError::InconsistentBoundary { start: 0, end: 3 })
    );
    let mut assembler = Assembler::new(100, 100);
    assembler.insert(fragment(0, b"abc", true)).unwrap();
    assert_eq!(
        assembler.insert(fragment(0, b"abcdef", false)),
        Err(AssembleError::InconsistentBoundary { start: 0, end: 6 })
    );
}

#[test]
fn empty_fragments_are_harmless() {
    let mut assembler = Assembler::new(100, 100);
    assembler.insert(fragment(0, b"abc", false)).unwrap();
    assembler.insert(fragment(7, b"", false)).unwrap();
    assembler.insert(fragment(3, b"", true)).unwrap();
    assert_eq!(assembler.pop().unwrap().data, Bytes::from_static(b"abc"));
    assert_eq!(
        assembler
            .insert(fragment(50, b"", true))
            .and(assembler.insert(fragment(48, b"abcd", false))),
        Err(AssembleError::InconsistentBoundary { start: 48, end: 52 })
    );
}

#[test]
fn a_reset_skips_what_lies_before_it_and_keeps_what_follows() {
    let mut assembler = Assembler::with_initial_grant(1_000, 100, 1_000);
    assembler.insert(fragment(0, b"ab", false)).unwrap(); // never completes
    assembler.insert(fragment(5, b"cd", true)).unwrap(); // after a hole
    assembler.insert(fragment(10, b"ef", true)).unwrap(); // beyond the reset
    assert!(assembler.reset_to(11).is_err(), "cuts a held piece");
    assembler.reset_to(10).unwrap();
    assert_eq!(assembler.read_offset(), 10);
    assert_eq!(assembler.pop().unwrap().data, Bytes::from_static(b"ef"));
    assert_eq!(assembler.pop(), None);
    assert_eq!((assembler.buffered(), assembler.memory()), (0, 0));
    // The sender may send the initial window beyond the reset before hearing a grant.
    assert_eq!(assembler.window_limit(), 110);
    // A late duplicate reset is a no-op; one beyond the end is refused.
    assembler.reset_to(5).unwrap();
    assembler.set_end(20).unwrap_or_else(|e| panic!("{e}"));
    assert!(assembler.reset_to(21).is_err());
}

#[test]
fn the_end_is_checked_against_data() {
    let mut assembler = Assembler::new(100, 100);
    assembler.insert(fragment(0, b"abc", true)).unwrap();
    assert!(assembler.set_end(2).is_err());
    assembler.set_end(3).unwrap();
    assert!(assembler.set_end(4).is_err());
    assert!(assembler.insert(fragment(3, b"x", true)).is_err());
    assert!(!assembler.is_finished());
    assembler.pop().unwrap();
    assert!(assembler.is_finished());
}

#[test]
fn every_message_is_checked_against_the_maximum_not_only_the_first() {
    let mut assembler = Assembler::new(10_000, 4);
    assembler.insert(fragment(0, b"abc", true)).unwrap();
    assert!(matches!(
        assembler.insert(fragment(3, b"abcdefgh", true)),
        Err(AssembleError::MessageTooLarge { start: 3, max: 4 })
    ));
    // Bytes first, the end marker later (an empty fragment).
    let mut assembler = Assembler::new(10_000, 4);
    assembler.insert(fragment(0, b"abcdef", false)).unwrap_err();
    let mut assembler = Assembler::new(10_000, 8);
    assembler.insert(fragment(0, b"ab", true)).unwrap();
    assembler
        .insert(fragment(2, b"cdefghijk", false))
        .unwrap_err();
}

#[test]
fn messages_above_the_maximum_are_refused() {
    let mut assembler = Assembler::new(100, 4);
    assert!(matches!(
        assembler.insert(fragment(0, b"abcde", false)),
        Err(AssembleError::MessageTooLarge { start: 0, max: 4 })
    ));
    let mut assembler = Assembler::new(100, 4);
    // The end of a later message, with the first one incomplete, is fine...
    assembler.insert(fragment(6, b"abc", true)).unwrap();
    // ...until the bytes show the first message is longer than allowed.
    assembler.insert(fragment(0, b"abc", false)).unwrap();
    assert!(matches!(
        assembler.insert(fragment(3, b"ab", false)),
        Err(AssembleError::MessageTooLarge { start: 0, max: 4 })
    ));
}

#[test]
fn in_order_whole_messages_take_the_shortcut_and_leave_nothing_behind() {
    let mut assembler = Assembler::new(1_000, 100);
    let buffer = Bytes::from_static(b"onetwothree");
    let source = Source { id: 1, len: 512 };
    for (offset, range) in [(0, 0..3), (3, 3..6), (6, 6..11)] {
        let fragment = Fragment {
            offset,
            data: buffer.slice(range),
            ends_message: true,
            meta: None,
        };
        assembler.insert_from(fragment, source).unwrap();
    }
    assembler.settle();
    // Held without entries of the slow path; the buffer is charged once.
    assert!(assembler.pieces.is_empty() && assembler.boundaries.is_empty());
    assert_eq!(assembler.contiguous(), 11);
    assert_eq!(assembler.buffered(), 11);
    assert_eq!(assembler.pinned(), 512);
    // A duplicate of a ready message, and a fragment that spans a ready message's end, change
    // nothing.
    assert_eq!(assembler.insert(fragment(3, b"two", true)), Ok(()));
    assert_eq!(
        assembler.insert(fragment(9, b"eefour", false)),
        Err(AssembleError::InconsistentBoundary { start: 9, end: 15 })
    );
    let first = assembler.pop().unwrap();
    assert_eq!(first.data.as_ptr(), buffer.as_ptr(), "not copied");
    assert_eq!(assembler.pop().unwrap().data, Bytes::from_static(b"two"));
    assert_eq!(assembler.pop().unwrap().data, Bytes::from_static(b"three"));
    assert_eq!(assembler.pop(), None);
    assert_eq!((assembler.read_offset(), assembler.buffered()), (11, 0));
    assert_eq!((assembler.pinned(), assembler.memory()), (0, 0));
}

#[test]
fn ready_messages_come_out_before_the_slow_path_and_in_order() {
    let mut assembler = Assembler::new(1_000, 100);
    assembler.insert(fragment(0, b"ab", true)).unwrap();
    // Out of order: the slow path holds it, and the next in-order message waits behind it.
    assembler.insert(fragment(5, b"fg", true)).unwrap();
    assembler.insert(fragment(2, b"cde", true)).unwrap();
    let popped: Vec<Bytes> = std::iter::from_fn(|| assembler.pop().map(|m| m.data)).collect();
    assert_eq!(popped, [&b"ab"[..], b"cde", b"fg"]);
    // Back to the shortcut once nothing is held.
    assembler.insert(fragment(7, b"h", true)).unwrap();
    assert_eq!(assembler.ready.len(), 1);
    assert_eq!(assembler.pop().unwrap().offset, 7);
}

#[test]
fn a_reset_drops_ready_messages_below_it_undelivered() {
    let mut assembler = Assembler::new(1_000, 100);
    for (offset, data) in [(0, &b"ab"[..]), (2, b"cd"), (4, b"ef")] {
        assembler.insert(fragment(offset, data, true)).unwrap();
    }
    assert_eq!(
        assembler.reset_to(3),
        Err(AssembleError::InconsistentBoundary { start: 3, end: 3 }),
        "inside a ready message"
    );
    assembler.reset_to(4).unwrap();
    assert_eq!(assembler.pop().unwrap().data, Bytes::from_static(b"ef"));
    assert_eq!(assembler.pop(), None);
    assert_eq!((assembler.buffered(), assembler.memory()), (0, 0));
}

#[test]
fn ready_messages_that_pin_a_large_buffer_are_copied_out_by_settle() {
    let mut assembler = Assembler::new(1_000_000, 100);
    let buffer = Bytes::from(vec![7u8; 64 * 1024]);
    let fragment = Fragment {
        offset: 0,
        data: buffer.slice(..10),
        ends_message: true,
        meta: None,
    };
    let source = Source {
        id: 9,
        len: buffer.len() as u64,
    };
    assembler.insert_from(fragment, source).unwrap();
    assert_eq!(assembler.pinned(), 64 * 1024);
    assembler.settle();
    assert_eq!(assembler.pinned(), 10);
    let message = assembler.pop().unwrap();
    assert_ne!(message.data.as_ptr(), buffer.as_ptr(), "copied out");
    assert_eq!(message.data, buffer.slice(..10));
    assert_eq!(assembler.pinned(), 0);
}
