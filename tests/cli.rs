//! The `lab` command line: listing models, one-line errors for bad flags and impossible settings.

mod common;

use common::lab;

/// `lab models` lists every registered model, one line each, and no other.
#[test]
fn models_lists_every_registered_model() {
    let (ok, stdout, _) = lab(&["models"]);
    assert!(ok);
    for model in http_lab::models::ALL {
        assert!(
            stdout.lines().any(|l| l.starts_with(model.name())),
            "{} missing from:\n{stdout}",
            model.name()
        );
    }
    assert_eq!(stdout.lines().count(), http_lab::models::ALL.len());
}

#[test]
fn bad_flags_get_one_line_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["serve", "--model", "nope"], "--model"),
        (
            &["serve", "--model", "single_thread", "--addr", "nonsense"],
            "--addr",
        ),
        (
            &["serve", "--model", "single_thread", "--max-headers", "0"],
            "--max-headers",
        ),
        (
            &["serve", "--model", "single_thread", "--max-headers", "1000"],
            "--max-headers",
        ),
        (
            &[
                "serve",
                "--model",
                "single_thread",
                "--header-timeout",
                "abc",
            ],
            "--header-timeout",
        ),
        (
            &["serve", "--model", "single_thread", "--idle-timeout", "0"],
            "--idle-timeout",
        ),
        (
            &[
                "serve",
                "--model",
                "single_thread",
                "--max-target-bytes",
                "100000",
            ],
            "--max-target-bytes",
        ),
        (
            &[
                "serve",
                "--model",
                "thread_per_request",
                "--stack-size",
                "100",
            ],
            "--stack-size",
        ),
        (
            &[
                "serve",
                "--model",
                "thread_per_request",
                "--max-threads",
                "0",
            ],
            "--max-threads",
        ),
        (
            &[
                "serve",
                "--model",
                "single_thread",
                "--docroot",
                "/no/such/dir",
            ],
            "--docroot",
        ),
        (&["serve", "--model", "single_thread", "--bogus"], "--bogus"),
    ];
    for (args, flag) in cases {
        let (ok, stdout, stderr) = lab(args);
        assert!(!ok, "{args:?} should fail");
        assert!(stdout.is_empty(), "{args:?} printed on stdout: {stdout}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?}: not one line:\n{stderr}"
        );
        assert!(
            stderr.contains(flag),
            "{args:?}: {stderr} does not name {flag}"
        );
    }
}

#[test]
fn address_in_use_names_the_flag_and_the_fix() {
    let server = common::Server::start("single_thread", &[]);
    let addr = server.addr.to_string();
    let (ok, _, stderr) = lab(&["serve", "--model", "single_thread", "--addr", &addr]);
    assert!(!ok);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--addr") && stderr.contains("already in use"),
        "{stderr}"
    );
    let (status, _) = server.stop();
    assert!(status.success());
}

/// `--addr unix:PATH`: a live server's socket and a regular file are refused in one line naming
/// the flag (the file untouched); a stale socket file (its server gone) is replaced.
#[test]
fn a_unix_address_replaces_only_a_stale_socket() {
    let live = common::Server::start_over(common::Transport::Unix, "single_thread", &[]);
    let common::Target::Unix(socket) = live.target.clone() else {
        panic!("not a Unix server");
    };
    let addr = format!("unix:{}", socket.display());
    let (ok, _, stderr) = lab(&["serve", "--model", "single_thread", "--addr", &addr]);
    assert!(!ok);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--addr unix:") && stderr.contains("listening"),
        "{stderr}"
    );
    let (status, _) = live.stop();
    assert!(status.success());

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "keep").unwrap();
    let addr = format!("unix:{}", file.display());
    let (ok, _, stderr) = lab(&["serve", "--model", "single_thread", "--addr", &addr]);
    assert!(!ok);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--addr unix:") && stderr.contains("not a socket"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");

    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let addr = format!("unix:{}", stale.display());
    let server = common::Server::start_on("single_thread", &addr, &[]);
    assert_eq!(server.connect().get("/hello").status, 200);
    let (status, _) = server.stop();
    assert!(status.success());
    assert!(!stale.exists(), "removed at exit");
}

#[test]
fn sigint_also_stops_gracefully() {
    let server = common::Server::start("thread_per_request", &[]);
    let mut c = server.connect();
    assert_eq!(c.get("/hello").status, 200);
    common::signal(server.pid(), libc::SIGINT);
    drop(c);
    let (status, _) = server.stop();
    assert!(status.success(), "{status}");
}

