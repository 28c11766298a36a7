//! Properties the fuzz targets check, in one place so the fuzzer and the corpus replay agree.
//!
//! Each function takes arbitrary bytes, runs the parser, the chunked decoder or the request reader
//! on them, and panics if a property fails; returning means the input is fine, accepted or refused.
//! The coverage-guided fuzzer (`fuzz/`, see its README) calls them on generated inputs, and
//! `tests/fuzz_corpus.rs` replays every committed corpus file through them on the stable toolchain,
//! so a change that breaks a property on a known input fails `cargo test`.
//!
//! Properties, beyond "no panic":
//! - **Split reads change nothing.** The same bytes fed whole, fed in four pieces cut at points
//!   derived from the bytes, and (for the chunked decoder) one byte at a time, give the same
//!   requests, the same body, the same leftover bytes, and an error exactly when the whole does.
//! - **Nothing is consumed that was not given**, and a head's `consumed` is stable: the same head
//!   followed by more bytes is `Complete` with the same count, and every shorter prefix is `Partial`.
//! - **Limits hold**: no head above `max_head_bytes`, no target above `max_target_bytes`, no body
//!   (either framing) above `max_body_bytes`.
//! - **The application's view holds**: a head's bytes are the bytes sent, the target and field
//!   names are text, and the path and query lie inside the target.
//!
//! Not part of the server: `#[doc(hidden)]` in `lib.rs`.

use crate::body::BodyDecoder;
use crate::error::Rejection;
use crate::input::Input;
use crate::limits::Limits;
use crate::parse::{parse_head, HeadStatus};
use crate::reader::{Parsed, RequestReader};
use crate::request::{Framing, Head, Method, Request};

/// The limits every target runs with: small, so that a short input can reach every limit check.
pub fn limits() -> Limits {
    Limits {
        max_body_bytes: 1000,
        max_head_bytes: 1024,
        max_target_bytes: 256,
        max_headers: 16,
        ..Limits::default()
    }
}

/// Three cut points in `0..=len`, sorted, chosen from the bytes themselves (FNV-1a) so that a
/// replayed input is cut where the fuzzer cut it.
fn cuts(data: &[u8]) -> [usize; 3] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let n = data.len() as u64 + 1;
    let mut c = [
        (h % n) as usize,
        ((h >> 21) % n) as usize,
        ((h >> 42) % n) as usize,
    ];
    c.sort_unstable();
    c
}

/// `data` in four pieces, cut at [`cuts`].
fn pieces(data: &[u8]) -> [&[u8]; 4] {
    let [a, b, c] = cuts(data);
    [&data[..a], &data[a..b], &data[b..c], &data[c..]]
}

/// `parse_head` alone.
pub fn check_parse_head(data: &[u8]) {
    let limits = limits();
    let (head, consumed) = match parse_head(data, &limits) {
        Ok(HeadStatus::Complete(head, consumed)) => (head, consumed),
        Ok(HeadStatus::Partial) => {
            assert!(
                data.len() <= limits.max_head_bytes,
                "Partial past the head limit"
            );
            return;
        }
        Err(r) => {
            assert_ne!(r, Rejection::Timeout, "the parser has no clock");
            return;
        }
    };
    assert!(
        consumed > 0 && consumed <= data.len(),
        "consumed {consumed} of {}",
        data.len()
    );
    assert!(consumed <= limits.max_head_bytes);
    assert!(
        data[..consumed].ends_with(b"\r\n\r\n"),
        "a head ends with an empty line"
    );
    // The parser looks for bare LFs only where lines end: no byte of an accepted head is a NUL, a
    // CR without its LF or an LF without its CR.
    let head_bytes = &data[..consumed];
    for (i, &b) in head_bytes.iter().enumerate() {
        let before = i.checked_sub(1).map(|j| head_bytes[j]);
        let after = head_bytes.get(i + 1).copied();
        assert!(b != 0, "NUL at {i} in an accepted head");
        assert!(b != b'\r' || after == Some(b'\n'), "bare CR at {i}");
        assert!(b != b'\n' || before == Some(b'\r'), "bare LF at {i}");
    }
    check_head(&head, &data[..consumed], &limits);

    // The head alone, and the head followed by anything, is the same head.
    let mut longer = data[..consumed].to_vec();
    longer.extend_from_slice(b"\r\n\0GET / HTTP/1.1\r\n");
    for buf in [&data[..consumed], &longer[..]] {
        match parse_head(buf, &limits) {
            Ok(HeadStatus::Complete(again, n)) => {
                assert_eq!(n, consumed, "consumed depends on what follows");
                assert_eq!(summary(&again), summary(&head));
            }
            other => panic!("head of {consumed} bytes not Complete on its own: {other:?}"),
        }
    }
    // Every shorter prefix of a good head is Partial: an early error would refuse, in a server that
    // reads in small pieces, a request that one read accepts.
    for cut in cuts(&data[..consumed]) {
        if cut < consumed {
            let r = parse_head(&data[..cut], &limits);
            assert!(
                matches!(r, Ok(HeadStatus::Partial)),
                "prefix of {cut}/{consumed} bytes gave {r:?}"
            );
        }
    }
}

