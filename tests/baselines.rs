//! `lab compare`'s baselines and bookkeeping, end to end through the real binary: external
//! servers as series (`--external`, measured through `--external-pid` or `--external-cmd`, or
//! said "not measured"), `--series` (a model with its flags), the load flags of every cell,
//! `--resume`, and `--repeat` for the rates and faults experiments. Every comparison here is a
//! few one-second cells, and every report must come back byte for byte from `lab report`.

mod common;

use common::{
    assert_report_reproduces, cell_report, cells, compare, compare_into, lab, lab_ok, plan, Server,
    Target, Transport,
};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The cells a `lab compare` ran, from its progress lines (`[n/total] id ...`).
fn cells_run(stdout: &str) -> usize {
    stdout.lines().filter(|l| l.starts_with('[')).count()
}

/// A port nothing listens on now (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Two `lab serve`s as external servers: one given with its pid (measured), one without (not
/// measured), beside a model, with load flags for every cell. The externals run the plaintext
/// workload only; the measured one has server figures, the other "not measured" in the report
/// and empty fields in the CSV, never 0.
#[test]
fn external_servers_run_beside_the_models_measured_only_when_their_process_is_known() {
    let measured = Server::start("epoll", &[]);
    let unknown = Server::start("single_thread", &[]);
    let pid = measured.pid().to_string();
    let (_tmp, out) = compare(&[
        "--models",
        "epoll",
        "--external",
        &format!("known={}", measured.url("/")),
        "--external-pid",
        &pid,
        "--external",
        &format!("unknown={}", unknown.url("/")),
        "--workloads",
        "hello,sleep",
        "--conns",
        "4",
        "--threads",
        "2",
        "--pipeline",
        "2",
        "--duration",
        "1s",
        "--pause",
        "0s",
    ]);
    let plan = plan(&out);
    assert_eq!(plan["load"]["threads"], 2, "{plan:#}");
    assert_eq!(plan["load"]["pipeline"], 2);
    let externals = plan["externals"].as_array().unwrap();
    assert_eq!(externals.len(), 2);
    assert_eq!(externals[0]["measured"], true);
    assert_eq!(externals[0]["pid"], measured.pid());
    assert_eq!(externals[1]["measured"], false);
    let cells = cells(&plan);
    // epoll on hello and sleep (and epoll+offload on sleep), the externals on hello only.
    for name in ["known", "unknown"] {
        let mine: Vec<&Value> = cells.iter().filter(|c| c["series"] == name).collect();
        assert_eq!(mine.len(), 1, "{name}: {mine:#?}");
        assert_eq!(mine[0]["workload"], "hello");
        assert_eq!(mine[0]["status"], "ok", "{:#}", mine[0]);
    }
    for c in &cells {
        let command: Vec<&str> = c["command"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let line = command.join(" ");
        assert!(
            line.contains("--threads 2") && line.contains("--pipeline 2"),
            "{line}"
        );
        let report = cell_report(&out, c);
        assert_eq!(report["threads"], 2, "{}", c["id"]);
    }
    let known = cells.iter().find(|c| c["series"] == "known").unwrap();
    let known_run = cell_report(&out, known);
    assert_eq!(known_run["external"]["measured"], true);
    assert!(known_run["server"]["peak_threads"].as_u64().unwrap() >= 2);
    assert!(known_run["server"]["peak_pss_bytes"].as_u64().unwrap() > 0);
    let unknown_cell = cells.iter().find(|c| c["series"] == "unknown").unwrap();
    assert_eq!(
        cell_report(&out, unknown_cell)["external"]["measured"],
        false
    );

    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("An external server, a baseline"), "{md}");
    assert!(
        md.contains("2 threads, keep-alive, 2 requests pipelined"),
        "{md}"
    );
    let memory = md
        .split("## 3.")
        .nth(1)
        .unwrap()
        .split("## 4.")
        .next()
        .unwrap();
    assert!(
        memory.contains("| hello | `unknown` | not measured | not measured | not measured |"),
        "{memory}"
    );
    assert!(memory.contains("Not measured: `unknown`"), "{memory}");
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let head: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let pss = head.iter().position(|h| *h == "peak_pss_bytes").unwrap();
    let row = |series: &str| -> Vec<String> {
        csv.lines()
            .find(|l| l.split(',').nth(2) == Some(series))
            .unwrap()
            .split(',')
            .map(str::to_string)
            .collect()
    };
    assert_eq!(row("unknown")[pss], "", "not measured is empty, not 0");
    assert_ne!(row("known")[pss], "");
    assert_report_reproduces(&out);
    measured.stop();
    unknown.stop();
}

