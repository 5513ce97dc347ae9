//! The adapter conformance suite (`atbus_driver::conformance`) under async-std and smol
//! across two network namespaces joined by a veth pair: every listening node in one, every
//! dialing node in the other, over TCP, UDP, Unix and in-process links. Needs root and
//! `ip netns`; each test says `SKIP` and passes where they are unavailable.
#![cfg(target_os = "linux")]

use std::future::Future;
use std::sync::Arc;

use atbus_async_std::AsyncIoRuntime;
use atbus_driver::Runtime;

/// async-io's sockets need no context on the thread that creates them.
fn no_hook() -> Option<atbus_driver::conformance::netns::ThreadHook> {
    None
}

/// The cases on async-std's executor.
mod async_std_executor {
    use super::*;

    fn run<F, Fut>(name: &str, case: F)
    where
        F: FnOnce(Arc<dyn Runtime>) -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let runtime: Arc<dyn Runtime> = Arc::new(AsyncIoRuntime::async_std());
        if let Err(error) = async_std::task::block_on(case(runtime)) {
            panic!("{name} (async-std): {error}");
        }
    }

    atbus_driver::conformance_netns_tests!(run, no_hook);
}

/// The cases on smol's executor.
mod smol_executor {
    use super::*;

    fn run<F, Fut>(name: &str, case: F)
    where
        F: FnOnce(Arc<dyn Runtime>) -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let runtime: Arc<dyn Runtime> = Arc::new(AsyncIoRuntime::smol());
        if let Err(error) = smol::block_on(case(runtime)) {
            panic!("{name} (smol): {error}");
        }
    }

    atbus_driver::conformance_netns_tests!(run, no_hook);
}
