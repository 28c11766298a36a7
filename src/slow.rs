//! `lab run --slow-clients N`: slow clients (slowloris) attacking a server under steady load.
//!
//! N connections to the server, opened at the start of the warm-up so that the whole measured
//! run is under attack. Each sends `GET / HTTP/1.1\r\nHost: x\r\n`, then one more byte of a
//! header (`X-a: b\r\n`, over and over) every `--slow-every`, and never the blank line that
//! would end the head. A server with a fixed number of workers gives each such connection a
//! worker that waits for the rest of the head; an event loop holds it as one more idle socket.
//! When the server lets one go (a close, a reset, or an answer such as 408 once
//! `--header-timeout` is past), the attacker counts it, with how long it was held, and
//! reconnects at once, as slowloris does.
//!
//! One thread drives every connection, non-blocking, on a tick of at most [`TICK`]: each tick it
//! starts the connects missing (non-blocking, each bounded by [`CONNECT_TIMEOUT`]), reads what
//! the server sent or whether it closed, and writes a byte on those due. Its counts end with
//! the measured run; its connections stay open (silent) until `lab run` stops it once the load
//! has drained, then it closes them.

use clap::Args;
use lab_schema::SlowClients;
use loadgen::{parse_duration, Target};
use socket2::{Domain, SockAddr, Socket, Type};
use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest wait between two looks at the connections.
const TICK: Duration = Duration::from_millis(50);
/// Bound of one connect (a TCP connect to a full listen backlog waits for SYN retries).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The time one tick may spend opening connections, so that the open ones keep their pace.
const CONNECT_BUDGET: Duration = Duration::from_millis(200);
/// The longest the connections are held, silent, after the measured run, waiting for `lab run`
/// to stop the attack once the load has drained (the drain is bounded by the load's timeout).
const HOLD_AFTER: Duration = Duration::from_secs(30);
/// The start of every head: the request line and one header, the head left open.
const HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n";
/// The header sent a byte at a time after [`HEAD`], again and again: a line never empty, so the
/// head never ends.
const TRICKLE: &[u8] = b"X-a: b\r\n";
/// File descriptors kept free beside the load's connections and the attackers (as the load
/// generator's own check keeps).
const FD_MARGIN: u64 = 64;

#[derive(Args, Debug, Clone, Default)]
pub struct SlowFlags {
    /// Attack the server with N slow clients (slowloris) during the run: each opens a
    /// connection in the warm-up, sends a request head a byte at a time and never finishes it,
    /// and reconnects as soon as the server closes or answers it. Recorded in the report.
    #[arg(long, value_name = "N")]
    pub slow_clients: Option<u64>,
    /// With --slow-clients: the time between two bytes of a slow client's head.
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION", requires = "slow_clients")]
    pub slow_every: Duration,
}

impl SlowFlags {
    /// Refuses an attack that cannot run: none, a zero interval, or more attackers than the fd
    /// limit leaves beside the load's `conns` connections.
    pub fn check(&self, load: &loadgen::Config) -> Result<(), String> {
        let Some(n) = self.slow_clients else {
            return Ok(());
        };
        let conns = load.conns as u64;
        if load.start_at.is_some() {
            // The attack is timed from when `lab run` starts, the load from --start-at.
            return Err("--slow-clients: not with --start-at".into());
        }
        if n == 0 {
            return Err("--slow-clients must be above 0".into());
        }
        if self.slow_every.is_zero() {
            return Err("--slow-every must be above 0".into());
        }
        // The load generator raises the soft limit to the hard one before it connects.
        if let Some((_, hard)) = lab_core::sys::fd_limits() {
            let need = n.saturating_add(conns).saturating_add(FD_MARGIN);
            if need > hard {
                return Err(format!(
                    "--slow-clients {n}: with the load's {conns} connections this needs {need} \
                     file descriptors, above this process's limit of {hard} (raise `ulimit -n` \
                     or use fewer)"
                ));
            }
        }
        Ok(())
    }
}

/// The running attack: stop it to get what it saw.
pub struct Attack {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<SlowClients>,
}

impl Attack {
    /// Ends the attack (if the measured run has not ended it already), closes its sockets and
    /// returns what it saw.
    pub fn stop(self) -> Result<SlowClients, String> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .map_err(|_| "the slow clients' thread panicked".to_string())
    }
}

