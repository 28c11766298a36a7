//! Reading responses: a small incremental parser, one per connection.
//!
//! The head (status line and headers) is parsed with `httparse`; the body is
//! skipped by a byte-level state machine that knows `Content-Length`,
//! chunked encoding (with extensions and trailers) and read-until-close.
//! Nothing is copied except a head split across two reads, which is saved
//! in `partial` (empty and unallocated the rest of the time), so each
//! connection costs a few dozen bytes while the read buffer itself is shared
//! by the whole thread. As in httparse, an incomplete response is a normal
//! state, not an error.

/// Heads longer than this are an error (a real client would pick ~8-64 KiB too).
const MAX_HEAD: usize = 64 * 1024;
/// Headers parsed per response; more is an error.
const MAX_HEADERS: usize = 64;

/// A complete response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Done {
    pub status: u16,
    /// The server will close the connection after this response.
    pub close: bool,
}

/// The bytes are not HTTP/1.x.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    /// Body bytes left.
    Length(u64),
    /// Reading a chunk-size line: the size so far, and whether we are past
    /// the digits (in an extension or whitespace).
    ChunkSize {
        size: u64,
        past_digits: bool,
    },
    /// Chunk bytes left.
    ChunkData(u64),
    /// The CRLF after a chunk's data.
    ChunkEnd,
    /// Trailer lines after the last chunk; the length of the current line.
    Trailer(u32),
    /// No length given: the body ends when the server closes.
    UntilClose,
}

#[derive(Debug)]
pub(crate) struct Parser {
    state: State,
    partial: Vec<u8>,
    status: u16,
    close: bool,
}

impl Parser {
    pub fn new() -> Parser {
        Parser {
            state: State::Head,
            partial: Vec::new(),
            status: 0,
            close: false,
        }
    }

    /// Forget everything: the connection was closed and reopened.
    pub fn reset(&mut self) {
        self.state = State::Head;
        self.partial.clear();
    }

    /// The server closed the connection: if the body was delimited by the
    /// close, the response is now complete.
    pub fn eof(&mut self) -> Option<Done> {
        if self.state == State::UntilClose {
            self.state = State::Head;
            Some(Done {
                status: self.status,
                close: true,
            })
        } else {
            None
        }
    }

    /// Consume bytes from `buf`. Returns how many were used and, if a
    /// response ended within them, the response; call again with the rest.
    /// `head_request`: the response is to a `HEAD` and has no body.
    pub fn feed(
        &mut self,
        buf: &[u8],
        head_request: bool,
    ) -> Result<(usize, Option<Done>), Invalid> {
        if buf.is_empty() {
            return Ok((0, None));
        }
        match self.state {
            State::Head => self.feed_head(buf, head_request),
            _ => Ok(self.feed_body(buf)),
        }
    }

    fn feed_head(
        &mut self,
        buf: &[u8],
        head_request: bool,
    ) -> Result<(usize, Option<Done>), Invalid> {
        // Fast path: the whole head is in this read.
        if self.partial.is_empty() {
            return match self.parse_head(buf, head_request)? {
                Some((n, done)) => Ok((n, done)),
                None => {
                    self.save_partial(buf)?;
                    Ok((buf.len(), None))
                }
            };
        }
        // Slow path: the head began in an earlier read.
        let old = self.partial.len();
        self.save_partial(buf)?;
        let partial = std::mem::take(&mut self.partial);
        let parsed = self.parse_head(&partial, head_request);
        self.partial = partial;
        match parsed? {
            Some((n, done)) => {
                self.partial.clear();
                // n > old, or the old bytes would have parsed already.
                Ok((n - old, done))
            }
            None => Ok((buf.len(), None)),
        }
    }

    fn save_partial(&mut self, buf: &[u8]) -> Result<(), Invalid> {
        if self.partial.len() + buf.len() > MAX_HEAD {
            return Err(Invalid);
        }
        self.partial.extend_from_slice(buf);
        Ok(())
    }