/// The README's server-flag table names every model's flags (they are declared in the model
/// crates, so a new flag must be documented where users look).
#[test]
fn readme_documents_every_model_flag() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    for (model, arg) in http_lab::models::declared_args() {
        let long = arg.get_long().expect("model flags are long flags");
        assert!(
            readme.contains(&format!("`--{long}`")),
            "README.md does not document {model}'s --{long}"
        );
    }
}

/// Issue 14: clap's message was cut to its first line, so "the following required arguments were
/// not provided:" came with nothing after it, and a bad value lost the valid values and clap's
/// suggestion.
#[test]
fn usage_errors_keep_the_name_the_valid_values_and_the_suggestion() {
    let names: Vec<&str> = http_lab::models::ALL.iter().map(|m| m.name()).collect();
    let models = names.join(", ");
    let models = models.as_str();
    let cases: &[(&[&str], &[&str])] = &[
        (&["serve"], &["not provided", "--model"]),
        (&["run", "--conns", "10"], &["not provided", "--model"]),
        (&["load"], &["not provided", "<URL>"]),
        (
            &["serve", "--model", "epol"],
            &["'epol'", "--model", models, "similar value exists: 'epoll'"],
        ),
        (
            &["compare", "--workloads", "foo"],
            &["'foo'", "--workloads", "hello, cpu, sleep, static"],
        ),
        (
            &["compare", "--workloads", "hello,slep"],
            &["'slep'", "similar value exists: 'sleep'"],
        ),
        (
            &["load", "http://127.0.0.1:1/", "--bodi", "x"],
            &["--bodi", "similar argument exists: '--body'"],
        ),
        (&["completions", "tcsh"], &["'tcsh'", "bash", "zsh", "fish"]),
        (
            &["compare", "--models", "epol", "--out", "/tmp/never"],
            &["`epol`", models, "did you mean `epoll`?"],
        ),
    ];
    for (args, wanted) in cases {
        let (ok, stdout, stderr) = lab(args);
        assert!(!ok, "{args:?} should fail");
        assert!(stdout.is_empty(), "{args:?} printed on stdout: {stdout}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?}: not one line:\n{stderr}"
        );
        assert!(!stderr.contains("Usage:"), "{args:?}: {stderr}");
        for w in *wanted {
            assert!(stderr.contains(w), "{args:?}: {stderr} lacks {w:?}");
        }
    }
}

/// `lab load --json - ...` with the given extra arguments against `server`: (report, stderr).
fn load_json_stdout(server: &common::Server, args: &[&str]) -> (serde_json::Value, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = server.url("/");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["load", &url, "--json", "-", "-q", "--timeout", "5s"])
        .args(args)
        .current_dir(dir.path())
        .output()
        .expect("run lab load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "lab load {args:?}: {stderr}");
    assert!(
        !dir.path().join("-").exists(),
        "--json - wrote a file named '-'"
    );
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not the JSON report ({e}):\n{stdout}"));
    (report, stderr)
}

/// Issue 14: `--json -` wrote a file named `-`.
#[test]
fn json_dash_is_stdout_and_the_summary_goes_to_stderr() {
    let server = common::Server::start("epoll", &["--loops", "1"]);
    let (report, stderr) = load_json_stdout(&server, &["-c", "2", "--requests", "50"]);
    assert_eq!(report["requests"], 50);
    assert!(
        stderr.contains("Requests/sec"),
        "no summary on stderr:\n{stderr}"
    );
    let (status, _) = server.stop();
    assert!(status.success());
}

/// Issue 14: `-H "Host: x"` was sent after the URL's Host, and two Host fields are a 400.
#[test]
fn a_user_host_header_replaces_the_default_one() {
    let server = common::Server::start("epoll", &["--loops", "1"]);
    let (report, _) = load_json_stdout(
        &server,
        &["-c", "2", "--requests", "50", "-H", "Host: example.test"],
    );
    assert_eq!(report["requests"], 50);
    assert_eq!(report["errors"]["status"], 0, "{}", report["errors"]);
    let (status, _) = server.stop();
    assert!(status.success());
}

/// Issue 14: wrk's `--connections`, SI suffixes for counts and rates, and `-d` on compare.
#[test]
fn wrk_habits_connections_and_si_suffixes() {
    let server = common::Server::start("epoll", &["--loops", "1"]);
    let (report, _) = load_json_stdout(
        &server,
        &["--connections", "2", "-R", "2k", "--requests", "1k"],
    );
    assert_eq!(report["conns"], 2);
    assert_eq!(report["rate"], 2000.0);
    assert_eq!(report["requests"], 1000);
    let (status, _) = server.stop();
    assert!(status.success());

    // `-d` and `-c` reach compare's checks (which refuse these values before running anything).
    let (ok, _, stderr) = lab(&["compare", "-d", "0s", "--out", "/tmp/never"]);
    assert!(
        !ok && stderr.contains("--duration must be above 0"),
        "{stderr}"
    );
    let (ok, _, stderr) = lab(&["compare", "-c", "1k,0", "--out", "/tmp/never"]);
    assert!(!ok && stderr.contains("--conns"), "{stderr}");
}

