//! Load from several machines, for real on one: network namespaces stand in for hosts. The
//! server runs in one namespace, three loaders in three others (each joined to the server's by
//! its own veth pair and subnet) start together with one `--start-at`, and `lab merge` adds
//! their reports up. The merged request and error counts must be the sums of the parts', the
//! merged histogram the bucket-by-bucket sum of theirs, and the timeline summed second by second.
//!
//! Needs root and `ip` (iproute2). Without them the test prints why and passes, unless
//! `LAB_REQUIRE_NETNS=1` (set by `.ci/run` when it runs as root), which makes a skip a failure.

mod common;

use hdrhistogram::Histogram;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const LOADERS: usize = 3;
/// Loader processes start within this of each other, well before the common start.
const START_DELAY: Duration = Duration::from_secs(3);
/// The bound on each loader's whole run (start delay, ramp, 2 s measured, drain).
const LOADER_TIMEOUT: Duration = Duration::from_secs(60);

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Why this machine cannot run the test, if it cannot.
fn cannot_run() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?");
    if euid != "0" {
        return Some(format!(
            "not root (effective uid {euid}): network namespaces need root"
        ));
    }
    if Command::new("ip").arg("-V").output().is_err() {
        return Some("no `ip` command (install iproute2)".into());
    }
    None
}

/// The namespaces: deleted (with their veth ends) when dropped, whatever happened.
struct Hosts {
    server: String,
    loaders: Vec<String>,
}

