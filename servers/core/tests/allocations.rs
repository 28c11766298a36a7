//! Regression (issue 13): the blocking connection loop (`serve_connection`, which every blocking
//! model runs) makes no heap allocation per request in steady state, for GETs without a body sent
//! one at a time or pipelined. Before, each request cost at least two (the head's copy and its
//! field ranges), and the reader moved the buffer's rest after every pipelined request.

mod counting;

use counting::sys::Counting;
use lab_core::{serve_connection, LabApp, Limits, Shutdown};
use std::net::TcpStream;
use std::thread;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn the_blocking_loop_allocates_nothing_per_request() {
    let docroot = tempfile::tempdir().unwrap();
    let app = LabApp::new(docroot.path(), "test").unwrap();
    let listener = lab_core::bind_listener("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        serve_connection(stream.into(), &app, &Limits::default(), &Shutdown::new())
    });
    let mut client = TcpStream::connect(addr).unwrap();
    let window = counting::measure(&mut client, 500, 50);
    drop(client);
    let stats = server.join().unwrap();
    assert_eq!(stats.requests as usize, window.warm_up + window.requests);
    assert_eq!(
        window.allocations, 0,
        "{} allocations for {} requests",
        window.allocations, window.requests
    );
}
