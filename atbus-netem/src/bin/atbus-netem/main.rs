//! `atbus-netem`: a lossy UDP proxy on the command line. Prints the counters every interval
//! and once more on Ctrl-C. See the project's `docs/NETEM.md`.

#![forbid(unsafe_code)]

mod cli;
mod units;

use std::process::ExitCode;

use atbus_netem::{Direction, Proxy, ProxyHandle};
use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = cli::Args::parse();
    let config = match args.config() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("atbus-netem: {error}");
            return ExitCode::from(2);
        }
    };
    let proxy = match Proxy::spawn(config).await {
        Ok(proxy) => proxy,
        Err(error) => {
            eprintln!("atbus-netem: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "atbus-netem: {} -> {}",
        proxy.local_addr(),
        proxy.upstream_addr()
    );
    for direction in Direction::BOTH {
        println!("  {direction}: {:?}", proxy.impairments(direction));
    }
    let started = tokio::time::Instant::now();
    let mut ticks = tokio::time::interval(args.interval);
    ticks.tick().await;
    loop {
        tokio::select! {
            _ = ticks.tick() => print_stats(&proxy, started, ""),
            signal = tokio::signal::ctrl_c() => {
                print_stats(&proxy, started, " final");
                proxy.shutdown().await;
                return match signal {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(error) => {
                        eprintln!("atbus-netem: cannot wait for Ctrl-C: {error}");
                        ExitCode::FAILURE
                    }
                };
            }
        }
    }
}

fn print_stats(proxy: &ProxyHandle, started: tokio::time::Instant, label: &str) {
    let stats = proxy.stats();
    println!(
        "[{:>7.1}s{label}] clients {} refused {} stray {} recverr {}",
        started.elapsed().as_secs_f64(),
        stats.clients,
        stats.refused,
        stats.stray,
        stats.recv_errors
    );
    for direction in Direction::BOTH {
        println!("  {direction}: {}", stats.direction(direction));
    }
}
