//! What to run: the [`Config`] struct and the string parsers the CLI
//! needs: [`parse_url`] (`http://host:port/path`, or `unix:/socket:/path` for a
//! Unix domain socket), [`parse_duration`], [`parse_count`] and [`parse_rate`]
//! (wrk's SI suffixes: `1k`, `10k`, `2M`).

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Error;

/// Everything that describes one run. Plain data: fill in the fields you
/// care about and take the rest from [`Config::default`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to connect: a TCP address or a Unix socket's path.
    pub target: Target,
    /// The `Host:` header, usually the URL's authority (`127.0.0.1:8080`).
    pub host: String,
    /// The request target, starting with `/`.
    pub path: String,
    /// The request method (`GET`, `POST`, `HEAD`...). A `HEAD` response has no body.
    pub method: String,
    /// Extra request headers, sent as given after `Host`. A `Host` among them replaces the
    /// default one (the URL's authority).
    pub headers: Vec<(String, String)>,
    /// The request body; when non-empty a `Content-Length` header is added.
    pub body: Vec<u8>,
    /// Connections kept open (or, without keep-alive, kept in use) at once.
    pub conns: usize,
    /// Event-loop threads; each owns `conns / threads` connections.
    pub threads: usize,
    /// How long the measured part of the run lasts. With `requests` set it
    /// is an upper bound: the run ends at whichever comes first.
    pub duration: Duration,
    /// Stop after exactly this many measured requests in total.
    pub requests: Option<u64>,
    /// Run this long before measuring: connections ramp up and caches warm,
    /// but nothing is recorded.
    pub warmup: Duration,
    /// A request (or a connect) not answered within this is a timeout error:
    /// the connection is closed and opened again.
    pub timeout: Duration,
    /// Open loop: send this many requests per second in total, on a fixed
    /// schedule, whether or not responses come back. `None` = closed loop.
    pub rate: Option<f64>,
    /// Requests in flight per connection (HTTP/1.1 pipelining). 1 = none.
    pub pipeline: usize,
    /// `false`: one request per connection, `Connection: close`, like `ab` without `-k`.
    pub keepalive: bool,
    /// New connections opened per second while ramping up (and when
    /// reconnecting after errors), so that thousands of SYNs do not
    /// overflow the server's accept backlog.
    pub connect_rate: f64,
    /// No live progress line.
    pub quiet: bool,
    /// Wait until this moment before starting (connecting, warm-up, measuring), so that loaders
    /// on several machines start together. Recorded in the report.
    pub start_at: Option<SystemTime>,
    /// A name for this loader, recorded in the report (`lab merge` lists loaders by it).
    pub tag: Option<String>,
    /// CPUs each worker thread is pinned to (`--load-cpus`); empty: not pinned.
    pub cpus: Vec<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            target: Target::Tcp(SocketAddr::from(([127, 0, 0, 1], 8080))),
            host: "127.0.0.1:8080".to_string(),
            path: "/".to_string(),
            method: "GET".to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            conns: 10,
            threads: 1,
            duration: Duration::from_secs(10),
            requests: None,
            warmup: Duration::ZERO,
            timeout: Duration::from_secs(2),
            rate: None,
            pipeline: 1,
            keepalive: true,
            connect_rate: 2000.0,
            quiet: false,
            start_at: None,
            tag: None,
            cpus: Vec::new(),
        }
    }
}

impl Config {
    /// The default configuration aimed at `url` (see [`parse_url`]).
    pub fn for_url(url: &str) -> Result<Config, Error> {
        let (target, host, path) = parse_url(url)?;
        Ok(Config {
            target,
            host,
            path,
            ..Config::default()
        })
    }

    /// Reject configurations that cannot run.
    /// Checks the configuration. Messages name the `lab load` flag of each field.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |msg: &str| Err(Error::Config(msg.to_string()));
        if self.conns == 0 {
            return bad("--conns must be at least 1");
        }
        if self.threads == 0 {
            return bad("--threads must be at least 1");
        }
        if self.pipeline == 0 || self.pipeline > 1024 {
            return bad("--pipeline must be between 1 and 1024");
        }
        if let Some(rate) = self.rate {
            if !(rate.is_finite() && rate > 0.0) {
                return bad("--rate must be a positive number of requests per second");
            }
        }
        if !(self.connect_rate.is_finite() && self.connect_rate > 0.0) {
            return bad("--connect-rate must be a positive number per second");
        }
        if self.requests == Some(0) {
            return bad("--requests must be at least 1");
        }
        if self.timeout.is_zero() {
            return bad("--timeout must be positive");
        }
        if self.duration.is_zero() {
            return bad("--duration must be positive");
        }
        if !self.path.starts_with('/') {
            return bad("--path must start with '/'");
        }
        if let Some(at) = self.start_at {
            if at.duration_since(SystemTime::now()).unwrap_or_default() > MAX_START_WAIT {
                return bad("--start-at is more than a day away (seconds, not milliseconds?)");
            }
        }
        Ok(())
    }

    /// Threads actually used: never more than connections.
    pub(crate) fn effective_threads(&self) -> usize {
        self.threads.clamp(1, self.conns.max(1))
    }

    /// Pipeline depth actually used: without keep-alive there is one request per connection.
    /// The URL loaded, as `lab load` takes it: `http://<Host header><path>`, or
    /// `unix:<socket>:<path>` over a Unix socket (recorded in the report).
    pub fn url(&self) -> String {
        match &self.target {
            Target::Tcp(_) => format!("http://{}{}", self.host, self.path),
            Target::Unix(socket) => format!("unix:{}:{}", socket.display(), self.path),
        }
    }

    pub(crate) fn effective_pipeline(&self) -> usize {
        if self.keepalive {
            self.pipeline.max(1)
        } else {
            1
        }
    }
}

