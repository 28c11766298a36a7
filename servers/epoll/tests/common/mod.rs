//! Test helpers: start the epoll model on 127.0.0.1:0, speak raw HTTP/1.1 to it, stop it.
//! They are the event-loop toolkit's (`servers/evloop/testsupport`), shared with the other
//! event-loop model's tests.
#![allow(dead_code)]

const MODEL: &str = "epoll";
use lab_epoll::run_with_counters;

/// epoll runs wherever Linux does.
pub fn unavailable() -> bool {
    false
}

#[path = "../../../evloop/testsupport/mod.rs"]
mod support;
pub use support::*;
