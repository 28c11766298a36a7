//! Body framing: Content-Length and chunked transfer coding (RFC 9112 sections 6 and 7).
//!
//! A decoder is fed whatever bytes have arrived and says how many it used; it keeps its place
//! between calls, so a chunk-size line, a chunk or a trailer may be split across any number of
//! reads. It appends decoded body bytes to a `Vec` and never reads a socket.

use crate::error::Rejection;

/// Longest chunk-size line (size + extensions) or trailer line we accept.
const MAX_LINE: usize = 4096;

/// Where a body decoder is.
#[derive(Debug, Clone)]
pub enum BodyDecoder {
    /// `remaining` bytes of a Content-Length body still to come.
    Length { remaining: u64 },
    /// A chunked body, somewhere in its grammar.
    Chunked(Chunked),
}

/// The chunked decoder's state. Lines are scanned byte by byte, so no line is buffered.
#[derive(Debug, Clone)]
pub struct Chunked {
    state: ChunkState,
    /// Bytes of the current size or trailer line seen so far.
    line_len: usize,
    /// Total trailer bytes, counted against the head limit.
    trailer_bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading hex digits of a chunk size; `digits` seen so far.
    Size { size: u64, digits: u8 },
    /// After the digits: optional whitespace, then `;ext` up to CR (`started` once `;` was seen).
    Extension { size: u64, started: bool },
    /// Saw CR at the end of the size line; LF must follow.
    SizeLf { size: u64 },
    /// Inside chunk data.
    Data { remaining: u64 },
    /// After chunk data: CR must follow.
    DataCr,
    /// After chunk data and CR: LF must follow.
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerStart,
    /// Inside a trailer field line.
    TrailerLine,
    /// Saw CR at the end of a trailer line; `empty` if the line was empty (end of message).
    TrailerLf { empty: bool },
    /// The whole body has been read.
    Done,
}

impl BodyDecoder {
    pub fn length(n: u64) -> Self {
        BodyDecoder::Length { remaining: n }
    }

    pub fn chunked() -> Self {
        BodyDecoder::Chunked(Chunked {
            state: ChunkState::Size { size: 0, digits: 0 },
            line_len: 0,
            trailer_bytes: 0,
        })
    }

    /// Decodes from `input`, appending body bytes to `body`. Returns how many bytes of `input` were
    /// used and whether the body is complete. `max_body` bounds the decoded size; `max_trailer`
    /// bounds the trailer section.
    pub fn decode(
        &mut self,
        input: &[u8],
        body: &mut Vec<u8>,
        max_body: usize,
        max_trailer: usize,
    ) -> Result<(usize, bool), Rejection> {
        match self {
            BodyDecoder::Length { remaining } => {
                let take = (*remaining).min(input.len() as u64) as usize;
                body.extend_from_slice(&input[..take]);
                *remaining -= take as u64;
                Ok((take, *remaining == 0))
            }
            BodyDecoder::Chunked(c) => c.decode(input, body, max_body, max_trailer),
        }
    }
}

impl Chunked {
    fn decode(
        &mut self,
        input: &[u8],
        body: &mut Vec<u8>,
        max_body: usize,
        max_trailer: usize,
    ) -> Result<(usize, bool), Rejection> {
        use ChunkState::*;
        let mut i = 0;
        while i < input.len() {
            if self.state == Done {
                break;
            }
            if let Data { remaining } = self.state {
                let take = remaining.min((input.len() - i) as u64) as usize;
                body.extend_from_slice(&input[i..i + take]);
                i += take;
                let remaining = remaining - take as u64;
                self.state = if remaining == 0 {
                    DataCr
                } else {
                    Data { remaining }
                };
                continue;
            }
            let b = input[i];
            i += 1;
            self.line_len += 1;
            if self.line_len > MAX_LINE {
                return Err(Rejection::BadChunk);
            }
            self.state = match self.state {
                Size { size, digits } => match hex_value(b) {
                    Some(v) => {
                        // 16 hex digits is already more than any body we would accept.
                        if digits >= 15 {
                            return Err(Rejection::BadChunk);
                        }
                        Size {
                            size: size * 16 + u64::from(v),
                            digits: digits + 1,
                        }
                    }
                    None if digits == 0 => return Err(Rejection::BadChunk),
                    None => after_size(b, size, false)?,
                },
                // "5 \r\n": whitespace after the size may only lead to an extension (RFC 9112
                // section 7.1: chunk-size is 1*HEXDIG, then BWS only before `;`).
                Extension { started: false, .. } if b == b'\r' => return Err(Rejection::BadChunk),
                Extension { size, started } => after_size(b, size, started)?,
                SizeLf { size } => {
                    if b != b'\n' {
                        return Err(Rejection::BadChunk);
                    }
                    self.line_len = 0;
                    if size == 0 {
                        TrailerStart
                    } else {
                        if body.len() as u64 + size > max_body as u64 {
                            return Err(Rejection::BodyTooLarge);
                        }
                        Data { remaining: size }
                    }
                }
                DataCr if b == b'\r' => DataLf,
                DataLf if b == b'\n' => {
                    self.line_len = 0;
                    Size { size: 0, digits: 0 }
                }
                DataCr | DataLf => return Err(Rejection::BadChunk),
                TrailerStart | TrailerLine => {
                    self.trailer_bytes += 1;
                    if self.trailer_bytes > max_trailer {
                        return Err(Rejection::HeadTooLarge);
                    }
                    match b {
                        b'\r' => TrailerLf {
                            empty: self.state == TrailerStart,
                        },
                        // A trailer line must not start with whitespace (obs-fold) and holds no
                        // control bytes other than HTAB.
                        b' ' | b'\t' if self.state == TrailerStart => {
                            return Err(Rejection::BadChunk)
                        }
                        b'\t' => TrailerLine,
                        b if b < 0x20 || b == 0x7f => return Err(Rejection::BadChunk),
                        _ => TrailerLine,
                    }
                }
                TrailerLf { empty } => {
                    if b != b'\n' {
                        return Err(Rejection::BadChunk);
                    }
                    self.line_len = 0;
                    if empty {
                        Done
                    } else {
                        TrailerStart
                    }
                }
                Data { .. } | Done => unreachable!("handled above"),
            };
        }
        Ok((i, self.state == Done))
    }
}

/// After the size digits: `BWS ; ext-name [= ext-value]` repeated, then CRLF. Extensions are
/// ignored; we accept visible characters, spaces and tabs in them, and no other control bytes.
/// Before the first `;` only whitespace may appear ("5 x" is not a chunk size).
fn after_size(b: u8, size: u64, started: bool) -> Result<ChunkState, Rejection> {
    match b {
        b'\r' => Ok(ChunkState::SizeLf { size }),
        b';' => Ok(ChunkState::Extension {
            size,
            started: true,
        }),
        b'\t' | b' ' => Ok(ChunkState::Extension { size, started }),
        b'!'..=b'~' | 0x80..=0xff if started => Ok(ChunkState::Extension { size, started }),
        _ => Err(Rejection::BadChunk),
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}
