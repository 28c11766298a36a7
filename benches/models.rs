//! End to end, one benchmark per built model: ten keep-alive `GET /` requests, one after the
//! other, over one loopback connection. What it measures is a request's round trip through the
//! kernel and the model's path from socket to handler and back, with no concurrency; the
//! concurrent picture is `lab compare`'s job.
//!
//! Every model runs as a `lab serve` child bound to 127.0.0.1:0 (a model that forks must not fork
//! a process that runs criterion's threads, and one way for all keeps the figures comparable).
//! The list of models is the lab's registry (`http_lab::models::ALL`), so a model added there is
//! benchmarked without an edit here; one that cannot run on this machine is skipped, with the
//! reason printed.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const REQUESTS_PER_ITER: u64 = 10;
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n";

/// A `lab serve` child; stopped (SIGTERM, then waited for) on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

fn start(model: &str) -> (Server, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["serve", "--model", model, "--addr", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lab serve");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("lab serve --model {model}: unexpected {line:?}"))
        .parse()
        .expect("address");
    (Server(child), addr)
}

/// Sends one request and reads its response (head, then Content-Length bytes of body).
fn round_trip(conn: &mut TcpStream, buf: &mut Vec<u8>) {
    conn.write_all(REQUEST).expect("write");
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("content-length");
            assert!(head.starts_with("http/1.1 200"), "{head}");
            if buf.len() >= end + 4 + len {
                return;
            }
        }
        let n = conn.read(&mut chunk).expect("read");
        assert!(n > 0, "server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn end_to_end(c: &mut Criterion) {
    let mut group = c.benchmark_group("end_to_end");
    group.throughput(Throughput::Elements(REQUESTS_PER_ITER));
    group.measurement_time(Duration::from_secs(3));
    for model in http_lab::models::ALL {
        if let Err(why) = model.available() {
            eprintln!("skipping {}: {why}", model.name());
            continue;
        }
        let model = model.name();
        let (server, addr) = start(model);
        let mut conn = TcpStream::connect(addr).expect("connect");
        conn.set_nodelay(true).expect("nodelay");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut buf = Vec::with_capacity(4096);
        group.bench_function(format!("{model}/10_keepalive_requests"), |b| {
            b.iter(|| {
                for _ in 0..REQUESTS_PER_ITER {
                    round_trip(&mut conn, &mut buf);
                }
            })
        });
        // Close the client first: single_thread serves this one connection until it ends.
        drop(conn);
        drop(server);
    }
    group.finish();
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
