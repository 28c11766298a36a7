//! Test support: start the real `lab` binary on 127.0.0.1:0 (or on a Unix socket in a temp dir)
//! and talk HTTP to it over real sockets; run `lab run`, `lab load` and `lab compare` and read
//! the JSON they write.
//! Every wait here is bounded: a hung server fails the test, it does not hang it.
#![allow(dead_code)]

use lab_core::net::Stream;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long any single read or wait in a test may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// Which socket a test serves and loads over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Unix,
}

/// Where a started server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl Target {
    /// A connected socket with the suite's timeouts (and TCP_NODELAY over TCP).
    pub fn connect(&self) -> Stream {
        let stream = match self {
            Target::Tcp(addr) => {
                Stream::Tcp(TcpStream::connect_timeout(addr, TIMEOUT).expect("connect"))
            }
            Target::Unix(path) => Stream::Unix(UnixStream::connect(path).expect("connect")),
        };
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        stream.set_write_timeout(Some(TIMEOUT)).expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        stream
    }
}

/// A `lab serve` process.
pub struct Server {
    /// The TCP address (for a server on a Unix socket, 127.0.0.1:0, where nothing listens: use
    /// `target`).
    pub addr: SocketAddr,
    pub target: Target,
    pub model: String,
    child: Option<Child>,
    stderr: Option<std::thread::JoinHandle<String>>,
    /// What the server has written to stderr so far (the reader thread appends each line).
    stderr_so_far: std::sync::Arc<std::sync::Mutex<String>>,
    /// The temporary directory holding a Unix server's socket.
    _socket_dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts `lab serve --model <model> --addr 127.0.0.1:0 <args>` and waits for its
    /// `listening on` line.
    pub fn start(model: &str, args: &[&str]) -> Server {
        Server::start_on(model, "127.0.0.1:0", args)
    }

    /// Like [`Server::start`] with `--addr addr`. A server on every interface (`0.0.0.0`) is
    /// reached through 127.0.0.1.
    pub fn start_on(model: &str, addr: &str, args: &[&str]) -> Server {
        Server::start_full(model, addr, args, &[])
    }

    /// Like [`Server::start`], over `transport`: a Unix server listens on `lab.sock` in a
    /// temporary directory of its own.
    pub fn start_over(transport: Transport, model: &str, args: &[&str]) -> Server {
        match transport {
            Transport::Tcp => Server::start(model, args),
            Transport::Unix => {
                let dir = tempfile::Builder::new()
                    .prefix("lab-test-")
                    .tempdir()
                    .expect("tempdir");
                let addr = format!("unix:{}", dir.path().join("lab.sock").display());
                let mut server = Server::start_full(model, &addr, args, &[]);
                server._socket_dir = Some(dir);
                server
            }
        }
    }

    /// [`Server::start`] with extra environment variables for the server.
    pub fn start_with_env(model: &str, args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_full(model, "127.0.0.1:0", args, env)
    }

