//! `lab run --find-max-rate`: the bracketing search for the highest offered rate a model
//! sustains, against a server whose capacity is known by construction.

mod common;

use common::lab;

/// single_thread serving `GET /sleep/10` over one keep-alive connection can answer at most
/// 1 / 10 ms = 100 requests a second, whatever the machine's load (the handler sleeps; it needs
/// almost no CPU). With a 100 ms objective the search must hold somewhere below
/// that and fail above what it held; a shared machine makes sleeps overrun, so the bracket
/// asserted is wide: the found rate lies between an eighth of the capacity and the capacity.
#[test]
fn find_max_rate_brackets_a_known_capacity() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("knee.json");
    let (ok, stdout, stderr) = lab(&[
        "run",
        "--model",
        "single_thread",
        "--path",
        "/sleep/10",
        "--conns",
        "1",
        "--duration",
        "2s",
        "--find-max-rate",
        "--slo",
        "100ms",
        "--start-rate",
        "200",
        "--max-steps",
        "7",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let steps = report["steps"].as_array().unwrap();
    assert!(!steps.is_empty() && steps.len() <= 7, "{report:#}");
    // The load generator shares the machine: a step it sent late is tried again, so the
    // lower bound below holds unless the machine is starved for whole seconds.
    // Above the capacity no step can hold: achieved must reach 99% of what was offered.
    for step in steps {
        if step["offered_rps"].as_f64().unwrap() > 105.0 {
            assert_eq!(step["passed"], false, "{step:#}");
        }
    }
    let sustained = report["sustained_rps"]
        .as_f64()
        .unwrap_or_else(|| panic!("no rate held:\n{stdout}"));
    assert!(
        (12.0..=105.0).contains(&sustained),
        "found {sustained} req/s for a capacity of 100:\n{stdout}"
    );
    if let Some(failed) = report["failed_rps"].as_f64() {
        assert!(failed > sustained, "{report:#}");
    }
    assert!(stdout.contains("single_thread: sustains"), "{stdout}");
}

#[test]
fn find_max_rate_refuses_zero_steps() {
    let (ok, _, err) = lab(&[
        "run",
        "--model",
        "single_thread",
        "--find-max-rate",
        "--max-steps",
        "0",
    ]);
    assert!(!ok && err.contains("--max-steps"), "{err}");
}
