//! The conformance suite across Linux network namespaces: the listening nodes in one
//! namespace, the dialing ones in another, joined by a veth pair — two hosts in one process.
//!
//! Network namespaces are per thread: a socket belongs to the namespace of the thread that
//! created it, and keeps it whichever thread uses it later. So a [`NetnsRuntime`] wraps an
//! adapter's runtime and creates every socket (listen, connect, bind) on a thread of its own
//! that entered the namespace; everything else (tasks, timers, the sockets' IO) stays on the
//! adapter's runtime.
//!
//! Creating namespaces needs root and `ip` (iproute2): [`Link::create`] says why it cannot,
//! and the tests that `conformance_netns_tests!` declares then print `SKIP` and pass.

use std::fs::File;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use futures_lite::Stream;

use super::Placement;
use crate::Runtime;
use crate::runtime::{BoxFuture, DatagramSocket, StreamListener, StreamSocket};

/// Runs a command; its stdout, or an error with the command and what it printed (for tests
/// that drive `ip` and processes in the namespaces).
pub fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Two network namespaces, `a` and `b`, joined by a veth pair with `<subnet>.1` in `a` and
/// `<subnet>.2` in `b` (a /24), loopback up in both. Names are unique per process and call;
/// both namespaces are deleted on drop (which takes the veth pair with them).
#[derive(Debug)]
pub struct Link {
    a: String,
    b: String,
    device_a: String,
    subnet: String,
}

impl Link {
    /// Creates the namespaces and the link, or says why it cannot (not root, no `ip`, no
    /// namespaces): the caller skips with that reason.
    pub fn create() -> Result<Self, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let uid = run(&["id", "-u"]).map_err(|e| format!("cannot tell the user: {e}"))?;
        if uid.trim() != "0" {
            return Err(format!("needs root for ip netns (uid {})", uid.trim()));
        }
        let pid = std::process::id();
        // Interface names have at most 15 bytes: "va" + pid in hex (<= 6) + "x" + n + "a".
        let tag = format!("{pid:x}x{n}");
        // A subnet per link (each pair of namespaces has its own routes, so this is only
        // for telling them apart in captures and logs).
        let subnet = format!("10.231.{}", (pid.wrapping_mul(7).wrapping_add(n)) % 250 + 1);
        let mut link = Link {
            a: format!("atbus-{tag}-a"),
            b: format!("atbus-{tag}-b"),
            device_a: format!("va{tag}a"),
            subnet,
        };
        let device_b = format!("va{tag}b");
        // Dropped on any failure below: whatever was made is deleted.
        run(&["ip", "netns", "add", &link.a])
            .map_err(|e| format!("network namespaces unavailable: {e}"))?;
        if let Err(e) = run(&["ip", "netns", "add", &link.b]) {
            let _ = run(&["ip", "netns", "del", &link.a]);
            link.a.clear();
            return Err(format!("network namespaces unavailable: {e}"));
        }
        let device_a = link.device_a.clone();
        run(&[
            "ip", "link", "add", &device_a, "type", "veth", "peer", "name", &device_b,
        ])?;
        let moved = run(&["ip", "link", "set", &device_a, "netns", &link.a])
            .and_then(|_| run(&["ip", "link", "set", &device_b, "netns", &link.b]));
        if let Err(e) = moved {
            // Still in this namespace: deleting one end deletes the pair.
            let _ = run(&["ip", "link", "del", &device_a]);
            let _ = run(&["ip", "-n", &link.a, "link", "del", &device_a]);
            return Err(e);
        }
        for (ns, dev, host) in [(&link.a, &device_a, 1), (&link.b, &device_b, 2)] {
            let address = format!("{}.{host}/24", link.subnet);
            run(&["ip", "-n", ns, "addr", "add", &address, "dev", dev])?;
            run(&["ip", "-n", ns, "link", "set", dev, "up"])?;
            run(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(link)
    }

    /// The first namespace's name (under `/var/run/netns`).
    pub fn a(&self) -> &str {
        &self.a
    }

    /// The second namespace's name.
    pub fn b(&self) -> &str {
        &self.b
    }

    /// The veth device in `a`.
    pub fn device_a(&self) -> &str {
        &self.device_a
    }

    /// The address of `a` on the link (`<subnet>.1`).
    pub fn address_a(&self) -> IpAddr {
        self.address(1)
    }

    /// The address of `b` on the link (`<subnet>.2`).
    pub fn address_b(&self) -> IpAddr {
        self.address(2)
    }

    fn address(&self, host: u8) -> IpAddr {
        let ip: Ipv4Addr = format!("{}.{host}", self.subnet)
            .parse()
            .expect("the subnet is three octets");
        IpAddr::V4(ip)
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            if !ns.is_empty() {
                let _ = run(&["ip", "netns", "del", ns]);
            }
        }
    }
}

