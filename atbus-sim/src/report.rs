//! Human-readable summaries, CSV series and SVG plots of runs.

use std::fmt::Write as _;
use std::io;

use crate::engine::{Outcome, RunReport};
use crate::metrics::Metrics;

/// A multi-line summary of one run.
pub fn summary(report: &RunReport) -> String {
    let m = &report.metrics;
    let mut out = String::new();
    let latency = m.latency(None);
    let _ = writeln!(
        out,
        "scenario {} seed {}: {:?} at {:.3} s virtual, {} events",
        report.scenario,
        report.seed,
        report.outcome,
        m.ended_at.as_nanos() as f64 / 1e9,
        m.events
    );
    let _ = writeln!(
        out,
        "  messages: {} sent, {} completed, {} incomplete, {} refused",
        m.messages.len(),
        latency.count,
        m.incomplete(),
        m.send_failures
    );
    let _ = writeln!(
        out,
        "  latency ms: avg {:.1}  p50 {:.1}  p99 {:.1}  max {:.1}",
        latency.avg_ms, latency.p50_ms, latency.p99_ms, latency.max_ms
    );
    let _ = writeln!(out, "  goodput: {:.3} Mbit/s", m.goodput_bps() / 1e6);
    let _ = writeln!(
        out,
        "  anomalies: {} duplicate, {} out of order, {} corrupted deliveries",
        m.duplicate_deliveries, m.out_of_order_deliveries, m.corrupted_deliveries
    );
    for ((link, dir), stats) in &m.directions {
        let drops: Vec<String> = stats
            .drops
            .iter()
            .map(|(cause, n)| format!("{cause} {n}"))
            .collect();
        let _ = writeln!(
            out,
            "  link {link} {}: sent {} pkts / {} B, delivered {} pkts / {} B, dropped: {}",
            if *dir == 0 { "a->b" } else { "b->a" },
            stats.packets_sent,
            stats.bytes_sent,
            stats.packets_delivered,
            stats.bytes_delivered,
            if drops.is_empty() {
                "none".to_owned()
            } else {
                drops.join(", ")
            }
        );
    }
    out
}

/// Writes one line per message: id, workload, size, send time, completion time and latency, in
/// milliseconds of virtual time (empty when the message never completed).
pub fn write_csv(metrics: &Metrics, out: &mut impl io::Write) -> io::Result<()> {
    writeln!(out, "id,workload,size,sent_ms,completed_ms,latency_ms")?;
    for (id, m) in metrics.messages.iter().enumerate() {
        let sent = m.sent_at.as_nanos() as f64 / 1e6;
        match m.completed_at {
            Some(done) => {
                let done = done.as_nanos() as f64 / 1e6;
                writeln!(
                    out,
                    "{id},{},{},{sent:.3},{done:.3},{:.3}",
                    m.workload,
                    m.size,
                    done - sent
                )?
            }
            None => writeln!(out, "{id},{},{},{sent:.3},,", m.workload, m.size)?,
        }
    }
    Ok(())
}

const WIDTH: f64 = 800.0;
const PANEL: f64 = 220.0;
const MARGIN: f64 = 50.0;

fn axis(svg: &mut String, top: f64, title: &str, x_max: f64, y_max: f64, y_unit: &str) {
    let bottom = top + PANEL;
    let _ = write!(
        svg,
        r##"<text x="{MARGIN}" y="{}" font-size="14">{title}</text>
<line x1="{MARGIN}" y1="{bottom}" x2="{}" y2="{bottom}" stroke="black"/>
<line x1="{MARGIN}" y1="{top}" x2="{MARGIN}" y2="{bottom}" stroke="black"/>
<text x="{}" y="{}" font-size="11" text-anchor="end">{x_max:.1} s</text>
<text x="{}" y="{}" font-size="11">{y_max:.1} {y_unit}</text>
<text x="{}" y="{}" font-size="11" text-anchor="end">0</text>
"##,
        top - 8.0,
        WIDTH - MARGIN,
        WIDTH - MARGIN,
        bottom + 14.0,
        MARGIN + 4.0,
        top + 10.0,
        MARGIN - 4.0,
        bottom,
    );
}

