//! The core's raw `libc` calls, each with its safety argument. Nothing outside this file says
//! `unsafe`: the process models fork, reap, signal and share memory through these wrappers.
//!
//! - Limits: [`fd_limits`].
//! - Files: [`open_beneath`] (`openat2` with `RESOLVE_BENEATH`) and [`open_at`] (`openat`), the
//!   docroot's kernel-enforced containment.
//! - Sockets: [`sendfile`], a file to a socket without a copy through user memory;
//!   [`accept_nonblocking`] (`accept4` with `SOCK_NONBLOCK`) and [`peek`] (`MSG_PEEK`), for TCP
//!   and Unix sockets alike.
//! - Clocks: [`coarse_unix_secs`], the wall clock's seconds at tick resolution (the `Date` header).
//! - Memory: [`trim_heap`], the allocator's free pages back to the kernel.
//! - Processes: [`fork`], [`reap_any`], [`kill`], [`die_with_parent`], [`exit_now`], [`pid`].
//! - Signals: [`catch_signal`] and [`take_signal`], a flag per signal set by a minimal handler.
//! - Shared memory: [`SharedMem`], an anonymous `MAP_SHARED` mapping that survives `fork` as the
//!   *same* physical pages in parent and children (a scoreboard lives in one).
//! - Passing a file descriptor to another process: [`send_fd`] and [`recv_fd`] (`SCM_RIGHTS`
//!   over a Unix socket), how process_pool's front hands a connection to a worker.

use std::ffi::CStr;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};