/// Run once at the start of a [`NetnsRuntime`]'s thread, around the thread's whole job loop
/// (the argument): for a runtime that needs its context on the thread that creates sockets,
/// e.g. tokio's `|run| { let _guard = handle.enter(); run() }`.
pub type ThreadHook = Box<dyn FnOnce(&mut dyn FnMut()) + Send>;

/// The hook of a runtime whose sockets need no context on the thread that creates them
/// (async-io's), for `conformance_netns_tests!`.
pub fn no_hook() -> Option<ThreadHook> {
    None
}

/// A socket operation to start on the namespace's thread.
type Job = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// A [`Runtime`] whose sockets are created inside a network namespace: `listen_tcp`,
/// `connect_tcp`, `bind_udp`, `listen_unix` and `connect_unix` start the inner runtime's
/// operation on a thread that entered the namespace and run it there to completion (several
/// at once); their sockets then work from any thread. `spawn`, `sleep_until` and `resolve`
/// are the inner runtime's.
pub struct NetnsRuntime {
    inner: Arc<dyn Runtime>,
    namespace: String,
    jobs: async_channel::Sender<Job>,
}

impl std::fmt::Debug for NetnsRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetnsRuntime")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl NetnsRuntime {
    /// Wraps `inner`, with a thread in the namespace `/var/run/netns/<namespace>` (made by
    /// `ip netns add`) that first runs `hook`, if any, around its job loop. The thread ends
    /// once this runtime is dropped and its last operation is done.
    pub fn new(
        inner: Arc<dyn Runtime>,
        namespace: &str,
        hook: Option<ThreadHook>,
    ) -> Result<Self, String> {
        let path = format!("/var/run/netns/{namespace}");
        let file = File::open(&path).map_err(|e| format!("network namespace {path}: {e}"))?;
        let (jobs, inbox) = async_channel::unbounded::<Job>();
        let (entered, entered_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let name = namespace.to_owned();
        std::thread::Builder::new()
            .name(format!("netns-{namespace}"))
            .spawn(move || {
                let moved = rustix::thread::move_into_link_name_space(
                    std::os::fd::AsFd::as_fd(&file),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                );
                drop(file);
                if let Err(e) = moved {
                    let _ = entered.send(Err(format!("entering network namespace {name}: {e}")));
                    return;
                }
                let _ = entered.send(Ok(()));
                let mut inbox = Some(inbox);
                let mut job_loop = move || {
                    if let Some(inbox) = inbox.take() {
                        futures_lite::future::block_on(Jobs {
                            inbox: Box::pin(inbox),
                            open: true,
                            running: Vec::new(),
                        });
                    }
                };
                match hook {
                    Some(hook) => hook(&mut job_loop),
                    None => job_loop(),
                }
            })
            .map_err(|e| format!("a thread for network namespace {namespace}: {e}"))?;
        entered_rx
            .recv()
            .map_err(|_| format!("the thread for network namespace {namespace} died"))??;
        Ok(Self {
            inner,
            namespace: namespace.to_owned(),
            jobs,
        })
    }

    /// The namespace's name.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Runs `op(inner)` on the namespace's thread; its result comes back here.
    fn inside<T, F>(&self, op: F) -> BoxFuture<'static, io::Result<T>>
    where
        T: Send + 'static,
        F: FnOnce(&Arc<dyn Runtime>) -> BoxFuture<'static, io::Result<T>> + Send + 'static,
    {
        let (result, result_rx) = async_channel::bounded(1);
        let inner = self.inner.clone();
        let job: Job = Box::new(move || {
            // Called on the namespace's thread: the operation's socket is created there.
            let operation = op(&inner);
            Box::pin(async move {
                let _ = result.send(operation.await).await;
            })
        });
        let sent = self.jobs.try_send(job);
        let namespace = self.namespace.clone();
        Box::pin(async move {
            let gone =
                || io::Error::other(format!("network namespace {namespace}: its thread ended"));
            sent.map_err(|_| gone())?;
            result_rx.recv().await.map_err(|_| gone())?
        })
    }
}

