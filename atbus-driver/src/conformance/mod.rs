//! The adapter conformance suite: the same cases, over real sockets, for every runtime. An
//! adapter's tests call each case inside their runtime with a [`Placement`] of its
//! [`Runtime`]: on loopback ([`Placement::local`]), or with the listening nodes in one network
//! namespace and the dialing ones in another ([`netns`], Linux). A case returns `Err` with
//! what went wrong.
//!
//! Enabled by the `conformance` feature (adapters turn it on for their tests only).

mod cases;
mod hostile;
#[cfg(target_os = "linux")]
pub mod netns;

pub use cases::{many_peers, messages_both_ways, peer_restart, shutdown_in_flight};
pub use hostile::{garbage_peer, idle_consumer, stalled_reader};

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
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

/// Where a case's nodes live: the listening ("server side") nodes on `server`, listening on
/// `host`; the dialing ("client side") nodes, and the raw sockets and proxies that stand in
/// for clients, on `client`.
#[derive(Clone)]
pub struct Placement {
    /// The runtime of the nodes that listen.
    pub server: Arc<dyn Runtime>,
    /// The runtime of the nodes and sockets that dial.
    pub client: Arc<dyn Runtime>,
    /// The address the server side listens on (tcp and udp).
    pub host: IpAddr,
    /// Where this is, for error messages ("loopback", or the namespaces).
    pub label: String,
}

impl Placement {
    /// Everything on `runtime`, over loopback (127.0.0.1).
    pub fn local(runtime: Arc<dyn Runtime>) -> Self {
        Self {
            server: runtime.clone(),
            client: runtime,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            label: "loopback".into(),
        }
    }

    /// The address a client-side datagram socket binds to: loopback on loopback, else any
    /// address of the server's family (the route picks the link).
    pub(crate) fn client_udp_bind(&self) -> SocketAddr {
        let ip = match self.host {
            host if host.is_loopback() => host,
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        SocketAddr::new(ip, 0)
    }
}

impl std::fmt::Debug for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Placement")
            .field("host", &self.host)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// Runs `case` over every scheme of [`SCHEMES`], in turn, placed by `placement`; the error
/// names the scheme and the placement.
pub async fn each_scheme<F, Fut>(placement: Placement, case: F) -> Result<(), String>
where
    F: Fn(Placement, &'static str) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    for scheme in SCHEMES {
        case(placement.clone(), scheme)
            .await
            .map_err(|e| format!("over {scheme} ({}): {e}", placement.label))?;
    }
    Ok(())
}

/// Declares one `#[test]` per conformance case, so that every adapter runs every case.
/// `$run` is the adapter's `fn(name: &str, case)`: it runs the future
/// `case(runtime)` to completion on its runtime and panics, naming the case, on an error.
/// Every case runs over loopback, on [`Placement::local`]; `conformance_netns_tests!` declares
/// the same cases across network namespaces.
#[macro_export]
macro_rules! conformance_tests {
    ($run:path) => {
        $crate::conformance_tests!(@cases $run, |_name, rt, case| async move {
            case($crate::conformance::Placement::local(rt)).await
        });
    };
    // One test per case. In `$body`, an expression run inside the adapter's runtime, `$name`
    // is the case's name, `$rt` the adapter's runtime, and `$case` a function from a
    // `Placement` to the case's future.
    (@cases $run:path, |$name:ident, $rt:ident, $case:ident| $body:expr) => {
        #[test]
        fn messages_both_ways() {
            $run("messages_both_ways", |$rt| {
                let $name = "messages_both_ways";
                let $case = |p| {
                    $crate::conformance::each_scheme(p, $crate::conformance::messages_both_ways)
                };
                $body
            });
        }
        #[test]
        fn many_peers() {
            $run("many_peers", |$rt| {
                let $name = "many_peers";
                let $case =
                    |p| $crate::conformance::each_scheme(p, $crate::conformance::many_peers);
                $body
            });
        }
        #[test]
        fn peer_restart() {
            $run("peer_restart", |$rt| {
                let $name = "peer_restart";
                let $case =
                    |p| $crate::conformance::each_scheme(p, $crate::conformance::peer_restart);
                $body
            });
        }
        #[test]
        fn shutdown_in_flight() {
            $run("shutdown_in_flight", |$rt| {
                let $name = "shutdown_in_flight";
                let $case = |p| {
                    $crate::conformance::each_scheme(p, $crate::conformance::shutdown_in_flight)
                };
                $body
            });
        }
        #[test]
        fn garbage_peer() {
            $run("garbage_peer", |$rt| {
                let $name = "garbage_peer";
                let $case =
                    |p| $crate::conformance::each_scheme(p, $crate::conformance::garbage_peer);
                $body
            });
        }
        #[test]
        fn idle_consumer() {
            $run("idle_consumer", |$rt| {
                let $name = "idle_consumer";
                let $case =
                    |p| $crate::conformance::each_scheme(p, $crate::conformance::idle_consumer);
                $body
            });
        }
        #[test]
        fn stalled_reader() {
            $run("stalled_reader", |$rt| {
                let $name = "stalled_reader";
                let $case = $crate::conformance::stalled_reader;
                $body
            });
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

/// A listen address of `scheme` unique to this process and call; tcp and udp on `host`.
pub fn listen_address(scheme: &str, host: IpAddr) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    match scheme {
        "tcp" => format!("tcp://{}", SocketAddr::new(host, 0)),
        "udp" | "udp-plain" => format!("udp://{}", SocketAddr::new(host, 0)),
        "unix" => format!(
            "unix://{}/atbus-{pid}-{n}.sock",
            std::env::temp_dir().display()
        ),
        "mem" => format!("mem://conformance-{pid}-{n}"),
        other => panic!("unknown scheme {other}"),
    }
}

/// Starts a bus called `name` listening on one address of `scheme` on the server side of
/// `placement`, or, with no scheme, a bus that listens nowhere on its client side. A name
/// that ends in `udp-plain` runs UDP without offload.
pub async fn start(placement: &Placement, name: &str, scheme: Option<&str>) -> Result<Bus, String> {
    start_with(placement, name, scheme, |_| {}).await
}

/// [`start`], with `configure` applied to the bus's settings last.
pub async fn start_with(
    placement: &Placement,
    name: &str,
    scheme: Option<&str>,
    configure: impl FnOnce(&mut BusConfig),
) -> Result<Bus, String> {
    let mut config = BusConfig::new(name);
    config.node.seed = seed_of(name);
    config.listen = scheme
        .map(|scheme| listen_address(scheme, placement.host))
        .into_iter()
        .collect();
    config.udp_offload = !name.ends_with("udp-plain");
    configure(&mut config);
    let runtime = match scheme {
        Some(_) => &placement.server,
        None => &placement.client,
    };
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
