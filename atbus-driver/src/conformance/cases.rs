//! The basic cases: messages both ways, many peers, a restarting peer, shutdown in flight.

use std::time::{Duration, Instant};

use super::{Placement, STEP, payload, receive_in_order, start, within};
use crate::BusEvent;

/// Two nodes over `scheme`: small and large messages on several streams, in order, whole;
/// then both shut down cleanly.
pub async fn messages_both_ways(placement: Placement, scheme: &str) -> Result<(), String> {
    // Timers (any side's will do).
    let runtime = placement.client.clone();
    let server = start(&placement, &format!("server-{scheme}"), Some(scheme)).await?;
    let client = start(&placement, &format!("client-{scheme}"), None).await?;
    client
        .put_record(server.record())
        .await
        .map_err(|e| e.to_string())?;
    // Small messages, and a few of 64 KiB and 1 MiB among them.
    let sizes = |i: u32| match i % 50 {
        7 => 64 * 1024,
        33 => 1024 * 1024,
        _ => 16 + (i as usize % 200),
    };
    let count = 600u32;
    let streams = 4;
    let sender = {
        let client = client.clone();
        let server_name = server.name().to_owned();
        async move {
            for i in 0..count {
                let stream = i64::from(i % streams);
                // Per stream, messages are numbered from 0.
                let n = i / streams;
                client
                    .send(&server_name, stream, payload(n, sizes(n)))
                    .await
                    .map_err(|e| format!("send {i}: {e}"))?;
            }
            Ok::<(), String>(())
        }
    };
    let receiver = receive_in_order(&runtime, &server, count as usize, &sizes);
    let sender = async { within(&runtime, STEP * 4, "sending", sender).await? };
    let ((), received) = futures_lite::future::try_zip(sender, receiver).await?;
    if received.len() != streams as usize {
        return Err(format!("messages arrived on {} streams", received.len()));
    }
    // The server's metrics saw the client's traffic.
    let payload_bytes: u64 = (0..count / streams).map(|n| sizes(n) as u64).sum::<u64>() * 4;
    let metrics = server.metrics().await.ok_or("no metrics")?;
    let client_bytes = metrics
        .peers
        .iter()
        .find(|(name, _)| name == client.name())
        .map(|(_, peer)| peer.transport.bytes_received)
        .ok_or("the client is not in the server's metrics")?;
    if client_bytes < payload_bytes {
        return Err(format!(
            "metrics: {client_bytes} bytes received from the client, below the {payload_bytes} \
             bytes of payload"
        ));
    }
    // And back: the server answers by name over the session the client opened.
    server
        .send(client.name(), 9, payload(0, 100))
        .await
        .map_err(|e| e.to_string())?;
    let answer = within(&runtime, STEP, "answer", client.recv())
        .await?
        .ok_or("client shut down")?;
    if answer.from != server.name() || answer.data != payload(0, 100) {
        return Err(format!("unexpected answer {answer:?}"));
    }
    let report = within(&runtime, STEP, "shutdown", client.shutdown(STEP)).await?;
    if !report.is_clean() {
        return Err(format!("client shutdown left {report:?}"));
    }
    within(&runtime, STEP, "shutdown", server.shutdown(STEP)).await?;
    Ok(())
}