/// Where the load goes: a TCP address, or the path of a Unix domain socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl Target {
    pub fn is_unix(&self) -> bool {
        matches!(self, Target::Unix(_))
    }
}

impl fmt::Display for Target {
    /// `127.0.0.1:8080` or `unix:/path`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp(a) => write!(f, "{a}"),
            Target::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// The `Host` header sent over a Unix socket, which has no authority (curl
/// `--unix-socket` sends the URL's host the same way).
pub const UNIX_HOST: &str = "localhost";

/// Split `http://host[:port][/path]` into the address to connect to, the
/// `Host` header and the request target. The host is resolved with the
/// system resolver and the first address is taken. Only `http://`, or
/// `unix:/path/to/socket:/path` (a Unix domain socket, then the request
/// target after the last `:/`; `Host: localhost`).
pub fn parse_url(url: &str) -> Result<(Target, String, String), Error> {
    if let Some(rest) = url.strip_prefix("unix:") {
        let (socket, path) = match rest.rfind(":/") {
            Some(i) if i > 0 => (&rest[..i], rest[i + 1..].to_string()),
            _ => (rest, "/".to_string()),
        };
        if socket.is_empty() {
            return Err(Error::Url(format!(
                "{url:?}: expected unix:/path/to/socket or unix:/path/to/socket:/route"
            )));
        }
        return Ok((Target::Unix(PathBuf::from(socket)), UNIX_HOST.into(), path));
    }
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        Error::Url(format!(
            "{url:?}: only http:// URLs (or unix:/socket:/path) are supported"
        ))
    })?;
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = match path.chars().next() {
        None => "/".to_string(),
        Some('?') => format!("/{path}"),
        Some(_) => path.to_string(),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(Error::Url(format!(
            "{url:?}: expected http://host[:port]/path"
        )));
    }
    // A port is present if there is a ':' after the closing ']' of an IPv6 literal.
    let after_v6 = authority.rfind(']').map_or(0, |i| i + 1);
    let with_port = if authority[after_v6..].contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| Error::Url(format!("{url:?}: cannot resolve {authority}: {e}")))?
        .next()
        .ok_or_else(|| Error::Url(format!("{url:?}: {authority} has no address")))?;
    Ok((Target::Tcp(addr), authority.to_string(), path))
}

/// Parse `"3"` (seconds), `"500ms"`, `"10s"`, `"2m"` or `"1h"`. Fractions
/// are allowed (`"1.5s"`).
pub fn parse_duration(s: &str) -> Result<Duration, Error> {
    lab_units::parse_duration(s).map_err(Error::Duration)
}

