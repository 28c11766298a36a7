//! Request-head parsing: httparse tokenizes, this module enforces what httparse leaves to us.
//!
//! httparse checks the grammar of the request line and of each field line. On top of it we check
//! the rules of RFC 9112 and RFC 9110 that decide how a message is framed and whether it is allowed
//! at all: Host, Content-Length, Transfer-Encoding, Connection, Expect, version, method, limits.
//! Where the RFCs let a server choose between accepting and rejecting, we reject (the strict
//! choice) and say so beside the check. Nothing here reads a socket: it looks at bytes and answers
//! `Partial` (need more) or `Complete(head, consumed)`.

use crate::error::Rejection;
use crate::limits::{Limits, MAX_HEADERS_CAP};
use crate::request::{Framing, Head, Method};
use std::mem::MaybeUninit;

/// The result of looking at the bytes received so far.
#[derive(Debug)]
pub enum HeadStatus {
    /// A whole head: it used the first `consumed` bytes of the buffer.
    Complete(Head, usize),
    /// Not a whole head yet; read more.
    Partial,
}

/// Parses a request head from the start of `buf` into a new [`Head`] (see [`parse_head_into`]).
pub fn parse_head(buf: &[u8], limits: &Limits) -> Result<HeadStatus, Rejection> {
    let mut head = Head::default();
    Ok(match parse_head_into(buf, limits, &mut head)? {
        Some(consumed) => HeadStatus::Complete(head, consumed),
        None => HeadStatus::Partial,
    })
}

