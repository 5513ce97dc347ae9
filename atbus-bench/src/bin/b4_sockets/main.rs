//! B4 — real sockets on loopback, each against a baseline measured in the same run.
//!
//! Two endpoints in one process, on a multi-thread tokio runtime (one worker per core), talking
//! over 127.0.0.1:
//!
//! - **TCP, 64 B and 64 KiB messages**: atbus-tokio (one stream, the sender awaiting
//!   `Bus::send` for each message, so that backpressure keeps the pipe full) against a raw tokio
//!   TCP pipe carrying the same payloads with a 4-byte length prefix: the sender writes through
//!   a 256 KiB `BufWriter` (atbus's writer task gathers up to 256 KiB per write), both ends set
//!   `TCP_NODELAY` as atbus does, the receiver reads into a `BytesMut` and splits off one
//!   `Bytes` per message (as a length-delimited decoder hands messages to an application).
//! - **UDP bulk, 64 KiB messages**: atbus-tokio over its reliable UDP against the `quinn` crate:
//!   real quinn endpoints on loopback (rustls on *ring*, a self-signed rcgen certificate), one
//!   unidirectional stream carrying the same messages length-prefixed, stream windows equal to
//!   atbus's defaults (16 MiB) as in B3, everything else quinn's defaults (CUBIC, GSO where the
//!   kernel has it).
//! - **atbus-async-std**: the same TCP and UDP cases on async-std's executor and async-io's
//!   reactor, as a ratio to atbus-tokio.
//!
//! A diagnostic row (not part of the targets) shows where atbus's time goes: the same 64 B TCP
//! transfer with 64 sends in flight at once from the one sending task, so that the per-send round
//! trip through the run loop no longer bounds it.
//!
//! Each measurement: a fresh pair of endpoints, a warm-up, then the receiver's count over a fixed
//! window; repetitions alternate between atbus and its baseline, and the median is reported.
//! Rates are of payload received (MB = 10^6 bytes), wall-clock, on whatever machine this runs:
//! compare the ratios, which come from the same run.
//!
//! Run: `cargo run --release -p atbus-bench --bin b4_sockets [reps] [window-ms]` (defaults
//! 5 repetitions of 1,000 ms after a 300 ms warm-up; about a minute in all). For a closer look:
//! `B4_CASE=<part of a case title>` and `B4_ONLY=<part of a contender name>` select (the
//! baseline row stays, empty), `B4_DEBUG=1` prints messages sent and received per run and the
//! sender's path figures (packets, losses, RTT), `B4_CC=newreno|off` swaps atbus's congestion
//! controller (BBR by default), `B4_OFFLOAD=off` turns atbus's batched UDP IO off, and
//! `B4_NO_LIFO=1` turns tokio's LIFO slot off (only in a build with
//! `RUSTFLAGS="--cfg tokio_unstable"`: it showed that tokio's UDP case is held back by its
//! scheduler keeping a woken task on the waker's worker, where other workers cannot steal it).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use atbus_driver::Runtime;
use atbus_tokio::{Bus, BusConfig, TokioRuntime};
use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};

mod quinn_baseline;
use quinn_baseline::start_quinn;

/// Warm-up before each window (connection set up, windows opened, caches warm).
const WARM_UP: Duration = Duration::from_millis(300);
/// How long a contender may take to stop before the run is reported stuck.
const STOP_LIMIT: Duration = Duration::from_secs(10);
/// The raw pipe's write buffer: what atbus's writer task gathers into one write at most.
const RAW_WRITE_BUFFER: usize = 256 * 1024;
/// The raw pipe's read size: atbus's reader reads 64 KiB at a time.
const RAW_READ: usize = 64 * 1024;

/// What the receiving side counted, and the flag that stops the sender.
#[derive(Default)]
struct Counters {
    /// Messages the sender handed over (accepted by `send`).
    sent: AtomicU64,
    msgs: AtomicU64,
    bytes: AtomicU64,
    stop: AtomicBool,
    /// Errors seen by the workload's tasks (a run with errors is reported).
    errors: std::sync::Mutex<Vec<String>>,
}

