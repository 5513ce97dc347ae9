//! Two real nodes over UDP through the project's lossy proxy (atbus-netem): loss, bursts,
//! duplication, reordering and delay on real sockets, and every message still arrives once,
//! in order, whole.

use std::sync::Arc;
use std::time::Duration;

use atbus_core::discovery::{Gateway, GatewayMatch};
use atbus_driver::Runtime;
use atbus_driver::conformance::{Placement, payload_for_tests as payload, start};
use atbus_netem::{BurstLoss, Impairments, Proxy, ProxyConfig};
use atbus_tokio::TokioRuntime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_through_a_lossy_udp_proxy() {
    let runtime: Arc<dyn Runtime> = Arc::new(TokioRuntime::current());
    let placement = Placement::local(runtime);
    let server = start(&placement, "server-1", Some("udp")).await.unwrap();
    let client = start(&placement, "client-1", None).await.unwrap();
    let upstream = match &server.local_addresses()[0] {
        atbus_core::discovery::GatewayAddress::Udp { host, port } => {
            format!("{host}:{port}").parse().unwrap()
        }
        other => panic!("not udp: {other}"),
    };
    let impairments = Impairments {
        loss: 0.03,
        burst_loss: Some(BurstLoss {
            p: 0.01,
            r: 0.3,
            loss_in_bad: 0.5,
        }),
        delay: Duration::from_millis(5),
        jitter: Duration::from_millis(3),
        duplicate: 0.02,
        reorder: 0.05,
        reorder_delay: Duration::from_millis(10),
        ..Impairments::default()
    };
    let proxy = Proxy::spawn(
        ProxyConfig::new("127.0.0.1:0".parse().unwrap(), upstream)
            .with_impairments(impairments)
            .with_seed(7),
    )
    .await
    .unwrap();
    let mut record = server.record();
    record.gateways = vec![Gateway {
        priority: 0,
        addresses: vec![format!("udp://{}", proxy.local_addr())],
        r#match: GatewayMatch::default(),
    }];
    client.put_record(record).await.unwrap();

    let count = 3_000u32;
    let sizes = |i: u32| if i % 100 == 42 { 20_000 } else { 300 };
    let sender = {
        let client = client.clone();
        async move {
            for i in 0..count {
                client
                    .send("server-1", 1, payload(i, sizes(i)))
                    .await
                    .unwrap();
            }
        }
    };
    let receiver = async {
        for i in 0..count {
            let message = tokio::time::timeout(Duration::from_secs(60), server.recv())
                .await
                .unwrap_or_else(|_| panic!("message {i} never came"))
                .expect("server up");
            assert_eq!(message.data, payload(i, sizes(i)), "message {i}");
        }
    };
    tokio::join!(sender, receiver);
    let stats = proxy.stats();
    let c2s = &stats.client_to_server;
    eprintln!(
        "through the proxy: {} datagrams in, {} lost, {} duplicated, {} reordered",
        c2s.packets_in, c2s.lost, c2s.duplicated, c2s.reordered
    );
    assert!(
        c2s.lost > 0 && c2s.duplicated > 0 && c2s.reordered > 0,
        "{stats:?}"
    );
    let report = client.shutdown(Duration::from_secs(10)).await;
    assert!(report.is_clean(), "{report:?}");
    server.shutdown(Duration::ZERO).await;
    proxy.shutdown().await;
}
