//! The adapter conformance suite (`atbus_driver::conformance`) under smol, over real
//! loopback sockets: TCP, UDP, Unix and in-process links.

use std::future::Future;
use std::sync::Arc;

use atbus_async_std::AsyncIoRuntime;
use atbus_driver::Runtime;

/// Runs one case on smol's executor.
fn run<F, Fut>(name: &str, case: F)
where
    F: FnOnce(Arc<dyn Runtime>) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let runtime: Arc<dyn Runtime> = Arc::new(AsyncIoRuntime::smol());
    if let Err(error) = smol::block_on(case(runtime)) {
        panic!("{name}: {error}");
    }
}

atbus_driver::conformance_tests!(run);

/// The same cases across two network namespaces joined by a veth pair (every listening node in
/// one, every dialing node in the other); they say `SKIP` and pass without root or `ip netns`.
#[cfg(target_os = "linux")]
mod netns {
    // async-io's sockets need no context on the thread that creates them.
    atbus_driver::conformance_netns_tests!(super::run, atbus_driver::conformance::netns::no_hook);
}
