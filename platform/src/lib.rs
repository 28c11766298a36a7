//! `lab-platform`: http-lab runs on Linux only, and this crate says so.
//!
//! The lab is built on Linux interfaces: epoll (through mio, and the models' `sys` modules),
//! `/proc` (the process-tree sampler, PSS from `smaps_rollup`), `prctl(PR_SET_PDEATHSIG)` and
//! `fork` without exec (the process models). On another OS those would surface as a wall of
//! unresolved `libc` items, crate after crate. Instead, the two crates everything else depends on
//! (`lab-core` and `loadgen`) depend on this one, which cargo compiles first: elsewhere than
//! Linux it fails with the one message below and nothing else is compiled. It holds no code.

#![deny(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!(
    "http-lab runs on Linux only (epoll, /proc, prctl, fork). On macOS or Windows, use the \
     container: `docker build -t http-lab .` or open the folder in the devcontainer (see the \
     README, \"Linux only\")."
);
