//! The process models' own behaviour, on the real binary with real processes: reaping, the
//! scoreboard, spare-worker regulation, recycling, resuscitation, graceful reload.
//!
//! Every wait is bounded, no assertion is about elapsed time, and every test ends with
//! `finish`, which SIGTERMs the server and fails if any process of it survives.

mod common;

use common::{descendants, signal, Server};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Short timeouts, as in the conformance suite.
const FLAGS: &[&str] = &["--idle-timeout", "3s", "--drain-timeout", "5s"];

/// The pools' tests run with and without `--park on` (an event-driven front holds connections
/// until their head has arrived; see tests/park.rs).
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

/// Polls `check` every 20 ms for up to `limit`; true as soon as it holds.
fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Field 3 of /proc/PID/stat: R, S, Z, …
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].chars().next()
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

/// `clients` threads each fetching `/` on fresh connections until `stop`; returns (ok, failed).
fn steady_load(
    addr: SocketAddr,
    clients: usize,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<(usize, usize)> {
    thread::spawn(move || {
        let ok = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..clients)
            .map(|_| {
                let (ok, failed, stop) = (ok.clone(), failed.clone(), stop.clone());
                thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if hello_ok(addr) {
                            ok.fetch_add(1, Ordering::Relaxed);
                        } else {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        // A steady load, not a flood: a few thousand connections a second.
                        thread::sleep(Duration::from_millis(5));
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

fn replaces_a_killed_worker_within_two_ticks(park: &[&str]) {
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
    let server = start("process_pool", &[&flags[..], park].concat());
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

/// Runs 50 clients on `/` while 10 `/crash?abort` requests kill serving processes.
/// Returns (ok, failed) for `/`.
fn crash_under_load(server: &Server) -> (usize, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let load = steady_load(server.addr, 50, stop.clone());
    thread::sleep(Duration::from_millis(200));
    for _ in 0..10 {
        // The aborting process answers nothing: a reset or an empty read.
        let r = request(server.addr, "/crash?abort");
        assert!(!matches!(r, Ok((200, _))), "abort answered: {r:?}");
        thread::sleep(Duration::from_millis(50));
    }
    thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    load.join().expect("load")
}

#[test]
fn process_pool_survives_aborts_under_load() {
    survives_aborts_under_load(PARK_OFF);
}

fn survives_aborts_under_load(park: &[&str]) {
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
    let server = start("process_pool", &[&flags[..], park].concat());
    let (ok, failed) = crash_under_load(&server);
    // A prefork worker holds one connection: the one that asked it to abort. So no `/` request
    // was in flight on a dying worker, and none may fail.
    assert!(ok > 100, "only {ok} requests succeeded");
    assert_eq!(failed, 0, "{failed} `/` requests failed ({ok} succeeded)");
    assert!(
        eventually(Duration::from_secs(5), || total(server.addr, "replaced")
            == 10),
        "replaced: {}",
        total(server.addr, "replaced")
    );
    assert!(eventually(Duration::from_secs(5), || workers(&server)
        .len()
        >= 8));
    let stderr = finish(server);
    assert_eq!(
        stderr.matches("signal 6 (SIGABRT); replacing it").count(),
        10,
        "{stderr}"
    );
}

#[test]
fn hybrid_pool_loses_only_the_aborted_process_requests() {
    loses_only_the_aborted_process_requests(PARK_OFF);
}

fn loses_only_the_aborted_process_requests(park: &[&str]) {
    let threads = 4;
    let flags = [
        "--workers",
        "2",
        "--threads-per-worker",
        "4",
        "--maintenance-interval",
        "200ms",
    ];
    let server = start("hybrid_pool", &[&flags[..], park].concat());
    let (ok, failed) = crash_under_load(&server);
    // An abort takes its process down with the other connections its threads were serving:
    // at most threads - 1 per abort. With parking, also every connection its front held: at
    // most the share of the 50 clients' connections that its process accepted (half, with 2).
    let per_abort = if park.is_empty() { threads - 1 } else { 50 / 2 };
    assert!(ok > 100, "only {ok} requests succeeded");
    eprintln!(
        "hybrid_pool {park:?}: {failed} of {} `/` requests failed across 10 aborts",
        ok + failed
    );
    assert!(
        failed <= 10 * per_abort,
        "{failed} `/` requests failed; at most {} could have been in flight on dying processes",
        10 * per_abort
    );
    assert!(eventually(Duration::from_secs(5), || workers(&server)
        .len()
        == 2));
    assert!(hello_ok(server.addr));
    assert_eq!(total(server.addr, "replaced"), 10);
    finish(server);
}

#[test]
fn process_pool_grows_under_load_and_shrinks_after() {
    grows_under_load_and_shrinks_after(PARK_OFF);
}

fn grows_under_load_and_shrinks_after(park: &[&str]) {
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
    let server = start("process_pool", &[&flags[..], park].concat());
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

fn recycles_workers_without_failing_a_request(park: &[&str]) {
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
    let server = start("process_pool", &[&flags[..], park].concat());
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

/// Waits for `workers` workers, runs a steady load from `clients` clients, sends SIGHUP in the
/// middle, and checks that no request failed, the generation moved to 2, and every worker of the
/// first generation is gone (and, for a fixed-size pool, that the new one has `fixed` workers).
fn reload_under_load_fails_no_request(
    server: Server,
    workers_at_start: usize,
    clients: usize,
    fixed: Option<usize>,
) {
    assert!(eventually(Duration::from_secs(5), || workers(&server)
        .len()
        == workers_at_start));
    let first = workers(&server);
    let stop = Arc::new(AtomicBool::new(false));
    let load = steady_load(server.addr, clients, stop.clone());
    thread::sleep(Duration::from_millis(500));
    signal(server.pid(), libc::SIGHUP);
    thread::sleep(Duration::from_millis(1000));
    stop.store(true, Ordering::Relaxed);
    let (ok, failed) = load.join().expect("load");
    assert!(ok > 50, "only {ok} requests");
    assert_eq!(
        failed, 0,
        "{failed} requests failed across the reload ({ok} succeeded)"
    );
    let (_, status) = request(server.addr, "/_status").expect("status");
    assert_eq!(json_number(&status, "generation"), 2, "{status}");
    assert!(
        eventually(Duration::from_secs(5), || {
            let now = workers(&server);
            fixed.is_none_or(|n| now.len() == n) && now.iter().all(|p| !first.contains(p))
        }),
        "the old generation is still alive (or the new one has not {fixed:?} workers)"
    );
    finish(server);
}

#[test]
fn process_pool_sighup_reload_fails_no_request() {
    let server = start(
        "process_pool",
        &[
            "--start-workers",
            "4",
            "--min-spare",
            "2",
            "--max-spare",
            "8",
            "--maintenance-interval",
            "200ms",
        ],
    );
    reload_under_load_fails_no_request(server, 4, 8, None);
}

#[test]
fn hybrid_pool_sighup_reload_fails_no_request() {
    // The same supervisor as process_pool, with workers of several threads: the old generation's
    // threads must finish what they hold while the new generation takes the new connections.
    let server = start(
        "hybrid_pool",
        &[
            "--workers",
            "2",
            "--threads-per-worker",
            "4",
            "--maintenance-interval",
            "200ms",
        ],
    );
    reload_under_load_fails_no_request(server, 2, 6, Some(2));
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
fn process_pool_park_survives_aborts_under_load() {
    survives_aborts_under_load(PARK_ON);
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
fn hybrid_pool_park_loses_only_the_aborted_process_requests() {
    // With parking, the aborted process also loses the connections its front held; under this
    // load (a request sent as soon as the connection opens) those are few.
    loses_only_the_aborted_process_requests(PARK_ON);
}

#[test]
fn process_pool_park_sighup_reload_fails_no_request() {
    let server = start(
        "process_pool",
        &[
            "--park",
            "on",
            "--start-workers",
            "4",
            "--min-spare",
            "2",
            "--max-spare",
            "8",
            "--maintenance-interval",
            "200ms",
        ],
    );
    reload_under_load_fails_no_request(server, 4, 8, None);
}

#[test]
fn hybrid_pool_park_sighup_reload_fails_no_request() {
    let server = start(
        "hybrid_pool",
        &[
            "--park",
            "on",
            "--workers",
            "2",
            "--threads-per-worker",
            "4",
            "--maintenance-interval",
            "200ms",
        ],
    );
    reload_under_load_fails_no_request(server, 2, 6, Some(2));
}
