//! A handler panic costs one log line, never a backtrace: with `RUST_BACKTRACE=1` in the
//! server's environment, Rust's default hook would capture and symbolise a backtrace for every
//! `GET /crash` (+72 MB RSS and ~100 ms of CPU for the first panic of each process). Every
//! registered model, through the real binary.

mod common;

use common::Server;

/// The panic message of `GET /crash` (in `lab_core::app`).
const CRASH_MESSAGE: &str = "/crash: the handler panicked on purpose";

/// Sends `GET /crash` on `n` connections; each must get its 500.
fn crash(server: &Server, n: usize) {
    for _ in 0..n {
        let mut c = server.connect();
        let r = c.get("/crash");
        assert_eq!(r.status, 500, "{}: /crash", server.model);
    }
}

/// With `-v`: one line per panic, naming the handler, the place and the message; no backtrace.
fn verbose_panic_is_one_line(model: &str) {
    let server = Server::start_with_env(model, &["-v"], &[("RUST_BACKTRACE", "1")]);
    crash(&server, 3);
    let (status, stderr) = server.stop();
    assert!(
        status.success(),
        "{model}: exit {status}; stderr:\n{stderr}"
    );
    let panic_lines: Vec<&str> = stderr.lines().filter(|l| l.contains("panicked")).collect();
    assert_eq!(panic_lines.len(), 3, "{model}: stderr:\n{stderr}");
    for line in panic_lines {
        assert!(
            line.starts_with("handler panicked at ") && line.ends_with(CRASH_MESSAGE),
            "{model}: {line:?}"
        );
    }
    assert!(
        !stderr.contains("stack backtrace") && !stderr.contains("RUST_BACKTRACE"),
        "{model}: a backtrace was printed:\n{stderr}"
    );
}

/// Without `-v`: nothing at all.
fn quiet_panic_prints_nothing(model: &str) {
    let server = Server::start_with_env(model, &[], &[("RUST_BACKTRACE", "full")]);
    crash(&server, 2);
    let (status, stderr) = server.stop();
    assert!(
        status.success(),
        "{model}: exit {status}; stderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{model}: stderr:\n{stderr}");
}

/// Runs `check` against every registered model that can run here.
fn every_model(check: fn(&str)) {
    for model in http_lab::models::ALL {
        if model.available().is_ok() {
            check(model.info().name);
        }
    }
}

#[test]
fn verbose_panic_is_one_line_in_every_model() {
    every_model(verbose_panic_is_one_line);
}

#[test]
fn quiet_panic_prints_nothing_in_every_model() {
    every_model(quiet_panic_prints_nothing);
}
