//! The request bytes, built once before the run and shared by every
//! connection (wrk does the same: one `request` buffer per thread).
//!
//! For pipelining the buffer holds the request `depth` times back to back,
//! so a connection with `k` requests to send writes one contiguous slice.

use std::sync::Arc;

use crate::config::Config;

/// The pre-built request, repeated `depth` times.
#[derive(Clone)]
pub(crate) struct Request {
    /// `depth` copies of one request.
    pub bytes: Arc<[u8]>,
    /// Length of one copy.
    pub len: usize,
    /// `HEAD` responses carry no body.
    pub is_head: bool,
}

impl Request {
    pub fn build(config: &Config) -> Request {
        let mut one = Vec::with_capacity(256 + config.body.len());
        one.extend_from_slice(config.method.as_bytes());
        one.push(b' ');
        one.extend_from_slice(config.path.as_bytes());
        one.extend_from_slice(b" HTTP/1.1\r\n");
        // A Host header given by the user replaces the URL's (as in wrk): two Host fields in one
        // request are a 400 (RFC 9112 section 3.2).
        if !config
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("host"))
        {
            one.extend_from_slice(b"Host: ");
            one.extend_from_slice(config.host.as_bytes());
            one.extend_from_slice(b"\r\n");
        }
        for (name, value) in &config.headers {
            one.extend_from_slice(name.as_bytes());
            one.extend_from_slice(b": ");
            one.extend_from_slice(value.as_bytes());
            one.extend_from_slice(b"\r\n");
        }
        if !config.body.is_empty() {
            one.extend_from_slice(format!("Content-Length: {}\r\n", config.body.len()).as_bytes());
        }
        if !config.keepalive {
            one.extend_from_slice(b"Connection: close\r\n");
        }
        one.extend_from_slice(b"\r\n");
        one.extend_from_slice(&config.body);

        let depth = config.effective_pipeline();
        let bytes: Vec<u8> = one.repeat(depth);
        Request {
            bytes: bytes.into(),
            len: one.len(),
            is_head: config.method.eq_ignore_ascii_case("HEAD"),
        }
    }

    /// The bytes still to write when `unwritten` bytes of the queued
    /// requests are left: they always end on a request boundary, so they
    /// start `len - unwritten % len` bytes into some copy.
    pub fn pending(&self, unwritten: usize) -> &[u8] {
        let start = (self.len - unwritten % self.len) % self.len;
        &self.bytes[start..start + unwritten]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_slices() {
        let config = Config {
            host: "h:1".into(),
            path: "/x".into(),
            pipeline: 3,
            headers: vec![("A".into(), "b".into())],
            ..Config::default()
        };
        let r = Request::build(&config);
        let one = b"GET /x HTTP/1.1\r\nHost: h:1\r\nA: b\r\n\r\n";
        assert_eq!(r.len, one.len());
        assert_eq!(&r.bytes[..], &one.repeat(3)[..]);
        assert_eq!(r.pending(r.len), &one[..]);
        assert_eq!(r.pending(r.len * 3), &one.repeat(3)[..]);
        assert_eq!(
            r.pending(r.len + 4),
            &[&one[one.len() - 4..], &one[..]].concat()[..]
        );
    }

    #[test]
    fn a_user_host_header_replaces_the_default() {
        let config = Config {
            host: "h:1".into(),
            headers: vec![("A".into(), "b".into()), ("host".into(), "x".into())],
            ..Config::default()
        };
        let r = Request::build(&config);
        assert_eq!(&r.bytes[..], b"GET / HTTP/1.1\r\nA: b\r\nhost: x\r\n\r\n");
    }
}