    /// Parse a head at the start of `buf`. `None`: not all there yet.
    /// `Some((n, None))`: `n` head bytes used, body follows.
    fn parse_head(
        &mut self,
        buf: &[u8],
        head_request: bool,
    ) -> Result<Option<(usize, Option<Done>)>, Invalid> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let n = match response.parse(buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(Invalid),
        };
        let status = response.code.ok_or(Invalid)?;
        // HTTP/1.0 closes unless asked not to; HTTP/1.1 keeps alive unless told to close.
        let mut close = response.version == Some(0);
        let mut chunked = false;
        let mut length = None;
        for h in response.headers.iter() {
            if h.name.eq_ignore_ascii_case("connection") {
                for token in h.value.split(|&b| b == b',') {
                    let token = token.trim_ascii();
                    if token.eq_ignore_ascii_case(b"close") {
                        close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        close = false;
                    }
                }
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = h.value.trim_ascii().ends_with(b"chunked");
            } else if h.name.eq_ignore_ascii_case("content-length") {
                let text = std::str::from_utf8(h.value).map_err(|_| Invalid)?;
                length = Some(text.trim().parse::<u64>().map_err(|_| Invalid)?);
            }
        }
        self.status = status;
        self.close = close;
        if (100..200).contains(&status) && status != 101 {
            // An interim response (100 Continue): the real one follows.
            return Ok(Some((n, None)));
        }
        let no_body = head_request || status == 204 || status == 304 || status == 101;
        self.state = if no_body {
            State::Head
        } else if chunked {
            State::ChunkSize {
                size: 0,
                past_digits: false,
            }
        } else if let Some(len) = length {
            if len == 0 {
                State::Head
            } else {
                State::Length(len)
            }
        } else {
            self.close = true;
            State::UntilClose
        };
        if self.state == State::Head {
            Ok(Some((n, Some(self.finish()))))
        } else {
            Ok(Some((n, None)))
        }
    }

    fn finish(&mut self) -> Done {
        self.state = State::Head;
        Done {
            status: self.status,
            close: self.close || self.status == 101,
        }
    }

    /// Skip body bytes. Never fails except on a malformed chunk size.
    fn feed_body(&mut self, buf: &[u8]) -> (usize, Option<Done>) {
        let mut i = 0;
        while i < buf.len() {
            match self.state {
                State::Head => unreachable!("feed_body is only called inside a body"),
                State::UntilClose => return (buf.len(), None),
                State::Length(left) | State::ChunkData(left) => {
                    let take = left.min((buf.len() - i) as u64);
                    i += take as usize;
                    let left = left - take;
                    self.state = match (self.state, left) {
                        (State::Length(_), 0) => return (i, Some(self.finish())),
                        (State::Length(_), _) => State::Length(left),
                        (_, 0) => State::ChunkEnd,
                        _ => State::ChunkData(left),
                    };
                }
                State::ChunkEnd => {
                    if buf[i] == b'\n' {
                        self.state = State::ChunkSize {
                            size: 0,
                            past_digits: false,
                        };
                    }
                    i += 1;
                }
                State::ChunkSize { size, past_digits } => {
                    let b = buf[i];
                    i += 1;
                    if b == b'\n' {
                        self.state = if size == 0 {
                            State::Trailer(0)
                        } else {
                            State::ChunkData(size)
                        };
                    } else if !past_digits && b.is_ascii_hexdigit() {
                        let digit = (b as char).to_digit(16).unwrap_or(0) as u64;
                        // A size past 2^60 is nonsense; saturate and let the
                        // timeout or the close end it.
                        let size = size.saturating_mul(16).saturating_add(digit);
                        self.state = State::ChunkSize { size, past_digits };
                    } else {
                        // ';' extension, whitespace or '\r': ignore to the end of line.
                        self.state = State::ChunkSize {
                            size,
                            past_digits: true,
                        };
                    }
                }
                State::Trailer(line) => {
                    let b = buf[i];
                    i += 1;
                    match b {
                        b'\n' if line == 0 => return (i, Some(self.finish())),
                        b'\n' => self.state = State::Trailer(0),
                        b'\r' => {}
                        _ => self.state = State::Trailer(line + 1),
                    }
                }
            }
        }
        (i, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `input` split at `split`, collecting the completed responses.
    fn run(input: &[u8], split: usize) -> Vec<Done> {
        let mut p = Parser::new();
        let mut out = Vec::new();
        for part in [&input[..split], &input[split..]] {
            let mut rest = part;
            while !rest.is_empty() {
                let (n, done) = p.feed(rest, false).expect("valid");
                out.extend(done);
                rest = &rest[n..];
            }
        }
        out.extend(p.eof());
        out
    }

    fn at_every_split(input: &[u8], expect: &[Done]) {
        for split in 0..=input.len() {
            assert_eq!(run(input, split), expect, "split at {split}");
        }
    }

    const OK: Done = Done {
        status: 200,
        close: false,
    };

    #[test]
    fn content_length_pipelined() {
        let one = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        at_every_split(&one.repeat(3), &[OK, OK, OK]);
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let input = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n\
            5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n\
            HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let nf = Done {
            status: 404,
            close: false,
        };
        at_every_split(input, &[nf, OK]);
    }

    #[test]
    fn until_close_and_connection_close() {
        let input = b"HTTP/1.0 200 OK\r\n\r\nbody until the end";
        let closed = Done {
            status: 200,
            close: true,
        };
        at_every_split(input, &[closed]);
        let input = b"HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx";
        let closed = Done {
            status: 500,
            close: true,
        };
        at_every_split(input, &[closed]);
    }

    #[test]
    fn interim_and_bodiless() {
        let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
        let nc = Done {
            status: 204,
            close: false,
        };
        at_every_split(input, &[nc]);
        let mut p = Parser::new();
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
        assert_eq!(p.feed(head, true), Ok((head.len(), Some(OK))));
    }

    #[test]
    fn garbage_is_invalid() {
        let mut p = Parser::new();
        assert_eq!(p.feed(b"SSH-2.0-OpenSSH\r\n\r\n", false), Err(Invalid));
    }
}
