//! The result of a run: [`Report`], its JSON form (a format contract: other
//! tools read these keys) and a wrk-like text summary.

use std::fmt::Write as _;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Everything measured in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    /// What was loaded: `http://{Host header}{path}`.
    #[serde(default)]
    pub url: String,
    /// Connections asked for.
    pub conns: usize,
    /// Event-loop threads used.
    pub threads: usize,
    /// `Some(rate)` for an open-loop run.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Length of the measured part of the run (warm-up excluded).
    pub duration_s: f64,
    /// Complete responses received in the measured part, whatever their status.
    pub requests: u64,
    /// `requests / duration_s`.
    pub throughput_rps: f64,
    /// Latency in microseconds. In an open-loop run it is measured from the
    /// moment the request was due (corrected for coordinated omission).
    pub latency_us: Latency,
    /// Open loop only: latency measured from the moment the request was
    /// actually written, which hides queueing in the load generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_uncorrected_us: Option<Latency>,
    /// Time from `connect()` to an established connection, microseconds.
    pub connect_us: Latency,
    pub errors: Errors,
    pub connections: Connections,
    /// One row per second of the measured run.
    pub timeline: Vec<Second>,
    /// The merged latency histogram, HDR V2 format, base64: decode with
    /// [`decode_histogram`] to merge runs or compute other percentiles.
    pub histogram: String,
    /// Open loop only: the histogram of `latency_uncorrected_us`, same encoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncorrected_histogram: Option<String>,
    /// The histogram of `connect_us`, same encoding (so `lab merge` merges connect times exactly).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub connect_histogram: String,
    /// `--tag`: the name of this loader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `--start-at`: when the run was told to start, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<f64>,
    pub host: Host,
    /// Preflight warnings (not errors) about the machine.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// A latency distribution summary; all values in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// 99.99th percentile.
    pub p9999: u64,
    pub max: u64,
    pub mean: f64,
    /// Standard deviation.
    #[serde(default)]
    pub stdev: f64,
}

impl Latency {
    pub fn from_histogram(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
            mean: h.mean(),
            stdev: h.stdev(),
        }
    }
}

/// Errors by kind. A sub-kind is counted in its kind too
/// (`connect == connect_refused + connect_timeout + connect_fd_limit +
/// connect_port_limit + connect_other`, `status == status_4xx + status_5xx`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Errors {
    /// Failed connects, every sub-kind.
    pub connect: u64,
    /// ECONNREFUSED: nobody listening, or the backlog overflowed.
    pub connect_refused: u64,
    /// No connection within the timeout.
    pub connect_timeout: u64,
    /// EMFILE / ENFILE: out of file descriptors.
    pub connect_fd_limit: u64,
    /// EADDRNOTAVAIL: out of local ports.
    pub connect_port_limit: u64,
    #[serde(default)]
    pub connect_other: u64,
    /// A read failed mid-response (e.g. a reset).
    pub read: u64,
    /// A write failed mid-request.
    pub write: u64,
    /// No complete response within the request timeout; the connection was reopened.
    pub timeout: u64,
    /// Responses other than 2xx/3xx.
    pub status: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    /// The server closed the connection with a request outstanding.
    pub closed: u64,
}

impl Errors {
    /// All errors, each counted once.
    pub fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout + self.status + self.closed
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Errors) {
        self.connect += other.connect;
        self.connect_refused += other.connect_refused;
        self.connect_timeout += other.connect_timeout;
        self.connect_fd_limit += other.connect_fd_limit;
        self.connect_port_limit += other.connect_port_limit;
        self.connect_other += other.connect_other;
        self.read += other.read;
        self.write += other.write;
        self.timeout += other.timeout;
        self.status += other.status;
        self.status_4xx += other.status_4xx;
        self.status_5xx += other.status_5xx;
        self.closed += other.closed;
    }
}

/// Connection counters.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Connections {
    /// Connections asked for.
    pub target: u64,
    /// Successful connects, reconnects included.
    pub established: u64,
    /// Most connections open at once.
    pub peak_open: u64,
}

/// One second of the timeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Second {
    /// Seconds since the measured part began.
    pub second: u64,
    pub requests: u64,
    pub errors: u64,
    /// 99th percentile latency of the responses completed in this second.
    pub p99_us: u64,
    /// Connections open at the end of this second.
    pub open_conns: u64,
}

