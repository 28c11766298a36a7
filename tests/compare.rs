//! `lab compare` and `lab report` end to end: a small comparison of every built model runs, its
//! report has a chart in every section and names every model, `lab report` rewrites it byte for
//! byte, and (where Chromium is installed) the page renders without a console error.

mod common;

use common::lab;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn built_models() -> Vec<String> {
    let (ok, out, _) = lab(&["models"]);
    assert!(ok);
    out.lines()
        .filter(|l| !l.contains("not built yet") && !l.contains("(unavailable"))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// One comparison shared by the tests of this file (it takes a minute or two): every built
/// model at 10 and 50 connections, `/` and `/sleep/10` (so epoll runs with offload off and on).
fn compared() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("temp dir");
        let out = tmp.path().join("cmp");
        let out_s = out.to_str().expect("utf-8 path");
        let (ok, stdout, stderr) = lab(&[
            "compare",
            "--models",
            "all",
            "--conns",
            "10,50",
            "--workloads",
            "hello,sleep",
            "--duration",
            "1s",
            "--pause",
            "200ms",
            "--out",
            out_s,
        ]);
        assert!(ok, "lab compare failed:\n{stdout}\n{stderr}");
        (tmp, out)
    })
    .1
}

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).expect("prefix").to_path_buf());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn compare_runs_every_cell_and_the_report_covers_every_section_and_model() {
    let dir = compared();
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("compare.json")).unwrap()).unwrap();
    let cells = plan["cells"].as_array().expect("cells");
    let models = built_models();
    // Per workload: every model at two sizes; on /sleep (a workload that blocks) also each
    // model's offload variant (epoll+offload, io_uring+offload) at two sizes.
    let variants: usize = http_lab::models::ALL
        .iter()
        .filter(|m| models.iter().any(|x| x == m.name()))
        .map(|m| m.info().variants.len())
        .sum();
    assert_eq!(cells.len(), models.len() * 2 * 2 + 2 * variants, "{plan:#}");
    for cell in cells {
        assert_eq!(cell["status"], "ok", "cell failed: {cell:#}");
        let file = dir.join(format!("cells/{}.json", cell["id"].as_str().unwrap()));
        assert!(file.is_file(), "{} missing", file.display());
    }
    for key in [
        "cores",
        "kernel",
        "somaxconn",
        "ip_local_port_range",
        "open_files_soft",
    ] {
        assert!(plan["environment"].get(key).is_some(), "environment.{key}");
    }

    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(!html.contains("<script"), "the page needs no script");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "the page fetches nothing"
    );
    for model in &models {
        assert!(
            html.contains(model.as_str()),
            "the report does not name {model}"
        );
    }
    assert!(html.contains("epoll+offload"));
    // Sections 1 to 6 each have at least one chart; section 7 has the commands.
    let sections: Vec<&str> = html.split("<h2 id=").skip(1).collect();
    let ids = [
        "summary",
        "models",
        "throughput",
        "latency",
        "memory",
        "costs",
        "errors",
        "handlers",
        "environment",
    ];
    assert_eq!(sections.len(), ids.len());
    for (section, id) in sections.iter().zip(ids) {
        assert!(
            section.starts_with(&format!("\"{id}\"")),
            "section order: {id}"
        );
        if !matches!(id, "summary" | "models" | "environment") {
            assert!(section.contains("<svg"), "section {id} has no chart");
            assert!(
                section.contains("class=\"reading\""),
                "section {id} has no reading"
            );
        }
    }
    assert!(sections[8].contains("lab compare --models all --conns 10,50"));

    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), cells.len() + 1);
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for line in md.lines().filter(|l| l.starts_with("![")) {
        let file = line.split("](").nth(1).unwrap().trim_end_matches(')');
        assert!(dir.join(file).is_file(), "{file} missing beside report.md");
    }
}

