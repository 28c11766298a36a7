//! `procmon`: what the server under test costs, read from `/proc`.
//!
//! A background thread samples the process tree rooted at a pid (the server
//! and every process it forked) at a fixed interval and keeps the peaks:
//! memory (PSS, which splits shared pages fairly between forked workers, so
//! a pre-fork server is not charged N times for its shared code; RSS as
//! well), processes, threads, open descriptors; and the totals: CPU time and
//! context switches. It depends on no server crate: any pid will do.
//!
//! It also answers two questions about processes other than the server's samples: whether a
//! process tree holds the socket listening at an address ([`listens_on`], how `--external-pid`
//! is checked), and how busy the load generator's own threads were (their `schedstat`).
//!
//! CPU time is counted without double counting: each live process
//! contributes its own time plus `cutime + cstime`, the time of the
//! children it has already reaped. A live child is in nobody's `cutime`, and
//! a reaped one is in exactly one parent's. A process's own time is the sum
//! of its live threads' `schedstat` (nanoseconds), or its `utime + stime`
//! (clock ticks, exited threads included) if that is more. Ticks alone are
//! too coarse: the kernel reports each process's time rounded down to 10 ms,
//! so a thousand forked children that used 5 ms each sum to nothing.
//!
//! The exact total comes after the run: once the server has exited and been
//! waited for, [`children_cpu`] (`getrusage(RUSAGE_CHILDREN)`) holds the CPU
//! of every process of its tree that was reaped, as the kernel counted it.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
pub use lab_schema::{Sample, ServerStats};

use crate::sys;

/// CPU (user, system) of this process's waited-for children and their
/// waited-for descendants. Read it before and after waiting for a server:
/// the difference is the server tree's exact CPU time.
pub fn children_cpu() -> std::io::Result<(Duration, Duration)> {
    sys::children_cpu()
}

/// Starts samplers. See [`Sampler::start`].
pub struct Sampler;

/// A running sampler; [`SamplerHandle::stop`] ends it and returns the result.
pub struct SamplerHandle {
    stop: Sender<()>,
    thread: JoinHandle<ServerStats>,
}

impl Sampler {
    /// Sample the tree rooted at `root_pid` now and then every `interval`
    /// on a background thread, until [`SamplerHandle::stop`].
    pub fn start(root_pid: u32, interval: Duration) -> SamplerHandle {
        let (stop, stopped) = crossbeam_channel::bounded(1);
        let thread = std::thread::spawn(move || sample_loop(root_pid, interval, stopped));
        SamplerHandle { stop, thread }
    }
}

impl SamplerHandle {
    /// Take a last sample, stop the thread and return the peaks and totals.
    pub fn stop(self) -> ServerStats {
        let _ = self.stop.send(());
        self.thread.join().unwrap_or_default()
    }
}

fn sample_loop(root: u32, interval: Duration, stopped: Receiver<()>) -> ServerStats {
    let start = Instant::now();
    let mut tracker = Tracker::default();
    loop {
        tracker.sample(root, start.elapsed());
        match stopped.recv_timeout(interval) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            // Stopped: one last sample for the final CPU times.
            _ => {
                tracker.sample(root, start.elapsed());
                return tracker.stats;
            }
        }
    }
}

/// The fields of `/proc/<pid>/stat` we use.
#[derive(Debug, Clone, Copy, Default)]
struct Stat {
    ppid: u32,
    /// utime + cutime and stime + cstime, in clock ticks.
    user_ticks: u64,
    sys_ticks: u64,
    /// cutime + cstime: the reaped children's part of the above.
    child_ticks: u64,
    threads: u64,
    rss_pages: u64,
}

fn read_stat(pid: u32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces or ')': the
    // fields proper start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state) of proc(5); field n is f[n - 3].
    let num = |n: usize| f.get(n - 3).and_then(|s| s.parse::<u64>().ok());
    Some(Stat {
        ppid: num(4)? as u32,
        user_ticks: num(14)? + num(16)?,
        sys_ticks: num(15)? + num(17)?,
        child_ticks: num(16)? + num(17)?,
        threads: num(20)?,
        rss_pages: num(24)?,
    })
}

/// Every live process: pid -> its stat.
fn all_processes() -> HashMap<u32, Stat> {
    let mut out = HashMap::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if let Some(stat) = read_stat(pid) {
            out.insert(pid, stat);
        }
    }
    out
}

