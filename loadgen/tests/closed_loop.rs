//! Closed-loop runs against the test servers: counts match the server's,
//! errors are classified, pipelining and no-keep-alive work.

mod common;

use std::time::{Duration, Instant};

use common::{config, Behavior, TestServer};

#[test]
fn closed_loop_counts_match_the_server() {
    let server = TestServer::start(Behavior::Ok);
    let mut c = config(&server);
    c.conns = 4;
    c.threads = 2;
    c.duration = Duration::from_millis(1000);
    let report = loadgen::run(&c).unwrap();
    assert!(report.requests > 0);
    assert_eq!(report.requests, server.count());
    assert_eq!(report.errors.total(), 0, "{:?}", report.errors);
    assert_eq!(report.connections.target, 4);
    assert_eq!(report.connections.established, 4);
    assert_eq!(report.connections.peak_open, 4);
    assert!(report.latency_uncorrected_us.is_none());
    assert!(report.latency_us.p50 > 0);
    assert!(!report.timeline.is_empty());
    let from_timeline: u64 = report.timeline.iter().map(|s| s.requests).sum();
    assert_eq!(from_timeline, report.requests);
    // The last second counts the connections open when the run ended, not after they were closed.
    assert_eq!(
        report.timeline.last().unwrap().open_conns,
        4,
        "{:?}",
        report.timeline
    );
}

#[test]
fn requests_mode_sends_exactly_n() {
    let server = TestServer::start(Behavior::Ok);
    let mut c = config(&server);
    c.conns = 8;
    c.threads = 2;
    c.requests = Some(1000);
    c.duration = Duration::from_secs(20);
    let report = loadgen::run(&c).unwrap();
    assert_eq!(report.requests, 1000);
    assert_eq!(server.count(), 1000);
    assert!(report.duration_s < 20.0);
}

#[test]
fn pipelining_with_chunked_responses() {
    let server = TestServer::start(Behavior::Chunked);
    let mut c = config(&server);
    c.conns = 4;
    c.pipeline = 8;
    c.duration = Duration::from_millis(1000);
    let report = loadgen::run(&c).unwrap();
    assert!(report.requests > 0);
    assert_eq!(report.requests, server.count());
    assert_eq!(report.errors.total(), 0, "{:?}", report.errors);
}

#[test]
fn pipelining_in_requests_mode() {
    let server = TestServer::start(Behavior::Ok);
    let mut c = config(&server);
    c.conns = 3;
    c.pipeline = 16;
    c.requests = Some(777);
    let report = loadgen::run(&c).unwrap();
    assert_eq!(report.requests, 777);
    assert_eq!(server.count(), 777);
}

#[test]
fn without_keepalive_each_request_has_its_connection() {
    let server = TestServer::start(Behavior::Ok);
    let mut c = config(&server);
    c.conns = 4;
    c.keepalive = false;
    c.duration = Duration::from_millis(1000);
    let report = loadgen::run(&c).unwrap();
    assert!(report.requests > 0);
    assert_eq!(report.requests, server.count());
    assert_eq!(report.errors.total(), 0, "{:?}", report.errors);
    // One connection per request, plus the ones open at the end.
    assert!(report.connections.established >= report.requests);
    assert!(report.connections.established <= report.requests + 4);
}

#[test]
fn closed_port_gives_connect_refused() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut c = loadgen::Config::for_url(&format!("http://127.0.0.1:{port}/")).unwrap();
    c.quiet = true;
    c.conns = 2;
    c.duration = Duration::from_millis(500);
    let report = loadgen::run(&c).unwrap();
    assert_eq!(report.requests, 0);
    assert!(report.errors.connect_refused > 0, "{:?}", report.errors);
    assert_eq!(report.errors.connect, report.errors.connect_refused);
    // Backed off, not spinning: 2 connections, 10 ms doubling, 0.5 s.
    assert!(report.errors.connect < 40, "{:?}", report.errors);
    assert_eq!(report.connections.established, 0);
}

#[test]
fn server_closing_mid_response_is_counted() {
    let server = TestServer::start(Behavior::CloseMidResponse);
    let mut c = config(&server);
    c.conns = 2;
    c.duration = Duration::from_millis(500);
    let report = loadgen::run(&c).unwrap();
    assert_eq!(report.requests, 0);
    assert!(
        report.errors.closed + report.errors.read > 0,
        "{:?}",
        report.errors
    );
}

#[test]
fn not_found_is_a_status_error() {
    let server = TestServer::start(Behavior::NotFound);
    let mut c = config(&server);
    c.conns = 2;
    c.duration = Duration::from_millis(500);
    let report = loadgen::run(&c).unwrap();
    assert!(report.requests > 0);
    assert_eq!(report.errors.status_4xx, report.requests);
    assert_eq!(report.errors.status, report.requests);
    assert_eq!(report.errors.status_5xx, 0);
    assert!(report.summary().contains("Non-2xx or 3xx responses"));
}

#[test]
fn slow_response_is_a_timeout() {
    let server = TestServer::start(Behavior::StallOnce {
        at: 1,
        pause: Duration::from_millis(1500),
    });
    let mut c = config(&server);
    c.conns = 1;
    c.timeout = Duration::from_millis(200);
    c.duration = Duration::from_millis(800);
    let report = loadgen::run(&c).unwrap();
    assert_eq!(report.errors.timeout, 1, "{:?}", report.errors);
    // The connection was reopened and carried on.
    assert!(report.requests > 0);
    assert!(report.connections.established >= 2);
}

