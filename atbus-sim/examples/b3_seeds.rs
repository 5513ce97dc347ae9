//! B3 links (a) and (b) over several seeds, every contender: how much of the seed-0 comparison
//! that `atbus-sim b3` prints holds for other loss patterns. Link (c) has no random loss and is
//! left out.
//!
//! ```sh
//! cargo run --release -p atbus-sim --example b3_seeds -- 10
//! ```

use atbus_sim::Outcome;
use atbus_sim::bench::b3::{self, B3_LINKS, Contender};

fn main() -> Result<(), atbus_sim::ScenarioError> {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    println!("goodput as % of link rate, seeds 0..{seeds}; * = did not complete");
    for link in &B3_LINKS[..2] {
        for contender in Contender::ALL {
            let mut cells = Vec::new();
            let mut sum = 0.0;
            let mut failed = Vec::new();
            for seed in 0..seeds {
                let r = b3::run(link, contender, seed)?;
                sum += r.fraction;
                let mark = if r.outcome == Outcome::Completed {
                    ""
                } else {
                    failed.push(format!(
                        "seed {seed}: {:?} at {:.1} s",
                        r.outcome, r.seconds
                    ));
                    "*"
                };
                cells.push(format!("{:.1}{mark}", 100.0 * r.fraction));
            }
            println!(
                "{} {:<14} mean {:5.1}  [{}]",
                link.preset,
                contender.name(),
                100.0 * sum / seeds.max(1) as f64,
                cells.join(" ")
            );
            if !failed.is_empty() {
                println!("      {}", failed.join("; "));
            }
        }
    }
    Ok(())
}
