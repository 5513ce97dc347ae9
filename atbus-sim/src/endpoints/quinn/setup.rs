//! How quinn-proto is configured for the simulator: transport settings, the test certificate,
//! and the endpoint, server and client configurations.
//!
//! quinn-proto's own generator — the one behind its protocol decisions (packet-number skips,
//! greasing, the generators of its connections) — is seeded from the scenario seed and the node
//! (`EndpointConfig::rng_seed`). What stays random comes from the operating system: inside rustls
//! and *ring* (TLS key shares, client random, session tickets, the certificate's key) and
//! quinn-proto's connection ids, reset key and token key. It changes the bytes of packets but
//! never their sizes — the certificate key is Ed25519, whose signatures have one size, and every
//! other random field has a fixed length — so a seed gives the same run (the same sizes, times,
//! losses and deliveries), while the simulator's trace hash, which also folds in the bytes,
//! differs from run to run.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use quinn_proto::congestion::{BbrConfig, CubicConfig};
use quinn_proto::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn_proto::rustls::{
    self, RootCertStore,
    pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
};
use quinn_proto::{
    ClientConfig, EndpointConfig, MtuDiscoveryConfig, ServerConfig, TimeSource, TransportConfig,
    VarInt,
};

use crate::rng::SimRng;

/// The name the test certificate is issued for and the client asks for.
pub const SERVER_NAME: &str = "atbus-sim";

/// quinn-proto's congestion controllers that the simulator can select.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuinnCongestion {
    /// CUBIC, quinn-proto's default.
    Cubic,
    /// quinn-proto's BBR (v1, marked experimental by quinn).
    Bbr,
}

impl QuinnCongestion {
    /// Both controllers, default first.
    pub const ALL: [QuinnCongestion; 2] = [QuinnCongestion::Cubic, QuinnCongestion::Bbr];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            QuinnCongestion::Cubic => "cubic",
            QuinnCongestion::Bbr => "bbr",
        }
    }
}

/// Settings of a [`QuinnEndpoint`](super::QuinnEndpoint).
#[derive(Debug, Clone, PartialEq)]
pub struct QuinnConfig {
    /// The scenario's seed; quinn's random generators are derived from it and the node.
    pub seed: u64,
    /// The congestion controller.
    pub congestion: QuinnCongestion,
    /// The link's MTU (largest UDP payload): quinn's initial MTU, the largest it accepts, and the
    /// upper bound of its path-MTU discovery. Black-hole detection falls back to 1,200.
    pub mtu: u16,
    /// Receive window of each stream (flow control credit given to the peer per stream).
    pub stream_receive_window: u64,
    /// Bytes quinn buffers for sending, acknowledged or not, across the connection.
    pub send_window: u64,
    /// Bytes of framed messages the endpoint holds per stream before quinn takes them (before the
    /// handshake completes, or while quinn's send window is full). Beyond it `send_message` says
    /// `Full`.
    pub staging_limit: u64,
    /// Most unidirectional streams the peer may open.
    pub max_streams: u32,
    /// The congestion controller's initial window in bytes; `None` keeps quinn's default
    /// (CUBIC: 14,720 bytes; BBR: 200 × 1,200 bytes).
    pub initial_window: Option<u64>,
}

impl QuinnConfig {
    /// The settings used for B3: windows equal to atbus's defaults (16 MiB per stream for
    /// receiving, 16 MiB for sending; the connection-wide receive window stays at quinn's default,
    /// unlimited, as atbus has none), MTU 1,472 (the presets' link MTU).
    pub fn new(seed: u64, congestion: QuinnCongestion) -> Self {
        Self {
            seed,
            congestion,
            mtu: crate::presets::ETHERNET_UDP_MTU as u16,
            stream_receive_window: 16 * 1024 * 1024,
            send_window: 16 * 1024 * 1024,
            staging_limit: 1024 * 1024,
            max_streams: 1_024,
            initial_window: None,
        }
    }

