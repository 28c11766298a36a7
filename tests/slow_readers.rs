//! Slow readers cannot make a server hold memory: clients pipeline requests for a large static
//! file and do not read (a tiny receive window), as `slowhttptest -X` does. The server may hold
//! an open file and a bounded queue per connection, never the responses themselves. Every model,
//! through the real binary; memory is the anonymous PSS of the server's whole process tree (PSS,
//! so that forked workers are not charged N times for the pages they share).
//!
//! Before file bodies were streamed and queued output bounded, this attack grew the servers by a
//! file per pipelined request per connection (or, for epoll, most of one file per connection):
//! 16 to 330 MiB here, 6 GiB for thread_per_request with 2,000 `slowhttptest` connections.

mod common;

use common::Server;
use socket2::{Domain, Socket, Type};
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The size of the file every request asks for (`slowhttptest -X` was pointed at a 1 MiB file).
const MIB: usize = 1024 * 1024;

/// The most the server's process tree may grow while under attack. The old code grew by at
/// least 16 MiB in every case (a file's worth per connection, or per pipelined request).
const MAX_GROWTH: u64 = 8 * 1024 * 1024;

/// How long the attack is watched: enough for every connection to be accepted and answered as
/// far as the server will go.
const WATCH: Duration = Duration::from_secs(2);

/// The anonymous PSS (heap, stacks, buffers: what a server allocates) of the process tree
/// rooted at `pid`, summed from `/proc/PID/smaps_rollup` (`Pss_Anon`, or `Pss` on kernels
/// before 5.7). File-backed pages are left out: the binary's pages are shared with every other
/// `lab` process the parallel tests start and stop, which moves their PSS by megabytes.
fn tree_pss(pid: u32) -> u64 {
    loadgen::procmon::tree_pids(pid)
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .filter_map(|text| {
            let field = |key: &str| {
                let line = text.lines().find(|l| l.starts_with(key))?;
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            };
            Some(field("Pss_Anon:").or_else(|| field("Pss:"))? * 1024)
        })
        .sum()
}

/// A client with a 4 KiB receive buffer (so the server's writes block almost at once) that
/// sends `pipelined` requests for the big file in one write.
fn slow_reader(addr: SocketAddr, pipelined: usize) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket
        .connect_timeout(&addr.into(), common::TIMEOUT)
        .expect("connect");
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(common::TIMEOUT))
        .expect("timeout");
    let request = "GET /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n".repeat(pipelined);
    std::io::Write::write_all(&mut &stream, request.as_bytes()).expect("send");
    stream
}

