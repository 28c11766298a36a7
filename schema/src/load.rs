//! What the load generator measured: [`LoadReport`], its JSON form and a
//! wrk-like text summary.

use std::fmt::Write as _;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Everything the load generator measured in one run (`lab load --json`;
/// flattened into [`crate::RunReport`] by `lab run`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadReport {
    /// The version of this format ([`crate::SCHEMA_VERSION`]); files written
    /// before it had a version read as 1.
    #[serde(default = "crate::version_one")]
    pub schema_version: u32,
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
    /// The measured duration asked for (`duration_s` is shorter when the
    /// run was interrupted or a request budget ran out first).
    #[serde(default)]
    pub planned_s: f64,
    /// The run was stopped early (Ctrl-C, SIGTERM): its figures cover
    /// `duration_s` of `planned_s`.
    #[serde(default)]
    pub interrupted: bool,
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
    /// Open loop only: how late each request left the load generator,
    /// from its due time to its write, when the connection was free to send
    /// it. A p99 above 1 ms means the generator, not the server, limited the
    /// measurement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_lag_us: Option<Latency>,
    pub errors: Errors,
    pub connections: Connections,
    /// Which connections were served, and how evenly.
    #[serde(default)]
    pub service: Service,
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
    /// What the load generator's own threads did over the measured time. Absent in reports
    /// written before it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loader: Option<Loader>,
}

/// How busy each load-generator thread was over the measured time, from the kernel's account of
/// it (`/proc/thread-self/schedstat`). A thread that was never idle (on a CPU, or ready and
/// waiting for one) could not have sent sooner: the throughput measured is then, at least in
/// part, the generator's limit or the CPU it shares with the server, not the server's alone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Loader {
    /// Per thread: the share of the measured time it ran on a CPU.
    pub on_cpu: Vec<f64>,
    /// Per thread: the share of the measured time it was ready to run but waited for a CPU
    /// (another thread or process, the server's perhaps, had it).
    pub waiting: Vec<f64>,
}

/// Which limit a saturated load generator points at ([`Loader::limit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoaderLimit {
    /// A thread ran on a CPU nearly all the measured time: the generator could not send faster.
    Generator,
    /// A thread was ready nearly all the time but ran much less: it waited for CPUs the server,
    /// or other work on the machine, had. The CPUs were oversubscribed.
    SharedCpus,
}

impl Loader {
    /// A thread busy (on a CPU or waiting for one) for at least this share of the measured time
    /// is called saturated.
    pub const SATURATED: f64 = 0.9;

    /// The busiest thread: (its index, on a CPU, waiting), by the sum of the two.
    pub fn busiest(&self) -> Option<(usize, f64, f64)> {
        self.on_cpu
            .iter()
            .zip(&self.waiting)
            .enumerate()
            .map(|(i, (&c, &w))| (i, c, w))
            .max_by(|a, b| (a.1 + a.2).total_cmp(&(b.1 + b.2)))
    }

    /// Whether some thread was saturated ([`Loader::SATURATED`]).
    pub fn saturated(&self) -> bool {
        self.limit().is_some()
    }

    /// What a saturated generator says of the throughput, if it was saturated: the generator
    /// itself (a thread that ran nearly all the time), or the CPUs (a thread that was ready
    /// nearly all the time but waited for a CPU the server, or other work, had).
    pub fn limit(&self) -> Option<LoaderLimit> {
        let (_, on_cpu, waiting) = self.busiest()?;
        if on_cpu + waiting < Self::SATURATED {
            return None;
        }
        Some(if on_cpu >= Self::SATURATED {
            LoaderLimit::Generator
        } else {
            LoaderLimit::SharedCpus
        })
    }

    /// `busiest thread on a CPU 81% and waiting for one 12% of the measured time`.
    pub fn describe(&self) -> Option<String> {
        let (_, c, w) = self.busiest()?;
        let one = if self.on_cpu.len() == 1 {
            "its thread"
        } else {
            "its busiest thread"
        };
        Some(format!(
            "{one} on a CPU {:.0}% and waiting for one {:.0}% of the measured time",
            100.0 * c,
            100.0 * w
        ))
    }
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

