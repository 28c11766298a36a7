//! `lab run` and `lab load` end to end: the JSON report has every key, the server's tree is
//! measured and nothing of it is left behind.

mod common;

use common::{lab, lab_json};

const KEYS: &[&str] = &[
    "model",
    "conns",
    "duration_s",
    "requests",
    "throughput_rps",
    "latency_us",
    "errors",
    "connections",
    "server",
    "timeline",
    "histogram",
    "host",
];

/// Checks a `lab run` report `v` of `model` at `conns` connections: every key, a measured
/// server, nothing left behind.
fn check_report(v: &serde_json::Value, model: &str, conns: u64) {
    for key in KEYS {
        assert!(v.get(key).is_some(), "{model}: key {key} missing");
    }
    for key in ["p50", "p90", "p99", "p999", "max", "mean"] {
        assert!(v["latency_us"].get(key).is_some(), "latency_us.{key}");
    }
    for key in ["connect", "read", "write", "timeout", "status"] {
        assert!(v["errors"].get(key).is_some(), "errors.{key}");
    }
    for key in ["target", "established", "peak_open"] {
        assert!(v["connections"].get(key).is_some(), "connections.{key}");
    }
    for key in [
        "peak_pss_bytes",
        "peak_rss_bytes",
        "peak_processes",
        "peak_threads",
        "cpu_user_s",
        "cpu_sys_s",
        "ctx_voluntary",
        "ctx_involuntary",
    ] {
        assert!(v["server"].get(key).is_some(), "server.{key}");
    }
    assert!(v["host"].get("cores").is_some() && v["host"].get("kernel").is_some());
    assert_eq!(v["model"], model);
    assert_eq!(v["conns"], conns);
    assert_eq!(
        v["leftover_processes"], 0,
        "{model}: processes left after SIGTERM"
    );
    assert!(
        v["requests"].as_u64().unwrap() > 0,
        "{model}: no request completed"
    );
    assert!(
        v["server"]["peak_pss_bytes"].as_u64().unwrap() > 0,
        "{model}: server memory not sampled"
    );
    assert!(v["server"]["peak_processes"].as_u64().unwrap() >= 1);
}

#[test]
fn lab_run_writes_every_key_and_leaves_nothing() {
    for model in ["single_thread", "thread_per_request", "epoll"] {
        let (stdout, v) = lab_json(&["run", "--model", model, "--conns", "50", "--duration", "2s"]);
        assert!(
            stdout.contains("Requests/sec") && stdout.contains("peak PSS"),
            "{model}: {stdout}"
        );
        check_report(&v, model, 50);
        if model != "single_thread" {
            // single_thread serves one keep-alive connection at a time: the others time out,
            // which is the lesson, not a failure. The concurrent models must hold all 50.
            assert_eq!(v["connections"]["peak_open"], 50, "{model}");
            assert_eq!(v["errors"]["timeout"], 0, "{model}");
        }
    }
}

#[test]
fn lab_run_forwards_server_flags() {
    let (_, v) = lab_json(&[
        "run",
        "--model",
        "epoll",
        "--loops",
        "1",
        "--offload",
        "on",
        "--path",
        "/cpu/5",
        "--conns",
        "4",
        "--duration",
        "1s",
    ]);
    check_report(&v, "epoll", 4);
    let cmd: Vec<String> = serde_json::from_value(v["server_command"].clone()).unwrap();
    let cmd = cmd.join(" ");
    assert!(
        cmd.contains("--loops 1") && cmd.contains("--offload on"),
        "{cmd}"
    );
    // One loop plus the offload helpers, all in one process.
    assert_eq!(v["server"]["peak_processes"], 1);
}

#[test]
fn lab_run_refuses_bad_flags_before_starting() {
    let (ok, _, stderr) = lab(&[
        "run",
        "--model",
        "epoll",
        "--loops",
        "0",
        "--duration",
        "1s",
    ]);
    assert!(!ok);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--loops"), "{stderr}");
    let (ok, _, stderr) = lab(&[
        "run",
        "--model",
        "epoll",
        "--conns",
        "0",
        "--duration",
        "1s",
    ]);
    assert!(!ok);
    assert!(stderr.contains("conns"), "{stderr}");
}

