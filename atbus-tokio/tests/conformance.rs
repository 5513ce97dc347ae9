//! The adapter conformance suite (`atbus_driver::conformance`) under tokio, over real loopback
//! sockets: TCP, UDP, Unix and in-process links.

use std::future::Future;
use std::sync::Arc;

use atbus_driver::Runtime;
use atbus_tokio::TokioRuntime;

/// Runs one case on a multi-thread tokio runtime with two workers.
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
