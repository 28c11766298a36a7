//! `--park on` (process_pool, hybrid_pool): slow and idle clients do not pin workers, because a
//! front holds every connection until a whole request head has arrived. On the real binary, over
//! real sockets. With `--park off` the pools fail both tests (a worker serves one connection at a
//! time, whatever that connection is doing). The conformance suite runs with parking on as well
//! (tests/conformance.rs), and so do the pools' process tests (tests/process_models.rs).

mod common;

use common::{Client, Server};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// Long header and idle timeouts: without parking, a slow or idle client would pin its worker
/// for the whole test.
const FLAGS: &[&str] = &[
    "--park",
    "on",
    "--header-timeout",
    "30s",
    "--idle-timeout",
    "30s",
    "--drain-timeout",
    "5s",
];

/// Four workers in all: process_pool at most 4 processes, hybrid_pool 2 x 2 threads.
const PROCESS_POOL_4: &[&str] = &[
    "--start-workers",
    "2",
    "--min-spare",
    "1",
    "--max-spare",
    "2",
    "--max-workers",
    "4",
    "--maintenance-interval",
    "100ms",
];
const HYBRID_POOL_4: &[&str] = &["--workers", "2", "--threads-per-worker", "2"];

/// One worker in all.
const PROCESS_POOL_1: &[&str] = &[
    "--start-workers",
    "1",
    "--min-spare",
    "1",
    "--max-spare",
    "1",
    "--max-workers",
    "1",
];
const HYBRID_POOL_1: &[&str] = &["--workers", "1", "--threads-per-worker", "1"];

/// How long a control request may take before it counts as not answered.
const PATIENCE: Duration = Duration::from_secs(3);

fn start(model: &str, sizing: &[&str]) -> Server {
    let args: Vec<&str> = FLAGS.iter().chain(sizing).copied().collect();
    Server::start(model, &args)
}

fn finish(server: Server) {
    let model = server.model.clone();
    let (status, stderr) = server.stop();
    assert!(
        status.success(),
        "{model}: exit {status}; stderr:\n{stderr}"
    );
}

/// `GET path` on a new connection with `Connection: close`, within [`PATIENCE`]: the body if
/// the answer was a 200, `None` otherwise (never panics: the tests count).
fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, PATIENCE).ok()?;
    s.set_read_timeout(Some(PATIENCE)).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes())
        .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let body = text
        .strip_prefix("HTTP/1.1 200 ")?
        .split_once("\r\n\r\n")?
        .1;
    Some(body.to_string())
}

/// The scoreboard's total of parked connections, if `/_status` was answered.
fn parked(addr: SocketAddr) -> Option<u64> {
    let status = get(addr, "/_status")?;
    let totals = &status[status.find("\"totals\"")?..];
    let at = totals.find("\"parked\":")? + "\"parked\":".len();
    totals[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .ok()
}

fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Three times as many clients as workers send part of a head and stop (slowloris); a normal
/// client must still be answered every time, and each slow client once it finishes its head.
fn slow_heads_do_not_starve_the_pool(model: &str, sizing: &[&str]) {
    const SLOW: usize = 12;
    let server = start(model, sizing);
    let mut slow: Vec<TcpStream> = (0..SLOW)
        .map(|_| {
            let mut s = TcpStream::connect_timeout(&server.addr, PATIENCE).expect("connect");
            s.set_read_timeout(Some(common::TIMEOUT)).unwrap();
            s.write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\n").unwrap();
            s
        })
        .collect();
    assert!(
        eventually(Duration::from_secs(5), || parked(server.addr)
            .is_some_and(|n| n >= SLOW as u64)),
        "{model}: the {SLOW} slow clients are not all parked: {:?}",
        parked(server.addr)
    );
    let answered = (0..10)
        .filter(|_| get(server.addr, "/hello").as_deref() == Some("Hello, World!"))
        .count();
    assert_eq!(answered, 10, "{model}: control requests answered");
    for (i, s) in slow.iter_mut().enumerate() {
        s.write_all(b"Connection: close\r\n\r\n").unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(
            text.starts_with("HTTP/1.1 200 ") && text.ends_with("Hello, World!"),
            "{model}: slow client {i}: {text}"
        );
    }
    finish(server);
}

/// With one worker, idle keep-alive clients do not keep it: between requests their connections
/// wait in the front, and their next request is answered from there.
fn idle_keep_alive_clients_do_not_pin_the_worker(model: &str, sizing: &[&str]) {
    let server = start(model, sizing);
    let mut idle: Vec<Client> = (0..3)
        .map(|_| {
            let mut c = server.connect();
            assert_eq!(c.get("/hello").status, 200);
            c
        })
        .collect();
    let answered = (0..5)
        .filter(|_| get(server.addr, "/hello").as_deref() == Some("Hello, World!"))
        .count();
    assert_eq!(
        answered, 5,
        "{model}: requests answered beside 3 idle clients"
    );
    for c in &mut idle {
        let r = c.get("/hello");
        assert_eq!((r.status, r.closes()), (200, false));
    }
    drop(idle);
    finish(server);
}

#[test]
fn process_pool_slow_heads_do_not_starve_the_pool() {
    slow_heads_do_not_starve_the_pool("process_pool", PROCESS_POOL_4);
}

#[test]
fn hybrid_pool_slow_heads_do_not_starve_the_pool() {
    slow_heads_do_not_starve_the_pool("hybrid_pool", HYBRID_POOL_4);
}

#[test]
fn process_pool_idle_keep_alive_clients_do_not_pin_the_worker() {
    idle_keep_alive_clients_do_not_pin_the_worker("process_pool", PROCESS_POOL_1);
}

#[test]
fn hybrid_pool_idle_keep_alive_clients_do_not_pin_the_worker() {
    idle_keep_alive_clients_do_not_pin_the_worker("hybrid_pool", HYBRID_POOL_1);
}

#[test]
fn park_with_reuseport_is_refused_for_process_pool() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["serve", "--model", "process_pool", "--addr", "127.0.0.1:0"])
        .args(["--park", "on", "--accept", "reuseport"])
        .output()
        .expect("run lab");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--park on") && stderr.contains("--accept shared"),
        "{stderr}"
    );
}
