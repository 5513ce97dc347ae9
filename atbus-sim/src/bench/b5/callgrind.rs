//! Counting the instructions of a workload with `valgrind --tool=callgrind`: the runner starts a
//! program (normally the simulator's own binary with its hidden `b5-workload` command) under
//! callgrind for each message count and reads the total instruction count from the profile it
//! writes.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{COUNTS, Stack};

/// Why B5 could not be measured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum B5Error {
    /// `valgrind` is not installed (or not on `PATH`).
    #[error("valgrind not found ({0}); B5 needs `valgrind --tool=callgrind`")]
    ValgrindMissing(std::io::Error),
    /// valgrind ran but the workload failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The end of what it printed on stderr.
        stderr: String,
    },
    /// The profile could not be read.
    #[error("{path}: {source}")]
    Profile {
        /// The profile file.
        path: PathBuf,
        /// The read error.
        source: std::io::Error,
    },
    /// The profile has no `summary:` or `totals:` line.
    #[error("{0}: no instruction total in the profile")]
    NoTotal(PathBuf),
}

/// Instructions per message of one stack.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct B5Figure {
    /// The stack.
    pub stack: Stack,
    /// Instructions of the run with `COUNTS.0` messages.
    pub first: u64,
    /// Instructions of the run with `COUNTS.1` messages.
    pub second: u64,
    /// (second − first) / (COUNTS.1 − COUNTS.0).
    pub per_message: f64,
}

/// The valgrind version, or why there is none.
pub fn valgrind_version() -> Result<String, B5Error> {
    let output = Command::new("valgrind")
        .arg("--version")
        .output()
        .map_err(B5Error::ValgrindMissing)?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Counts the instructions of `exe b5-workload --stack S --count N` for both counts and returns
/// the instructions per message of `stack`. Profiles go to `dir`, and are removed once read.
pub fn measure(exe: &Path, dir: &Path, stack: Stack) -> Result<B5Figure, B5Error> {
    let first = count_instructions(exe, dir, stack, COUNTS.0)?;
    let second = count_instructions(exe, dir, stack, COUNTS.1)?;
    Ok(B5Figure {
        stack,
        first,
        second,
        per_message: (second as f64 - first as f64) / (COUNTS.1 - COUNTS.0) as f64,
    })
}

fn count_instructions(exe: &Path, dir: &Path, stack: Stack, count: u64) -> Result<u64, B5Error> {
    let profile = dir.join(format!(
        "atbus-b5-{}-{count}-{}.callgrind",
        stack.name(),
        std::process::id()
    ));
    let mut command = Command::new("valgrind");
    command
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", profile.display()))
        .arg(exe)
        .args(["b5-workload", "--stack", stack.name(), "--count"])
        .arg(count.to_string());
    let output = command.output().map_err(B5Error::ValgrindMissing)?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
        return Err(B5Error::Failed {
            command: format!("{command:?}"),
            status: output.status,
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    let text = std::fs::read_to_string(&profile).map_err(|source| B5Error::Profile {
        path: profile.clone(),
        source,
    })?;
    let _ = std::fs::remove_file(&profile);
    total_instructions(&text).ok_or(B5Error::NoTotal(profile))
}

/// The instruction total of a callgrind profile: its `summary:` line, else its `totals:` line
/// (the first event is `Ir` unless callgrind was told otherwise).
pub fn total_instructions(profile: &str) -> Option<u64> {
    let line = |key: &str| {
        profile
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
    };
    line("summary:").or_else(|| line("totals:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_read_from_summary_or_totals() {
        let profile = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nfn=main\n3 10\nsummary: 123456\ntotals: 123456\n";
        assert_eq!(total_instructions(profile), Some(123_456));
        assert_eq!(total_instructions("events: Ir\ntotals: 77 5\n"), Some(77));
        assert_eq!(total_instructions("events: Ir\n"), None);
    }
}
