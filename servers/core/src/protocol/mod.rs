//! Layer 1, **HTTP/1.1 without I/O**: bytes in, requests (or one rejection) out. Nothing here
//! reads or writes a socket or a file (`tests/invariants.rs` checks), so the blocking loop and
//! the event loops drive the same code, and the fuzz targets can call it directly.

pub mod body;
pub mod error;
pub mod input;
pub mod limits;
pub mod parse;
pub mod reader;
pub mod request;
