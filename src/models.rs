//! The six models of the lecture and io_uring, by name, and the entry point of each that exists.

use clap::ValueEnum;
use lab_core::{Config, Handler, Shutdown};
use std::io;
use std::net::TcpListener;
use std::sync::Arc;

/// Every model's entry point has this shape: it is handed a bound listener and never binds.
pub type RunFn = fn(TcpListener, Arc<dyn Handler>, &Config, Shutdown) -> io::Result<()>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[clap(rename_all = "snake_case")]
pub enum Model {
    SingleThread,
    ForkPerRequest,
    ProcessPool,
    ThreadPerRequest,
    HybridPool,
    Epoll,
    IoUring,
}

impl Model {
    pub const ALL: [Model; 7] = [
        Model::SingleThread,
        Model::ForkPerRequest,
        Model::ProcessPool,
        Model::ThreadPerRequest,
        Model::HybridPool,
        Model::Epoll,
        Model::IoUring,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Model::SingleThread => "single_thread",
            Model::ForkPerRequest => "fork_per_request",
            Model::ProcessPool => "process_pool",
            Model::ThreadPerRequest => "thread_per_request",
            Model::HybridPool => "hybrid_pool",
            Model::Epoll => "epoll",
            Model::IoUring => "io_uring",
        }
    }

    pub fn summary(self) -> &'static str {
        match self {
            Model::SingleThread => "accept, serve that connection until it closes, accept the next",
            Model::ForkPerRequest => "fork a child for every accepted connection; the parent reaps",
            Model::ProcessPool => {
                "prefork workers accepting on a shared socket, managed like Apache prefork"
            }
            Model::ThreadPerRequest => "spawn a thread for every accepted connection",
            Model::HybridPool => "processes x threads, managed like Apache's worker MPM",
            Model::Epoll => "non-blocking event loops on mio, nginx style, with an offload pool",
            Model::IoUring => {
                "completion-based event loops on io_uring: multishot accept and receive, batched sends"
            }
        }
    }

    /// The model's `run`, or `None` if it is not built yet.
    pub fn runner(self) -> Option<RunFn> {
        match self {
            Model::SingleThread => Some(lab_single_thread::run),
            Model::ThreadPerRequest => Some(lab_thread_per_request::run),
            Model::Epoll => Some(lab_epoll::run),
            Model::ForkPerRequest => Some(lab_fork_per_request::run),
            Model::ProcessPool => Some(lab_process_pool::run),
            Model::HybridPool => Some(lab_hybrid_pool::run),
            Model::IoUring => Some(lab_io_uring::run),
        }
    }

    /// Whether the model can run on this machine; `Err` says why not and what to do.
    pub fn availability(self) -> Result<(), String> {
        match self {
            Model::IoUring => lab_io_uring::availability(),
            _ => Ok(()),
        }
    }

    /// The model's `--offload on` series, for the models that have one.
    pub fn offloads(self) -> bool {
        matches!(self, Model::Epoll | Model::IoUring)
    }
}