impl Hosts {
    fn create() -> Result<Hosts, String> {
        let id = std::process::id();
        let hosts = Hosts {
            server: format!("lab{id}-srv"),
            loaders: (1..=LOADERS).map(|i| format!("lab{id}-l{i}")).collect(),
        };
        for ns in std::iter::once(&hosts.server).chain(&hosts.loaders) {
            ip(&["netns", "add", ns])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        for (i, ns) in hosts.loaders.iter().enumerate() {
            let n = i + 1;
            let (srv_end, loader_end) = (format!("v{id}s{n}"), format!("v{id}l{n}"));
            ip(&[
                "link",
                "add",
                &srv_end,
                "netns",
                &hosts.server,
                "type",
                "veth",
                "peer",
                "name",
                &loader_end,
                "netns",
                ns,
            ])?;
            ip(&[
                "-n",
                &hosts.server,
                "addr",
                "add",
                &format!("10.77.{n}.1/24"),
                "dev",
                &srv_end,
            ])?;
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("10.77.{n}.2/24"),
                "dev",
                &loader_end,
            ])?;
            ip(&["-n", &hosts.server, "link", "set", &srv_end, "up"])?;
            ip(&["-n", ns, "link", "set", &loader_end, "up"])?;
        }
        Ok(hosts)
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for ns in std::iter::once(&self.server).chain(&self.loaders) {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

/// `ip netns exec NS lab ARGS` (ip execs lab in place: the child's pid is lab's).
fn lab_in(ns: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_lab")])
        .args(args)
        .stdin(Stdio::null());
    cmd
}

fn wait_bounded(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a process did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn histogram(report: &serde_json::Value) -> Histogram<u64> {
    loadgen::decode_histogram(report["histogram"].as_str().expect("histogram"))
        .expect("a readable histogram")
}

fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn three_loaders_in_three_namespaces_merge_exactly() {
    let required = std::env::var("LAB_REQUIRE_NETNS").is_ok_and(|v| v == "1");
    let skip = |reason: String| {
        assert!(!required, "LAB_REQUIRE_NETNS=1 but: {reason}");
        eprintln!("SKIPPED three_loaders_in_three_namespaces_merge_exactly: {reason}");
    };
    if let Some(reason) = cannot_run() {
        return skip(reason);
    }
    let hosts = match Hosts::create() {
        Ok(h) => h,
        Err(e) => return skip(format!("cannot create network namespaces: {e}")),
    };

    // The server, on every interface of its namespace.
    let mut server = lab_in(
        &hosts.server,
        &["serve", "--model", "epoll", "--addr", ":0"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("start lab serve");
    let stdout = server.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next().and_then(|l| l.ok()).unwrap_or_default());
        for _ in lines {}
    });
    let line = rx.recv_timeout(common::TIMEOUT).unwrap_or_default();
    let port = line
        .trim()
        .strip_prefix("listening on http://0.0.0.0:")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();

    // Three loaders, one start time.
    let dir = tempfile::tempdir().expect("tempdir");
    let start = SystemTime::now() + START_DELAY;
    let start_s = format!(
        "{:.3}",
        start
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64()
    );
    let mut loaders = Vec::new();
    for (i, ns) in hosts.loaders.iter().enumerate() {
        let n = i + 1;
        let url = format!("http://10.77.{n}.1:{port}/");
        let json = dir.path().join(format!("loader{n}.json"));
        let tag = format!("loader{n}");
        let child = lab_in(
            ns,
            &[
                "load",
                &url,
                "-c",
                "20",
                "-d",
                "2s",
                "--timeout",
                "5s",
                "-q",
                "--start-at",
                &start_s,
                "--tag",
                &tag,
                "--json",
                json.to_str().expect("utf-8 path"),
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lab load");
        loaders.push((child, json));
    }
    let mut parts = Vec::new();
    for (child, json) in &mut loaders {
        let status = wait_bounded(child, LOADER_TIMEOUT);
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        assert!(status.success(), "a loader failed: {err}");
        parts.push((read_json(json), json.clone()));
    }
    common::signal(server.id(), libc::SIGTERM);
    let status = wait_bounded(&mut server, common::TIMEOUT);
    assert!(status.success(), "lab serve: {status}");

    // Merge.
    let total_path = dir.path().join("total.json");
    let mut args: Vec<String> = vec!["merge".into()];
    args.extend(parts.iter().map(|(_, p)| p.display().to_string()));
    args.extend(["--json".into(), total_path.display().to_string()]);
    let (ok, stdout, stderr) = common::lab(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(ok, "lab merge failed: {stderr}");
    assert!(stdout.contains("3 loaders merged"), "{stdout}");
    let total = read_json(&total_path);

    // Every loader worked, from its own namespace, starting at the one time.
    for (i, (part, _)) in parts.iter().enumerate() {
        assert!(u(&part["requests"]) > 0, "loader {} got no response", i + 1);
        assert_eq!(part["tag"], format!("loader{}", i + 1));
        assert_eq!(part["start_at"], parts[0].0["start_at"]);
        assert_eq!(u(&part["errors"]["connect"]), 0, "{}", part["errors"]);
    }
    let sum = |key: &dyn Fn(&serde_json::Value) -> &serde_json::Value| -> u64 {
        parts.iter().map(|(p, _)| u(key(p))).sum()
    };
    assert_eq!(u(&total["requests"]), sum(&|p| &p["requests"]));
    assert_eq!(u(&total["conns"]), 60);
    assert_eq!(
        u(&total["errors"]["timeout"]),
        sum(&|p| &p["errors"]["timeout"])
    );
    assert_eq!(
        u(&total["errors"]["status"]),
        sum(&|p| &p["errors"]["status"])
    );
    assert_eq!(
        u(&total["connections"]["established"]),
        sum(&|p| &p["connections"]["established"])
    );
    assert_eq!(total["start_at"], parts[0].0["start_at"]);
    assert_eq!(total["loaders"].as_array().map(Vec::len), Some(LOADERS));

    // The histogram: exactly the parts' added, bucket by bucket, and the percentiles read from it.
    let mut expected = histogram(&parts[0].0);
    for (part, _) in &parts[1..] {
        expected
            .add(histogram(part))
            .expect("compatible histograms");
    }
    let merged = histogram(&total);
    assert_eq!(
        merged.len(),
        parts.iter().map(|(p, _)| histogram(p).len()).sum::<u64>()
    );
    let buckets = |h: &Histogram<u64>| -> Vec<(u64, u64)> {
        h.iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect()
    };
    assert_eq!(buckets(&merged), buckets(&expected));
    assert_eq!(
        u(&total["latency_us"]["p99"]),
        expected.value_at_quantile(0.99)
    );
    assert_eq!(u(&total["latency_us"]["max"]), expected.max());

    // The timeline, second by second.
    let rows = total["timeline"].as_array().expect("timeline");
    for row in rows {
        let second = u(&row["second"]);
        let of_parts: u64 = parts
            .iter()
            .flat_map(|(p, _)| p["timeline"].as_array().cloned().unwrap_or_default())
            .filter(|r| u(&r["second"]) == second)
            .map(|r| u(&r["requests"]))
            .sum();
        assert_eq!(u(&row["requests"]), of_parts, "second {second}");
    }
    drop(hosts);
}
