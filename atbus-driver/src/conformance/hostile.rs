//! Hostile cases: a peer that sends garbage, a peer that stops reading its socket, and an
//! application that stops taking its messages.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};

use atbus_core::discovery::{Gateway, GatewayAddress, GatewayMatch};

use super::{Placement, STEP, payload, receive_in_order, start, start_with, within};
use crate::runtime::StreamSocket;
use crate::{Bus, Runtime};

/// Bytes a wrong-protocol client might send first, then noise.
fn garbage(len: usize) -> Vec<u8> {
    let mut data = b"GET / HTTP/1.1\r\nHost: atbus\r\n\r\n".to_vec();
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    while data.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.push(x as u8);
    }
    data
}

/// Opens a raw byte-stream connection to `address` (tcp, unix or mem).
async fn raw_connect(
    runtime: &Arc<dyn Runtime>,
    address: &GatewayAddress,
) -> Result<StreamSocket, String> {
    let opened = match address {
        GatewayAddress::Tcp { host, port } => {
            let to = runtime
                .resolve(host.to_string(), *port)
                .await
                .map_err(|e| e.to_string())?;
            runtime.connect_tcp(to).await
        }
        GatewayAddress::Unix(path) => runtime.connect_unix(path.clone()).await,
        GatewayAddress::Memory(name) => crate::memory::connect(name),
        other => return Err(format!("not a byte stream: {other}")),
    };
    opened.map_err(|e| format!("raw connect to {address}: {e}"))
}

/// Sends 100 messages from `good` to `server` and checks they all arrive, in order.
async fn healthy(runtime: &Arc<dyn Runtime>, good: &Bus, server: &Bus) -> Result<(), String> {
    for i in 0..100 {
        good.send(server.name(), 1, payload(i, 200))
            .await
            .map_err(|e| e.to_string())?;
    }
    receive_in_order(runtime, server, 100, &|_| 200).await?;
    Ok(())
}

