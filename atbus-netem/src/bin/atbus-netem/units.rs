//! Parsing of the command line's quantities: durations (`20ms`), rates (`10mbit`), sizes
//! (`64kb`), probabilities and burst-loss triples.

use std::time::Duration;

use atbus_netem::BurstLoss;

/// A quantity on the command line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// The number part is missing or not a number.
    #[error("{input:?} is not a number with a unit{hint}")]
    Number {
        /// What was given.
        input: String,
        /// The units allowed, for the message.
        hint: &'static str,
    },
    /// The unit is not one this quantity knows.
    #[error("{input:?} has an unknown unit{hint}")]
    Unit {
        /// What was given.
        input: String,
        /// The units allowed, for the message.
        hint: &'static str,
    },
    /// The value is too large to represent.
    #[error("{input:?} is too large")]
    TooLarge {
        /// What was given.
        input: String,
    },
}

const DURATION_UNITS: &str = " (use ns, us, ms or s, for example 20ms)";
const RATE_UNITS: &str = " (use bit, kbit, mbit, gbit for bits per second, or bps, kbps, mbps, gbps or a bare number for bytes per second)";
const SIZE_UNITS: &str = " (use b, kb, mb or a bare number of bytes; kb = 1024 bytes)";

/// Splits `"12.5ms"` into `(12.5, "ms")`.
fn split(input: &str, hint: &'static str) -> Result<(f64, String), UnitError> {
    let input = input.trim();
    let at = input
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(input.len());
    let (number, unit) = input.split_at(at);
    let value: f64 = number.parse().map_err(|_| UnitError::Number {
        input: input.to_owned(),
        hint,
    })?;
    Ok((value, unit.trim().to_ascii_lowercase()))
}

fn scaled(input: &str, value: f64, scale: f64) -> Result<f64, UnitError> {
    let scaled = value * scale;
    if scaled.is_finite() && scaled < u64::MAX as f64 {
        Ok(scaled)
    } else {
        Err(UnitError::TooLarge {
            input: input.to_owned(),
        })
    }
}

/// A duration: `20ms`, `1.5s`, `500us`, `0`.
pub fn duration(input: &str) -> Result<Duration, UnitError> {
    let (value, unit) = split(input, DURATION_UNITS)?;
    let nanos_per = match unit.as_str() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "" if value == 0.0 => 0.0,
        _ => {
            return Err(UnitError::Unit {
                input: input.to_owned(),
                hint: DURATION_UNITS,
            });
        }
    };
    Ok(Duration::from_nanos(
        scaled(input, value, nanos_per)?.round() as u64,
    ))
}

/// A rate in bytes per second, with `tc`'s units: `10mbit` is 10,000,000 bits per second,
/// `100kbps` and `100000` are 100,000 bytes per second (multiples of 1,000).
pub fn rate(input: &str) -> Result<u64, UnitError> {
    let (value, unit) = split(input, RATE_UNITS)?;
    let bytes_per = match unit.as_str() {
        "bit" => 1.0 / 8.0,
        "kbit" => 1e3 / 8.0,
        "mbit" => 1e6 / 8.0,
        "gbit" => 1e9 / 8.0,
        "" | "bps" => 1.0,
        "kbps" => 1e3,
        "mbps" => 1e6,
        "gbps" => 1e9,
        _ => {
            return Err(UnitError::Unit {
                input: input.to_owned(),
                hint: RATE_UNITS,
            });
        }
    };
    Ok(scaled(input, value, bytes_per)?.round() as u64)
}

/// A size in bytes: `64kb` (65,536), `1mb`, `1500`.
pub fn size(input: &str) -> Result<usize, UnitError> {
    let (value, unit) = split(input, SIZE_UNITS)?;
    let bytes_per = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        _ => {
            return Err(UnitError::Unit {
                input: input.to_owned(),
                hint: SIZE_UNITS,
            });
        }
    };
    let bytes = scaled(input, value, bytes_per)?.round();
    usize::try_from(bytes as u64).map_err(|_| UnitError::TooLarge {
        input: input.to_owned(),
    })
}

/// A probability, as a fraction (`0.05`) or a percentage (`5%`). Range checks are left to
/// [`atbus_netem::Impairments::validate`].
pub fn probability(input: &str) -> Result<f64, UnitError> {
    let input = input.trim();
    let (number, scale) = match input.strip_suffix('%') {
        Some(number) => (number, 0.01),
        None => (input, 1.0),
    };
    number
        .trim()
        .parse::<f64>()
        .map(|p| p * scale)
        .map_err(|_| UnitError::Number {
            input: input.to_owned(),
            hint: " (use a fraction such as 0.05 or a percentage such as 5%)",
        })
}

/// Gilbert–Elliott burst loss: `P,R` or `P,R,LOSS_IN_BAD` (which defaults to 1).
pub fn burst(input: &str) -> Result<BurstLoss, UnitError> {
    let parts: Vec<&str> = input.split(',').collect();
    let bad = || UnitError::Number {
        input: input.to_owned(),
        hint: " (use P,R or P,R,LOSS_IN_BAD, for example 0.01,0.3)",
    };
    let (p, r, loss_in_bad) = match parts.as_slice() {
        [p, r] => (*p, *r, "1"),
        [p, r, l] => (*p, *r, *l),
        _ => return Err(bad()),
    };
    let get = |s: &str| probability(s).map_err(|_| bad());
    Ok(BurstLoss {
        p: get(p)?,
        r: get(r)?,
        loss_in_bad: get(loss_in_bad)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("20ms"), Ok(Duration::from_millis(20)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("500us"), Ok(Duration::from_micros(500)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        assert!(matches!(duration("20"), Err(UnitError::Unit { .. })));
        assert!(matches!(duration("ms"), Err(UnitError::Number { .. })));
        assert!(matches!(duration("1e3s"), Err(UnitError::Unit { .. })));
        assert!(matches!(
            duration("99999999999999999999999s"),
            Err(UnitError::TooLarge { .. })
        ));
    }

    #[test]
    fn rates_follow_tc() {
        assert_eq!(rate("10mbit"), Ok(1_250_000));
        assert_eq!(rate("1gbit"), Ok(125_000_000));
        assert_eq!(rate("800kbit"), Ok(100_000));
        assert_eq!(rate("100kbps"), Ok(100_000));
        assert_eq!(rate("1500"), Ok(1500));
        assert!(matches!(rate("10mb"), Err(UnitError::Unit { .. })));
    }

    #[test]
    fn sizes() {
        assert_eq!(size("64kb"), Ok(65_536));
        assert_eq!(size("1mb"), Ok(1 << 20));
        assert_eq!(size("1500"), Ok(1500));
        assert!(size("1tb").is_err());
    }

    #[test]
    fn probabilities_and_bursts() {
        assert_eq!(probability("0.05"), Ok(0.05));
        assert_eq!(probability("5%"), Ok(0.05));
        assert!(probability("x").is_err());
        assert_eq!(
            burst("0.01,0.3"),
            Ok(BurstLoss {
                p: 0.01,
                r: 0.3,
                loss_in_bad: 1.0
            })
        );
        assert_eq!(burst("0.01,0.3,0.5").map(|b| b.loss_in_bad), Ok(0.5));
        assert!(burst("0.01").is_err());
    }
}
