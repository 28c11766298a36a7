//! Test helpers shared by the event-loop models' tests (epoll's and io_uring's
//! `tests/common/mod.rs` include this file): start the model on 127.0.0.1:0, speak raw HTTP/1.1
//! to it, stop it. The including module names the model (`MODEL`), its `run_with_counters` and
//! `unavailable` (whether the model cannot run on this machine; it prints why). The test bodies
//! both models' suites run are in [`cases`].

pub use super::unavailable;
use super::{run_with_counters, MODEL};
use lab_core::{Config, LabApp, OnOff, Shutdown};
use lab_evloop::{Counters, Options};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

pub mod cases;

/// Every read in a test gives up after this long, so that a bug fails the test instead of
/// hanging it.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Server {
    pub addr: SocketAddr,
    pub counters: Arc<Counters>,
    shutdown: Shutdown,
    done: mpsc::Receiver<io::Result<()>>,
    thread: Option<JoinHandle<()>>,
    docroot: tempfile::TempDir,
}

/// What a test server is started with: the common config (reachable as `setup.limits` etc.)
/// and the model's own options.
pub struct Setup {
    pub config: Config,
    pub options: Options,
}

impl std::ops::Deref for Setup {
    type Target = Config;
    fn deref(&self) -> &Config {
        &self.config
    }
}

impl std::ops::DerefMut for Setup {
    fn deref_mut(&mut self) -> &mut Config {
        &mut self.config
    }
}

/// A setup for tests: `loops` loops, offload on or off.
pub fn config(loops: usize, offload: bool) -> Setup {
    let config = Config {
        drain_timeout: Duration::from_secs(3),
        ..Default::default()
    };
    let options = Options {
        loops,
        offload: if offload { OnOff::On } else { OnOff::Off },
        offload_threads: 4,
        accept: Default::default(),
    };
    Setup { config, options }
}

impl Server {
    pub fn start(setup: Setup) -> Server {
        let Setup { config, options } = setup;
        let docroot = tempfile::tempdir().unwrap();
        std::fs::write(docroot.path().join("index.html"), b"<h1>hi</h1>\n").unwrap();
        let handler = Arc::new(LabApp::new(docroot.path(), MODEL).unwrap());
        let listener = lab_core::bind_listener("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let counters = Arc::new(Counters::new(options.loops));
        let (tx, done) = mpsc::channel();
        let thread = {
            let shutdown = shutdown.clone();
            let counters = Arc::clone(&counters);
            thread::spawn(move || {
                let result = run_with_counters(
                    listener.into(),
                    handler,
                    &config,
                    &options,
                    shutdown,
                    counters,
                );
                let _ = tx.send(result);
            })
        };
        Server {
            addr,
            counters,
            shutdown,
            done,
            thread: Some(thread),
            docroot,
        }
    }

    /// The directory served under `/static/` (it holds `index.html`).
    pub fn docroot(&self) -> &std::path::Path {
        self.docroot.path()
    }

    pub fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Total connections open across loops, as the server counts them.
    pub fn open(&self) -> u64 {
        self.counters
            .loops
            .iter()
            .map(|c| c.open.load(std::sync::atomic::Ordering::Relaxed))
            .sum()
    }

    /// Triggers shutdown and waits (bounded) for `run` to return; panics if it does not.
    pub fn stop(mut self) {
        self.stop_within(Duration::from_secs(20));
    }

    pub fn stop_within(&mut self, limit: Duration) {
        self.shutdown.trigger();
        let result = self
            .done
            .recv_timeout(limit)
            .expect("run did not return within its bound");
        result.expect("run returned an error");
        self.thread.take().unwrap().join().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A failed test still stops its server.
        self.shutdown.trigger();
    }
}

/// Waits (bounded) until a thread of this process is blocked in the handler of
/// `GET /sleep/<ms>`: then that request has been read and is being served (inline on a loop, or
/// in the offload pool), where a fixed pause only hoped so. The handler's `thread::sleep` is
/// recognised by its call (`/proc/self/task/TID/syscall`: `nanosleep` or `clock_nanosleep`) and
/// the time it asked for (read through `/proc/self/mem`), so `ms` must be one that no other
/// test of the binary sleeps for (the tests run in parallel threads of this process).
pub fn wait_until_handler_sleeps(ms: u64) {
    let deadline = std::time::Instant::now() + READ_TIMEOUT;
    while !handler_sleeping(ms) {
        assert!(
            std::time::Instant::now() < deadline,
            "no thread ever slept {ms} ms: the request never reached its handler"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

fn handler_sleeping(ms: u64) -> bool {
    use std::os::unix::fs::FileExt;
    let want = ((ms / 1000) as i64, ((ms % 1000) * 1_000_000) as i64);
    let (Ok(tasks), Ok(mem)) = (
        std::fs::read_dir("/proc/self/task"),
        std::fs::File::open("/proc/self/mem"),
    ) else {
        return false;
    };
    tasks.flatten().any(|task| {
        let Ok(line) = std::fs::read_to_string(task.path().join("syscall")) else {
            return false;
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        let arg = |i: usize| {
            words
                .get(i + 1)
                .and_then(|w| u64::from_str_radix(w.strip_prefix("0x")?, 16).ok())
        };
        let request = match words.first().and_then(|w| w.parse::<i64>().ok()) {
            Some(nr) if nr == libc::SYS_nanosleep => arg(0),
            Some(nr) if nr == libc::SYS_clock_nanosleep => arg(2),
            _ => None,
        };
        let mut timespec = [0u8; 16];
        request.is_some_and(|at| mem.read_exact_at(&mut timespec, at).is_ok()) && {
            let secs = i64::from_ne_bytes(timespec[..8].try_into().unwrap());
            let nanos = i64::from_ne_bytes(timespec[8..].try_into().unwrap());
            (secs, nanos) == want
        }
    })
}

/// A parsed response, as much as the tests need.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub struct Client {
    pub reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(READ_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            reader: BufReader::new(stream),
        }
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        self.reader.get_mut()
    }

    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream().write_all(bytes)
    }

    pub fn get(&mut self, path: &str) -> io::Result<()> {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
    }

    /// Reads one response; `head_only` for the answer to a HEAD.
    pub fn read_reply(&mut self, head_only: bool) -> io::Result<Reply> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad status line {line:?}"),
                )
            })?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            headers.push((name.to_string(), value.trim().to_string()));
        }
        let mut reply = Reply {
            status,
            headers,
            body: Vec::new(),
        };
        let length: usize = reply
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if !head_only && status != 100 {
            reply.body = vec![0; length];
            self.reader.read_exact(&mut reply.body)?;
        }
        Ok(reply)
    }

    pub fn reply(&mut self) -> Reply {
        self.read_reply(false).unwrap()
    }

    /// True if the server closed the connection: EOF (or a reset) before any more bytes.
    pub fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        match self.reader.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
        }
    }
}
