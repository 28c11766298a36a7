//! A parsed request: its head (method, target, version, header fields) and its decoded body.
//!
//! The head is kept as one copy of the bytes the client sent, with header fields as ranges into it.
//! The copy makes a `Request` owned (it can go to the offload pool, and the connection's buffer
//! can take the next read meanwhile). A server parses each request into the one it answered
//! before ([`crate::RequestReader::next_into`]), so in steady state a request without a body
//! allocates nothing: the copy lands in storage the previous request left.

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
    /// The target again, as text (its storage reused request after request like `bytes`'):
    /// `target()` and `path()` then cost no UTF-8 check and no search per call, and a handler
    /// routes on `path()` (the lab's calls it once, twice with offload on).
    pub(crate) target_text: String,
    /// Where the path ends in `target_text` (at the `?`, or its length) for an origin-form target.
    pub(crate) path_end: usize,
    pub(crate) headers: Vec<Field>,
    /// The last Host value the parser accepted into this storage: a client sends the same one on
    /// every request of a connection, and a value equal to it is not checked again byte by byte.
    pub(crate) accepted_host: Vec<u8>,
}

impl Default for Head {
    /// An empty head (a `GET` of nothing, HTTP/1.1): storage for [`crate::parse::parse_head_into`].
    fn default() -> Self {
        Head {
            method: Method::Get,
            minor_version: 1,
            keep_alive: true,
            expect_continue: false,
            framing: Framing::None,
            bytes: Vec::new(),
            target: 0..0,
            target_text: String::new(),
            path_end: 0,
            headers: Vec::new(),
            accepted_host: Vec::new(),
        }
    }
}

impl Head {
    /// The request target as sent (origin-form `/path?query`, or absolute-form, or `*`).
    pub fn target(&self) -> &str {
        &self.target_text
    }

    /// The path part of the target, without the query: everything before the first `?`. For an
    /// absolute-form target (one that *starts* with `http://` or `https://`, RFC 9112 section
    /// 3.2.2) it is the path after the authority. A `://` anywhere else (in a query, say) is
    /// data, never a second chance to pick the route.
    pub fn path(&self) -> &str {
        let target = self.target();
        if target.starts_with('/') {
            // origin-form, nearly every request: the path ends at the first `?`, found once by
            // the parser.
            return target.get(..self.path_end).unwrap_or(target);
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
///
/// A server keeps one and parses request after request into it
/// ([`crate::RequestReader::next_into`]): each head is copied into the storage the one before
/// left, so in steady state a request without a body allocates nothing, and nothing is moved.
/// `Request::default()` allocates nothing either.
#[derive(Debug, Clone, Default)]
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
