//! Seeds for scenario tests, printed on failure and replayable from the environment.

use std::ops::Range;

/// Environment variable that replays one seed: `ATBUS_SIM_SEED=1234 cargo test ...` runs every
/// seeded scenario test with that seed only.
pub const SEED_ENV: &str = "ATBUS_SIM_SEED";

/// Environment variable that widens every seeded scenario test to seeds `0..N`: a sweep,
/// `ATBUS_SIM_SEEDS=200 cargo test --release -p atbus-sim ...`.
pub const SEEDS_ENV: &str = "ATBUS_SIM_SEEDS";

/// The seeds to run: `default`, or only the seed in [`SEED_ENV`] when it is set, or `0..N`
/// when [`SEEDS_ENV`] is.
///
/// # Panics
///
/// When either variable is set to something that is not a number.
pub fn seeds(default: Range<u64>) -> Vec<u64> {
    if let Ok(value) = std::env::var(SEEDS_ENV) {
        let n: u64 = value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{SEEDS_ENV}={value:?} is not a number"));
        return (0..n).collect();
    }
    match std::env::var(SEED_ENV) {
        Ok(value) => vec![
            value
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("{SEED_ENV}={value:?} is not a number")),
        ],
        Err(_) => default.collect(),
    }
}

/// Runs `check` for every seed of [`seeds`]`(default)`; on the first failure, panics with the
/// test name, the seed, the failure and the command that replays it.
pub fn for_each_seed(
    test: &str,
    default: Range<u64>,
    mut check: impl FnMut(u64) -> Result<(), String>,
) {
    for seed in seeds(default) {
        if let Err(failure) = check(seed) {
            panic!(
                "{test} failed with seed {seed}: {failure}\nreplay: {SEED_ENV}={seed} cargo test -p atbus-sim {test}"
            );
        }
    }
}
