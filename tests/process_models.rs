//! The process models' own behaviour, on the real binary with real processes: reaping, the
//! scoreboard, spare-worker regulation, recycling, resuscitation, graceful reload.
//!
//! Every wait is bounded, no assertion is about elapsed time, and every test ends with
//! `finish`, which SIGTERMs the server and fails if any process of it survives.

mod common;

use common::{descendants, eventually, signal, Server};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Short timeouts, as in the conformance suite.
const FLAGS: &[&str] = &["--idle-timeout", "3s", "--drain-timeout", "5s"];

/// The pools' tests run in each mode, given as the flags that select it (`mode`): the default
/// (one shared listening socket, no front), `--park on` (an event-driven front holds connections
/// until their head has arrived; see tests/park.rs), `--accept handoff` ([`HANDOFF`]) and, for
/// some, `--accept reuseport`.
const PARK_OFF: &[&str] = &[];
const PARK_ON: &[&str] = &["--park", "on"];

fn start(model: &str, extra: &[&str]) -> Server {
    let args: Vec<&str> = FLAGS.iter().chain(extra).copied().collect();
    Server::start(model, &args)
}

fn finish(server: Server) -> String {
    let model = server.model.clone();
    let (status, stderr) = server.stop();
    assert!(
        status.success(),
        "{model}: exit {status}; stderr:\n{stderr}"
    );
    stderr
}

/// One request on a fresh connection with `Connection: close`: the status and body, or why not.
/// Never panics: the tests count failures.
fn request(addr: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(15))).ok();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no response ({} bytes)", raw.len()))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// `GET /` succeeded with the hello body.
fn hello_ok(addr: SocketAddr) -> bool {
    matches!(request(addr, "/"), Ok((200, body)) if body == "Hello, World!")
}

/// The scoreboard's totals field `name` from `/_status`.
fn total(addr: SocketAddr, name: &str) -> u64 {
    let (_, body) = request(addr, "/_status").expect("/_status");
    json_number(&body[body.find("\"totals\"").expect("totals")..], name)
}

/// The first `"name":<number>` in `json`.
fn json_number(json: &str, name: &str) -> u64 {
    let key = format!("\"{name}\":");
    let at = json
        .find(&key)
        .unwrap_or_else(|| panic!("{name} in {json}"))
        + key.len();
    json[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .expect("number")
}

/// Field 3 of /proc/PID/stat: R, S, Z, …
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].chars().next()
}

/// Some thread of `pid` is blocked in `recvmsg` (`/proc/PID/task/*/syscall` names the call a
/// sleeping thread is in).
fn blocked_in_recvmsg(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        std::fs::read_to_string(task.path().join("syscall")).is_ok_and(|line| {
            line.split_whitespace().next() == Some(&libc::SYS_recvmsg.to_string())
        })
    })
}

/// Live (not zombie) worker processes of the server.
fn workers(server: &Server) -> Vec<u32> {
    descendants(server.pid())
        .into_iter()
        .filter(|&p| proc_state(p).is_some_and(|s| s != 'Z'))
        .collect()
}

fn zombies(server: &Server) -> usize {
    descendants(server.pid())
        .into_iter()
        .filter(|&p| proc_state(p) == Some('Z'))
        .count()
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// How a load's clients use connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conns {
    /// A fresh connection per request, with `Connection: close`.
    Fresh,
    /// One connection kept alive for request after request, as wrk and browsers use one; a new
    /// one only after the server said `Connection: close` or the connection failed.
    KeepAlive,
}