impl Counters {
    fn count(&self, msgs: u64, bytes: u64) {
        self.msgs.fetch_add(msgs, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn snapshot(&self) -> (u64, u64, Instant) {
        (
            self.msgs.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            Instant::now(),
        )
    }

    fn error(&self, error: String) {
        if let Ok(mut errors) = self.errors.lock() {
            errors.push(error);
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// A workload running in the background: its counters and how to stop it.
struct Running {
    counters: Arc<Counters>,
    /// Stops the sender, tears the endpoints down; `Err` when something did not stop in time.
    stop: Pin<Box<dyn Future<Output = Result<(), String>> + Send>>,
}

/// One measured window.
#[derive(Debug, Clone, Copy)]
struct Rate {
    msgs_per_s: f64,
    mb_per_s: f64,
}

/// Who is measured.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Contender {
    /// atbus-tokio over TCP; `in_flight` sends outstanding at once from the sending task.
    AtbusTcp { in_flight: usize },
    /// The raw length-prefixed tokio TCP pipe.
    RawTcp,
    /// atbus-tokio over its reliable UDP.
    AtbusUdp,
    /// The `quinn` crate, one unidirectional stream.
    Quinn,
    /// atbus-async-std (async-io sockets, async-std's executor) over TCP.
    AsyncStdTcp,
    /// atbus-async-std over its reliable UDP.
    AsyncStdUdp,
}

impl Contender {
    fn name(self) -> String {
        match self {
            Contender::AtbusTcp { in_flight: 1 } => "atbus-tokio TCP".into(),
            Contender::AtbusTcp { in_flight } => {
                format!("atbus-tokio TCP, {in_flight} sends in flight (diagnostic)")
            }
            Contender::RawTcp => "raw tokio TCP pipe (baseline)".into(),
            Contender::AtbusUdp => "atbus-tokio UDP".into(),
            Contender::Quinn => "quinn (baseline)".into(),
            Contender::AsyncStdTcp => "atbus-async-std TCP".into(),
            Contender::AsyncStdUdp => "atbus-async-std UDP".into(),
        }
    }

    fn start(self, runtime: &tokio::runtime::Runtime, size: usize) -> Result<Running, String> {
        let payload = Bytes::from(vec![0xa5u8; size]);
        match self {
            Contender::AtbusTcp { in_flight } => runtime.block_on(start_atbus(
                Arc::new(TokioRuntime::new(runtime.handle().clone())),
                "tcp",
                payload,
                in_flight,
            )),
            Contender::AtbusUdp => runtime.block_on(start_atbus(
                Arc::new(TokioRuntime::new(runtime.handle().clone())),
                "udp",
                payload,
                1,
            )),
            Contender::RawTcp => runtime.block_on(start_raw_tcp(payload)),
            Contender::Quinn => runtime.block_on(start_quinn(payload)),
            // The bus runs on async-std's executor and async-io's reactor; the harness only
            // awaits runtime-independent channels from tokio.
            Contender::AsyncStdTcp => runtime.block_on(start_atbus(
                Arc::new(atbus_async_std::AsyncIoRuntime::async_std()),
                "tcp",
                payload,
                1,
            )),
            Contender::AsyncStdUdp => runtime.block_on(start_atbus(
                Arc::new(atbus_async_std::AsyncIoRuntime::async_std()),
                "udp",
                payload,
                1,
            )),
        }
    }
}

/// Node names unique to each run (a restarted name would be a new instance of the same node).
fn next_run() -> u64 {
    static RUN: AtomicU64 = AtomicU64::new(0);
    RUN.fetch_add(1, Ordering::Relaxed)
}

/// A receiving bus listening on `scheme` and a sending bus that knows its record; the sender
/// sends `payload` on stream 1 until stopped, the receiver counts.
async fn start_atbus(
    runtime: Arc<dyn Runtime>,
    scheme: &str,
    payload: Bytes,
    in_flight: usize,
) -> Result<Running, String> {
    let run = next_run();
    let mut config = BusConfig::new(format!("b4-receiver-{run}"));
    config.node.seed = 2 * run + 1;
    config.listen = vec![format!("{scheme}://127.0.0.1:0")];
    config.udp_offload = offload();
    let receiver = Bus::start(runtime.clone(), config)
        .await
        .map_err(|e| e.to_string())?;
    let mut config = BusConfig::new(format!("b4-sender-{run}"));
    config.node.seed = 2 * run + 2;
    match std::env::var("B4_CC").as_deref() {
        Ok("newreno") => {
            config.node.connection.congestion = atbus_core::congestion::CongestionKind::NewReno
        }
        Ok("off") => {
            config.node.connection.congestion = atbus_core::congestion::CongestionKind::Disabled
        }
        _ => {}
    }
    config.records = vec![receiver.record()];
    config.udp_offload = offload();
    let sender = Bus::start(runtime.clone(), config)
        .await
        .map_err(|e| e.to_string())?;

    let counters = Arc::new(Counters::default());
    let (sent_tx, sent_rx) = tokio::sync::oneshot::channel::<()>();
    let (received_tx, received_rx) = tokio::sync::oneshot::channel::<()>();
    {
        let counters = counters.clone();
        let receiver = receiver.clone();
        runtime.spawn(Box::pin(async move {
            while let Some(message) = receiver.recv().await {
                counters.count(1, message.data.len() as u64);
            }
            let _ = received_tx.send(());
        }));
    }
    {
        let counters = counters.clone();
        let sender = sender.clone();
        let to = receiver.name().to_owned();
        runtime.spawn(Box::pin(async move {
            while !counters.stopping() {
                let result = if in_flight == 1 {
                    sender.send(&to, 1, payload.clone()).await
                } else {
                    send_many(&sender, &to, &payload, in_flight).await
                };
                if let Err(error) = result {
                    counters.error(format!("send: {error}"));
                    break;
                }
                counters.sent.fetch_add(in_flight as u64, Ordering::Relaxed);
            }
            let _ = sent_tx.send(());
        }));
    }
    let stop = {
        let counters = counters.clone();
        Box::pin(async move {
            counters.stop.store(true, Ordering::Relaxed);
            tokio::time::timeout(STOP_LIMIT, sent_rx)
                .await
                .map_err(|_| "the atbus sender did not stop (a send never returned)".to_owned())?
                .map_err(|_| "the atbus sender task died".to_owned())?;
            if std::env::var_os("B4_DEBUG").is_some()
                && let Some(metrics) = sender.metrics().await
            {
                for (peer, m) in &metrics.peers {
                    let t = &m.transport;
                    eprintln!(
                        "  sender → {peer}: {} connection(s), packets sent {} lost {}, \
                         retransmitted fragments {}, rtt {:?}",
                        m.connections, t.packets_sent, t.packets_lost, t.retransmissions, t.rtt
                    );
                }
            }
            sender.shutdown(Duration::ZERO).await;
            receiver.shutdown(Duration::ZERO).await;
            tokio::time::timeout(STOP_LIMIT, received_rx)
                .await
                .map_err(|_| "the atbus receiver did not end after shutdown".to_owned())?
                .map_err(|_| "the atbus receiver task died".to_owned())?;
            Ok(())
        }) as Pin<Box<dyn Future<Output = Result<(), String>> + Send>>
    };
    Ok(Running { counters, stop })
}

/// atbus's batched UDP IO, unless `B4_OFFLOAD=off`.
fn offload() -> bool {
    std::env::var("B4_OFFLOAD").map_or(true, |v| v != "off")
}

/// `count` sends of `payload` polled together from one task (they enter the bus's queue in
/// order), done when all are.
async fn send_many(
    bus: &Bus,
    to: &str,
    payload: &Bytes,
    count: usize,
) -> Result<(), atbus_tokio::SendError> {
    type SendFuture<'a> =
        Pin<Box<dyn Future<Output = Result<(), atbus_tokio::SendError>> + Send + 'a>>;
    let mut sends: Vec<SendFuture<'_>> = (0..count)
        .map(|_| Box::pin(bus.send(to, 1, payload.clone())) as SendFuture<'_>)
        .collect();
    let mut failed = None;
    std::future::poll_fn(|cx| {
        sends.retain_mut(|send| match send.as_mut().poll(cx) {
            Poll::Pending => true,
            Poll::Ready(result) => {
                if let Err(error) = result {
                    failed.get_or_insert(error);
                }
                false
            }
        });
        if sends.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    failed.map_or(Ok(()), Err)
}

/// Tells a baseline's workload to stop and waits for its sending and receiving tasks (`who`
/// names the baseline in errors).
async fn stop_tasks(
    counters: &Counters,
    who: &str,
    sending: tokio::task::JoinHandle<()>,
    receiving: tokio::task::JoinHandle<()>,
) -> Result<(), String> {
    counters.stop.store(true, Ordering::Relaxed);
    tokio::time::timeout(STOP_LIMIT, sending)
        .await
        .map_err(|_| format!("the {who} sender did not stop"))?
        .map_err(|e| e.to_string())?;
    tokio::time::timeout(STOP_LIMIT, receiving)
        .await
        .map_err(|_| format!("the {who} receiver did not end"))?
        .map_err(|e| e.to_string())
}

/// A raw TCP pipe on loopback: length-prefixed `payload`s through a buffered writer, a
/// length-delimited reader that hands out one `Bytes` per message.
async fn start_raw_tcp(payload: Bytes) -> Result<Running, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let at = listener.local_addr().map_err(|e| e.to_string())?;
    let (client, accepted) = tokio::join!(tokio::net::TcpStream::connect(at), listener.accept());
    let client = client.map_err(|e| e.to_string())?;
    let (server, _) = accepted.map_err(|e| e.to_string())?;
    client.set_nodelay(true).map_err(|e| e.to_string())?;
    server.set_nodelay(true).map_err(|e| e.to_string())?;

    let counters = Arc::new(Counters::default());
    let receiving = {
        let counters = counters.clone();
        let mut server = server;
        tokio::spawn(async move {
            let mut buf = BytesMut::with_capacity(2 * RAW_READ);
            loop {
                if buf.capacity() - buf.len() < RAW_READ {
                    buf.reserve(RAW_READ);
                }
                match server.read_buf(&mut buf).await {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(error) => {
                        counters.error(format!("raw read: {error}"));
                        return;
                    }
                }
                let (mut msgs, mut bytes) = (0, 0);
                while buf.len() >= 4 {
                    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
                    if buf.len() < 4 + len {
                        buf.reserve(4 + len - buf.len());
                        break;
                    }
                    buf.advance(4);
                    let message = buf.split_to(len).freeze();
                    msgs += 1;
                    bytes += message.len() as u64;
                }
                counters.count(msgs, bytes);
            }
        })
    };
    let sending = {
        let counters = counters.clone();
        tokio::spawn(async move {
            let mut writer = BufWriter::with_capacity(RAW_WRITE_BUFFER, client);
            let prefix = (payload.len() as u32).to_le_bytes();
            let written = async {
                while !counters.stopping() {
                    writer.write_all(&prefix).await?;
                    writer.write_all(&payload).await?;
                }
                writer.flush().await?;
                writer.shutdown().await
            }
            .await;
            if let Err(error) = written {
                counters.error(format!("raw write: {error}"));
            }
        })
    };
    let stop = {
        let counters = counters.clone();
        Box::pin(async move {
            stop_tasks(&counters, "raw", sending, receiving).await?;
            Ok(())
        }) as Pin<Box<dyn Future<Output = Result<(), String>> + Send>>
    };
    Ok(Running { counters, stop })
}

/// Runs one contender once: set up, warm up, count over `window`, stop.
fn measure(
    runtime: &tokio::runtime::Runtime,
    contender: Contender,
    size: usize,
    window: Duration,
) -> Result<Rate, String> {
    let running = contender.start(runtime, size)?;
    std::thread::sleep(WARM_UP);
    let (m0, b0, t0) = running.counters.snapshot();
    std::thread::sleep(window);
    let (m1, b1, t1) = running.counters.snapshot();
    if std::env::var_os("B4_DEBUG").is_some() {
        eprintln!(
            "{}: sent {}, received {m1} ({} in the window)",
            contender.name(),
            running.counters.sent.load(Ordering::Relaxed),
            m1 - m0
        );
    }
    let stopped = runtime.block_on(running.stop);
    let errors = running
        .counters
        .errors
        .lock()
        .map(|e| e.clone())
        .unwrap_or_default();
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    stopped?;
    let secs = (t1 - t0).as_secs_f64();
    Ok(Rate {
        msgs_per_s: (m1 - m0) as f64 / secs,
        mb_per_s: (b1 - b0) as f64 / secs / 1e6,
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// One comparison: contenders measured in alternation, the first the baseline.
struct Case {
    title: &'static str,
    size: usize,
    baseline: Contender,
    measured: Vec<Contender>,
    /// The target: atbus ÷ baseline at least this (for the first measured contender).
    target: f64,
}

/// A contender's medians over the repetitions.
struct Measured {
    contender: Contender,
    msgs: Vec<f64>,
    mb: Vec<f64>,
    failures: Vec<String>,
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let reps: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let window = Duration::from_millis(args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    #[cfg(tokio_unstable)]
    if std::env::var("B4_NO_LIFO").is_ok() {
        builder.disable_lifo_slot();
    }
    let runtime = builder.build().expect("a tokio runtime");

    let cases = [
        Case {
            title: "TCP, 64 B messages",
            size: 64,
            baseline: Contender::RawTcp,
            measured: vec![
                Contender::AtbusTcp { in_flight: 1 },
                Contender::AtbusTcp { in_flight: 64 },
            ],
            target: 0.8,
        },
        Case {
            title: "TCP, 64 KiB messages",
            size: 64 * 1024,
            baseline: Contender::RawTcp,
            measured: vec![Contender::AtbusTcp { in_flight: 1 }, Contender::AsyncStdTcp],
            target: 0.9,
        },
        Case {
            title: "UDP bulk, 64 KiB messages",
            size: 64 * 1024,
            baseline: Contender::Quinn,
            measured: vec![Contender::AtbusUdp, Contender::AsyncStdUdp],
            target: 1.0,
        },
    ];

    println!(
        "B4 — real sockets on loopback: {reps} repetitions of {} ms after {} ms of warm-up, \
         medians; tokio multi-thread runtime, {cores} worker threads on {cores} cores",
        window.as_millis(),
        WARM_UP.as_millis()
    );
    let started = Instant::now();
    let mut summary = Vec::new();
    let mut async_std = Vec::new();
    let mut tokio_mb = 0.0;
    println!();
    println!("| case | contender | msgs/s | MB/s | range of MB/s | ÷ baseline |");
    println!("|---|---|---|---|---|---|");
    let only_case = std::env::var("B4_CASE").unwrap_or_default();
    for case in cases.iter().filter(|c| c.title.contains(&only_case)) {
        let contenders: Vec<Contender> = std::iter::once(case.baseline)
            .chain(case.measured.iter().copied())
            .collect();
        let mut results: Vec<Measured> = contenders
            .iter()
            .map(|&contender| Measured {
                contender,
                msgs: Vec::new(),
                mb: Vec::new(),
                failures: Vec::new(),
            })
            .collect();
        let only = std::env::var("B4_ONLY").unwrap_or_default();
        results.retain(|r| r.contender == case.baseline || r.contender.name().contains(&only));
        for _ in 0..reps {
            for result in &mut results {
                if !result.contender.name().contains(&only) {
                    continue;
                }
                match measure(&runtime, result.contender, case.size, window) {
                    Ok(rate) => {
                        result.msgs.push(rate.msgs_per_s);
                        result.mb.push(rate.mb_per_s);
                    }
                    Err(error) => result.failures.push(error),
                }
            }
        }
        let base = median(results[0].mb.clone());
        for (i, result) in results.iter().enumerate() {
            let mb = median(result.mb.clone());
            let lo = result.mb.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = result.mb.iter().copied().fold(0.0, f64::max);
            let ratio = if i == 0 {
                "1.000".to_owned()
            } else {
                format!("{:.3}", mb / base)
            };
            println!(
                "| {} | {} | {} | {:.1} | {:.1}–{:.1} | {} |",
                case.title,
                result.contender.name(),
                thousands(median(result.msgs.clone())),
                mb,
                lo,
                hi,
                ratio
            );
            for failure in &result.failures {
                println!("|   | failed run: {failure} | | | | |");
            }
            if i == 1 {
                summary.push((case.title.to_owned(), mb / base, case.target));
                tokio_mb = mb;
            }
            if matches!(
                result.contender,
                Contender::AsyncStdTcp | Contender::AsyncStdUdp
            ) {
                async_std.push((case.title, mb / tokio_mb));
            }
        }
    }
    println!();
    println!("| case | atbus ÷ baseline | target | |");
    println!("|---|---|---|---|");
    for (title, ratio, target) in summary {
        let verdict = if ratio >= target { "met" } else { "missed" };
        println!("| {title} | {ratio:.3} | ≥ {target:.1} | {verdict} |");
    }
    for (title, ratio) in async_std {
        // Within 10 % means not more than 10 % slower; faster is fine.
        let verdict = if ratio >= 0.9 { "met" } else { "missed" };
        println!("| {title}: atbus-async-std ÷ atbus-tokio | {ratio:.3} | ≥ 0.9 | {verdict} |");
    }
    println!();
    println!("total wall time {:.1} s", started.elapsed().as_secs_f64());
    runtime.shutdown_timeout(Duration::from_secs(1));
}