/// `--external-cmd`: the lab starts the command before the external's cell, measures it as its
/// own child (CPU from the kernel's rusage) and stops it after; a command that exits before its
/// URL answers is refused before any cell, in one line naming the flag.
#[test]
fn external_cmd_is_started_measured_and_stopped_and_a_failing_one_is_refused() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let cmd = format!(
        "{} serve --model epoll --loops 1 --addr 127.0.0.1:{port}",
        env!("CARGO_BIN_EXE_lab")
    );
    let (tmp, out) = compare(&[
        "--models",
        "single_thread",
        "--external",
        &format!("started={url}"),
        "--external-cmd",
        &cmd,
        "--workloads",
        "hello",
        "--conns",
        "4",
        "--duration",
        "1s",
        "--pause",
        "0s",
    ]);
    let plan = plan(&out);
    let cell = cells(&plan)
        .into_iter()
        .find(|c| c["series"] == "started")
        .expect("the external's cell");
    assert_eq!(cell["status"], "ok", "{cell:#}");
    let run = cell_report(&out, &cell);
    assert_eq!(run["server"]["cpu_source"], "rusage", "{run:#}");
    assert_eq!(run["leftover_processes"], 0);
    assert!(run["requests"].as_u64().unwrap() > 0);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the started server was not stopped"
    );
    assert_report_reproduces(&out);

    let (ok, _, err) = lab(&[
        "compare",
        "--external",
        &format!("x={url}"),
        "--external-cmd",
        "sh -c 'echo cannot bind >&2; exit 3'",
        "--out",
        tmp.path().join("never").to_str().unwrap(),
    ]);
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("--external-cmd") && err.contains("exited") && err.contains("cannot bind"),
        "{err}"
    );
    assert!(!tmp.path().join("never").exists());
}