    /// Add `other`'s counts to these.
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

/// Connection counters, at the TCP level.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Connections {
    /// Connections asked for.
    pub target: u64,
    /// Successful connects, reconnects included. A connect succeeds when the
    /// kernel completes the handshake, which it does for connections waiting
    /// in the server's listen backlog too: established is not served (see
    /// [`Service`]).
    pub established: u64,
    /// Most connections open at once (backlog included, as above).
    pub peak_open: u64,
}

/// Service accounting per connection slot (one of the `conns` the run
/// holds; a slot that reconnects stays the same slot), measured part only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Service {
    /// Slots that got at least one response.
    pub served: u64,
    /// Slots that got none: they waited in a listen backlog, or their
    /// connects failed, for the whole run.
    pub starved: u64,
    /// Responses per slot: fewest, median, most.
    pub per_conn_min: u64,
    pub per_conn_median: u64,
    pub per_conn_max: u64,
    /// Jain's fairness index over responses per slot, `(Σx)² / (n Σx²)`:
    /// 1 when every slot got the same service, `1/n` when one got it all
    /// (0 when no slot got any).
    pub fairness: f64,
    /// From a slot's first connect attempt to its first response (warm-up
    /// included), microseconds, over the slots that got one: how long a
    /// connection waited in a backlog or a queue before any service.
    pub first_response_us: FirstResponse,
}

/// Two percentiles of the time to first response.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct FirstResponse {
    pub p50: u64,
    pub p99: u64,
}

impl Service {
    /// From the responses each slot got and the times to first response
    /// of the served ones.
    pub fn from_counts(per_conn: &[u64], first_us: &mut [u64]) -> Service {
        let mut sorted = per_conn.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        let served = sorted.iter().filter(|&&x| x > 0).count() as u64;
        let sum: f64 = sorted.iter().map(|&x| x as f64).sum();
        let sum_sq: f64 = sorted.iter().map(|&x| (x as f64) * (x as f64)).sum();
        first_us.sort_unstable();
        let pick = |v: &[u64], q: f64| -> u64 {
            if v.is_empty() {
                0
            } else {
                v[((v.len() - 1) as f64 * q).round() as usize]
            }
        };
        Service {
            served,
            starved: n as u64 - served,
            per_conn_min: sorted.first().copied().unwrap_or(0),
            per_conn_median: pick(&sorted, 0.5),
            per_conn_max: sorted.last().copied().unwrap_or(0),
            fairness: if sum_sq > 0.0 {
                sum * sum / (n as f64 * sum_sq)
            } else {
                0.0
            },
            first_response_us: FirstResponse {
                p50: pick(first_us, 0.5),
                p99: pick(first_us, 0.99),
            },
        }
    }
}

/// One second of the timeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Second {
    /// Seconds since the measured part began.
    pub second: u64,
    pub requests: u64,
    pub errors: u64,
    /// 99th percentile latency of the responses completed in this second; 0 when `requests` is 0
    /// (no response completed: there is no percentile, and the report's charts skip the second).
    pub p99_us: u64,
    /// Connections open at the end of this second (for the last, partial second: when the run
    /// ended, before the load generator closed them).
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

