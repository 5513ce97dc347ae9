//! The node's metrics: per transport, per peer (live and closed paths), node-wide.

use bytes::Bytes;

use super::tests::Bus;
use super::*;
use crate::metrics::NodeMetrics;

fn send(bus: &mut Bus, from: usize, to: &str, stream: i64, count: u8) {
    for i in 0..count {
        bus.nodes[from]
            .send(bus.now, to, stream, Bytes::from(vec![i; 200]))
            .unwrap();
    }
}

#[test]
fn traffic_is_counted_per_transport_and_per_peer_and_kept_when_the_session_ends() {
    let mut bus = Bus::new(&["app-1", "app-2"]);
    let pipe = bus.connect(0, 1, "app-2");
    bus.pump();
    let ((_, ta), (_, tb)) = bus.pipes[pipe];
    send(&mut bus, 0, "app-2", 1, 20);
    bus.pump();
    assert_eq!(bus.messages(1).len(), 20);

    let sent = bus.nodes[0].transport_metrics(ta).unwrap().clone();
    let received = bus.nodes[1].transport_metrics(tb).unwrap().clone();
    // The handshake's frames are the node's, not the path's: the path counts from binding.
    assert!(sent.bytes_sent > 20 * 200);
    assert_eq!(sent.bytes_sent, received.bytes_received);
    assert_eq!(sent.packets_sent, received.packets_received);
    assert_eq!(sent.fragments_sent, received.fragments_received);
    let peer = bus.nodes[0].peer_metrics("app-2").unwrap();
    assert_eq!(peer.connections, 1);
    assert_eq!(peer.transport, sent);
    assert_eq!(bus.nodes[0].peer_metrics("nobody"), None);
    assert_eq!(bus.nodes[0].metrics(), &NodeMetrics::default());

    // The transport dies: the session ends, its figures move to the node's totals, and the
    // peer's name is forgotten.
    bus.nodes[0].handle_transport_closed(bus.now, ta);
    bus.pipes.clear();
    bus.pump();
    assert_eq!(bus.nodes[0].transport_metrics(ta), None);
    assert_eq!(bus.nodes[0].peer_metrics("app-2"), None);
    let node = bus.nodes[0].metrics();
    assert_eq!(node.sessions_ended.get(CloseReason::Unknown), 1);
    assert_eq!(node.closed.get(CloseReason::Unknown), 1);
    assert_eq!(node.refused.total(), 0);
    assert_eq!(node.ended.connections, 1);
    assert_eq!(node.ended.transport.bytes_sent, sent.bytes_sent);
    assert_eq!(node.ended.transport.closed.get(CloseReason::Unknown), 1);
    assert!(bus.nodes[0].metrics.ended_paths.is_empty());
}

#[test]
fn refused_registrations_are_counted_on_both_sides() {
    let mut bus = Bus::new(&["server-1", "app-1", "app-1"]);
    bus.connect(1, 0, "server-1");
    bus.pump();
    bus.connect(2, 0, "server-1");
    bus.pump();
    // The server refused the second app-1; that one was refused.
    assert_eq!(
        bus.nodes[0]
            .metrics()
            .refused
            .get(CloseReason::DuplicateName),
        1
    );
    assert_eq!(
        bus.nodes[2]
            .metrics()
            .refused
            .get(CloseReason::DuplicateName),
        1
    );
    assert_eq!(bus.nodes[0].metrics().closed.total(), 0);
    // The first app-1's session is untouched.
    assert_eq!(bus.nodes[0].peer_metrics("app-1").unwrap().connections, 1);
    assert_eq!(bus.nodes[0].metrics().sessions_ended.total(), 0);
}

#[test]
fn a_path_closed_for_a_violation_tells_the_peer_why_and_both_count_it() {
    // app-2 allows 4 streams; app-1 opens 5.
    let mut bus = Bus::new(&["app-1", "app-2"]);
    bus.nodes[1].config.connection.max_streams = 4;
    let pipe = bus.connect(0, 1, "app-2");
    bus.pump();
    let ((_, ta), (_, tb)) = bus.pipes[pipe];
    for stream in 0..5 {
        send(&mut bus, 0, "app-2", stream, 1);
    }
    bus.pump();
    for (node, transport) in [(0, ta), (1, tb)] {
        let events = &bus.events[node];
        assert!(
            events.contains(&NodeEvent::CloseTransport {
                transport,
                reason: CloseReason::StreamLimit
            }),
            "node {node}: {events:?}"
        );
        assert!(
            events.iter().any(|e| matches!(
                e,
                NodeEvent::PeerDown {
                    reason: CloseReason::StreamLimit,
                    ..
                }
            )),
            "node {node}: {events:?}"
        );
        let metrics = bus.nodes[node].metrics();
        assert_eq!(metrics.closed.get(CloseReason::StreamLimit), 1);
        assert_eq!(metrics.sessions_ended.get(CloseReason::StreamLimit), 1);
        assert_eq!(
            metrics.ended.transport.closed.get(CloseReason::StreamLimit),
            1
        );
        assert_eq!(bus.nodes[node].transport_count(), 0);
    }
    // The violating node's close frame went out and was counted on the way.
    let closer = &bus.nodes[1].metrics().ended.transport;
    let violator = &bus.nodes[0].metrics().ended.transport;
    assert_eq!(closer.packets_sent, violator.packets_received);
}