#[test]
fn lab_report_rewrites_the_report_byte_for_byte() {
    let dir = compared();
    let copy = tempfile::tempdir().unwrap();
    // Only the JSON goes over: the report is made again from it alone.
    std::fs::create_dir_all(copy.path().join("cells")).unwrap();
    std::fs::copy(dir.join("compare.json"), copy.path().join("compare.json")).unwrap();
    for f in all_files(dir) {
        if f.starts_with("cells") && f.extension().is_some_and(|e| e == "json") {
            std::fs::copy(dir.join(&f), copy.path().join(&f)).unwrap();
        }
    }
    let (ok, _, stderr) = lab(&["report", copy.path().to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let generated: Vec<PathBuf> = all_files(dir)
        .into_iter()
        .filter(|f| !f.starts_with("cells") && f != Path::new("compare.json"))
        .collect();
    assert!(generated.len() >= 9, "{generated:?}");
    for f in &generated {
        let a = std::fs::read(dir.join(f)).unwrap();
        let b = std::fs::read(copy.path().join(f))
            .unwrap_or_else(|_| panic!("{} not regenerated", f.display()));
        assert!(a == b, "{} differs after `lab report`", f.display());
    }
}

#[test]
fn the_page_renders_in_headless_chromium_without_console_errors() {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        eprintln!("skipped: no chromium on this machine (apt-get install chromium to run it)");
        return;
    };
    let dir = compared();
    let profile = tempfile::tempdir().unwrap();
    let shot = profile.path().join("report.png");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1280,3000")
        .arg(format!("file://{}", dir.join("index.html").display()))
        .output()
        .expect("run chromium");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let console: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Failed to load"))
        .collect();
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    // A blank page is a few KiB; charts and tables make it hundreds.
    assert!(size > 50_000, "screenshot is {size} bytes:\n{stderr}");
}

#[test]
fn compare_refuses_bad_flags_in_one_line() {
    let (ok, _, err) = lab(&["compare", "--models", "nope", "--out", "/tmp/never"]);
    assert!(!ok);
    assert!(err.contains("--models") && err.contains("nope"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (ok, _, err) = lab(&["compare", "--conns", "0", "--out", "/tmp/never"]);
    assert!(!ok && err.contains("--conns"), "{err}");
    let (ok, _, err) = lab(&["report", "/nonexistent/folder"]);
    assert!(!ok && err.contains("compare.json"), "{err}");
}

#[test]
fn compare_exits_non_zero_when_every_cell_failed() {
    // More connections than any machine has descriptors for: every cell's `lab run` refuses.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let (ok, stdout, stderr) = lab(&[
        "compare",
        "--models",
        "epoll",
        "--conns",
        "100000000",
        "--workloads",
        "hello",
        "--duration",
        "1s",
        "--pause",
        "0s",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("every cell failed"), "{stderr}");
    assert!(
        out.join("report.md").exists(),
        "the report is still written"
    );
}

/// The process group of `pid`, from `/proc/PID/stat` (field 5).
fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(2)?.parse().ok()
}

#[test]
fn ctrl_c_interrupts_compare_which_says_so_and_exits_130() {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args([
            "compare",
            "--models",
            "epoll",
            "--conns",
            "10,20",
            "--workloads",
            "hello",
            "--duration",
            "10s",
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id();
    // Wait for the first cell's server (compare → lab run → lab serve), then a moment of load.
    let deadline = Instant::now() + Duration::from_secs(30);
    while common::descendants(pid).len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    // A terminal's Ctrl-C: SIGINT to every process of the foreground group.
    let group = process_group(pid).unwrap();
    let mut tree = vec![pid];
    tree.extend(common::descendants(pid));
    for p in tree {
        if process_group(p) == Some(group) {
            common::signal(p, libc::SIGINT);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "lab compare did not stop after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let out_text = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out_text.stdout);
    assert_eq!(status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("interrupted after"), "{stdout}");
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    assert_eq!(plan["interrupted"], true);
    assert!(plan["cells"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["status"] == "pending"));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("The comparison was interrupted after"), "{md}");
}
