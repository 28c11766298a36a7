//! Open-loop runs: the rate holds, and coordinated omission is corrected.
//! These two are timing-sensitive, so they run one at a time.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::{config, Behavior, TestServer};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn rate_holds() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let server = TestServer::start(Behavior::Ok);
    let mut c = config(&server);
    c.conns = 10;
    c.threads = 2;
    c.rate = Some(500.0);
    c.duration = Duration::from_secs(3);
    let report = loadgen::run(&c).unwrap();
    let expected = 1500.0;
    let got = report.requests as f64;
    assert!(
        (got - expected).abs() / expected < 0.05,
        "{got} requests, expected {expected}"
    );
    assert!((report.throughput_rps - 500.0).abs() / 500.0 < 0.05);
    assert_eq!(report.requests, server.count());
    assert_eq!(report.errors.total(), 0);
    assert!(report.latency_uncorrected_us.is_some());
}

#[test]
fn coordinated_omission_is_corrected() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // Request 100 (about half a second in) waits a second: its connection
    // stalls, and the ~20 requests due on it meanwhile pile up.
    let server = TestServer::start(Behavior::StallOnce {
        at: 100,
        pause: Duration::from_secs(1),
    });
    let mut c = config(&server);
    c.conns = 10;
    c.rate = Some(200.0);
    c.duration = Duration::from_secs(4);
    let report = loadgen::run(&c).unwrap();
    let corrected = report.latency_us;
    let uncorrected = report.latency_uncorrected_us.expect("open loop");
    eprintln!("corrected {corrected:?}\nuncorrected {uncorrected:?}");
    assert!(
        corrected.p99 >= 500_000,
        "corrected p99 {} us should show the stall",
        corrected.p99
    );
    assert!(
        uncorrected.p99 * 10 < corrected.p99,
        "uncorrected p99 {} us should hide it (corrected {})",
        uncorrected.p99,
        corrected.p99
    );
    // Both see the one request that really took a second.
    assert!(uncorrected.max >= 900_000);
    assert!(report.timeline.iter().any(|s| s.p99_us >= 500_000));
    assert_eq!(report.errors.total(), 0);
}
