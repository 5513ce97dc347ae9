//! Binding the listen addresses, and the accept loops of byte-stream listeners.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use atbus_core::discovery::{GatewayAddress, Host};

use crate::bus::StartError;
use crate::input::Input;
use crate::memory::MemoryListener;
use crate::runtime::{DatagramSocket, Runtime, StreamListener};

/// What the listeners leave the run loop: their addresses as bound, and their accept loops
/// (which stop when this is dropped).
pub(crate) struct Listening {
    /// Every listen address, with the port each got.
    pub addresses: Vec<GatewayAddress>,
    _stops: Vec<async_channel::Sender<()>>,
}

fn host_of(ip: IpAddr) -> Host {
    match ip {
        IpAddr::V4(v4) => Host::Ipv4(v4),
        IpAddr::V6(v6) => Host::Ipv6(v6),
    }
}

/// Binds every address of `listen`; UDP sockets are returned for the run loop to serve.
pub(crate) async fn bind_all(
    runtime: &Arc<dyn Runtime>,
    listen: &[String],
    inputs: async_channel::Sender<Input>,
) -> Result<(Listening, Vec<Arc<dyn DatagramSocket>>), StartError> {
    let mut listening = Listening {
        addresses: Vec::new(),
        _stops: Vec::new(),
    };
    let mut udp = Vec::new();
    for text in listen {
        // Port 0 (pick one) is fine to listen on, though no record may advertise it.
        let (parsed, any_port) = match text.strip_suffix(":0") {
            Some(head) if text.starts_with("tcp://") || text.starts_with("udp://") => {
                (GatewayAddress::parse(&format!("{head}:1")), true)
            }
            _ => (GatewayAddress::parse(text), false),
        };
        let mut address = parsed.map_err(|source| StartError::Address {
            address: text.clone(),
            source,
        })?;
        if any_port
            && let GatewayAddress::Tcp { port, .. } | GatewayAddress::Udp { port, .. } =
                &mut address
        {
            *port = 0;
        }
        let failed = |source: std::io::Error| StartError::Listen {
            address: text.clone(),
            source,
        };
        let (listener, bound): (Box<dyn StreamListener>, GatewayAddress) = match &address {
            GatewayAddress::Tcp { host, port } => {
                let at = runtime
                    .resolve(host.to_string(), *port)
                    .await
                    .map_err(failed)?;
                let (listener, at) = runtime.listen_tcp(at).await.map_err(failed)?;
                let bound = GatewayAddress::Tcp {
                    host: host_of(at.ip()),
                    port: at.port(),
                };
                (listener, bound)
            }
            GatewayAddress::Udp { host, port } => {
                let at = runtime
                    .resolve(host.to_string(), *port)
                    .await
                    .map_err(failed)?;
                let socket = runtime.bind_udp(at).await.map_err(failed)?;
                let at: SocketAddr = socket.local_addr().map_err(failed)?;
                listening.addresses.push(GatewayAddress::Udp {
                    host: host_of(at.ip()),
                    port: at.port(),
                });
                udp.push(socket);
                continue;
            }
            GatewayAddress::Unix(path) => (
                runtime.listen_unix(path.clone()).await.map_err(failed)?,
                address.clone(),
            ),
            GatewayAddress::Memory(name) => (
                Box::new(MemoryListener::bind(name).map_err(failed)?),
                address.clone(),
            ),
            GatewayAddress::Unknown { .. } => return Err(StartError::Unsupported(text.clone())),
        };
        listening.addresses.push(bound);
        let (stop, stopped) = async_channel::bounded::<()>(1);
        listening._stops.push(stop);
        spawn_accept_loop(runtime, listener, stopped, inputs.clone());
    }
    Ok((listening, udp))
}

/// Accepts connections until `stopped` closes, handing each to the run loop.
fn spawn_accept_loop(
    runtime: &Arc<dyn Runtime>,
    mut listener: Box<dyn StreamListener>,
    stopped: async_channel::Receiver<()>,
    inputs: async_channel::Sender<Input>,
) {
    let timer = runtime.clone();
    runtime.spawn(Box::pin(async move {
        loop {
            let accepted =
                futures_lite::future::or(async { Some(listener.accept().await) }, async {
                    let _ = stopped.recv().await;
                    None
                })
                .await;
            match accepted {
                None => return,
                Some(Ok(socket)) => {
                    if inputs.send(Input::Accepted(socket)).await.is_err() {
                        return;
                    }
                }
                Some(Err(error)) => {
                    // Out of descriptors and the like: back off rather than spin.
                    tracing::warn!(%error, "accept failed");
                    timer
                        .sleep_until(Instant::now() + Duration::from_millis(50))
                        .await;
                }
            }
        }
    }));
}