/// Opens `conns` slow readers, each pipelining `pipelined` requests, watches the server's PSS,
/// and returns how much it grew at its peak. Then reads the first client's response head, to
/// show the server was answering.
fn attack(server: &Server, conns: usize, pipelined: usize, file_bytes: usize) -> u64 {
    // Warm up: the page cache, the first static request's lazy allocations.
    let mut c = server.connect();
    assert_eq!(c.get("/static/big.bin").body.len(), file_bytes);
    drop(c);
    std::thread::sleep(Duration::from_millis(300));
    let before = tree_pss(server.pid());
    let clients: Vec<TcpStream> = (0..conns)
        .map(|_| slow_reader(server.addr, pipelined))
        .collect();
    let mut peak = before;
    let deadline = Instant::now() + WATCH;
    while Instant::now() < deadline {
        peak = peak.max(tree_pss(server.pid()));
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut head = [0u8; 12];
    (&clients[0]).read_exact(&mut head).expect("a response");
    assert_eq!(&head, b"HTTP/1.1 200", "{}", server.model);
    peak.saturating_sub(before)
}

/// A docroot holding `big.bin`, `file_bytes` long.
fn site_with_big_file(file_bytes: usize) -> tempfile::TempDir {
    let site = tempfile::tempdir().expect("tempdir");
    let big: Vec<u8> = (0..file_bytes).map(|i| (i % 251) as u8).collect();
    std::fs::write(site.path().join("big.bin"), big).expect("big file");
    site
}

/// 16 slow readers, each pipelining 2 requests for an 8 MiB file: a server that builds a response
/// in memory holds at least 4 MiB per connection (what the kernel's send buffer, up to 4 MiB on
/// loopback, does not take), one that builds every pipelined response holds 16 MiB.
fn bounded(model: &str, flags: &[&str]) {
    let (conns, pipelined, file_bytes) = (16, 2, 8 * MIB);
    let site = site_with_big_file(file_bytes);
    let docroot = site.path().to_str().expect("utf-8 path");
    let args: Vec<&str> = ["--docroot", docroot]
        .iter()
        .chain(flags)
        .copied()
        .collect();
    let server = Server::start(model, &args);
    let growth = attack(&server, conns, pipelined, file_bytes);
    eprintln!(
        "{model} {flags:?}: {conns} connections x {pipelined} pipelined {} MiB requests: PSS grew \
         {} KiB",
        file_bytes / MIB,
        growth / 1024
    );
    assert!(
        growth < MAX_GROWTH,
        "{model} {flags:?}: the server grew by {} KiB under {conns} slow readers ({pipelined} \
         pipelined requests each); at most {} KiB allowed",
        growth / 1024,
        MAX_GROWTH / 1024
    );
    drop(server);
}

/// After a wave of slow readers has gone, epoll gives the memory back: what the connections
/// freed goes back to the kernel (buffers that grew large are not pooled; the heap is trimmed
/// when the open count falls), not kept by the allocator for good. Before, 2,000 slow readers
/// left epoll at 1.33 GiB after every connection had closed.
fn epoll_gives_memory_back_after_a_wave() {
    let site = site_with_big_file(MIB);
    let docroot = site.path().to_str().expect("utf-8 path");
    let server = Server::start("epoll", &["--docroot", docroot]);
    let mut c = server.connect();
    assert_eq!(c.get("/static/big.bin").body.len(), MIB);
    drop(c);
    std::thread::sleep(Duration::from_millis(300));
    let idle = tree_pss(server.pid());
    // 800 connections: within a default 1,024 descriptor limit, and above the count at which
    // the loops trim (`lab_core::memory::TRIM_MIN_DROP` per loop).
    let clients: Vec<TcpStream> = (0..800).map(|_| slow_reader(server.addr, 3)).collect();
    std::thread::sleep(WATCH);
    let peak = tree_pss(server.pid());
    drop(clients);
    // Wait (bounded) until the server has closed them all.
    let deadline = Instant::now() + common::TIMEOUT;
    while open_connections(&server) > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = tree_pss(server.pid());
    eprintln!(
        "epoll: idle {} KiB, 800 slow readers {} KiB, after they left {} KiB",
        idle / 1024,
        peak / 1024,
        after / 1024
    );
    assert!(
        after.saturating_sub(idle) < 2 * MIB as u64,
        "epoll kept {} KiB after the slow readers left (idle {} KiB, peak {} KiB)",
        after.saturating_sub(idle) / 1024,
        idle / 1024,
        peak / 1024
    );
}

/// Open connections, from `/_status` (the request asking counts itself).
fn open_connections(server: &Server) -> u64 {
    let mut c = server.connect();
    let status = c.get("/_status").text();
    status
        .match_indices("\"open\":")
        .filter_map(|(i, key)| {
            let rest = &status[i + key.len()..];
            let end = rest.find(|ch: char| !ch.is_ascii_digit())?;
            rest[..end].parse::<u64>().ok()
        })
        .sum()
}

/// Every registered model, with its default flags and each flag set its crate lists for the
/// conformance suite (epoll with offload, the pools parked, ...), plus the epoll wave test.
/// Filter as usual: `cargo test --test slow_readers -- epoll`.
fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let mut trials = Vec::new();
    for model in http_lab::models::ALL {
        let info = model.info();
        let unavailable = model.available().is_err();
        let configs = std::iter::once(&[][..]).chain(info.conformance.iter().copied());
        for flags in configs {
            let label = std::iter::once(info.name)
                .chain(flags.iter().copied())
                .collect::<Vec<_>>()
                .join(" ");
            let name = info.name;
            let trial = libtest_mimic::Trial::test(
                format!("{label}::slow_readers_hold_no_files"),
                move || {
                    bounded(name, flags);
                    Ok(())
                },
            );
            trials.push(trial.with_ignored_flag(unavailable));
        }
    }
    trials.push(libtest_mimic::Trial::test(
        "epoll::gives_memory_back_after_a_wave",
        || {
            epoll_gives_memory_back_after_a_wave();
            Ok(())
        },
    ));
    libtest_mimic::run(&args, trials).exit();
}
