//! The only `unsafe` in the crate: reading and raising `RLIMIT_NOFILE`, two
//! `sysconf` numbers the `/proc` sampler needs, a `timerfd` for the event
//! loop's sub-millisecond deadlines, `getrusage` for the CPU of reaped
//! children, and `sched_getaffinity`/`sched_setaffinity` for pinning
//! (`--server-cpus`, `--load-cpus`).
//!
//! Every connection is a file descriptor, so 10,000 connections need a soft
//! limit above 10,000. The soft limit may be raised by any process up to the
//! hard limit, which is what `ulimit -n` tunes; like wrk's users we raise it
//! at start rather than asking everyone to remember.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// The current (soft, hard) limits on open file descriptors.
// `rlim_t` is `u64` on Linux but not everywhere.
#[allow(clippy::unnecessary_cast)]
pub fn nofile_limit() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes into the struct we pass, which is valid
    // and properly aligned for the duration of the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((lim.rlim_cur as u64, lim.rlim_max as u64))
}

/// Raise the soft limit on open file descriptors to the hard limit and
/// return the new soft limit. Returns the old one if raising fails.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let (soft, hard) = nofile_limit()?;
    if soft >= hard {
        return Ok(soft);
    }
    let lim = libc::rlimit {
        rlim_cur: hard as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: setrlimit only reads the struct we pass, which is valid for
    // the duration of the call; raising the soft limit up to the hard limit
    // is always permitted and affects only this process.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    if rc != 0 {
        return Ok(soft);
    }
    Ok(hard)
}

/// Clock ticks per second, the unit of CPU times in `/proc/<pid>/stat`.
pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf takes an integer and returns an integer; it touches
    // no memory of ours.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

/// The page size, the unit of RSS in `/proc/<pid>/stat`.
pub fn page_size() -> u64 {
    // SAFETY: as above, sysconf reads and writes no memory of ours.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as u64
    } else {
        4096
    }
}

/// A monotonic `timerfd`: readable when it expires. `epoll_wait`'s own
/// timeout counts in whole milliseconds (mio rounds a shorter wait up to
/// one), which made open-loop requests leave up to a millisecond late; a
/// timerfd in the same epoll set wakes the loop to the microsecond.
pub struct Timer {
    fd: OwnedFd,
}

impl Timer {
    pub fn new() -> io::Result<Timer> {
        // SAFETY: timerfd_create takes two integers and returns a new
        // descriptor or -1; it touches no memory of ours.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by timerfd_create and is owned by
        // nothing else.
        Ok(Timer {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Expire once, `after` from now (at least a nanosecond: zero would disarm it).
    pub fn set(&self, after: Duration) -> io::Result<()> {
        let after = after.max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: after.as_secs() as libc::time_t,
                tv_nsec: after.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: the descriptor is ours and open; `spec` is a valid struct
        // that the kernel only reads; the old value is not asked for (null).
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Read the expiry count so the descriptor is no longer readable.
    pub fn clear(&self) {
        let mut buf = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a local 8-byte buffer; the
        // descriptor is non-blocking, so this never waits.
        unsafe {
            libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len());
        }
    }
}

impl AsRawFd for Timer {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// CPU time (user, system) of every child of this process that has been
/// waited for, and of their waited-for descendants: `getrusage(RUSAGE_CHILDREN)`.
/// Exact (the kernel's own nanosecond accounting, in microseconds), unlike
/// per-process tick counts in `/proc`, which round each process down to
/// 10 ms: a thousand short-lived children of a forking server vanish there.
pub fn children_cpu() -> io::Result<(Duration, Duration)> {
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes only into the struct we pass, valid and
    // aligned for the duration of the call.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Ok((tv(usage.ru_utime), tv(usage.ru_stime)))
}

/// A CPU set holding `cpus`; `EINVAL` for a CPU the set cannot hold.
fn cpu_set(cpus: &[usize]) -> io::Result<libc::cpu_set_t> {
    // SAFETY: an all-zero cpu_set_t (a plain bit array) is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: `cpu` < CPU_SETSIZE (checked above), so the bit is inside `set`.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    Ok(set)
}

/// The CPUs this thread may run on, in order (`sched_getaffinity`).
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    let mut set = cpu_set(&[])?;
    // SAFETY: the kernel writes at most `size_of::<cpu_set_t>()` bytes into
    // `set`, a valid local of that size; pid 0 is the calling thread.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((0..libc::CPU_SETSIZE as usize)
        // SAFETY: every `cpu` here is < CPU_SETSIZE, so the bit read is inside `set`.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Pin the calling thread to `cpus` (`sched_setaffinity` on thread 0 = self).
pub fn pin_current_thread(cpus: &[usize]) -> io::Result<()> {
    let set = cpu_set(cpus)?;
    // SAFETY: the kernel only reads `set`, a valid cpu_set_t of the size given.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Make `command`'s child pin itself to `cpus` between fork and exec, so that
/// the program, and every thread and process it starts, runs only there
/// (what `taskset` does).
pub fn pin_on_exec(command: &mut std::process::Command, cpus: &[usize]) -> io::Result<()> {
    use std::os::unix::process::CommandExt;
    let set = cpu_set(cpus)?;
    let closure = move || {
        // SAFETY: as in `pin_current_thread`; `set` was built before the fork.
        let rc =
            unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe work is allowed: it makes one system call on a value
    // copied in before the fork, and neither allocates nor takes a lock.
    unsafe {
        command.pre_exec(closure);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_thread_can_be_pinned_to_a_cpu_it_may_use() {
        let allowed = super::allowed_cpus().unwrap();
        assert!(!allowed.is_empty());
        std::thread::spawn(move || {
            super::pin_current_thread(&allowed[..1]).unwrap();
            assert_eq!(super::allowed_cpus().unwrap(), allowed[..1]);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn limits_read_and_raise() {
        let (soft, hard) = super::nofile_limit().unwrap();
        assert!(soft <= hard);
        assert!(super::raise_nofile_limit().unwrap() >= soft);
        assert!(super::clock_ticks() > 0);
        assert!(super::page_size() >= 4096);
    }
}
