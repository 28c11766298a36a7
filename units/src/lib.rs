//! # lab-units: how the lab reads a duration typed on the command line
//!
//! One parser for every duration flag, the servers' (`--header-timeout 10s`,
//! `--maintenance-interval 500ms`) and the load generator's (`-d 10s`), so that they all accept
//! the same spellings. It depends on nothing, so that both the server crates and `loadgen` (which
//! depends on no server crate) can use it.

#![deny(unsafe_code)]

use std::time::Duration;

/// Parses `N`, `Nms`, `Ns`, `Nm` or `Nh` (N may have a fraction: `1.5s`; a bare N is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = || format!("{s:?}: expected N, Nms, Ns, Nm or Nh");
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "s", "10x", "-1s", "1e3s", "ms"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
