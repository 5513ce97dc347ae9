//! Multi-host: two real processes in separate network namespaces joined by a veth pair. An
//! `atbus run --echo` node in one, `atbus probe` in the other, over TCP and UDP, then again
//! with `tc netem` loss and delay on the link when the kernel has it.
//!
//! Needs root and network namespaces (`ip netns`); where they are unavailable the test says so
//! and passes without running (it cannot prove anything there).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ATBUS: &str = env!("CARGO_BIN_EXE_atbus");

fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Two namespaces and a veth pair between them, removed on drop.
struct Link {
    a: String,
    b: String,
    subnet: String,
}

impl Link {
    fn create() -> Result<Self, String> {
        let id = std::process::id() % 250;
        let link = Link {
            a: format!("atbus-a-{id}"),
            b: format!("atbus-b-{id}"),
            subnet: format!("10.231.{id}"),
        };
        run(&["ip", "netns", "add", &link.a])?;
        run(&["ip", "netns", "add", &link.b])?;
        let (va, vb) = (format!("vatb{id}a"), format!("vatb{id}b"));
        run(&[
            "ip", "link", "add", &va, "type", "veth", "peer", "name", &vb,
        ])?;
        run(&["ip", "link", "set", &va, "netns", &link.a])?;
        run(&["ip", "link", "set", &vb, "netns", &link.b])?;
        for (ns, dev, host) in [(&link.a, &va, 1), (&link.b, &vb, 2)] {
            let address = format!("{}.{host}/24", link.subnet);
            run(&["ip", "-n", ns, "addr", "add", &address, "dev", dev])?;
            run(&["ip", "-n", ns, "link", "set", dev, "up"])?;
            run(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(link)
    }

    fn device_a(&self) -> String {
        format!("vatb{}a", std::process::id() % 250)
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let _ = run(&["ip", "netns", "del", &self.a]);
        let _ = run(&["ip", "netns", "del", &self.b]);
    }
}

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
            &link.a,
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
    let root = run(&["id", "-u"]).is_ok_and(|uid| uid.trim() == "0");
    if !root {
        eprintln!("SKIP echo_across_network_namespaces: needs root for ip netns");
        return;
    }
    let link = match Link::create() {
        Ok(link) => link,
        Err(error) => {
            eprintln!(
                "SKIP echo_across_network_namespaces: network namespaces unavailable: {error}"
            );
            return;
        }
    };
    let tcp = format!("tcp://{}.2:7101", link.subnet);
    let udp = format!("udp://{}.2:7102", link.subnet);
    let echo = Command::new("ip")
        .args([
            "netns", "exec", &link.b, ATBUS, "run", "--name", "echo-1", "--echo",
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
        &link.a,
        "tc",
        "qdisc",
        "add",
        "dev",
        &link.device_a(),
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