/// The chunked decoder alone: `data` is what follows the head of a chunked request.
pub fn check_chunked(data: &[u8]) {
    let limits = limits();
    let whole = decode_chunked(&[data], &limits);
    if let Ok((used, done, body)) = &whole {
        assert!(*used <= data.len());
        assert!(body.len() <= limits.max_body_bytes, "body above the limit");
        assert!(body.len() <= *used, "more body than input");
        // Not done means more is needed: then every byte given was taken.
        assert!(
            *done || *used == data.len(),
            "stopped early without finishing"
        );
        if *done {
            // The body ends at `used`: those bytes alone give the same body.
            assert_eq!(
                decode_chunked(&[&data[..*used]], &limits),
                Ok((*used, true, body.clone()))
            );
        }
    }
    assert_eq!(decode_chunked(&pieces(data), &limits), whole, "four pieces");
    let bytes: Vec<&[u8]> = data.chunks(1).collect();
    assert_eq!(decode_chunked(&bytes, &limits), whole, "byte by byte");
}

/// Feeds `parts` in turn to one chunked decoder, as a connection would after successive reads
/// (unused bytes stay at the front of the buffer). Returns bytes used, done, body.
fn decode_chunked(parts: &[&[u8]], limits: &Limits) -> Result<(usize, bool, Vec<u8>), Rejection> {
    let mut decoder = BodyDecoder::chunked();
    let mut body = Vec::new();
    let mut buf = Vec::new();
    let mut used_total = 0;
    for part in parts {
        buf.extend_from_slice(part);
        let (used, done) = decoder.decode(
            &buf,
            &mut body,
            limits.max_body_bytes,
            limits.max_head_bytes,
        )?;
        assert!(used <= buf.len(), "used {used} of {}", buf.len());
        buf.drain(..used);
        used_total += used;
        if done {
            return Ok((used_total, true, body));
        }
    }
    Ok((used_total, false, body))
}

/// The request reader over a connection's bytes: heads, bodies, pipelining, split reads.
pub fn check_reader(data: &[u8]) {
    let limits = limits();
    let whole = read_all(&[data], &limits, Some(data));
    let split = read_all(&pieces(data), &limits, None);
    assert_eq!(split.requests, whole.requests, "requests differ when split");
    // Which fault a broken request is refused for may depend on how much had arrived (a NUL seen
    // early is refused before the version is complete), so only the fact of an error must agree.
    assert_eq!(
        split.end.is_err(),
        whole.end.is_err(),
        "{:?} vs {:?}",
        split.end,
        whole.end
    );
    if whole.end.is_ok() {
        assert_eq!(split.end, whole.end, "leftover differs when split");
    }
}

/// What a test keeps of a complete request.
type Summary = (
    Method,
    u8,
    bool,
    bool,
    Framing,
    Vec<u8>,
    Vec<(Vec<u8>, Vec<u8>)>,
);

fn summary(h: &Head) -> Summary {
    (
        h.method,
        h.minor_version,
        h.keep_alive,
        h.expect_continue,
        h.framing,
        h.bytes[h.target.clone()].to_vec(),
        h.headers
            .iter()
            .map(|(n, v)| (h.bytes[n.clone()].to_vec(), h.bytes[v.clone()].to_vec()))
            .collect(),
    )
}

