//! Every `unsafe` of the io_uring model: pushing submission-queue entries (the kernel will read
//! and write the memory they point to *later*, so the compiler cannot check their lifetimes),
//! the provided buffer ring the kernel receives into, the eventfd the offload pool wakes a loop
//! with, and adopting the descriptors accepts return.
//!
//! The rule that makes it sound: **memory the kernel may touch is owned here, never by the
//! loop**, until the operation's last completion has been seen. Send buffers move into
//! [`Ring`] with their send and move out with its completion; receive buffers belong to the
//! [`Ring`]'s buffer ring and are lent to a closure for the duration of one completion. When a
//! ring is dropped with operations still in flight, that memory is leaked, not freed.

use io_uring::types::{BufRingEntry, CancelBuilder, Fd, SubmitArgs, Timespec};
use io_uring::{cqueue, opcode, squeue, IoUring};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// One completion: whose, how it went, and its flags (more to come, which buffer).
#[derive(Debug, Clone, Copy)]
pub struct Completion {
    pub user_data: u64,
    pub result: i32,
    pub flags: u32,
}

impl Completion {
    /// A multishot operation stays armed after this completion.
    pub fn more(&self) -> bool {
        cqueue::more(self.flags)
    }

    /// The provided buffer the kernel received into, if any.
    pub fn buffer(&self) -> Option<u16> {
        cqueue::buffer_select(self.flags)
    }
}

/// A ring, its provided buffer ring (group 0), and the memory its operations point into.
pub struct Ring {
    ring: IoUring,
    bufs: BufRing,
    /// Send buffers in flight, by connection key, with the offset the send started at.
    sends: Vec<Option<Vec<u8>>>,
    /// The eventfd read's 8-byte target.
    wake_buf: Box<u64>,
    /// Operations whose last completion has not been seen.
    in_flight: usize,
}

/// The provided buffer ring: `count` buffers of `size` bytes the kernel picks from when a
/// multishot receive has data, and that we hand back after each completion.
struct BufRing {
    /// `count` ring entries, page-aligned (mmap), shared with the kernel.
    entries: *mut BufRingEntry,
    entries_len: usize,
    /// The buffers themselves, `count * size` bytes.
    memory: Box<[u8]>,
    size: usize,
    count: u16,
    /// Our copy of the tail; published to the kernel after each recycle.
    tail: u16,
}

pub const BUFFER_GROUP: u16 = 0;

impl Ring {
    /// A ring with `entries` submission slots (and four times as many completion slots), and a
    /// buffer ring of `buffers` (a power of two) buffers of `buffer_size` bytes.
    pub fn new(entries: u32, buffers: u16, buffer_size: usize) -> io::Result<Ring> {
        // SINGLE_ISSUER + DEFER_TASKRUN (6.1): completions are processed only when this thread
        // enters the kernel to wait, not by interrupting it. Older kernels: plain flags.
        let ring = IoUring::builder()
            .setup_cqsize(entries * 4)
            .setup_single_issuer()
            .setup_defer_taskrun()
            .build(entries)
            .or_else(|_| IoUring::builder().setup_cqsize(entries * 4).build(entries))?;
        let bufs = BufRing::new(&ring, buffers, buffer_size)?;
        Ok(Ring {
            ring,
            bufs,
            sends: Vec::new(),
            wake_buf: Box::new(0),
            in_flight: 0,
        })
    }

    fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: every entry pushed here points only at memory this `Ring` owns and keeps
            // until the operation's last completion (send buffers in `sends`, the buffer ring,
            // `wake_buf`), or at none (accept, cancel); see the module doc.
            let pushed = unsafe { self.ring.submission().push(&entry) };
            match pushed {
                Ok(()) => {
                    self.in_flight += 1;
                    return Ok(());
                }
                // The submission queue is full: hand it to the kernel and retry.
                Err(_) => {
                    self.ring.submit()?;
                }
            }
        }
    }

    /// Arms a multishot accept on `listener`: one completion per accepted connection.
    pub fn accept_multi(&mut self, listener: RawFd, user_data: u64) -> io::Result<()> {
        let entry = opcode::AcceptMulti::new(Fd(listener))
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(user_data);
        self.push(entry)
    }

    /// Queues one accept on `listener`: a single completion, the next connection. While no
    /// connection waits, the kernel queues the request at the *tail* of the socket's waiters and
    /// takes it off when it completes, so rings that each keep one armed are served in turn.
    pub fn accept_one(&mut self, listener: RawFd, user_data: u64) -> io::Result<()> {
        let entry = opcode::Accept::new(Fd(listener), std::ptr::null_mut(), std::ptr::null_mut())
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(user_data);
        self.push(entry)
    }

    /// Arms a multishot receive on `fd` into the buffer ring: one completion per arrival.
    pub fn recv_multi(&mut self, fd: RawFd, user_data: u64) -> io::Result<()> {
        let entry = opcode::RecvMulti::new(Fd(fd), BUFFER_GROUP)
            .build()
            .user_data(user_data);
        self.push(entry)
    }

    /// Sends `buf[from..]` on `fd`. The ring keeps `buf` until [`Ring::take_send`] for `key`.
    pub fn send(
        &mut self,
        key: usize,
        fd: RawFd,
        buf: Vec<u8>,
        from: usize,
        user_data: u64,
    ) -> io::Result<()> {
        if self.sends.len() <= key {
            self.sends.resize_with(key + 1, || None);
        }
        assert!(
            self.sends[key].is_none(),
            "one send per connection at a time"
        );
        assert!(from < buf.len());
        let rest = &buf[from..];
        let entry = opcode::Send::new(Fd(fd), rest.as_ptr(), rest.len() as u32)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(user_data);
        // Stored before the push: the heap block does not move when the Vec does.
        self.sends[key] = Some(buf);
        let pushed = self.push(entry);
        if pushed.is_err() {
            self.sends[key] = None;
        }
        pushed
    }

    /// The buffer of `key`'s send, once its completion has arrived.
    pub fn take_send(&mut self, key: usize) -> Vec<u8> {
        self.sends
            .get_mut(key)
            .and_then(Option::take)
            .unwrap_or_default()
    }

    /// Reads the eventfd once (8 bytes): completes when the offload pool wakes the loop.
    pub fn read_wake(&mut self, wake: &EventFd, user_data: u64) -> io::Result<()> {
        let target: *mut u64 = &mut *self.wake_buf;
        let entry = opcode::Read::new(Fd(wake.fd.as_raw_fd()), target.cast(), 8)
            .build()
            .user_data(user_data);
        self.push(entry)
    }

    /// Asks the kernel to cancel the operation tagged `target` (its completion then arrives
    /// with -ECANCELED); this request completes too, tagged `user_data`.
    pub fn cancel(&mut self, target: u64, user_data: u64) -> io::Result<()> {
        let entry = opcode::AsyncCancel::new(target)
            .build()
            .user_data(user_data);
        self.push(entry)
    }

    /// Submits what was pushed and waits for at least one completion, at most `timeout`.
    pub fn submit_and_wait(&mut self, timeout: Duration) -> io::Result<()> {
        let ts = Timespec::new()
            .sec(timeout.as_secs())
            .nsec(timeout.subsec_nanos());
        let args = SubmitArgs::new().timespec(&ts);
        match self.ring.submitter().submit_with_args(1, &args) {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME) | Some(libc::EINTR)) => Ok(()),
            // The completion queue is full: the caller drains it and comes back.
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Moves every completion waiting in the completion queue to `out`.
    pub fn completions(&mut self, out: &mut Vec<Completion>) {
        for cqe in self.ring.completion() {
            let c = Completion {
                user_data: cqe.user_data(),
                result: cqe.result(),
                flags: cqe.flags(),
            };
            if !c.more() {
                self.in_flight -= 1;
            }
            out.push(c);
        }
    }

    /// Lends the received bytes of buffer `bid` to `f`, then gives the buffer back to the kernel.
    pub fn with_buffer<R>(&mut self, bid: u16, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        let result = f(self.bufs.get(bid, len));
        self.bufs.recycle(bid);
        result
    }

    /// Gives back a buffer whose bytes nobody wants (a late completion for a closed connection).
    pub fn recycle(&mut self, bid: u16) {
        self.bufs.recycle(bid);
    }

    /// At exit: cancels everything still in flight and waits (at most `timeout`) for the
    /// kernel to let go, so that the memory can be freed rather than leaked.
    pub fn cancel_all(&mut self, timeout: Duration) {
        let entry = opcode::AsyncCancel2::new(CancelBuilder::any())
            .build()
            .user_data(u64::MAX);
        let _ = self.push(entry);
        let deadline = Instant::now() + timeout;
        let mut sink = Vec::new();
        while self.in_flight > 0 {
            let now = Instant::now();
            if now >= deadline || self.submit_and_wait(deadline - now).is_err() {
                break;
            }
            sink.clear();
            self.completions(&mut sink);
            for c in &sink {
                if let Some(bid) = c.buffer() {
                    self.bufs.recycle(bid);
                }
            }
        }
    }

    /// The operations this model uses that the kernel does not know (the probe API, 5.6+).
    pub fn missing_opcodes(&self) -> io::Result<Vec<&'static str>> {
        let mut probe = io_uring::Probe::new();
        self.ring.submitter().register_probe(&mut probe)?;
        let needed = [
            (opcode::Accept::CODE, "accept"),
            (opcode::Recv::CODE, "recv"),
            (opcode::Send::CODE, "send"),
            (opcode::Read::CODE, "read"),
            (opcode::AsyncCancel::CODE, "async_cancel"),
        ];
        Ok(needed
            .iter()
            .filter(|(code, _)| !probe.is_supported(*code))
            .map(|&(_, name)| name)
            .collect())
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        if self.in_flight > 0 {
            // The kernel may still write into the buffers or read the send buffers: leak them.
            std::mem::forget(std::mem::take(&mut self.sends));
            std::mem::forget(std::mem::replace(&mut self.wake_buf, Box::new(0)));
            self.bufs.leak();
        } else {
            let _ = self.ring.submitter().unregister_buf_ring(BUFFER_GROUP);
        }
    }
}

