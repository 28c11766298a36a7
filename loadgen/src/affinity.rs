//! Pinning the server and the load generator to CPUs of their own (`lab run --server-cpus 0
//! --load-cpus 1`), so that they stop competing for the same cores and the scheduler's choices
//! stop moving the figures from run to run. On a 2-core machine the pair `0` / `1` gives each
//! side one core; unpinned, both may run on both.
//!
//! A list is written as `taskset -c` takes it: `0`, `1`, `0-1`, `0,2-3`. A CPU this process may
//! not run on (it does not exist, or a cgroup or `taskset` excluded it) is refused.

use std::fmt::Write as _;

/// Parses a CPU list (`0`, `0-1`, `0,2-3`) and checks that every CPU in it is one this process
/// may run on. The error says which CPU and which there are (the caller names the flag).
pub fn parse_cpus(text: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let num = |s: &str| {
            s.trim().parse::<usize>().map_err(|_| {
                format!("{part:?} is not a CPU number or range (e.g. 0, 1, 0-1, 0,2-3)")
            })
        };
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (num(lo)?, num(hi)?),
            None => (num(part)?, num(part)?),
        };
        if lo > hi {
            return Err(format!("{part:?}: the range is backwards"));
        }
        cpus.extend(lo..=hi);
    }
    cpus.sort_unstable();
    cpus.dedup();
    let allowed = crate::sys::allowed_cpus().map_err(|e| format!("cannot read CPUs: {e}"))?;
    if let Some(missing) = cpus.iter().find(|c| !allowed.contains(c)) {
        return Err(format!(
            "no CPU {missing} here (this machine lets lab run on CPUs {})",
            format_cpus(&allowed)
        ));
    }
    Ok(cpus)
}

/// A CPU list in `taskset -c` form: `0-1`, `0,2-3`.
pub fn format_cpus(cpus: &[usize]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if j > i {
            let _ = write!(out, "{}-{}", cpus[i], cpus[j]);
        } else {
            let _ = write!(out, "{}", cpus[i]);
        }
        i = j + 1;
    }
    out
}

/// Pins the calling thread to `cpus` (the load generator's workers do this as they start).
pub fn pin_current_thread(cpus: &[usize]) -> std::io::Result<()> {
    crate::sys::pin_current_thread(cpus)
}

/// Makes the program `command` starts run on `cpus` only, with every thread and process it
/// starts (the affinity is set in the child before exec and inherited from there).
pub fn pin_command(command: &mut std::process::Command, cpus: &[usize]) -> std::io::Result<()> {
    crate::sys::pin_on_exec(command, cpus)
}

#[cfg(test)]
mod tests {
    use super::{format_cpus, parse_cpus};

    #[test]
    fn lists_parse_and_print_as_taskset_writes_them() {
        assert_eq!(parse_cpus("0").unwrap(), vec![0]);
        assert_eq!(format_cpus(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(format_cpus(&[]), "");
        for bad in ["", "x", "1-0", "0-", "-1"] {
            assert!(parse_cpus(bad).is_err(), "{bad:?}");
        }
        let err = parse_cpus("100000").unwrap_err();
        assert!(err.contains("no CPU 100000"), "{err}");
    }
}
