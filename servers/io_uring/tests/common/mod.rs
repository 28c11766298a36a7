//! Test helpers: start the io_uring model on 127.0.0.1:0, speak raw HTTP/1.1 to it, stop it.
//! They are the event-loop toolkit's (`servers/evloop/testsupport`), shared with the other
//! event-loop model's tests.
#![allow(dead_code)]

const MODEL: &str = "io_uring";
use lab_io_uring::run_with_counters;

/// Whether io_uring cannot run here (an old kernel, a seccomp filter): the tests are skipped,
/// with the reason printed.
pub fn unavailable() -> bool {
    match lab_io_uring::availability() {
        Ok(()) => false,
        Err(why) => {
            eprintln!("skipping: {why}");
            true
        }
    }
}

#[path = "../../../evloop/testsupport/mod.rs"]
mod support;
pub use support::*;
