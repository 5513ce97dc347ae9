//! A time series of one B3 transfer, seen from the sender: datagrams and bits sent, packets
//! declared lost, and (atbus) the smoothed RTT, per interval — what the diagnosis in
//! `docs/BENCHMARKS.md` is built on.
//!
//! ```sh
//! cargo run --release -p atbus-sim --example b3_trace -- b3b atbus 50     # link, endpoint, ms
//! cargo run --release -p atbus-sim --example b3_trace -- b3b quinn-bbr 250
//! SEED=3 cargo run --release -p atbus-sim --example b3_trace -- b3b quinn-bbr 250
//! ```

use std::cell::RefCell;
use std::rc::Rc;

use atbus_core::connection::ConnectionConfig;
use atbus_sim::bench::b3::{self, B3_LINKS};
use atbus_sim::core::Timestamp;
use atbus_sim::{
    AtbusEndpoint, Endpoint, LinkId, LinkKind, NodeId, QuinnConfig, QuinnCongestion, QuinnEndpoint,
    Received, SendError, Simulator, Transmit, presets,
};
use bytes::Bytes;

#[derive(Default, Clone, Copy)]
struct Interval {
    datagrams: u64,
    bytes: u64,
    lost: u64,
    srtt_ms: Option<u64>,
}

enum Stack {
    Atbus(Box<AtbusEndpoint>),
    Quinn(Box<QuinnEndpoint>),
}

/// Wraps the sender's endpoint and records what it does.
struct Recorder {
    stack: Stack,
    interval_ms: u64,
    series: Rc<RefCell<Vec<Interval>>>,
    lost_so_far: u64,
}

impl Recorder {
    fn endpoint(&mut self) -> &mut dyn Endpoint {
        match &mut self.stack {
            Stack::Atbus(e) => e.as_mut(),
            Stack::Quinn(e) => e.as_mut(),
        }
    }

    fn at(&self, now: Timestamp) -> std::cell::RefMut<'_, Interval> {
        let i = (now.as_millis() / self.interval_ms) as usize;
        let mut series = self.series.borrow_mut();
        if series.len() <= i {
            series.resize(i + 1, Interval::default());
        }
        std::cell::RefMut::map(series, |s| &mut s[i])
    }

    fn sample(&mut self, now: Timestamp) {
        let link = LinkId(0);
        let (lost, srtt) = match &self.stack {
            Stack::Atbus(e) => match e.connection(link) {
                Some(c) => (
                    c.metrics().packets_lost,
                    Some(c.rtt().smoothed().as_millis() as u64),
                ),
                None => return,
            },
            Stack::Quinn(e) => match e.connection(link) {
                Some(c) => (
                    c.stats().path.lost_packets,
                    Some(c.rtt().as_millis() as u64),
                ),
                None => return,
            },
        };
        let new = lost - self.lost_so_far;
        self.lost_so_far = lost;
        let mut interval = self.at(now);
        interval.lost += new;
        interval.srtt_ms = srtt;
    }
}

impl Endpoint for Recorder {
    fn handle_link_up(&mut self, now: Timestamp, link: LinkId, peer: NodeId, kind: LinkKind) {
        self.endpoint().handle_link_up(now, link, peer, kind);
    }
    fn handle_link_down(&mut self, now: Timestamp, link: LinkId) {
        self.endpoint().handle_link_down(now, link);
    }
    fn handle_input(&mut self, now: Timestamp, link: LinkId, data: Bytes) {
        self.endpoint().handle_input(now, link, data);
        self.sample(now);
    }
    fn handle_timeout(&mut self, now: Timestamp) {
        self.endpoint().handle_timeout(now);
        self.sample(now);
    }
    fn send_message(
        &mut self,
        now: Timestamp,
        to: NodeId,
        stream: u64,
        payload: Bytes,
    ) -> Result<(), SendError> {
        self.endpoint().send_message(now, to, stream, payload)
    }
    fn poll_transmit(&mut self, now: Timestamp) -> Option<Transmit> {
        let transmit = self.endpoint().poll_transmit(now)?;
        let mut interval = self.at(now);
        interval.datagrams += 1;
        interval.bytes += transmit.data.len() as u64;
        drop(interval);
        Some(transmit)
    }
    fn poll_received(&mut self) -> Option<Received> {
        self.endpoint().poll_received()
    }
    fn poll_timeout(&mut self) -> Option<Timestamp> {
        self.endpoint().poll_timeout()
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let preset = args.next().unwrap_or_else(|| "b3b".into());
    let stack = args.next().unwrap_or_else(|| "atbus".into());
    let interval_ms: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(250);
    let seed: u64 = std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let Some(link) = B3_LINKS.iter().find(|l| l.preset == preset) else {
        eprintln!("link: b3a, b3b or b3c");
        std::process::exit(2);
    };
    let series = Rc::new(RefCell::new(Vec::new()));
    let mut factory = |node: NodeId, _: &str| -> Box<dyn Endpoint> {
        let endpoint = match stack.as_str() {
            "quinn-bbr" => Stack::Quinn(Box::new(QuinnEndpoint::new(
                node,
                QuinnConfig::new(seed, QuinnCongestion::Bbr),
            ))),
            "quinn-cubic" => Stack::Quinn(Box::new(QuinnEndpoint::new(
                node,
                QuinnConfig::new(seed, QuinnCongestion::Cubic),
            ))),
            _ => Stack::Atbus(Box::new(AtbusEndpoint::new(ConnectionConfig::default()))),
        };
        // Only the sender (node 0) records.
        let series = if node.0 == 0 {
            series.clone()
        } else {
            Rc::new(RefCell::new(Vec::new()))
        };
        Box::new(Recorder {
            stack: endpoint,
            interval_ms,
            series,
            lost_so_far: 0,
        })
    };
    let config = presets::by_name(link.preset).expect("B3 preset");
    let report = Simulator::new(b3::scenario(link, config, seed), &mut factory)
        .expect("valid scenario")
        .run();
    let drops = &report.metrics.directions[&(0, 0)].drops;
    println!(
        "{} {stack} seed {seed}: {:?} at {:.2} s; sender->receiver drops {drops:?}",
        link.preset,
        report.outcome,
        report.metrics.ended_at.as_nanos() as f64 / 1e9
    );
    println!("     t s  datagrams  Mbit/s   lost  srtt ms");
    for (i, x) in series.borrow().iter().enumerate() {
        println!(
            "{:8.2} {:10} {:7.1} {:6} {:>8}",
            (i as u64 * interval_ms) as f64 / 1e3,
            x.datagrams,
            x.bytes as f64 * 8.0 / (interval_ms as f64 / 1e3) / 1e6,
            x.lost,
            x.srtt_ms.map_or("-".into(), |v| v.to_string())
        );
    }
}
