//! A parsed request: its head (method, target, version, header fields) and its decoded body.
//!
//! The head is kept as one copy of the bytes the client sent, with header fields as ranges into it.
//! The copy makes a `Request` owned (it can go to the offload pool, and the connection's buffer
//! can take the next read meanwhile); the two vectors it needs (bytes and ranges) are taken from a
//! [`Spare`] and given back to it once the request is answered, so in steady state a request
//! without a body allocates nothing: the copy lands in storage the previous request left.

use std::ops::Range;

/// The methods this server knows (RFC 9110 section 9, plus PATCH). Any other token gets 501.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Trace,
    Connect,
    Patch,
}

impl Method {
    /// Maps a method token (case-sensitive, as RFC 9110 says) to a known method.
    pub fn from_token(token: &str) -> Option<Method> {
        Some(match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            "TRACE" => Method::Trace,
            "CONNECT" => Method::Connect,
            "PATCH" => Method::Patch,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Connect => "CONNECT",
            Method::Patch => "PATCH",
        }
    }
}

/// How the body of a request is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body at all.
    None,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A header field: the ranges of its name and its value in the head's bytes.
pub(crate) type Field = (Range<usize>, Range<usize>);

/// A request head, as the parser accepted it.
#[derive(Debug, Clone)]
pub struct Head {
    pub method: Method,
    /// HTTP/1.`minor`: 0 or 1.
    pub minor_version: u8,
    /// Whether the connection may carry another request after this one.
    pub keep_alive: bool,
    /// The client sent `Expect: 100-continue`.
    pub expect_continue: bool,
    pub framing: Framing,
    pub(crate) bytes: Vec<u8>,
    pub(crate) target: Range<usize>,
    pub(crate) headers: Vec<Field>,
}

impl Head {
    /// The request target as sent (origin-form `/path?query`, or absolute-form, or `*`).
    pub fn target(&self) -> &str {
        // The parser checked that the target is visible ASCII.
        std::str::from_utf8(&self.bytes[self.target.clone()]).unwrap_or("")
    }

    /// The path part of the target, without the query: everything before the first `?`. For an
    /// absolute-form target (one that *starts* with `http://` or `https://`, RFC 9112 section
    /// 3.2.2) it is the path after the authority. A `://` anywhere else (in a query, say) is
    /// data, never a second chance to pick the route.
    pub fn path(&self) -> &str {
        let target = self.target();
        if target.starts_with('/') {
            // origin-form, nearly every request: the path ends at the first `?`.
            return match memchr::memchr(b'?', target.as_bytes()) {
                Some(end) => &target[..end],
                None => target,
            };
        }
        let without_query = target.split('?').next().unwrap_or(target);
        match absolute_form_rest(without_query) {
            Some(rest) => match rest.find('/') {
                Some(j) => &rest[j..],
                None => "/",
            },
            None => without_query,
        }
    }

    /// The query string (after `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.target().split_once('?').map(|(_, q)| q)
    }

    /// The value of the first header field with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every header field, in the order received.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|(n, v)| {
            // Header names are tokens (ASCII), checked by httparse.
            let name = std::str::from_utf8(&self.bytes[n.clone()]).unwrap_or("");
            (name, &self.bytes[v.clone()])
        })
    }

    /// True for HEAD requests: the response carries headers but no body.
    pub fn is_head(&self) -> bool {
        self.method == Method::Head
    }
}

/// For an absolute-form target, what follows `scheme://`; `None` for every other form.
fn absolute_form_rest(target: &str) -> Option<&str> {
    ["http://", "https://"].iter().find_map(|scheme| {
        let head = target.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme)
            .then(|| &target[scheme.len()..])
    })
}

/// A complete request: head and decoded body (chunked framing removed).
#[derive(Debug, Clone)]
pub struct Request {
    pub head: Head,
    pub body: Vec<u8>,
}

impl std::ops::Deref for Request {
    type Target = Head;
    fn deref(&self) -> &Head {
        &self.head
    }
}

/// Storage for the next request's head, kept between requests: the byte copy and the field
/// ranges of the last request answered, emptied but with their capacity. A connection (or an
/// event loop, for all its connections) holds one, passes it to
/// [`crate::RequestReader::advance_with`] and gives each answered request back with
/// [`Spare::recycle`]; parsing then allocates only when a head is larger than any before it.
#[derive(Debug, Default)]
pub struct Spare {
    bytes: Vec<u8>,
    headers: Vec<Field>,
}

impl Spare {
    pub const fn new() -> Self {
        Spare {
            bytes: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Keeps `request`'s storage for the next head (its body, if any, is freed).
    pub fn recycle(&mut self, request: Request) {
        let Head { bytes, headers, .. } = request.head;
        if bytes.capacity() > self.bytes.capacity() {
            self.bytes = bytes;
        }
        if headers.capacity() > self.headers.capacity() {
            self.headers = headers;
        }
    }

    /// The storage for a head: empty vectors, with whatever capacity was kept.
    pub(crate) fn take(&mut self) -> (Vec<u8>, Vec<Field>) {
        let mut bytes = std::mem::take(&mut self.bytes);
        let mut headers = std::mem::take(&mut self.headers);
        bytes.clear();
        headers.clear();
        (bytes, headers)
    }
}
