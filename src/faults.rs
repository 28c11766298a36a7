//! `lab run --inject-faults FILE`: faults injected into a server under steady load, at fixed
//! moments of the measured run, and what each did, written to FILE (`report::FaultLog`).
//!
//! At a quarter of the run, 20 × `GET /crash` (the handler panics); at half, 5 ×
//! `GET /crash?abort` (the serving process aborts); at three quarters, `kill -9` of one worker
//! process of the server's tree, if it has any. Each faulty request goes on a connection of its
//! own, so the steady load's connections are hurt only through the server. The server's main
//! process is watched throughout: a model that dies is recorded with the moment it died, and at
//! the end a fresh `GET /` says whether it still serves.

use clap::Args;
use loadgen::Target;
use report::{FaultLog, Injection};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the server's main process is checked.
const WATCH_EVERY: Duration = Duration::from_millis(20);
/// Bound of each connect, read and write of the injector.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Args, Debug, Clone)]
pub struct FaultFlags {
    /// Inject faults during the measured run (20 x /crash at 1/4, 5 x /crash?abort at 1/2, kill -9
    /// of one worker process at 3/4) and write what happened to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    pub inject_faults: Option<PathBuf>,
}

/// Starts the injector: `warmup` after now the measured run starts, and lasts `duration`.
pub fn spawn(
    target: Target,
    server_pid: u32,
    warmup: Duration,
    duration: Duration,
) -> JoinHandle<FaultLog> {
    std::thread::spawn(move || inject(target, server_pid, Instant::now() + warmup, duration))
}

fn inject(target: Target, pid: u32, t0: Instant, duration: Duration) -> FaultLog {
    let at = move |share: f64| t0 + duration.mul_f64(share);
    let since = move |t: Instant| {
        let s = t.saturating_duration_since(t0).as_secs_f64();
        (s * 10.0).round() / 10.0
    };
    let end = t0 + duration;
    // Each burst on a thread of its own, so that a slow one (a model that serves one
    // connection at a time makes each faulty request wait) does not delay the next.
    let bursts: Vec<JoinHandle<Option<Injection>>> = [
        ("crash", "/crash", 20u32, 0.25),
        ("abort", "/crash?abort", 5, 0.5),
    ]
    .into_iter()
    .map(|(kind, path, count, share)| {
        let target = target.clone();
        std::thread::spawn(move || {
            let start = at(share);
            while Instant::now() < start {
                if !loadgen::procmon::is_alive(pid) {
                    return None;
                }
                std::thread::sleep(WATCH_EVERY);
            }
            let mut injection = Injection {
                kind: kind.into(),
                what: format!("{count} x GET {path}"),
                at_s: since(Instant::now()),
                ..Injection::default()
            };
            for _ in 0..count {
                let outcome = if Instant::now() > end + IO_TIMEOUT {
                    "not sent: the run was over".to_string()
                } else {
                    request(&target, path)
                };
                *injection.outcomes.entry(outcome).or_default() += 1;
                // Let an aborted process be noticed (and a pool's replacement start).
                std::thread::sleep(Duration::from_millis(20));
            }
            Some(injection)
        })
    })
    .collect();
    let mut log = FaultLog::default();
    let mut kill: Option<Injection> = None;
    let kill_at = at(0.75);
    loop {
        let now = Instant::now();
        if log.died_at_s.is_none() && !loadgen::procmon::is_alive(pid) {
            log.died_at_s = Some(since(now));
        }
        if now >= kill_at && kill.is_none() && log.died_at_s.is_none() {
            kill = Some(kill_a_worker(pid, since(now)));
        }
        if now >= end {
            break;
        }
        std::thread::sleep(WATCH_EVERY);
    }
    for burst in bursts {
        if let Ok(Some(injection)) = burst.join() {
            log.injections.push(injection);
        }
    }
    log.injections.extend(kill);
    log.alive_at_end = log.died_at_s.is_none() && loadgen::procmon::is_alive(pid);
    log.probe_after = request(&target, "/");
    log
}

/// `kill -9` of the oldest (lowest pid) live process of the server's tree below its main one.
fn kill_a_worker(pid: u32, at_s: f64) -> Injection {
    let workers: Vec<u32> = loadgen::procmon::tree_pids(pid)
        .into_iter()
        .filter(|&p| p != pid && loadgen::procmon::is_alive(p))
        .collect();
    let mut injection = Injection {
        kind: "kill".into(),
        what: "kill -9 of one worker process".into(),
        at_s,
        ..Injection::default()
    };
    let outcome = match workers.iter().min() {
        Some(&victim) => {
            lab_core::sys::kill(victim as i32, libc::SIGKILL);
            injection.what = format!("kill -9 of one worker process (of {})", workers.len());
            "killed"
        }
        None => "no worker process to kill",
    };
    injection.outcomes.insert(outcome.to_string(), 1);
    injection
}

/// One request on a connection of its own; what came back, in a few words (`200`, `500`,
/// `reset`, `closed without a response`, `refused`, `timed out`).
fn request(target: &Target, path: &str) -> String {
    let mut stream = match crate::external::connect(target, IO_TIMEOUT) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return "refused".into(),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return "timed out".into(),
        Err(e) => return format!("connect error: {}", e.kind()),
    };
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let host = match target {
        Target::Tcp(addr) => addr.to_string(),
        Target::Unix(_) => loadgen::config::UNIX_HOST.to_string(),
    };
    let head = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if let Err(e) = stream.write_all(head.as_bytes()) {
        return classify(&e);
    }
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.len() >= 12 {
                    break;
                }
            }
            Err(e) if got.is_empty() => return classify(&e),
            Err(_) => break,
        }
    }
    match std::str::from_utf8(&got).ok().and_then(|t| t.get(9..12)) {
        Some(status) if got.starts_with(b"HTTP/1.") => status.to_string(),
        _ if got.is_empty() => "closed without a response".into(),
        _ => "garbled response".into(),
    }
}

fn classify(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => "reset".into(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => "timed out".into(),
        k => format!("error: {k}"),
    }
}

/// Writes the log as JSON.
pub fn write(path: &std::path::Path, log: &FaultLog) -> Result<(), String> {
    let text =
        serde_json::to_string_pretty(log).map_err(|e| format!("cannot encode the faults: {e}"))?;
    crate::load::write_json(path, &text)
}
