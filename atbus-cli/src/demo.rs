//! The demo: four nodes in one process, one listening on each transport, each sending to the
//! next in a ring, so that every transport carries a flow. Every second it prints each flow's
//! messages/s, MB/s and one-way latency (p50, p99, max), measured on the receiving side from
//! a send time carried in each message.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use clap::Args;

use atbus_tokio::{Bus, BusConfig};

/// Options of the demo.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// How long to run, seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Message size, bytes (at least 16).
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    /// Messages per second per flow; 0: as fast as backpressure allows.
    #[arg(long, default_value_t = 20_000)]
    pub rate: u64,
}

impl Default for DemoArgs {
    fn default() -> Self {
        Self {
            seconds: 10,
            size: 256,
            rate: 20_000,
        }
    }
}

/// The nodes: name, the transport it listens on, its listen address.
fn nodes() -> Vec<(&'static str, &'static str, String)> {
    let pid = std::process::id();
    let unix = format!(
        "unix://{}/atbus-demo-{pid}.sock",
        std::env::temp_dir().display()
    );
    vec![
        ("game-1", "tcp", "tcp://127.0.0.1:0".to_owned()),
        ("chat-1", "udp", "udp://127.0.0.1:0".to_owned()),
        ("login-1", "unix", unix),
        ("match-1", "mem", format!("mem://demo-{pid}")),
    ]
}

/// What one flow's receiver saw in the current second, and in total.
#[derive(Debug, Default)]
struct FlowStats {
    messages: u64,
    bytes: u64,
    latencies_us: Vec<u64>,
    total_messages: u64,
    total_bytes: u64,
    all_latencies_us: Vec<u64>,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

fn payload(start: Instant, seq: u64, size: usize) -> Bytes {
    let mut data = BytesMut::with_capacity(size);
    data.put_u64_le(seq);
    data.put_u64_le(start.elapsed().as_nanos() as u64);
    data.resize(size.max(16), 0xa5);
    data.freeze()
}

/// Runs the demo.
pub async fn demo(args: DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let spec = nodes();
    let mut buses: Vec<Bus> = Vec::new();
    for (i, (name, _, listen)) in spec.iter().enumerate() {
        let mut config = BusConfig::new(*name);
        config.node.seed = start.elapsed().as_nanos() as u64 ^ i as u64;
        config.listen = vec![listen.clone()];
        buses.push(atbus_tokio::start(config).await?);
    }
    for bus in &buses {
        for other in &buses {
            if other.name() != bus.name() {
                bus.put_record(other.record()).await?;
            }
        }
    }
    println!("atbus demo: four nodes in one process, a ring of flows, one per transport");
    for (bus, (_, transport, _)) in buses.iter().zip(&spec) {
        let addresses: Vec<String> = bus
            .local_addresses()
            .iter()
            .map(ToString::to_string)
            .collect();
        println!(
            "  {:<8} listens on {transport:<4} {}",
            bus.name(),
            addresses.join(", ")
        );
    }
    let rate = if args.rate == 0 {
        "as fast as backpressure allows".to_owned()
    } else {
        format!("{} msgs/s per flow", args.rate)
    };
    println!(
        "  flows: each node sends {} B messages to the next ({rate}) for {} s\n",
        args.size.max(16),
        args.seconds
    );

    let n = buses.len();
    let stats: Vec<Arc<Mutex<FlowStats>>> = (0..n).map(|_| Arc::default()).collect();
    let until = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for i in 0..n {
        // Flow i: node i sends to node i+1, over the transport node i+1 listens on.
        let from = buses[i].clone();
        let to = buses[(i + 1) % n].name().to_owned();
        let (size, per_second) = (args.size, args.rate);
        tasks.push(tokio::spawn(async move {
            let mut seq = 0u64;
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            let per_tick = per_second.div_ceil(1000);
            while Instant::now() < until {
                if per_second > 0 {
                    tick.tick().await;
                }
                let batch = if per_second > 0 { per_tick } else { 64 };
                for _ in 0..batch {
                    if from.send(&to, 1, payload(start, seq, size)).await.is_err() {
                        return seq;
                    }
                    seq += 1;
                }
            }
            seq
        }));
        // Its receiver: node i+1.
        let receiver = buses[(i + 1) % n].clone();
        let flow = stats[i].clone();
        tokio::spawn(async move {
            while let Some(message) = receiver.recv().await {
                let sent = u64::from_le_bytes(message.data[8..16].try_into().unwrap_or_default());
                let latency_us = (start.elapsed().as_nanos() as u64).saturating_sub(sent) / 1_000;
                let mut flow = flow.lock().unwrap_or_else(|e| e.into_inner());
                flow.messages += 1;
                flow.bytes += message.data.len() as u64;
                flow.latencies_us.push(latency_us);
            }
        });
    }

    let labels: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "{} -> {} ({})",
                buses[i].name(),
                buses[(i + 1) % n].name(),
                spec[(i + 1) % n].1
            )
        })
        .collect();
    for second in 1..=args.seconds {
        tokio::time::sleep_until((until - Duration::from_secs(args.seconds - second)).into()).await;
        println!(
            "[{second:>3} s] {:<28} {:>10} {:>9} {:>9} {:>9} {:>9}",
            "flow", "msgs/s", "MB/s", "p50 µs", "p99 µs", "max µs"
        );
        for (i, label) in labels.iter().enumerate() {
            let mut flow = stats[i].lock().unwrap_or_else(|e| e.into_inner());
            let mut latencies = std::mem::take(&mut flow.latencies_us);
            latencies.sort_unstable();
            println!(
                "        {label:<28} {:>10} {:>9.2} {:>9} {:>9} {:>9}",
                flow.messages,
                flow.bytes as f64 / 1e6,
                percentile(&latencies, 0.5),
                percentile(&latencies, 0.99),
                latencies.last().copied().unwrap_or(0),
            );
            flow.total_messages += flow.messages;
            flow.total_bytes += flow.bytes;
            flow.messages = 0;
            flow.bytes = 0;
            flow.all_latencies_us.extend(latencies);
        }
    }
    let mut sent = Vec::new();
    for task in tasks {
        sent.push(task.await.unwrap_or(0));
    }
    // Let the last messages land, then shut down, flushing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!("\nsummary over {} s:", args.seconds);
    for (i, label) in labels.iter().enumerate() {
        let mut flow = stats[i].lock().unwrap_or_else(|e| e.into_inner());
        let mut latencies = std::mem::take(&mut flow.all_latencies_us);
        latencies.extend(std::mem::take(&mut flow.latencies_us));
        latencies.sort_unstable();
        let received = flow.total_messages + flow.messages;
        println!(
            "  {label:<28} sent {:>9}, received {:>9}, {:>8.0} msgs/s, p50 {} µs, p99 {} µs",
            sent[i],
            received,
            received as f64 / args.seconds as f64,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
        );
    }
    for bus in &buses {
        let report = bus.shutdown(Duration::from_secs(2)).await;
        if !report.is_clean() {
            println!(
                "  {}: {} messages not sent, {} unacknowledged at shutdown",
                bus.name(),
                report.not_sent.len(),
                report.unacknowledged.len()
            );
        }
    }
    Ok(())
}