/// Starts `n` slow clients against `target` now; the measured run starts `warmup` after now and
/// lasts `duration`, and the attack's counts end with it (its sockets close when it is stopped).
pub fn spawn(
    target: Target,
    n: u64,
    every: Duration,
    warmup: Duration,
    duration: Duration,
) -> Attack {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let end = Instant::now() + warmup + duration;
    let thread = std::thread::spawn(move || attack(&target, n, every, end, &flag));
    Attack { stop, thread }
}

/// One attacking connection.
struct Conn {
    socket: Socket,
    /// When its connect began.
    started: Instant,
    /// When its connect completed (and the head's start was sent); `None` while connecting.
    opened: Option<Instant>,
    /// When the next byte is due.
    next: Instant,
    /// Bytes of [`TRICKLE`] sent so far (over every repetition).
    sent: usize,
    /// What the server sent back, if anything (the start of a response).
    got: Vec<u8>,
}

/// What became of a connection on this tick.
enum Fate {
    Connecting,
    Open,
    /// The connect failed or took longer than [`CONNECT_TIMEOUT`].
    Failed,
    /// Closed or reset by the server without a response.
    Cut,
    /// Answered with this status (the server closes such a connection, or we do).
    Answered(String),
}

fn attack(
    target: &Target,
    n: u64,
    every: Duration,
    end: Instant,
    stop: &AtomicBool,
) -> SlowClients {
    let mut seen = SlowClients {
        conns: n,
        every_s: every.as_secs_f64(),
        ..SlowClients::default()
    };
    let tick = every.min(TICK);
    let mut conns: Vec<Conn> = Vec::with_capacity(n.min(4096) as usize);
    let mut held: Vec<f64> = Vec::new();
    while Instant::now() < end && !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        // Start the connects missing, within this tick's budget; a connect that fails at once
        // (a Unix socket's full backlog, say) ends this tick's connects.
        while (conns.len() as u64) < n && started.elapsed() < CONNECT_BUDGET {
            match connect(target) {
                Ok(conn) => conns.push(conn),
                Err(_) => {
                    seen.connect_failed += 1;
                    break;
                }
            }
        }
        let now = Instant::now();
        conns.retain_mut(|c| match step(c, now, every) {
            Fate::Connecting | Fate::Open => true,
            Fate::Failed => {
                seen.connect_failed += 1;
                false
            }
            fate => {
                let opened = c.opened.unwrap_or(c.started);
                held.push(now.duration_since(opened).as_secs_f64());
                match fate {
                    Fate::Answered(status) => *seen.answered.entry(status).or_default() += 1,
                    _ => seen.cut_by_server += 1,
                }
                false
            }
        });
        let open = conns.iter().filter(|c| c.opened.is_some()).count() as u64;
        seen.peak_open = seen.peak_open.max(open);
        let left = end.saturating_duration_since(Instant::now());
        std::thread::sleep(tick.saturating_sub(started.elapsed()).min(left));
    }
    seen.open_at_end = conns.iter().filter(|c| c.opened.is_some()).count() as u64;
    seen.opened = seen.released() + seen.open_at_end;
    held.sort_by(f64::total_cmp);
    seen.held_median_s = held
        .get(held.len() / 2)
        .map(|s| (s * 100.0).round() / 100.0);
    // The measured run is over, but the load still drains its requests in flight: the
    // connections stay open (silent, no longer counted) until `lab run` stops the attack, so
    // that the drain does not let in good requests the attack would have kept out.
    let last = Instant::now() + HOLD_AFTER;
    while !stop.load(Ordering::Relaxed) && Instant::now() < last {
        std::thread::sleep(TICK);
    }
    // Dropping the sockets closes them.
    drop(conns);
    seen
}

