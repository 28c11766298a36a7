//! Responses and how they are written: status line, `Date`, `Server`, framing, `Connection`.
//!
//! Every response carries a Content-Length (we always know the body in full), so the client
//! never has to wait for a close to find the end. Writing is into a `Vec<u8>`: the blocking loop
//! writes it to the socket, the event loop keeps it until the socket is writable.

use std::borrow::Cow;
use std::cell::RefCell;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// The `Server` header of every response.
pub const SERVER: &str = "http-lab";

/// The interim response for `Expect: 100-continue`.
pub const CONTINUE_100: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// A status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(u16);

impl Status {
    pub const OK: Status = Status(200);
    pub const BAD_REQUEST: Status = Status(400);
    pub const FORBIDDEN: Status = Status(403);
    pub const NOT_FOUND: Status = Status(404);
    pub const METHOD_NOT_ALLOWED: Status = Status(405);
    pub const REQUEST_TIMEOUT: Status = Status(408);
    pub const PAYLOAD_TOO_LARGE: Status = Status(413);
    pub const URI_TOO_LONG: Status = Status(414);
    pub const EXPECTATION_FAILED: Status = Status(417);
    pub const HEADER_FIELDS_TOO_LARGE: Status = Status(431);
    pub const INTERNAL_SERVER_ERROR: Status = Status(500);
    pub const NOT_IMPLEMENTED: Status = Status(501);
    pub const SERVICE_UNAVAILABLE: Status = Status(503);
    pub const HTTP_VERSION_NOT_SUPPORTED: Status = Status(505);

    /// A status from its code (100..=999).
    pub fn new(code: u16) -> Option<Status> {
        (100..1000).contains(&code).then_some(Status(code))
    }

    pub fn code(self) -> u16 {
        self.0
    }

    /// The reason phrase of the status line.
    pub fn reason(self) -> &'static str {
        match self.0 {
            100 => "Continue",
            200 => "OK",
            204 => "No Content",
            304 => "Not Modified",
            400 => "Bad Request",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            413 => "Content Too Large",
            414 => "URI Too Long",
            417 => "Expectation Failed",
            431 => "Request Header Fields Too Large",
            500 => "Internal Server Error",
            501 => "Not Implemented",
            503 => "Service Unavailable",
            505 => "HTTP Version Not Supported",
            _ => "",
        }
    }

    /// 1xx, 204 and 304 responses never carry a body (RFC 9112 section 6.3).
    pub fn forbids_body(self) -> bool {
        self.0 < 200 || self.0 == 204 || self.0 == 304
    }
}

/// What a handler returns.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: Status,
    pub content_type: Cow<'static, str>,
    pub body: Cow<'static, [u8]>,
    /// Extra header fields (name, value), e.g. `Allow` on a 405.
    pub headers: Vec<(&'static str, String)>,
    /// Close the connection after this response, whatever the client asked for.
    pub close: bool,
}

impl Response {
    pub fn new(
        status: Status,
        content_type: impl Into<Cow<'static, str>>,
        body: impl Into<Cow<'static, [u8]>>,
    ) -> Self {
        Response {
            status,
            content_type: content_type.into(),
            body: body.into(),
            headers: Vec::new(),
            close: false,
        }
    }

    /// A `text/plain` response.
    pub fn text(status: Status, body: impl Into<Cow<'static, [u8]>>) -> Self {
        Response::new(status, "text/plain; charset=utf-8", body)
    }

    /// A plain-text error page: the reason phrase and a detail line.
    pub fn error(status: Status, detail: &str) -> Self {
        let body = format!("{} {}: {}\n", status.code(), status.reason(), detail);
        Response::text(status, body.into_bytes())
    }

    /// Adds a header field.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Appends the response to `out`. `head_only` is true for a HEAD request (headers as for GET,
    /// no body); `keep_alive` says whether the connection stays open, and `minor_version` is the
    /// request's (an HTTP/1.0 client that asked for keep-alive is told it got it).
    pub fn write_to(
        &self,
        out: &mut Vec<u8>,
        head_only: bool,
        keep_alive: bool,
        minor_version: u8,
    ) {
        let status = self.status;
        // Writes to a Vec cannot fail.
        let _ = write!(out, "HTTP/1.1 {} {}\r\n", status.code(), status.reason());
        out.extend_from_slice(b"Server: ");
        out.extend_from_slice(SERVER.as_bytes());
        out.extend_from_slice(b"\r\nDate: ");
        with_http_date(|date| out.extend_from_slice(date));
        out.extend_from_slice(b"\r\n");
        if !status.forbids_body() {
            if !self.content_type.is_empty() {
                out.extend_from_slice(b"Content-Type: ");
                out.extend_from_slice(self.content_type.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            let _ = write!(out, "Content-Length: {}\r\n", self.body.len());
        }
        for (name, value) in &self.headers {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        if !keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if minor_version == 0 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !head_only && !status.forbids_body() {
            out.extend_from_slice(&self.body);
        }
    }
}

thread_local! {
    /// The Date header changes once a second; format it once a second per thread.
    static DATE: RefCell<(u64, [u8; 29])> = const { RefCell::new((u64::MAX, [0; 29])) };
}

/// Calls `f` with the current time as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn with_http_date<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    DATE.with(|cell| {
        let mut cache = cell.borrow_mut();
        let now = SystemTime::now();
        let secs = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if cache.0 != secs {
            let text = httpdate::fmt_http_date(now);
            let bytes = text.as_bytes();
            let n = bytes.len().min(29);
            cache.1[..n].copy_from_slice(&bytes[..n]);
            cache.0 = secs;
        }
        f(&cache.1)
    })
}

/// Writes the answer to `req` into `out` and decides whether the connection stays open: only if
/// the client allows it, the handler did not ask to close, and the server is not shutting down.
/// Every model calls this, so keep-alive is decided in one place.
pub fn respond(
    req: &crate::request::Head,
    resp: &Response,
    shutting_down: bool,
    out: &mut Vec<u8>,
) -> bool {
    let keep_alive = req.keep_alive && !resp.close && !shutting_down;
    resp.write_to(out, req.is_head(), keep_alive, req.minor_version);
    keep_alive
}

/// Writes the error response for a rejected request (always `Connection: close`) into `out`.
pub fn write_rejection(rejection: crate::error::Rejection, out: &mut Vec<u8>) {
    Response::error(rejection.status(), rejection.reason()).write_to(out, false, false, 1);
}