/// Many clients over `scheme` to one hub, each on its own stream: all arrive, in order.
pub async fn many_peers(placement: Placement, scheme: &str) -> Result<(), String> {
    // Timers (any side's will do).
    let runtime = placement.client.clone();
    let hub = start(&placement, &format!("hub-{scheme}"), Some(scheme)).await?;
    let peers = 12;
    let per_peer = 200u32;
    let mut clients = Vec::new();
    for p in 0..peers {
        let client = start(&placement, &format!("peer-{p}-{scheme}"), None).await?;
        client
            .put_record(hub.record())
            .await
            .map_err(|e| e.to_string())?;
        clients.push(client);
    }
    let hub_name = hub.name().to_owned();
    let senders = clients.iter().map(|client| {
        let client = client.clone();
        let hub_name = hub_name.clone();
        async move {
            for i in 0..per_peer {
                client
                    .send(&hub_name, 1, payload(i, 300))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<(), String>(())
        }
    });
    let mut sending = Vec::new();
    for sender in senders {
        sending.push(Box::pin(sender));
    }
    let all_sent = async {
        for sender in sending {
            sender.await?;
        }
        Ok::<(), String>(())
    };
    let sizes = |_| 300;
    let all_sent = async { within(&runtime, STEP * 4, "sending", all_sent).await? };
    let ((), received) = futures_lite::future::try_zip(
        all_sent,
        receive_in_order(&runtime, &hub, (peers * per_peer) as usize, &sizes),
    )
    .await?;
    if received.len() != peers as usize || received.values().any(|n| *n != per_peer) {
        return Err(format!("per peer: {received:?}"));
    }
    for client in &clients {
        client.shutdown(Duration::from_secs(5)).await;
    }
    hub.shutdown(Duration::ZERO).await;
    Ok(())
}

/// A peer that restarts (same name, new instance) is back at once: the old one's shutdown
/// closed its session with close frames, so no idle timeout is waited for.
pub async fn peer_restart(placement: Placement, scheme: &str) -> Result<(), String> {
    // Timers (any side's will do).
    let runtime = placement.client.clone();
    let server = start(&placement, &format!("stable-{scheme}"), Some(scheme)).await?;
    let events = server.events().await;
    let name = format!("restarting-{scheme}");
    for run in 0..3u32 {
        let client = start(&placement, &name, None).await?;
        client
            .put_record(server.record())
            .await
            .map_err(|e| e.to_string())?;
        client
            .send(server.name(), 1, payload(run, 64))
            .await
            .map_err(|e| e.to_string())?;
        let message = within(&runtime, STEP, "message after restart", server.recv())
            .await?
            .ok_or("server shut down")?;
        if message.data != payload(run, 64) {
            return Err(format!("run {run}: got {message:?}"));
        }
        let report = client.shutdown(STEP).await;
        if !report.is_clean() {
            return Err(format!("run {run}: {report:?}"));
        }
        // The server sees the peer go down (close frame) before the next run starts.
        loop {
            let event = within(&runtime, STEP, "peer down", events.recv())
                .await?
                .map_err(|_| "events ended")?;
            if let BusEvent::PeerDown { peer, .. } = event
                && peer == name
            {
                break;
            }
        }
    }
    server.shutdown(Duration::ZERO).await;
    Ok(())
}

/// Shutting down with messages in flight: each is delivered or reported, none twice, none
/// silently dropped.
pub async fn shutdown_in_flight(placement: Placement, scheme: &str) -> Result<(), String> {
    // Timers (any side's will do).
    let runtime = placement.client.clone();
    let server = start(&placement, &format!("sink-{scheme}"), Some(scheme)).await?;
    let client = start(&placement, &format!("source-{scheme}"), None).await?;
    client
        .put_record(server.record())
        .await
        .map_err(|e| e.to_string())?;
    let count = 2_000u32;
    for i in 0..count {
        client
            .send(server.name(), 1, payload(i, 1_000))
            .await
            .map_err(|e| e.to_string())?;
    }
    // No flush time: whatever was not acknowledged is reported.
    let report = within(&runtime, STEP, "shutdown", client.shutdown(Duration::ZERO)).await?;
    let mut delivered = Vec::new();
    // What the server got before the close reached it.
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let next = within(&runtime, Duration::from_millis(200), "drain", server.recv()).await;
        match next {
            Ok(Some(message)) => delivered.push(u32::from_le_bytes(
                message.data[..4].try_into().map_err(|_| "short")?,
            )),
            _ => break,
        }
    }
    let reported_unsent: Vec<u32> = report
        .not_sent
        .iter()
        .map(|(_, _, d)| u32::from_le_bytes(d[..4].try_into().unwrap_or_default()))
        .collect();
    let maybe: Vec<u32> = report
        .unacknowledged
        .iter()
        .map(|(_, _, d)| u32::from_le_bytes(d[..4].try_into().unwrap_or_default()))
        .collect();
    // Delivered in order from 0, none twice.
    for (k, i) in delivered.iter().enumerate() {
        if *i != k as u32 {
            return Err(format!("delivery {k} was message {i}"));
        }
    }
    for i in &reported_unsent {
        if delivered.contains(i) {
            return Err(format!(
                "message {i} was delivered and reported as not sent"
            ));
        }
    }
    // Every message is accounted for: delivered, or handed back.
    for i in 0..count {
        if !delivered.contains(&i) && !reported_unsent.contains(&i) && !maybe.contains(&i) {
            return Err(format!(
                "message {i} neither delivered nor reported ({} delivered, {} not sent, {} unacknowledged)",
                delivered.len(),
                reported_unsent.len(),
                maybe.len()
            ));
        }
    }
    server.shutdown(Duration::ZERO).await;
    Ok(())
}