    /// The transport settings for both sides of a connection.
    pub fn transport(&self) -> TransportConfig {
        let mut transport = TransportConfig::default();
        transport
            .stream_receive_window(
                VarInt::from_u64(self.stream_receive_window).unwrap_or(VarInt::MAX),
            )
            .send_window(self.send_window)
            .max_concurrent_uni_streams(VarInt::from_u32(self.max_streams))
            .initial_mtu(self.mtu)
            // One datagram per transmit: the simulator carries datagrams, not GSO batches.
            .enable_segmentation_offload(false);
        let mut mtud = MtuDiscoveryConfig::default();
        mtud.upper_bound(self.mtu);
        transport.mtu_discovery_config(Some(mtud));
        match self.congestion {
            QuinnCongestion::Cubic => {
                let mut cubic = CubicConfig::default();
                if let Some(window) = self.initial_window {
                    cubic.initial_window(window);
                }
                transport.congestion_controller_factory(Arc::new(cubic))
            }
            QuinnCongestion::Bbr => {
                let mut bbr = BbrConfig::default();
                if let Some(window) = self.initial_window {
                    bbr.initial_window(window);
                }
                transport.congestion_controller_factory(Arc::new(bbr))
            }
        };
        transport
    }

    /// The endpoint settings of `node`: seeded generators, largest UDP payload = the MTU.
    pub fn endpoint(&self, node: usize) -> EndpointConfig {
        let mut rng = SimRng::stream(self.seed, 0x5155_494e_0000_0000 | node as u64);
        let mut seed = [0u8; 32];
        for chunk in seed.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
        }
        let mut config = EndpointConfig::default();
        config.rng_seed(Some(seed));
        // `max_udp_payload_size` refuses values under 1,200; fall back to quinn's default then.
        let _ = config.max_udp_payload_size(self.mtu);
        config
    }

    /// The server side's settings (every node accepts connections from lower-numbered nodes).
    pub fn server(&self, transport: &Arc<TransportConfig>) -> ServerConfig {
        let mut server = ServerConfig::with_crypto(test_tls().server.clone());
        server
            .transport_config(transport.clone())
            .time_source(Arc::new(FixedClock))
            .migration(false);
        server
    }

    /// The client side's settings.
    pub fn client(&self, transport: &Arc<TransportConfig>) -> ClientConfig {
        let mut client = ClientConfig::new(test_tls().client.clone());
        client.transport_config(transport.clone());
        client
    }
}

/// Wall-clock time as quinn's address-validation tokens see it: fixed, so that tokens do not
/// depend on when the simulation runs.
#[derive(Debug)]
struct FixedClock;

impl TimeSource for FixedClock {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }
}

/// The TLS side shared by every endpoint of the process.
pub struct TestTls {
    /// The server's TLS configuration (the self-signed certificate and its key).
    pub server: Arc<QuicServerConfig>,
    /// The client's TLS configuration (trusts that certificate alone).
    pub client: Arc<QuicClientConfig>,
}

/// The process's TLS configurations, made once: a self-signed Ed25519 certificate for
/// [`SERVER_NAME`], generated in-process by rcgen at first use.
///
/// # Panics
///
/// If rcgen or rustls refuse the certificate, which would be a bug (nothing here depends on
/// input).
pub fn test_tls() -> &'static TestTls {
    static TLS: OnceLock<TestTls> = OnceLock::new();
    TLS.get_or_init(|| {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("Ed25519 key");
        let cert = rcgen::CertificateParams::new(vec![SERVER_NAME.to_owned()])
            .expect("certificate parameters")
            .self_signed(&key)
            .expect("self-signed certificate");
        let cert: CertificateDer<'static> = cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());

        let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("ring supports TLS 1.3")
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .expect("server certificate");
        // QUIC needs either no early data or u32::MAX (quinn's own default).
        server.max_early_data_size = u32::MAX;

        let mut roots = RootCertStore::empty();
        roots.add(cert).expect("trust anchor");
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("ring supports TLS 1.3")
            .with_root_certificates(roots)
            .with_no_client_auth();

        TestTls {
            server: Arc::new(QuicServerConfig::try_from(server).expect("AES-128-GCM in ring")),
            client: Arc::new(QuicClientConfig::try_from(client).expect("AES-128-GCM in ring")),
        }
    })
}