#[test]
fn target_dying_mid_run_ends_with_errors_not_a_hang() {
    let server = TestServer::start(Behavior::Ok);
    let mut c = config(&server);
    c.conns = 4;
    c.duration = Duration::from_millis(1500);
    let killer = {
        let server = &server;
        std::thread::scope(|s| {
            s.spawn(|| {
                // Mid-run: once the server has answered a request (so the run has measured
                // one), not after a fixed 400 ms, which a slow start of the run could outlast.
                let deadline = Instant::now() + Duration::from_secs(10);
                while server.count() == 0 && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
                server.kill();
            });
            let start = Instant::now();
            let report = loadgen::run(&c).unwrap();
            (report, start.elapsed())
        })
    };
    let (report, took) = killer;
    assert!(took < Duration::from_secs(6));
    assert!(report.requests > 0);
    assert!(report.errors.connect_refused > 0, "{:?}", report.errors);
}

#[test]
fn warmup_is_not_recorded() {
    let server = TestServer::start(Behavior::Ok);
    let mut c = config(&server);
    c.conns = 2;
    c.warmup = Duration::from_millis(300);
    c.duration = Duration::from_millis(500);
    let report = loadgen::run(&c).unwrap();
    assert!(report.requests > 0);
    assert!(server.count() > report.requests);
    assert!(
        (report.duration_s - 0.5).abs() < 0.1,
        "{}",
        report.duration_s
    );
}

#[test]
fn starved_connections_are_counted_and_said() {
    // One connection is served; the other four sit in the listen backlog:
    // established at the TCP level, never answered.
    let server = TestServer::start(Behavior::OneAtATime);
    let mut c = config(&server);
    c.conns = 5;
    c.duration = Duration::from_millis(800);
    c.timeout = Duration::from_secs(10);
    let report = loadgen::run(&c).unwrap();
    let v = report.service;
    assert_eq!((v.served, v.starved), (1, 4), "{v:?}");
    assert_eq!(v.per_conn_min, 0);
    assert_eq!(v.per_conn_median, 0);
    assert_eq!(v.per_conn_max, report.requests);
    assert!((v.fairness - 0.2).abs() < 1e-9, "{v:?}");
    assert!(v.first_response_us.p50 > 0);
    assert_eq!(
        report.connections.established, 5,
        "the backlog counts as established"
    );
    let summary = report.summary();
    assert!(
        summary.contains("4 of 5 connections got no response in"),
        "{summary}"
    );
}

/// A pipelining client refills its window in one write per read, as wrk's batches do: with one
/// connection 16 deep, each of the server's reads holds all 16 requests of a round (loopback TCP
/// delivers one write's bytes as one segment). When the load generator wrote each request as its
/// response was parsed, the server saw them one or two per read, and a pipelined run measured the
/// load generator's syscalls rather than the server. Counts only.
#[test]
fn pipelined_requests_are_refilled_in_one_write_per_read() {
    use std::io::{Read, Write};
    const DEPTH: usize = 16;
    const ROUNDS: usize = 20;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut per_read = Vec::new();
        let mut buf = [0u8; 65536];
        let mut pending = Vec::new();
        let mut answered = 0;
        while answered < DEPTH * ROUNDS {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "the client closed after {answered}");
            pending.extend_from_slice(&buf[..n]);
            let mut complete = 0;
            while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                pending.drain(..end + 4);
                complete += 1;
            }
            per_read.push(complete);
            let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".repeat(complete);
            stream.write_all(&answer).unwrap();
            answered += complete;
        }
        per_read
    });
    let mut c = loadgen::Config::for_url(&format!("http://{addr}/")).unwrap();
    c.quiet = true;
    c.conns = 1;
    c.pipeline = DEPTH;
    c.requests = Some((DEPTH * ROUNDS) as u64);
    c.duration = Duration::from_secs(20);
    let report = loadgen::run(&c).unwrap();
    assert_eq!(report.requests, (DEPTH * ROUNDS) as u64);
    let per_read = server.join().unwrap();
    assert_eq!(per_read, vec![DEPTH; ROUNDS], "requests per server read");
}

/// The load generator says how busy each of its threads was over the measured time: one share
/// per thread, none above the whole time. A generator whose one connection waits on a stalled
/// server sleeps: it is idle, not busy (the shares are of CPU time, not of wall time).
#[test]
fn the_load_generator_says_how_busy_its_threads_were() {
    let server = TestServer::start(Behavior::Ok);
    let mut c = config(&server);
    c.conns = 4;
    c.threads = 2;
    c.duration = Duration::from_millis(1000);
    let report = loadgen::run(&c).unwrap();
    let loader = report.loader.expect("the threads' busy shares");
    assert_eq!(loader.on_cpu.len(), 2, "{loader:?}");
    assert_eq!(loader.waiting.len(), 2, "{loader:?}");
    for share in loader.on_cpu.iter().chain(&loader.waiting) {
        assert!((0.0..=1.05).contains(share), "{loader:?}");
    }
    assert!(loader.on_cpu.iter().all(|&c| c > 0.0), "{loader:?}");

    let stalled = TestServer::start(Behavior::StallOnce {
        at: 1,
        pause: Duration::from_secs(3),
    });
    let mut c = config(&stalled);
    c.conns = 1;
    c.threads = 1;
    c.duration = Duration::from_millis(1000);
    let report = loadgen::run(&c).unwrap();
    assert_eq!(
        report.requests, 0,
        "the stalled request was answered in time"
    );
    let loader = report.loader.expect("the thread's busy share");
    let (_, on_cpu, waiting) = loader.busiest().unwrap();
    assert!(on_cpu + waiting < 0.5, "{loader:?}");
    assert!(!loader.saturated());
}
