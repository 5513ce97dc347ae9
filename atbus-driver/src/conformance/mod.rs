//! The adapter conformance suite: the same cases, over real loopback sockets, for every
//! runtime. An adapter's tests call each case inside their runtime with its [`Runtime`];
//! a case returns `Err` with what went wrong.
//!
//! Enabled by the `conformance` feature (adapters turn it on for their tests only).

mod cases;
mod hostile;

pub use cases::{many_peers, messages_both_ways, peer_restart, shutdown_in_flight};
pub use hostile::{garbage_peer, stalled_reader};

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::{Bus, BusConfig, Runtime};

/// How long any one step may take before the case fails (generous: CI machines are slow).
pub(crate) const STEP: Duration = Duration::from_secs(30);

/// The transports a case can run over. `udp-plain` is UDP with `udp_offload` off (one
/// datagram per system call) on both ends: the cases name their buses after the scheme, and
/// [`start`] turns offload off for a name that ends in it.
pub const SCHEMES: [&str; 5] = ["tcp", "udp", "udp-plain", "unix", "mem"];

/// Runs `case` over every scheme of [`SCHEMES`], in turn; the error names the scheme.
pub async fn each_scheme<F, Fut>(runtime: Arc<dyn Runtime>, case: F) -> Result<(), String>
where
    F: Fn(Arc<dyn Runtime>, &'static str) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    for scheme in SCHEMES {
        case(runtime.clone(), scheme)
            .await
            .map_err(|e| format!("over {scheme}: {e}"))?;
    }
    Ok(())
}

/// Declares one `#[test]` per conformance case, so that every adapter runs every case.
/// `$run` is the adapter's `fn(name: &str, case)`: it runs the future
/// `case(runtime)` to completion on its runtime and panics, naming the case, on an error.
#[macro_export]
macro_rules! conformance_tests {
    ($run:path) => {
        #[test]
        fn messages_both_ways() {
            $run("messages_both_ways", |rt| {
                $crate::conformance::each_scheme(rt, $crate::conformance::messages_both_ways)
            });
        }
        #[test]
        fn many_peers() {
            $run("many_peers", |rt| {
                $crate::conformance::each_scheme(rt, $crate::conformance::many_peers)
            });
        }
        #[test]
        fn peer_restart() {
            $run("peer_restart", |rt| {
                $crate::conformance::each_scheme(rt, $crate::conformance::peer_restart)
            });
        }
        #[test]
        fn shutdown_in_flight() {
            $run("shutdown_in_flight", |rt| {
                $crate::conformance::each_scheme(rt, $crate::conformance::shutdown_in_flight)
            });
        }
        #[test]
        fn garbage_peer() {
            $run("garbage_peer", |rt| {
                $crate::conformance::each_scheme(rt, $crate::conformance::garbage_peer)
            });
        }
        #[test]
        fn stalled_reader() {
            $run("stalled_reader", $crate::conformance::stalled_reader);
        }
    };
}

/// `fut`, or an error after `limit`.
pub async fn within<T>(
    runtime: &Arc<dyn Runtime>,
    limit: Duration,
    what: &str,
    fut: impl Future<Output = T>,
) -> Result<T, String> {
    let timer = runtime.sleep_until(Instant::now() + limit);
    futures_lite::future::or(async { Ok(fut.await) }, async {
        timer.await;
        Err(format!("{what}: nothing after {limit:?}"))
    })
    .await
}

/// A listen address of `scheme` unique to this process and call.
pub fn listen_address(scheme: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    match scheme {
        "tcp" => "tcp://127.0.0.1:0".into(),
        "udp" | "udp-plain" => "udp://127.0.0.1:0".into(),
        "unix" => format!(
            "unix://{}/atbus-{pid}-{n}.sock",
            std::env::temp_dir().display()
        ),
        "mem" => format!("mem://conformance-{pid}-{n}"),
        other => panic!("unknown scheme {other}"),
    }
}

/// Starts a bus called `name` listening on one address of `scheme` (or nowhere); a name that
/// ends in `udp-plain` runs UDP without offload.
pub async fn start(
    runtime: &Arc<dyn Runtime>,
    name: &str,
    scheme: Option<&str>,
) -> Result<Bus, String> {
    let mut config = BusConfig::new(name);
    config.node.seed = seed_of(name);
    config.listen = scheme.map(listen_address).into_iter().collect();
    config.udp_offload = !name.ends_with("udp-plain");
    Bus::start(runtime.clone(), config)
        .await
        .map_err(|e| format!("{name}: {e}"))
}

/// A seed per name and process run, so that a restarted node is a new instance.
fn seed_of(name: &str) -> u64 {
    static RUN: AtomicU64 = AtomicU64::new(1);
    let run = RUN.fetch_add(1, Ordering::Relaxed);
    name.bytes()
        .fold(run.wrapping_mul(0x9e37_79b9_7f4a_7c15), |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
}

/// The payload of message `i` of a case: its index, then a recognisable pattern.
/// The payload of message `i` of a case (its index, then a pattern), for adapters' own tests.
pub fn payload_for_tests(i: u32, size: usize) -> Bytes {
    payload(i, size)
}

pub(crate) fn payload(i: u32, size: usize) -> Bytes {
    let mut data = Vec::with_capacity(size.max(4));
    data.extend_from_slice(&i.to_le_bytes());
    while data.len() < size {
        data.push((data.len() as u32).wrapping_mul(31).wrapping_add(i) as u8);
    }
    data.truncate(size.max(4));
    Bytes::from(data)
}

/// Receives `count` messages on `bus` and checks that each stream's arrive in order, whole.
pub(crate) async fn receive_in_order(
    runtime: &Arc<dyn Runtime>,
    bus: &Bus,
    count: usize,
    sizes: &dyn Fn(u32) -> usize,
) -> Result<BTreeMap<(String, i64), u32>, String> {
    let mut next: BTreeMap<(String, i64), u32> = BTreeMap::new();
    for received in 0..count {
        let message = within(runtime, STEP, "receive", bus.recv())
            .await
            .map_err(|e| format!("{e} after {received} of {count} messages"))?
            .ok_or("the bus shut down")?;
        let i = u32::from_le_bytes(message.data[..4].try_into().map_err(|_| "short message")?);
        let expected = next
            .entry((message.from.clone(), message.stream))
            .or_insert(0);
        if i != *expected {
            return Err(format!(
                "from {} on stream {}: message {i} where {expected} was due",
                message.from, message.stream
            ));
        }
        if message.data != payload(i, sizes(i)) {
            return Err(format!("message {i} arrived modified"));
        }
        *expected += 1;
    }
    Ok(next)
}
