//! The adapter conformance suite (`atbus_driver::conformance`) under tokio, over real loopback
//! sockets: TCP, UDP, Unix and in-process links; then again (`netns::`) across two network
//! namespaces joined by a veth pair: every listening node in one, every dialing node in the
//! other. Those need root and `ip netns`; each says `SKIP` and passes where they are
//! unavailable.

use std::future::Future;
use std::sync::Arc;

use atbus_driver::Runtime;
use atbus_tokio::TokioRuntime;

/// Runs one case on a multi-thread tokio runtime with two workers (which also drive the IO
/// driver while a namespace thread waits on a connect).
fn run<F, Fut>(name: &str, case: F)
where
    F: FnOnce(Arc<dyn Runtime>) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let runtime: Arc<dyn Runtime> = Arc::new(TokioRuntime::new(tokio.handle().clone()));
    if let Err(error) = tokio.block_on(case(runtime)) {
        panic!("{name}: {error}");
    }
}

atbus_driver::conformance_tests!(run);

#[cfg(target_os = "linux")]
mod netns {
    use atbus_driver::conformance::netns::ThreadHook;

    /// tokio creates sockets only inside its runtime's context: each namespace thread enters
    /// it.
    fn enter_tokio() -> Option<ThreadHook> {
        let handle = tokio::runtime::Handle::current();
        Some(Box::new(move |job_loop: &mut dyn FnMut()| {
            let _context = handle.enter();
            job_loop();
        }))
    }

    atbus_driver::conformance_netns_tests!(super::run, enter_tokio);
}
