//! B4's UDP baseline: the `quinn` crate on loopback, one unidirectional stream carrying the
//! same length-prefixed messages as atbus, with atbus's stream windows.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use super::{Counters, Running, stop_tasks};

/// Stream windows of the quinn baseline: atbus's defaults (as in B3).
const QUINN_WINDOW: u64 = 16 * 1024 * 1024;

/// The quinn side's TLS: a self-signed Ed25519 certificate for "atbus-b4", trusted by the client.
fn quinn_configs() -> Result<(quinn::ServerConfig, quinn::ClientConfig), String> {
    use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
    use quinn::rustls::{
        self, RootCertStore,
        pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    };
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(|e| e.to_string())?;
    let cert = rcgen::CertificateParams::new(vec!["atbus-b4".to_owned()])
        .and_then(|params| params.self_signed(&key))
        .map_err(|e| e.to_string())?;
    let cert: CertificateDer<'static> = cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .map_err(|e| e.to_string())?;
    server.max_early_data_size = u32::MAX;
    let mut roots = RootCertStore::empty();
    roots.add(cert).map_err(|e| e.to_string())?;
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();

    let mut transport = quinn::TransportConfig::default();
    transport
        .stream_receive_window(quinn::VarInt::from_u64(QUINN_WINDOW).map_err(|e| e.to_string())?)
        .send_window(QUINN_WINDOW);
    let transport = Arc::new(transport);
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(
        QuicServerConfig::try_from(server).map_err(|e| e.to_string())?,
    ));
    server.transport_config(transport.clone());
    let mut client = quinn::ClientConfig::new(Arc::new(
        QuicClientConfig::try_from(client).map_err(|e| e.to_string())?,
    ));
    client.transport_config(transport);
    Ok((server, client))
}

/// Counts whole length-prefixed messages in a byte stream that arrives in chunks.
#[derive(Default)]
struct Deframer {
    header: [u8; 4],
    header_len: usize,
    /// The length of the message being read, and how much of it is still to come.
    body: usize,
    body_left: usize,
}

impl Deframer {
    /// Messages completed in `data`, and their payload bytes.
    fn push(&mut self, mut data: &[u8]) -> (u64, u64) {
        let (mut msgs, mut bytes) = (0, 0);
        while !data.is_empty() {
            if self.body_left > 0 {
                let take = self.body_left.min(data.len());
                self.body_left -= take;
                data = &data[take..];
                if self.body_left == 0 {
                    msgs += 1;
                    bytes += self.body as u64;
                }
                continue;
            }
            let take = (4 - self.header_len).min(data.len());
            self.header[self.header_len..self.header_len + take].copy_from_slice(&data[..take]);
            self.header_len += take;
            data = &data[take..];
            if self.header_len == 4 {
                self.header_len = 0;
                self.body = u32::from_le_bytes(self.header) as usize;
                self.body_left = self.body;
                if self.body == 0 {
                    msgs += 1;
                }
            }
        }
        (msgs, bytes)
    }
}

/// Two quinn endpoints on loopback: the client opens one unidirectional stream and writes
/// length-prefixed `payload`s until stopped; the server reads chunks and counts messages.
pub(crate) async fn start_quinn(payload: Bytes) -> Result<Running, String> {
    let (server_config, client_config) = quinn_configs()?;
    let any: SocketAddr = "127.0.0.1:0".parse().map_err(|_| "address")?;
    let server = quinn::Endpoint::server(server_config, any).map_err(|e| e.to_string())?;
    let at = server.local_addr().map_err(|e| e.to_string())?;
    let mut client = quinn::Endpoint::client(any).map_err(|e| e.to_string())?;
    client.set_default_client_config(client_config);
    let connecting = client.connect(at, "atbus-b4").map_err(|e| e.to_string())?;
    // The server's handshake goes on only once its `Incoming` is awaited.
    let accepting = async {
        let incoming = server
            .accept()
            .await
            .ok_or("the quinn server endpoint closed")?;
        incoming.await.map_err(|e| format!("quinn accept: {e}"))
    };
    let (connection, accepted) = tokio::join!(connecting, accepting);
    let connection = connection.map_err(|e| format!("quinn connect: {e}"))?;
    let accepted = accepted?;

    let counters = Arc::new(Counters::default());
    let receiving = {
        let counters = counters.clone();
        tokio::spawn(async move {
            let mut stream = match accepted.accept_uni().await {
                Ok(stream) => stream,
                Err(error) => {
                    counters.error(format!("quinn accept_uni: {error}"));
                    return;
                }
            };
            let mut deframer = Deframer::default();
            loop {
                match stream.read_chunk(usize::MAX, true).await {
                    Ok(Some(chunk)) => {
                        let (msgs, bytes) = deframer.push(&chunk.bytes);
                        counters.count(msgs, bytes);
                    }
                    Ok(None) => return,
                    Err(error) => {
                        if !counters.stopping() {
                            counters.error(format!("quinn read: {error}"));
                        }
                        return;
                    }
                }
            }
        })
    };
    let sending = {
        let counters = counters.clone();
        let connection = connection.clone();
        tokio::spawn(async move {
            let written = async {
                let mut stream = connection.open_uni().await?;
                let prefix = Bytes::copy_from_slice(&(payload.len() as u32).to_le_bytes());
                while !counters.stopping() {
                    stream
                        .write_all_chunks(&mut [prefix.clone(), payload.clone()])
                        .await?;
                }
                stream.finish()?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            }
            .await;
            if let Err(error) = written {
                counters.error(format!("quinn write: {error}"));
            }
        })
    };
    let stop = {
        let counters = counters.clone();
        Box::pin(async move {
            stop_tasks(&counters, "quinn", sending, receiving).await?;
            connection.close(0u32.into(), b"done");
            client.wait_idle().await;
            server.close(0u32.into(), b"done");
            Ok(())
        }) as Pin<Box<dyn Future<Output = Result<(), String>> + Send>>
    };
    Ok(Running { counters, stop })
}
