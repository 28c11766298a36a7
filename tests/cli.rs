//! The `lab` command line: listing models, one-line errors for bad flags and impossible settings.

mod common;

use common::lab;

#[test]
fn models_lists_all_seven() {
    let (ok, stdout, _) = lab(&["models"]);
    assert!(ok);
    for name in [
        "single_thread",
        "fork_per_request",
        "process_pool",
        "thread_per_request",
        "hybrid_pool",
        "epoll",
        "io_uring",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(name)),
            "{name} missing from:\n{stdout}"
        );
    }
    assert_eq!(stdout.lines().count(), 7);
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
        line.contains("(unavailable: disabled by HTTP_LAB_DISABLE_IO_URING"),
        "{line}"
    );
    let (ok, stdout, stderr) = lab_env(&["serve", "--model", "io_uring", "--addr", "127.0.0.1:0"]);
    assert!(!ok, "serve must fail");
    assert!(stdout.is_empty(), "nothing listened: {stdout}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with("lab: --model io_uring: disabled by HTTP_LAB_DISABLE_IO_URING"),
        "{stderr}"
    );
}
