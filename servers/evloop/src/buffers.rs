//! Per-loop buffers: one scratch input that every read lands in, the request every request of the
//! loop is parsed into (one [`Request`], its storage reused request after request), and a pool of
//! buffers that connections borrow while they have bytes to keep (a partial request, a response
//! not yet written) and give back as soon as they are empty.
//!
//! This is how an idle keep-alive connection holds no buffer at all: its `Vec`s are empty and
//! unallocated (`Vec::new()` does not allocate), so 10,000 idle connections cost 10,000 small
//! structs, not 10,000 × 16 KiB.

/// How much one `read` asks for at least. A production server would size this to its typical
/// request; 4 KiB (one page) holds a typical head or a dozen pipelined ones. The scratch input's
/// room is zero-filled once, when the loop starts, not before every read.
pub const READ_CHUNK: usize = 4 * 1024;

/// Buffers larger than this are freed instead of pooled (after a large response, say), so that
/// one big request does not pin memory for good: the pool holds at most
/// `MAX_POOLED × MAX_POOLED_CAPACITY` (1 MiB) per loop, whatever the traffic was.
pub const MAX_POOLED_CAPACITY: usize = 16 * 1024;

/// Spare buffers kept per loop. A spare saves one malloc and one free, which are cheap, and a
/// loop gives most buffers back within the event that took them: a few dozen cover a burst, and
/// more would only be memory kept after it.
pub const MAX_POOLED: usize = 64;

/// Capacity of a fresh pooled buffer.
const INITIAL_CAPACITY: usize = 4 * 1024;

use lab_core::{Input, Request};

#[derive(Debug, Default)]
pub struct Buffers {
    /// Every read goes here first; only leftovers (a partial request) are copied to a
    /// connection's own buffer.
    pub scratch: Input,
    /// The request being answered: the loop parses every request into this one, in place, into
    /// the storage the one before left (one per loop, so an idle connection keeps none). An
    /// offloaded request is taken out of it, leaving it empty. Boxed, and lent for each batch as
    /// a pointer ([`Buffers::take_request`], [`Buffers::give_request`]): moving the request
    /// itself (about 200 bytes, out and back) cost about 100 instructions per keep-alive request,
    /// where a batch is one request.
    request: Option<Box<Request>>,
    spare: Vec<Vec<u8>>,
}

impl Buffers {
    pub fn new() -> Self {
        Buffers {
            scratch: Input::with_capacity(READ_CHUNK),
            request: Some(Box::default()),
            spare: Vec::new(),
        }
    }

    /// The loop's request, for a batch; give it back after with [`Buffers::give_request`].
    pub fn take_request(&mut self) -> Box<Request> {
        self.request.take().unwrap_or_default()
    }

    /// Gives back the request [`Buffers::take_request`] lent.
    pub fn give_request(&mut self, request: Box<Request>) {
        self.request = Some(request);
    }

    /// An empty buffer, from the pool if one is spare.
    pub fn take(&mut self) -> Vec<u8> {
        self.spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(INITIAL_CAPACITY))
    }

    /// A copy of `bytes` in a buffer of the connection's own: a spare one if the pool has one,
    /// else one just big enough. Pipelined requests waiting behind a slow reader's response are
    /// held this way, and 2,000 such connections hold 2,000 × their few hundred bytes, not
    /// 2,000 × 4 KiB.
    pub fn take_copy(&mut self, bytes: &[u8]) -> Input {
        let mut input = Input::from_buffer(self.spare.pop().unwrap_or_default());
        input.extend_from_slice(bytes);
        input
    }

    /// Gives a buffer back; leaves `buf` empty and unallocated.
    pub fn give(&mut self, buf: &mut Vec<u8>) {
        let mut buf = std::mem::take(buf);
        if buf.capacity() > 0
            && buf.capacity() <= MAX_POOLED_CAPACITY
            && self.spare.len() < MAX_POOLED
        {
            buf.clear();
            self.spare.push(buf);
        }
    }

    /// Gives an input's buffer back; leaves `input` empty and unallocated.
    pub fn give_input(&mut self, input: &mut Input) {
        self.give(&mut input.take_buffer());
    }

    /// Bytes the pool keeps allocated for later (the spare buffers' capacity).
    pub fn pooled_bytes(&self) -> usize {
        self.spare.iter().map(Vec::capacity).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_that_grew_large_goes_back_to_the_allocator() {
        let mut buffers = Buffers::new();
        let mut buf = buffers.take();
        buf.extend_from_slice(&[7; 1024 * 1024]);
        buffers.give(&mut buf);
        assert_eq!(buf.capacity(), 0, "the connection keeps nothing");
        assert_eq!(buffers.pooled_bytes(), 0, "a 1 MiB buffer was pooled");
        let mut small = buffers.take();
        small.extend_from_slice(b"GET / HTTP/1.1\r\n");
        buffers.give(&mut small);
        assert_eq!(buffers.pooled_bytes(), INITIAL_CAPACITY);
    }

    #[test]
    fn the_pool_is_bounded_whatever_the_traffic() {
        let mut buffers = Buffers::new();
        let mut held: Vec<Vec<u8>> = (0..2 * MAX_POOLED)
            .map(|_| {
                let mut buf = buffers.take();
                buf.resize(MAX_POOLED_CAPACITY, 0);
                buf
            })
            .collect();
        for buf in &mut held {
            buffers.give(buf);
        }
        assert!(buffers.pooled_bytes() <= MAX_POOLED * MAX_POOLED_CAPACITY);
    }
}
