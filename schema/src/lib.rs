//! `lab-schema`: the JSON reports of http-lab, one set of serde types defined once.
//!
//! `lab load --json` writes a [`LoadReport`]; `lab run --json` writes a [`RunReport`] (the
//! load report's keys flattened in, plus the model and the server's [`ServerStats`]); the
//! `report` crate reads `RunReport`s back. Writer and reader share these types, so a key cannot
//! be renamed on one side only, and the report crate needs nothing of the load generator's
//! internals. The README's "JSON report format" lists every key; a test here checks it against
//! these types.
//!
//! Compatibility: a field added later has `#[serde(default)]`, so older files still read;
//! [`SCHEMA_VERSION`] goes up when a field changes meaning.
//!
//! # Layout
//! - `load`: [`LoadReport`] and its parts (latency, errors, connections, service, timeline),
//!   the text summary, and the histogram encoding.
//! - `server`: [`ServerStats`] and its [`Sample`]s.
//! - `run`: [`RunReport`].

#![deny(unsafe_code)]

mod load;
mod run;
mod server;

pub use load::{
    decode_histogram, encode_histogram, Connections, Errors, FirstResponse, Host, Latency,
    LoadReport, Loader, LoaderLimit, Second, Service,
};
pub use run::{External, RunReport, SlowClients};
pub use server::{Sample, ServerStats};

/// The version of the report format written by this build.
/// 1: the format before it had a version. 2: `schema_version`, `service`, `send_lag_us`,
/// `interrupted`, `planned_s`, `server.cpu_source`, `samples[].cpu_s`.
pub const SCHEMA_VERSION: u32 = 2;

fn version_one() -> u32 {
    1
}
