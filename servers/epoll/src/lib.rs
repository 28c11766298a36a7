//! # epoll: non-blocking event loops (work in progress)

use lab_core::{Config, Handler, Shutdown};
use std::io;
use std::net::TcpListener;
use std::sync::Arc;

/// Not built yet.
pub fn run(
    _listener: TcpListener,
    _handler: Arc<dyn Handler>,
    _config: &Config,
    _shutdown: Shutdown,
) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "the epoll model is not built yet",
    ))
}
