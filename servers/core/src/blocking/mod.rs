//! Layer 2, **I/O**: writing responses (bytes, or a file with `sendfile`), the blocking
//! connection loop every blocking model calls, the listener and stream types (TCP or Unix),
//! binding and accepting, shutdown and the
//! live-connection tracker, and giving memory back after a wave of connections.

pub mod conn;
pub mod memory;
pub mod net;
pub mod response;
pub mod shutdown;
pub mod socket;
