//! Two atbus nodes over real TCP on loopback, each driven by a hand-written loop over plain
//! blocking `std::net` sockets: no async runtime at all. This is the run loop every adapter
//! implements (see the `node` module docs): feed inputs with the current time, drain transmits
//! and events, sleep until `poll_timeout()` or the next input.
//!
//! The client knows the server only by name and by its discovery record (a gateway
//! `tcp://127.0.0.1:PORT`): its first send queues the message, the node chooses the route and
//! asks the loop to connect (`NodeEvent::Connect`), and the queue flushes once the session is
//! up.
//!
//! Run it: `cargo run --release -p atbus-core --example node_loop` (optionally a message count).

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use atbus_core::Timestamp;
use atbus_core::discovery::{Discovery, Gateway, GatewayAddress, GatewayMatch, NodeRecord};
use atbus_core::node::{Node, NodeConfig, NodeEvent, TransportId, TransportKind};
use bytes::{Bytes, BytesMut};

/// Messages the client keeps in flight.
const IN_FLIGHT: u32 = 256;

/// One node with (at most) one TCP transport, and the clock its loop reads.
struct Driver {
    node: Node,
    socket: Option<(TcpStream, TransportId)>,
    start: Instant,
    buf: BytesMut,
}

impl Driver {
    fn now(&self) -> Timestamp {
        Timestamp::from_nanos(self.start.elapsed().as_nanos() as u64)
    }

    /// The drain rule: everything to send goes out and every event is handed to `on_event`,
    /// again and again until both are empty (an event's handler may send, which makes more to
    /// transmit). Transmits are batched into one write.
    fn drain(&mut self, on_event: &mut impl FnMut(&mut Node, NodeEvent)) -> std::io::Result<()> {
        loop {
            self.buf.clear();
            let now = self.now();
            // This loop has one transport: everything the node writes goes to it.
            while let Some(t) = self.node.poll_transmit(now, &mut self.buf) {
                debug_assert_eq!(Some(t), self.socket.as_ref().map(|(_, t)| *t));
            }
            if let Some((socket, _)) = &mut self.socket
                && !self.buf.is_empty()
            {
                socket.write_all(&self.buf)?;
            }
            let mut any = false;
            while let Some(event) = self.node.poll_event() {
                any = true;
                match event {
                    // The node chose a route and wants a transport: open it.
                    NodeEvent::Connect {
                        attempt,
                        address: GatewayAddress::Tcp { host, port },
                        ..
                    } => match TcpStream::connect((host.to_string(), port)) {
                        Ok(socket) => {
                            socket.set_nodelay(true)?;
                            let now = self.now();
                            if let Some(transport) = self.node.handle_connected(now, attempt) {
                                self.socket = Some((socket, transport));
                            }
                        }
                        Err(_) => self.node.handle_connect_failed(self.now(), attempt),
                    },
                    NodeEvent::Connect { attempt, .. } => {
                        // This loop speaks TCP only.
                        self.node.handle_connect_failed(self.now(), attempt)
                    }
                    event => on_event(&mut self.node, event),
                }
            }
            if !any {
                return Ok(());
            }
        }
    }

    /// Waits for input until the node's next timeout (at most `cap`), then feeds what came.
    /// Returns false when the peer closed the socket.
    fn wait(&mut self, cap: Duration) -> std::io::Result<bool> {
        let now = self.now();
        let until = self.node.poll_timeout().map_or(cap, |t| {
            Duration::from_nanos(t.as_nanos().saturating_sub(now.as_nanos())).min(cap)
        });
        let Some((socket, transport)) = &mut self.socket else {
            std::thread::sleep(until);
            return Ok(true);
        };
        socket.set_read_timeout(Some(until.max(Duration::from_millis(1))))?;
        let mut chunk = [0u8; 64 * 1024];
        match socket.read(&mut chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                let transport = *transport;
                let now = self.now();
                self.node
                    .handle_input(now, transport, Bytes::copy_from_slice(&chunk[..n]));
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e),
        }
        let now = self.now();
        if self.node.poll_timeout().is_some_and(|t| t <= now) {
            self.node.handle_timeout(now);
        }
        Ok(true)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: u32 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let start = Instant::now();

    // The server: accepts one transport and echoes every message back to its sender.
    let server = std::thread::spawn(move || -> std::io::Result<u32> {
        let (socket, _) = listener.accept()?;
        socket.set_nodelay(true)?;
        let mut node = Node::new(NodeConfig::new("echo-server")).expect("valid name");
        let transport = node.handle_transport_accepted(Timestamp::ZERO, TransportKind::ByteStream);
        let mut driver = Driver {
            node,
            socket: Some((socket, transport)),
            start,
            buf: BytesMut::new(),
        };
        let mut echoed = 0;
        loop {
            driver.drain(&mut |node, event| {
                if let NodeEvent::Message { from, stream, data } = event {
                    let now = Timestamp::from_nanos(start.elapsed().as_nanos() as u64);
                    node.send(now, &from, stream, data).expect("session is up");
                    echoed += 1;
                }
            })?;
            if !driver.wait(Duration::from_millis(100))? {
                return Ok(echoed);
            }
        }
    });

    // The client: knows the server's discovery record, sends `count` messages of 64 bytes by
    // name (the first ones wait for the session the node dials), counts the echoes.
    let mut node = Node::new(NodeConfig {
        seed: 1,
        ..NodeConfig::new("client-1")
    })?;
    let mut record = NodeRecord::new("echo-server");
    record.gateways.push(Gateway {
        priority: 0,
        addresses: vec![format!("tcp://{address}")],
        r#match: GatewayMatch::default(),
    });
    node.discovery_mut().put(record)?;
    let mut driver = Driver {
        node,
        socket: None,
        start,
        buf: BytesMut::new(),
    };
    let (mut sent, mut echoes) = (0u32, 0u32);
    let began = Instant::now();
    while echoes < count {
        driver.drain(&mut |_, event| match event {
            NodeEvent::PeerUp { peer } => println!("session with {peer} is up"),
            NodeEvent::Message { .. } => echoes += 1,
            NodeEvent::PeerDown { peer, reason } => panic!("{peer} went down: {reason:?}"),
            _ => {}
        })?;
        // Keep up to 256 messages in flight.
        while sent < count && sent - echoes < IN_FLIGHT {
            let now = driver.now();
            let payload = Bytes::from(sent.to_le_bytes().repeat(16));
            driver.node.send(now, "echo-server", 1, payload)?;
            sent += 1;
        }
        driver.drain(&mut |_, event| {
            if let NodeEvent::Message { .. } = event {
                echoes += 1;
            }
        })?;
        if echoes < count && !driver.wait(Duration::from_millis(100))? {
            return Err("the server closed the connection".into());
        }
    }
    let elapsed = began.elapsed();
    println!(
        "{count} messages of 64 bytes echoed over TCP in {:.1} ms ({:.0} round trips/s, one thread per node)",
        elapsed.as_secs_f64() * 1e3,
        f64::from(count) / elapsed.as_secs_f64()
    );
    drop(driver);
    let echoed = server.join().expect("server thread")?;
    println!("the server echoed {echoed} messages and saw the connection close");
    Ok(())
}
