//! `loadgen`: an HTTP/1.1 load generator in the shape of wrk, small enough
//! to read in one sitting, plus [`procmon`], which measures what the server
//! under test costs.
//!
//! A run opens `conns` connections spread over `threads` event loops (mio),
//! sends the same pre-built request over and over, parses every response
//! properly (status line, `Content-Length`, chunked, read-until-close) and
//! records how long each one took. Errors are counted by kind, never fatal:
//! a server that dies mid-run gives a report full of connect errors, not a
//! hang. Each connection lives through wrk's three callbacks: connected,
//! writable, readable. The target is a TCP address or a Unix domain socket
//! (`unix:/path/to/socket:/route`, which wrk cannot load).
//!
//! # Using it
//!
//! ```no_run
//! let mut config = loadgen::Config::for_url("http://127.0.0.1:8080/")?;
//! config.conns = 100;
//! config.duration = loadgen::parse_duration("10s")?;
//! let report = loadgen::run(&config)?;
//! print!("{}", report.summary());
//! println!("{}", report.to_json());
//! # Ok::<(), loadgen::Error>(())
//! ```
//!
//! [`run`] checks the machine first ([`preflight`]: enough file
//! descriptors and local ports, raising the fd soft limit to the hard one)
//! and returns a typed [`Error`] naming the limit and the fix if not. It
//! draws a progress line on the calling thread when stdout is a terminal
//! and `quiet` is false. [`run_until`] also stops early when a flag is set.
//!
//! # Latency, HDR histograms
//!
//! Latencies are recorded in microseconds in HDR histograms (1 us to 1 h,
//! 3 significant figures): buckets whose width grows with the value, so
//! every recorded latency is kept to 0.1 % precision in a fixed ~190 KiB,
//! however many requests there are. Percentiles up to p99.99 and the true
//! max come out exact to that precision, which averages never can: one
//! slow request in ten thousand is invisible in a mean and is the whole
//! story at p99.99. Each thread has its own histograms; they are added
//! together at the end, and the merged one is stored in the report
//! (`histogram`, HDR V2 + base64) so that runs can be merged later.
//!
//! # Closed loop, open loop and coordinated omission
//!
//! By default the loop is *closed*, like wrk: each connection sends its next
//! request when the previous response arrives. When the server stalls for a
//! second, a closed-loop client stalls with it and politely sends nothing;
//! it records one slow request per connection where a real population of
//! users would have piled up a second's worth of requests, all of them
//! slow. The client has *coordinated* with the server to *omit* the bad
//! measurements: the percentiles look far better than what users see.
//!
//! With `rate` set the loop is *open*, like wrk2: requests are due on a fixed
//! schedule (`rate / conns` per connection), whether or not the server keeps
//! up, and each latency is measured from the moment the request was *due*,
//! not from when it could finally be sent. That is the corrected
//! `latency_us`; the latency from the actual send is kept as
//! `latency_uncorrected_us` so the two can be compared. A large gap between
//! them means the server was queueing, *if* requests left on time: the
//! generator must not be the one that is late. `epoll_wait` sleeps in whole
//! milliseconds (mio rounds a shorter timeout up), which let requests leave
//! up to a millisecond late and charged that to the server (a corrected p50
//! of 629 us against 68 us uncorrected, at 500 req/s against an idle
//! server). So each worker keeps a timerfd in its epoll set, set 30 us
//! before the next deadline, and polls without sleeping for the last 30 us.
//! How late each request actually left is `send_lag_us`; a p99 above 1 ms
//! means the generator, not the server, limited the run, and the summary
//! says so. (Re-measure: `lab load -R 1000` against an idle
//! `lab serve --model epoll`: corrected minus uncorrected p50 was 20-36 us.)
//!
//! # Who was served
//!
//! A connection the kernel accepted into a server's listen backlog is
//! established, though no process has accepted it yet. So the report counts,
//! per connection slot, the responses it got: `service.served` and
//! `starved`, the min, median and max per slot, Jain's fairness index, and
//! the time from a slot's first connect to its first response.
//!
//! # Layout
//!
//! - [`config`]: what to run: [`Config`] and the CLI's parsers ([`parse_url`],
//!   [`parse_duration`], [`parse_count`], [`parse_rate`], [`parse_start_at`]).
//! - [`error`]: [`Error`], the reasons a run cannot start.
//! - `preflight`: fd and port limits checked before starting.
//! - `sys`: the only `unsafe`: `getrlimit`/`setrlimit`, `sysconf`, the
//!   `timerfd` of the event loops, `getrusage` for reaped children's CPU,
//!   `sched_setaffinity`.
//! - [`affinity`]: CPU lists (`--server-cpus`, `--load-cpus`) and pinning.
//! - `request`: the request bytes, built once and shared by every connection.
//! - `response`: the incremental response parser, one small one per connection.
//! - `conn`: a connection's life: connected, writable, readable, and errors.
//! - `worker`: one event-loop thread: poll, ramp, schedule, timeouts.
//! - `stats`: per-thread histograms and counters, merged at the end.
//! - `progress`: the live progress line, drawn by the calling thread.
//! - `run`: spawning the workers and merging their results into a report.
//! - [`report`]: `lab-schema`, re-exported: [`Report`], its JSON form and the text summary.
//! - [`merge`]: many loaders' reports as one (`lab merge`), histograms added exactly.
//! - [`procmon`]: sampling the server's process tree from `/proc`.
//!
//! # Invariants
//!
//! - No server crate is a dependency: the target is just an address.
//! - No allocation per request in the hot path and no buffer per connection:
//!   the request bytes are shared, the read buffer is per thread.
//! - Every wait has a timeout: connects, requests, the end-of-run drain, the
//!   calling thread's wait for the workers.

#![deny(unsafe_code)]

pub mod affinity;
pub mod config;
mod conn;
pub mod error;
pub mod merge;
mod preflight;
pub mod procmon;
mod progress;
mod request;
mod response;
mod run;
mod stats;
#[allow(unsafe_code)] // the one module that may: each block has its SAFETY comment
mod sys;
mod worker;

pub use config::{
    parse_count, parse_duration, parse_rate, parse_start_at, parse_url, Config, Target,
};
pub use error::Error;
pub use lab_schema as report;
/// The report types live in `lab-schema`, shared with the report crate.
pub use lab_schema::{
    decode_histogram, encode_histogram, Connections, Errors, Latency, LoadReport as Report, Sample,
    ServerStats, Service,
};
pub use merge::{merge, Merged};
pub use preflight::preflight;
pub use procmon::{Sampler, SamplerHandle};
pub use run::{run, run_until};