/// The soft and hard limits on open file descriptors (RLIMIT_NOFILE).
pub fn fd_limits() -> Option<(u64, u64)> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` through a valid pointer to a local; no other effect.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
    (rc == 0).then_some((rl.rlim_cur, rl.rlim_max))
}

/// Flags for opening a file to serve: read-only, close-on-exec, never a controlling terminal,
/// and non-blocking so that opening a FIFO returns at once instead of waiting for a writer.
pub const O_SERVE: i32 = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
/// Flags for opening a directory only to resolve names under it (no read access needed).
pub const O_DIR_PATH: i32 = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
/// Refuse to follow a symbolic link in the last component (the fallback walk uses it for every
/// component).
pub use libc::O_NOFOLLOW;
/// errno values the docroot maps to statuses.
pub use libc::{EACCES, ELOOP, ENOENT, ENOSYS, ENOTDIR, EPERM, EXDEV};

/// Opens `path` (relative) under the directory `dir` with `openat2(2)` and
/// `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`: the kernel refuses (`EXDEV`) any resolution that
/// would leave `dir`, whether by `..`, an absolute path or a symbolic link pointing outside, and
/// refuses `/proc/self/fd`-style magic links (`ELOOP`). Symbolic links that stay beneath `dir` are
/// followed. `ENOSYS` (kernel before 5.6) or `EPERM` (a seccomp filter) mean openat2 is not
/// available: fall back to a walk with [`open_at`] and `O_NOFOLLOW`.
pub fn open_beneath(dir: BorrowedFd<'_>, path: &CStr, flags: i32) -> io::Result<OwnedFd> {
    // SAFETY: open_how is a plain C struct of integers; all zeros is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
    loop {
        // SAFETY: openat2 reads the NUL-terminated `path` and `size_of::<open_how>()` bytes of
        // `how`, both valid for the call; it writes nothing of ours. A non-negative result is a
        // new file descriptor that nobody else owns, so `OwnedFd` may take it.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                path.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            return Ok(unsafe_owned(fd as i32));
        }
        let err = io::Error::last_os_error();
        // EAGAIN: RESOLVE_CACHED is not set, but a concurrent rename can still ask for a retry.
        if !matches!(err.raw_os_error(), Some(libc::EINTR) | Some(libc::EAGAIN)) {
            return Err(err);
        }
    }
}

/// Opens the single name `name` (no `/`) in the directory `dir` with `openat(2)`.
pub fn open_at(dir: BorrowedFd<'_>, name: &CStr, flags: i32) -> io::Result<OwnedFd> {
    loop {
        // SAFETY: openat reads the NUL-terminated `name`; a non-negative result is a new file
        // descriptor that nobody else owns.
        let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, 0) };
        if fd >= 0 {
            return Ok(unsafe_owned(fd));
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}

fn unsafe_owned(fd: i32) -> OwnedFd {
    // SAFETY: callers pass a descriptor the kernel just returned to them and nobody else holds.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// The signal numbers the process models use, so that they need no `libc` of their own.
pub use libc::{SIGCHLD, SIGHUP, SIGINT, SIGKILL, SIGTERM};

/// A process id.
pub type Pid = i32;

/// Which side of a `fork` we are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fork {
    /// In the new process.
    Child,
    /// In the old process; the new one has this pid.
    Parent(Pid),
}

/// Forks the process. The caller must be single-threaded (the process models check with
/// [`crate::process::ensure_single_threaded`] before their first fork and never start a thread in
/// the parent): the child gets a copy of the calling thread only, and a lock that another thread
/// held at that instant (the allocator's, stdout's) would stay locked in the child forever.
pub fn fork() -> io::Result<Fork> {
    // SAFETY: fork has no memory-safety preconditions of its own. Its one hazard, a lock held by
    // another thread at the instant of the fork, cannot arise: the only caller,
    // `process::Children::spawn`, is used by models that checked `ensure_single_threaded` at the
    // start of their `run` and start threads only in children, so the child's copy of the
    // address space is consistent.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Fork::Child),
        pid => Ok(Fork::Parent(pid)),
    }
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// `exit(code)` or returning from main.
    Exited(i32),
    /// Killed by this signal (SIGABRT from an abort, SIGKILL from `kill -9`, SIGSEGV, ...).
    Signaled(i32),
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Ended::Exited(code) => write!(f, "exit code {code}"),
            Ended::Signaled(sig) => write!(f, "signal {sig} ({})", signal_name(sig)),
        }
    }
}

/// Reaps one ended child without blocking: `Some((pid, how))`, or `None` when no child has ended
/// (or there are no children). Call it until it returns `None`: every ended child must be waited
/// for, or it stays a zombie (a process table entry) until the parent exits.
pub fn reap_any() -> Option<(Pid, Ended)> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: waitpid writes one c_int through a valid pointer to a local.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            let ended = if libc::WIFSIGNALED(status) {
                Ended::Signaled(libc::WTERMSIG(status))
            } else {
                Ended::Exited(libc::WEXITSTATUS(status))
            };
            return Some((pid, ended));
        }
        if pid == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return None; // 0: children exist but none ended; -1 ECHILD: no children
    }
}

/// Sends `sig` to process `pid`. A process that is already gone is not an error.
pub fn kill(pid: Pid, sig: i32) {
    if pid <= 0 {
        return; // never signal a process group (0) or everything (-1) by accident
    }
    // SAFETY: kill(2) touches no memory of ours; pid > 0 names exactly one process.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// The seconds since the Unix epoch at the last timer tick (a few ms behind at most): `time(2)`,
/// which glibc answers from the vDSO with one load of the kernel's seconds, the value
/// `CLOCK_REALTIME_COARSE` gives, without the TSC read and conversion a precise clock costs nor
/// the sequence-count loop of `clock_gettime`. What the `Date` header needs, read once per
/// response (`SystemTime::now()` there was the most expensive user-space call per pipelined
/// request, issue 13).
pub fn coarse_unix_secs() -> u64 {
    // SAFETY: `time` with a null pointer only returns the time; it writes nothing.
    let secs = unsafe { libc::time(std::ptr::null_mut()) };
    u64::try_from(secs).unwrap_or(0)
}

/// This process's id.
pub fn pid() -> Pid {
    std::process::id() as Pid
}

/// In a forked child: ask the kernel to SIGKILL us when `parent` dies, so that a child never
/// outlives a parent that was itself killed (`kill -9`) before it could stop its children.
/// If the parent died between `fork` and this call, exit at once.
pub fn die_with_parent(parent: Pid) {
    // SAFETY: prctl(PR_SET_PDEATHSIG, sig) only sets a field of this process; getppid reads one.
    let orphaned = unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        libc::getppid() != parent
    };
    if orphaned {
        exit_now(1);
    }
}

/// Ends this process at once with `code`: no destructors, no `atexit` handlers, no stdio flush.
/// A forked child must leave this way: returning would unwind into the parent's code (and run,
/// say, the sample docroot's `TempDir` destructor, deleting the parent's files), and flushing
/// would write a copy of whatever the parent had buffered.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

/// One flag per signal number, set by [`on_signal`]; read and cleared by [`take_signal`].
static CAUGHT: [AtomicBool; 65] = [const { AtomicBool::new(false) }; 65];

extern "C" fn on_signal(sig: libc::c_int) {
    // Only an atomic store: the one kind of thing a signal handler may safely do.
    if let Some(flag) = CAUGHT.get(sig as usize) {
        flag.store(true, Ordering::SeqCst);
    }
}

/// Catches `sig` from now on: instead of its default action (SIGHUP's is to terminate, SIGCHLD's
/// to be ignored), the signal sets a flag that [`take_signal`] reads. With `restart`, blocking
/// calls resume after the handler (SA_RESTART); without it they fail with EINTR, which is how a
/// parent blocked in `accept` hears at once that a child ended. A forked child inherits the
/// handler (and gets its own copy of the flags).
pub fn catch_signal(sig: i32, restart: bool) -> io::Result<()> {
    if sig <= 0 || sig as usize >= CAUGHT.len() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad signal"));
    }
    // SAFETY: `action` is a zeroed sigaction (valid: no handler, empty mask) that we fill in;
    // the handler is an `extern "C" fn(c_int)` that only does an atomic store, which is
    // async-signal-safe. sigemptyset and sigaction only read and write `action`.
    let rc = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        action.sa_flags = if restart { libc::SA_RESTART } else { 0 };
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(sig, &action, std::ptr::null_mut())
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether `sig` arrived since the last call (clears the flag).
pub fn take_signal(sig: i32) -> bool {
    CAUGHT
        .get(sig as usize)
        .is_some_and(|f| f.swap(false, Ordering::SeqCst))
}

/// A name for the signals a lab server meets.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGTERM => "SIGTERM",
        _ => "?",
    }
}

/// Types that may live in shared memory: every bit pattern of zeros is a valid value, and every
/// field is an atomic (or otherwise safe to read and write from several processes at once).
///
/// # Safety
/// Implement only for `#[repr(C)]` structs made of atomics and arrays of atomics.
pub unsafe trait SharedSafe: Sync {}

