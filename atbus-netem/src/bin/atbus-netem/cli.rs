//! The command line: flags for both directions, `--up KEY=VALUE` and `--down KEY=VALUE` to
//! override one direction.

use std::net::SocketAddr;
use std::time::Duration;

use atbus_netem::{BurstLoss, Direction, Impairments, ProxyConfig, RateLimit};
use clap::Parser;

use crate::units::{self, UnitError};

/// A lossy UDP proxy: forwards datagrams between clients and one upstream server, dropping,
/// delaying, duplicating, reordering and rate-limiting them. Impairment flags apply to both
/// directions; `--up KEY=VALUE` (client to server) and `--down KEY=VALUE` (server to client)
/// override one direction, with KEY one of: loss, burst, delay, jitter, duplicate, reorder,
/// reorder-delay, rate, queue (burst=off and rate=off turn those off).
#[derive(Debug, Parser)]
#[command(name = "atbus-netem", version)]
pub struct Args {
    /// Address the clients send to.
    #[arg(long)]
    pub listen: SocketAddr,
    /// Address of the server.
    #[arg(long)]
    pub upstream: SocketAddr,
    /// Loss probability, independent per packet (0.05 or 5%); the good-state loss with --burst.
    #[arg(long, value_parser = units::probability, default_value = "0")]
    pub loss: f64,
    /// Gilbert-Elliott burst loss as P,R[,LOSS_IN_BAD]: P good->bad, R bad->good per packet.
    #[arg(long, value_parser = units::burst)]
    pub burst: Option<BurstLoss>,
    /// Fixed one-way delay (20ms, 1s).
    #[arg(long, value_parser = units::duration, default_value = "0ms")]
    pub delay: Duration,
    /// Extra delay drawn uniformly from [0, JITTER] per packet; order is kept.
    #[arg(long, value_parser = units::duration, default_value = "0ms")]
    pub jitter: Duration,
    /// Probability that a packet is delivered twice.
    #[arg(long, value_parser = units::probability, default_value = "0")]
    pub duplicate: f64,
    /// Probability that a packet is held back by --reorder-delay, letting later ones pass.
    #[arg(long, value_parser = units::probability, default_value = "0")]
    pub reorder: f64,
    /// Extra delay of a reordered packet.
    #[arg(long, value_parser = units::duration, default_value = "10ms")]
    pub reorder_delay: Duration,
    /// Rate limit: 10mbit, 800kbit (bits/s) or 100kbps, 1500 (bytes/s); none by default.
    #[arg(long, value_parser = units::rate)]
    pub rate: Option<u64>,
    /// Queue of the rate limit (64kb, 1500); default 100 ms at the rate, at least 64kb.
    #[arg(long, value_parser = units::size)]
    pub queue: Option<usize>,
    /// Override for client to server, as KEY=VALUE (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub up: Vec<String>,
    /// Override for server to client, as KEY=VALUE (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub down: Vec<String>,
    /// Seed of the random choices.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// How often to print the counters.
    #[arg(long, value_parser = units::duration, default_value = "1s")]
    pub interval: Duration,
}

/// An override that could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    /// Not of the form `KEY=VALUE`.
    #[error("--{flag} {given:?}: expected KEY=VALUE")]
    Form {
        /// `up` or `down`.
        flag: &'static str,
        /// What was given.
        given: String,
    },
    /// Not a known key.
    #[error("--{flag} {given:?}: unknown key {key:?}")]
    Key {
        /// `up` or `down`.
        flag: &'static str,
        /// What was given.
        given: String,
        /// The key.
        key: String,
    },
    /// The value does not parse.
    #[error("--{flag} {given:?}: {source}")]
    Value {
        /// `up` or `down`.
        flag: &'static str,
        /// What was given.
        given: String,
        /// Why.
        #[source]
        source: UnitError,
    },
}

/// One direction's settings as the flags give them, before the queue default is applied.
#[derive(Debug, Clone)]
struct Knobs {
    impairments: Impairments,
    rate: Option<u64>,
    queue: Option<usize>,
}

impl Knobs {
    fn apply(&mut self, flag: &'static str, given: &str) -> Result<(), OverrideError> {
        let Some((key, value)) = given.split_once('=') else {
            return Err(OverrideError::Form {
                flag,
                given: given.to_owned(),
            });
        };
        let value = value.trim();
        let off = matches!(value, "off" | "none");
        let imp = &mut self.impairments;
        let result = match key.trim() {
            "loss" => units::probability(value).map(|v| imp.loss = v),
            "burst" if off => {
                imp.burst_loss = None;
                Ok(())
            }
            "burst" => units::burst(value).map(|v| imp.burst_loss = Some(v)),
            "delay" => units::duration(value).map(|v| imp.delay = v),
            "jitter" => units::duration(value).map(|v| imp.jitter = v),
            "duplicate" => units::probability(value).map(|v| imp.duplicate = v),
            "reorder" => units::probability(value).map(|v| imp.reorder = v),
            "reorder-delay" => units::duration(value).map(|v| imp.reorder_delay = v),
            "rate" if off => {
                self.rate = None;
                Ok(())
            }
            "rate" => units::rate(value).map(|v| self.rate = Some(v)),
            "queue" => units::size(value).map(|v| self.queue = Some(v)),
            other => {
                return Err(OverrideError::Key {
                    flag,
                    given: given.to_owned(),
                    key: other.to_owned(),
                });
            }
        };
        result.map_err(|source| OverrideError::Value {
            flag,
            given: given.to_owned(),
            source,
        })
    }