impl LoadReport {
    /// The report as pretty-printed JSON (the format contract).
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serializing cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Read a report written by [`LoadReport::to_json`].
    pub fn from_json(text: &str) -> Result<LoadReport, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// A wrk-like text summary, followed by what wrk does not say: starved
    /// connections, a load generator that fell behind, an interrupted run.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let l = &self.latency_us;
        let mut mode = match self.rate {
            Some(r) => format!(" (open loop, {r:.0} req/s)"),
            None => String::new(),
        };
        if self.url.starts_with("unix:") {
            // Not loopback TCP: say so where the figures are read.
            mode = format!("{mode} over a Unix socket ({})", self.url);
        }
        // With no response there is no latency: `n/a`, never `0us`.
        let answered = self.requests > 0;
        let lat = |us: f64| if answered { human_us(us) } else { "n/a".into() };
        let _ = writeln!(
            s,
            "  {} threads and {} connections{mode}",
            self.threads, self.conns
        );
        let _ = writeln!(s, "  Thread Stats   Avg      Stdev     Max");
        let _ = writeln!(
            s,
            "    Latency   {:>8} {:>8} {:>8}",
            lat(l.mean),
            lat(l.stdev),
            lat(l.max as f64)
        );
        let c = &self.connect_us;
        let connected = self.connections.established > 0;
        let con = |us: f64| {
            if connected {
                human_us(us)
            } else {
                "n/a".into()
            }
        };
        let _ = writeln!(
            s,
            "    Connect   {:>8} {:>8} {:>8}",
            con(c.mean),
            con(c.stdev),
            con(c.max as f64)
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
            let _ = writeln!(s, "  {name:>7} {:>9}", lat(v as f64));
        }
        if let Some(u) = self.latency_uncorrected_us.as_ref().filter(|_| answered) {
            let _ = writeln!(
                s,
                "  Uncorrected (from send): p50 {} p99 {} max {}",
                human_us(u.p50 as f64),
                human_us(u.p99 as f64),
                human_us(u.max as f64)
            );
        }
        if let Some(g) = &self.send_lag_us {
            let _ = writeln!(
                s,
                "  Send lag (due to sent): p50 {} p99 {} max {}",
                human_us(g.p50 as f64),
                human_us(g.p99 as f64),
                human_us(g.max as f64)
            );
        }
        let _ = writeln!(
            s,
            "  {} requests in {:.2}s, {} connections established (peak {} open, listen backlog included)",
            self.requests,
            self.duration_s,
            self.connections.established,
            self.connections.peak_open
        );
        let v = &self.service;
        if v.served + v.starved > 0 {
            let _ = writeln!(
                s,
                "  Served connections: {} of {}; responses per connection min {} median {} max {}, fairness {:.3}; first response p50 {} p99 {}",
                v.served,
                v.served + v.starved,
                v.per_conn_min,
                v.per_conn_median,
                v.per_conn_max,
                v.fairness,
                if v.served > 0 { human_us(v.first_response_us.p50 as f64) } else { "n/a".into() },
                if v.served > 0 { human_us(v.first_response_us.p99 as f64) } else { "n/a".into() },
            );
        }
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
        if let Some(busy) = self.loader.as_ref().and_then(Loader::describe) {
            let _ = writeln!(s, "Load generator: {busy}");
        }
        for line in self.notices() {
            let _ = writeln!(s, "{line}");
        }
        for w in &self.warnings {
            let _ = writeln!(s, "warning: {w}");
        }
        s
    }

    /// The plain-words lines under the summary: starvation, generator lag,
    /// interruption.
    pub fn notices(&self) -> Vec<String> {
        let mut out = Vec::new();
        let v = &self.service;
        if v.starved > 0 {
            out.push(format!(
                "{} of {} connections got no response in {}",
                thousands(v.starved),
                thousands(v.served + v.starved),
                seconds(self.duration_s)
            ));
        }
        if let Some(g) = self.send_lag_us.filter(|g| g.p99 > 1000) {
            out.push(format!(
                "warning: requests left the load generator late (send lag p99 {}): the generator, \
                 not the server, limited this measurement",
                human_us(g.p99 as f64)
            ));
        }
        // With --rate the throughput is the rate asked for; the send lag above says whether the
        // generator kept to it.
        let closed_loop = self.rate.is_none();
        if let Some(loader) = self.loader.as_ref().filter(|_| closed_loop) {
            let busy = loader.describe().unwrap_or_default();
            match loader.limit() {
                Some(LoaderLimit::Generator) => out.push(format!(
                    "warning: the load generator ran nearly all the measured time ({busy}): the \
                     throughput may be the generator's limit, not the server's; give it more \
                     --threads if a core is spare, or load from more machines (lab merge)"
                )),
                Some(LoaderLimit::SharedCpus) => out.push(format!(
                    "warning: the load generator was ready nearly all the measured time but \
                     waited for a CPU ({busy}): the CPUs were oversubscribed, by the server or \
                     by other work on this machine, so the throughput is what the shared CPUs \
                     allowed, not the server's alone; measure on a quiet machine, with the \
                     server and the generator on CPUs apart (lab run --server-cpus, --load-cpus)"
                )),
                None => {}
            }
        }
        if self.interrupted {
            out.push(format!(
                "interrupted after {} of {}",
                seconds(self.duration_s),
                seconds(self.planned_s)
            ));
        }
        out
    }
}

