//! `atbus probe`: sends numbered messages to a node that echoes them (`atbus run --echo`)
//! and checks that every echo comes back, in order and whole. Exits non-zero otherwise.

use std::time::{Duration, Instant, SystemTime};

use bytes::{BufMut, Bytes, BytesMut};
use clap::Args;

use atbus_core::discovery::{Gateway, GatewayMatch, NodeRecord};
use atbus_tokio::BusConfig;

/// Options of `atbus probe`.
#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// The echoing node, NAME=ADDRESS.
    #[arg(long, value_parser = crate::run::parse_peer)]
    pub peer: (String, String),
    /// Messages to send.
    #[arg(long, default_value_t = 1_000)]
    pub count: u32,
    /// Message size, bytes (at least 8).
    #[arg(long, default_value_t = 512)]
    pub size: usize,
    /// This node's name.
    #[arg(long, default_value = "probe-1")]
    pub name: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

fn payload(i: u32, size: usize) -> Bytes {
    let mut data = BytesMut::with_capacity(size.max(8));
    data.put_u32_le(i);
    while data.len() < size.max(8) {
        data.put_u8((data.len() as u32 ^ i) as u8);
    }
    data.freeze()
}

/// Runs the probe.
pub async fn probe(args: ProbeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let (peer, address) = args.peer.clone();
    let mut config = BusConfig::new(args.name.clone());
    config.node.seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut record = NodeRecord::new(peer.clone());
    record.gateways.push(Gateway {
        priority: 0,
        addresses: vec![address.clone()],
        r#match: GatewayMatch::default(),
    });
    config.records.push(record);
    let bus = atbus_tokio::start(config).await?;
    let began = Instant::now();
    let sender = {
        let bus = bus.clone();
        let (peer, count, size) = (peer.clone(), args.count, args.size);
        tokio::spawn(async move {
            for i in 0..count {
                bus.send(&peer, 1, payload(i, size)).await?;
            }
            Ok::<(), atbus_tokio::SendError>(())
        })
    };
    let deadline = Duration::from_secs(args.timeout);
    for i in 0..args.count {
        let echo = tokio::time::timeout(deadline, bus.recv())
            .await
            .map_err(|_| {
                format!(
                    "echo {i} of {} did not come within {deadline:?}",
                    args.count
                )
            })?
            .ok_or("the bus shut down")?;
        if echo.from != peer || echo.data != payload(i, args.size) {
            return Err(format!(
                "echo {i}: unexpected {} bytes from {}",
                echo.data.len(),
                echo.from
            )
            .into());
        }
    }
    sender.await??;
    let elapsed = began.elapsed();
    println!(
        "probe {address}: {} echoes of {} B in order in {:.1} ms ({:.0} round trips/s)",
        args.count,
        args.size,
        elapsed.as_secs_f64() * 1e3,
        f64::from(args.count) / elapsed.as_secs_f64()
    );
    bus.shutdown(Duration::from_secs(2)).await;
    Ok(())
}