    fn finish(self) -> Impairments {
        let mut imp = self.impairments;
        imp.rate = self.rate.map(|bytes_per_second| {
            let mut limit = RateLimit::new(bytes_per_second);
            if let Some(queue) = self.queue {
                limit.queue_bytes = queue;
            }
            limit
        });
        imp
    }
}

impl Args {
    /// The proxy's configuration; range checks are left to [`atbus_netem::Proxy::spawn`].
    pub fn config(&self) -> Result<ProxyConfig, OverrideError> {
        let both = Knobs {
            impairments: Impairments {
                loss: self.loss,
                burst_loss: self.burst,
                delay: self.delay,
                jitter: self.jitter,
                duplicate: self.duplicate,
                reorder: self.reorder,
                reorder_delay: self.reorder_delay,
                rate: None,
            },
            rate: self.rate,
            queue: self.queue,
        };
        let mut config = ProxyConfig::new(self.listen, self.upstream).with_seed(self.seed);
        for (direction, flag, overrides) in [
            (Direction::ClientToServer, "up", &self.up),
            (Direction::ServerToClient, "down", &self.down),
        ] {
            let mut knobs = both.clone();
            for given in overrides {
                knobs.apply(flag, given)?;
            }
            config = config.with_direction(direction, knobs.finish());
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &str) -> Result<ProxyConfig, String> {
        let argv = format!("atbus-netem --listen 127.0.0.1:9000 --upstream 127.0.0.1:9001 {args}");
        let args = Args::try_parse_from(argv.split_whitespace()).map_err(|e| e.to_string())?;
        args.config().map_err(|e| e.to_string())
    }

    #[test]
    fn the_example_from_the_docs() {
        let config = parse(
            "--loss 0.05 --delay 20ms --jitter 5ms --duplicate 0.01 --reorder 0.05 --rate 10mbit --seed 1",
        )
        .unwrap();
        assert_eq!(config.seed, 1);
        assert_eq!(config.client_to_server, config.server_to_client);
        let imp = &config.client_to_server;
        assert_eq!(imp.loss, 0.05);
        assert_eq!(imp.delay, Duration::from_millis(20));
        assert_eq!(imp.jitter, Duration::from_millis(5));
        assert_eq!(imp.reorder_delay, Duration::from_millis(10));
        assert_eq!(imp.rate, Some(RateLimit::new(1_250_000)));
        assert_eq!(imp.validate(), Ok(()));
    }

    #[test]
    fn overrides_touch_one_direction() {
        let config = parse(
            "--loss 1% --up loss=0.5 --up rate=1mbit --up queue=3000 --down delay=40ms --down burst=0.01,0.3",
        )
        .unwrap();
        let (up, down) = (&config.client_to_server, &config.server_to_client);
        assert_eq!(up.loss, 0.5);
        assert_eq!(
            up.rate,
            Some(RateLimit {
                bytes_per_second: 125_000,
                queue_bytes: 3000
            })
        );
        assert_eq!(up.delay, Duration::ZERO);
        assert_eq!(down.loss, 0.01);
        assert_eq!(down.rate, None);
        assert_eq!(down.delay, Duration::from_millis(40));
        assert_eq!(down.burst_loss.map(|b| b.r), Some(0.3));
        let config = parse("--burst 0.1,0.2 --rate 1mbit --up burst=off --up rate=off").unwrap();
        assert_eq!(config.client_to_server.burst_loss, None);
        assert_eq!(config.client_to_server.rate, None);
        assert!(config.server_to_client.burst_loss.is_some());
        assert!(config.server_to_client.rate.is_some());
    }

    #[test]
    fn bad_overrides_are_named() {
        let err = parse("--up nonsense").unwrap_err();
        assert!(err.contains("KEY=VALUE"), "{err}");
        let err = parse("--down colour=blue").unwrap_err();
        assert!(err.contains("unknown key \"colour\""), "{err}");
        let err = parse("--up delay=fast").unwrap_err();
        assert!(err.contains("not a number"), "{err}");
        assert!(parse("--delay 20").unwrap_err().contains("unknown unit"));
    }
}