/// The machine the load generator ran on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Host {
    pub cores: usize,
    pub kernel: String,
}

impl Host {
    pub fn current() -> Host {
        Host {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        }
    }
}

/// Serialize a histogram as HDR V2, base64-encoded (the `histogram` key).
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    match V2Serializer::new().serialize(h, &mut bytes) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(bytes),
        Err(_) => String::new(),
    }
}

/// The inverse of [`encode_histogram`]; `None` if the text is not one.
pub fn decode_histogram(text: &str) -> Option<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    Deserializer::new().deserialize(&mut &bytes[..]).ok()
}

/// Microseconds the way wrk prints them: `812.00us`, `3.21ms`, `1.05s`.
fn human_us(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.2}us")
    } else if us < 1_000_000.0 {
        format!("{:.2}ms", us / 1000.0)
    } else {
        format!("{:.2}s", us / 1_000_000.0)
    }
}

impl Report {
    /// The report as pretty-printed JSON (the format contract).
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serializing cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Read a report written by [`Report::to_json`].
    pub fn from_json(text: &str) -> Result<Report, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// A wrk-like text summary.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let l = &self.latency_us;
        let mode = match self.rate {
            Some(r) => format!(" (open loop, {r:.0} req/s)"),
            None => String::new(),
        };
        let _ = writeln!(
            s,
            "  {} threads and {} connections{mode}",
            self.threads, self.conns
        );
        let _ = writeln!(s, "  Thread Stats   Avg      Stdev     Max");
        let _ = writeln!(
            s,
            "    Latency   {:>8} {:>8} {:>8}",
            human_us(l.mean),
            human_us(l.stdev),
            human_us(l.max as f64)
        );
        let c = &self.connect_us;
        let _ = writeln!(
            s,
            "    Connect   {:>8} {:>8} {:>8}",
            human_us(c.mean),
            human_us(c.stdev),
            human_us(c.max as f64)
        );
        let _ = writeln!(s, "  Latency Distribution");
        let rows = [
            ("50%", l.p50),
            ("90%", l.p90),
            ("99%", l.p99),
            ("99.9%", l.p999),
            ("99.99%", l.p9999),
        ];
        for (name, v) in rows {
            let _ = writeln!(s, "  {name:>7} {:>9}", human_us(v as f64));
        }
        if let Some(u) = &self.latency_uncorrected_us {
            let _ = writeln!(
                s,
                "  Uncorrected (from send): p50 {} p99 {} max {}",
                human_us(u.p50 as f64),
                human_us(u.p99 as f64),
                human_us(u.max as f64)
            );
        }
        let _ = writeln!(
            s,
            "  {} requests in {:.2}s, {} connections established (peak {} open)",
            self.requests,
            self.duration_s,
            self.connections.established,
            self.connections.peak_open
        );
        let e = &self.errors;
        if e.total() > 0 {
            let _ = writeln!(
                s,
                "  Socket errors: connect {} (refused {}, timeout {}, fd limit {}, port limit {}, other {}), \
                 read {}, write {}, timeout {}, closed {}",
                e.connect,
                e.connect_refused,
                e.connect_timeout,
                e.connect_fd_limit,
                e.connect_port_limit,
                e.connect_other,
                e.read,
                e.write,
                e.timeout,
                e.closed
            );
            if e.status > 0 {
                let _ = writeln!(
                    s,
                    "  Non-2xx or 3xx responses: {} (4xx {}, 5xx {})",
                    e.status, e.status_4xx, e.status_5xx
                );
            }
        }
        let _ = writeln!(s, "Requests/sec: {:>10.2}", self.throughput_rps);
        for w in &self.warnings {
            let _ = writeln!(s, "warning: {w}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_roundtrip() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for v in [1, 10, 100, 1000, 123_456] {
            h.record(v).unwrap();
        }
        let back = decode_histogram(&encode_histogram(&h)).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(back.max(), h.max());
        assert!(decode_histogram("not base64!").is_none());
    }

    #[test]
    fn human_units() {
        assert_eq!(human_us(812.0), "812.00us");
        assert_eq!(human_us(3210.0), "3.21ms");
        assert_eq!(human_us(1_050_000.0), "1.05s");
    }
}