/// Issue 14: `--addr localhost:8080` and `--addr :8080` were refused.
#[test]
fn addr_takes_a_host_name_or_a_port_alone() {
    for addr in ["localhost:0", ":0"] {
        let server = common::Server::start_on("single_thread", addr, &[]);
        assert!(
            server.addr.ip().is_loopback(),
            "--addr {addr}: {}",
            server.addr
        );
        let mut c = server.connect();
        assert_eq!(c.get("/hello").status, 200, "--addr {addr}");
        drop(c);
        let (status, _) = server.stop();
        assert!(status.success(), "--addr {addr}: {status}");
    }
}

/// Issue 14: `lab --version` names the commit it was built from.
#[test]
fn version_names_the_commit() {
    let (ok, stdout, _) = lab(&["--version"]);
    assert!(ok);
    assert!(
        stdout.starts_with(concat!("lab ", env!("CARGO_PKG_VERSION"), " (commit ")),
        "{stdout}"
    );
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match head {
        Some(head) => assert!(stdout.contains(&head), "{stdout} does not name {head}"),
        None => eprintln!("not a git checkout: only the shape of --version was checked"),
    }
}

/// Issue 14: completions and man pages come from the same clap definitions as the CLI.
#[test]
fn completions_and_man_pages_are_generated() {
    for (shell, marker) in [
        ("bash", "_lab()"),
        ("zsh", "#compdef lab"),
        ("fish", "complete -c lab"),
    ] {
        let (ok, script, stderr) = lab(&["completions", shell]);
        assert!(ok, "{shell}: {stderr}");
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        for word in ["serve", "compare", "conns", "connections", "model"] {
            assert!(script.contains(word), "{shell}: {word} missing");
        }
    }
    // The bash script is valid bash (when bash is there to say so).
    let (_, script, _) = lab(&["completions", "bash"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("lab.bash");
    std::fs::write(&file, script).expect("write");
    if let Ok(out) = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
    {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let (ok, page, _) = lab(&["man"]);
    assert!(ok);
    assert!(page.contains(".TH lab 1"), "{page}");
    assert!(page.contains("serve") && page.contains("compare"));
    let out = dir.path().join("man");
    let (ok, _, stderr) = lab(&["man", "--out", out.to_str().expect("utf-8")]);
    assert!(ok, "{stderr}");
    let run = std::fs::read_to_string(out.join("lab-run.1")).expect("lab-run.1 written");
    assert!(
        run.contains("\\-\\-conns") && run.contains("\\-\\-model"),
        "{run}"
    );
    for page in ["lab.1", "lab-serve.1", "lab-load.1", "lab-compare.1"] {
        assert!(out.join(page).is_file(), "{page} missing");
    }
}

/// Issue 14: `lab run --json -` too: the run report on stdout, both summaries on stderr.
#[test]
fn lab_run_json_dash_is_stdout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["run", "--model", "single_thread", "--conns", "2"])
        .args(["--duration", "1s", "-q", "--json", "-"])
        .current_dir(dir.path())
        .output()
        .expect("run lab run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not the JSON report ({e}):\n{stdout}"));
    assert_eq!(report["model"], "single_thread");
    assert!(
        stderr.contains("Requests/sec") && stderr.contains("peak PSS"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("-").exists(),
        "--json - wrote a file named '-'"
    );
}

/// Where io_uring cannot run (simulated with HTTP_LAB_DISABLE_IO_URING, as a seccomp profile
/// cannot be applied from a test), `lab models` marks it unavailable with the reason and
/// `lab serve --model io_uring` fails with one line saying why and what to do.
#[test]
fn io_uring_unavailable_is_reported_in_one_line() {
    let lab_env = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_lab"))
            .args(args)
            .env("HTTP_LAB_DISABLE_IO_URING", "1")
            .output()
            .expect("run lab");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stdout, _) = lab_env(&["models"]);
    assert!(ok);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("io_uring"))
        .expect("io_uring listed");
    assert!(
        line.contains("(unavailable here: disabled by HTTP_LAB_DISABLE_IO_URING"),
        "{line}"
    );
    let (ok, stdout, stderr) = lab_env(&["serve", "--model", "io_uring", "--addr", "127.0.0.1:0"]);
    assert!(!ok, "serve must fail");
    assert!(stdout.is_empty(), "nothing listened: {stdout}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with("lab: --model io_uring: disabled by HTTP_LAB_DISABLE_IO_URING"),
        "{stderr}"
    );
}
