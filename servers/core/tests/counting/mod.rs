//! What the allocation tests share: a counting global allocator ([`sys`]) and a client that
//! drives one keep-alive connection (single requests, then pipelined batches) and counts the
//! allocations the whole process made while it did, after a warm-up. The client allocates
//! nothing in the window: its buffers are made before it starts.
#![allow(dead_code)]

pub mod sys;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The request measured: a GET without a body, like wrk's plaintext one.
pub const REQUEST: &[u8] =
    b"GET / HTTP/1.1\r\nHost: t\r\nAccept: text/plain\r\nConnection: keep-alive\r\n\r\n";

/// Requests per pipelined batch (TechEmpower's plaintext test sends 16).
pub const BATCH: usize = 16;

/// What a measured window saw.
#[derive(Debug)]
pub struct Window {
    /// Requests answered in the window.
    pub requests: usize,
    /// Allocations the process made in the window.
    pub allocations: u64,
    /// Requests answered before it (the warm-up).
    pub warm_up: usize,
}

/// Warms the connection up, then measures `singles` requests sent one at a time and `batches`
/// batches of [`BATCH`] pipelined requests.
pub fn measure(stream: &mut TcpStream, singles: usize, batches: usize) -> Window {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let batch = REQUEST.repeat(BATCH);
    let mut buf = vec![0u8; 64 * 1024];
    // Every response has the same length (the Date is fixed-width): learn it from the first.
    stream.write_all(REQUEST).unwrap();
    let mut got = 0;
    let response_len = loop {
        got += stream.read(&mut buf[got..]).unwrap();
        if let Some(end) = buf[..got].windows(4).position(|w| w == b"\r\n\r\n") {
            if got >= end + 4 + b"Hello, World!".len() {
                break end + 4 + b"Hello, World!".len();
            }
        }
    };
    assert_eq!(got, response_len);
    assert!(buf[..got].ends_with(b"Hello, World!"));
    let run = |stream: &mut TcpStream, buf: &mut [u8], n: usize| {
        for _ in 0..n {
            exchange(stream, REQUEST, 1, response_len, buf);
        }
    };
    let run_batches = |stream: &mut TcpStream, buf: &mut [u8], n: usize| {
        for _ in 0..n {
            exchange(stream, &batch, BATCH, response_len, buf);
        }
    };
    // Warm-up: buffers, pools and caches reach the sizes they keep.
    run(stream, &mut buf, 100);
    run_batches(stream, &mut buf, 10);
    let warm_up = 1 + 100 + 10 * BATCH;
    // The server finishes its turn (deadline bookkeeping after the write) before counting
    // starts, and the last measured turn before it ends: each time, until every other thread
    // of the process waits.
    settle();
    let before = sys::allocations();
    run(stream, &mut buf, singles);
    run_batches(stream, &mut buf, batches);
    settle();
    let allocations = sys::allocations() - before;
    Window {
        requests: singles + batches * BATCH,
        allocations,
        warm_up,
    }
}

/// Writes `request` (holding `count` requests) and reads exactly `count` responses.
fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    count: usize,
    response_len: usize,
    buf: &mut [u8],
) {
    stream.write_all(request).unwrap();
    let want = count * response_len;
    let mut got = 0;
    while got < want {
        let n = stream.read(&mut buf[got..want]).unwrap();
        assert!(n > 0, "the server closed after {got} of {want} bytes");
        got += n;
    }
    assert!(buf[..got].ends_with(b"Hello, World!"));
}

/// Waits (bounded) until every thread of this process but the caller is asleep (state `S` in
/// `/proc/self/task/TID/stat`: blocked in its wait for input, `epoll_wait` or a socket read,
/// or parked), twice in a row 10 ms apart: then the server has finished its turn. A fixed pause
/// only hoped so, and a turn finished late on a loaded machine fell into the window. The
/// looking allocates, uncounted.
fn settle() {
    sys::uncounted(|| {
        let me = std::fs::read_link("/proc/thread-self")
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .expect("/proc/thread-self");
        let others_asleep = || {
            std::fs::read_dir("/proc/self/task")
                .expect("/proc/self/task")
                .flatten()
                .filter(|t| t.file_name().to_string_lossy() != me)
                .all(|t| {
                    std::fs::read_to_string(t.path().join("stat")).is_ok_and(|stat| {
                        stat.rfind(')')
                            .and_then(|i| stat.get(i + 2..i + 3))
                            .is_some_and(|state| state == "S")
                    })
                })
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut quiet = 0;
        while quiet < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "the server's threads never went back to waiting"
            );
            quiet = if others_asleep() { quiet + 1 } else { 0 };
            std::thread::sleep(Duration::from_millis(10));
        }
    });
}