fn polyline(
    svg: &mut String,
    points: &[(f64, f64)],
    top: f64,
    x_max: f64,
    y_max: f64,
    colour: &str,
) {
    let scale_x = (WIDTH - 2.0 * MARGIN) / x_max.max(f64::MIN_POSITIVE);
    let scale_y = PANEL / y_max.max(f64::MIN_POSITIVE);
    let path: Vec<String> = points
        .iter()
        .map(|(x, y)| {
            format!(
                "{:.1},{:.1}",
                MARGIN + x * scale_x,
                top + PANEL - y * scale_y
            )
        })
        .collect();
    let _ = writeln!(
        svg,
        r#"<polyline fill="none" stroke="{colour}" stroke-width="1" points="{}"/>"#,
        path.join(" ")
    );
}

/// An SVG with two panels: message latency over send time, and goodput over time in buckets of
/// `bucket_s` seconds.
pub fn svg_plot(report: &RunReport, bucket_s: f64) -> String {
    let m = &report.metrics;
    let latency: Vec<(f64, f64)> = m
        .messages
        .iter()
        .filter_map(|r| {
            Some((
                r.sent_at.as_nanos() as f64 / 1e9,
                r.latency()?.as_secs_f64() * 1e3,
            ))
        })
        .collect();
    let end_s = m.ended_at.as_nanos() as f64 / 1e9;
    let buckets = ((end_s / bucket_s).ceil() as usize).max(1);
    let mut bits = vec![0.0f64; buckets];
    for r in &m.messages {
        if let Some(done) = r.completed_at {
            let i = ((done.as_nanos() as f64 / 1e9) / bucket_s) as usize;
            bits[i.min(buckets - 1)] += r.size as f64 * 8.0;
        }
    }
    let goodput: Vec<(f64, f64)> = bits
        .iter()
        .enumerate()
        .map(|(i, b)| ((i as f64 + 0.5) * bucket_s, b / bucket_s / 1e6))
        .collect();
    let max_latency = latency.iter().map(|p| p.1).fold(0.0, f64::max);
    let max_goodput = goodput.iter().map(|p| p.1).fold(0.0, f64::max);
    let height = 2.0 * PANEL + 3.0 * MARGIN;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
"#
    );
    let top1 = MARGIN;
    let top2 = 2.0 * MARGIN + PANEL;
    axis(
        &mut svg,
        top1,
        &format!(
            "{} seed {}: latency (ms) by send time",
            report.scenario, report.seed
        ),
        end_s,
        max_latency,
        "ms",
    );
    polyline(&mut svg, &latency, top1, end_s, max_latency, "steelblue");
    axis(
        &mut svg,
        top2,
        &format!("goodput (Mbit/s), {bucket_s:.3} s buckets"),
        end_s,
        max_goodput,
        "Mbit/s",
    );
    polyline(&mut svg, &goodput, top2, end_s, max_goodput, "darkorange");
    svg.push_str("</svg>\n");
    svg
}

impl RunReport {
    /// The reliability check every transport test makes: the run completed (every message
    /// arrived), and none arrived twice, out of order or modified. The error says which.
    pub fn check_delivered_exactly_once(&self) -> Result<(), String> {
        let m = &self.metrics;
        if self.outcome != Outcome::Completed {
            let missing: Vec<String> = m
                .messages
                .iter()
                .enumerate()
                .filter(|(_, r)| r.completed_at.is_none())
                .map(|(i, r)| format!("#{i} sent {:?}", r.sent_at))
                .take(10)
                .collect();
            return Err(format!(
                "{:?} with {} of {} messages incomplete ({} refused by the sender), first: {missing:?}",
                self.outcome,
                m.incomplete(),
                m.messages.len(),
                m.send_failures
            ));
        }
        if m.duplicate_deliveries + m.out_of_order_deliveries + m.corrupted_deliveries > 0 {
            return Err(format!(
                "{} duplicate, {} out of order, {} corrupted",
                m.duplicate_deliveries, m.out_of_order_deliveries, m.corrupted_deliveries
            ));
        }
        Ok(())
    }
}
