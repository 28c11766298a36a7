//! The io_uring model over real sockets on 127.0.0.1:0, where it differs from epoll: memory per
//! idle connection (the provided buffer ring), back-pressure with a multishot receive, closing
//! with operations in flight, the offload pool's eventfd, timeouts and the drain. The shared
//! HTTP behaviour is the conformance suite's (tests/conformance.rs, through the binary).
//! No wall-clock assertions; every read has a timeout (common::READ_TIMEOUT). Skipped, with the
//! reason printed, where io_uring is unavailable. The bodies of the tests epoll runs too are the
//! event-loop toolkit's (`cases`, servers/evloop/testsupport/cases.rs).

mod common;

use common::{cases, config, unavailable, Client, Server};
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

/// Waits (bounded) until `f` holds; returns whether it did.
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if f() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

/// This process's proportional set size, in bytes.
fn pss() -> u64 {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap();
    let line = rollup.lines().find(|l| l.starts_with("Pss:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[test]
fn connection_struct_is_small() {
    let slot = std::mem::size_of::<Option<lab_io_uring::connection::Connection>>();
    println!("slab slot = {slot} bytes");
    assert!(slot <= 200, "an idle connection should stay small: {slot}");
}

#[test]
fn idle_connections_hold_no_buffer() {
    if unavailable() {
        return;
    }
    const N: usize = 2_000;
    let server = Server::start(config(1, false));
    // Warm up: every ring buffer and the pool have been touched once.
    let mut warm = server.connect();
    for _ in 0..2_000 {
        warm.get("/").unwrap();
        assert_eq!(warm.reply().status, 200);
    }
    drop(warm);
    assert!(eventually(|| server.open() == 0));
    let before = pss();
    // N connections, each served one request and then left idle (keep-alive). Raw sockets, so
    // that the clients add nothing but a file descriptor each to this process.
    let request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    let mut idle: Vec<TcpStream> = Vec::with_capacity(N);
    for _ in 0..N {
        let mut s = TcpStream::connect(server.addr).unwrap();
        s.write_all(request).unwrap();
        idle.push(s);
    }
    let requests = |s: &Server| -> u64 { s.counters.loops[0].requests.load(Ordering::Relaxed) };
    assert!(eventually(|| requests(&server) >= 2_000 + N as u64));
    assert_eq!(server.open(), N as u64);
    let per_connection = pss().saturating_sub(before) / N as u64;
    println!("PSS per idle connection: {per_connection} bytes");
    assert!(
        per_connection <= 1024,
        "an idle connection costs {per_connection} bytes of PSS"
    );
    drop(idle);
    server.stop();
}

#[test]
fn a_thousand_concurrent_clients_on_two_loops() {
    if unavailable() {
        return;
    }
    const N: usize = 1_000;
    let server = Server::start(config(2, false));
    let mut clients: Vec<Client> = (0..N).map(|_| server.connect()).collect();
    for round in 0..3 {
        for (i, c) in clients.iter_mut().enumerate() {
            let body = format!("{i}-{round}");
            let req = format!(
                "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            c.send(req.as_bytes()).unwrap();
        }
        for (i, c) in clients.iter_mut().enumerate() {
            let reply = c.reply();
            assert_eq!(reply.status, 200);
            assert_eq!(reply.text(), format!("{i}-{round}"));
        }
    }
    let accepted: u64 = server
        .counters
        .loops
        .iter()
        .map(|c| c.accepted.load(Ordering::Relaxed))
        .sum();
    assert_eq!(accepted, N as u64);
    drop(clients);
    assert!(eventually(|| server.open() == 0), "every close is seen");
    server.stop();
}

#[test]
fn a_pipelining_client_that_reads_slowly_gets_every_response() {
    cases::a_pipelining_client_that_reads_slowly_gets_every_response();
}

#[test]
fn a_client_that_never_reads_is_closed_at_the_write_timeout() {
    if unavailable() {
        return;
    }
    let mut config = config(1, false);
    config.limits.write_timeout = Duration::from_millis(500);
    let server = Server::start(config);
    let mut client = TcpStream::connect(server.addr).unwrap();
    client
        .set_write_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    // 32 echoes of 1 MiB: more than the loopback socket buffers hold, so a send stays
    // incomplete. The server stops reading too (back-pressure), so this write may block until
    // the close, or its own timeout.
    let body = vec![b'x'; 1024 * 1024];
    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let writer = thread::spawn(move || {
        for _ in 0..32 {
            if client.write_all(head.as_bytes()).is_err() || client.write_all(&body).is_err() {
                break;
            }
        }
        client
    });
    // Accepted first (open was 0 before that too), then closed.
    assert!(
        eventually(|| server.counters.loops[0].accepted.load(Ordering::Relaxed) == 1),
        "the connection was not accepted"
    );
    assert!(
        eventually(|| server.open() == 0),
        "the connection was not closed"
    );
    drop(writer.join().unwrap());
    server.stop();
}

#[test]
fn pipelined_offloaded_requests_keep_their_order() {
    cases::pipelined_offloaded_requests_keep_their_order();
}

#[test]
fn a_client_that_leaves_during_an_offloaded_request_is_closed_and_counted() {
    if unavailable() {
        return;
    }
    let server = Server::start(config(1, true));
    for _ in 0..20 {
        let mut client = server.connect();
        client.get("/sleep/20").unwrap();
        // Half-close and leave: the answer is still written, then the connection closed.
        client.stream().shutdown(std::net::Shutdown::Write).unwrap();
    }
    // All 20 accepted and their requests offloaded first (open was 0 before any accept too),
    // then all closed.
    let counters = &server.counters.loops[0];
    assert!(
        eventually(|| counters.accepted.load(Ordering::Relaxed) == 20
            && counters.offloaded.load(Ordering::Relaxed) == 20),
        "accepted {}, offloaded {}",
        counters.accepted.load(Ordering::Relaxed),
        counters.offloaded.load(Ordering::Relaxed)
    );
    assert!(
        eventually(|| server.open() == 0),
        "the connections were not closed"
    );
    let mut other = server.connect();
    other.get("/").unwrap();
    assert_eq!(other.reply().status, 200);
    server.stop();
}

#[test]
fn a_client_dribbling_its_header_gets_408_while_others_are_served() {
    cases::a_client_dribbling_its_header_is_cut_off_while_others_are_served();
}

#[test]
fn a_large_body_is_echoed() {
    cases::a_large_body_is_echoed();
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