impl Runtime for NetnsRuntime {
    fn spawn(&self, task: BoxFuture<'static, ()>) {
        self.inner.spawn(task);
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        self.inner.sleep_until(deadline)
    }

    fn resolve(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<SocketAddr>> {
        self.inner.resolve(host, port)
    }

    fn connect_tcp(&self, to: SocketAddr) -> BoxFuture<'static, io::Result<StreamSocket>> {
        self.inside(move |inner| inner.connect_tcp(to))
    }

    fn listen_tcp(
        &self,
        at: SocketAddr,
    ) -> BoxFuture<'static, io::Result<(Box<dyn StreamListener>, SocketAddr)>> {
        self.inside(move |inner| inner.listen_tcp(at))
    }

    fn connect_unix(&self, path: String) -> BoxFuture<'static, io::Result<StreamSocket>> {
        self.inside(move |inner| inner.connect_unix(path))
    }

    fn listen_unix(&self, path: String) -> BoxFuture<'static, io::Result<Box<dyn StreamListener>>> {
        self.inside(move |inner| inner.listen_unix(path))
    }

    fn bind_udp(&self, at: SocketAddr) -> BoxFuture<'static, io::Result<Arc<dyn DatagramSocket>>> {
        self.inside(move |inner| inner.bind_udp(at))
    }
}

/// The namespace thread's job loop: takes jobs from `inbox`, starts each (on this thread) and
/// polls all that run until each is done; ends when the inbox is closed and nothing runs.
struct Jobs {
    inbox: Pin<Box<async_channel::Receiver<Job>>>,
    open: bool,
    running: Vec<BoxFuture<'static, ()>>,
}

impl Future for Jobs {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        while this.open {
            match this.inbox.as_mut().poll_next(cx) {
                Poll::Ready(Some(job)) => this.running.push(job()),
                Poll::Ready(None) => this.open = false,
                Poll::Pending => break,
            }
        }
        this.running
            .retain_mut(|job| job.as_mut().poll(cx).is_pending());
        if this.open || !this.running.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

/// The placement of the netns suite: the server side in `link`'s namespace `a`, listening on
/// its veth address; the client side in `b`. `hook` makes each namespace thread's hook.
pub fn across(
    link: &Link,
    runtime: Arc<dyn Runtime>,
    hook: impl Fn() -> Option<ThreadHook>,
) -> Result<Placement, String> {
    let server = NetnsRuntime::new(runtime.clone(), link.a(), hook())?;
    let client = NetnsRuntime::new(runtime, link.b(), hook())?;
    Ok(Placement {
        server: Arc::new(server),
        client: Arc::new(client),
        host: link.address_a(),
        label: format!(
            "servers in network namespace {} at {}, clients in {}",
            link.a(),
            link.address_a(),
            link.b()
        ),
    })
}

/// Declares, like `conformance_tests!`, one `#[test]` per conformance case, each run across
/// two network namespaces joined by a veth pair ([`Link`], [`across`]): every listening node
/// in one, every dialing node in the other, over every scheme. `$run` is the same function
/// as for `conformance_tests!`; `$hook` is a `Fn() -> Option<ThreadHook>` called inside the
/// adapter's runtime for each namespace thread. Where namespaces cannot be made (not root,
/// no `ip`), each test prints `SKIP <case>: <reason>` and passes.
#[macro_export]
macro_rules! conformance_netns_tests {
    ($run:path, $hook:expr) => {
        $crate::conformance_tests!(@cases $run, |name, rt, case| async move {
            let link = match $crate::conformance::netns::Link::create() {
                Ok(link) => link,
                Err(reason) => {
                    eprintln!("SKIP {name}: {reason}");
                    return Ok(());
                }
            };
            let placement = $crate::conformance::netns::across(&link, rt, $hook)?;
            case(placement).await
        });
    };
}