/// An `--external-cmd` that exits at once but leaves a daemon behind (nginx without
/// `daemon off` does) is refused like any command that exits, rather than hanging the lab on the
/// stderr pipe the daemon still holds; the daemon is the user's to stop, and the test stops it.
#[test]
fn an_external_cmd_that_daemonizes_is_refused_without_hanging() {
    let tmp = tempfile::tempdir().unwrap();
    let pid_file = tmp.path().join("daemon.pid");
    let cmd = format!(
        "sh -c '(sh -c \"echo \\$\\$ > {}; exec sleep 3600\" &); echo forked a daemon >&2; exit 1'",
        pid_file.display()
    );
    let url = format!("http://127.0.0.1:{}/", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args([
            "compare",
            "--external",
            &format!("x={url}"),
            "--external-cmd",
            &cmd,
        ])
        .args(["--out", tmp.path().join("never").to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run lab");
    let mut status = None;
    for _ in 0..600 {
        status = child.try_wait().expect("wait for lab");
        if status.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let daemon = std::fs::read_to_string(&pid_file).unwrap_or_default();
    if let Ok(pid) = daemon.trim().parse::<u32>() {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    let status = status.expect("lab compare returned within a minute");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success());
    assert!(!daemon.trim().is_empty(), "the command forked its daemon");
    assert!(
        err.contains("--external-cmd") && err.contains("exited"),
        "{err}"
    );
}

/// nginx beside a model with the shipped `docs/baselines/nginx.conf` (its port and pid file
/// moved to free ones), started by `--external-cmd` as the README shows. Skipped, saying why,
/// where nginx is not installed.
#[test]
fn nginx_with_the_shipped_config_runs_as_a_baseline() {
    let nginx = ["nginx", "/usr/sbin/nginx"]
        .into_iter()
        .find(|n| Command::new(n).arg("-v").output().is_ok());
    let Some(nginx) = nginx else {
        eprintln!("skipped: nginx is not installed (apt-get install nginx-light to run it)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/baselines/nginx.conf"),
    )
    .unwrap();
    assert!(shipped.contains("return 200 \"Hello, World!\";"));
    let conf = shipped
        .replace("127.0.0.1:8090", &format!("127.0.0.1:{port}"))
        .replace(
            "/tmp/http-lab-nginx-baseline.pid",
            tmp.path().join("nginx.pid").to_str().unwrap(),
        );
    let conf_path = tmp.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let out = tmp.path().join("cmp");
    compare_into(
        &out,
        &[
            "--models",
            "epoll",
            "--workloads",
            "hello",
            "--conns",
            "10",
            "--duration",
            "1s",
            "--pause",
            "0s",
            "--external",
            &format!("nginx=http://127.0.0.1:{port}/"),
            "--external-cmd",
            &format!(
                "{nginx} -e stderr -c {} -g 'daemon off;'",
                conf_path.display()
            ),
        ],
    );
    let cell = cells(&plan(&out))
        .into_iter()
        .find(|c| c["series"] == "nginx")
        .unwrap();
    assert_eq!(cell["status"], "ok", "{cell:#}");
    let run = cell_report(&out, &cell);
    // The master and its one worker.
    assert_eq!(run["server"]["peak_processes"], 2, "{run:#}");
    assert_eq!(run["errors"]["status"], 0);
    assert!(run["requests"].as_u64().unwrap() > 0);
    assert_report_reproduces(&out);
}

/// `--series`: a model with its flags, labelled as typed, replacing the default list; a flag the
/// model does not take, a bad value or an unknown model is refused up front, naming it.
#[test]
fn series_are_models_with_flags_checked_by_the_models_own_parser() {
    let tmp = tempfile::tempdir().unwrap();
    let never = tmp.path().join("never");
    let never = never.to_str().unwrap();
    for (series, names) in [
        ("epoll --loopz 1", "--loopz"),
        ("epoll --loops 0", "--loops"),
        ("epoll --max-children 3", "--max-children"),
        ("epol --loops 1", "epol"),
    ] {
        let (ok, _, err) = lab(&["compare", "--series", series, "--out", never]);
        assert!(!ok, "{series}");
        assert_eq!(err.trim().lines().count(), 1, "{series}: {err}");
        assert!(
            err.contains("--series") && err.contains(names),
            "{series}: {err}"
        );
    }
    assert!(!Path::new(never).exists());

    let out = tmp.path().join("cmp");
    compare_into(
        &out,
        &[
            "--series",
            "epoll --loops 1",
            "--series",
            "epoll  --loops 2",
            "--workloads",
            "hello",
            "--conns",
            "4",
            "--duration",
            "1s",
            "--pause",
            "0s",
        ],
    );
    let plan = plan(&out);
    assert_eq!(plan["models"], serde_json::json!(["epoll"]), "{plan:#}");
    assert_eq!(
        plan["series"],
        serde_json::json!(["epoll --loops 1", "epoll --loops 2"])
    );
    assert_eq!(
        plan["variants"]["epoll --loops 2"],
        serde_json::json!(["--loops", "2"])
    );
    let cells = cells(&plan);
    assert_eq!(cells.len(), 2);
    for (cell, loops) in cells.iter().zip(["1", "2"]) {
        assert_eq!(cell["status"], "ok", "{cell:#}");
        assert_eq!(cell["id"], format!("hello-epoll-loops-{loops}-c4"));
        let command = cell["command"].as_array().unwrap();
        let n = command.len();
        assert_eq!(command[n - 2], "--loops");
        assert_eq!(command[n - 1], loops);
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("**hello, --loops 2**: best"), "{md}");
    assert_report_reproduces(&out);
}

/// Ctrl-C leaves a folder `--resume` finishes: the cells measured before are kept (not run
/// again), the rest run, and the report covers them all. A resume with another plan is refused.
#[test]
fn resume_runs_only_the_cells_an_interruption_left() {
    use std::time::Instant;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let out_s = out.to_str().unwrap();
    let args = [
        "compare",
        "--models",
        "single_thread,epoll",
        "--conns",
        "4,8",
        "--workloads",
        "hello",
        "--duration",
        "2s",
        "--pause",
        "0s",
        "--out",
        out_s,
    ];
    let mut child = common::spawn_lab_job(&args, 0, Duration::ZERO);
    let pid = child.id();
    // Interrupt once the first cell has ended (compare.json says so) and the next is running.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = std::fs::read_to_string(out.join("compare.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .is_some_and(|p| cells(&p).iter().any(|c| c["status"] == "ok"));
        if done && common::descendants(pid).len() >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no cell ended in time");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    common::terminal_ctrl_c(pid);
    let status = common::wait_exit(&mut child, Duration::from_secs(60), "lab compare");
    assert_eq!(status.code(), Some(130));
    let before = plan(&out);
    assert_eq!(before["interrupted"], true);
    let measured = cells(&before)
        .iter()
        .filter(|c| c["status"] == "ok")
        .count();
    assert!((1..4).contains(&measured), "{before:#}");

    // Another plan into the same folder is refused, naming the difference.
    let (ok, _, err) = lab(&[
        "compare",
        "--resume",
        out_s,
        "--models",
        "single_thread,epoll",
        "--conns",
        "4,8",
        "--workloads",
        "hello",
        "--duration",
        "3s",
    ]);
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--duration"), "{err}");

    let stdout = lab_ok(&["compare", "--resume", out_s]);
    assert_eq!(cells_run(&stdout), 4 - measured, "{stdout}");
    assert!(
        stdout.contains(&format!("{measured} kept as measured before")),
        "{stdout}"
    );
    let after = plan(&out);
    assert_eq!(after["interrupted"], false);
    assert_eq!(after["command"], before["command"]);
    assert_eq!(after["resumed"].as_array().unwrap().len(), 1);
    let cells_after = cells(&after);
    assert_eq!(cells_after.len(), 4);
    for c in &cells_after {
        assert_eq!(c["status"], "ok", "{c:#}");
    }
    // The kept cells are the very records measured before.
    for c in cells(&before).iter().filter(|c| c["status"] == "ok") {
        assert!(cells_after.contains(c), "{c:#} not kept");
    }
    assert_report_reproduces(&out);
}

/// `--external-pid` must be the server at the URL: a process that lives but does not listen
/// there (the kernel reused a restarted server's pid, or a typo) would have the report measure
/// the wrong process, so it is refused in one line naming the flag and the process, before any
/// load, over TCP and a Unix socket. The server's own pid is taken over both.
#[test]
fn an_external_pid_that_does_not_listen_at_the_url_is_refused() {
    let mut other = Command::new("sleep").arg("60").spawn().expect("sleep");
    let other_pid = other.id().to_string();
    for transport in [Transport::Tcp, Transport::Unix] {
        let server = Server::start_over(transport, "epoll", &[]);
        let (url, at) = match &server.target {
            Target::Tcp(addr) => (server.url("/"), addr.to_string()),
            Target::Unix(path) => (
                format!("unix:{}:/", path.display()),
                format!("unix:{}", path.display()),
            ),
        };
        let spec = format!("ext={url}");
        let run = |pid: &str| {
            lab(&[
                "run",
                "--external",
                &spec,
                "--external-pid",
                pid,
                "--conns",
                "2",
                "--duration",
                "1s",
            ])
        };
        let (ok, _, err) = run(&other_pid);
        assert!(!ok, "{transport:?}: a pid that does not listen was taken");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!(
                "--external-pid {other_pid}: that process (sleep) and its children do not \
                 listen on {at}"
            )),
            "{transport:?}: {err}"
        );
        let (ok, _, err) = run(&server.pid().to_string());
        assert!(ok, "{transport:?}: the server's own pid was refused: {err}");
    }
    other.kill().expect("kill sleep");
    other.wait().expect("reap sleep");

    // A wrapper (a shell that runs the server as its child, as a start script does): its pid is
    // taken, the listening socket being its child's.
    let url = format!("http://127.0.0.1:{}/", free_port());
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut wrapper = Command::new("sh")
        .args([
            "-c",
            "\"$0\" serve --model single_thread --addr \"$1\"; :",
            env!("CARGO_BIN_EXE_lab"),
            &addr,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("sh");
    let answered = (0..250).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        std::net::TcpStream::connect(&addr).is_ok()
    });
    assert!(answered, "the wrapped server never listened on {addr}");
    let shell = wrapper.id().to_string();
    let (ok, _, err) = lab(&[
        "run",
        "--external",
        &format!("wrapped={url}"),
        "--external-pid",
        &shell,
        "--conns",
        "2",
        "--duration",
        "1s",
    ]);
    for child in common::descendants(wrapper.id()) {
        common::signal(child, libc::SIGTERM);
    }
    wrapper.wait().expect("reap the wrapper");
    assert!(
        ok,
        "a wrapper whose child serves the URL was refused: {err}"
    );
}

/// A comparison with `--external-pid` whose server was restarted since (a new pid at the same
/// URL) resumes with `--resume DIR --external-pid NEW`: the cells measured before are kept (the
/// external server's too, run with the old pid), the rest sample the new process, and the report
/// names both. Alone, the resume is refused in one
/// line naming the flag and how to give the new pid; with nothing answering at the URL, it is
/// refused whatever the pid.
#[test]
fn resume_takes_a_restarted_external_servers_new_pid() {
    let first = Server::start("epoll", &[]);
    let addr = first.addr.to_string();
    let old_pid = first.pid().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let out_s = out.to_str().unwrap();
    compare_into(
        &out,
        &[
            "--models",
            "single_thread",
            "--external",
            &format!("ext={}", first.url("/")),
            "--external-pid",
            &old_pid,
            "--workloads",
            "hello",
            "--conns",
            "4,8",
            "--duration",
            "1s",
            "--pause",
            "0s",
        ],
    );
    // As an interruption during the external server's cell leaves the folder.
    let path = out.join("compare.json");
    let mut before = plan(&out);
    let ext = cells(&before)
        .iter()
        .position(|c| c["series"] == "ext" && c["conns"] == 8)
        .unwrap();
    before["cells"][ext]["status"] = "failed".into();
    before["cells"][ext]["reason"] = "interrupted".into();
    before["interrupted"] = true.into();
    std::fs::write(&path, serde_json::to_string_pretty(&before).unwrap()).unwrap();
    drop(first);
    let second = Server::start_on("epoll", &addr, &[]);
    let new_pid = second.pid().to_string();
    assert_ne!(new_pid, old_pid);

    // The old pid reused by an unrelated process (here: the folder's command names a live
    // process that is not the server) is refused as well, with the same advice.
    let mut reused = Command::new("sleep").arg("60").spawn().expect("sleep");
    let reused_pid = reused.id().to_string();
    let typed = std::fs::read_to_string(&path).unwrap();
    let as_reused = typed.replace(
        &format!("\"--external-pid\",\n    \"{old_pid}\""),
        &format!("\"--external-pid\",\n    \"{reused_pid}\""),
    );
    assert_ne!(
        as_reused, typed,
        "the command's pid was not found in compare.json"
    );
    std::fs::write(&path, &as_reused).unwrap();
    let (ok, _, err) = lab(&["compare", "--resume", out_s]);
    assert!(!ok, "a reused pid was taken");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "--external-pid {reused_pid}: that process (sleep) and its children do not listen"
        )) && err.contains(&format!(
            "`lab compare --resume {out_s} --external-pid PID`"
        )),
        "{err}"
    );
    reused.kill().expect("kill sleep");
    reused.wait().expect("reap sleep");
    std::fs::write(&path, &typed).unwrap();

    let (ok, _, err) = lab(&["compare", "--resume", out_s]);
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("--external-pid {old_pid}: no such process"))
            && err.contains(&format!(
                "`lab compare --resume {out_s} --external-pid PID`"
            )),
        "{err}"
    );

    let stdout = lab_ok(&["compare", "--resume", out_s, "--external-pid", &new_pid]);
    assert_eq!(cells_run(&stdout), 1, "{stdout}");
    assert!(stdout.contains("3 kept as measured before"), "{stdout}");
    let after = plan(&out);
    assert_eq!(after["command"], before["command"]);
    assert_eq!(after["externals"][0]["pid"], second.pid());
    let cells_after = cells(&after);
    assert_eq!(cells_after.len(), 4);
    // The cells measured before are kept as they were, the external server's at 4 connections
    // with its old pid.
    for (i, c) in cells(&before).iter().enumerate().filter(|(i, _)| *i != ext) {
        assert_eq!(&cells_after[i], c, "not kept");
    }
    let ext_cell = &cells_after[ext];
    assert_eq!(ext_cell["status"], "ok", "{ext_cell:#}");
    let line = ext_cell["command"].to_string();
    assert!(
        line.contains(&format!("\"--external-pid\",\"{new_pid}\"")),
        "{line}"
    );
    assert_eq!(cell_report(&out, ext_cell)["external"]["pid"], second.pid());
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains(&format!(
            "processes {old_pid} and {new_pid} (restarted during the comparison)"
        )),
        "{md}"
    );
    assert_report_reproduces(&out);

    drop(second);
    let (ok, _, err) = lab(&["compare", "--resume", out_s, "--external-pid", &new_pid]);
    assert!(!ok);
    assert!(
        err.contains("--external ext=") && err.contains("nothing answers"),
        "{err}"
    );
}

