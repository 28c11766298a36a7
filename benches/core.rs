//! Benchmarks of the shared core (`lab-core`): the parser on small, typical and large request
//! heads, the lab's request path against bare httparse on the same bytes, chunked body
//! decoding, response writing, and each route's handler.
//!
//! `cargo bench --bench core` measures; `cargo bench --bench '*' -- --test` (CI) runs each once.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use lab_core::body::BodyDecoder;
use lab_core::parse::{parse_head, HeadStatus};
use lab_core::{
    Handler, Input, LabApp, Limits, Parsed, Progress, Request, RequestReader, Response, Status,
};
use std::hint::black_box;

/// `curl http://localhost/`: the smallest head a real client sends.
const SMALL: &[u8] =
    b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";

/// A browser's request for a page: about 500 bytes, 10 fields.
const TYPICAL: &[u8] = b"GET /static/index.html?lang=en HTTP/1.1\r\n\
Host: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Connection: keep-alive\r\n\
Referer: https://www.example.com/\r\n\
Cookie: session=4f9a0c1e2b3d4a5f6e7d8c9b0a1f2e3d; theme=dark\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Cache-Control: max-age=0\r\n\r\n";

/// A head near the default limits: 60 fields, about 7 KiB (big cookies, tracing headers).
fn large_head() -> Vec<u8> {
    let mut head =
        b"GET /api/v1/items?page=2&sort=name HTTP/1.1\r\nHost: api.example.com\r\n".to_vec();
    for i in 0..58 {
        head.extend_from_slice(
            format!("X-Trace-{i:02}: {}\r\n", "abcdef0123456789".repeat(7)).as_bytes(),
        );
    }
    head.extend_from_slice(b"\r\n");
    assert!(head.len() < Limits::default().max_head_bytes);
    head
}

