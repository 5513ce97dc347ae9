//! The adapter conformance suite (`atbus_driver::conformance`) under smol, over real
//! loopback sockets: TCP, UDP, Unix and in-process links.

use std::sync::Arc;

use atbus_async_std::AsyncIoRuntime;
use atbus_driver::Runtime;
use atbus_driver::conformance::{self, SCHEMES};

fn runtime() -> Arc<dyn Runtime> {
    Arc::new(AsyncIoRuntime::smol())
}

macro_rules! per_scheme {
    ($name:ident, $case:path) => {
        #[test]
        fn $name() {
            smol::block_on(async {
                for scheme in SCHEMES {
                    if let Err(error) = $case(runtime(), scheme).await {
                        panic!("{} over {scheme}: {error}", stringify!($case));
                    }
                }
            });
        }
    };
}

per_scheme!(messages_both_ways, conformance::messages_both_ways);
per_scheme!(many_peers, conformance::many_peers);
per_scheme!(peer_restart, conformance::peer_restart);
per_scheme!(shutdown_in_flight, conformance::shutdown_in_flight);
per_scheme!(garbage_peer, conformance::garbage_peer);

#[test]
fn stalled_reader() {
    smol::block_on(async {
        if let Err(error) = conformance::stalled_reader(runtime()).await {
            panic!("stalled_reader: {error}");
        }
    });
}