// SAFETY: an atomic integer is valid at all zeros and made to be shared.
unsafe impl SharedSafe for std::sync::atomic::AtomicU64 {}
// SAFETY: repr(C), atomics only; all zeros is a valid (empty) slot.
unsafe impl SharedSafe for crate::scoreboard::Slot {}
// SAFETY: repr(C), atomics only; all zeros is a valid header.
unsafe impl SharedSafe for crate::scoreboard::Header {}

/// An anonymous `MAP_SHARED` mapping holding `len` zeroed `T`s. Made before `fork`, it is the
/// same memory in the parent and in every child: a store by one is seen by all (unlike ordinary
/// memory, which `fork` copies on write). Unmapped when dropped.
pub struct SharedMem<T: SharedSafe> {
    ptr: *mut T,
    len: usize,
    _owns: PhantomData<T>,
}

// SAFETY: T is Sync (atomics), and the mapping is only ever accessed through `&[T]`.
unsafe impl<T: SharedSafe> Send for SharedMem<T> {}
// SAFETY: as above: shared access goes through `&[T]` of Sync atomics.
unsafe impl<T: SharedSafe> Sync for SharedMem<T> {}

impl<T: SharedSafe> SharedMem<T> {
    /// Maps `len` (at least 1) zeroed `T`s.
    pub fn new(len: usize) -> io::Result<Self> {
        let len = len.max(1);
        let bytes = std::mem::size_of::<T>()
            .checked_mul(len)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "too large"))?
            .max(1);
        // SAFETY: a fresh anonymous mapping (no fd, no address hint) cannot alias anything;
        // the kernel returns page-aligned, zero-filled memory (aligned for any T) or MAP_FAILED.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(SharedMem {
            ptr: ptr.cast(),
            len,
            _owns: PhantomData,
        })
    }

    /// The shared values.
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: ptr is a live mapping of len zero-filled Ts (valid values by SharedSafe), never
        // handed out mutably; it lives until `self` is dropped, which this borrow prevents.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl<T: SharedSafe> Drop for SharedMem<T> {
    fn drop(&mut self) {
        let bytes = (std::mem::size_of::<T>() * self.len).max(1);
        // SAFETY: unmaps exactly the mapping made in `new`; no borrow of it outlives `self`.
        unsafe {
            libc::munmap(self.ptr.cast(), bytes);
        }
    }
}

