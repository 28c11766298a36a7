//! The one error type of the crate.
//!
//! These are the errors that stop a run *before* it starts: a bad URL, a
//! bad duration, a machine that cannot hold the connections asked for.
//! Once a run is going nothing is fatal: connect, read, write, timeout and
//! status failures are counted by kind in [`crate::report::Errors`].

use std::fmt;
use std::io;

/// Why a run could not be configured or started.
#[derive(Debug)]
pub enum Error {
    /// The URL is not `http://host[:port][/path]`, or the host did not resolve.
    Url(String),
    /// A duration string is not `N`, `Nms`, `Ns`, `Nm` or `Nh`.
    Duration(String),
    /// The configuration contradicts itself (zero connections, negative rate...).
    Config(String),
    /// The machine cannot hold the run: too few file descriptors or local
    /// ports. `limit` names the limit, `need` and `have` give the numbers and
    /// `fix` says what to change.
    Limit {
        limit: &'static str,
        need: u64,
        have: u64,
        fix: &'static str,
    },
    /// An OS call needed to set the run up failed (creating the poller, spawning a thread).
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Url(msg) => write!(f, "bad URL: {msg}"),
            Error::Duration(msg) => write!(f, "bad duration: {msg}"),
            Error::Config(msg) => write!(f, "{msg}"),
            Error::Limit {
                limit,
                need,
                have,
                fix,
            } => write!(f, "need {need} {limit} but the limit is {have}: {fix}"),
            Error::Io(e) => write!(f, "I/O error while setting up the run: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}
