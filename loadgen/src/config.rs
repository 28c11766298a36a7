//! What to run: the [`Config`] struct and the two string parsers the CLI
//! needs, [`parse_url`] and [`parse_duration`].

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crate::error::Error;

/// Everything that describes one run. Plain data: fill in the fields you
/// care about and take the rest from [`Config::default`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to connect.
    pub addr: SocketAddr,
    /// The `Host:` header, usually the URL's authority (`127.0.0.1:8080`).
    pub host: String,
    /// The request target, starting with `/`.
    pub path: String,
    /// The request method (`GET`, `POST`, `HEAD`...). A `HEAD` response has no body.
    pub method: String,
    /// Extra request headers, sent as given after `Host`.
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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
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
        }
    }
}

impl Config {
    /// The default configuration aimed at `url` (see [`parse_url`]).
    pub fn for_url(url: &str) -> Result<Config, Error> {
        let (addr, host, path) = parse_url(url)?;
        Ok(Config {
            addr,
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
        Ok(())
    }

    /// Threads actually used: never more than connections.
    pub(crate) fn effective_threads(&self) -> usize {
        self.threads.clamp(1, self.conns.max(1))
    }

    /// Pipeline depth actually used: without keep-alive there is one request per connection.
    pub(crate) fn effective_pipeline(&self) -> usize {
        if self.keepalive {
            self.pipeline.max(1)
        } else {
            1
        }
    }
}

/// Split `http://host[:port][/path]` into the address to connect to, the
/// `Host` header and the request target. The host is resolved with the
/// system resolver and the first address is taken. Only `http://`.
pub fn parse_url(url: &str) -> Result<(SocketAddr, String, String), Error> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| Error::Url(format!("{url:?}: only http:// URLs are supported")))?;
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
    Ok((addr, authority.to_string(), path))
}

/// Parse `"3"` (seconds), `"500ms"`, `"10s"`, `"2m"` or `"1h"`. Fractions
/// are allowed (`"1.5s"`).
pub fn parse_duration(s: &str) -> Result<Duration, Error> {
    lab_units::parse_duration(s).map_err(Error::Duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let (addr, host, path) = parse_url("http://127.0.0.1:8080/a/b?c=d").unwrap();
        assert_eq!(addr, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(host, "127.0.0.1:8080");
        assert_eq!(path, "/a/b?c=d");

        let (addr, host, path) = parse_url("http://127.0.0.1").unwrap();
        assert_eq!(addr.port(), 80);
        assert_eq!(host, "127.0.0.1");
        assert_eq!(path, "/");

        let (addr, _, path) = parse_url("http://[::1]:9000?x").unwrap();
        assert_eq!(addr.port(), 9000);
        assert_eq!(path, "/?x");

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
}
