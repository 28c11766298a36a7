//! Limits and timeouts: how much a client may send, and how long anything may take.
//!
//! Every one of these is a `lab serve` flag. The defaults are what a small production server would
//! pick (nginx: 8 KiB of head in one buffer, 1 MiB of body, 60 s header and idle timeouts). A lab run
//! lowers the timeouts so that a slow client cannot stall a measurement.

use std::time::Duration;

/// The most header fields any configuration may allow: the parser keeps this many slots on the stack.
pub const MAX_HEADERS_CAP: usize = 256;

/// Limits on what one request may contain, and timeouts on every wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request head (request line + header fields) in bytes; above it: 431.
    pub max_head_bytes: usize,
    /// Most header fields in one request; above it: 431.
    pub max_headers: usize,
    /// Longest request target in bytes; above it: 414.
    pub max_target_bytes: usize,
    /// Largest request body in bytes; above it: 413, answered without reading the body.
    pub max_body_bytes: usize,
    /// Time allowed to receive a complete request head, from its first byte (slow-client defence).
    pub header_timeout: Duration,
    /// Time allowed to receive a whole request, head and body, from its first byte.
    pub body_timeout: Duration,
    /// How long a keep-alive connection may sit idle between requests.
    pub idle_timeout: Duration,
    /// How long one write of a response may block (a client that does not read).
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: 8 * 1024,
            max_headers: 64,
            max_target_bytes: 4 * 1024,
            max_body_bytes: 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(10),
        }
    }
}

impl Limits {
    /// Checks that the limits make sense together. The error names the flag to change.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_headers == 0 || self.max_headers > MAX_HEADERS_CAP {
            return Err(format!(
                "--max-headers must be between 1 and {MAX_HEADERS_CAP}"
            ));
        }
        if self.max_head_bytes < 64 {
            return Err("--max-header-bytes must be at least 64".into());
        }
        if self.max_target_bytes == 0 || self.max_target_bytes >= self.max_head_bytes {
            return Err(
                "--max-target-bytes must be at least 1 and below --max-header-bytes".into(),
            );
        }
        for (flag, d) in [
            ("--header-timeout", self.header_timeout),
            ("--body-timeout", self.body_timeout),
            ("--idle-timeout", self.idle_timeout),
            ("--write-timeout", self.write_timeout),
        ] {
            if d.is_zero() {
                return Err(format!("{flag} must be greater than zero"));
            }
        }
        Ok(())
    }
}
