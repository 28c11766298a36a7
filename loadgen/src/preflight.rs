//! Checks before a run: will the machine hold the connections asked for?
//!
//! A run that needs more file descriptors or local ports than the machine
//! has does not fail loudly by itself: it produces a storm of EMFILE or
//! EADDRNOTAVAIL connect errors and a meaningless result. Refusing up front,
//! with the name of the limit and the fix, is kinder.

use std::fs;

use crate::config::Config;
use crate::error::Error;
use crate::sys;

/// Descriptors needed beyond one per connection: stdio, the pollers, the
/// progress bar, the files a test harness keeps open.
const FD_MARGIN: u64 = 64;

/// Raise the fd limit, then check `config` against the fd limit and the
/// ephemeral port range. Returns warnings that do not stop the run (a
/// connect rate above `net.core.somaxconn`).
pub fn preflight(config: &Config) -> Result<Vec<String>, Error> {
    config.validate()?;
    let conns = config.conns as u64;
    let mut warnings = Vec::new();

    let limit = sys::raise_nofile_limit()?;
    let need = conns + FD_MARGIN + 2 * config.effective_threads() as u64;
    if need > limit {
        return Err(Error::Limit {
            limit: "file descriptors",
            need,
            have: limit,
            fix: "raise `ulimit -n` (the hard limit) or use fewer --conns",
        });
    }

    // Every TCP connection to one address needs its own local port (a Unix socket needs none).
    let ports_range = if config.target.is_unix() {
        None
    } else {
        read_pair("/proc/sys/net/ipv4/ip_local_port_range")
    };
    if let Some((lo, hi)) = ports_range {
        let ports = hi.saturating_sub(lo) + 1;
        if conns > ports {
            return Err(Error::Limit {
                limit: "local ports to one destination",
                need: conns,
                have: ports,
                fix: "widen net.ipv4.ip_local_port_range or use fewer --conns",
            });
        }
    }

    if let Some(somaxconn) = read_number("/proc/sys/net/core/somaxconn") {
        if config.connect_rate > somaxconn as f64 {
            warnings.push(format!(
                "connect rate {}/s is above net.core.somaxconn ({somaxconn}): \
                 a slow accept loop may see SYNs dropped; lower --connect-rate",
                config.connect_rate
            ));
        }
    }
    Ok(warnings)
}

fn read_number(path: &str) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn read_pair(path: &str) -> Option<(u64, u64)> {
    let text = fs::read_to_string(path).ok()?;
    let mut it = text.split_whitespace().map(|s| s.parse::<u64>());
    match (it.next(), it.next()) {
        (Some(Ok(a)), Some(Ok(b))) => Some((a, b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_conns_names_the_limit() {
        let config = Config {
            conns: 10_000_000,
            ..Config::default()
        };
        let err = preflight(&config).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("need"), "{msg}");
        assert!(msg.contains("--conns"), "{msg}");
    }

    #[test]
    fn small_runs_pass() {
        assert!(preflight(&Config::default()).is_ok());
    }
}