/// A peer that sends garbage (a wrong protocol, then noise) is closed — its connection ends
/// — and a healthy session of the same node keeps delivering. Over a datagram scheme the
/// garbage is datagrams, which must change nothing. The garbage peer's sockets are client
/// side.
pub async fn garbage_peer(placement: Placement, scheme: &str) -> Result<(), String> {
    // Timers (any side's will do).
    let runtime = placement.client.clone();
    let server = start(&placement, &format!("target-{scheme}"), Some(scheme)).await?;
    let good = start(&placement, &format!("good-{scheme}"), None).await?;
    good.put_record(server.record())
        .await
        .map_err(|e| e.to_string())?;
    healthy(&runtime, &good, &server).await?;
    let address = server
        .local_addresses()
        .into_iter()
        .next()
        .ok_or("the server listens nowhere")?;
    if let GatewayAddress::Udp { host, port } = &address {
        let to = runtime
            .resolve(host.to_string(), *port)
            .await
            .map_err(|e| e.to_string())?;
        let socket = placement
            .client
            .bind_udp(placement.client_udp_bind())
            .await
            .map_err(|e| e.to_string())?;
        let noise = garbage(64 * 1024);
        for i in 0..200 {
            let len = 1 + (i * 331) % 1_400;
            crate::runtime::send_to(&*socket, &noise[i..i + len], to)
                .await
                .map_err(|e| e.to_string())?;
        }
    } else {
        let mut raw = raw_connect(&placement.client, &address).await?;
        raw.writer
            .write_all(&garbage(4_096))
            .await
            .map_err(|e| e.to_string())?;
        let _ = raw.writer.flush().await;
        // The node closes it: the read ends (EOF or a reset), whatever it answered first.
        let mut buf = vec![0u8; 4_096];
        let closed = async {
            loop {
                match raw.reader.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        };
        within(&runtime, STEP, "the garbage connection to close", closed).await?;
        // Counted: a refused registration or a closed transport.
        let node = server.metrics().await.ok_or("no metrics")?.node;
        if node.refused.total() + node.closed.total() == 0 {
            return Err(format!("the garbage connection was not counted: {node:?}"));
        }
    }
    healthy(&runtime, &good, &server).await?;
    good.shutdown(STEP).await;
    server.shutdown(Duration::ZERO).await;
    Ok(())
}

/// A TCP proxy whose direction towards the client can be paused: the proxy then stops
/// reading from the server, as a client that stops reading would. It stands in for the
/// client's reading side, so it lives with the client: it listens on the client's loopback
/// and dials the server (across namespaces in the netns suite).
struct StallProxy {
    address: GatewayAddress,
    paused: Arc<AtomicBool>,
}

impl StallProxy {
    async fn spawn(runtime: &Arc<dyn Runtime>, upstream: &GatewayAddress) -> Result<Self, String> {
        let GatewayAddress::Tcp { host, port } = upstream else {
            return Err(format!("not tcp: {upstream}"));
        };
        let upstream = runtime
            .resolve(host.to_string(), *port)
            .await
            .map_err(|e| e.to_string())?;
        let (mut listener, at) = runtime
            .listen_tcp("127.0.0.1:0".parse().expect("an address"))
            .await
            .map_err(|e| e.to_string())?;
        let paused = Arc::new(AtomicBool::new(false));
        let task_runtime = runtime.clone();
        let task_paused = paused.clone();
        runtime.spawn(Box::pin(async move {
            let Ok(client) = listener.accept().await else {
                return;
            };
            let Ok(server) = task_runtime.connect_tcp(upstream).await else {
                return;
            };
            let StreamSocket {
                reader: mut from_client,
                writer: mut to_client,
                ..
            } = client;
            let StreamSocket {
                reader: mut from_server,
                writer: mut to_server,
                ..
            } = server;
            task_runtime.spawn(Box::pin(async move {
                let _ = futures_lite::io::copy(&mut from_client, &mut to_server).await;
            }));
            let timer = task_runtime.clone();
            task_runtime.spawn(Box::pin(async move {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    if task_paused.load(Ordering::Acquire) {
                        timer
                            .sleep_until(Instant::now() + Duration::from_millis(10))
                            .await;
                        continue;
                    }
                    match from_server.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if to_client.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }));
        }));
        let address = GatewayAddress::Tcp {
            host: atbus_core::discovery::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST),
            port: at.port(),
        };
        Ok(Self { address, paused })
    }
}