/// Copies up to `count` bytes of `file`, from `*offset` on, to the socket `socket` inside the
/// kernel (`sendfile(2)`: the bytes go from the page cache to the socket without passing through
/// user memory), and advances `*offset` by what was sent. A non-blocking socket answers
/// `WouldBlock` when its buffer is full; a blocking one waits, at most its `SO_SNDTIMEO`.
/// `Ok(0)` with `count > 0` means the file ends before `*offset + count`.
pub fn sendfile(
    socket: std::os::fd::BorrowedFd<'_>,
    file: std::os::fd::BorrowedFd<'_>,
    offset: &mut u64,
    count: usize,
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut off = libc::off_t::try_from(*offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset too large"))?;
    // SAFETY: both descriptors are borrowed, so they stay open for the call; sendfile reads and
    // writes one `off_t` through a valid pointer to a local and touches no other memory of ours.
    let sent = unsafe { libc::sendfile(socket.as_raw_fd(), file.as_raw_fd(), &mut off, count) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    *offset = off as u64;
    Ok(sent as usize)
}

/// Accepts a connection on the listening socket `listener`, returning it non-blocking and
/// close-on-exec in one system call (`accept4`), as an event loop wants it.
pub fn accept_nonblocking(listener: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: the listener is borrowed, so it stays open for the call; passing null address
    // pointers asks accept4 not to write the peer's address anywhere.
    let fd = unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: accept4 returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Copies what has arrived on `socket` into `buf` without consuming it (`recv` with
/// `MSG_PEEK`), on a TCP or a Unix stream socket alike. Blocks, or fails with `WouldBlock`, as
/// the socket is set.
pub fn peek(socket: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the socket is borrowed and stays open for the call; recv writes at most
    // `buf.len()` bytes into `buf`, which is valid and writable for that length.
    let n = unsafe {
        libc::recv(
            socket.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_PEEK,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Gives the allocator's free memory back to the kernel: glibc's `malloc_trim(0)` returns the
/// free pages inside every arena, not only at the top of each heap (which is all that glibc does
/// on its own). Elsewhere (musl) a no-op.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers of ours; it releases free pages of the allocator's
    // own heaps, under the allocator's locks, and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Room for one `SCM_RIGHTS` control message carrying one descriptor (CMSG_SPACE(4) is 24 on
/// 64-bit Linux), as u64s so that the buffer is aligned for `cmsghdr`.
type FdControl = [u64; 4];

/// Sends `fd` to the process at the other end of `socket`, as one datagram (one byte of data,
/// one descriptor in an `SCM_RIGHTS` control message). The receiver gets its own descriptor for
/// the same open file (the same TCP connection); ours stays open until we close it. Blocks, or
/// fails with `WouldBlock`, as `socket` is set.
pub fn send_fd(socket: &UnixDatagram, fd: BorrowedFd<'_>) -> io::Result<()> {
    let byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_ptr() as *mut libc::c_void,
        iov_len: byte.len(),
    };
    let mut control: FdControl = [0; 4];
    // SAFETY: msghdr is a plain C struct for which all zeros is valid (no name, no iovecs, no
    // control); we then point it at `iov` and `control`, both alive until sendmsg returns.
    // CMSG_SPACE/CMSG_LEN are arithmetic. CMSG_FIRSTHDR returns a pointer into `control` (which
    // is large enough for one header and one c_int, and u64-aligned), through which we write the
    // header, and CMSG_DATA points just after it, where we write the descriptor unaligned.
    // sendmsg only reads these buffers.
    let sent = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as _;
        debug_assert!(msg.msg_controllen as usize <= std::mem::size_of::<FdControl>());
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd.as_raw_fd());
        libc::sendmsg(socket.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives one descriptor sent with [`send_fd`] (close-on-exec). Blocks, or fails with
/// `WouldBlock` (no message, or the socket's read timeout passed), as `socket` is set.
pub fn recv_fd(socket: &UnixDatagram) -> io::Result<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: byte.len(),
    };
    let mut control: FdControl = [0; 4];
    // SAFETY: as in send_fd, `msg` points at `iov` and `control`, alive and writable until
    // recvmsg returns, and msg_controllen is the buffer's real size. recvmsg writes at most that
    // much; the kernel installs received descriptors in our table (close-on-exec).
    let (received, msg) = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of::<FdControl>() as _;
        let n = libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC);
        (n, msg)
    };
    if received < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut fds: Vec<OwnedFd> = Vec::new();
    // SAFETY: `msg` is the header recvmsg filled in, its control pointer still points at
    // `control` (alive), and msg_controllen says how much of it the kernel wrote; the CMSG_*
    // macros walk only within that. Every descriptor in an SCM_RIGHTS message is a fresh one
    // the kernel installed for us and nobody else owns, so wrapping each in an OwnedFd (closed
    // on drop) is sound; we read them unaligned, as they may be.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                let header = libc::CMSG_LEN(0) as usize;
                let count = ((*cmsg).cmsg_len as usize).saturating_sub(header)
                    / std::mem::size_of::<RawFd>();
                for k in 0..count {
                    let fd = std::ptr::read_unaligned(data.add(k));
                    fds.push(OwnedFd::from_raw_fd(fd));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 || fds.len() != 1 {
        // Not what send_fd sends: close whatever came (dropping `fds`) and say so.
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "expected exactly one descriptor in the message",
        ));
    }
    Ok(fds.pop().expect("one descriptor"))
}
