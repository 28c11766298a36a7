//! The conformance suite: the same HTTP/1.1 checks against every model, over real sockets, on the
//! real `lab serve` binary, over TCP and again over a Unix socket (`--addr unix:PATH`). A model
//! joins with one line in the table at the bottom.

mod common;

use common::{docroot, Client, Server, Transport};
use std::io::Write;
use std::time::Duration;

/// Flags every suite server gets: short timeouts so the timeout cases finish quickly.
const SUITE_FLAGS: &[&str] = &[
    "--header-timeout",
    "1s",
    "--body-timeout",
    "2s",
    "--idle-timeout",
    "3s",
    "--drain-timeout",
    "5s",
];

/// What a trial runs against: a model, one of its flag sets, a transport.
pub struct Under {
    pub model: &'static str,
    pub flags: &'static [&'static str],
    pub transport: Transport,
}

impl Under {
    /// `lab serve --model <model>` with the suite's flags, `args`, then the trial's flags.
    fn start(&self, args: &[&str]) -> Server {
        let args: Vec<&str> = SUITE_FLAGS
            .iter()
            .chain(args)
            .chain(self.flags)
            .copied()
            .collect();
        Server::start_over(self.transport, self.model, &args)
    }
}

/// Stops the server and checks it exited 0 with nothing left behind.
fn finish(server: Server) {
    let model = server.model.clone();
    let (status, stderr) = server.stop();
    assert!(
        status.success(),
        "{model}: exit status {status} after SIGTERM; stderr:\n{stderr}"
    );
}

fn assert_hello(r: &common::Resp) {
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"Hello, World!");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("server"), Some("http-lab"));
    let date = r.header("date").expect("Date header");
    assert!(
        date.ends_with(" GMT") && date.len() == 29,
        "bad Date: {date}"
    );
}

pub mod cases {
    use super::*;

    pub fn keep_alive(under: &Under) {
        let server = under.start(&[]);
        let mut c = server.connect();
        for path in ["/", "/hello", "/hello?x=1"] {
            let r = c.get(path);
            assert_hello(&r);
            assert!(!r.closes(), "keep-alive response must not close");
        }
        drop(c);
        finish(server);
    }

