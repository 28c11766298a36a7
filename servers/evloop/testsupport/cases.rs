//! Test bodies both event-loop models' suites run (servers/epoll/tests/server.rs and
//! servers/io_uring/tests/server.rs call each in a one-line test of their own). Each starts the
//! including model's server, and returns at once where the model is unavailable.

use super::{config, unavailable, Client, Server};
use std::thread;
use std::time::Duration;

/// Requests pipelined behind an offloaded one cannot be answered while it runs, so their header
/// clock (`--header-timeout 1s`) starts when the loop can take them again, not when they were
/// received: behind a 1.5 s handler, a complete request is answered, and a partial one has its
/// own second to finish once the answer before it is out.
pub fn header_clock_restarts_after_an_offloaded_request() {
    if unavailable() {
        return;
    }
    let mut setup = config(1, true);
    setup.limits.header_timeout = Duration::from_secs(1);
    let server = Server::start(setup);
    let sleep = "GET /sleep/1500 HTTP/1.1\r\nHost: t\r\n\r\n";
    let mut complete = server.connect();
    complete
        .send(format!("{sleep}GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .unwrap();
    let mut partial = server.connect();
    partial
        .send(format!("{sleep}GET /hello HTTP/1.1\r\n").as_bytes())
        .unwrap();
    assert_eq!(complete.reply().text(), "slept 1500 ms\n");
    let reply = complete.reply();
    assert_eq!(reply.status, 200, "the complete request behind it");
    assert_eq!(reply.text(), "Hello, World!");
    assert_eq!(partial.reply().text(), "slept 1500 ms\n");
    partial.send(b"Host: t\r\n\r\n").unwrap();
    let reply = partial.reply();
    assert_eq!(reply.status, 200, "the request finished after the answer");
    assert_eq!(reply.text(), "Hello, World!");
    server.stop();
}

/// The same behind a streamed file: a client that does not read for 1.5 s holds a 16 MiB file
/// (more than the socket buffers take) in the server; what it pipelined behind the file gets its
/// header clock when the file is out.
pub fn header_clock_restarts_after_a_streamed_file() {
    if unavailable() {
        return;
    }
    let mut setup = config(1, false);
    setup.limits.header_timeout = Duration::from_secs(1);
    let server = Server::start(setup);
    let big: Vec<u8> = (0..16 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(server.docroot().join("big.bin"), &big).unwrap();
    let file = "GET /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n";
    let mut complete = server.connect();
    complete
        .send(format!("{file}GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .unwrap();
    let mut partial = server.connect();
    partial
        .send(format!("{file}GET /hello HTTP/1.1\r\n").as_bytes())
        .unwrap();
    thread::sleep(Duration::from_millis(1500));
    let read_file = |client: &mut Client| {
        let reply = client.reply();
        assert_eq!(reply.status, 200);
        assert!(reply.body == big, "the file's bytes differ");
    };
    read_file(&mut complete);
    let reply = complete.reply();
    assert_eq!(reply.status, 200, "the complete request behind it");
    assert_eq!(reply.text(), "Hello, World!");
    read_file(&mut partial);
    partial.send(b"Host: t\r\n\r\n").unwrap();
    let reply = partial.reply();
    assert_eq!(reply.status, 200, "the request finished after the file");
    assert_eq!(reply.text(), "Hello, World!");
    server.stop();
}