/// `root` and its descendants (breadth first), from a table of processes.
fn descendants(root: u32, procs: &HashMap<u32, Stat>) -> Vec<u32> {
    if !procs.contains_key(&root) {
        return Vec::new();
    }
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&pid, stat) in procs {
        children.entry(stat.ppid).or_default().push(pid);
    }
    let mut out = vec![root];
    let mut queue = VecDeque::from([root]);
    while let Some(pid) = queue.pop_front() {
        for &child in children.get(&pid).map_or(&[][..], |v| &v[..]) {
            if child != pid {
                out.push(child);
                queue.push_back(child);
            }
        }
    }
    out
}

/// The pids of the process tree rooted at `root` (root first), e.g. to
/// check that nothing is left after SIGTERM. Empty if `root` is gone.
pub fn tree_pids(root: u32) -> Vec<u32> {
    descendants(root, &all_processes())
}

/// True if `pid` exists and is not a zombie (an exited process not yet reaped).
pub fn is_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rfind(')').and_then(|i| stat.get(i + 2..i + 3)) != Some("Z"),
        Err(_) => false,
    }
}

/// A thread's time on a CPU and time ready but waiting for one, nanoseconds, as the kernel
/// counts them in a `schedstat` file.
fn schedstat(path: &str) -> Option<(u64, u64)> {
    let text = fs::read_to_string(path).ok()?;
    let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
    Some((fields.next()??, fields.next()??))
}

/// This thread's [`schedstat`] (`/proc/thread-self/schedstat`): the load generator's measure of
/// how busy its own threads were.
pub(crate) fn this_thread_schedstat() -> Option<(u64, u64)> {
    schedstat("/proc/thread-self/schedstat")
}

/// The command name of `pid` (`/proc/PID/comm`), if it lives.
pub fn command_name(pid: u32) -> Option<String> {
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(comm.trim_end().to_string())
}

