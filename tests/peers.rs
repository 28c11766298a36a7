//! Real HTTP clients against the real server: curl, ApacheBench and wrk. curl is required (the CI
//! script installs it); ab and wrk are installed by the CI script too, and these tests fail with
//! a clear message if they are missing.

mod common;

use common::{curl, Server};
use std::process::Command;

const MODELS: &[&str] = &["single_thread", "thread_per_request"];

#[test]
fn curl_gets_correct_answers() {
    for model in MODELS {
        let server = Server::start(model, &[]);
        let (out, _) = curl(&["-i", &server.url("/hello")]);
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{model}: {out}");
        assert!(out.ends_with("\r\n\r\nHello, World!"), "{model}: {out}");
        let (out, _) = curl(&["--data-binary", "posted bytes", &server.url("/echo")]);
        assert_eq!(out, "posted bytes");
        let (out, _) = curl(&[
            "-H",
            "Transfer-Encoding: chunked",
            "--data-binary",
            "chunked upload",
            &server.url("/echo"),
        ]);
        assert_eq!(out, "chunked upload");
        let (out, err) = curl(&[
            "-v",
            "-H",
            "Expect: 100-continue",
            "--data-binary",
            "after continue",
            &server.url("/echo"),
        ]);
        assert_eq!(out, "after continue");
        assert!(
            err.contains("HTTP/1.1 100 Continue"),
            "{model}: no 100 Continue in:\n{err}"
        );
        let (out, _) = curl(&["-I", &server.url("/static/hello.txt")]);
        assert!(
            out.contains("Content-Length: 26\r\n") && out.contains("Content-Type: text/plain"),
            "{out}"
        );
        let (out, _) = curl(&["--http1.0", "-i", &server.url("/")]);
        assert!(
            out.contains("Connection: close\r\n") && out.ends_with("Hello, World!"),
            "{out}"
        );
        // Two URLs on one command line reuse the keep-alive connection.
        let (out, err) = curl(&["-v", &server.url("/hello"), &server.url("/hello")]);
        assert_eq!(out, "Hello, World!Hello, World!");
        assert!(
            err.to_lowercase().contains("re-using") || err.to_lowercase().contains("reusing"),
            "{model}: connection not reused:\n{err}"
        );
        let (out, _) = curl(&[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &server.url("/static/%2e%2e/%2e%2e/etc/passwd"),
        ]);
        assert!(out == "403" || out == "404", "{out}");
        let (status, _) = server.stop();
        assert!(status.success());
    }
}

fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "`{name}` is needed by this test: apt-get install {}",
        if name == "ab" { "apache2-utils" } else { name }
    );
    Command::new(name)
}

#[test]
fn apache_bench_gets_every_response() {
    for model in MODELS {
        let server = Server::start(model, &[]);
        // -k: keep-alive, 2,000 requests, every one must succeed. single_thread gets one
        // connection: it serves a keep-alive connection until the client closes it or it idles
        // out, so ab's other connections would wait for the idle timeout (the lecture's lesson).
        let conns = if *model == "single_thread" { "1" } else { "10" };
        let out = tool("ab")
            .args([
                "-q",
                "-k",
                "-n",
                "2000",
                "-c",
                conns,
                "-s",
                "15",
                &server.url("/hello"),
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{model}: ab failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("Complete requests:      2000"),
            "{model}: {text}"
        );
        assert!(
            text.contains("Failed requests:        0"),
            "{model}: {text}"
        );
        assert!(
            text.contains("Keep-Alive requests:    2000"),
            "{model}: {text}"
        );
        // Without keep-alive: a connection per request.
        let out = tool("ab")
            .args([
                "-q",
                "-n",
                "500",
                "-c",
                "5",
                "-s",
                "15",
                &server.url("/hello"),
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Complete requests:      500")
                && text.contains("Failed requests:        0"),
            "{model}: {text}"
        );
        let (status, _) = server.stop();
        assert!(status.success());
    }
}

#[test]
fn wrk_sees_no_errors() {
    for model in MODELS {
        let server = Server::start(model, &[]);
        let out = tool("wrk")
            .args([
                "-t1",
                "-c10",
                "-d1s",
                "--timeout",
                "5s",
                &server.url("/hello"),
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{model}: wrk failed: {text}");
        assert!(text.contains("requests in"), "{model}: {text}");
        assert!(
            !text.contains("Socket errors") && !text.contains("Non-2xx"),
            "{model}: {text}"
        );
        let (status, _) = server.stop();
        assert!(status.success());
    }
}
