//! may_minihttp serving the lab's plaintext route with one worker: a benchmark peer for
//! `benches/hotpath.sh` (issue 13), never part of the lab's build.
//!
//! `GET /` and `GET /hello` answer `200`, `Content-Type: text/plain; charset=utf-8`,
//! `Hello, World!`, as `lab serve` does (lab_core::application::app); anything else `404`.
//! may_minihttp adds its own `Server: M` and `Date` headers.
//!
//! ```sh
//! cargo run --release --manifest-path benches/peers/may_minihttp/Cargo.toml -- --addr 127.0.0.1:8082
//! ```
//!
//! It prints `listening on http://ADDR` once bound, as `lab serve` does, and stops on
//! SIGINT/SIGTERM (the default action). One may worker thread (`set_workers(1)`), the counterpart
//! of `lab serve --model epoll --loops 1`; may's own core pinning is off so that `taskset` decides
//! the CPU.

use may_minihttp::{HttpService, HttpServiceFactory, Request, Response};
use std::io;

const HELLO: &str = "Hello, World!";

struct Plaintext;

impl HttpService for Plaintext {
    fn call(&mut self, req: Request, rsp: &mut Response) -> io::Result<()> {
        match req.path() {
            "/" | "/hello" => {
                rsp.header("Content-Type: text/plain; charset=utf-8")
                    .body(HELLO);
            }
            _ => {
                rsp.status_code(404, "Not Found");
            }
        }
        Ok(())
    }
}

struct Factory;

impl HttpServiceFactory for Factory {
    type Service = Plaintext;

    fn new_service(&self, _: usize) -> Plaintext {
        Plaintext
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = match (args.next().as_deref(), args.next()) {
        (Some("--addr"), Some(addr)) => addr,
        (None, _) => "127.0.0.1:8082".to_string(),
        _ => {
            eprintln!("usage: may-minihttp-peer [--addr IP:PORT]");
            std::process::exit(2);
        }
    };
    // As TechEmpower's may_minihttp entry, with one worker.
    may::config()
        .set_workers(1)
        .set_pool_capacity(500)
        .set_stack_size(0x1000);
    may::config().set_worker_pin(false);
    let server = match Factory.start(&addr) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("may-minihttp-peer: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    println!("listening on http://{addr}");
    let _ = server.join();
}
