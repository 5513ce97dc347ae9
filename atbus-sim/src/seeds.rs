//! Seeds for scenario tests, printed on failure and replayable from the environment.

use std::ops::Range;

/// Environment variable that replays one seed: `ATBUS_SIM_SEED=1234 cargo test ...` runs every
/// seeded scenario test with that seed only.
pub const SEED_ENV: &str = "ATBUS_SIM_SEED";

/// The seeds to run: `default`, or only the seed in [`SEED_ENV`] when it is set.
///
/// # Panics
///
/// When [`SEED_ENV`] is set to something that is not a number.
pub fn seeds(default: Range<u64>) -> Vec<u64> {
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