/// Invariants of an accepted head, `wire` being the bytes it was parsed from.
fn check_head(h: &Head, wire: &[u8], limits: &Limits) {
    // The head as sent, except that a higher minor version (HTTP/1.2 to 1.9) is read as 1.1.
    assert_eq!(h.bytes.len(), wire.len());
    for (i, (&kept, &sent)) in h.bytes.iter().zip(wire).enumerate() {
        let version_digit = wire[..i].ends_with(b" HTTP/1.") && (b'2'..=b'9').contains(&sent);
        assert!(
            kept == sent || (version_digit && kept == b'1'),
            "head byte {i} changed"
        );
    }
    assert!(h.minor_version <= 1);
    assert!(h.target.len() <= limits.max_target_bytes);
    assert!(!h.target.is_empty());
    assert!(h.headers.len() <= limits.max_headers);
    if let Framing::Length(n) = h.framing {
        assert!(n > 0 && n <= limits.max_body_bytes as u64);
    }
    assert!(!h.expect_continue || (h.minor_version == 1 && h.framing != Framing::None));
    for (n, v) in &h.headers {
        assert!(!h.bytes[n.clone()].is_empty());
        assert!(!h.bytes[v.clone()].contains(&b'\n'));
    }
    // The accessors the application uses: text where the parser promised text, and no panic.
    let target = h.target();
    assert_eq!(
        target.as_bytes(),
        &h.bytes[h.target.clone()],
        "target not UTF-8"
    );
    assert!(
        target.contains(h.path()),
        "path {:?} not in {target:?}",
        h.path()
    );
    if let Some(q) = h.query() {
        assert!(target.ends_with(q));
    }
    for (name, value) in h.headers() {
        assert!(!name.is_empty(), "field name not UTF-8");
        assert!(h
            .header(name)
            .is_some_and(|first| first.len() <= limits.max_head_bytes));
        assert!(value.len() < wire.len());
    }
}

#[derive(Debug)]
struct ReadAll {
    requests: Vec<(Summary, Vec<u8>)>,
    /// Ok: still waiting, with these unconsumed bytes and whether a body is in progress.
    end: Result<(Vec<u8>, bool), Rejection>,
}

/// Feeds `parts` to one reader as successive reads and collects every request. With `wire` (the
/// whole input, fed as one part) it also checks each request against the bytes it came from.
fn read_all(parts: &[&[u8]], limits: &Limits, wire: Option<&[u8]>) -> ReadAll {
    let mut reader = RequestReader::new();
    let mut buf = Input::new();
    // Parsed into one request, its storage reused, as the servers do.
    let mut req = Request::default();
    let mut requests = Vec::new();
    let mut fed = 0;
    for part in parts {
        buf.extend_from_slice(part);
        fed += part.len();
        loop {
            let offset = fed - buf.len();
            let before_body = !reader.in_body();
            let next = match reader.next_into(&mut buf, limits, &mut req) {
                Ok(p) => p,
                Err(r) => {
                    return ReadAll {
                        requests,
                        end: Err(r),
                    }
                }
            };
            assert!(buf.len() <= fed - offset, "the buffer grew");
            match next {
                Parsed::Complete => {
                    if let (Some(wire), true) = (wire, before_body) {
                        let rest = &wire[offset..];
                        let head_len = req.head.bytes.len();
                        check_head(&req.head, &rest[..head_len], limits);
                        if let Framing::Length(n) = req.head.framing {
                            assert_eq!(req.body, rest[head_len..head_len + n as usize]);
                        }
                    }
                    assert!(req.body.len() <= limits.max_body_bytes);
                    if req.head.framing == Framing::None {
                        assert!(req.body.is_empty());
                    }
                    requests.push((summary(&req.head), req.body.clone()));
                }
                Parsed::Continue => {}
                Parsed::Partial => break,
            }
        }
    }
    if let Some(wire) = wire {
        assert!(
            wire.ends_with(buf.bytes()),
            "the leftover is not the input's tail"
        );
    }
    let in_body = reader.in_body();
    ReadAll {
        requests,
        end: Ok((buf.bytes().to_vec(), in_body)),
    }
}
