//! The simulator's command-line runner: named scenarios, sweeps, the KCP validation table and
//! the simulator's own speed test. `cargo run -p atbus-sim --release -- --help` lists them.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use atbus_core::connection::ConnectionConfig;
use clap::{Parser, Subcommand, ValueEnum};

use atbus_sim::bench::{b3, b5};
use atbus_sim::scenarios::{self, KCP_PUBLISHED};
use atbus_sim::{
    AtbusEndpoint, Endpoint, FrameEndpoint, KcpConfig, KcpEndpoint, KcpMode, KcpTiming, LinkConfig,
    LinkKind, LossModel, NodeId, QuinnConfig, QuinnCongestion, QuinnEndpoint, RawEndpoint,
    RunReport, Scenario, Simulator, Workload, presets, report,
};

#[derive(Parser)]
#[command(
    name = "atbus-sim",
    about = "Deterministic network simulator for atbus",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the link presets and scenarios.
    List,
    /// Run one scenario (for one seed or several) and print its summary.
    Run(RunArgs),
    /// Run a scenario over a range of one link parameter and several seeds; print a table.
    Sweep(SweepArgs),
    /// KCP's own test (B2) in its three modes, beside the published figures.
    KcpTable {
        /// Seeds per mode (0, 1, ...).
        #[arg(long, default_value_t = 20)]
        seeds: u64,
        /// `tick`: update every 1 ms as test.cpp does; `check`: event-driven by ikcp_check.
        #[arg(long, value_enum, default_value_t = Timing::Tick)]
        timing: Timing,
    },
    /// B2: atbus (latency mode and default) against KCP fast mode, same link, workload and seeds.
    B2 {
        /// Seeds (0, 1, ...).
        #[arg(long, default_value_t = 20)]
        seeds: u64,
    },
    /// B3: bulk transfer over the three B3 links (16 MiB, 128 MiB, 1 GiB), atbus with each
    /// congestion controller, same links and seed.
    B3 {
        /// Seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// B5: instructions per 64-byte message through two stacks in memory, atbus against
    /// quinn-proto, counted with valgrind's callgrind.
    B5,
    /// Runs one B5 workload (what `b5` runs under callgrind).
    #[command(hide = true)]
    B5Workload {
        /// atbus, quinn or loopback.
        #[arg(long)]
        stack: String,
        /// Messages.
        #[arg(long)]
        count: u64,
    },
    /// Every benchmark of issue 4 that runs here: B2 (20 seeds), B3 (seed 0), then B5.
    Bench,
    /// Measure the simulator: simulated deliveries per second of wall time.
    Speed {
        /// Pairs of nodes.
        #[arg(long, default_value_t = 8)]
        pairs: usize,
        /// Messages per pair.
        #[arg(long, default_value_t = 250_000)]
        messages: u64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Timing {
    Tick,
    Check,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum ScenarioKind {
    /// 64-byte (--size) echoes every 20 ms (--interval-ms), --count of them.
    Echo,
    /// One-way messages, same parameters as echo.
    Messages,
    /// --bytes in messages of --size, as fast as the endpoint accepts.
    Bulk,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum EndpointKind {
    /// Messages as bare datagrams (no reliability).
    Raw,
    /// Messages as atbus frames (no reliability); works on byte-stream links too.
    Frames,
    /// The kcp crate, default mode.
    KcpDefault,
    /// The kcp crate, normal mode.
    KcpNormal,
    /// The kcp crate, fast mode.
    KcpFast,
    /// atbus connections, default settings.
    Atbus,
    /// atbus connections, latency mode.
    AtbusLatency,
    /// quinn-proto (QUIC), CUBIC congestion control (quinn's default).
    QuinnCubic,
    /// quinn-proto (QUIC), BBR congestion control.
    QuinnBbr,
}

#[derive(clap::Args, Clone)]
struct ScenarioArgs {
    /// What to run.
    #[arg(value_enum)]
    scenario: ScenarioKind,
    /// Link preset used both ways (see `list`).
    #[arg(long, default_value = "kcp_test")]
    preset: String,
    /// Endpoint on both nodes.
    #[arg(long, value_enum, default_value_t = EndpointKind::Frames)]
    endpoint: EndpointKind,
    /// Simulate a byte-stream link instead of a datagram link.
    #[arg(long)]
    stream_link: bool,
    /// Messages (echo, messages).
    #[arg(long, default_value_t = 1_000)]
    count: u64,
    /// Message size in bytes.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Milliseconds between messages (echo, messages).
    #[arg(long, default_value_t = 20.0)]
    interval_ms: f64,
    /// Bytes to transfer (bulk).
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    bytes: u64,
    /// Virtual seconds before the run is stopped.
    #[arg(long, default_value_t = 600)]
    deadline_s: u64,
}

#[derive(clap::Args)]
struct RunArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of seeds (seed, seed + 1, ...).
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// Write the per-message series of the first seed to this CSV file.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Draw latency and goodput over time of the first seed to this SVG file.
    #[arg(long)]
    svg: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Param {
    /// Random loss probability per direction (replaces the preset's loss model).
    Loss,
    /// One-way base delay in ms.
    DelayMs,
    /// Jitter range in ms.
    JitterMs,
    /// Link rate in Mbit/s.
    BandwidthMbps,
}

#[derive(clap::Args)]
struct SweepArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// The parameter to vary.
    #[arg(long, value_enum)]
    param: Param,
    /// First value.
    #[arg(long)]
    from: f64,
    /// Last value (inclusive).
    #[arg(long)]
    to: f64,
    /// Step.
    #[arg(long)]
    step: f64,
    /// Seeds per value.
    #[arg(long, default_value_t = 5)]
    seeds: u64,
}

fn build(args: &ScenarioArgs, link: LinkConfig, seed: u64) -> Scenario {
    let kind = if args.stream_link {
        LinkKind::ByteStream
    } else {
        LinkKind::Datagram
    };
    let interval = Duration::from_secs_f64(args.interval_ms / 1_000.0);
    let workload = match args.scenario {
        ScenarioKind::Echo => Workload::Echo {
            client: "client".into(),
            server: "server".into(),
            stream: 0,
            size: args.size,
            interval,
            count: args.count,
            start: Duration::ZERO,
        },
        ScenarioKind::Messages => Workload::Messages {
            from: "client".into(),
            to: "server".into(),
            stream: 0,
            size: args.size,
            interval,
            count: args.count,
            start: Duration::ZERO,
        },
        ScenarioKind::Bulk => Workload::Bulk {
            from: "client".into(),
            to: "server".into(),
            stream: 0,
            total_bytes: args.bytes,
            message_size: args.size,
            start: Duration::ZERO,
        },
    };
    let name = match args.scenario {
        ScenarioKind::Echo => "echo",
        ScenarioKind::Messages => "messages",
        ScenarioKind::Bulk => "bulk",
    };
    Scenario::new(format!("{name}/{}", args.preset), seed)
        .node("client")
        .node("server")
        .link("client", "server", kind, link)
        .workload(workload)
        .deadline(Duration::from_secs(args.deadline_s))
}

fn endpoint(kind: EndpointKind, node: NodeId, seed: u64) -> Box<dyn Endpoint> {
    let kcp = |mode| Box::new(KcpEndpoint::new(KcpConfig::test_cpp(mode, node.0 == 0)));
    match kind {
        EndpointKind::Raw => Box::new(RawEndpoint::new(0)),
        EndpointKind::Frames => Box::new(FrameEndpoint::new()),
        EndpointKind::KcpDefault => kcp(KcpMode::Default),
        EndpointKind::KcpNormal => kcp(KcpMode::Normal),
        EndpointKind::KcpFast => kcp(KcpMode::Fast),
        EndpointKind::Atbus => Box::new(AtbusEndpoint::new(ConnectionConfig::default())),
        EndpointKind::AtbusLatency => Box::new(AtbusEndpoint::new(ConnectionConfig::latency())),
        EndpointKind::QuinnCubic => Box::new(QuinnEndpoint::new(
            node,
            QuinnConfig::new(seed, QuinnCongestion::Cubic),
        )),
        EndpointKind::QuinnBbr => Box::new(QuinnEndpoint::new(
            node,
            QuinnConfig::new(seed, QuinnCongestion::Bbr),
        )),
    }
}

fn run_one(args: &ScenarioArgs, link: LinkConfig, seed: u64) -> Result<RunReport, String> {
    let scenario = build(args, link, seed);
    let mut factory = |node: NodeId, _: &str| endpoint(args.endpoint, node, seed);
    Ok(Simulator::new(scenario, &mut factory)
        .map_err(|e| e.to_string())?
        .run())
}

fn preset(name: &str) -> Result<LinkConfig, String> {
    presets::by_name(name).ok_or_else(|| format!("unknown preset {name:?}; `list` shows them"))
}

fn run(args: RunArgs) -> Result<(), String> {
    let link = preset(&args.scenario.preset)?;
    for seed in args.seed..args.seed + args.seeds.max(1) {
        let report = run_one(&args.scenario, link.clone(), seed)?;
        print!("{}", report::summary(&report));
        if seed == args.seed {
            if let Some(path) = &args.csv {
                let mut out = BufWriter::new(
                    File::create(path).map_err(|e| format!("{}: {e}", path.display()))?,
                );
                report::write_csv(&report.metrics, &mut out).map_err(|e| e.to_string())?;
                println!("  wrote {}", path.display());
            }
            if let Some(path) = &args.svg {
                let end = report.metrics.ended_at.as_nanos() as f64 / 1e9;
                let svg = report::svg_plot(&report, (end / 100.0).max(0.001));
                std::fs::write(path, svg).map_err(|e| format!("{}: {e}", path.display()))?;
                println!("  wrote {}", path.display());
            }
        }
    }
    Ok(())
}

fn sweep(args: SweepArgs) -> Result<(), String> {
    if args.step <= 0.0 || args.to < args.from {
        return Err("--step must be positive and --to at least --from".into());
    }
    let base = preset(&args.scenario.preset)?;
    println!(
        "{:>10} {:>6} {:>10} {:>10} {:>10} {:>10} {:>12} {:>10}",
        "value", "seeds", "done %", "avg ms", "p99 ms", "max ms", "goodput Mb/s", "pkts/run"
    );
    let mut value = args.from;
    while value <= args.to + args.step * 1e-9 {
        let mut link = base.clone();
        match args.param {
            Param::Loss => link.loss = LossModel::Random { probability: value },
            Param::DelayMs => link.delay = Duration::from_secs_f64(value / 1_000.0),
            Param::JitterMs => link.jitter = Duration::from_secs_f64(value / 1_000.0),
            Param::BandwidthMbps => link.bandwidth_bps = Some((value * 1e6) as u64),
        }
        let (mut done, mut sent, mut avg, mut p99, mut max, mut goodput, mut packets) =
            (0, 0, 0.0, 0.0, 0.0f64, 0.0, 0);
        for seed in 0..args.seeds {
            let report = run_one(&args.scenario, link.clone(), seed)?;
            let latency = report.metrics.latency(None);
            done += latency.count;
            sent += report.metrics.messages.len();
            avg += latency.avg_ms;
            p99 += latency.p99_ms;
            max = max.max(latency.max_ms);
            goodput += report.metrics.goodput_bps() / 1e6;
            packets += report.metrics.total_traffic().packets_sent;
        }
        let n = args.seeds.max(1) as f64;
        println!(
            "{:>10.4} {:>6} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>12.3} {:>10.0}",
            value,
            args.seeds,
            100.0 * done as f64 / sent.max(1) as f64,
            avg / n,
            p99 / n,
            max,
            goodput / n,
            packets as f64 / n
        );
        value += args.step;
    }
    Ok(())
}

fn kcp_table(seeds: u64, timing: Timing) -> Result<(), String> {
    println!(
        "B2: KCP's test (kcp_test link, 1,001 echoes of 8 bytes every 20 ms), {seeds} seeds per mode"
    );
    println!(
        "{:<8} {:>12} {:>12} {:>14} {:>14} {:>10} {:>12}",
        "mode", "avg ms", "max ms", "published avg", "published max", "avg/pub", "pkts/run"
    );
    for (mode, published_avg, published_max) in KCP_PUBLISHED {
        let (mut avg, mut max, mut packets) = (0.0, 0.0f64, 0u64);
        for seed in 0..seeds {
            let mut factory = |node: NodeId, _: &str| -> Box<dyn Endpoint> {
                let mut config = KcpConfig::test_cpp(mode, node.0 == 0);
                if let Timing::Check = timing {
                    config.timing = KcpTiming::Check;
                }
                Box::new(KcpEndpoint::new(config))
            };
            let report = Simulator::new(scenarios::b2_echo(seed), &mut factory)
                .map_err(|e| e.to_string())?
                .run();
            let latency = report.metrics.latency(None);
            avg += latency.avg_ms;
            max = max.max(latency.max_ms);
            packets += report.metrics.total_traffic().packets_sent;
        }
        let n = seeds.max(1) as f64;
        println!(
            "{:<8} {:>12.1} {:>12.1} {:>14} {:>14} {:>10.3} {:>12.0}",
            mode.name(),
            avg / n,
            max,
            published_avg,
            published_max,
            avg / n / f64::from(published_avg),
            packets as f64 / n
        );
    }
    println!("avg: mean over seeds of each run's average; max: largest over all seeds.");
    Ok(())
}

fn b2(seeds: u64) -> Result<(), String> {
    type Runner = Box<dyn Fn(u64) -> Result<RunReport, atbus_sim::ScenarioError>>;
    let contenders: [(&str, Runner); 4] = [
        (
            "kcp fast",
            Box::new(|seed| scenarios::run_kcp_b2(KcpMode::Fast, seed)),
        ),
        (
            "atbus latency mode",
            Box::new(|seed| scenarios::run_atbus_b2(&ConnectionConfig::latency(), seed)),
        ),
        (
            "atbus latency stream",
            Box::new(|seed| {
                scenarios::run_atbus_b2_streams(&ConnectionConfig::default(), &[0], seed)
            }),
        ),
        (
            "atbus default",
            Box::new(|seed| scenarios::run_atbus_b2(&ConnectionConfig::default(), seed)),
        ),
    ];
    println!(
        "B2: KCP's test link and workload (1,001 echoes of 8 bytes every 20 ms), {seeds} seeds each"
    );
    println!(
        "{:<20} {:>10} {:>10} {:>10} {:>14} {:>12} {:>12} {:>12}",
        "endpoint", "avg ms", "p99 ms", "max ms", "bytes/run", "avg/kcp", "max/kcp", "bytes/kcp"
    );
    let mut baseline = None;
    for (name, run) in &contenders {
        let (mut avg, mut p99, mut max, mut bytes) = (0.0, 0.0, 0.0f64, 0u64);
        for seed in 0..seeds {
            let report = run(seed).map_err(|e| e.to_string())?;
            let m = &report.metrics;
            if report.outcome != atbus_sim::Outcome::Completed
                || m.duplicate_deliveries + m.out_of_order_deliveries + m.corrupted_deliveries > 0
            {
                return Err(format!(
                    "{name} seed {seed}: {:?}, delivery anomalies",
                    report.outcome
                ));
            }
            let latency = m.latency(None);
            avg += latency.avg_ms;
            p99 += latency.p99_ms;
            max = max.max(latency.max_ms);
            bytes += m.total_traffic().bytes_sent;
        }
        let n = seeds.max(1) as f64;
        let (avg, p99, bytes) = (avg / n, p99 / n, bytes as f64 / n);
        let (base_avg, base_max, base_bytes) = *baseline.get_or_insert((avg, max, bytes));
        println!(
            "{name:<20} {avg:>10.1} {p99:>10.1} {max:>10.1} {bytes:>14.0} {:>12.3} {:>12.3} {:>12.3}",
            avg / base_avg,
            max / base_max,
            bytes / base_bytes
        );
    }
    println!(
        "avg, p99: means over seeds; max: over all seeds; bytes: datagram payloads both ways."
    );
    Ok(())
}

fn b3(seed: u64) -> Result<(), String> {
    use atbus_core::congestion::CongestionKind;
    use b3::{B3_LINKS, Contender};
    println!(
        "B3: bulk transfer, one stream, {} KiB messages, seed {seed}; same link and seed for every endpoint",
        b3::MESSAGE_SIZE / 1024
    );
    println!(
        "{:<6} {:>11} {:<14} {:>11} {:>13} {:>8} {:>14}",
        "link", "bytes", "endpoint", "complete s", "goodput Mb/s", "of link", "wire bytes"
    );
    let mut verdicts = Vec::new();
    for link in &B3_LINKS {
        let mut results = Vec::new();
        for contender in Contender::ALL {
            let wall = Instant::now();
            let r = b3::run(link, contender, seed).map_err(|e| e.to_string())?;
            let done = if r.outcome == atbus_sim::Outcome::Completed {
                format!("{:.2}", r.seconds)
            } else {
                format!("{:?}", r.outcome)
            };
            println!(
                "{:<6} {:>11} {:<14} {done:>11} {:>13.2} {:>7.1}% {:>14}   ({:.1} s wall)",
                link.preset,
                link.bytes,
                contender.name(),
                r.goodput_bps / 1e6,
                100.0 * r.fraction,
                r.wire_bytes,
                wall.elapsed().as_secs_f64()
            );
            if r.anomalies > 0 {
                return Err(format!(
                    "{} on {}: {} delivery anomalies",
                    contender.name(),
                    link.preset,
                    r.anomalies
                ));
            }
            results.push(r);
        }
        let fraction = |c: Contender| {
            results
                .iter()
                .find(|r| r.contender == c && r.outcome == atbus_sim::Outcome::Completed)
                .map_or(0.0, |r| r.fraction)
        };
        let atbus = fraction(Contender::Atbus(CongestionKind::Bbr));
        let cubic = fraction(Contender::Quinn(QuinnCongestion::Cubic));
        let bbr = fraction(Contender::Quinn(QuinnCongestion::Bbr));
        let meets_rate = atbus >= link.target;
        let ahead = atbus > cubic && atbus > bbr;
        println!(
            "       atbus bbr / quinn cubic = {:.3}, atbus bbr / quinn bbr = {:.3}; \
             goodput >= {:.0} %: {}; ahead of quinn-proto: {}",
            atbus / cubic,
            atbus / bbr,
            100.0 * link.target,
            if meets_rate { "met" } else { "MISSED" },
            if ahead { "met" } else { "MISSED" },
        );
        verdicts.push((link.preset, meets_rate && ahead));
    }
    let missed: Vec<_> = verdicts
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(l, _)| *l)
        .collect();
    println!(
        "B3 targets (atbus default = bbr): {}",
        if missed.is_empty() {
            "all met".to_owned()
        } else {
            format!("missed on {}", missed.join(", "))
        }
    );
    println!(
        "goodput: payload delivered from first send to last delivery; wire bytes: datagrams both ways, dropped ones included."
    );
    Ok(())
}

fn b5() -> Result<(), String> {
    use b5::{COUNTS, MESSAGE_SIZE, Stack};
    let version = match b5::callgrind::valgrind_version() {
        Ok(version) => version,
        Err(error) => {
            println!("B5 skipped: {error}");
            return Ok(());
        }
    };
    let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
    println!(
        "B5: instructions per {MESSAGE_SIZE}-byte message, send -> transmit -> input -> delivered, \
         two stacks in memory ({version}, (I({}) - I({})) / {})",
        COUNTS.1,
        COUNTS.0,
        COUNTS.1 - COUNTS.0
    );
    println!(
        "{:<10} {:>16} {:>16} {:>12} {:>18}",
        "stack",
        format!("Ir, {} msgs", COUNTS.0),
        format!("Ir, {} msgs", COUNTS.1),
        "Ir/msg",
        "Ir/msg - harness"
    );
    let mut figures = Vec::new();
    for stack in Stack::ALL {
        let figure = b5::measure(&exe, &std::env::temp_dir(), stack).map_err(|e| e.to_string())?;
        figures.push(figure);
    }
    let harness = figures
        .iter()
        .find(|f| f.stack == Stack::Loopback)
        .map_or(0.0, |f| f.per_message);
    for f in &figures {
        println!(
            "{:<10} {:>16} {:>16} {:>12.0} {:>18.0}",
            f.stack.name(),
            f.first,
            f.second,
            f.per_message,
            f.per_message - harness
        );
    }
    let per = |stack| {
        figures
            .iter()
            .find(|f| f.stack == stack)
            .map_or(f64::NAN, |f| f.per_message)
    };
    let (atbus, quinn) = (per(Stack::Atbus), per(Stack::Quinn));
    let ratio = atbus / quinn;
    let net = (atbus - harness) / (quinn - harness);
    println!(
        "atbus / quinn = {ratio:.3} ({net:.3} without the harness); target <= 0.5: {}",
        if ratio <= 0.5 { "met" } else { "MISSED" }
    );
    Ok(())
}

fn b5_workload(stack: &str, count: u64) -> Result<(), String> {
    let stack = b5::Stack::by_name(stack)
        .ok_or_else(|| format!("unknown stack {stack:?}: atbus, quinn or loopback"))?;
    let outcome = b5::workload(stack, count);
    println!(
        "{}: {} messages delivered, {} datagrams, {} bytes",
        stack.name(),
        outcome.delivered,
        outcome.datagrams,
        outcome.bytes
    );
    Ok(())
}

fn speed(pairs: usize, messages: u64) -> Result<(), String> {
    let scenario = scenarios::speed(1, pairs, messages);
    let mut factory = scenarios::raw_endpoints;
    let simulator = Simulator::new(scenario, &mut factory).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let report = simulator.run();
    let wall = start.elapsed().as_secs_f64();
    println!(
        "{pairs} pairs x {messages} messages: {} deliveries, {} events in {wall:.3} s wall = {:.0} deliveries/s, {:.0} events/s",
        report.metrics.deliveries,
        report.metrics.events,
        report.metrics.deliveries as f64 / wall,
        report.metrics.events as f64 / wall
    );
    Ok(())
}

fn list() {
    println!("link presets (one direction; --preset NAME):");
    for name in presets::NAMES {
        let link = presets::by_name(name).expect("listed");
        println!(
            "  {name:<12} delay {:?} + jitter {:?}, mean loss {:.2} %, rate {}, mtu {}",
            link.delay,
            link.jitter,
            link.loss.mean_loss() * 100.0,
            link.bandwidth_bps
                .map_or("unlimited".to_owned(), |bps| format!(
                    "{} Mbit/s",
                    bps as f64 / 1e6
                )),
            link.mtu.map_or("none".to_owned(), |m| m.to_string())
        );
    }
    println!("scenarios (run/sweep SCENARIO): echo, messages, bulk");
    println!(
        "endpoints (--endpoint): raw, frames, kcp-default, kcp-normal, kcp-fast, atbus, atbus-latency, quinn-cubic, quinn-bbr"
    );
    println!(
        "other commands: kcp-table (KCP validation), b2 (atbus against KCP), b3 (bulk, atbus against quinn-proto), b5 (instructions per message), bench (b2 + b3 + b5), speed"
    );
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List => {
            list();
            Ok(())
        }
        Command::Run(args) => run(args),
        Command::Sweep(args) => sweep(args),
        Command::KcpTable { seeds, timing } => kcp_table(seeds, timing),
        Command::B2 { seeds } => b2(seeds),
        Command::B3 { seed } => b3(seed),
        Command::B5 => b5(),
        Command::B5Workload { stack, count } => b5_workload(&stack, count),
        Command::Bench => b2(20)
            .and_then(|()| {
                println!();
                b3(0)
            })
            .and_then(|()| {
                println!();
                b5()
            }),
        Command::Speed { pairs, messages } => speed(pairs, messages),
    };
    if let Err(error) = result {
        eprintln!("error: {error}");
        std::process::exit(2);
    }
}
