//! The offload pool: helper threads that run the requests a loop must not run itself (Flash's
//! AMPED design). A loop sends a [`Job`]; a helper runs the handler and sends the [`Done`] back
//! to that loop's channel, then wakes the loop through its [`Waker`] (a `mio::Waker` for epoll,
//! an eventfd the ring reads for io_uring).
//!
//! ```text
//! loop ──Job{key, id, request, reply}──▶ jobs channel ──▶ helper: call(handler, request)
//!   ▲                                                        │
//!   └──── (reply.waker)() ◀── results channel ◀── Done{key, id, request, response}
//! ```
//!
//! The jobs channel is unbounded on purpose: a connection parks while its job is out, so there
//! is at most one job per connection and the queue is bounded by the number of connections.

use crossbeam_channel::{Receiver, Sender};
use lab_core::{call, Handler, Request, Response};
use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

/// Wakes a loop that may be asleep in its wait (`poll`, `io_uring_enter`): each model brings its
/// own mechanism. Called once per finished job, from a helper thread.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// Where a finished job goes: its loop's results channel, and that loop's waker.
#[derive(Clone)]
pub struct Reply {
    pub results: Sender<Done>,
    pub waker: Waker,
}

/// A request handed to the pool.
pub struct Job {
    /// The connection it came from (its slot in the loop's slab: epoll's `Token`). A slot is
    /// reused after its connection closes, so `id` tells a stale answer from a current one.
    pub key: usize,
    pub id: u32,
    pub request: Request,
    pub reply: Reply,
}

/// A request served by the pool, on its way back to its loop.
pub struct Done {
    pub key: usize,
    pub id: u32,
    /// Given back because writing the response needs the request's head (HEAD, version,
    /// keep-alive).
    pub request: Request,
    pub response: Response,
}

/// The helper threads.
pub struct Pool {
    jobs: Sender<Job>,
    workers: Vec<JoinHandle<()>>,
    /// Each helper holds a sender; when the last one exits, `exited` reports disconnection.
    exited: Receiver<()>,
}

impl Pool {
    /// Starts `threads` helpers, named `{name}-offload-{i}`.
    pub fn start(name: &str, handler: Arc<dyn Handler>, threads: usize) -> io::Result<Pool> {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        let (alive, exited) = crossbeam_channel::bounded::<()>(0);
        let mut workers = Vec::with_capacity(threads);
        for i in 0..threads {
            let queue = queue.clone();
            let handler = Arc::clone(&handler);
            let alive = alive.clone();
            let worker = thread::Builder::new()
                .name(format!("{name}-offload-{i}"))
                .spawn(move || {
                    let _alive = alive;
                    // Ends when every loop has dropped its sender.
                    for job in queue.iter() {
                        let response = call(handler.as_ref(), &job.request);
                        let Job {
                            key,
                            id,
                            request,
                            reply,
                        } = job;
                        // The loop may be gone (shutdown): then the answer has nowhere to go.
                        if reply
                            .results
                            .send(Done {
                                key,
                                id,
                                request,
                                response,
                            })
                            .is_ok()
                        {
                            (reply.waker)();
                        }
                    }
                });
            match worker {
                Ok(worker) => workers.push(worker),
                Err(e) => {
                    // Dropping `jobs` (below, with the partial pool) stops the started helpers.
                    return Err(io::Error::new(
                        e.kind(),
                        format!("{name}: cannot start offload thread {i} of {threads}: {e}"),
                    ));
                }
            }
        }
        Ok(Pool {
            jobs,
            workers,
            exited,
        })
    }

    /// A sender for one loop.
    pub fn sender(&self) -> Sender<Job> {
        self.jobs.clone()
    }

    /// Stops the helpers once every loop has dropped its sender: each finishes its current job
    /// and exits. Helpers still busy at `deadline` (a `/sleep/10000` in progress) are left to
    /// finish on their own; their answers are dropped. Returns how many were left running.
    pub fn stop(self, deadline: Instant) -> usize {
        let Pool {
            jobs,
            workers,
            exited,
        } = self;
        drop(jobs);
        // No helper ever sends on `alive`: this returns when all have exited, or at the deadline.
        let _ = exited.recv_deadline(deadline);
        let mut left = 0;
        for worker in workers {
            if worker.is_finished() {
                let _ = worker.join();
            } else {
                left += 1;
            }
        }
        left
    }
}
