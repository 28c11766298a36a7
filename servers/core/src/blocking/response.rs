//! Responses and how they are written: status line, `Date`, `Server`, framing, `Connection`.
//!
//! Every response carries a Content-Length (we always know the body's length), so the client
//! never has to wait for a close to find the end. The head, and a body held in memory, are
//! written into a `Vec<u8>`: the blocking loop writes it to the socket, the event loop keeps it
//! until the socket is writable. A file body ([`Body::File`], the docroot's) is never read into
//! memory whole: [`respond`] copies a small one (up to [`INLINE_FILE_BYTES`]) after its head and
//! hands a larger one back as a [`FileBody`], which the connection streams after the head with
//! `sendfile(2)`, a socket buffer at a time. Holding a served file in memory let a
//! client that pipelines requests for a large file and reads slowly pin that file's size per
//! request (2,000 such connections took thread_per_request to 6,053 MiB, epoll to 1,408 MiB).

use std::borrow::Cow;
use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::time::{Duration, UNIX_EPOCH};

/// The `Server` header of every response.
pub const SERVER: &str = "http-lab";

/// The interim response for `Expect: 100-continue`.
pub const CONTINUE_100: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// A file body up to this size is copied into the output buffer after its head instead of being
/// streamed: one write for the whole response (and one TCP segment) costs less than a write and
/// a `sendfile`, and the copy is small enough to keep the output bound meaningful. Above it,
/// `sendfile`. (nginx makes the same trade with `sendfile_max_chunk` and `tcp_nopush`.)
pub const INLINE_FILE_BYTES: u64 = 16 * 1024;

/// The most one `sendfile` call is asked to send. A non-blocking socket takes what fits in its
/// buffer anyway; the cap bounds how long one call of a blocking socket can take.
const SENDFILE_CHUNK: usize = 1024 * 1024;

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

/// A response body.
#[derive(Debug)]
pub enum Body {
    /// Bytes in memory, written after the head.
    Bytes(Cow<'static, [u8]>),
    /// An open file, streamed after the head without being read into memory.
    File(FileBody),
}

impl Body {
    /// The body's length, for Content-Length.
    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::File(file) => file.remaining(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes of an in-memory body (`None` for a file).
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Body::Bytes(bytes) => Some(bytes),
            Body::File(_) => None,
        }
    }

    /// The whole body in memory, a file's read (with `pread`, leaving it as it was). For tests
    /// and tools: a server streams a file body instead.
    pub fn to_bytes(&self) -> io::Result<Cow<'_, [u8]>> {
        match self {
            Body::Bytes(bytes) => Ok(Cow::Borrowed(bytes)),
            Body::File(file) => {
                let mut bytes = vec![0; file.remaining() as usize];
                file.file.read_exact_at(&mut bytes, file.offset)?;
                Ok(Cow::Owned(bytes))
            }
        }
    }
}

/// A file on its way to a socket: the part from `offset` to `end` is still to send.
#[derive(Debug)]
pub struct FileBody {
    file: File,
    offset: u64,
    end: u64,
}

impl FileBody {
    /// The first `len` bytes of `file` (its length when it was opened: the Content-Length
    /// promised to the client).
    pub fn new(file: File, len: u64) -> FileBody {
        FileBody {
            file,
            offset: 0,
            end: len,
        }
    }

    /// Bytes still to send.
    pub fn remaining(&self) -> u64 {
        self.end - self.offset
    }