/// Parses a request head from the start of `buf` into `head`, in place: the head's bytes are
/// copied into its own storage, which the previous request left (no allocation when its capacity
/// suffices), and nothing is moved. `Some(consumed)`: a whole head, the first `consumed` bytes of
/// `buf`. `None`: not a whole head yet. On `None` or an error `head` holds nothing meaningful.
/// `buf` itself is only read.
pub fn parse_head_into(
    buf: &[u8],
    limits: &Limits,
    head: &mut Head,
) -> Result<Option<usize>, Rejection> {
    // Uninitialized slots: httparse writes only the ones it fills, so a 256-slot array costs no
    // stack pages beyond those used (this matters with 10,000 connection threads).
    let mut slots = [const { MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS_CAP];
    let mut req = httparse::Request::new(&mut []);
    let consumed = match req.parse_with_uninit_headers(buf, &mut slots[..limits.max_headers]) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            check_partial(buf, limits)?;
            return Ok(None);
        }
        Err(httparse::Error::Version) if higher_minor_version(buf).is_some() => {
            return parse_as_http11(buf, limits, head);
        }
        Err(e) => return Err(classify_httparse_error(e, buf, limits)),
    };
    if consumed > limits.max_head_bytes {
        return Err(Rejection::HeadTooLarge);
    }

    let method_token = req.method.ok_or(Rejection::BadRequestLine)?;
    let target = req.path.ok_or(Rejection::BadRequestLine)?;
    let base = buf.as_ptr() as usize;
    let range_of = |s: &[u8]| {
        let start = s.as_ptr() as usize - base;
        start..start + s.len()
    };
    // httparse accepts a bare LF as a line ending (RFC 9112 section 2.2 says a recipient MAY).
    // Strict choice: every line ends in CRLF.
    check_crlf_lines(
        buf,
        consumed,
        range_of(method_token.as_bytes()).start,
        range_of(target.as_bytes()).end,
        req.headers.iter().map(|h| range_of(h.value).end),
    )?;
    let method = Method::from_token(method_token).ok_or(Rejection::UnknownMethod)?;
    if target.len() > limits.max_target_bytes {
        return Err(Rejection::TargetTooLong);
    }
    check_target_form(method, target)?;
    let minor_version = req.version.ok_or(Rejection::BadRequestLine)?;

    // Work out framing and connection semantics from the fields.
    let mut hosts = 0;
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut saw_transfer_encoding = false;
    let mut other_coding = false;
    let mut conn_close = false;
    let mut conn_keep_alive = false;
    let mut expect_continue = false;
    for h in req.headers.iter() {
        let name = h.name;
        let value = h.value;
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
            if value != head.accepted_host.as_slice() {
                check_host(value)?;
                head.accepted_host.clear();
                head.accepted_host.extend_from_slice(value);
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            // RFC 9110 section 8.6 lets a recipient accept a repeated or list-valued field whose
            // values are all the same. Strict choice: any second value is an error.
            if content_length.is_some() {
                return Err(Rejection::BadContentLength);
            }
            content_length = Some(parse_content_length(value)?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if minor_version == 0 {
                // RFC 9112 section 6.1: a server MAY treat it as faulty. Strict: reject.
                return Err(Rejection::TransferEncodingOnHttp10);
            }
            // Codings accumulate across repeated fields: "gzip" then "chunked" is "gzip, chunked".
            saw_transfer_encoding = true;
            for coding in list_tokens(value) {
                if chunked {
                    // Anything after chunked (including a second chunked) cannot be framed.
                    return Err(Rejection::BadTransferEncoding);
                }
                if coding.eq_ignore_ascii_case(b"chunked") {
                    chunked = true;
                } else {
                    // gzip, deflate, compress or an unknown coding: we decode none of them.
                    other_coding = true;
                }
            }
        } else if name.eq_ignore_ascii_case("connection") {
            for token in list_tokens(value) {
                if token.eq_ignore_ascii_case(b"close") {
                    conn_close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    conn_keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("expect") {
            if value.eq_ignore_ascii_case(b"100-continue") {
                expect_continue = minor_version == 1;
            } else {
                return Err(Rejection::UnsupportedExpectation);
            }
        }
    }

    // RFC 9112 section 3.2: exactly one Host in HTTP/1.1; never two.
    if hosts > 1 || (minor_version == 1 && hosts == 0) {
        return Err(Rejection::BadHost);
    }
    let framing = if saw_transfer_encoding {
        if other_coding {
            // RFC 9112 section 6.1: a coding we do not implement gets 501.
            return Err(Rejection::UnsupportedTransferCoding);
        }
        if !chunked {
            // An empty Transfer-Encoding: the body length cannot be determined.
            return Err(Rejection::BadTransferEncoding);
        }
        if content_length.is_some() {
            // RFC 9112 section 6.3 lets a server process such a message (TE wins) and close
            // afterwards. Strict choice: refuse it outright, answering once and closing.
            return Err(Rejection::ConflictingFraming);
        }
        Framing::Chunked
    } else {
        match content_length {
            Some(0) | None => Framing::None,
            Some(n) => Framing::Length(n),
        }
    };
    if let Framing::Length(n) = framing {
        if n > limits.max_body_bytes as u64 {
            return Err(Rejection::BodyTooLarge);
        }
    }
    let keep_alive = if minor_version == 1 {
        !conn_close
    } else {
        conn_keep_alive && !conn_close
    };
    let expect_continue = expect_continue && framing != Framing::None;

    head.method = method;
    head.minor_version = minor_version;
    head.keep_alive = keep_alive;
    head.expect_continue = expect_continue;
    head.framing = framing;
    head.target = range_of(target.as_bytes());
    head.target_text.clear();
    head.target_text.push_str(target);
    head.path_end = query_start(target.as_bytes());
    head.bytes.clear();
    head.bytes.extend_from_slice(&buf[..consumed]);
    head.headers.clear();
    head.headers.extend(
        req.headers
            .iter()
            .map(|h| (range_of(h.name.as_bytes()), range_of(h.value))),
    );
    Ok(Some(consumed))
}

/// Where the query begins in a target (its first `?`), or its length: a plain loop for the short
/// targets most requests carry (a call into memchr costs more than scanning a dozen bytes).
fn query_start(target: &[u8]) -> usize {
    if target.len() <= 32 {
        target.iter().position(|&b| b == b'?')
    } else {
        memchr::memchr(b'?', target)
    }
    .unwrap_or(target.len())
}

/// A head that is still incomplete may already be too big, or carry bytes no head may carry.
fn check_partial(buf: &[u8], limits: &Limits) -> Result<(), Rejection> {
    // A NUL or bare CR can be refused as soon as it arrives; no need to wait for the rest.
    check_line_endings(buf)?;
    // Already past any target we would accept (plus method and version), whether or not the
    // request line has ended: refuse now, so the answer does not depend on how reads were split.
    let first_line_len = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    if first_line_len > limits.max_target_bytes + 64 {
        return Err(Rejection::TargetTooLong);
    }
    if buf.len() > limits.max_head_bytes {
        return Err(Rejection::HeadTooLarge);
    }
    Ok(())
}

/// The offset of the minor digit when the request line says `HTTP/1.d` with d >= 2. RFC 9110
/// section 2.5: a recipient treats a higher minor version as the highest it supports, so such a
/// request is an HTTP/1.1 request (httparse knows only 1.0 and 1.1).
fn higher_minor_version(buf: &[u8]) -> Option<usize> {
    let line_end = buf
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(buf.len());
    let start = buf[..line_end].iter().rposition(|&b| b == b' ')? + 1;
    match &buf[start..line_end] {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'2'..=b'9'] => Some(start + 7),
        _ => None,
    }
}

/// Parses a copy of `buf` in which `HTTP/1.d` says `HTTP/1.1` (see [`higher_minor_version`]).
/// The copy is the same length, so `consumed` holds for `buf` too. A rare path: it allocates.
fn parse_as_http11(
    buf: &[u8],
    limits: &Limits,
    head: &mut Head,
) -> Result<Option<usize>, Rejection> {
    let digit = higher_minor_version(buf).ok_or(Rejection::UnsupportedVersion)?;
    // The whole buffer (the reader bounds it): the version digit may lie past the head limit,
    // and parsing the copy then refuses the head as the original would be refused.
    let mut copy = buf.to_vec();
    copy[digit] = b'1';
    parse_head_into(&copy, limits, head)
}

/// Maps an httparse error to the rejection RFC 9112 asks for.
fn classify_httparse_error(e: httparse::Error, buf: &[u8], limits: &Limits) -> Rejection {
    use httparse::Error as E;
    if let Err(r) = check_line_endings(buf) {
        return r;
    }
    match e {
        E::TooManyHeaders => Rejection::TooManyHeaders,
        E::Version => {
            // "HTTP/2.0" or "HTTP/3.0" is well-formed but not ours: 505. Anything else: 400.
            let line = buf
                .split(|&b| b == b'\r' || b == b'\n')
                .next()
                .unwrap_or(b"");
            let version = line.rsplit(|&b| b == b' ').next().unwrap_or(b"");
            match version {
                [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
                    if major.is_ascii_digit() && minor.is_ascii_digit() =>
                {
                    Rejection::UnsupportedVersion
                }
                _ => Rejection::BadRequestLine,
            }
        }
        E::Token => {
            // A bad target can be a target too long for us to bother reading.
            let line = buf.split(|&b| b == b'\n').next().unwrap_or(b"");
            if line.len() > limits.max_target_bytes + 64 {
                Rejection::TargetTooLong
            } else {
                Rejection::BadRequestLine
            }
        }
        E::NewLine => Rejection::BadRequestLine,
        E::HeaderName | E::HeaderValue => Rejection::BadHeader,
        E::Status => Rejection::BadRequestLine,
    }
}

/// Rejects NUL anywhere, CR not followed by LF, and LF not preceded by CR (leading empty lines,
/// which RFC 9112 section 2.2 says to ignore, are CRLF too). A CR as the last byte may still get
/// its LF. It runs on a head still incomplete and on one httparse refused (a complete one gets
/// [`check_crlf_lines`]); each byte is judged against the one before it without a branch.
fn check_line_endings(buf: &[u8]) -> Result<(), Rejection> {
    let Some(&first) = buf.first() else {
        return Ok(());
    };
    let bad = buf
        .iter()
        .zip(&buf[1..])
        .fold(first == 0 || first == b'\n', |bad, (&before, &byte)| {
            bad | (byte == 0) | ((before == b'\r') != (byte == b'\n'))
        });
    if bad {
        Err(Rejection::ControlByte)
    } else {
        Ok(())
    }
}

/// Refuses a complete head with a line that ends in a bare LF. httparse has already refused, in a
/// complete request head, NUL and every CR that is not followed by LF, so a bare LF is all that
/// can remain, and only where a line ends: after the request line, after each field's value (past
/// the spaces and tabs httparse trimmed off it), at the empty line that ends the head, and in the
/// empty lines RFC 9112 section 2.2 lets come before the request line. httparse's slices say where
/// those are, so this looks at a few bytes per line, not at every byte of the head (the byte scan
/// it replaces was a tenth of a pipelined request's time in user space). `method_start` and
/// `target_end` locate the request line; `value_ends` are the offsets just past each field value.
/// The fuzz property [`crate::fuzzing::check_parse_head`] checks it against a scan of every byte.
fn check_crlf_lines(
    buf: &[u8],
    consumed: usize,
    method_start: usize,
    target_end: usize,
    value_ends: impl Iterator<Item = usize>,
) -> Result<(), Rejection> {
    // The byte before the LF that ends the line whose last visible byte is at `end - 1`.
    let cr_before_lf = |mut end: usize| {
        while matches!(buf.get(end), Some(b' ' | b'\t')) {
            end += 1;
        }
        buf.get(end) == Some(&b'\r')
    };
    // `HTTP/1.x` follows the target after one space (httparse's default request-line grammar).
    let mut ok =
        cr_before_lf(target_end + " HTTP/1.1".len()) && consumed >= 2 && buf[consumed - 2] == b'\r';
    for end in value_ends {
        ok &= cr_before_lf(end);
    }
    if !ok || check_line_endings(&buf[..method_start]).is_err() {
        return Err(Rejection::ControlByte);
    }
    Ok(())
}

/// origin-form (`/path`), absolute-form (`http://host/path`), asterisk-form (`*`, OPTIONS only)
/// and authority-form (`host:port`, CONNECT only): RFC 9112 section 3.2.
fn check_target_form(method: Method, target: &str) -> Result<(), Rejection> {
    let ok = if target.starts_with('/') {
        method != Method::Connect
    } else if target == "*" {
        method == Method::Options
    } else if method == Method::Connect {
        !target.contains('/')
    } else {
        let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
        lower.starts_with("http://") || lower.starts_with("https://")
    };
    if ok {
        Ok(())
    } else {
        Err(Rejection::BadRequestLine)
    }
}

/// Host = uri-host [ ":" port ]: reg-name, IPv4 or a bracketed IP literal. We check the alphabet,
/// which is what matters for safety (no whitespace, no `/`, `@` or `\`).
fn check_host(value: &[u8]) -> Result<(), Rejection> {
    // One table lookup per byte (it runs on every request's Host).
    let ok = value.iter().all(|&b| HOST_BYTES[usize::from(b)]);
    if ok {
        Ok(())
    } else {
        Err(Rejection::BadHost)
    }
}

/// The bytes [`check_host`] allows: ASCII letters and digits and `-._~!$&'()*+,;=:[]%`.
const HOST_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let extra = b"-._~!$&'()*+,;=:[]%";
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
};

/// Content-Length = 1*DIGIT. A list ("5, 5"), a sign, spaces inside, or an overflow are errors.
fn parse_content_length(value: &[u8]) -> Result<u64, Rejection> {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return Err(Rejection::BadContentLength);
    }
    let mut n: u64 = 0;
    for &d in value {
        n = n * 10 + u64::from(d - b'0');
    }
    Ok(n)
}

/// Splits a comma-separated list field into trimmed tokens. Empty elements are allowed by
/// RFC 9110 section 5.6.1 ("a recipient MUST accept empty list elements") and skipped.
fn list_tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(|t| t.trim_ascii())
        .filter(|t| !t.is_empty())
}
