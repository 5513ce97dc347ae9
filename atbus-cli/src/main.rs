//! `atbus`: run a node from a config file or flags, or start a small local demo bus.
//!
//! - `atbus` or `atbus demo`: four nodes in this process, one listening on each transport
//!   (TCP, UDP, a Unix socket, an in-process link), sending to each other in a ring, with live
//!   throughput and latency per flow.
//! - `atbus run --config node.yaml` (or `--name`, `--listen`, `--peer`, `--send-to`): one node.
//! - `atbus probe --peer NAME=ADDRESS`: numbered messages to a node running `run --echo`,
//!   every echo checked (the multi-host test uses it across network namespaces).
//! - `atbus config`: the default configuration, as a file would state it.
//!
//! Logs go to stderr through `tracing`: warnings by default, `RUST_LOG=info` for sessions
//! going up and down, `RUST_LOG=debug` for connects and closes.

mod demo;
mod probe;
mod run;

use clap::{Parser, Subcommand};

/// The atbus command.
#[derive(Debug, Parser)]
#[command(name = "atbus", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A local bus of four nodes over TCP, UDP, Unix sockets and in-process links.
    Demo(demo::DemoArgs),
    /// One node, from a config file and/or flags.
    Run(run::RunArgs),
    /// Sends numbered messages to an echoing node (`run --echo`) and checks the echoes.
    Probe(probe::ProbeArgs),
    /// Prints the default configuration (YAML).
    Config,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        None => demo::demo(demo::DemoArgs::default()).await,
        Some(Command::Demo(args)) => demo::demo(args).await,
        Some(Command::Run(args)) => run::run(args).await,
        Some(Command::Probe(args)) => probe::probe(args).await,
        Some(Command::Config) => {
            let mut config = atbus_tokio::FileConfig {
                name: "node-1".into(),
                listen: vec!["tcp://127.0.0.1:7001".into(), "udp://127.0.0.1:7001".into()],
                ..Default::default()
            };
            config.labels.insert("zone".into(), "local".into());
            print!("{}", serde_norway::to_string(&config)?);
            Ok(())
        }
    }
}