/// Whether the process tree rooted at `pid` holds a listening socket for `target`: a TCP
/// socket in LISTEN on the target's port (at its address or a wildcard one), or a listening Unix
/// socket bound to its path. `None` when `/proc` cannot tell: the process is in another network
/// namespace (a container's port may be forwarded from another one), or its descriptors are
/// another user's to read.
///
/// This is how a pid given for a server is known to be that server, and not a process that
/// happens to live (a pid the kernel reused after the server was restarted, a typo).
pub fn listens_on(pid: u32, target: &crate::Target) -> Option<bool> {
    let netns = |p: &str| fs::read_link(format!("/proc/{p}/ns/net")).ok();
    if netns(&pid.to_string())? != netns("self")? {
        return None;
    }
    let listening = match target {
        crate::Target::Tcp(addr) => tcp_listeners(pid, addr),
        crate::Target::Unix(path) => unix_listeners(pid, path)?,
    };
    let tree = tree_pids(pid);
    if tree.is_empty() {
        // Gone since the caller looked: nothing to tell.
        return None;
    }
    let mut unreadable = false;
    for p in tree {
        match fs::read_dir(format!("/proc/{p}/fd")) {
            Ok(fds) => {
                let holds = fds.flatten().any(|fd| {
                    fs::read_link(fd.path()).is_ok_and(|link| {
                        link.to_str()
                            .and_then(|l| l.strip_prefix("socket:["))
                            .and_then(|l| l.strip_suffix(']'))
                            .and_then(|inode| inode.parse::<u64>().ok())
                            .is_some_and(|inode| listening.contains(&inode))
                    })
                });
                if holds {
                    return Some(true);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => unreadable = true,
            Err(_) => {}
        }
    }
    (!unreadable).then_some(false)
}

/// The inodes of the TCP sockets in LISTEN on `addr`'s port, at its address or a wildcard one,
/// in `pid`'s network namespace (`/proc/PID/net/tcp` and `tcp6`).
fn tcp_listeners(pid: u32, addr: &std::net::SocketAddr) -> Vec<u64> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    // An address as the kernel prints it: each 32-bit word of the network-order bytes in hex,
    // in host order.
    let ip = |hex: &str| -> Option<IpAddr> {
        let word = |i: usize| {
            u32::from_str_radix(hex.get(8 * i..8 * i + 8)?, 16)
                .ok()
                .map(u32::to_ne_bytes)
        };
        Some(match hex.len() {
            8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
            32 => {
                let mut bytes = [0u8; 16];
                for i in 0..4 {
                    bytes[4 * i..4 * i + 4].copy_from_slice(&word(i)?);
                }
                IpAddr::V6(Ipv6Addr::from(bytes))
            }
            _ => return None,
        })
    };
    // A v4-mapped address is its v4 one; a wildcard (v4 or v6, dual-stack) serves any address.
    let serves = |local: IpAddr| {
        let local = local.to_canonical();
        local.is_unspecified() || local == addr.ip().to_canonical()
    };
    let mut inodes = Vec::new();
    for file in ["tcp", "tcp6"] {
        let Ok(text) = fs::read_to_string(format!("/proc/{pid}/net/{file}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let words: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(&"0A"), Some(inode)) =
                (words.get(1), words.get(3), words.get(9))
            else {
                continue;
            };
            let Some((host, port)) = local.split_once(':') else {
                continue;
            };
            if u16::from_str_radix(port, 16).ok() == Some(addr.port())
                && ip(host).is_some_and(serves)
            {
                inodes.extend(inode.parse::<u64>().ok());
            }
        }
    }
    inodes
}

/// The inodes of the listening Unix sockets bound to `path` (`/proc/PID/net/unix`). `None` when
/// a listening socket was bound to a relative path: where it lies depends on the binding
/// process's directory at the time, which `/proc` does not keep.
fn unix_listeners(pid: u32, path: &std::path::Path) -> Option<Vec<u64>> {
    /// `__SO_ACCEPTCON` in the Flags column: the socket listens.
    const ACCEPTING: u32 = 1 << 16;
    let want = fs::canonicalize(path).ok();
    let text = fs::read_to_string(format!("/proc/{pid}/net/unix")).ok()?;
    let mut inodes = Vec::new();
    for line in text.lines().skip(1) {
        // Num RefCount Protocol Flags Type St Inode Path: the path is the rest of the line after
        // one space (it may hold spaces itself), absent for an unbound socket.
        let mut rest = line;
        let mut fields = [""; 7];
        for field in &mut fields {
            rest = rest.trim_start();
            let end = rest.find(' ').unwrap_or(rest.len());
            *field = &rest[..end];
            rest = &rest[end..];
        }
        let [_, _, _, flags, _, _, inode] = fields;
        let Some(bound) = rest.strip_prefix(' ').filter(|b| !b.is_empty()) else {
            continue;
        };
        if !u32::from_str_radix(flags, 16).is_ok_and(|f| f & ACCEPTING != 0) {
            continue;
        }
        let bound = std::path::Path::new(bound);
        if bound.is_relative() {
            // An abstract socket ('@name') is not a path; a relative path cannot be placed.
            if bound.to_str().is_some_and(|b| b.starts_with('@')) {
                continue;
            }
            return None;
        }
        if bound == path || (want.is_some() && fs::canonicalize(bound).ok() == want) {
            inodes.extend(inode.parse::<u64>().ok());
        }
    }
    Some(inodes)
}

/// A `Key: value kB` line of a `/proc` file, in bytes (or the bare number
/// for lines without a unit).
fn field(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let mut words = line[key.len()..].split_whitespace();
    let n: u64 = words.next()?.parse().ok()?;
    Some(if words.next() == Some("kB") {
        n * 1024
    } else {
        n
    })
}

/// A process's PSS from what reading its `smaps_rollup` gave.
fn pss_from(rollup: std::io::Result<String>, rss: u64) -> u64 {
    match rollup {
        // No Pss line: the process is exiting and its memory map is gone. Counting its (stale)
        // RSS instead inflated the sum tenfold when a forking server's children all exited at
        // the end of a run.
        Ok(text) => field(&text, "Pss:").unwrap_or(0),
        // Another user's process: RSS is the best we can see.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => rss,
        // Gone since the listing.
        Err(_) => 0,
    }
}

fn count_fds(pid: u32) -> u64 {
    fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64)
}

#[derive(Default)]
struct Tracker {
    stats: ServerStats,
    /// Last context-switch counts of every thread seen: tid -> (voluntary, involuntary).
    switches: HashMap<u32, (u64, u64)>,
}

impl Tracker {
    fn sample(&mut self, root: u32, at: Duration) {
        let procs = all_processes();
        let pids = descendants(root, &procs);
        if pids.is_empty() {
            return;
        }
        let ticks = sys::clock_ticks() as f64;
        let page = sys::page_size();
        let mut s = Sample {
            t_s: at.as_secs_f64(),
            ..Sample::default()
        };
        let (mut user, mut sys) = (0, 0);
        let mut cpu_s = 0.0;
        for &pid in &pids {
            let stat = procs[&pid];
            let rss = stat.rss_pages * page;
            let pss = pss_from(fs::read_to_string(format!("/proc/{pid}/smaps_rollup")), rss);
            s.processes += 1;
            s.threads += stat.threads;
            s.rss_bytes += rss;
            s.pss_bytes += pss;
            s.fds += count_fds(pid);
            user += stat.user_ticks;
            sys += stat.sys_ticks;
            let own_ticks = (stat.user_ticks + stat.sys_ticks).saturating_sub(stat.child_ticks);
            let threads_ns = self.read_tasks(pid);
            cpu_s += (threads_ns as f64 / 1e9).max(own_ticks as f64 / ticks)
                + stat.child_ticks as f64 / ticks;
        }
        s.cpu_s = cpu_s;
        s.cpu_user_s = user as f64 / ticks;
        s.cpu_sys_s = sys as f64 / ticks;

        let st = &mut self.stats;
        st.peak_pss_bytes = st.peak_pss_bytes.max(s.pss_bytes);
        st.peak_rss_bytes = st.peak_rss_bytes.max(s.rss_bytes);
        st.peak_processes = st.peak_processes.max(s.processes);
        st.peak_threads = st.peak_threads.max(s.threads);
        st.peak_fds = st.peak_fds.max(s.fds);
        // CPU totals only grow, except when a child is reparented out of
        // the tree: keep the highest seen.
        st.cpu_user_s = st.cpu_user_s.max(s.cpu_user_s);
        st.cpu_sys_s = st.cpu_sys_s.max(s.cpu_sys_s);
        if st.cpu_source.is_empty() {
            st.cpu_source = "proc".into();
        }
        st.ctx_voluntary = self.switches.values().map(|v| v.0).sum();
        st.ctx_involuntary = self.switches.values().map(|v| v.1).sum();
        st.samples.push(s);
    }

    /// Per thread, from `/proc/<pid>/task/<tid>/`: the context switches
    /// (`status`, kept in `switches`) and the CPU time (the first field of
    /// `schedstat`, nanoseconds). Returns the live threads' CPU, summed.
    fn read_tasks(&mut self, pid: u32) -> u64 {
        let mut cpu_ns = 0;
        let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
            return 0;
        };
        for task in tasks.flatten() {
            let Some(tid) = task.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            cpu_ns += task
                .path()
                .join("schedstat")
                .to_str()
                .and_then(schedstat)
                .map_or(0, |(on_cpu, _)| on_cpu);
            let Ok(text) = fs::read_to_string(task.path().join("status")) else {
                continue;
            };
            let vol = field(&text, "voluntary_ctxt_switches:").unwrap_or(0);
            let invol = field(&text, "nonvoluntary_ctxt_switches:").unwrap_or(0);
            self.switches.insert(tid, (vol, invol));
        }
        cpu_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_of_self() {
        let stat = read_stat(std::process::id()).unwrap();
        assert!(stat.threads >= 1);
        assert!(stat.rss_pages > 0);
    }

    #[test]
    fn an_exiting_process_counts_no_pss_not_its_stale_rss() {
        use std::io::{Error, ErrorKind};
        let rollup = "7f..-7f.. ---p 00000000 00:00 0 [rollup]\nRss: 8 kB\nPss: 4 kB\n";
        assert_eq!(pss_from(Ok(rollup.to_string()), 999), 4096);
        // The file of a process whose memory map is gone reads empty.
        assert_eq!(pss_from(Ok(String::new()), 1_500_000), 0);
        assert_eq!(
            pss_from(Err(Error::from(ErrorKind::NotFound)), 1_500_000),
            0
        );
        assert_eq!(
            pss_from(Err(Error::from(ErrorKind::PermissionDenied)), 1_500_000),
            1_500_000
        );
    }

    #[test]
    fn fields() {
        let text = "Name:\tx\nVmRSS:\t  1000 kB\nvoluntary_ctxt_switches:\t7\n";
        assert_eq!(field(text, "VmRSS:"), Some(1_024_000));
        assert_eq!(field(text, "voluntary_ctxt_switches:"), Some(7));
        assert_eq!(field(text, "Pss:"), None);
    }
}
