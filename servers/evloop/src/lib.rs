//! # lab-evloop: the event-loop toolkit
//!
//! What every event-driven model of the lab needs, whatever tells it that a socket can make
//! progress (epoll's readiness, io_uring's completions). A model crate keeps only its loop:
//! how it waits, accepts, reads and writes.
//!
//! ```text
//!   loop ─┬─ Deadlines (header/body/idle/write/linger, one per connection) ─▶ how long to wait
//!         ├─ Buffers (one scratch buffer, a pool lent to connections with bytes to keep)
//!         ├─ offload::Pool (helper threads for Cpu/Blocking requests; answers + a Waker)
//!         ├─ Counters (per loop: open, accepted, requests, offloaded → /_status, --verbose)
//!         └─ connection: Env, State, Wait, Flow; session: a connection's HTTP without I/O
//! ```
//!
//! # Layout
//! - [`buffers`]: the per-loop scratch buffer and buffer pool.
//! - [`deadlines`]: the ordered set of connection deadlines.
//! - [`offload`]: the helper threads for Cpu and Blocking requests.
//! - [`counters`]: per-loop counters, their `/_status` JSON and the `--verbose` line.
//! - [`connection`]: what a loop lends its connections, their states and clocks, shared limits.
//! - [`lifecycle`]: what a model's `run` does around its loops: `/_status`, the offload pool,
//!   each loop's `Env`, joining the loops.
//! - [`options`]: the flags both models take (`--loops`, `--offload`, `--offload-threads`).
//! - [`session`]: one connection's requests and responses, pushed bytes instead of reading them
//!   (the io_uring model's; the epoll model still interleaves this with its reads and writes).

#![deny(unsafe_code)]

pub mod buffers;
pub mod connection;
pub mod counters;
pub mod deadlines;
pub mod lifecycle;
pub mod offload;
pub mod options;
pub mod session;

pub use buffers::Buffers;
pub use connection::{Env, Flow, State, Wait};
pub use counters::{Counters, LoopCounters, Report};
pub use deadlines::Deadlines;
pub use options::Options;
pub use session::Session;