    fn start_full(model: &str, addr: &str, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lab"))
            .args(["serve", "--model", model, "--addr", addr])
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lab serve");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let stderr_so_far = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let stderr = {
            let so_far = std::sync::Arc::clone(&stderr_so_far);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stderr);
                let mut line = Vec::new();
                while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                    so_far
                        .lock()
                        .expect("stderr")
                        .push_str(&String::from_utf8_lossy(&line));
                    line.clear();
                }
                let text = so_far.lock().expect("stderr").clone();
                text
            })
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(TIMEOUT)
            .expect("lab serve printed no `listening on` line");
        let line = line.trim();
        let (addr, target) = if let Some(path) = line.strip_prefix("listening on unix:") {
            let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
            (loopback, Target::Unix(PathBuf::from(path)))
        } else {
            let mut addr: SocketAddr = line
                .strip_prefix("listening on http://")
                .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
                .parse()
                .expect("address");
            if addr.ip().is_unspecified() {
                addr.set_ip([127, 0, 0, 1].into());
            }
            (addr, Target::Tcp(addr))
        };
        Server {
            addr,
            target,
            model: model.to_string(),
            child: Some(child),
            stderr: Some(stderr),
            stderr_so_far,
            _socket_dir: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn connect(&self) -> Client {
        Client::connect_to(&self.target)
    }

    /// What the running server has written to stderr so far, whole lines: a test can wait for
    /// a line the server logs when it has done something.
    pub fn stderr_so_far(&self) -> String {
        self.stderr_so_far.lock().expect("stderr").clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit. Returns the exit status and stderr.
    pub fn stop(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        let descendants = descendants(child.id());
        signal(child.id(), libc::SIGTERM);
        let status = wait_timeout(&mut child, TIMEOUT).unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{}: did not exit within {TIMEOUT:?} of SIGTERM", self.model)
        });
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        for pid in descendants {
            assert!(
                !alive(pid),
                "{}: process {pid} outlived the server",
                self.model
            );
        }
        if let Target::Unix(path) = &self.target {
            assert!(
                !status.success() || !path.exists(),
                "{}: the socket file {} was left behind after a clean exit",
                self.model,
                path.display()
            );
        }
        (status, stderr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends `sig` to a process the test started.
pub fn signal(pid: u32, sig: i32) {
    lab_core::sys::kill(pid as i32, sig);
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Polls `check` every 20 ms for up to `limit`; true as soon as it holds. Tests wait for what
/// they can observe with this, not for a fixed time.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The system call a blocked thread is in and its first three arguments, from
/// `/proc/PID/task/TID/syscall`; `None` while the thread runs, or once it is gone.
fn blocked_in(pid: u32, tid: &str) -> Option<(i64, [u64; 3])> {
    let line = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/syscall")).ok()?;
    let mut words = line.split_whitespace();
    let nr = words.next()?.parse().ok()?;
    let mut args = [0; 3];
    for arg in &mut args {
        *arg = u64::from_str_radix(words.next()?.strip_prefix("0x")?, 16).ok()?;
    }
    Some((nr, args))
}

/// Some thread of `root`'s process tree is blocked in `GET /sleep/<ms>`'s handler: see
/// [`sleeping`]. With that, a test knows its request is in flight (read, and being served)
/// instead of hoping a fixed pause was long enough. Pick an `ms` no other sleep of the server
/// has (a second or more).
pub fn sleeping_in_handler(root: u32, ms: u64) -> bool {
    loadgen::procmon::tree_pids(root)
        .into_iter()
        .any(|pid| sleeping(pid, ms))
}

/// Some thread of process `pid` is blocked in `nanosleep` or `clock_nanosleep` for exactly
/// `ms` (a `thread::sleep(Duration::from_millis(ms))`): the call from
/// `/proc/PID/task/TID/syscall`, the time asked for read from the thread's stack through
/// `/proc/PID/mem` (allowed: the test is root or the server's ancestor), so that sleeps of
/// other lengths do not count.
pub fn sleeping(pid: u32, ms: u64) -> bool {
    use std::os::unix::fs::FileExt;
    let want = ((ms / 1000) as i64, ((ms % 1000) * 1_000_000) as i64);
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    let Ok(mem) = std::fs::File::open(format!("/proc/{pid}/mem")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        let tid = task.file_name().to_string_lossy().into_owned();
        let request = match blocked_in(pid, &tid) {
            Some((nr, args)) if nr == libc::SYS_nanosleep => args[0],
            Some((nr, args)) if nr == libc::SYS_clock_nanosleep => args[2],
            _ => return false,
        };
        let mut timespec = [0u8; 16];
        mem.read_exact_at(&mut timespec, request).is_ok() && {
            let secs = i64::from_ne_bytes(timespec[..8].try_into().expect("8 bytes"));
            let nanos = i64::from_ne_bytes(timespec[8..].try_into().expect("8 bytes"));
            (secs, nanos) == want
        }
    })
}

/// Every process whose parent chain leads to `root` (not `root` itself).
pub fn descendants(root: u32) -> Vec<u32> {
    loadgen::procmon::tree_pids(root)
        .into_iter()
        .filter(|&p| p != root)
        .collect()
}

fn alive(pid: u32) -> bool {
    loadgen::procmon::is_alive(pid)
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// True if the server said it will close.
    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// A raw HTTP/1.1 client connection with a buffer, so pipelined responses can be read one by one.
pub struct Client {
    /// TCP or Unix.
    pub stream: Stream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        Client::connect_to(&Target::Tcp(addr))
    }

    pub fn connect_to(target: &Target) -> Client {
        Client {
            stream: target.connect(),
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write request");
    }

    /// Sends a GET with Host and returns the response.
    pub fn get(&mut self, path: &str) -> Resp {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
        self.read_response()
    }

    fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                n
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
            Err(e) => panic!("read failed (timeout?): {e}"),
        }
    }

    /// Reads one response (head by httparse, body by Content-Length, or to EOF without one).
    pub fn read_response(&mut self) -> Resp {
        self.try_read_response()
            .expect("connection closed before a response")
    }

    /// Reads one response, or `None` if the connection closed cleanly first.
    pub fn try_read_response(&mut self) -> Option<Resp> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(&self.buf).expect("malformed response") {
                httparse::Status::Complete(n) => {
                    let status = resp.code.expect("status");
                    let headers: Vec<(String, String)> = resp
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_string(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect();
                    self.buf.drain(..n);
                    let mut r = Resp {
                        status,
                        headers,
                        body: Vec::new(),
                    };
                    if let Some(len) = r.header("content-length") {
                        let len: usize = len.parse().expect("content-length");
                        while self.buf.len() < len {
                            assert!(self.fill() > 0, "EOF inside a body");
                        }
                        r.body = self.buf.drain(..len).collect();
                    } else if status >= 200 && status != 204 && status != 304 {
                        while self.fill() > 0 {}
                        r.body = std::mem::take(&mut self.buf);
                    }
                    return Some(r);
                }
                httparse::Status::Partial => {
                    if self.fill() == 0 {
                        assert!(
                            self.buf.is_empty(),
                            "EOF inside a response head: {:?}",
                            self.buf
                        );
                        return None;
                    }
                }
            }
        }
    }

    /// Reads one response to a HEAD request: no body follows whatever Content-Length says.
    pub fn read_head_response(&mut self) -> Resp {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut resp = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(n) = resp.parse(&self.buf).expect("malformed") {
                let r = Resp {
                    status: resp.code.expect("status"),
                    headers: resp
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_string(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect(),
                    body: Vec::new(),
                };
                self.buf.drain(..n);
                return r;
            }
            assert!(self.fill() > 0, "EOF inside a response head");
        }
    }

    /// Asserts that the server closes the connection (EOF or reset) with nothing more to say.
    pub fn assert_closed(&mut self) {
        while self.buf.is_empty() {
            if self.fill() == 0 {
                return;
            }
        }
        panic!(
            "expected the connection to close, got more bytes: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
    }
}

/// Runs the `lab` binary to completion: (exit status was 0, stdout, stderr).
pub fn lab(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(args)
        .output()
        .expect("run lab");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `curl` with args; panics with a clear message if curl is not installed.
pub fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "15"])
        .args(args)
        .output()
        .expect("curl is needed by this test: install it (apt-get install curl)");
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A docroot for tests: the sample site plus a symlink that leads out of it and a file outside.
pub struct Docroot {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
}

