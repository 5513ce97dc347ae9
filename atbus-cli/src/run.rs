//! `atbus run`: one node from a config file and/or flags. It prints what it receives and its
//! sessions' events, optionally greets other nodes every second, and shuts down on Ctrl-C.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use clap::Args;

use atbus_core::discovery::{Gateway, GatewayMatch, NodeRecord};
use atbus_tokio::FileConfig;

/// Options of `atbus run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// A YAML (or JSON) config file; flags add to it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The node's name (overrides the file's).
    #[arg(long)]
    pub name: Option<String>,
    /// An address to listen on (repeatable), e.g. tcp://127.0.0.1:7001.
    #[arg(long)]
    pub listen: Vec<String>,
    /// Another node, NAME=ADDRESS (repeatable): a discovery record with that one address.
    #[arg(long, value_parser = parse_peer)]
    pub peer: Vec<(String, String)>,
    /// A node to greet every second (repeatable).
    #[arg(long)]
    pub send_to: Vec<String>,
    /// Send every message received back to its sender, on its stream (and print nothing).
    #[arg(long)]
    pub echo: bool,
}

pub fn parse_peer(text: &str) -> Result<(String, String), String> {
    let (name, address) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected NAME=ADDRESS"))?;
    Ok((name.to_owned(), address.to_owned()))
}

/// Runs one node until Ctrl-C.
pub async fn run(args: RunArgs) -> Result<(), Box<dyn std::error::Error>> {
    let echo = args.echo;
    let mut file = match &args.config {
        Some(path) => serde_norway::from_str::<FileConfig>(&std::fs::read_to_string(path)?)
            .map_err(|e| format!("{}: {e}", path.display()))?,
        None => FileConfig::default(),
    };
    if let Some(name) = args.name {
        file.name = name;
    }
    if file.name.is_empty() {
        return Err("no node name: give --name or a config file with `name`".into());
    }
    file.listen.extend(args.listen);
    for (name, address) in args.peer {
        let mut record = NodeRecord::new(name);
        record.gateways.push(Gateway {
            priority: 0,
            addresses: vec![address],
            r#match: GatewayMatch::default(),
        });
        file.nodes.push(record);
    }
    let clock = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let bus = atbus_tokio::start(file.into_bus_config(clock)).await?;
    let addresses: Vec<String> = bus
        .local_addresses()
        .iter()
        .map(ToString::to_string)
        .collect();
    println!(
        "{} is up, listening on [{}]",
        bus.name(),
        addresses.join(", ")
    );
    let events = bus.events().await;
    {
        let bus = bus.clone();
        tokio::spawn(async move {
            while let Some(message) = bus.recv().await {
                if echo {
                    let _ = bus.send(&message.from, message.stream, message.data).await;
                    continue;
                }
                println!(
                    "from {} on stream {}: {}",
                    message.from,
                    message.stream,
                    String::from_utf8_lossy(&message.data)
                );
            }
        });
    }
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if !echo {
                println!("event: {event:?}");
            }
        }
    });
    if !args.send_to.is_empty() {
        let bus = bus.clone();
        let targets = args.send_to.clone();
        tokio::spawn(async move {
            let mut n = 0u64;
            loop {
                for to in &targets {
                    let text = format!("hello #{n} from {}", bus.name());
                    if let Err(error) = bus.send(to, 1, Bytes::from(text)).await {
                        println!("send to {to}: {error}");
                    }
                }
                n += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
    tokio::signal::ctrl_c().await?;
    let report = bus.shutdown(Duration::from_secs(2)).await;
    println!(
        "shut down: {} messages not sent, {} unacknowledged",
        report.not_sent.len(),
        report.unacknowledged.len()
    );
    Ok(())
}