/// A peer that stops reading: the sending node's `send` stops completing (backpressure) after
/// a bounded amount, its memory does not grow, and once the peer reads again every message
/// arrives, in order. The producer listens (server side); the consumer and its stalling
/// proxy are client side.
pub async fn stalled_reader(placement: Placement) -> Result<(), String> {
    // Timers (any side's will do).
    let runtime = placement.client.clone();
    const SIZE: usize = 64 * 1024;
    let producer = start(&placement, "producer-1", Some("tcp")).await?;
    let consumer = start(&placement, "consumer-1", None).await?;
    let tcp = producer
        .local_addresses()
        .into_iter()
        .next()
        .ok_or("no address")?;
    let proxy = StallProxy::spawn(&placement.client, &tcp).await?;
    let mut record = producer.record();
    record.gateways = vec![Gateway {
        priority: 0,
        addresses: vec![proxy.address.to_string()],
        r#match: GatewayMatch::default(),
    }];
    consumer
        .put_record(record)
        .await
        .map_err(|e| e.to_string())?;
    consumer
        .send(producer.name(), 1, payload(0, 64))
        .await
        .map_err(|e| e.to_string())?;
    receive_in_order(&runtime, &producer, 1, &|_| 64).await?;

    proxy.paused.store(true, Ordering::Release);
    let completed = Arc::new(AtomicU64::new(0));
    let total = 2_000u32;
    let sender = {
        let producer = producer.clone();
        let to = consumer.name().to_owned();
        let completed = completed.clone();
        async move {
            for i in 0..total {
                if producer.send(&to, 1, payload(i, SIZE)).await.is_err() {
                    return;
                }
                completed.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
    let sending = Arc::new(AtomicBool::new(true));
    {
        let sending = sending.clone();
        runtime.spawn(Box::pin(async move {
            sender.await;
            sending.store(false, Ordering::Release);
        }));
    }
    let sleep = |d| runtime.sleep_until(Instant::now() + d);
    sleep(Duration::from_secs(3)).await;
    let first = completed.load(Ordering::Relaxed);
    sleep(Duration::from_secs(1)).await;
    let second = completed.load(Ordering::Relaxed);
    // Kernel buffers, the writer's queue, the stream's send buffer and the bus's credits:
    // a few tens of MiB at most, never the 125 MiB the sender has.
    let bound = (96 * 1024 * 1024 / SIZE) as u64;
    if first == 0 || first != second || second > bound || !sending.load(Ordering::Acquire) {
        return Err(format!(
            "a stalled reader did not stop the sender: {first} then {second} sends of 64 KiB \
             completed (bound {bound})"
        ));
    }
    eprintln!("stalled reader: the sender stopped after {second} sends of 64 KiB");
    proxy.paused.store(false, Ordering::Release);
    receive_in_order(&runtime, &consumer, total as usize, &|_| SIZE).await?;
    producer.shutdown(STEP).await;
    consumer.shutdown(Duration::ZERO).await;
    Ok(())
}

/// An application that stops taking its messages (never calls `recv`): the messages it has not
/// taken hold its session's flow-control credit, so the sender's `send` stops completing after
/// a bounded amount — the receiver's memory is bounded — and once the application takes them
/// again, every message arrives, in order. The consumer listens (server side) with a 2 MiB
/// receive budget; the producer, with a 1 MiB stream send buffer, dials it.
pub async fn idle_consumer(placement: Placement, scheme: &str) -> Result<(), String> {
    const SIZE: usize = 16 * 1024;
    const TOTAL: u32 = 2_048;
    const BUDGET: u64 = 2 * 1024 * 1024;
    const SEND_BUFFER: u64 = 1024 * 1024;
    let runtime = placement.client.clone();
    let consumer = start_with(
        &placement,
        &format!("idle-consumer-{scheme}"),
        Some(scheme),
        |config| {
            config.node.connection.receive_memory_limit = BUDGET;
            config.node.connection.stream_receive_window = BUDGET;
        },
    )
    .await?;
    let producer = start_with(&placement, &format!("producer-{scheme}"), None, |config| {
        config.node.connection.stream_send_buffer = SEND_BUFFER;
    })
    .await?;
    producer
        .put_record(consumer.record())
        .await
        .map_err(|e| e.to_string())?;
    let completed = Arc::new(AtomicU64::new(0));
    {
        let producer = producer.clone();
        let to = consumer.name().to_owned();
        let completed = completed.clone();
        runtime.spawn(Box::pin(async move {
            for i in 0..TOTAL {
                if producer.send(&to, 1, payload(i, SIZE)).await.is_err() {
                    return;
                }
                completed.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Wait until the sender stopped: no send completed for a second.
    let sleep = |d| runtime.sleep_until(Instant::now() + d);
    let started = Instant::now();
    let mut last = u64::MAX;
    loop {
        sleep(Duration::from_millis(1_000)).await;
        let now = completed.load(Ordering::Relaxed);
        if now == last || started.elapsed() > Duration::from_secs(20) {
            break;
        }
        last = now;
    }
    let stopped = completed.load(Ordering::Relaxed);
    // The consumer holds at most about twice its budget plus a window per stream; the
    // producer's send buffer, its bus's 256 send credits (4 MiB), writer queues and socket
    // buffers hold the rest: 16 MiB is generous, and half of what is sent.
    let bound = (16 * 1024 * 1024 / SIZE) as u64;
    if stopped == u64::from(TOTAL) || stopped > bound || stopped != last {
        return Err(format!(
            "an idle consumer did not stop the sender: {stopped} of {TOTAL} sends of 16 KiB \
             completed (bound {bound})"
        ));
    }
    eprintln!("idle consumer over {scheme}: the sender stopped after {stopped} sends of 16 KiB");
    receive_in_order(&runtime, &consumer, TOTAL as usize, &|_| SIZE).await?;
    producer.shutdown(STEP).await;
    consumer.shutdown(Duration::ZERO).await;
    Ok(())
}