/// Starts a non-blocking connect to `target` (a Unix socket's completes or fails at once).
fn connect(target: &Target) -> std::io::Result<Conn> {
    let (domain, addr) = match target {
        Target::Tcp(a) => (Domain::for_address(*a), SockAddr::from(*a)),
        Target::Unix(path) => (Domain::UNIX, SockAddr::unix(path)?),
    };
    let socket = Socket::new(domain, Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    match socket.connect(&addr) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    let now = Instant::now();
    Ok(Conn {
        socket,
        started: now,
        opened: None,
        next: now,
        sent: 0,
        got: Vec::new(),
    })
}

/// Once connected: sends the head's start. A fresh socket's send buffer takes these few bytes
/// whole; a short write would just leave the head shorter, which is as slow.
fn connected(c: &mut Conn, now: Instant) -> Fate {
    match c.socket.take_error() {
        Ok(Some(_)) | Err(_) => return Fate::Failed,
        Ok(None) => {}
    }
    if c.socket.peer_addr().is_err() {
        // Still connecting (ENOTCONN), bounded.
        return if now.duration_since(c.started) > CONNECT_TIMEOUT {
            Fate::Failed
        } else {
            Fate::Connecting
        };
    }
    match (&c.socket).write(HEAD) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Err(_) => return Fate::Cut,
    }
    c.opened = Some(now);
    c.next = now + Duration::from_millis(1);
    Fate::Open
}

/// Reads what the server sent (or that it closed), then writes one byte if one is due.
fn step(c: &mut Conn, now: Instant, every: Duration) -> Fate {
    if c.opened.is_none() {
        match connected(c, now) {
            Fate::Open => {}
            fate => return fate,
        }
    }
    let mut buf = [0u8; 256];
    loop {
        match (&c.socket).read(&mut buf) {
            Ok(0) => return ended(c),
            Ok(k) => {
                if c.got.len() < 64 {
                    c.got.extend_from_slice(&buf[..k]);
                }
                if c.got.len() >= 12 {
                    // An answer: the head will never be read now; let it go.
                    return ended(c);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return ended(c),
        }
    }
    if now >= c.next {
        let byte = TRICKLE[c.sent % TRICKLE.len()];
        match (&c.socket).write(&[byte]) {
            Ok(1) => {
                c.sent += 1;
                c.next = now + every;
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => c.next = now + every,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return ended(c),
        }
    }
    Fate::Open
}

/// A connection the server let go: answered if a status line came back, else cut.
fn ended(c: &Conn) -> Fate {
    match std::str::from_utf8(&c.got).ok().and_then(|t| t.get(9..12)) {
        Some(status) if c.got.starts_with(b"HTTP/1.") => Fate::Answered(status.to_string()),
        _ => Fate::Cut,
    }
}

/// `lab run`'s line about the attack.
pub fn summary(s: &SlowClients) -> String {
    let answered = if s.answered.is_empty() {
        "none answered".to_string()
    } else {
        let parts: Vec<String> = s
            .answered
            .iter()
            .map(|(status, k)| format!("{k} x {status}"))
            .collect();
        format!("answered {}", parts.join(", "))
    };
    let held = match s.held_median_s {
        Some(t) => format!(" after a median {t:.2} s"),
        None => String::new(),
    };
    format!(
        "Slow clients ({} attacking, a header byte every {} s): {} opened, {} failed to connect, \
         at most {} open at once, {} at the end; the server cut {} and {answered}{held}\n",
        s.conns, s.every_s, s.opened, s.connect_failed, s.peak_open, s.open_at_end, s.cut_by_server,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fd_limit_refuses_too_many_attackers_naming_the_flag() {
        let mut load = loadgen::Config::for_url("http://127.0.0.1:1/").unwrap();
        load.conns = 10;
        let flags = SlowFlags {
            slow_clients: Some(u64::MAX / 4),
            slow_every: Duration::from_secs(1),
        };
        let err = flags.check(&load).unwrap_err();
        assert!(err.starts_with("--slow-clients"), "{err}");
        // So many that the sum overflows: still refused, not wrapped round to a small need.
        let most = SlowFlags {
            slow_clients: Some(u64::MAX),
            ..flags.clone()
        };
        assert!(most.check(&load).unwrap_err().starts_with("--slow-clients"));
        let none = SlowFlags {
            slow_clients: Some(0),
            ..flags.clone()
        };
        assert!(none.check(&load).unwrap_err().contains("--slow-clients"));
        let fine = SlowFlags {
            slow_clients: Some(2),
            ..flags
        };
        assert_eq!(fine.check(&load), Ok(()));
        // The attack is timed from the start of `lab run`, not from --start-at.
        load.start_at = Some(std::time::SystemTime::now());
        assert_eq!(
            fine.check(&load),
            Err("--slow-clients: not with --start-at".into())
        );
    }
}
