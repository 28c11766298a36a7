//! The only `unsafe` in the crate: reading and raising `RLIMIT_NOFILE`, and
//! two `sysconf` numbers the `/proc` sampler needs.
//!
//! Every connection is a file descriptor, so 10,000 connections need a soft
//! limit above 10,000. The soft limit may be raised by any process up to the
//! hard limit, which is what `ulimit -n` tunes; like wrk's users we raise it
//! at start rather than asking everyone to remember.

use std::io;

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

#[cfg(test)]
mod tests {
    #[test]
    fn limits_read_and_raise() {
        let (soft, hard) = super::nofile_limit().unwrap();
        assert!(soft <= hard);
        assert!(super::raise_nofile_limit().unwrap() >= soft);
        assert!(super::clock_ticks() > 0);
        assert!(super::page_size() >= 4096);
    }
}
