//! The io_uring model over real sockets on 127.0.0.1:0, where it differs from epoll: memory per
//! idle connection (the provided buffer ring), back-pressure with a multishot receive, closing
//! with operations in flight, the offload pool's eventfd, timeouts and the drain. The shared
//! HTTP behaviour is the conformance suite's (tests/conformance.rs, through the binary).
//! No wall-clock assertions; every read has a timeout (common::READ_TIMEOUT). Skipped, with the
//! reason printed, where io_uring is unavailable.

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
    if unavailable() {
        return;
    }
    // Far more output than the socket buffers hold: the connection stops answering at the
    // output high-water mark, its receive is cancelled once 64 KiB of input wait, and both
    // resume by themselves once the client reads.
    const N: usize = 20_000;
    let server = Server::start(config(1, false));
    let mut client = server.connect();
    let mut writer = client.stream().try_clone().unwrap();
    let sender = thread::spawn(move || {
        let mut bytes = Vec::new();
        for i in 0..N {
            write!(bytes, "GET /hello?{i} HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        }
        writer.write_all(&bytes).unwrap();
    });
    thread::sleep(Duration::from_millis(200));
    for _ in 0..N {
        assert_eq!(client.reply().text(), "Hello, World!");
    }
    sender.join().unwrap();
    server.stop();
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
    assert!(
        eventually(|| server.open() == 0),
        "the connection was not closed"
    );
    drop(writer.join().unwrap());
    server.stop();
}

#[test]
fn pipelined_offloaded_requests_keep_their_order() {
    if unavailable() {
        return;
    }
    let server = Server::start(config(1, true));
    let mut client = server.connect();
    let mut bytes = Vec::new();
    for path in ["/sleep/50", "/", "/cpu/10", "/sleep/1", "/hello"] {
        write!(bytes, "GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    }
    client.send(&bytes).unwrap();
    let bodies: Vec<String> = (0..5).map(|_| client.reply().text()).collect();
    assert_eq!(
        bodies,
        [
            "slept 50 ms\n",
            "Hello, World!",
            "fib(10) = 55\n",
            "slept 1 ms\n",
            "Hello, World!"
        ]
    );
    let offloaded = server.counters.loops[0].offloaded.load(Ordering::Relaxed);
    assert_eq!(offloaded, 3);
    server.stop();
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
    assert!(eventually(|| server.open() == 0));
    let mut other = server.connect();
    other.get("/").unwrap();
    assert_eq!(other.reply().status, 200);
    server.stop();
}

#[test]
fn a_client_dribbling_its_header_gets_408_while_others_are_served() {
    if unavailable() {
        return;
    }
    let mut config = config(1, false);
    config.limits.header_timeout = Duration::from_secs(1);
    let server = Server::start(config);
    let addr = server.addr;
    let dribbler = thread::spawn(move || {
        let mut client = Client::connect(addr);
        let head = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        for byte in head.iter().cycle().take(40) {
            if client.send(&[*byte]).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
        match client.read_reply(false) {
            Ok(reply) => {
                assert_eq!(reply.status, 408);
                assert!(client.is_closed());
            }
            Err(e) => assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "the slow client was not cut off: {e}"
            ),
        }
    });
    for _ in 0..20 {
        let mut client = server.connect();
        client.get("/").unwrap();
        assert_eq!(client.reply().status, 200);
        thread::sleep(Duration::from_millis(50));
    }
    dribbler.join().unwrap();
    server.stop();
}

#[test]
fn a_large_body_is_echoed() {
    if unavailable() {
        return;
    }
    let server = Server::start(config(1, false));
    let mut client = server.connect();
    let body: Vec<u8> = (0..512 * 1024).map(|i| (i % 251) as u8).collect();
    let mut request = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let mut writer = client.stream().try_clone().unwrap();
    let sender = thread::spawn(move || writer.write_all(&request).unwrap());
    let reply = client.reply();
    sender.join().unwrap();
    assert_eq!(reply.status, 200);
    assert!(reply.body == body);
    server.stop();
}

#[test]
fn graceful_shutdown_finishes_in_flight_requests_and_closes_idle_ones() {
    if unavailable() {
        return;
    }
    for offload in [false, true] {
        let server = Server::start(config(2, offload));
        let mut idle = server.connect();
        idle.get("/").unwrap();
        assert_eq!(idle.reply().status, 200);
        let mut busy = server.connect();
        busy.get("/sleep/500").unwrap();
        thread::sleep(Duration::from_millis(100));
        let addr = server.addr;
        let stopper = thread::spawn(move || server.stop());
        let reply = busy.reply();
        assert_eq!(reply.text(), "slept 500 ms\n");
        assert!(reply.closes());
        assert!(busy.is_closed());
        assert!(idle.is_closed());
        stopper.join().unwrap();
        assert!(TcpStream::connect(addr).is_err());
    }
}

#[test]
fn shutdown_returns_at_the_drain_timeout_when_a_request_outlasts_it() {
    if unavailable() {
        return;
    }
    let mut config = config(1, true);
    config.drain_timeout = Duration::from_millis(500);
    let mut server = Server::start(config);
    let mut busy = server.connect();
    busy.get("/sleep/5000").unwrap();
    thread::sleep(Duration::from_millis(100));
    server.stop_within(Duration::from_secs(4));
    assert!(busy.is_closed());
}

#[test]
fn header_clock_restarts_after_an_offloaded_request() {
    cases::header_clock_restarts_after_an_offloaded_request();
}

#[test]
fn header_clock_restarts_after_a_streamed_file() {
    cases::header_clock_restarts_after_a_streamed_file();
}