/// `clients` threads each fetching `/` until `stop`; returns (ok, failed). With keep-alive, a
/// request sent on a connection the server has closed counts as failed (wrk counts it so too):
/// each connection the server drops costs exactly one failed request.
fn steady_load(
    addr: SocketAddr,
    clients: usize,
    conns: Conns,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<(usize, usize)> {
    thread::spawn(move || {
        let ok = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..clients)
            .map(|_| {
                let (ok, failed, stop) = (ok.clone(), failed.clone(), stop.clone());
                thread::spawn(move || {
                    let mut kept: Option<KeptAlive> = None;
                    while !stop.load(Ordering::Relaxed) {
                        let hello = match conns {
                            Conns::Fresh => hello_ok(addr),
                            Conns::KeepAlive => keepalive_hello(&mut kept, addr),
                        };
                        if hello {
                            ok.fetch_add(1, Ordering::Relaxed);
                        } else {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        // A steady load, not a flood: a few thousand requests a second.
                        thread::sleep(Duration::from_millis(match conns {
                            Conns::Fresh => 5,
                            Conns::KeepAlive => 1,
                        }));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("client");
        }
        (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed))
    })
}

/// A keep-alive client's connection, and what it has read past the last response.
struct KeptAlive {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// `GET /` on the kept-alive connection (opened first if there is none): true if the hello came
/// back. The connection is dropped when the answer says `Connection: close`, or on failure.
fn keepalive_hello(kept: &mut Option<KeptAlive>, addr: SocketAddr) -> bool {
    match keepalive_get(kept, addr, "/") {
        Ok((status, body, closes)) => {
            if closes {
                *kept = None;
            }
            status == 200 && body == "Hello, World!"
        }
        Err(_) => {
            *kept = None;
            false
        }
    }
}

/// One request on the kept-alive connection: (status, body, the server said it closes).
fn keepalive_get(
    kept: &mut Option<KeptAlive>,
    addr: SocketAddr,
    path: &str,
) -> Result<(u16, String, bool), String> {
    if kept.is_none() {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(Duration::from_secs(15))).ok();
        stream.set_nodelay(true).ok();
        *kept = Some(KeptAlive {
            stream,
            buf: Vec::new(),
        });
    }
    let c = kept.as_mut().expect("connected");
    c.stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let fill = |c: &mut KeptAlive| -> Result<(), String> {
        let mut chunk = [0u8; 4096];
        match c.stream.read(&mut chunk) {
            Ok(0) => Err("closed before a response".into()),
            Ok(n) => {
                c.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    };
    let head_len = loop {
        if let Some(i) = c.buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        fill(c)?;
    };
    let head = String::from_utf8_lossy(&c.buf[..head_len]).to_ascii_lowercase();
    let status = head
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .ok_or("no status line")?;
    let body_len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or("no content-length")?;
    while c.buf.len() < head_len + body_len {
        fill(c)?;
    }
    let body = String::from_utf8_lossy(&c.buf[head_len..head_len + body_len]).into_owned();
    c.buf.drain(..head_len + body_len);
    Ok((status, body, head.contains("\r\nconnection: close\r\n")))
}

#[test]
fn fork_per_request_reaps_every_child_and_the_parent_does_not_grow() {
    let server = start("fork_per_request", &[]);
    let parent = server.pid();
    for _ in 0..100 {
        assert!(hello_ok(server.addr));
    }
    let before = rss_kib(parent);
    for i in 0..900 {
        assert!(hello_ok(server.addr), "connection {i}");
    }
    // Each child exits right after its connection closes; the SIGCHLD handler makes the parent
    // reap it at once. Allow the last one a moment to exit and be reaped.
    assert!(
        eventually(Duration::from_secs(2), || zombies(&server) == 0
            && workers(&server).is_empty()),
        "zombies: {}, children: {:?}",
        zombies(&server),
        workers(&server)
    );
    let after = rss_kib(parent);
    // 900 more connections: a leak of even 300 bytes per connection would show.
    assert!(
        after <= before + 256,
        "the parent grew from {before} KiB to {after} KiB over 900 connections"
    );
    let (_, status) = request(server.addr, "/_status").expect("status");
    assert!(json_number(&status, "forked") >= 1000, "{status}");
    finish(server);
}

#[test]
fn process_pool_replaces_a_killed_worker_within_two_ticks() {
    replaces_a_killed_worker_within_two_ticks(PARK_OFF);
}

fn replaces_a_killed_worker_within_two_ticks(mode: &[&str]) {
    let flags = [
        "--start-workers",
        "3",
        "--min-spare",
        "1",
        "--max-spare",
        "5",
        "--maintenance-interval",
        "500ms",
    ];
    let server = start("process_pool", &[&flags[..], mode].concat());
    assert!(eventually(Duration::from_secs(5), || workers(&server)
        .len()
        == 3));
    let victim = workers(&server)[0];
    signal(victim, libc::SIGKILL);
    // Two ticks (1 s), plus a little for the fork itself.
    let replaced = eventually(Duration::from_millis(1300), || {
        let now = workers(&server);
        now.len() == 3 && !now.contains(&victim)
    });
    assert!(replaced, "workers now: {:?}", workers(&server));
    assert!(hello_ok(server.addr));
    assert_eq!(total(server.addr, "replaced"), 1);
    let stderr = finish(server);
    assert!(
        stderr.contains("signal 9 (SIGKILL); replacing it"),
        "{stderr}"
    );
}

/// What kills a serving process in [`faults_under_load`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// `GET /crash?abort` on a fresh connection: the process that serves it aborts.
    Abort,
    /// `kill -9` of the worker serving the most connections.
    Kill,
}

/// Runs `clients` keep-alive clients on `/` while `n` faults, 300 ms apart, kill serving
/// processes. Returns (ok, failed) for `/`. A keep-alive client fails exactly one request per
/// connection it loses (then it reconnects), so `failed` counts the clients' connections the
/// faults took down; the aborting requests' own connections are not among them.
fn faults_under_load(server: &Server, clients: usize, fault: Fault, n: usize) -> (usize, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let load = steady_load(server.addr, clients, Conns::KeepAlive, stop.clone());
    thread::sleep(Duration::from_millis(300));
    for _ in 0..n {
        match fault {
            Fault::Abort => {
                // The aborting process answers nothing: a reset or an empty read.
                let r = request(server.addr, "/crash?abort");
                assert!(!matches!(r, Ok((200, _))), "abort answered: {r:?}");
            }
            Fault::Kill => signal(busiest_worker(server.addr), libc::SIGKILL),
        }
        // Long enough for the replacement to start and the lost clients to reconnect.
        thread::sleep(Duration::from_millis(300));
    }
    stop.store(true, Ordering::Relaxed);
    load.join().expect("load")
}

/// The live workers in `/_status`: (pid, generation, busy), and the pid of the one that answered.
fn live_workers(addr: SocketAddr) -> (Vec<(u64, u64, u64)>, u64) {
    let (_, body) = request(addr, "/_status").expect("/_status");
    let answering = json_number(&body, "pid");
    let live = body
        .split("{\"slot\":")
        .skip(1)
        .filter(|w| !w.contains("\"state\":\"dead\"") && !w.contains("\"state\":\"exiting\""))
        .map(|w| {
            (
                json_number(w, "pid"),
                json_number(w, "generation"),
                json_number(w, "busy"),
            )
        })
        .collect();
    (live, answering)
}

/// The pid of the live worker serving the most connections, not counting the `/_status`
/// request that asks.
fn busiest_worker(addr: SocketAddr) -> u32 {
    let (live, answering) = live_workers(addr);
    live.into_iter()
        .map(|(pid, _, busy)| (busy - u64::from(pid == answering), pid))
        .max()
        .map(|(_, pid)| pid as u32)
        .expect("a live worker")
}

/// Live workers of generation `g`.
fn generation_size(addr: SocketAddr, g: u64) -> usize {
    live_workers(addr).0.iter().filter(|w| w.1 == g).count()
}

/// process_pool with 8 workers to start, for 6 keep-alive clients and a spare or two; `mode`:
/// the `--park`/`--accept` flags.
fn process_pool_for_faults(mode: &[&str]) -> Server {
    let flags = [
        "--start-workers",
        "8",
        "--min-spare",
        "4",
        "--max-spare",
        "16",
        "--maintenance-interval",
        "200ms",
    ];
    start("process_pool", &[&flags[..], mode].concat())
}

/// hybrid_pool of 2 processes x `threads` threads.
fn hybrid_pool_for_faults(threads: usize, mode: &[&str]) -> Server {
    let threads = threads.to_string();
    let flags = [
        "--workers",
        "2",
        "--threads-per-worker",
        &threads,
        "--maintenance-interval",
        "200ms",
    ];
    start("hybrid_pool", &[&flags[..], mode].concat())
}

#[test]
fn process_pool_abort_costs_only_the_aborting_connection() {
    abort_costs_only_the_aborting_connection(PARK_OFF);
}

fn abort_costs_only_the_aborting_connection(mode: &[&str]) {
    let server = process_pool_for_faults(mode);
    let (ok, failed) = faults_under_load(&server, 6, Fault::Abort, 5);
    // A prefork worker holds one connection: the one that asked it to abort. No keep-alive
    // client was on a dying worker, and none may lose its connection.
    assert!(ok > 100, "only {ok} requests succeeded");
    assert_eq!(failed, 0, "5 aborts cost {failed} other connections");
    assert!(
        eventually(Duration::from_secs(5), || total(server.addr, "replaced")
            == 5),
        "replaced: {}",
        total(server.addr, "replaced")
    );
    assert!(eventually(Duration::from_secs(5), || workers(&server)
        .len()
        >= 8));
    let stderr = finish(server);
    assert_eq!(
        stderr.matches("signal 6 (SIGABRT); replacing it").count(),
        5,
        "{stderr}"
    );
}

#[test]
fn process_pool_kill_9_costs_one_connection() {
    let server = process_pool_for_faults(PARK_OFF);
    let (ok, failed) = faults_under_load(&server, 6, Fault::Kill, 5);
    // Each kill takes the one connection its worker was serving.
    assert!(ok > 100, "only {ok} requests succeeded");
    assert!(
        (1..=5).contains(&failed),
        "5 kills of busy workers cost {failed} connections (at most one each)"
    );
    assert!(
        eventually(Duration::from_secs(5), || total(server.addr, "replaced")
            == 5),
        "replaced: {}",
        total(server.addr, "replaced")
    );
    finish(server);
}

/// 6 keep-alive clients on 2 processes of 4 threads: once settled, each process serves 2 to 4
/// of them. A fault takes down a whole process, with every connection its threads held.
#[test]
fn hybrid_pool_abort_costs_its_process_connections() {
    let threads = 4;
    let server = hybrid_pool_for_faults(threads, PARK_OFF);
    let (ok, failed) = faults_under_load(&server, 6, Fault::Abort, 5);
    // The aborting request holds one of the process's threads: the others' connections go
    // with it, so 1 to threads - 1 other connections per abort (process_pool: none).
    assert!(ok > 100, "only {ok} requests succeeded");
    assert!(
        (5..=5 * (threads - 1)).contains(&failed),
        "5 aborts cost {failed} other connections; expected 1 to {} each",
        threads - 1
    );
    assert!(eventually(Duration::from_secs(5), || workers(&server)
        .len()
        == 2));
    assert!(hello_ok(server.addr));
    assert_eq!(total(server.addr, "replaced"), 5);
    finish(server);
}

#[test]
fn hybrid_pool_kill_9_costs_its_process_connections() {
    let threads = 4;
    let server = hybrid_pool_for_faults(threads, PARK_OFF);
    let (ok, failed) = faults_under_load(&server, 6, Fault::Kill, 5);
    // The busiest process serves at least half of the 6 clients and at most `threads`
    // (process_pool: one connection per kill).
    assert!(ok > 100, "only {ok} requests succeeded");
    assert!(
        (5..=5 * threads).contains(&failed),
        "5 kills cost {failed} connections; expected 1 to {threads} each"
    );
    assert!(eventually(Duration::from_secs(5), || workers(&server)
        .len()
        == 2));
    assert_eq!(total(server.addr, "replaced"), 5);
    finish(server);
}

#[test]
fn process_pool_grows_under_load_and_shrinks_after() {
    grows_under_load_and_shrinks_after(PARK_OFF);
}

fn grows_under_load_and_shrinks_after(mode: &[&str]) {
    let flags = [
        "--start-workers",
        "2",
        "--min-spare",
        "2",
        "--max-spare",
        "4",
        "--max-workers",
        "64",
        "--maintenance-interval",
        "100ms",
    ];
    let server = start("process_pool", &[&flags[..], mode].concat());
    assert!(eventually(Duration::from_secs(5), || workers(&server)
        .len()
        == 2));
    let addr = server.addr;
    let clients: Vec<_> = (0..64)
        .map(|_| {
            thread::spawn(move || {
                let until = Instant::now() + Duration::from_millis(2500);
                let mut failed = 0;
                while Instant::now() < until {
                    if !matches!(request(addr, "/sleep/200"), Ok((200, _))) {
                        failed += 1;
                    }
                }
                failed
            })
        })
        .collect();
    let mut peak = 0;
    while !clients.iter().all(|c| c.is_finished()) {
        peak = peak.max(workers(&server).len());
        thread::sleep(Duration::from_millis(50));
    }
    let failed: usize = clients.into_iter().map(|c| c.join().expect("client")).sum();
    assert_eq!(failed, 0);
    assert!(
        peak > 16,
        "the pool grew only to {peak} workers under 64 clients"
    );
    // Idle now: one worker retired per tick until at most --max-spare are idle.
    assert!(
        eventually(Duration::from_secs(15), || workers(&server).len() <= 4),
        "still {} workers",
        workers(&server).len()
    );
    assert!(total(server.addr, "retired") >= (peak - 4) as u64);
    finish(server);
}

#[test]
fn process_pool_recycles_workers_without_failing_a_request() {
    recycles_workers_without_failing_a_request(PARK_OFF);
}

fn recycles_workers_without_failing_a_request(mode: &[&str]) {
    let flags = [
        "--start-workers",
        "3",
        "--min-spare",
        "1",
        "--max-spare",
        "5",
        "--max-requests-per-worker",
        "10",
    ];
    let server = start("process_pool", &[&flags[..], mode].concat());
    let mut pids = std::collections::HashSet::new();
    for i in 0..100 {
        let (status, body) =
            request(server.addr, "/_status").unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(status, 200, "request {i}");
        pids.insert(json_number(&body, "pid"));
    }
    // 100 connections, 10 per worker: at least 10 different workers answered.
    assert!(
        pids.len() >= 10,
        "only {} workers served 100 connections",
        pids.len()
    );
    finish(server);
}

/// Waits for `workers_at_start` workers, runs a steady load from `fresh` clients that open a
/// connection per request and `kept` clients that keep theirs alive (as wrk does), sends three
/// SIGHUPs during it, and checks that no request failed, the generation moved to 4, and every
/// worker of the first generation is gone (and, for a fixed-size pool, that the last one has
/// `fixed` workers).
///
/// The keep-alive clients are the hard case: an old worker must not close a kept-alive
/// connection under a client that is sending its next request (it waits for that request and
/// answers it with `Connection: close`), and the new generation must be large enough to take
/// every client that reconnects.
fn reload_under_load_fails_no_request(
    server: Server,
    workers_at_start: usize,
    (fresh, kept): (usize, usize),
    fixed: Option<usize>,
) {
    assert!(eventually(Duration::from_secs(5), || workers(&server)
        .len()
        == workers_at_start));
    let first = workers(&server);
    let stop = Arc::new(AtomicBool::new(false));
    let fresh_load = steady_load(server.addr, fresh, Conns::Fresh, stop.clone());
    let kept_load = steady_load(server.addr, kept, Conns::KeepAlive, stop.clone());
    thread::sleep(Duration::from_millis(500));
    for generation in 2..=4 {
        signal(server.pid(), libc::SIGHUP);
        // The parent takes SIGHUP as a flag: a second one before it has reloaded for the
        // first would be one reload. The next goes once this one is logged.
        let logged = format!("SIGHUP: generation {generation} started");
        assert!(
            eventually(common::TIMEOUT, || server.stderr_so_far().contains(&logged)),
            "{}: no reload to generation {generation}",
            server.model
        );
        // A moment of load on the new generation, while the old one finishes.
        thread::sleep(Duration::from_millis(500));
    }
    thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for (conns, clients, load) in [
        (Conns::Fresh, fresh, fresh_load),
        (Conns::KeepAlive, kept, kept_load),
    ] {
        let (ok, failed) = load.join().expect("load");
        assert!(clients == 0 || ok > 50, "{conns:?}: only {ok} requests");
        assert_eq!(
            failed, 0,
            "{conns:?}: {failed} requests failed across 3 reloads ({ok} succeeded)"
        );
    }
    let (_, status) = request(server.addr, "/_status").expect("status");
    assert_eq!(json_number(&status, "generation"), 4, "{status}");
    assert!(
        eventually(Duration::from_secs(5), || {
            let now = workers(&server);
            fixed.is_none_or(|n| now.len() == n) && now.iter().all(|p| !first.contains(p))
        }),
        "the old generation is still alive (or the new one has not {fixed:?} workers)"
    );
    finish(server);
}

/// [`reload_under_load_fails_no_request`] on a process_pool of `workers` workers to start (and
/// up to 4 idle spares more), under `mode` (the `--park`/`--accept` flags), with `clients`
/// (fresh, kept-alive).
fn process_pool_sighup_reload(mode: &[&str], workers: usize, clients: (usize, usize)) {
    let (start_workers, max_spare) = (workers.to_string(), (workers + 4).to_string());
    let flags = [
        "--start-workers",
        &start_workers,
        "--min-spare",
        "2",
        "--max-spare",
        &max_spare,
        "--maintenance-interval",
        "200ms",
    ];
    let server = start("process_pool", &[&flags[..], mode].concat());
    reload_under_load_fails_no_request(server, workers, clients, None);
}

/// [`reload_under_load_fails_no_request`] on a hybrid_pool of 2 processes x 4 threads, under
/// `mode`: the same supervisor as process_pool, with workers of several threads; the old
/// generation's threads must finish what they hold while the new generation takes the new
/// connections.
fn hybrid_pool_sighup_reload(mode: &[&str]) {
    let flags = [
        "--workers",
        "2",
        "--threads-per-worker",
        "4",
        "--maintenance-interval",
        "200ms",
    ];
    let server = start("hybrid_pool", &[&flags[..], mode].concat());
    reload_under_load_fails_no_request(server, 2, (3, 3), Some(2));
}

#[test]
fn process_pool_sighup_reload_fails_no_request() {
    process_pool_sighup_reload(PARK_OFF, 8, (4, 4));
}

#[test]
fn process_pool_reuseport_sighup_reload_fails_no_request() {
    // Each slot has its own socket: the new generation must take over the old one's sockets,
    // or the connections the kernel queued on them are reset when they close. Keep-alive
    // clients are left out: with SO_REUSEPORT a connection hashed to the socket of a worker
    // pinned by another keep-alive client waits for that worker (see process_pool's `//!`).
    process_pool_sighup_reload(&["--accept", "reuseport"], 8, (8, 0));
}

#[test]
fn hybrid_pool_sighup_reload_fails_no_request() {
    hybrid_pool_sighup_reload(PARK_OFF);
}

/// A keep-alive connection idle when `sig` lands: its worker waits for the next request and
/// answers it with `Connection: close`, instead of closing the connection under a client that
/// may be sending that request.
fn idle_keep_alive_connection_gets_its_next_request_answered(server: Server, sig: i32) {
    let mut kept = None;
    assert!(keepalive_hello(&mut kept, server.addr));
    signal(server.pid(), sig);
    // The next request goes once the parent has passed the signal on to the worker (SIGTERM
    // to it), so that the worker knows it is to leave when the request comes (a fixed pause
    // raced a slow parent), and at once, well within the 1 s the worker grants an idle
    // connection from when it notices. SIGHUP: the parent logs the reload after SIGTERMing
    // the old generation. SIGTERM: the parent SIGTERMs every worker, then reaps them,
    // sleeping 10 ms between looks (`Children::stop`); it sleeps 10 ms nowhere else.
    let told = eventually(common::TIMEOUT, || match sig {
        libc::SIGHUP => server
            .stderr_so_far()
            .contains("SIGHUP: generation 2 started"),
        _ => common::sleeping(server.pid(), 10),
    });
    assert!(
        told,
        "{}: the workers were never told to leave",
        server.model
    );
    let answer = keepalive_get(&mut kept, server.addr, "/");
    assert!(
        matches!(&answer, Ok((200, body, true)) if body == "Hello, World!"),
        "{}: the request after {sig}: {answer:?} (want 200 with Connection: close)",
        server.model
    );
    finish(server);
}

#[test]
fn process_pool_sighup_answers_an_idle_keep_alive_connection() {
    let server = start("process_pool", &["--start-workers", "2"]);
    idle_keep_alive_connection_gets_its_next_request_answered(server, libc::SIGHUP);
}

#[test]
fn process_pool_sigterm_answers_an_idle_keep_alive_connection() {
    let server = start("process_pool", &["--start-workers", "2"]);
    idle_keep_alive_connection_gets_its_next_request_answered(server, libc::SIGTERM);
}

#[test]
fn hybrid_pool_sighup_answers_an_idle_keep_alive_connection() {
    let server = start(
        "hybrid_pool",
        &["--workers", "2", "--threads-per-worker", "2"],
    );
    idle_keep_alive_connection_gets_its_next_request_answered(server, libc::SIGHUP);
}

#[test]
fn process_pool_reload_forks_as_many_workers_as_the_old_generation_had() {
    let server = start(
        "process_pool",
        &[
            "--start-workers",
            "2",
            "--min-spare",
            "1",
            "--max-spare",
            "20",
            "--maintenance-interval",
            "200ms",
        ],
    );
    // Six keep-alive clients pin six workers (each waits in the backlog until the spare
    // regulation has forked one for it), plus at least one idle spare. A wide spare band: the
    // regulation neither retires the new generation's idle workers nor grows it.
    let mut clients: Vec<Option<KeptAlive>> = (0..6).map(|_| None).collect();
    for kept in &mut clients {
        assert!(keepalive_hello(kept, server.addr));
    }
    assert!(eventually(Duration::from_secs(5), || generation_size(
        server.addr,
        1
    ) >= 7));
    let old = generation_size(server.addr, 1);
    signal(server.pid(), libc::SIGHUP);
    assert!(eventually(Duration::from_secs(5), || {
        let (_, status) = request(server.addr, "/_status").expect("status");
        json_number(&status, "generation") == 2
    }));
    // Starting only --start-workers (2) would leave the six clients, reconnecting after their
    // old workers' goodbye, waiting in the backlog for the regulation's 1, 2, 4, … per tick.
    // (The generation is published before the parent has forked the whole new one: wait.)
    assert!(
        eventually(Duration::from_secs(3), || generation_size(server.addr, 2)
            >= old),
        "the old generation had {old} workers, the new one started with {}",
        generation_size(server.addr, 2)
    );
    drop(clients);
    finish(server);
}

#[test]
fn reuseport_spreads_connections_over_workers() {
    let server = start(
        "process_pool",
        &[
            "--accept",
            "reuseport",
            "--start-workers",
            "4",
            "--min-spare",
            "1",
            "--max-spare",
            "8",
        ],
    );
    assert!(eventually(Duration::from_secs(5), || workers(&server)
        .len()
        == 4));
    for _ in 0..200 {
        assert!(hello_ok(server.addr));
    }
    let (_, status) = request(server.addr, "/_status").expect("status");
    let serving = status
        .split("\"connections\":")
        .skip(1)
        .filter(|rest| !rest.starts_with('0'))
        .count();
    assert!(
        serving >= 3,
        "the kernel should spread 200 connections over 4 sockets: {status}"
    );
    finish(server);
}

#[test]
fn bad_pool_flags_get_one_line_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["--max-children", "0"], "--max-children"),
        (&["--start-workers", "0"], "--start-workers"),
        (&["--start-workers", "300"], "--start-workers"),
        (&["--min-spare", "0"], "--min-spare"),
        (&["--min-spare", "8", "--max-spare", "4"], "--max-spare"),
        (&["--max-workers", "0"], "--max-workers"),
        (&["--maintenance-interval", "1ms"], "--maintenance-interval"),
        (
            &["--maintenance-interval", "soon"],
            "--maintenance-interval",
        ),
        (
            &["--max-requests-per-worker", "-1"],
            "--max-requests-per-worker",
        ),
        (&["--accept", "sometimes"], "--accept"),
        (&["--workers", "0"], "--workers"),
        (&["--threads-per-worker", "0"], "--threads-per-worker"),
    ];
    for (args, flag) in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_lab"))
            .args(["serve", "--model", "process_pool", "--addr", "127.0.0.1:0"])
            .args(*args)
            .output()
            .expect("run lab");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
}

// The same supervisor behaviour with `--park on`: the front (process_pool: in the parent;
// hybrid_pool: in each worker process) must not get in the way of respawn, regulation,
// recycling, reload or shutdown.

#[test]
fn process_pool_park_replaces_a_killed_worker_within_two_ticks() {
    replaces_a_killed_worker_within_two_ticks(PARK_ON);
}

#[test]
fn process_pool_park_abort_costs_only_the_aborting_connection() {
    // Parked connections live in the parent's front: a worker's abort still costs only the
    // connection it was serving.
    abort_costs_only_the_aborting_connection(PARK_ON);
}

#[test]
fn process_pool_park_grows_under_load_and_shrinks_after() {
    grows_under_load_and_shrinks_after(PARK_ON);
}

#[test]
fn process_pool_park_recycles_workers_without_failing_a_request() {
    recycles_workers_without_failing_a_request(PARK_ON);
}

#[test]
fn hybrid_pool_park_abort_costs_its_process_connections() {
    // With parking, the aborted process also loses the idle keep-alive connections its front
    // held: up to every client on that process (6 here), not only its busy threads'.
    let server = hybrid_pool_for_faults(4, PARK_ON);
    let (ok, failed) = faults_under_load(&server, 6, Fault::Abort, 5);
    assert!(ok > 100, "only {ok} requests succeeded");
    assert!(
        (1..=5 * 6).contains(&failed),
        "5 aborts cost {failed} other connections; expected 1 to 6 each"
    );
    finish(server);
}

#[test]
fn process_pool_park_sighup_reload_fails_no_request() {
    process_pool_sighup_reload(PARK_ON, 4, (4, 4));
}

#[test]
fn hybrid_pool_park_sighup_reload_fails_no_request() {
    hybrid_pool_sighup_reload(PARK_ON);
}

// `--accept handoff`: the parent accepts and deals each connection to a worker that asked for
// one, over the worker's own Unix socket. Respawn, recycling and reload must work as with a
// shared socket, and a connection dealt to a worker that dies before taking it is dealt again.

const HANDOFF: &[&str] = &["--accept", "handoff"];

#[test]
fn process_pool_handoff_replaces_a_killed_worker_within_two_ticks() {
    replaces_a_killed_worker_within_two_ticks(HANDOFF);
}

#[test]
fn process_pool_handoff_abort_costs_only_the_aborting_connection() {
    abort_costs_only_the_aborting_connection(HANDOFF);
}

#[test]
fn process_pool_handoff_recycles_workers_without_failing_a_request() {
    recycles_workers_without_failing_a_request(HANDOFF);
}

#[test]
fn process_pool_handoff_sighup_reload_fails_no_request() {
    process_pool_sighup_reload(HANDOFF, 4, (4, 4));
}

#[test]
fn hybrid_pool_handoff_sighup_reload_fails_no_request() {
    hybrid_pool_sighup_reload(HANDOFF);
}

/// Connections per worker from `/_status` (live workers, in slot order).
fn connections_per_worker(addr: SocketAddr) -> Vec<u64> {
    let (_, status) = request(addr, "/_status").expect("status");
    status
        .split("\"connections\":")
        .skip(1)
        .map(|rest| json_number(&format!("\"connections\":{rest}"), "connections"))
        .collect::<Vec<_>>()
        .split_last()
        .map(|(_totals, workers)| workers.to_vec())
        .unwrap_or_default()
}

#[test]
fn handoff_deals_connections_round_robin() {
    let flags = [
        "--start-workers",
        "4",
        "--min-spare",
        "1",
        "--max-spare",
        "8",
    ];
    let server = start("process_pool", &[&flags[..], HANDOFF].concat());
    assert!(eventually(Duration::from_secs(5), || workers(&server)
        .len()
        == 4));
    // Every worker has asked again (it waits in recvmsg) before the next connection arrives,
    // so the parent deals them in turn. Only one client, one connection at a time, was not
    // enough: the worker next in turn, descheduled before it asked again, was skipped.
    let all_asked = || {
        let deadline = Instant::now() + common::TIMEOUT;
        while !workers(&server).into_iter().all(blocked_in_recvmsg) {
            assert!(Instant::now() < deadline, "the workers never all asked");
            thread::sleep(Duration::from_millis(1));
        }
    };
    for _ in 0..200 {
        all_asked();
        assert!(hello_ok(server.addr));
    }
    all_asked();
    let per_worker = connections_per_worker(server.addr);
    // The /_status request is one more.
    assert_eq!(per_worker.len(), 4, "{per_worker:?}");
    assert!(
        per_worker.iter().all(|&n| (50..=51).contains(&n)),
        "not round-robin: {per_worker:?}"
    );
    finish(server);
}

#[test]
fn handoff_deals_again_what_a_dead_worker_never_took() {
    let flags = [
        "--start-workers",
        "2",
        "--min-spare",
        "1",
        "--max-spare",
        "4",
    ];
    let server = start("process_pool", &[&flags[..], HANDOFF].concat());
    assert!(eventually(Duration::from_secs(5), || workers(&server)
        .len()
        == 2));
    // Both workers have asked for a connection. Stop one: the next connections are dealt in
    // turn, so one of them goes to the stopped worker, which never takes it.
    assert!(hello_ok(server.addr));
    let victim = workers(&server)[0];
    // The victim must have asked before it is stopped, or nothing is ever dealt to it: a worker
    // blocked in `recvmsg` on its channel has asked (it asks, then receives), and stays asked
    // until a connection arrives. Stopping it as it came back from serving could miss the ask.
    assert!(
        eventually(Duration::from_secs(5), || blocked_in_recvmsg(victim)),
        "worker {victim} never waited on its channel"
    );
    signal(victim, libc::SIGSTOP);
    // Stopped for sure (state T) before any connection is dealt: a worker woken by the signal
    // but not yet stopped could still take one, and lose it when killed.
    assert!(eventually(Duration::from_secs(5), || proc_state(victim) == Some('T')));
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let addr = server.addr;
            thread::spawn(move || request(addr, "/"))
        })
        .collect();
    // Killed once a connection waits in its channel, not after a fixed 500 ms (a slow start
    // of the clients left nothing dealt to it yet): the parent deals in turn, and the victim
    // has a credit, so the other worker cannot serve two connections before the victim has
    // been dealt one. Two clients answered means one connection waits for the victim.
    assert!(
        eventually(common::TIMEOUT, || clients
            .iter()
            .filter(|c| c.is_finished())
            .count()
            >= 2),
        "the other worker did not serve two of the clients"
    );
    signal(victim, libc::SIGKILL);
    for client in clients {
        let answer = client.join().expect("client");
        assert!(
            matches!(answer, Ok((200, _))),
            "a connection was lost: {answer:?}"
        );
    }
    let stderr = finish(server);
    assert!(
        stderr.contains("connections passed to it and not taken; passing them to other workers"),
        "{stderr}"
    );
}