#[test]
fn lab_load_against_a_server() {
    let server = common::Server::start("thread_per_request", &[]);
    let (_, v) = lab_json(&[
        "load",
        &server.url("/hello"),
        "-c",
        "10",
        "--requests",
        "1000",
        "-d",
        "10s",
    ]);
    assert_eq!(v["requests"], 1000, "--requests sends exactly N");
    assert_eq!(v["errors"]["status"], 0);
    // A closed port: connect errors, counted, not fatal to the run; but nothing succeeded, so
    // `lab load` exits non-zero with one line naming the cause.
    let (ok, stdout, stderr) = lab(&[
        "load",
        "http://127.0.0.1:1/",
        "-c",
        "2",
        "-d",
        "1s",
        "--quiet",
    ]);
    assert!(!ok, "{stdout}");
    assert!(stdout.to_lowercase().contains("connect"), "{stdout}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("no request succeeded") && stderr.contains("refused"),
        "{stderr}"
    );
    assert!(
        stdout.contains("n/a") && !stdout.contains("50%    0.00us"),
        "no response, no latency: {stdout}"
    );
    let (status, _) = server.stop();
    assert!(status.success());
}

#[test]
fn ctrl_c_stops_lab_run_cleanly_exits_130_and_says_so() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let args = [
        "run",
        "--model",
        "thread_per_request",
        "--conns",
        "10",
        "--duration",
        "20s",
        "--warmup",
        "200ms",
        "--quiet",
        "--json",
        json.to_str().unwrap(),
    ];
    // Once the load runs (its worker threads, `loadgen-N`, exist: the server is up), a second
    // of it, past the 200 ms warm-up. Counted from the server's start, a fixed pause could
    // end before the load began when the machine was slow to start the server.
    let mut child = common::spawn_lab_job(&args, 1, Duration::from_secs(20));
    let pid = child.id();
    let loading = common::eventually(Duration::from_secs(20), || {
        threads_cpus(pid)
            .iter()
            .any(|(name, _)| name.starts_with("loadgen-"))
    });
    assert!(loading, "lab run never started its load");
    std::thread::sleep(Duration::from_millis(1000));
    // A terminal's Ctrl-C: SIGINT to every process of the foreground group.
    common::terminal_ctrl_c(pid);
    let status = common::wait_exit(&mut child, Duration::from_secs(30), "lab run after Ctrl-C");
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("interrupted after"), "{stdout}");
    assert!(stdout.contains("of 20 s"), "{stdout}");
    let v = common::read_json(&json);
    assert_eq!(v["interrupted"], true);
    assert!(v["requests"].as_u64().unwrap() > 0);
    // The server was stopped after the load, not by the Ctrl-C: its shutdown is no error.
    assert_eq!(v["errors"]["closed"], 0, "{}", v["errors"]);
    assert_eq!(v["errors"]["read"], 0, "{}", v["errors"]);
    assert_eq!(v["errors"]["connect"], 0, "{}", v["errors"]);
    assert_eq!(v["leftover_processes"], 0);
}

/// The CPU `lab run` reports for the forking models, whose children each live for one
/// connection. The reported total is the kernel's own (rusage of the whole reaped tree), and the
/// per-second curve sampled from /proc ends near it: tick counts per process rounded each child to
/// 10 ms and lost almost all of it at 300 connections and more (0.17 s sampled against 3.9 s).
/// The curve cannot see what the server spends after the last sample (its drain, children still
/// finishing), which on a loaded machine (this suite runs tests side by side) can be a fifth of
/// a short run, and more than half of it when other builds share the two cores (0.76 s sampled
/// against 1.88 s was seen then): so the curve must not exceed the total by more than 10%, nor
/// fall below a quarter of it, which still catches the old undercount (a twentieth).
#[test]
fn server_cpu_matches_the_kernels_rusage_for_forking_and_pool_models() {
    for (model, conns) in [
        ("fork_per_request", "300"),
        ("fork_per_request", "1000"),
        ("process_pool", "100"),
    ] {
        let (_, v) = lab_json(&[
            "run",
            "--model",
            model,
            "--conns",
            conns,
            "--duration",
            "2s",
        ]);
        let s = &v["server"];
        assert_eq!(s["cpu_source"], "rusage", "{model} {conns}");
        let kernel = s["cpu_user_s"].as_f64().unwrap() + s["cpu_sys_s"].as_f64().unwrap();
        let samples = s["samples"].as_array().unwrap();
        let sampled = samples.last().unwrap()["cpu_s"].as_f64().unwrap();
        assert!(kernel > 0.0, "{model} {conns}: no CPU");
        assert!(
            sampled <= 1.10 * kernel && sampled >= 0.25 * kernel,
            "{model} at {conns} connections: sampled {sampled:.3} s, kernel {kernel:.3} s"
        );
    }
}

