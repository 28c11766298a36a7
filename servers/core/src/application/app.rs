//! The lab's application: the routes every model serves, each with its cost class.
//!
//! | route | answer | cost |
//! |---|---|---|
//! | `GET /`, `GET /hello` | `Hello, World!` (the plaintext workload) | quick |
//! | `POST /echo` | the request body | quick |
//! | `GET /static/<path>` | a file under the docroot | blocking (disk) |
//! | `GET /cpu/<n>` | naive Fibonacci of n (n ≤ 42) | CPU |
//! | `GET /sleep/<ms>` | sleeps ms (≤ 10 s), a stand-in for a database call | blocking |
//! | `GET /crash` | the handler panics: 500, connection closed | quick |
//! | `GET /crash?abort` | the serving process aborts | quick |
//! | `GET /alloc/<kb>` | keeps kb KiB allocated for good (≤ 64 MiB a request) | quick |
//! | `GET /_status` | JSON: model, pid, threads, and the model's own `detail` ([`crate::status`]) | quick |
//!
//! HEAD is accepted wherever GET is. A known path with another method gets 405 with `Allow`.

use crate::handler::{Cost, Handler};
use crate::request::{Method, Request};
use crate::response::{Response, Status};
use crate::static_files::Docroot;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// The body of the plaintext workload.
pub const HELLO: &[u8] = b"Hello, World!";
/// Largest n for `/cpu/<n>`: fib(42) is a few seconds of CPU.
pub const MAX_FIB: u32 = 42;
/// Longest sleep for `/sleep/<ms>`.
pub const MAX_SLEEP_MS: u64 = 10_000;
/// Largest allocation for one `/alloc/<kb>` request.
pub const MAX_ALLOC_KB: usize = 64 * 1024;

/// The lab's routes.
pub struct LabApp {
    /// The docroot, held open: files are opened beneath it by the kernel's rules.
    docroot: Docroot,
    /// The model's name, reported by `/_status`.
    model: String,
    /// What `/alloc` keeps: a deliberate leak.
    leaked: Mutex<Vec<Box<[u8]>>>,
}

impl LabApp {
    /// An app serving static files from `docroot`, which must exist.
    pub fn new(docroot: &Path, model: &str) -> std::io::Result<LabApp> {
        Ok(LabApp {
            docroot: Docroot::open(docroot)?,
            model: model.to_string(),
            leaked: Mutex::new(Vec::new()),
        })
    }

    fn route<'a>(&self, req: &'a Request) -> Route<'a> {
        let path = req.path();
        if path == "/" || path == "/hello" {
            Route::Hello
        } else if path == "/echo" {
            Route::Echo
        } else if let Some(rest) = path.strip_prefix("/static/") {
            Route::Static(rest)
        } else if let Some(n) = path.strip_prefix("/cpu/") {
            Route::Cpu(n)
        } else if let Some(ms) = path.strip_prefix("/sleep/") {
            Route::Sleep(ms)
        } else if path == "/crash" {
            Route::Crash
        } else if let Some(kb) = path.strip_prefix("/alloc/") {
            Route::Alloc(kb)
        } else if path == "/_status" {
            Route::Status
        } else {
            Route::NotFound
        }
    }
}

enum Route<'a> {
    Hello,
    Echo,
    Static(&'a str),
    Cpu(&'a str),
    Sleep(&'a str),
    Crash,
    Alloc(&'a str),
    Status,
    NotFound,
}

impl Handler for LabApp {
    fn cost(&self, req: &Request) -> Cost {
        match self.route(req) {
            Route::Cpu(_) => Cost::Cpu,
            Route::Sleep(_) | Route::Static(_) => Cost::Blocking,
            _ => Cost::Quick,
        }
    }

    fn handle(&self, req: &Request) -> Response {
        let route = self.route(req);
        let allowed = match route {
            Route::NotFound => return Response::error(Status::NOT_FOUND, "no such route"),
            Route::Echo => "POST",
            _ => "GET, HEAD",
        };
        let method_ok = match route {
            Route::Echo => req.method == Method::Post,
            _ => matches!(req.method, Method::Get | Method::Head),
        };
        if !method_ok {
            return Response::error(Status::METHOD_NOT_ALLOWED, "method not allowed here")
                .with_header("Allow", allowed);
        }
        match route {
            Route::Hello => Response::text(Status::OK, HELLO),
            Route::Echo => Response::new(Status::OK, "application/octet-stream", req.body.clone()),
            Route::Static(rel) => self.docroot.serve(rel),
            Route::Cpu(n) => match n.parse::<u32>() {
                Ok(n) if n <= MAX_FIB => {
                    let result = fib(std::hint::black_box(n));
                    Response::text(Status::OK, format!("fib({n}) = {result}\n").into_bytes())
                }
                _ => Response::error(Status::BAD_REQUEST, "expected /cpu/<n> with n <= 42"),
            },
            Route::Sleep(ms) => match ms.parse::<u64>() {
                Ok(ms) => {
                    let ms = ms.min(MAX_SLEEP_MS);
                    std::thread::sleep(Duration::from_millis(ms));
                    Response::text(Status::OK, format!("slept {ms} ms\n").into_bytes())
                }
                Err(_) => Response::error(Status::BAD_REQUEST, "expected /sleep/<milliseconds>"),
            },
            Route::Crash => {
                if req
                    .query()
                    .is_some_and(|q| q.split('&').any(|p| p == "abort"))
                {
                    eprintln!("/crash?abort: aborting process {}", std::process::id());
                    std::process::abort();
                }
                panic!("/crash: the handler panicked on purpose");
            }
            Route::Alloc(kb) => match kb.parse::<usize>() {
                Ok(kb) if kb <= MAX_ALLOC_KB => {
                    // Touch every page so that the memory really is resident.
                    let block = vec![1u8; kb * 1024].into_boxed_slice();
                    let mut leaked = self.leaked.lock().unwrap_or_else(|e| e.into_inner());
                    leaked.push(block);
                    let total: usize = leaked.iter().map(|b| b.len()).sum();
                    let body = format!(
                        "allocated {kb} KiB; this process now holds {} KiB\n",
                        total / 1024
                    );
                    Response::text(Status::OK, body.into_bytes())
                }
                _ => Response::error(Status::BAD_REQUEST, "expected /alloc/<kb> with kb <= 65536"),
            },
            Route::Status => {
                let detail = crate::status::snapshot().unwrap_or_else(|| "null".into());
                let body = format!(
                    "{{\"model\":\"{}\",\"pid\":{},\"threads\":{},\"detail\":{}}}\n",
                    self.model,
                    std::process::id(),
                    thread_count().unwrap_or(0),
                    detail
                );
                Response::new(Status::OK, "application/json", body.into_bytes())
            }
            Route::NotFound => unreachable!("answered above"),
        }
    }
}

/// Naive recursive Fibonacci: exponential on purpose, pure CPU.
pub fn fib(n: u32) -> u64 {
    if n < 2 {
        u64::from(n)
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

/// Threads of this process, from /proc/self/status.
pub fn thread_count() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}
