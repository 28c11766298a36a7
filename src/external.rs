//! A server outside the lab as a series (`--external NAME=URL`, nginx say): its URL, and how its
//! process is known, if it is (`--external-pid PID`, or `--external-cmd 'CMD'`, which the lab
//! starts, waits for, measures and stops around every run, as it does a model's `lab serve`).
//!
//! An external server is loaded like a model, but the lab cannot start it on a port of its
//! choosing, nor know its routes: it serves the plaintext workload at the URL given, and its
//! memory and CPU are measured only when its process is known. Otherwise the report says "not
//! measured", never 0.

use lab_core::net::Stream;
use loadgen::Target;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started command may take before its URL answers.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// One probe's connect, write and read bound.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// `NAME=URL`, checked: the name is a series label (letters, digits, `-`, `_`, `.`), the URL
/// `http://host:port/path`.
pub fn parse_spec(text: &str) -> Result<(String, String), String> {
    let (name, url) = text.split_once('=').ok_or_else(|| {
        format!("--external {text}: expected NAME=URL, e.g. nginx=http://127.0.0.1:8090/")
    })?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "--external {text}: the name must be letters, digits, '-', '_' or '.'"
        ));
    }
    loadgen::Config::for_url(url.trim()).map_err(|e| format!("--external {text}: {e}"))?;
    Ok((name.to_string(), url.trim().to_string()))
}

/// The address of `url` (already checked by [`parse_spec`]): TCP, or a Unix socket's path.
fn target_of(url: &str) -> Result<Target, String> {
    let config = loadgen::Config::for_url(url).map_err(|e| format!("{url}: {e}"))?;
    Ok(config.target)
}

/// A connection to `target` (a TCP connect bounded by `timeout`; a Unix connect does not wait).
pub fn connect(target: &Target, timeout: Duration) -> std::io::Result<Stream> {
    match target {
        Target::Tcp(addr) => TcpStream::connect_timeout(addr, timeout).map(Stream::Tcp),
        Target::Unix(path) => UnixStream::connect(path).map(Stream::Unix),
    }
}

/// One `GET` of `url`: `Ok` if an HTTP/1.x status line came back; else what happened.
pub fn probe(url: &str) -> Result<(), String> {
    let config = loadgen::Config::for_url(url).map_err(|e| e.to_string())?;
    let mut stream = connect(&config.target, PROBE_TIMEOUT)
        .map_err(|e| format!("nothing answers there ({e})"))?;
    stream
        .set_read_timeout(Some(PROBE_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(PROBE_TIMEOUT)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        config.path, config.host
    )
    .map_err(|e| format!("cannot send a request ({e})"))?;
    let mut head = [0u8; 8];
    stream
        .read_exact(&mut head)
        .map_err(|e| format!("no answer ({e})"))?;
    if head.starts_with(b"HTTP/1.") {
        Ok(())
    } else {
        Err("the answer is not HTTP/1.x".into())
    }
}

/// Whether `pid` is the server at `url`: a live process that (or one of whose children) holds a
/// socket listening on the URL's address. A pid that only lives (reused by the kernel after the
/// server restarted, or mistyped) would have the report measure the wrong process. When `/proc`
/// cannot tell (another network namespace, another user's process) a live process is taken.
pub fn check_pid(pid: u32, url: &str) -> Result<(), String> {
    let gone = || format!("--external-pid {pid}: no such process");
    if !loadgen::procmon::is_alive(pid) {
        return Err(gone());
    }
    let target = target_of(url)?;
    match loadgen::procmon::listens_on(pid, &target) {
        Some(false) if !loadgen::procmon::is_alive(pid) => Err(gone()),
        Some(false) => Err(format!(
            "--external-pid {pid}: that process ({}) and its children do not listen on {target}: \
             give the pid of the server at {url} (e.g. `pgrep -o nginx`, or `ss -ltnp`)",
            loadgen::procmon::command_name(pid).unwrap_or_else(|| "?".into())
        )),
        Some(true) | None => Ok(()),
    }
}

/// An external server started from `--external-cmd` (`sh -c 'exec CMD'`, so that the shell
/// becomes the server and its pid is the server's), in a process group of its own (a terminal's
/// Ctrl-C reaches `lab` only) and with the lab as its parent (so its CPU is in the lab's
/// `RUSAGE_CHILDREN` once it has been waited for).
pub struct Started {
    child: Child,
    stderr: Option<crate::run::StderrText>,
}

impl Started {
    /// Starts `command`, pinned to `cpus` unless empty, and waits until `url` answers. A command
    /// that exits first, or a URL that does not answer within [`START_TIMEOUT`], is an error
    /// naming the flag.
    pub fn start(command: &str, url: &str, cpus: &[usize]) -> Result<Started, String> {
        let addr = target_of(url)?;
        if connect(&addr, PROBE_TIMEOUT).is_ok() {
            return Err(format!(
                "--external-cmd: something already listens on {addr}; stop it, or give its pid \
                 with --external-pid instead"
            ));
        }
        let mut cmd = Command::new("sh");
        if !cpus.is_empty() {
            loadgen::affinity::pin_command(&mut cmd, cpus)
                .map_err(|e| format!("--server-cpus: {e}"))?;
        }
        let mut child = cmd
            .args(["-c", &format!("exec {command}")])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("--external-cmd `{command}`: cannot start it: {e}"))?;
        let stderr = child
            .stderr
            .take()
            .map(|s| crate::run::StderrText::read(s, 1024 * 1024, 1024 * 1024));
        let mut started = Started { child, stderr };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = started.child.try_wait() {
                let err = started
                    .stderr
                    .take()
                    .map(crate::run::StderrText::wait)
                    .unwrap_or_default();
                let last = err.lines().rev().find(|l| !l.trim().is_empty());
                return Err(format!(
                    "--external-cmd `{command}` exited ({status}) before {url} answered{}",
                    last.map(|l| format!(": {}", l.trim())).unwrap_or_default()
                ));
            }
            if probe(url).is_ok() {
                return Ok(started);
            }
            if Instant::now() >= deadline {
                started.stop();
                return Err(format!(
                    "--external-cmd `{command}`: {url} did not answer within {} s",
                    START_TIMEOUT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM (nginx: fast shutdown), a bounded wait, then SIGKILL to whatever of its tree is
    /// left. Returns how many processes had to be killed.
    pub fn stop(&mut self) -> usize {
        let left = crate::run::stop_tree(
            &mut self.child,
            Duration::from_secs(10),
            "lab: external server",
        );
        if let Some(s) = self.stderr.take() {
            let _ = s.wait();
        }
        left.len()
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.stop();
        }
    }
}
