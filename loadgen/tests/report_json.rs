//! The JSON form of a report is a contract: every key is there and it
//! round-trips.

mod common;

use std::time::Duration;

use common::{config, Behavior, TestServer};

#[test]
fn report_json_has_every_key_and_roundtrips() {
    let server = TestServer::start(Behavior::Ok);
    let mut c = config(&server);
    c.conns = 2;
    c.rate = Some(100.0);
    c.duration = Duration::from_millis(1200);
    let report = loadgen::run(&c).unwrap();

    let json = serde_json::to_string(&report).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    for key in [
        "conns",
        "duration_s",
        "requests",
        "throughput_rps",
        "latency_us",
        "latency_uncorrected_us",
        "connect_us",
        "errors",
        "connections",
        "timeline",
        "histogram",
        "host",
        "schema_version",
        "service",
        "send_lag_us",
        "interrupted",
        "planned_s",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    for group in [
        "latency_us",
        "latency_uncorrected_us",
        "connect_us",
        "send_lag_us",
    ] {
        for key in ["p50", "p90", "p99", "p999", "p9999", "max", "mean"] {
            assert!(v[group].get(key).is_some(), "missing {group}.{key}");
        }
    }
    for key in [
        "connect",
        "connect_refused",
        "connect_timeout",
        "connect_fd_limit",
        "connect_port_limit",
        "read",
        "write",
        "timeout",
        "status",
        "status_4xx",
        "status_5xx",
        "closed",
    ] {
        assert!(v["errors"].get(key).is_some(), "missing errors.{key}");
    }
    for key in ["target", "established", "peak_open"] {
        assert!(
            v["connections"].get(key).is_some(),
            "missing connections.{key}"
        );
    }
    let row = &v["timeline"][0];
    for key in ["second", "requests", "errors", "p99_us", "open_conns"] {
        assert!(row.get(key).is_some(), "missing timeline[0].{key}");
    }
    assert_eq!(v["timeline"].as_array().unwrap().len(), 2);
    // Every request left on schedule: its send lag was recorded.
    assert!(v["send_lag_us"]["max"].as_u64().unwrap() >= 1);
    for key in [
        "served",
        "starved",
        "per_conn_min",
        "per_conn_median",
        "per_conn_max",
        "fairness",
        "first_response_us",
    ] {
        assert!(v["service"].get(key).is_some(), "missing service.{key}");
    }
    assert_eq!(v["service"]["served"], 2);
    assert_eq!(v["interrupted"], false);
    assert!(v["host"]["cores"].as_u64().unwrap() >= 1);
    assert!(v["host"].get("kernel").is_some());

    let back: loadgen::Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
    assert_eq!(
        loadgen::Report::from_json(&report.to_json()).unwrap(),
        report
    );

    // The histogram decodes back to the same distribution.
    let h = loadgen::decode_histogram(&report.histogram).unwrap();
    assert_eq!(h.len(), report.requests);
    assert_eq!(h.max(), report.latency_us.max);

    let summary = report.summary();
    assert!(summary.contains("Requests/sec"), "{summary}");
    assert!(summary.contains("99.99%"), "{summary}");
}

#[test]
fn closed_loop_json_omits_uncorrected() {
    let server = TestServer::start(Behavior::Ok);
    let mut c = config(&server);
    c.conns = 1;
    c.requests = Some(10);
    let report = loadgen::run(&c).unwrap();
    let v = serde_json::to_value(&report).unwrap();
    assert!(v.get("latency_uncorrected_us").is_none());
    assert!(v.get("send_lag_us").is_none());
    let back: loadgen::Report = serde_json::from_value(v).unwrap();
    assert_eq!(back, report);
}
