//! Child processes, the way every process model uses them: fork a child that runs a closure and
//! exits, keep the set of live children, reap them, and stop them all (bounded) at shutdown.
//!
//! ```text
//! spawn(body):  pid = fork()
//!               child:  die with the parent; code = body(); _exit(code)   (never returns)
//!               parent: remember pid
//! reap():       while waitpid(-1, WNOHANG) names a child: forget it, report how it ended
//! stop(drain):  SIGTERM every child; reap until none is left or `drain` has passed;
//!               SIGKILL the rest and reap them too
//! ```
//!
//! Forking is only safe from a single-threaded process ([`ensure_single_threaded`]): the child
//! gets a copy of the forking thread only, and any lock another thread held at that instant (the
//! allocator's, stdout's) would stay locked in the child forever.

use crate::sys::{self, Ended, Pid};
use std::collections::HashSet;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// How long reaping SIGKILLed children may take before we give up on them (they cannot refuse
/// SIGKILL, so this only guards against a kernel stuck in uninterruptible I/O).
const KILL_WAIT: Duration = Duration::from_secs(2);

/// Fails unless this process has exactly one thread, naming the model that wanted to fork.
pub fn ensure_single_threaded(model: &str) -> io::Result<()> {
    match crate::app::thread_count() {
        Some(1) | None => Ok(()),
        Some(n) => Err(io::Error::other(format!(
            "{model} forks, and fork is only safe from a single-threaded process, \
             but this one has {n} threads"
        ))),
    }
}

/// The live children of this process.
#[derive(Debug, Default)]
pub struct Children {
    live: HashSet<Pid>,
}

impl Children {
    pub fn new() -> Self {
        Children::default()
    }

    /// Forks a child that runs `body` and exits with the code it returns (101 if it panics).
    /// In the parent, `body` is dropped unrun: whatever it captured (an accepted socket, say)
    /// is closed on this side, which is exactly what the parent must do with it.
    pub fn spawn(&mut self, body: impl FnOnce() -> i32) -> io::Result<Pid> {
        let parent = sys::pid();
        match sys::fork()? {
            sys::Fork::Parent(pid) => {
                self.live.insert(pid);
                Ok(pid)
            }
            sys::Fork::Child => {
                sys::die_with_parent(parent);
                let code = catch_unwind(AssertUnwindSafe(body)).unwrap_or(101);
                sys::exit_now(code)
            }
        }
    }

    /// Live children.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    pub fn contains(&self, pid: Pid) -> bool {
        self.live.contains(&pid)
    }

    /// Reaps every child that has ended, calling `ended` for each. Never blocks.
    pub fn reap(&mut self, mut ended: impl FnMut(Pid, Ended)) -> usize {
        let mut n = 0;
        while let Some((pid, how)) = sys::reap_any() {
            self.live.remove(&pid);
            ended(pid, how);
            n += 1;
        }
        n
    }

    /// Sends `sig` to one child.
    pub fn signal(&self, pid: Pid, sig: i32) {
        if self.live.contains(&pid) {
            sys::kill(pid, sig);
        }
    }

    /// Stops every child: SIGTERM (they finish what they are doing and exit), reaping until all
    /// are gone or `drain` has passed, then SIGKILL for the rest. Returns how many had to be
    /// killed. `ended` is called for every child reaped.
    pub fn stop(&mut self, drain: Duration, mut ended: impl FnMut(Pid, Ended)) -> usize {
        for &pid in &self.live {
            sys::kill(pid, libc::SIGTERM);
        }
        self.wait_all(drain, &mut ended);
        let stubborn = self.live.len();
        for &pid in &self.live {
            sys::kill(pid, libc::SIGKILL);
        }
        self.wait_all(KILL_WAIT, &mut ended);
        stubborn
    }

    /// Reaps until no child is left or `timeout` has passed.
    fn wait_all(&mut self, timeout: Duration, ended: &mut impl FnMut(Pid, Ended)) {
        let deadline = Instant::now() + timeout;
        loop {
            self.reap(&mut *ended);
            if self.live.is_empty() || Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