pub fn docroot() -> Docroot {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("site");
    std::fs::create_dir(&root).expect("mkdir");
    lab_core::static_files::write_sample_site(&root).expect("sample site");
    std::fs::write(dir.path().join("secret.txt"), "SECRET").expect("secret");
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("leak.txt"))
        .expect("symlink");
    std::os::unix::fs::symlink(dir.path(), root.join("up")).expect("symlink");
    // An index.html that is a link out of the docroot, a FIFO and a socket.
    std::fs::create_dir(root.join("sub")).expect("mkdir");
    std::os::unix::fs::symlink("/etc/passwd", root.join("sub/index.html")).expect("symlink");
    let fifo = std::process::Command::new("mkfifo")
        .arg(root.join("fifo"))
        .status()
        .expect("mkfifo");
    assert!(fifo.success());
    // The listener is dropped at once; the socket file stays, which is all the test needs.
    std::os::unix::net::UnixListener::bind(root.join("sock")).expect("unix socket");
    Docroot { dir, root }
}

/// The process group `pid` is in, from /proc.
pub fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// A terminal's Ctrl-C: SIGINT to every process of `pid`'s tree that is in `pid`'s process
/// group (a child that made a group of its own is not reached, as in a terminal).
pub fn terminal_ctrl_c(pid: u32) {
    let group = process_group(pid).expect("process group");
    let mut tree = vec![pid];
    tree.extend(descendants(pid));
    for p in tree {
        if process_group(p) == Some(group) {
            signal(p, libc::SIGINT);
        }
    }
}

