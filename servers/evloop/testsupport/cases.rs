//! Test bodies both event-loop models' suites run (servers/epoll/tests/server.rs and
//! servers/io_uring/tests/server.rs call each in a one-line test of their own). Each starts the
//! including model's server, and returns at once where the model is unavailable.

use super::{config, unavailable, Client, Server};
use std::io::{Read, Write};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

/// Requests pipelined behind an offloaded one cannot be answered while it runs, so their header
/// clock (`--header-timeout 1s`) starts when the loop can take them again, not when they were
/// received: behind a 1.5 s handler, a complete request is answered, and a partial one has its
/// own second to finish once the answer before it is out.
pub fn header_clock_restarts_after_an_offloaded_request() {
    header_clock_restarts_after(Ahead::Offloaded);
}

/// The same behind a streamed file: a client that does not read for 1.5 s holds a 16 MiB file
/// (more than the socket buffers take) in the server; what it pipelined behind the file gets its
/// header clock when the file is out.
pub fn header_clock_restarts_after_a_streamed_file() {
    header_clock_restarts_after(Ahead::File);
}

/// How much of the file [`header_clock_restarts_after`] writes or reads at a time.
const CHUNK: usize = 64 * 1024;

/// What the requests of [`header_clock_restarts_after`] are pipelined behind.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ahead {
    /// `/sleep/1500`, with `--offload on`.
    Offloaded,
    /// A 16 MiB static file that the client does not read for 1.5 s.
    File,
}

/// Two connections each send a request of `ahead`'s kind with, pipelined behind it, a complete
/// `GET /hello` on one and only the request line of it on the other (finished once the answer
/// before it has been read): both must get 200, not 408.
fn header_clock_restarts_after(ahead: Ahead) {
    if unavailable() {
        return;
    }
    let mut setup = config(1, ahead == Ahead::Offloaded);
    setup.limits.header_timeout = Duration::from_secs(1);
    let server = Server::start(setup);
    // The first response's body, byte by byte: a 16 MiB one is written and read a chunk at a
    // time, never held whole (io_uring's suite measures this process's memory meanwhile).
    const SLEPT: &[u8] = b"slept 1500 ms\n";
    let (first, len, byte): (_, _, fn(usize) -> u8) = match ahead {
        Ahead::Offloaded => ("/sleep/1500", SLEPT.len(), |i| SLEPT[i]),
        Ahead::File => {
            let mut file = std::fs::File::create(server.docroot().join("big.bin")).unwrap();
            let chunk: Vec<u8> = (0..CHUNK).map(|i| (i % 251) as u8).collect();
            for _ in 0..256 {
                file.write_all(&chunk).unwrap();
            }
            ("/static/big.bin", 256 * CHUNK, |i| (i % CHUNK % 251) as u8)
        }
    };
    let first = format!("GET {first} HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\n");
    let mut complete = server.connect();
    complete
        .send(format!("{first}Host: t\r\n\r\n").as_bytes())
        .unwrap();
    let mut partial = server.connect();
    partial.send(first.as_bytes()).unwrap();
    if ahead == Ahead::File {
        thread::sleep(Duration::from_millis(1500));
    }
    let read_first = |client: &mut Client| {
        let head = client.read_reply(true).unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(
            head.header("content-length"),
            Some(len.to_string().as_str())
        );
        let mut buf = vec![0; CHUNK];
        let mut at = 0;
        while at < len {
            let n = (len - at).min(CHUNK);
            client.reader.read_exact(&mut buf[..n]).unwrap();
            assert!(
                buf[..n].iter().enumerate().all(|(i, b)| *b == byte(at + i)),
                "the first response's body differs after byte {at}"
            );
            at += n;
        }
    };
    read_first(&mut complete);
    let reply = complete.reply();
    assert_eq!(reply.status, 200, "the complete request behind it");
    assert_eq!(reply.text(), "Hello, World!");
    read_first(&mut partial);
    partial.send(b"Host: t\r\n\r\n").unwrap();
    let reply = partial.reply();
    assert_eq!(
        reply.status, 200,
        "the request finished after the answer before it"
    );
    assert_eq!(reply.text(), "Hello, World!");
    server.stop();
}

