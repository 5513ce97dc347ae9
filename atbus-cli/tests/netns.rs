//! Multi-host: two real processes in separate network namespaces joined by a veth pair. An
//! `atbus run --echo` node in one, `atbus probe` in the other, over TCP and UDP, then again
//! with `tc netem` loss and delay on the link when the kernel has it.
//!
//! Needs root and network namespaces (`ip netns`); where they are unavailable the test says so
//! and passes without running (it cannot prove anything there).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use atbus_driver::conformance::netns::{Link, run};

const ATBUS: &str = env!("CARGO_BIN_EXE_atbus");

struct Echo(Child);

impl Drop for Echo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn probe(link: &Link, address: &str) -> Result<String, String> {
    let peer = format!("echo-1={address}");
    // The echo node may still be starting: a refused first try is retried.
    let mut last = String::new();
    for _ in 0..3 {
        match run(&[
            "ip",
            "netns",
            "exec",
            link.a(),
            ATBUS,
            "probe",
            "--peer",
            &peer,
            "--count",
            "2000",
            "--size",
            "700",
            "--timeout",
            "60",
        ]) {
            Ok(out) => return Ok(out),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Err(last)
}

#[test]
fn echo_across_network_namespaces() {
    // Not root, or no namespaces: the reason says which.
    let link = match Link::create() {
        Ok(link) => link,
        Err(error) => {
            eprintln!("SKIP echo_across_network_namespaces: {error}");
            return;
        }
    };
    let tcp = format!("tcp://{}:7101", link.address_b());
    let udp = format!("udp://{}:7102", link.address_b());
    let echo = Command::new("ip")
        .args([
            "netns",
            "exec",
            link.b(),
            ATBUS,
            "run",
            "--name",
            "echo-1",
            "--echo",
        ])
        .args(["--listen", &tcp, "--listen", &udp])
        .stdout(Stdio::null())
        .spawn()
        .expect("ip netns exec runs");
    let _echo = Echo(echo);
    std::thread::sleep(Duration::from_millis(500));
    for address in [&tcp, &udp] {
        let out = probe(&link, address).unwrap_or_else(|e| panic!("{address}: {e}"));
        eprint!("{out}");
    }
    // With loss and delay on the link, when the kernel has netem.
    let netem = run(&[
        "ip",
        "netns",
        "exec",
        link.a(),
        "tc",
        "qdisc",
        "add",
        "dev",
        link.device_a(),
        "root",
        "netem",
        "loss",
        "3%",
        "delay",
        "5ms",
        "1ms",
    ]);
    match netem {
        Ok(_) => {
            for address in [&tcp, &udp] {
                let out = probe(&link, address)
                    .unwrap_or_else(|e| panic!("{address} with netem loss: {e}"));
                eprint!("with 3% loss, 5 ms: {out}");
            }
        }
        Err(error) => eprintln!("netem part skipped (no tc netem here): {error}"),
    }
}