impl BufRing {
    fn new(ring: &IoUring, count: u16, size: usize) -> io::Result<BufRing> {
        assert!(
            count.is_power_of_two(),
            "buffer count must be a power of two"
        );
        let entries_len = count as usize * std::mem::size_of::<BufRingEntry>();
        // SAFETY: an anonymous private mapping with no address hint; the result is checked.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                entries_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut bufs = BufRing {
            entries: addr.cast(),
            entries_len,
            memory: vec![0u8; count as usize * size].into_boxed_slice(),
            size,
            count,
            tail: 0,
        };
        // SAFETY: `entries` is a page-aligned mapping of `count` entries that lives as long as
        // `bufs` (unmapped in Drop, or leaked if the kernel may still use it); the kernel reads
        // buffer addresses from it, which point into `memory`, owned by `bufs` as well.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                bufs.entries as u64,
                count,
                BUFFER_GROUP,
                0,
            )?;
        }
        for bid in 0..count {
            bufs.put(bid);
        }
        bufs.publish();
        Ok(bufs)
    }

    /// Writes buffer `bid` into the ring at our tail (not yet visible to the kernel).
    fn put(&mut self, bid: u16) {
        let index = (self.tail & (self.count - 1)) as usize;
        let addr = self.memory.as_ptr() as u64 + bid as u64 * self.size as u64;
        // SAFETY: `index < count`, so the entry is inside the mapping; the kernel only reads
        // entries between its head and the published tail, and this one is past the tail.
        let entry = unsafe { &mut *self.entries.add(index) };
        entry.set_addr(addr);
        entry.set_len(self.size as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Makes the entries put so far visible to the kernel (a release store of the tail).
    fn publish(&self) {
        // SAFETY: the tail is a u16 inside the first entry of the mapping (the kernel's
        // `io_uring_buf_ring` layout), naturally aligned; the kernel reads it with an acquire
        // load, so it is accessed atomically here.
        let tail = unsafe { &*(BufRingEntry::tail(self.entries).cast::<AtomicU16>()) };
        tail.store(self.tail, Ordering::Release);
    }

    fn get(&self, bid: u16, len: usize) -> &[u8] {
        let start = bid as usize * self.size;
        &self.memory[start..start + len.min(self.size)]
    }

    fn recycle(&mut self, bid: u16) {
        if bid < self.count {
            self.put(bid);
            self.publish();
        }
    }

    fn leak(&mut self) {
        std::mem::forget(std::mem::take(&mut self.memory));
        self.entries = std::ptr::null_mut();
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        if !self.entries.is_null() {
            // SAFETY: the mapping made in `new`, of `entries_len` bytes; the ring has been
            // unregistered (or this is the error path of `new`), so the kernel no longer uses it.
            unsafe { libc::munmap(self.entries.cast(), self.entries_len) };
        }
    }
}

/// An eventfd: the offload pool's helpers write to it, the loop's ring reads it.
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: eventfd takes no pointers; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by eventfd and is owned by nobody else.
        Ok(EventFd {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Adds one to the counter, completing the loop's pending read.
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our own descriptor.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }
}

/// Adopts a descriptor an accept completion returned (a TCP or a Unix connection: the
/// listener knows which, [`lab_core::net::Listener::adopt`]).
pub fn adopt_fd(fd: i32) -> OwnedFd {
    // SAFETY: the kernel just created `fd` for this accept and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}
