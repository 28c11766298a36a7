//! Tiny HTTP servers for the tests: std threads, a `TcpListener` on
//! 127.0.0.1:0, a thread per connection, and a counter of the requests
//! each one has received, to compare with what the load generator reports.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// How the server answers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Behavior {
    /// `200 OK` with a small body, keep-alive (closing when asked to).
    Ok,
    /// Like `Ok` with a chunked body and a trailer.
    Chunked,
    /// `404 Not Found`.
    NotFound,
    /// Half a response, then close.
    CloseMidResponse,
    /// Like `Ok`, but the connection that receives request number `at`
    /// (counting from 1, all connections) waits `pause` before answering it.
    StallOnce { at: u64, pause: Duration },
    /// Like `Ok`, but one connection at a time, as `single_thread`: the
    /// others wait in the listen backlog until it closes.
    OneAtATime,
}

pub struct TestServer {
    pub addr: SocketAddr,
    /// Complete requests received.
    pub count: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl TestServer {
    pub fn start(behavior: Behavior) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("local addr");
        listener.set_nonblocking(true).expect("nonblocking");
        let count = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (count.clone(), stop.clone());
        thread::spawn(move || accept_loop(listener, behavior, c, s));
        TestServer { addr, count, stop }
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// Close the listener and every connection: the target dies.
    pub fn kill(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn accept_loop(
    listener: TcpListener,
    behavior: Behavior,
    count: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) if behavior == Behavior::OneAtATime => {
                serve(stream, Behavior::Ok, count.clone(), stop.clone())
            }
            Ok((stream, _)) => {
                let (c, s) = (count.clone(), stop.clone());
                thread::spawn(move || serve(stream, behavior, c, s));
            }
            Err(_) => thread::sleep(Duration::from_millis(2)),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn serve(mut stream: TcpStream, behavior: Behavior, count: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let mut out = Vec::new();
    loop {
        // Answer every complete request in the buffer (pipelining), in one write.
        let mut close = false;
        while let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            buf.drain(..end + 4);
            close |= head.contains("connection: close");
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            match behavior {
                Behavior::Ok | Behavior::OneAtATime => {
                    out.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                }
                Behavior::Chunked => out.extend_from_slice(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                      5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
                ),
                Behavior::NotFound => out.extend_from_slice(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found",
                ),
                Behavior::CloseMidResponse => {
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhal");
                    return;
                }
                Behavior::StallOnce { at, pause } => {
                    if n == at {
                        thread::sleep(pause);
                    }
                    out.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                }
            }
            if close {
                break;
            }
        }
        if !out.is_empty() {
            if stream.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if close || stop.load(Ordering::SeqCst) {
            return;
        }
        match stream.read(&mut tmp) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return,
        }
    }
}

/// A quiet config aimed at `server`.
pub fn config(server: &TestServer) -> loadgen::Config {
    let mut config = loadgen::Config::for_url(&server.url()).expect("url");
    config.quiet = true;
    config
}