fn parser(c: &mut Criterion) {
    let limits = Limits::default();
    let large = large_head();
    let heads: [(&str, &[u8]); 3] = [("small", SMALL), ("typical", TYPICAL), ("large", &large)];
    let mut group = c.benchmark_group("parse_head");
    for (name, bytes) in heads {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| match parse_head(black_box(bytes), &limits) {
                Ok(HeadStatus::Complete(head, n)) => black_box((head, n)),
                other => panic!("not a complete head: {other:?}"),
            })
        });
    }
    group.finish();

    // The whole path a connection takes: bytes in a buffer to a `Request`, buffer consumed,
    // parsed into one request, its storage reused for the next one (as the servers do).
    let mut group = c.benchmark_group("request_reader");
    for (name, bytes) in heads {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| {
            let mut reader = RequestReader::new();
            let mut req = Request::default();
            b.iter_batched_ref(
                || Input::from(bytes.to_vec()),
                |buf| match reader.next_into(buf, &limits, &mut req) {
                    Ok(Parsed::Complete) => {
                        black_box(&req);
                    }
                    other => panic!("not a complete request: {other:?}"),
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// The request wrk sends in the TechEmpower plaintext test, 16 of which make one pipelined write.
const PLAINTEXT: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: server\r\n\
Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7\r\n\
Connection: keep-alive\r\n\r\n";

/// The lab's request path (`RequestReader::next_into`: parse in place, check, copy the head
/// into the reused request's storage, consume by offset) against bare httparse (parse into a borrowed header
/// array, nothing else) on the same bytes: what the lab's checks, owned `Request` and buffer
/// handling cost per byte.
/// Each iteration takes every request out of the bytes (16 for the pipelined batch).
fn parser_vs_httparse(c: &mut Criterion) {
    let limits = Limits::default();
    let pipelined = PLAINTEXT.repeat(16);
    let cases: [(&str, &[u8], usize); 3] = [
        ("curl", SMALL, 1),
        ("browser", TYPICAL, 1),
        ("pipelined_16", &pipelined, 16),
    ];
    let mut group = c.benchmark_group("parser_vs_httparse");
    for (name, bytes, count) in cases {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(format!("lab/{name}"), |b| {
            let mut reader = RequestReader::new();
            let mut req = Request::default();
            b.iter_batched_ref(
                || Input::from(bytes.to_vec()),
                |buf| {
                    let mut n = 0;
                    loop {
                        match reader.next_into(buf, &limits, &mut req) {
                            Ok(Parsed::Complete) => {
                                black_box(&req);
                                n += 1;
                            }
                            Ok(Parsed::Partial) => break,
                            other => panic!("not a complete request: {other:?}"),
                        }
                    }
                    assert_eq!(n, count);
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("httparse/{name}"), |b| {
            b.iter(|| {
                let mut at = 0;
                let mut n = 0;
                while at < bytes.len() {
                    let mut headers = [httparse::EMPTY_HEADER; 64];
                    let mut req = httparse::Request::new(&mut headers);
                    match req.parse(black_box(&bytes[at..])) {
                        Ok(httparse::Status::Complete(len)) => {
                            black_box(&req);
                            at += len;
                            n += 1;
                        }
                        other => panic!("not a complete request: {other:?}"),
                    }
                }
                assert_eq!(n, count);
            })
        });
    }
    group.finish();
}

/// A 64 KiB body in 4 KiB chunks, with an extension on the first and a trailer.
fn chunked_body() -> (Vec<u8>, usize) {
    let chunk = vec![b'x'; 4096];
    let mut wire = Vec::new();
    for i in 0..16 {
        if i == 0 {
            wire.extend_from_slice(b"1000;name=value\r\n");
        } else {
            wire.extend_from_slice(b"1000\r\n");
        }
        wire.extend_from_slice(&chunk);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\nX-Checksum: 1234\r\n\r\n");
    (wire, 16 * 4096)
}

fn chunked(c: &mut Criterion) {
    let (wire, body_len) = chunked_body();
    let mut group = c.benchmark_group("chunked");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("decode_64k_whole", |b| {
        let mut body = Vec::with_capacity(body_len);
        b.iter(|| {
            body.clear();
            let mut decoder = BodyDecoder::chunked();
            let (used, done) = decoder
                .decode(black_box(&wire), &mut body, 1 << 20, 8192)
                .expect("valid chunked body");
            assert!(done && used == wire.len() && body.len() == body_len);
        })
    });
    // The same body arriving in 1,500-byte reads (one Ethernet frame each), as a socket gives
    // it: bytes the decoder did not take yet stay in the buffer for the next read.
    group.bench_function("decode_64k_in_1500b_reads", |b| {
        let mut body = Vec::with_capacity(body_len);
        let mut buf = Vec::with_capacity(4096);
        b.iter(|| {
            body.clear();
            buf.clear();
            let mut decoder = BodyDecoder::chunked();
            let mut done = false;
            for piece in wire.chunks(1500) {
                buf.extend_from_slice(piece);
                let (used, finished) = decoder
                    .decode(&buf, &mut body, 1 << 20, 8192)
                    .expect("valid chunked body");
                buf.drain(..used);
                done = finished;
            }
            assert!(done && body.len() == body_len);
        })
    });
    group.finish();
}

fn responses(c: &mut Criterion) {
    let mut group = c.benchmark_group("response_write");
    let hello = Response::text(Status::OK, &b"Hello, World!"[..]);
    let big = Response::text(Status::OK, vec![b'y'; 64 * 1024]);
    let mut out = Vec::with_capacity(128 * 1024);
    for (name, resp) in [("hello", &hello), ("64k_body", &big)] {
        out.clear();
        resp.write_to(&mut out, false, true, 1);
        group.throughput(Throughput::Bytes(out.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                resp.write_to(&mut out, false, true, 1);
                black_box(out.len())
            })
        });
    }
    group.finish();
}

/// Parses `bytes` into a `Request`, as a server would.
fn request(bytes: &[u8]) -> Request {
    let mut buf = Input::from(bytes);
    match RequestReader::new().advance(&mut buf, &Limits::default()) {
        Ok(Progress::Complete(req)) => req,
        other => panic!("not a complete request: {other:?}"),
    }
}

fn handlers(c: &mut Criterion) {
    let site = tempfile::tempdir().expect("temp dir");
    lab_core::static_files::write_sample_site(site.path()).expect("sample site");
    let app = LabApp::new(site.path(), "bench").expect("app");
    // `/alloc/<kb>` leaks on purpose and `/crash` panics: not benchmarked in a loop.
    let routes: [(&str, Vec<u8>); 9] = [
        ("GET /", b"GET / HTTP/1.1\r\nHost: b\r\n\r\n".to_vec()),
        (
            "GET /hello",
            b"GET /hello HTTP/1.1\r\nHost: b\r\n\r\n".to_vec(),
        ),
        ("POST /echo (1 KiB)", {
            let mut r = b"POST /echo HTTP/1.1\r\nHost: b\r\nContent-Length: 1024\r\n\r\n".to_vec();
            r.extend_from_slice(&[b'e'; 1024]);
            r
        }),
        (
            "GET /static/index.html",
            b"GET /static/index.html HTTP/1.1\r\nHost: b\r\n\r\n".to_vec(),
        ),
        (
            "GET /cpu/20",
            b"GET /cpu/20 HTTP/1.1\r\nHost: b\r\n\r\n".to_vec(),
        ),
        // The `lab compare` cpu workload: about a millisecond.
        (
            "GET /cpu/29",
            b"GET /cpu/29 HTTP/1.1\r\nHost: b\r\n\r\n".to_vec(),
        ),
        (
            "GET /sleep/1",
            b"GET /sleep/1 HTTP/1.1\r\nHost: b\r\n\r\n".to_vec(),
        ),
        (
            "GET /_status",
            b"GET /_status HTTP/1.1\r\nHost: b\r\n\r\n".to_vec(),
        ),
        (
            "GET /nope (404)",
            b"GET /nope HTTP/1.1\r\nHost: b\r\n\r\n".to_vec(),
        ),
    ];
    let mut group = c.benchmark_group("route");
    for (name, bytes) in &routes {
        let req = request(bytes);
        if name.contains("/cpu/29") || name.contains("/sleep") {
            group.sample_size(10);
        } else {
            group.sample_size(100);
        }
        group.bench_function(*name, |b| b.iter(|| black_box(app.handle(black_box(&req)))));
    }
    group.finish();
}

/// What wrk sends (`wrk.format()`): the request of `benches/wrk/pipeline.lua`, 16 per write.
const WRK: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

/// A server's whole user-space work for one pipelined batch of 16 wrk requests, as the event
/// loops do it: parse each in place into one reused request, call the handler (`/`), write its
/// response into the output buffer. Against it, the least any server does: bare httparse and
/// a fixed response copied per request.
fn answer_batch(c: &mut Criterion) {
    let site = tempfile::tempdir().expect("temp dir");
    let app = LabApp::new(site.path(), "bench").expect("app");
    let limits = Limits::default();
    let batch = WRK.repeat(16);
    let mut group = c.benchmark_group("answer_batch");
    group.throughput(Throughput::Elements(16));
    group.bench_function("lab/wrk_16", |b| {
        let mut reader = RequestReader::new();
        let mut req = Request::default();
        let mut out = Vec::with_capacity(64 * 1024);
        b.iter_batched_ref(
            || Input::from(batch.clone()),
            |buf| {
                out.clear();
                let mut n = 0;
                while let Ok(Parsed::Complete) = reader.next_into(buf, &limits, &mut req) {
                    let resp = lab_core::call(&app, &req);
                    lab_core::respond(&req.head, resp, false, &mut out);
                    n += 1;
                }
                assert_eq!(n, 16);
                black_box(&out);
            },
            BatchSize::SmallInput,
        )
    });
    let fixed = {
        let mut out = Vec::new();
        lab_core::respond(
            &request(WRK).head,
            app.handle(&request(WRK)),
            false,
            &mut out,
        );
        out
    };
    group.bench_function("floor/wrk_16", |b| {
        let mut out = Vec::with_capacity(64 * 1024);
        b.iter(|| {
            out.clear();
            let bytes = black_box(&batch[..]);
            let mut at = 0;
            while at < bytes.len() {
                let mut headers = [httparse::EMPTY_HEADER; 16];
                let mut req = httparse::Request::new(&mut headers);
                match req.parse(&bytes[at..]) {
                    Ok(httparse::Status::Complete(len)) => {
                        black_box(&req);
                        out.extend_from_slice(&fixed);
                        at += len;
                    }
                    other => panic!("not a complete request: {other:?}"),
                }
            }
            black_box(&out);
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    answer_batch,
    parser,
    parser_vs_httparse,
    chunked,
    responses,
    handlers
);
criterion_main!(benches);