/// `--repeat 2` applies to the rates and faults cells too: each rate and each fault cell runs
/// twice, and the report gives one step per rate and one row per series, saying so.
#[test]
fn repeat_applies_to_rates_and_faults_cells() {
    let (_tmp, out) = compare(&[
        "--models",
        "single_thread",
        "--experiments",
        "rates,faults",
        "--rates",
        "100,200",
        "--rate-conns",
        "1",
        "--slo",
        "100ms",
        "--workloads",
        "hello",
        "--repeat",
        "2",
        "--seed",
        "7",
        "--duration",
        "1s",
        "--pause",
        "0s",
    ]);
    let cells = cells(&plan(&out));
    let of = |experiment: &str| -> Vec<&Value> {
        cells
            .iter()
            .filter(|c| c["experiment"] == experiment)
            .collect()
    };
    let rates = of("rates");
    assert_eq!(rates.len(), 4, "{rates:#?}");
    for rate in [100.0, 200.0] {
        let runs: Vec<u64> = rates
            .iter()
            .filter(|c| c["rate"] == rate)
            .map(|c| c["run"].as_u64().unwrap())
            .collect();
        assert_eq!(runs, [1, 2], "rate {rate}");
    }
    let faults = of("faults");
    assert_eq!(faults.len(), 2, "{faults:#?}");
    assert_eq!(faults[0]["id"], "faults-single_thread-r1");
    assert_eq!(faults[1]["run"], 2);
    for c in rates.iter().chain(&faults) {
        assert_eq!(c["status"], "ok", "{c:#}");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("Each rate ran 2 times per series"), "{md}");
    let table = md.split("## Fault isolation").nth(1).unwrap();
    assert_eq!(
        table.matches("| `single_thread` |").count(),
        1,
        "one row per series: {table}"
    );
    assert!(table.contains("of 2 runs"), "{table}");
    assert_report_reproduces(&out);
}