    /// Sends what the socket takes now (one `sendfile` call), and says how much that was. A
    /// non-blocking socket with a full buffer answers `WouldBlock`. If the file shrank since it
    /// was opened, the promised length cannot be kept: `UnexpectedEof`, and the connection must
    /// close.
    pub fn send_to(&mut self, socket: &impl AsFd) -> io::Result<usize> {
        let count = self.remaining().min(SENDFILE_CHUNK as u64) as usize;
        if count == 0 {
            return Ok(0);
        }
        let sent =
            crate::sys::sendfile(socket.as_fd(), self.file.as_fd(), &mut self.offset, count)?;
        if sent == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was being served",
            ));
        }
        Ok(sent)
    }

    /// Appends the rest to `out` (a small file: see [`INLINE_FILE_BYTES`]). On an error `out` is
    /// left as it was, and so is the file.
    fn append_to(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        self.append_chunk(out, usize::MAX)
    }

    /// Appends the next `max` bytes at most to `out` (with `pread`), for a transport that cannot
    /// `sendfile` (io_uring's sends from our buffers): the file goes out a bounded chunk at a
    /// time. On an error `out` is left as it was, and so is the file.
    pub fn append_chunk(&mut self, out: &mut Vec<u8>, max: usize) -> io::Result<()> {
        let n = self.remaining().min(max as u64) as usize;
        let start = out.len();
        out.resize(start + n, 0);
        match self.file.read_exact_at(&mut out[start..], self.offset) {
            Ok(()) => {
                self.offset += n as u64;
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }

    /// Sends the rest on a blocking socket (each wait bounded by its write timeout).
    pub fn send_all(&mut self, socket: &impl AsFd) -> io::Result<()> {
        while self.remaining() > 0 {
            match self.send_to(socket) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// What a handler returns.
#[derive(Debug)]
pub struct Response {
    pub status: Status,
    pub content_type: Cow<'static, str>,
    pub body: Body,
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
            body: Body::Bytes(body.into()),
            headers: Vec::new(),
            close: false,
        }
    }

    /// A response whose body is (the first `len` bytes of) an open file, streamed, not read.
    pub fn file(
        status: Status,
        content_type: impl Into<Cow<'static, str>>,
        file: File,
        len: u64,
    ) -> Self {
        Response {
            status,
            content_type: content_type.into(),
            body: Body::File(FileBody::new(file, len)),
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

    /// Appends the response to `out`: the head, then the body if it is in memory (a file body
    /// is left to the caller, see [`respond`]). `head_only` is true for a HEAD request (headers
    /// as for GET, no body); `keep_alive` says whether the connection stays open, and
    /// `minor_version` is the request's (an HTTP/1.0 client that asked for keep-alive is told it
    /// got it).
    pub fn write_to(
        &self,
        out: &mut Vec<u8>,
        head_only: bool,
        keep_alive: bool,
        minor_version: u8,
    ) {
        // The head of a response like the last one of this thread, in the same second, is the
        // same bytes: copied from the thread's cache in one append (the plaintext route's
        // responses, pipelined, all are). Otherwise it is built, and kept for the next one.
        let secs = crate::sys::coarse_unix_secs();
        let key = HeadKey::of(self, keep_alive, minor_version, secs);
        let hit = key.is_some_and(|key| LAST_HEAD.with(|cell| cell.borrow().copy_to(&key, out)));
        if !hit {
            let start = out.len();
            self.write_head(out, keep_alive, minor_version, secs);
            if let Some(key) = key {
                LAST_HEAD.with(|cell| cell.borrow_mut().keep(key, &out[start..]));
            }
        }
        if !head_only && !self.status.forbids_body() {
            if let Body::Bytes(bytes) = &self.body {
                out.extend_from_slice(bytes);
            }
        }
    }

    /// Appends the head: status line, header fields, the empty line. `secs` is the time for
    /// the `Date` field (seconds since the epoch).
    fn write_head(&self, out: &mut Vec<u8>, keep_alive: bool, minor_version: u8, secs: u64) {
        // Plain appends to `out`, which keeps its capacity between responses: building a
        // response allocates nothing once `out` has grown to a batch's size.
        let status = self.status;
        out.extend_from_slice(b"HTTP/1.1 ");
        push_decimal(out, u64::from(status.code()));
        out.push(b' ');
        out.extend_from_slice(status.reason().as_bytes());
        out.extend_from_slice(b"\r\nServer: ");
        out.extend_from_slice(SERVER.as_bytes());
        out.extend_from_slice(b"\r\nDate: ");
        with_http_date_at(secs, |date| out.extend_from_slice(date));
        out.extend_from_slice(b"\r\n");
        if !status.forbids_body() {
            if !self.content_type.is_empty() {
                out.extend_from_slice(b"Content-Type: ");
                out.extend_from_slice(self.content_type.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"Content-Length: ");
            push_decimal(out, self.body.len());
            out.extend_from_slice(b"\r\n");
        }
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if !keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if minor_version == 0 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// What decides a response head's bytes, for a response whose head can be cached: no extra
/// header fields and a `'static` content type (compared by address: a `'static` string at an
/// address never changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HeadKey {
    status: u16,
    content_type: (usize, usize),
    body_len: u64,
    keep_alive: bool,
    minor_version: u8,
    secs: u64,
}

impl HeadKey {
    fn of(resp: &Response, keep_alive: bool, minor_version: u8, secs: u64) -> Option<HeadKey> {
        let Cow::Borrowed(content_type) = &resp.content_type else {
            return None;
        };
        if !resp.headers.is_empty() {
            return None;
        }
        Some(HeadKey {
            status: resp.status.code(),
            content_type: (content_type.as_ptr() as usize, content_type.len()),
            body_len: resp.body.len(),
            keep_alive,
            minor_version,
            secs,
        })
    }
}

/// The longest head [`LastHead`] keeps (the plaintext route's is about 140 bytes).
const CACHED_HEAD_MAX: usize = 256;

/// The last cacheable response head this thread built, with what decided its bytes.
#[derive(Debug)]
struct LastHead {
    key: Option<HeadKey>,
    len: usize,
    bytes: [u8; CACHED_HEAD_MAX],
}

impl LastHead {
    /// Appends the kept head to `out` if it was built for `key`.
    fn copy_to(&self, key: &HeadKey, out: &mut Vec<u8>) -> bool {
        if self.key.as_ref() != Some(key) {
            return false;
        }
        out.extend_from_slice(&self.bytes[..self.len]);
        true
    }

    fn keep(&mut self, key: HeadKey, head: &[u8]) {
        if head.len() > CACHED_HEAD_MAX {
            self.key = None;
            return;
        }
        self.bytes[..head.len()].copy_from_slice(head);
        self.len = head.len();
        self.key = Some(key);
    }
}

thread_local! {
    static LAST_HEAD: RefCell<LastHead> = const {
        RefCell::new(LastHead {
            key: None,
            len: 0,
            bytes: [0; CACHED_HEAD_MAX],
        })
    };
}

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

thread_local! {
    /// The Date header changes once a second: it is formatted once a second per thread, into
    /// this fixed buffer (no allocation), and copied into every response of that second.
    static DATE: RefCell<(u64, [u8; 29])> = const { RefCell::new((u64::MAX, [0; 29])) };
}

/// Calls `f` with the current time as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`),
/// formatted at most once a second per thread.
pub fn with_http_date<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    // The coarse clock (no TSC read): the precise one cost more than the rest of the response
    // head together. It runs at most a tick behind, well inside the header's one-second
    // resolution.
    with_http_date_at(crate::sys::coarse_unix_secs(), f)
}

/// [`with_http_date`] for a time already read: `secs` since the epoch.
fn with_http_date_at<R>(secs: u64, f: impl FnOnce(&[u8]) -> R) -> R {
    DATE.with(|cell| {
        let mut cache = cell.borrow_mut();
        if cache.0 != secs {
            let now = UNIX_EPOCH + Duration::from_secs(secs);
            let mut slot = &mut cache.1[..];
            let _ = write!(slot, "{}", httpdate::HttpDate::from(now));
            cache.0 = secs;
        }
        f(&cache.1)
    })
}

/// What [`respond`] queued: whether the connection stays open, and the file still to send after
/// what is in `out` (none for a body in memory, a small file, a HEAD request or a status without
/// a body).
#[derive(Debug)]
pub struct Queued {
    pub keep_alive: bool,
    pub file: Option<FileBody>,
}

/// Writes the answer to `req` into `out` and decides whether the connection stays open: only if
/// the client allows it, the handler did not ask to close, and the server is not shutting down.
/// Every model calls this, so keep-alive is decided in one place. A file body comes back in
/// [`Queued::file`]: the caller sends it after `out`, before anything else.
pub fn respond(
    req: &crate::request::Head,
    resp: Response,
    shutting_down: bool,
    out: &mut Vec<u8>,
) -> Queued {
    let keep_alive = req.keep_alive && !resp.close && !shutting_down;
    let sends_body = !req.is_head() && !resp.status.forbids_body();
    resp.write_to(out, !sends_body, keep_alive, req.minor_version);
    let file = match resp.body {
        // A small file goes into `out` with its head (if it cannot be read now, the stream will
        // fail the same way and close the connection).
        Body::File(mut file) if sends_body => {
            let small = file.remaining() <= INLINE_FILE_BYTES;
            (!small || file.append_to(out).is_err()).then_some(file)
        }
        _ => None,
    };
    Queued { keep_alive, file }
}

/// Writes the error response for a rejected request (always `Connection: close`) into `out`.
pub fn write_rejection(rejection: crate::error::Rejection, out: &mut Vec<u8>) {
    Response::error(rejection.status(), rejection.reason()).write_to(out, false, false, 1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::{Progress, RequestReader};

    fn head(request: &[u8]) -> crate::request::Request {
        let mut buf = crate::input::Input::from(request);
        match RequestReader::new().advance(&mut buf, &crate::limits::Limits::default()) {
            Ok(Progress::Complete(req)) => req,
            other => panic!("not a request: {other:?}"),
        }
    }

    /// The head cache gives each response the head it would get built afresh: a response that
    /// differs from the last one in anything the head shows is never answered from the cache.
    #[test]
    fn a_cached_head_is_used_only_for_a_response_with_the_same_head() {
        let variants = || {
            [
                (Response::text(Status::OK, &b"Hello"[..]), true, 1),
                (Response::text(Status::OK, &b"Hello!"[..]), true, 1),
                (Response::text(Status::OK, &b"Hello"[..]), false, 1),
                (Response::text(Status::OK, &b"Hello"[..]), true, 0),
                (
                    Response::new(Status::OK, "application/json", &b"Hello"[..]),
                    true,
                    1,
                ),
                (
                    Response::new(Status::OK, String::from("text/html"), &b"Hello"[..]),
                    true,
                    1,
                ),
                (Response::text(Status::NOT_FOUND, &b"Hello"[..]), true, 1),
                (
                    Response::text(Status::OK, &b"Hello"[..]).with_header("Allow", "GET"),
                    true,
                    1,
                ),
                (Response::text(Status::OK, &b"Hello"[..]), true, 1),
                // The same length, another static body: the cache keeps bodies by address.
                (Response::text(Status::OK, &b"World"[..]), true, 1),
                (Response::text(Status::OK, b"World".to_vec()), true, 1),
                (Response::text(Status::OK, &b"Hello"[..]), true, 1),
                (
                    Response::text(Status::new(204).expect("a code"), &b""[..]),
                    true,
                    1,
                ),
                (Response::text(Status::OK, &[b'x'; 200][..]), true, 1),
            ]
        };
        for _round in 0..2 {
            let count = variants().len();
            let steps = (0..count).flat_map(|i| [(i, false), (i, true), (i, false)]);
            for (i, head_only) in steps {
                let (resp, keep_alive, minor) = variants().into_iter().nth(i).expect("a variant");
                loop {
                    let secs = crate::sys::coarse_unix_secs();
                    let mut out = Vec::new();
                    resp.write_to(&mut out, head_only, keep_alive, minor);
                    let mut expected = Vec::new();
                    resp.write_head(&mut expected, keep_alive, minor, secs);
                    if !head_only && !resp.status.forbids_body() {
                        expected.extend_from_slice(resp.body.bytes().expect("in memory"));
                    }
                    if crate::sys::coarse_unix_secs() != secs {
                        continue; // a second boundary in between: the Date may differ
                    }
                    assert_eq!(
                        String::from_utf8_lossy(&out),
                        String::from_utf8_lossy(&expected)
                    );
                    break;
                }
            }
        }
    }

    fn file_of(len: usize) -> (tempfile::NamedTempFile, File) {
        let tmp = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(tmp.path(), vec![b'x'; len]).expect("write");
        let file = File::open(tmp.path()).expect("open");
        (tmp, file)
    }

    #[test]
    fn a_small_file_is_copied_after_its_head_and_a_large_one_is_left_to_stream() {
        let get = head(b"GET /f HTTP/1.1\r\nHost: t\r\n\r\n");
        let small = INLINE_FILE_BYTES as usize;
        let (_tmp, file) = file_of(small);
        let mut out = Vec::new();
        let queued = respond(
            &get,
            Response::file(Status::OK, "a/b", file, small as u64),
            false,
            &mut out,
        );
        assert!(queued.file.is_none() && queued.keep_alive);
        assert!(out.ends_with(&vec![b'x'; small]));
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.contains(&format!("Content-Length: {small}\r\n")),
            "{text}"
        );

        let large = small + 1;
        let (_tmp, file) = file_of(large);
        let mut out = Vec::new();
        let queued = respond(
            &get,
            Response::file(Status::OK, "a/b", file, large as u64),
            false,
            &mut out,
        );
        assert_eq!(queued.file.map(|f| f.remaining()), Some(large as u64));
        assert!(out.ends_with(b"\r\n\r\n"), "only the head is queued");
    }

    #[test]
    fn the_head_is_written_as_before() {
        let mut out = Vec::new();
        Response::text(Status::NOT_FOUND, &b"gone"[..])
            .with_header("Allow", "GET")
            .write_to(&mut out, false, false, 1);
        let text = String::from_utf8(out).unwrap();
        let date_line = text.lines().nth(2).unwrap();
        assert!(date_line.starts_with("Date: ") && date_line.ends_with(" GMT"));
        assert_eq!(date_line.len(), "Date: ".len() + 29);
        let without_date = text.replace(&format!("{date_line}\r\n"), "");
        assert_eq!(
            without_date,
            "HTTP/1.1 404 Not Found\r\nServer: http-lab\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: 4\r\n\
             Allow: GET\r\nConnection: close\r\n\r\ngone"
        );
        let mut digits = Vec::new();
        for n in [0, 7, 10, 1234567890, u64::MAX] {
            digits.clear();
            push_decimal(&mut digits, n);
            assert_eq!(digits, n.to_string().as_bytes());
        }
    }

    #[test]
    fn head_requests_get_no_file() {
        let head_req = head(b"HEAD /f HTTP/1.1\r\nHost: t\r\n\r\n");
        let (_tmp, file) = file_of(100_000);
        let mut out = Vec::new();
        let queued = respond(
            &head_req,
            Response::file(Status::OK, "a/b", file, 100_000),
            false,
            &mut out,
        );
        assert!(queued.file.is_none());
        assert!(String::from_utf8_lossy(&out).contains("Content-Length: 100000\r\n"));
        assert!(out.ends_with(b"\r\n\r\n"));
    }
}