/// `1,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `3.2 s`, `10 s`.
fn seconds(s: f64) -> String {
    if (s - s.round()).abs() < 0.05 {
        format!("{:.0} s", s)
    } else {
        format!("{s:.1} s")
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
    fn service_counts_starved_slots_and_fairness() {
        let v = Service::from_counts(&[0, 0, 10, 10], &mut [100, 300]);
        assert_eq!((v.served, v.starved), (2, 2));
        assert_eq!(
            (v.per_conn_min, v.per_conn_median, v.per_conn_max),
            (0, 10, 10)
        );
        assert!((v.fairness - 0.5).abs() < 1e-9, "{}", v.fairness);
        assert_eq!(Service::from_counts(&[5, 5, 5], &mut []).fairness, 1.0);
        assert_eq!(Service::from_counts(&[0, 0], &mut []).fairness, 0.0);
        assert_eq!(seconds(3.21), "3.2 s");
        assert_eq!(seconds(10.0), "10 s");
        assert_eq!(thousands(1000), "1,000");
    }

    #[test]
    fn a_load_generator_busy_nine_tenths_of_the_time_is_saturated() {
        let two = Loader {
            on_cpu: vec![0.30, 0.62],
            waiting: vec![0.65, 0.20],
        };
        // The busiest by the sum: thread 0 (0.95), not thread 1 (0.82), though 1 ran more.
        assert_eq!(two.busiest(), Some((0, 0.30, 0.65)));
        assert!(two.saturated());
        assert_eq!(
            two.describe().unwrap(),
            "its busiest thread on a CPU 30% and waiting for one 65% of the measured time"
        );
        let idle = Loader {
            on_cpu: vec![0.70],
            waiting: vec![0.19],
        };
        assert!(!idle.saturated());
        assert!(idle
            .describe()
            .unwrap()
            .starts_with("its thread on a CPU 70%"));
        assert!(!Loader::default().saturated());
        assert_eq!(Loader::default().describe(), None);

        // The summary says it; only a saturated generator is a warning.
        let lat = serde_json::to_value(Latency::default()).unwrap();
        let mut report: LoadReport = serde_json::from_value(serde_json::json!({
            "url": "http://x/", "conns": 1, "threads": 1, "duration_s": 1.0,
            "planned_s": 1.0, "requests": 1, "throughput_rps": 1.0,
            "latency_us": lat, "connect_us": lat,
            "errors": serde_json::to_value(Errors::default()).unwrap(),
            "connections": serde_json::to_value(Connections::default()).unwrap(),
            "timeline": [], "histogram": "", "host": {"cores": 2, "kernel": "6"},
        }))
        .expect("a report without `loader` still reads");
        assert_eq!(report.loader, None);
        assert!(!report.summary().contains("Load generator"));
        report.loader = Some(idle);
        assert!(report
            .summary()
            .contains("Load generator: its thread on a CPU 70% and waiting for one 19%"));
        assert!(!report
            .notices()
            .iter()
            .any(|n| n.contains("load generator")));
        // Ready 95% of the time but on a CPU only 30%: the CPUs were the limit, not the
        // generator.
        assert_eq!(two.limit(), Some(LoaderLimit::SharedCpus));
        report.loader = Some(two);
        let warned = |report: &LoadReport, start: &str| {
            report.notices().iter().any(|n| n.starts_with(start))
        };
        assert!(
            warned(&report, "warning: the load generator was ready nearly all the measured time but waited for a CPU"),
            "{:?}",
            report.notices()
        );
        // On a CPU 93%: the generator itself.
        let ran = Loader {
            on_cpu: vec![0.93],
            waiting: vec![0.01],
        };
        assert_eq!(ran.limit(), Some(LoaderLimit::Generator));
        assert_eq!(idle_limit(), None);
        report.loader = Some(ran);
        assert!(
            warned(&report, "warning: the load generator ran nearly all the measured time (its thread on a CPU 93%"),
            "{:?}",
            report.notices()
        );
        // Open loop: the rate sets the throughput, and the send lag says whether it was kept.
        report.rate = Some(1000.0);
        assert!(!report
            .notices()
            .iter()
            .any(|n| n.contains("load generator")));
        assert!(report
            .summary()
            .contains("Load generator: its thread on a CPU 93%"));
    }

    fn idle_limit() -> Option<LoaderLimit> {
        Loader {
            on_cpu: vec![0.70],
            waiting: vec![0.19],
        }
        .limit()
    }

    #[test]
    fn human_units() {
        assert_eq!(human_us(812.0), "812.00us");
        assert_eq!(human_us(3210.0), "3.21ms");
        assert_eq!(human_us(1_050_000.0), "1.05s");
    }
}