/// The longest `--start-at` wait accepted: a day.
const MAX_START_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Parse a moment for `--start-at`: Unix time in seconds (`1767225600`, `1767225600.5`, as
/// `date +%s` prints it) or RFC 3339 (`2026-01-01T00:00:00Z`, `2026-01-01T01:00:00.5+01:00`).
pub fn parse_start_at(s: &str) -> Result<SystemTime, Error> {
    let s = s.trim();
    let bad = || {
        Error::Config(format!(
            "{s:?}: expected Unix seconds (date +%s) or RFC 3339 (2026-01-01T12:00:00Z)"
        ))
    };
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.') {
        let secs: f64 = s.parse().map_err(|_| bad())?;
        return Duration::try_from_secs_f64(secs)
            .map(|d| UNIX_EPOCH + d)
            .map_err(|_| bad());
    }
    let secs = parse_rfc3339(s).ok_or_else(bad)?;
    Duration::try_from_secs_f64(secs)
        .map(|d| UNIX_EPOCH + d)
        .map_err(|_| bad())
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.frac](Z|+HH:MM|-HH:MM)` as Unix seconds (after 1970 only).
fn parse_rfc3339(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let sep = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, min, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac = 0.0;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        frac = format!("0.{}", &r[..digits]).parse().ok()?;
        rest = &r[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let (h, m) = (num(s.len() - 5, 2)?, num(s.len() - 2, 2)?);
            if &rest[3..4] != ":" || h > 23 || m > 59 {
                return None;
            }
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset;
    (secs >= 0).then_some(secs as f64 + frac)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The multiplier of an SI suffix: `k`/`K` 1,000, `M` 1,000,000, `G` 1,000,000,000.
fn si_split(s: &str) -> (&str, f64) {
    match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 1e3),
        Some((i, 'M')) => (&s[..i], 1e6),
        Some((i, 'G')) => (&s[..i], 1e9),
        _ => (s, 1.0),
    }
}

/// Parse a count as wrk does: `100`, `1k` (1,000), `10k`, `1.5k` (1,500), `2M`. The result
/// must be a whole number.
pub fn parse_count(s: &str) -> Result<u64, Error> {
    let s = s.trim();
    let bad = || {
        Error::Config(format!(
            "{s:?}: expected a whole number, optionally with k, M or G (1k = 1000)"
        ))
    };
    let (num, mult) = si_split(s);
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(bad());
    }
    if mult == 1.0 {
        return num.parse().map_err(|_| bad());
    }
    let n: f64 = num.parse().map_err(|_| bad())?;
    let value = n * mult;
    if value.fract() != 0.0 || value >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(value as u64)
}

/// Parse a rate (per second) as wrk2 does: `500`, `2.5k` (2,500), `10k`, `1M`.
pub fn parse_rate(s: &str) -> Result<f64, Error> {
    let s = s.trim();
    let bad = || {
        Error::Config(format!(
            "{s:?}: expected a number per second, optionally with k, M or G (10k = 10000)"
        ))
    };
    let (num, mult) = si_split(s);
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(bad());
    }
    let n: f64 = num.parse().map_err(|_| bad())?;
    Ok(n * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let (addr, host, path) = parse_url("http://127.0.0.1:8080/a/b?c=d").unwrap();
        assert_eq!(addr, Target::Tcp(SocketAddr::from(([127, 0, 0, 1], 8080))));
        assert_eq!(host, "127.0.0.1:8080");
        assert_eq!(path, "/a/b?c=d");

        let (addr, host, path) = parse_url("http://127.0.0.1").unwrap();
        assert_eq!(addr, Target::Tcp(SocketAddr::from(([127, 0, 0, 1], 80))));
        assert_eq!(host, "127.0.0.1");
        assert_eq!(path, "/");

        let (addr, _, path) = parse_url("http://[::1]:9000?x").unwrap();
        assert!(matches!(addr, Target::Tcp(a) if a.port() == 9000));
        assert_eq!(path, "/?x");

        let (target, host, path) = parse_url("unix:/tmp/lab.sock:/hello?x=1").unwrap();
        assert_eq!(target, Target::Unix("/tmp/lab.sock".into()));
        assert_eq!(host, "localhost");
        assert_eq!(path, "/hello?x=1");
        let (target, _, path) = parse_url("unix:/tmp/lab.sock").unwrap();
        assert_eq!(target.to_string(), "unix:/tmp/lab.sock");
        assert_eq!(path, "/");
        assert!(parse_url("unix:").is_err());

        assert!(parse_url("https://127.0.0.1/").is_err());
        assert!(parse_url("http:///x").is_err());
        assert!(parse_url("127.0.0.1:80").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn start_times() {
        let at = |s: &str| {
            parse_start_at(s)
                .unwrap()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
        };
        assert_eq!(at("1767225600"), 1_767_225_600.0);
        assert_eq!(at("1767225600.25"), 1_767_225_600.25);
        assert_eq!(at("1970-01-01T00:00:00Z"), 0.0);
        assert_eq!(at("2026-01-01T00:00:00Z"), 1_767_225_600.0);
        assert_eq!(at("2026-01-01 01:00:00.5+01:00"), 1_767_225_600.5);
        assert_eq!(at("2025-12-31T19:00:00-05:00"), 1_767_225_600.0);
        assert_eq!(at("2024-02-29T12:00:00z"), 1_709_208_000.0);
        for bad in [
            "",
            "now",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "2026-13-01T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00+0100",
            "2026-01-01T00:00:00.Z",
            "-5",
        ] {
            assert!(parse_start_at(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn counts_and_rates_take_si_suffixes() {
        assert_eq!(parse_count("100").unwrap(), 100);
        assert_eq!(parse_count("1k").unwrap(), 1000);
        assert_eq!(parse_count("10K").unwrap(), 10_000);
        assert_eq!(parse_count("1.5k").unwrap(), 1500);
        assert_eq!(parse_count("2M").unwrap(), 2_000_000);
        assert_eq!(parse_count("1G").unwrap(), 1_000_000_000);
        for bad in ["", "k", "1.0005k", "-1", "1x", "1m", "1.5", "0x10"] {
            assert!(parse_count(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_rate("500").unwrap(), 500.0);
        assert_eq!(parse_rate("2.5k").unwrap(), 2500.0);
        assert_eq!(parse_rate("10k").unwrap(), 10_000.0);
        assert_eq!(parse_rate("1M").unwrap(), 1e6);
        for bad in ["", "M", "-5", "1x", "1e3"] {
            assert!(parse_rate(bad).is_err(), "{bad:?}");
        }
    }
}
