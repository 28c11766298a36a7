//! The epoll model over real sockets on 127.0.0.1:0. No wall-clock assertions: the tests check
//! counts and order; every read has a timeout (common::READ_TIMEOUT). The bodies of the tests
//! io_uring runs too are the event-loop toolkit's (`cases`, servers/evloop/testsupport/cases.rs).

mod common;

use common::{cases, config, Client, Server};
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

#[test]
fn connection_struct_is_small() {
    let size = std::mem::size_of::<lab_epoll::connection::Connection>();
    let slot = std::mem::size_of::<Option<lab_epoll::connection::Connection>>();
    println!("size_of::<Connection>() = {size} bytes, slab slot = {slot} bytes");
    assert!(
        slot <= 160,
        "an idle connection should stay small, it is {slot} bytes"
    );
}

#[test]
fn two_thousand_concurrent_keep_alive_connections() {
    const CLIENT_THREADS: usize = 4;
    const PER_THREAD: usize = 500;
    const ROUNDS: usize = 3;
    let server = Server::start(config(2, false));
    let addr = server.addr;
    // Everyone connects, then (once all 2,000 are open at once) each does ROUNDS requests.
    let connected = Arc::new(Barrier::new(CLIENT_THREADS + 1));
    let checked = Arc::new(Barrier::new(CLIENT_THREADS + 1));
    let workers: Vec<_> = (0..CLIENT_THREADS)
        .map(|t| {
            let connected = Arc::clone(&connected);
            let checked = Arc::clone(&checked);
            thread::spawn(move || {
                let mut clients: Vec<Client> =
                    (0..PER_THREAD).map(|_| Client::connect(addr)).collect();
                connected.wait();
                checked.wait();
                let mut ok = 0;
                for round in 0..ROUNDS {
                    for (i, client) in clients.iter_mut().enumerate() {
                        let body = format!("{t}-{i}-{round}");
                        let req = format!(
                            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        client.send(req.as_bytes()).unwrap();
                    }
                    for (i, client) in clients.iter_mut().enumerate() {
                        let reply = client.reply();
                        assert_eq!(reply.status, 200);
                        assert_eq!(reply.text(), format!("{t}-{i}-{round}"));
                        assert!(!reply.closes());
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    connected.wait();
    // The server counts every connection as open at the same time (accept is asynchronous, so
    // wait for the count, bounded).
    let mut open = 0;
    for _ in 0..200 {
        open = server.open();
        if open == (CLIENT_THREADS * PER_THREAD) as u64 {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(open, (CLIENT_THREADS * PER_THREAD) as u64);
    checked.wait();
    let ok: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(ok, CLIENT_THREADS * PER_THREAD * ROUNDS);
    let per_loop: Vec<u64> = server
        .counters
        .loops
        .iter()
        .map(|c| c.accepted.load(Ordering::Relaxed))
        .collect();
    println!("accepted per loop: {per_loop:?}");
    assert_eq!(
        per_loop.iter().sum::<u64>(),
        (CLIENT_THREADS * PER_THREAD) as u64
    );
    let requests: u64 = server
        .counters
        .loops
        .iter()
        .map(|c| c.requests.load(Ordering::Relaxed))
        .sum();
    assert_eq!(requests, (CLIENT_THREADS * PER_THREAD * ROUNDS) as u64);
    server.stop();
}

fn pipeline_of_echoes(n: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for i in 0..n {
        let body = format!("request {i}");
        write!(
            bytes,
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    }
    bytes
}

#[test]
fn ten_pipelined_requests_in_one_write_get_ten_responses_in_order() {
    let server = Server::start(config(1, false));
    let mut client = server.connect();
    client.send(&pipeline_of_echoes(10)).unwrap();
    for i in 0..10 {
        let reply = client.reply();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.text(), format!("request {i}"));
    }
    server.stop();
}

#[test]
fn pipelined_offloaded_requests_keep_their_order() {
    cases::pipelined_offloaded_requests_keep_their_order();
}

#[test]
fn a_request_split_across_many_writes() {
    let server = Server::start(config(1, false));
    let mut client = server.connect();
    let request = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world";
    for chunk in request.chunks(3) {
        client.send(chunk).unwrap();
        thread::sleep(Duration::from_millis(2));
    }
    let reply = client.reply();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "hello world");
    // The connection is still usable afterwards.
    client.get("/").unwrap();
    assert_eq!(client.reply().text(), "Hello, World!");
    server.stop();
}

#[test]
fn head_gets_headers_without_a_body() {
    let server = Server::start(config(1, false));
    let mut client = server.connect();
    client
        .send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let head = client.read_reply(true).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("13"));
    // If HEAD had sent a body, this would read it as a status line and fail.
    let get = client.reply();
    assert_eq!(get.status, 200);
    assert_eq!(get.text(), "Hello, World!");
    server.stop();
}

#[test]
fn connection_close_is_honoured() {
    let server = Server::start(config(1, false));
    let mut client = server.connect();
    client
        .send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let reply = client.reply();
    assert_eq!(reply.status, 200);
    assert!(reply.closes());
    assert!(client.is_closed());
    server.stop();
}

#[test]
fn a_panicking_handler_gets_500_and_close_and_the_server_goes_on() {
    for offload in [false, true] {
        let server = Server::start(config(1, offload));
        let mut client = server.connect();
        client.get("/crash").unwrap();
        let reply = client.reply();
        assert_eq!(reply.status, 500);
        assert!(reply.closes());
        assert!(client.is_closed());
        let mut other = server.connect();
        other.get("/").unwrap();
        assert_eq!(other.reply().status, 200);
        server.stop();
    }
}

#[test]
fn expect_100_continue() {
    let server = Server::start(config(1, false));
    let mut client = server.connect();
    client
        .send(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
        )
        .unwrap();
    let interim = client.read_reply(false).unwrap();
    assert_eq!(interim.status, 100);
    client.send(b"ping").unwrap();
    let reply = client.reply();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "ping");
    server.stop();
}

/// Sends `/sleep/900` on one connection, then (once its handler sleeps) `/` on another, and
/// returns the order in which the server answered them. When the quick answer arrives, the
/// slow one is either already in the slow client's socket (the server wrote it first) or not.
/// With offload, the quick answer must come within the 900 ms: wide, for a loaded machine.
fn completion_order(offload: bool) -> Vec<&'static str> {
    let server = Server::start(config(1, offload));
    let mut slow = server.connect();
    let mut quick = server.connect();
    slow.get("/sleep/900").unwrap();
    // The loop has read the sleep request first (a fixed pause only hoped so): its handler
    // runs, on the loop or in the offload pool.
    common::wait_until_handler_sleeps(900);
    quick.get("/").unwrap();
    assert_eq!(quick.reply().text(), "Hello, World!");
    slow.stream().set_nonblocking(true).unwrap();
    let slow_already_answered = slow.stream().peek(&mut [0u8; 1]).is_ok_and(|n| n > 0);
    slow.stream().set_nonblocking(false).unwrap();
    assert_eq!(slow.reply().text(), "slept 900 ms\n");
    server.stop();
    match slow_already_answered {
        true => vec!["sleep", "quick"],
        false => vec!["quick", "sleep"],
    }
}

#[test]
fn without_offload_a_blocking_handler_stalls_its_loop() {
    assert_eq!(completion_order(false), ["sleep", "quick"]);
}

#[test]
fn with_offload_a_quick_request_passes_a_blocking_one() {
    assert_eq!(completion_order(true), ["quick", "sleep"]);
}

#[test]
fn a_client_dribbling_its_header_is_cut_off_while_others_are_served() {
    cases::a_client_dribbling_its_header_is_cut_off_while_others_are_served();
}

#[test]
fn an_idle_keep_alive_connection_is_closed_at_the_idle_timeout() {
    let mut config = config(1, false);
    config.limits.idle_timeout = Duration::from_millis(500);
    let server = Server::start(config);
    let mut client = server.connect();
    client.get("/").unwrap();
    assert_eq!(client.reply().status, 200);
    // No 408 for an idle connection: just the close.
    assert!(client.is_closed());
    server.stop();
}

#[test]
fn a_connection_busy_past_its_idle_timeout_stays_open_then_closes_when_idle() {
    // The loop moves a connection's timer entry only when its deadline comes earlier: the
    // entry set by the first request fires while requests still come, and must be put back at
    // the real deadline, not close the connection.
    let mut config = config(1, false);
    config.limits.idle_timeout = Duration::from_secs(1);
    let server = Server::start(config);
    let mut client = server.connect();
    // A request every 250 ms for 2 s: twice the idle timeout, never idle for long.
    for _ in 0..8 {
        client.get("/").unwrap();
        assert_eq!(client.reply().status, 200);
        thread::sleep(Duration::from_millis(250));
    }
    client.get("/").unwrap();
    assert_eq!(client.reply().status, 200);
    assert!(client.is_closed(), "closed once idle");
    server.stop();
}

#[test]
fn a_keep_alive_connection_whose_next_head_dribbles_gets_408_at_the_header_timeout() {
    // After a request, the connection's entry is at its (60 s) idle deadline; a partial head
    // brings its deadline earlier (1 s header timeout), so the entry must move.
    let mut config = config(1, false);
    config.limits.header_timeout = Duration::from_secs(1);
    let server = Server::start(config);
    let mut client = server.connect();
    client.get("/").unwrap();
    assert_eq!(client.reply().status, 200);
    client.send(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
    let reply = client.reply(); // within the client's 10 s read timeout, not at 60 s
    assert_eq!(reply.status, 408);
    assert!(client.is_closed());
    server.stop();
}

#[test]
fn a_pipelining_client_that_reads_slowly_gets_every_response() {
    cases::a_pipelining_client_that_reads_slowly_gets_every_response();
}

#[test]
fn a_large_body_is_echoed() {
    cases::a_large_body_is_echoed();
}

#[test]
fn a_rejected_request_gets_its_status_and_a_close() {
    let server = Server::start(config(1, false));
    let mut client = server.connect();
    client.send(b"GET / HTTP/1.1\r\n\r\n").unwrap(); // no Host
    let reply = client.reply();
    assert_eq!(reply.status, 400);
    assert!(reply.closes());
    assert!(client.is_closed());
    server.stop();
}

#[test]
fn graceful_shutdown_finishes_in_flight_requests_and_closes_idle_ones() {
    cases::graceful_shutdown_finishes_in_flight_requests_and_closes_idle_ones();
}

#[test]
fn shutdown_returns_at_the_drain_timeout_when_a_request_outlasts_it() {
    cases::shutdown_returns_at_the_drain_timeout_when_a_request_outlasts_it();
}

#[test]
fn header_clock_restarts_after_an_offloaded_request() {
    cases::header_clock_restarts_after_an_offloaded_request();
}

#[test]
fn header_clock_restarts_after_a_streamed_file() {
    cases::header_clock_restarts_after_a_streamed_file();
}