/// Offloaded (`/sleep`, `/cpu`) and inline requests pipelined in one write are answered in the
/// order they came; three went to the pool.
pub fn pipelined_offloaded_requests_keep_their_order() {
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

/// A client sending its head a byte at a time gets 408 (or the close) at `--header-timeout`,
/// while others are served on the same loop.
pub fn a_client_dribbling_its_header_is_cut_off_while_others_are_served() {
    if unavailable() {
        return;
    }
    let mut config = config(1, false);
    config.limits.header_timeout = Duration::from_secs(1);
    let server = Server::start(config);
    let addr = server.addr;
    let dribbler = thread::spawn(move || {
        let mut client = Client::connect(addr);
        // One byte every 100 ms, for up to 4 s: long past the 1 s header timeout.
        let head = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        for byte in head.iter().cycle().take(40) {
            if client.send(&[*byte]).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
        // Either the 408 is there to read, or the connection is gone (EOF or reset).
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
    // Meanwhile others are served, each on a fresh connection.
    for _ in 0..20 {
        let mut client = server.connect();
        client.get("/").unwrap();
        assert_eq!(client.reply().status, 200);
        thread::sleep(Duration::from_millis(50));
    }
    dribbler.join().unwrap();
    server.stop();
}

/// Far more pipelined output than the socket buffers hold: the connection stops answering at
/// the output high-water mark and stops taking input (epoll stops reading; io_uring cancels its
/// multishot receive once 64 KiB of input wait), and both resume by themselves once the client
/// reads.
pub fn a_pipelining_client_that_reads_slowly_gets_every_response() {
    if unavailable() {
        return;
    }
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

/// A 512 KiB body, received over many reads, comes back whole.
pub fn a_large_body_is_echoed() {
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

/// Shutdown (offload off and on): the request in flight is answered with `Connection: close`,
/// idle connections are closed, the listener is gone once `run` returns.
pub fn graceful_shutdown_finishes_in_flight_requests_and_closes_idle_ones() {
    if unavailable() {
        return;
    }
    for offload in [false, true] {
        let server = Server::start(config(2, offload));
        let mut idle = server.connect();
        idle.get("/").unwrap();
        assert_eq!(idle.reply().status, 200);
        let mut busy = server.connect();
        busy.get("/sleep/1300").unwrap();
        // In flight for sure: its handler sleeps (a request not yet read when shutdown comes
        // is an idle connection, closed). 1.3 s: shutdown comes while it runs even if this
        // thread is held up.
        super::wait_until_handler_sleeps(1300);
        let addr = server.addr;
        let stopper = thread::spawn(move || server.stop());
        // The in-flight request completes, and is told the connection closes.
        let reply = busy.reply();
        assert_eq!(reply.text(), "slept 1300 ms\n");
        assert!(reply.closes());
        assert!(busy.is_closed());
        assert!(idle.is_closed());
        stopper.join().unwrap();
        // The listener is gone once run returned.
        assert!(std::net::TcpStream::connect(addr).is_err());
    }
}

/// A request that outlasts the drain timeout does not hold shutdown up.
pub fn shutdown_returns_at_the_drain_timeout_when_a_request_outlasts_it() {
    if unavailable() {
        return;
    }
    let mut config = config(1, true);
    config.drain_timeout = Duration::from_millis(500);
    let mut server = Server::start(config);
    let mut busy = server.connect();
    busy.get("/sleep/5000").unwrap();
    // Running for sure, not still unread (then it would be an idle connection, closed at once).
    super::wait_until_handler_sleeps(5000);
    // Bounded generously: run must not wait for the 5 s sleep.
    server.stop_within(Duration::from_secs(4));
    assert!(busy.is_closed());
}

/// `--accept reuseport` with two loops: each loop has a socket of its own, the kernel hashes
/// each client to one, and every connection is answered. The loops bind their sockets while the
/// test already connects (the first socket listens from the start), so it connects until both
/// loops have accepted some, at most 1,000 times: 1,000 connections after both were bound all
/// hashing to one loop has odds of 2^-999. Counts only.
pub fn reuseport_spreads_connections_over_the_loops() {
    if unavailable() {
        return;
    }
    let mut setup = config(2, false);
    setup.options.accept.accept = lab_core::AcceptMode::ReusePort;
    let server = Server::start(setup);
    let accepted = || -> Vec<u64> {
        server
            .counters
            .loops
            .iter()
            .map(|c| c.accepted.load(std::sync::atomic::Ordering::Relaxed))
            .collect()
    };
    let mut made = 0;
    while made < 1_000 && !accepted().iter().all(|&n| n > 0) {
        let mut client = server.connect();
        client.get("/").unwrap();
        assert_eq!(client.reply().status, 200);
        made += 1;
    }
    let counts = accepted();
    assert_eq!(counts.iter().sum::<u64>(), made, "{counts:?}");
    assert!(counts.iter().all(|&n| n > 0), "{counts:?} after {made}");
    server.stop();
}