/// Waits up to `within` for `child` to exit; fails the test, naming `what`, if it does not.
pub fn wait_exit(child: &mut Child, within: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "{what} did not stop in time");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every file under `dir`, as paths relative to it, sorted.
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
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

/// Copies a comparison's JSON to a new folder, runs `lab report` there, and asserts every file
/// of the report comes out byte for byte the same; returns how many files the report has.
pub fn assert_report_reproduces(dir: &Path) -> usize {
    let copy = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(copy.path().join("cells")).unwrap();
    std::fs::copy(dir.join("compare.json"), copy.path().join("compare.json")).unwrap();
    for f in all_files(dir) {
        if f.starts_with("cells") && f.extension().is_some_and(|e| e == "json") {
            std::fs::copy(dir.join(&f), copy.path().join(&f)).unwrap();
        }
    }
    lab_ok(&["report", copy.path().to_str().unwrap()]);
    let generated: Vec<PathBuf> = all_files(dir)
        .into_iter()
        .filter(|f| !f.starts_with("cells") && f != Path::new("compare.json"))
        .collect();
    for f in &generated {
        let a = std::fs::read(dir.join(f)).unwrap();
        let b = std::fs::read(copy.path().join(f))
            .unwrap_or_else(|_| panic!("{} not regenerated", f.display()));
        assert!(a == b, "{} differs after `lab report`", f.display());
    }
    generated.len()
}

/// Runs `lab args`, failing the test (with its output) unless it succeeded; returns its stdout.
pub fn lab_ok(args: &[&str]) -> String {
    let (ok, stdout, stderr) = lab(args);
    assert!(ok, "lab {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

/// The JSON document in the file at `path`.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A `lab run` or `lab load` with `args`, plus `--quiet --json FILE` in a temporary directory:
/// fails the test unless it succeeded; returns its stdout and the report it wrote.
pub fn lab_json(args: &[&str]) -> (String, serde_json::Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("report.json");
    let stdout = lab_ok(&[args, &["--quiet", "--json", json.to_str().unwrap()]].concat());
    (stdout, read_json(&json))
}

/// `lab compare args --out out`, failing the test unless it succeeded; returns its stdout.
pub fn compare_into(out: &Path, args: &[&str]) -> String {
    lab_ok(&[&["compare"], args, &["--out", out.to_str().unwrap()]].concat())
}

/// `lab compare args` into `cmp` in a new temporary directory (kept while the first value
/// lives); returns that directory and the comparison's folder.
pub fn compare(args: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("cmp");
    compare_into(&out, args);
    (tmp, out)
}

/// A comparison folder's plan (`compare.json`).
pub fn plan(dir: &Path) -> serde_json::Value {
    read_json(&dir.join("compare.json"))
}

/// The plan's cells.
pub fn cells(plan: &serde_json::Value) -> Vec<serde_json::Value> {
    plan["cells"].as_array().expect("cells").clone()
}

/// The `lab run` report of one of the plan's cells.
pub fn cell_report(dir: &Path, cell: &serde_json::Value) -> serde_json::Value {
    read_json(&dir.join(format!("cells/{}.json", cell["id"].as_str().unwrap())))
}

/// Starts `lab args` as a terminal starts a foreground job (a process group of its own, for
/// [`terminal_ctrl_c`]), its output piped; returns once it has `children` descendants (its
/// server started), bounded by `within`.
pub fn spawn_lab_job(args: &[&str], children: usize, within: Duration) -> Child {
    use std::os::unix::process::CommandExt;
    let child = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("spawn lab");
    let deadline = Instant::now() + within;
    while descendants(child.id()).len() < children && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}