    pub fn pipelined_ten_in_one_write(under: &Under) {
        let server = under.start(&[]);
        let mut c = server.connect();
        let mut batch = Vec::new();
        for i in 0..10 {
            if i % 2 == 0 {
                batch.extend_from_slice(
                    format!("GET /cpu/{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
                );
            } else {
                let body = format!("body-{i}");
                batch.extend_from_slice(
                    format!(
                        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            }
        }
        c.send(&batch);
        for i in 0..10u32 {
            let r = c.read_response();
            assert_eq!(r.status, 200, "response {i}");
            if i % 2 == 0 {
                assert_eq!(
                    r.text(),
                    format!("fib({i}) = {}\n", lab_core::app::fib(i)),
                    "response {i} out of order"
                );
            } else {
                assert_eq!(r.text(), format!("body-{i}"), "response {i} out of order");
            }
        }
        drop(c);
        finish(server);
    }

    pub fn split_at_every_byte(under: &Under) {
        let server = under.start(&[]);
        let request: &[u8] = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello";
        let chunked: &[u8] = b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n";
        let mut c = server.connect();
        for (req, body) in [(request, &b"hello"[..]), (chunked, &b"abcde"[..])] {
            for split in 1..req.len() {
                c.send(&req[..split]);
                c.stream.flush().unwrap();
                std::thread::sleep(Duration::from_millis(1));
                c.send(&req[split..]);
                let r = c.read_response();
                assert_eq!(r.status, 200, "split at {split}");
                assert_eq!(r.body, body, "split at {split}");
            }
        }
        // And one byte per write.
        for b in chunked {
            c.send(std::slice::from_ref(b));
        }
        assert_eq!(c.read_response().body, b"abcde");
        drop(c);
        finish(server);
    }

    /// Files larger than the output bound (64 KiB), pipelined with HEAD and small answers: every
    /// byte arrives, in order, and HEAD sends no body. (epoll once answered only the first: after
    /// writing a large response it waited for an event that never came, then sent 408.)
    pub fn pipelined_large_files(under: &Under) {
        let site = tempfile::tempdir().expect("tempdir");
        let big: Vec<u8> = (0..300 * 1024).map(|i| (i % 253) as u8).collect();
        std::fs::write(site.path().join("big.bin"), &big).expect("big file");
        std::fs::write(site.path().join("small.txt"), "small\n").expect("small file");
        let docroot = site.path().to_str().expect("utf-8 path");
        let server = under.start(&["--docroot", docroot]);
        let model = under.model;
        let mut c = server.connect();
        let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
        let mut batch = String::new();
        for path in ["/static/big.bin", "/static/small.txt"] {
            batch += &get(path);
        }
        batch += "HEAD /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n";
        for path in ["/static/big.bin", "/static/big.bin", "/hello"] {
            batch += &get(path);
        }
        c.send(batch.as_bytes());
        let read_big = |c: &mut Client, n: usize| {
            let r = c.read_response();
            assert_eq!(r.status, 200, "{model}: response {n}");
            assert_eq!(r.header("content-type"), Some("application/octet-stream"));
            assert!(
                r.body == big,
                "{model}: response {n}: the file's bytes differ"
            );
        };
        read_big(&mut c, 1);
        assert_eq!(c.read_response().text(), "small\n");
        let r = c.read_head_response();
        assert_eq!(r.header("content-length"), Some("307200"));
        read_big(&mut c, 4);
        read_big(&mut c, 5);
        assert_hello(&c.read_response());
        drop(c);
        finish(server);
    }

    pub fn bodies(under: &Under) {
        let server = under.start(&[]);
        let mut c = server.connect();
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut req = format!(
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
            big.len()
        )
        .into_bytes();
        req.extend_from_slice(&big);
        c.send(&req);
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, big);
        // Chunked, with extensions, upper-case hex, and trailers.
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nA ; name=\"v\"\r\n0123456789\r\n1\r\nX\r\n0\r\nTrailer-One: 1\r\nTrailer-Two: 2\r\n\r\n");
        let r = c.read_response();
        assert_eq!(r.body, b"0123456789X");
        // Zero-length bodies.
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(c.read_response().body, b"");
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
        assert_eq!(c.read_response().body, b"");
        // The connection is still usable after all of that.
        assert_hello(&c.get("/hello"));
        drop(c);
        finish(server);
    }

    pub fn head(under: &Under) {
        let server = under.start(&[]);
        let mut c = server.connect();
        c.send(b"HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        let r = c.read_head_response();
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-length"),
            Some("13"),
            "HEAD carries GET's length"
        );
        // If any body bytes had been sent, this response would be garbled.
        assert_hello(&c.get("/hello"));
        c.send(b"HEAD /static/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
        let r = c.read_head_response();
        assert_eq!(r.header("content-length"), Some("26"));
        assert_hello(&c.get("/"));
        drop(c);
        finish(server);
    }

    pub fn connection_close(under: &Under) {
        let server = under.start(&[]);
        let mut c = server.connect();
        c.send(b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let r = c.read_response();
        assert_hello(&r);
        assert!(r.closes(), "must answer Connection: close");
        c.assert_closed();
        // A request pipelined after the closing one is not answered.
        let mut c = server.connect();
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
        assert!(c.read_response().closes());
        c.assert_closed();
        finish(server);
    }

    pub fn http10(under: &Under) {
        let server = under.start(&[]);
        // No Host needed; closes by default.
        let mut c = server.connect();
        c.send(b"GET /hello HTTP/1.0\r\n\r\n");
        let r = c.read_response();
        assert_eq!(r.body, b"Hello, World!");
        assert!(r.closes());
        c.assert_closed();
        // Keep-alive on request, announced in the response.
        let mut c = server.connect();
        for _ in 0..3 {
            c.send(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            let r = c.read_response();
            assert_eq!(r.body, b"Hello, World!");
            assert_eq!(r.header("connection"), Some("keep-alive"));
        }
        drop(c);
        finish(server);
    }

    pub fn expect_continue(under: &Under) {
        let server = under.start(&[]);
        let mut c = server.connect();
        c.send(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
        );
        let interim = c.read_head_response();
        assert_eq!(interim.status, 100);
        c.send(b"data");
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"data");
        // Too large: refused at once, no 100.
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\nExpect: 100-continue\r\n\r\n");
        let r = c.read_response();
        assert_eq!(r.status, 413);
        assert!(r.closes());
        c.assert_closed();
        finish(server);
    }

    /// Every rejection: the right status, `Connection: close`, then the connection closes.
    pub fn rejections(under: &Under) {
        let server = under.start(&[]);
        let model = under.model;
        let long_target = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(5000));
        let big_head = format!(
            "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
            "b".repeat(9000)
        );
        let many = format!(
            "GET / HTTP/1.1\r\nHost: t\r\n{}\r\n",
            (0..70).map(|i| format!("X-{i}: v\r\n")).collect::<String>()
        );
        let cases: Vec<(&str, Vec<u8>, u16)> = vec![
            ("garbage request line", b"GARBAGE\r\n\r\n".to_vec(), 400),
            ("missing target", b"GET HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(), 400),
            ("bad header line", b"GET / HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n".to_vec(), 400),
            ("HTTP/1.1 without Host", b"GET / HTTP/1.1\r\n\r\n".to_vec(), 400),
            ("two Hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(), 400),
            ("two Hosts in 1.0", b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n".to_vec(), 400),
            ("invalid Host", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n".to_vec(), 400),
            ("space before colon", b"GET / HTTP/1.1\r\nHost : t\r\n\r\n".to_vec(), 400),
            ("obs-fold", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n".to_vec(), 400),
            ("CL not a number", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n".to_vec(), 400),
            ("CL negative", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n".to_vec(), 400),
            ("CL with sign", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello".to_vec(), 400),
            ("CL list", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\n\r\nhello".to_vec(), 400),
            ("CL repeated, different", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!".to_vec(), 400),
            ("CL overflow", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n".to_vec(), 400),
            ("TE gzip", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(), 501),
            ("TE gzip, chunked", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n".to_vec(), 501),
            ("TE chunked not final", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n".to_vec(), 400),
            ("TE chunked twice", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(), 400),
            ("TE in HTTP/1.0", b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), 400),
            ("TE and CL", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n".to_vec(), 400),
            ("bad chunk size", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(), 400),
            ("chunk without CRLF", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n".to_vec(), 400),
            ("chunk size LF only", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n".to_vec(), 400),
            ("chunk size with trailing space", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n".to_vec(), 400),
            ("chunk size overflow", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n".to_vec(), 400),
            ("NUL in a header value", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\0b\r\n\r\n".to_vec(), 400),
            ("bare CR in a header", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n".to_vec(), 400),
            ("bare LF line ending", b"GET / HTTP/1.1\nHost: t\n\n".to_vec(), 400),
            ("control byte in target", b"GET /a\x01b HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(), 400),
            ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: t\r\n\r\n".to_vec(), 505),
            ("HTTP/3.0", b"GET / HTTP/3.0\r\nHost: t\r\n\r\n".to_vec(), 505),
            ("unknown method", b"BREW / HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(), 501),
            ("target too long", long_target.into_bytes(), 414),
            ("header section too large", big_head.into_bytes(), 431),
            ("too many header fields", many.into_bytes(), 431),
            ("body over the limit", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n".to_vec(), 413),
            ("chunked body over the limit", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n".to_vec(), 413),
            ("unsupported Expect", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nExpect: teapot\r\n\r\nx".to_vec(), 417),
        ];
        for (name, bytes, status) in cases {
            let mut c = server.connect();
            c.send(&bytes);
            let r = c.read_response();
            assert_eq!(r.status, status, "{model}: {name}: {}", r.text());
            assert!(r.closes(), "{model}: {name}: must answer Connection: close");
            c.assert_closed();
        }
        // A valid request after a valid one, then garbage on the same connection: one answer
        // each, then close.
        let mut c = server.connect();
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/9.9\r\nHost: t\r\n\r\n");
        assert_hello(&c.read_response());
        assert_eq!(c.read_response().status, 505);
        c.assert_closed();
        finish(server);
    }

    pub fn routes(under: &Under) {
        let root = docroot();
        let root_arg = root.root.to_str().unwrap().to_string();
        let server = under.start(&["--docroot", &root_arg]);
        let model = under.model;
        let mut c = server.connect();
        assert_hello(&c.get("/"));
        assert_hello(&c.get("/hello"));
        let r = c.get("/static/hello.txt");
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "Hello from a static file.\n")
        );
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(
            c.get("/static/style.css").header("content-type"),
            Some("text/css; charset=utf-8")
        );
        assert_eq!(
            c.get("/static/logo.svg").header("content-type"),
            Some("image/svg+xml; charset=utf-8")
        );
        let r = c.get("/static/");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(c.get("/static/docs/").status, 200);
        assert_eq!(c.get("/static/nope.txt").status, 404);
        // Never a byte from outside the docroot.
        for path in [
            "/static/../secret.txt",
            "/static/%2e%2e/secret.txt",
            "/static/%2E%2E%2Fsecret.txt",
            "/static/docs/../../secret.txt",
            "/static/leak.txt",
            "/static/up/secret.txt",
            "/static//etc/passwd",
            "/static/%2fetc%2fpasswd",
            "/static/..%5csecret.txt",
            "/static/a%00b",
        ] {
            let r = c.get(path);
            assert!(r.status == 403 || r.status == 404, "{path}: {}", r.status);
            assert!(
                !r.text().contains("SECRET") && !r.text().contains("root:"),
                "{path} leaked"
            );
        }
        assert_eq!(c.get("/cpu/20").text(), "fib(20) = 6765\n");
        assert_eq!(c.get("/cpu/x").status, 400);
        assert_eq!(c.get("/cpu/99").status, 400);
        let r = c.get("/sleep/20");
        assert_eq!((r.status, r.text().as_str()), (200, "slept 20 ms\n"));
        assert_eq!(c.get("/sleep/x").status, 400);
        let r = c.get("/alloc/64");
        assert_eq!(r.status, 200);
        assert!(r.text().starts_with("allocated 64 KiB"));
        let r = c.get("/_status");
        assert_eq!(r.status, 200);
        assert!(
            r.text().contains(&format!("\"model\":\"{model}\"")),
            "{}",
            r.text()
        );
        assert_eq!(c.get("/no/such/route").status, 404);
        c.send(b"POST /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
        let r = c.read_response();
        assert_eq!(r.status, 405);
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
        let r = c.get("/echo");
        assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
        // Absolute-form target.
        c.send(b"GET http://t/hello HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_hello(&c.read_response());
        // A higher HTTP/1.x minor version is HTTP/1.1 (RFC 9110 section 2.5), not 505.
        c.send(b"GET /hello HTTP/1.2\r\nHost: t\r\n\r\n");
        let r = c.read_response();
        assert_hello(&r);
        assert!(!r.closes(), "{model}: HTTP/1.2 is kept alive like 1.1");
        // Regression: the query string chose the route (`://` was looked for anywhere in the
        // target): these answered /_status, or aborted the server.
        for target in [
            "/?u=http://x/_status",
            "/?a=http://x/crash?&abort",
            "/?a=http://x/crash&abort",
            "/?x=/static/../secret.txt",
            "/hello?next=https://h/crash",
        ] {
            c.send(format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
            let r = c.read_response();
            assert_hello(&r);
        }
        // Regression: a symlinked index.html served /etc/passwd (GET /static/sub/), and a FIFO
        // in the docroot froze the server. Both get 403, at once.
        for path in [
            "/static/sub/",
            "/static/sub/index.html",
            "/static/fifo",
            "/static/sock",
        ] {
            let r = c.get(path);
            assert_eq!(r.status, 403, "{model}: {path}: {}", r.text());
            assert!(!r.text().contains("root:"), "{model}: {path} leaked");
        }
        // The server still answers everyone.
        for _ in 0..4 {
            assert_hello(&server.connect().get("/hello"));
        }
        drop(c);
        finish(server);
    }

    pub fn handler_panic(under: &Under) {
        let server = under.start(&[]);
        let mut c = server.connect();
        assert_hello(&c.get("/hello"));
        let r = c.get("/crash");
        assert_eq!(r.status, 500);
        assert!(r.closes());
        c.assert_closed();
        // The server goes on.
        for _ in 0..3 {
            let mut c = server.connect();
            assert_hello(&c.get("/hello"));
        }
        finish(server);
    }

    pub fn hundred_clients(under: &Under) {
        let server = under.start(&[]);
        let clients: Vec<_> = (0..100)
            .map(|i| {
                let target = server.target.clone();
                std::thread::spawn(move || {
                    let mut c = Client::connect_to(&target);
                    let mut ok = 0;
                    for j in 0..20 {
                        let body = format!("client {i} request {j}");
                        c.send(format!("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
                        let r = c.read_response();
                        assert_eq!((r.status, r.text()), (200, body));
                        ok += 1;
                    }
                    ok
                })
            })
            .collect();
        let ok: usize = clients
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .sum();
        assert_eq!(ok, 2000, "every response arrived and was right");
        finish(server);
    }

    pub fn timeouts(under: &Under) {
        let server = under.start(&[]);
        // A head that never completes: 408 after --header-timeout (1 s), then close.
        let mut slow = server.connect();
        slow.send(b"GET / HTTP/1.1\r\nHost: t\r\n");
        let r = slow.read_response();
        assert_eq!(r.status, 408);
        assert!(r.closes());
        slow.assert_closed();
        // A client dribbling one byte every 200 ms never completes its head in time either.
        let mut dribble = server.connect();
        let mut answered = None;
        for b in
            b"GET /hello HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"
        {
            if dribble.stream.write_all(std::slice::from_ref(b)).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
            dribble.stream.set_nonblocking(true).unwrap();
            let mut probe = [0u8; 1];
            let peeked = dribble.stream.peek(&mut probe);
            dribble.stream.set_nonblocking(false).unwrap();
            if matches!(peeked, Ok(n) if n > 0) {
                answered = Some(dribble.read_response());
                break;
            }
        }
        let r = answered.expect("the dribbling client was never cut off");
        assert_eq!(r.status, 408);
        // An idle keep-alive connection is closed after --idle-timeout (3 s) without a response.
        let mut idle = server.connect();
        assert_hello(&idle.get("/hello"));
        assert!(
            idle.try_read_response().is_none(),
            "idle close sends nothing"
        );
        finish(server);
    }

    pub fn graceful_shutdown(under: &Under) {
        let server = under.start(&[]);
        let target = server.target.clone();
        // A request in flight at SIGTERM completes. In flight for sure: SIGTERM is sent once
        // the handler sleeps (a fixed pause could end before the server had even read the
        // request, which it may then drop with the idle connections). 2.5 s: SIGTERM lands
        // while it runs even if this thread is held up, and it ends within the suite's 5 s
        // drain timeout.
        let inflight = std::thread::spawn(move || {
            let mut c = Client::connect_to(&target);
            c.get("/sleep/2500")
        });
        assert!(
            common::eventually(common::TIMEOUT, || common::sleeping_in_handler(
                server.pid(),
                2500
            )),
            "{}: the request never reached its handler",
            under.model
        );
        finish(server);
        let r = inflight.join().expect("client");
        assert_eq!(r.status, 200, "the in-flight request finished");
        assert!(
            r.closes(),
            "a response during shutdown says Connection: close"
        );
    }
}

/// A case: run it against `lab serve --model <model> <flags>` over a transport.
type Case = fn(&Under);

/// Every case, by name.
const CASES: &[(&str, Case)] = &[
    ("keep_alive", cases::keep_alive),
    (
        "pipelined_ten_in_one_write",
        cases::pipelined_ten_in_one_write,
    ),
    ("split_at_every_byte", cases::split_at_every_byte),
    ("pipelined_large_files", cases::pipelined_large_files),
    ("bodies", cases::bodies),
    ("head", cases::head),
    ("connection_close", cases::connection_close),
    ("http10", cases::http10),
    ("expect_continue", cases::expect_continue),
    ("rejections", cases::rejections),
    ("routes", cases::routes),
    ("handler_panic", cases::handler_panic),
    ("hundred_clients", cases::hundred_clients),
    ("timeouts", cases::timeouts),
    ("graceful_shutdown", cases::graceful_shutdown),
];

/// A flag set that cannot work over a Unix socket, and why; over Unix such a set gets one trial
/// instead of the cases: `lab serve` refuses it before binding, naming the flag.
fn tcp_only(flags: &[&str]) -> Option<&'static str> {
    flags
        .windows(2)
        .any(|w| w == ["--accept", "reuseport"])
        .then_some("--accept reuseport")
}

/// Over a Unix socket, a TCP-only flag set is refused with one line naming the flag, and no
/// socket file is left.
fn refused_over_unix(under: &Under, flag: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lab.sock");
    let addr = format!("unix:{}", path.display());
    let mut args = vec!["serve", "--model", under.model, "--addr", &addr];
    args.extend(under.flags);
    let (ok, stdout, stderr) = common::lab(&args);
    assert!(
        !ok,
        "{}: {:?} was accepted over a Unix socket",
        under.model, under.flags
    );
    assert!(
        stdout.is_empty(),
        "it must refuse before listening: {stdout}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(flag), "the error names {flag}: {stderr}");
    assert!(!path.exists(), "no socket file is left");
}

/// Every case against every registered model (`http_lab::models::ALL`), once with its default
/// flags and once with each flag set its crate lists in `ModelInfo::conformance`, each over TCP
/// and over a Unix socket (`::unix::` in the trial's name). A model that cannot run here is
/// listed as ignored, with the reason printed. Filter as usual:
/// `cargo test --test conformance -- epoll`, `... routes` or `... ::unix::`.
fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let mut trials = Vec::new();
    for model in http_lab::models::ALL {
        let info = model.info();
        let unavailable = model.available().err();
        if let Some(why) = &unavailable {
            eprintln!("conformance: skipping {}: {why}", info.name);
        }
        let configs = std::iter::once(&[][..]).chain(info.conformance.iter().copied());
        for flags in configs {
            let label = if flags.is_empty() {
                info.name.to_string()
            } else {
                format!("{} {}", info.name, flags.join(" "))
            };
            for transport in [Transport::Tcp, Transport::Unix] {
                let under = Under {
                    model: info.name,
                    flags,
                    transport,
                };
                let prefix = match transport {
                    Transport::Tcp => label.clone(),
                    Transport::Unix => format!("{label}::unix"),
                };
                if let (Transport::Unix, Some(flag)) = (transport, tcp_only(flags)) {
                    let trial =
                        libtest_mimic::Trial::test(format!("{prefix}::refused"), move || {
                            refused_over_unix(&under, flag);
                            Ok(())
                        });
                    trials.push(trial.with_ignored_flag(unavailable.is_some()));
                    continue;
                }
                let under = std::sync::Arc::new(under);
                for &(case, run) in CASES {
                    let under = std::sync::Arc::clone(&under);
                    let trial =
                        libtest_mimic::Trial::test(format!("{prefix}::{case}"), move || {
                            run(&under);
                            Ok(())
                        });
                    trials.push(trial.with_ignored_flag(unavailable.is_some()));
                }
            }
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
