//! Regression (issue 13): the epoll model's request path (read into the loop's scratch input,
//! parse in place, answer, write the batch) makes no heap allocation per request in steady state,
//! for GETs without a body sent one at a time or pipelined. Before, each request cost at least
//! two (the head's copy and its field ranges), and the reader moved the buffer's rest after
//! every pipelined request.

mod common;
#[path = "../../core/tests/counting/mod.rs"]
mod counting;

use common::{config, Server};
use counting::sys::Counting;
use std::net::TcpStream;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn the_epoll_path_allocates_nothing_per_request() {
    let server = Server::start(config(1, false));
    let mut client = TcpStream::connect(server.addr).unwrap();
    let window = counting::measure(&mut client, 500, 50);
    drop(client);
    server.stop();
    assert_eq!(
        window.allocations, 0,
        "{} allocations for {} requests",
        window.allocations, window.requests
    );
}
