//! A connection's received bytes: read into once, parsed in place, consumed by offset.
//!
//! ```text
//!   buf: [ consumed ......| unconsumed (start..end) |..... room (initialized, end..len) ]
//! ```
//!
//! The reader consumes a request by moving `start` forward: nothing is copied or moved per
//! request, so a pipelined batch of 16 costs 16 parses, not 16 moves of the rest of the buffer.
//! The unconsumed bytes are moved to the front (compacted) at most once per read, and only when
//! the room behind them is too small for the next read. When everything has been consumed the
//! offsets simply go back to 0.
//!
//! The room is *initialized* memory: `buf`'s length, not its capacity, is how far it reaches, so
//! a read goes into a plain `&mut [u8]` without `unsafe`. It is zero-filled once, when the buffer
//! grows, and then reused read after read: no memset per read. (Reading into a `Vec`'s spare
//! capacity would need `unsafe` or the unstable `BorrowedBuf`; tracking what is filled is the
//! safe way to get the same effect.)

use std::io::{self, Read};

/// Received bytes, consumed from the front by offset. See the module doc.
///
/// The offsets are `u32` (an event loop keeps one `Input` per connection, and 8 bytes count
/// there): a connection never buffers 4 GiB, its reads stop long before (limits, back-pressure).
#[derive(Debug, Default, Clone)]
pub struct Input {
    /// `buf.len()` is the initialized part: what a read may fill without zeroing first.
    buf: Vec<u8>,
    start: u32,
    end: u32,
}

impl Input {
    /// Empty and unallocated.
    pub const fn new() -> Self {
        Input {
            buf: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    /// Empty, with `capacity` bytes of room zero-filled now, so reads never zero-fill.
    pub fn with_capacity(capacity: usize) -> Self {
        Input {
            buf: vec![0; capacity],
            start: 0,
            end: 0,
        }
    }

    /// Empty, using `buf`'s allocation (its contents are dropped): for a pooled buffer.
    pub fn from_buffer(mut buf: Vec<u8>) -> Self {
        buf.clear();
        Input {
            buf,
            start: 0,
            end: 0,
        }
    }

    /// Gives the allocation back (to a pool), leaving this input empty and unallocated.
    pub fn take_buffer(&mut self) -> Vec<u8> {
        self.start = 0;
        self.end = 0;
        std::mem::take(&mut self.buf)
    }

    /// The bytes received and not yet consumed.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.start as usize..self.end as usize]
    }

    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Bytes allocated (consumed, unconsumed and room).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Consumes the first `n` unconsumed bytes: an offset moves, no byte does.
    pub fn consume(&mut self, n: usize) {
        assert!(n <= self.len(), "consumed more than was received");
        self.start += n as u32;
        if self.start == self.end {
            // Everything read was used: the next read lands at the front again.
            self.start = 0;
            self.end = 0;
        }
    }

    /// Consumes everything (the allocation and its room stay).
    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Appends `bytes` (what a completion delivered, or a leftover copied from another buffer).
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        let fits = self.compact_for(bytes.len());
        let end = self.end as usize;
        if fits {
            self.buf[end..end + bytes.len()].copy_from_slice(bytes);
        } else {
            // Growing by the bytes themselves: nothing to zero-fill.
            self.buf.truncate(end);
            self.buf.extend_from_slice(bytes);
        }
        self.grow_end(bytes.len());
    }

    /// Reads once from `source` into the room behind the unconsumed bytes, offering at least
    /// `chunk` bytes of it. This is where the unconsumed bytes may be moved (once per read, see
    /// the module doc), and where new room is zero-filled (only when the buffer grows, never
    /// again for the same bytes).
    pub fn read_from(&mut self, source: &mut impl Read, chunk: usize) -> io::Result<usize> {
        if !self.compact_for(chunk) {
            // Grow to the capacity the allocator gave (at least `chunk` more): zeroing bytes that
            // are allocated anyway costs no page faults the reads would not cause.
            self.buf.truncate(self.end as usize);
            self.buf.reserve(chunk);
            let capacity = self.buf.capacity();
            self.buf.resize(capacity, 0);
        }
        let n = source.read(&mut self.buf[self.end as usize..])?;
        self.grow_end(n);
        Ok(n)
    }

    /// `n` more bytes were appended after `end`.
    fn grow_end(&mut self, n: usize) {
        self.end = u32::try_from(self.end as usize + n).expect("a connection buffers under 4 GiB");
    }

    /// Whether `want` bytes of room follow the unconsumed bytes, after moving those to the
    /// front if that is what it takes (and some were consumed).
    fn compact_for(&mut self, want: usize) -> bool {
        if self.buf.len() - self.end as usize >= want {
            return true;
        }
        if self.start > 0 {
            self.buf
                .copy_within(self.start as usize..self.end as usize, 0);
            self.end -= self.start;
            self.start = 0;
        }
        self.buf.len() - self.end as usize >= want
    }
}

impl From<&[u8]> for Input {
    fn from(bytes: &[u8]) -> Self {
        let mut input = Input::new();
        input.extend_from_slice(bytes);
        input
    }
}

impl From<Vec<u8>> for Input {
    /// The bytes of `buf`, unconsumed.
    fn from(buf: Vec<u8>) -> Self {
        let mut input = Input::from_buffer(Vec::new());
        input.buf = buf;
        input.grow_end(input.buf.len());
        input
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consuming_moves_an_offset_and_a_read_compacts_once() {
        let mut input = Input::from(&b"aaaabbbbcc"[..]);
        let at = input.bytes().as_ptr();
        input.consume(4);
        assert_eq!(input.bytes(), b"bbbbcc");
        assert_eq!(input.bytes().as_ptr(), at.wrapping_add(4), "no byte moved");
        input.consume(4);
        let mut more: &[u8] = b"dd";
        let room = input.buf.len() - input.end as usize;
        input.read_from(&mut more, room + 1).unwrap();
        assert_eq!(input.bytes(), b"ccdd");
        assert_eq!(input.start, 0, "compacted for the read");
        input.consume(4);
        assert_eq!((input.start, input.end), (0, 0), "empty: back to the front");
    }

    #[test]
    fn a_read_reuses_the_room_without_growing() {
        let mut input = Input::with_capacity(64);
        let capacity = input.capacity();
        for _ in 0..100 {
            let mut src: &[u8] = b"GET / HTTP/1.1\r\n\r\n";
            let n = input.read_from(&mut src, 32).unwrap();
            input.consume(n);
        }
        assert_eq!(input.capacity(), capacity);
        assert!(input.is_empty());
    }

    #[test]
    fn extend_fills_the_room_then_grows() {
        let mut input = Input::with_capacity(4);
        input.extend_from_slice(b"abc");
        input.extend_from_slice(b"defghij");
        assert_eq!(input.bytes(), b"abcdefghij");
        input.consume(9);
        input.extend_from_slice(b"k");
        assert_eq!(input.bytes(), b"jk");
    }
}