/// `Cpus_allowed_list` of every thread of `pid` (`/proc/PID/task/*/status`), with the thread's name.
fn threads_cpus(pid: u32) -> Vec<(String, String)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for task in tasks.flatten() {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
        if let Some(list) = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        {
            out.push((name.trim().to_string(), list.trim().to_string()));
        }
    }
    out
}

#[test]
fn lab_run_pins_the_server_and_the_load_generator_and_records_it() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("pinned.json");
    let child = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args([
            "run",
            "--model",
            "epoll",
            "--loops",
            "2",
            "--server-cpus",
            "0",
            "--load-cpus",
            "0",
            "--conns",
            "4",
            "--duration",
            "3s",
            "--warmup",
            "200ms",
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // While the load runs: every thread of the server, and the load generator's worker, on CPU 0.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut server, mut loader) = (Vec::new(), Vec::new());
    while Instant::now() < deadline && (server.len() < 3 || loader.is_empty()) {
        std::thread::sleep(Duration::from_millis(100));
        if let Some(&spid) = common::descendants(pid).first() {
            server = threads_cpus(spid);
        }
        loader = threads_cpus(pid)
            .into_iter()
            .filter(|(name, _)| name.starts_with("loadgen-"))
            .collect();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The main thread and two event loops.
    assert!(server.len() >= 3, "server threads seen: {server:?}");
    for (name, list) in server.iter().chain(&loader) {
        assert_eq!(list, "0", "thread {name}");
    }
    assert_eq!(loader.len(), 1, "{loader:?}");
    let v = common::read_json(&json);
    check_report(&v, "epoll", 4);
    assert_eq!(v["server_cpus"], serde_json::json!([0]));
    assert_eq!(v["load_cpus"], serde_json::json!([0]));

    // A CPU that does not exist: one line naming the flag, nothing started.
    let (ok, _, stderr) = lab(&[
        "run",
        "--model",
        "epoll",
        "--server-cpus",
        "0,4000",
        "--duration",
        "1s",
    ]);
    assert!(!ok);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--server-cpus") && stderr.contains("no CPU 4000"),
        "{stderr}"
    );
}

/// `lab load unix:/socket:/route` loads a server on a Unix socket: exactly the requests asked
/// for, all 200, with the Host header a server requires (it refuses a request without one).
#[test]
fn lab_load_over_a_unix_socket() {
    let server = common::Server::start_over(common::Transport::Unix, "epoll", &[]);
    let common::Target::Unix(socket) = &server.target else {
        panic!("not on a Unix socket");
    };
    let url = format!("unix:{}:/hello", socket.display());
    let (_, v) = lab_json(&[
        "load",
        &url,
        "-c",
        "10",
        "--requests",
        "1000",
        "--pipeline",
        "4",
        "-d",
        "10s",
    ]);
    assert_eq!(v["requests"], 1000);
    assert_eq!(v["errors"]["status"], 0);
    assert_eq!(v["connections"]["established"], 10);
    assert_eq!(v["url"], url.as_str());
    let (status, _) = server.stop();
    assert!(status.success());
}

/// `lab run --transport unix`: the server listens on a socket in a temporary directory, the
/// load goes over it, the report says so, and neither the socket nor its directory is left.
#[test]
fn lab_run_over_a_unix_socket_records_it_and_leaves_no_socket() {
    let (stdout, v) = lab_json(&[
        "run",
        "--model",
        "process_pool",
        "--park",
        "on",
        "--transport",
        "unix",
        "--conns",
        "8",
        "--duration",
        "1s",
    ]);
    assert!(
        stdout.contains("connections over a Unix socket"),
        "{stdout}"
    );
    check_report(&v, "process_pool", 8);
    assert_eq!(v["transport"], "unix");
    assert_eq!(v["errors"]["status"], 0);
    let url = v["url"].as_str().unwrap();
    assert!(
        url.starts_with("unix:") && url.ends_with("lab.sock:/"),
        "{url}"
    );
    let socket = std::path::Path::new(&url["unix:".len()..url.len() - ":/".len()]);
    assert!(
        !socket.exists() && !socket.parent().unwrap().exists(),
        "{} was left behind",
        socket.display()
    );
    // Refused before anything starts, naming the flag.
    let (ok, _, stderr) = lab(&[
        "run",
        "--model",
        "process_pool",
        "--accept",
        "reuseport",
        "--transport",
        "unix",
        "--conns",
        "1",
        "--duration",
        "1s",
    ]);
    assert!(!ok);
    assert!(stderr.contains("--accept reuseport"), "{stderr}");
}
