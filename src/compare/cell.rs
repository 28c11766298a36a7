//! Running one cell: a child `lab run` with its output in `cells/<id>.log`, bounded in wall time,
//! killed (its whole process tree) if it overruns, and its failure kept as a reason.

use crate::compare::output::write_plan;
use crate::compare::plan::{warmup_s, Job};
use crate::run::StderrText;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use report::{CellRecord, CellStatus, Plan};
use std::io::IsTerminal;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Time a cell may take beyond its duration and warm-up before it is killed.
const CELL_SLACK: Duration = Duration::from_secs(60);

/// After SIGTERM, how long a cell gets to stop its server and exit before SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(20);
/// Lines of a failed cell's stderr kept as its reason.
const REASON_LINES: usize = 8;

/// Runs cells one after another, a pause between them, and records each in the plan (and
/// compare.json) as it ends. Ctrl-C or SIGTERM stops it between cells (and the running cell).
pub struct Runner {
    exe: PathBuf,
    out: PathBuf,
    pause: Duration,
    stop: Arc<AtomicBool>,
    progress: ProgressBar,
    done: usize,
    total: usize,
    /// `--resume`: the cells of the folder's compare.json, to keep those already measured.
    previous: Vec<CellRecord>,
    /// Cells kept from `previous` instead of run.
    kept: usize,
}

/// Puts `record` in the plan: in place of the cell of the same id if the plan has one (a cell of
/// a resumed comparison met again), else at the end. Returns its index.
pub fn place(plan: &mut Plan, record: CellRecord) -> usize {
    match plan.cells.iter().position(|c| c.id == record.id) {
        Some(i) => {
            plan.cells[i] = record;
            i
        }
        None => {
            plan.cells.push(record);
            plan.cells.len() - 1
        }
    }
}

/// Whether `c`, a cell of the interrupted comparison in `out`, can be kept instead of run:
/// measured (its report is there), or failed for a reason of its own (not the interruption).
fn keepable(out: &Path, c: &CellRecord) -> bool {
    match c.status {
        CellStatus::Ok => out.join(c.file()).is_file(),
        CellStatus::Failed => c.reason.as_deref() != Some("interrupted"),
        CellStatus::Pending => false,
    }
}

/// The earlier record of `job`'s cell among `previous`, if it can be kept and ran the same
/// command (but for an external server's pid: a restarted server is the same server).
fn measured_before<'a>(
    out: &Path,
    previous: &'a [CellRecord],
    job: &Job,
) -> Option<&'a CellRecord> {
    previous.iter().find(|c| {
        c.id == job.record.id
            && super::resume::same_command(&c.command, &job.record.command)
            && keepable(out, c)
    })
}

/// `--resume`: how many cells of `previous` (the folder's compare.json) will be kept rather
/// than run: those planned up front (`jobs`) measured before with the same command, and those
/// the earlier run added as it went (a search's steps, the faults and accept cells) that can be
/// kept, which the experiments meet again as they replay the same plan.
fn kept_before(out: &Path, previous: &[CellRecord], jobs: &[Job]) -> usize {
    let planned = jobs
        .iter()
        .filter(|j| measured_before(out, previous, j).is_some())
        .count();
    let added = previous
        .iter()
        .filter(|c| !jobs.iter().any(|j| j.record.id == c.id))
        .filter(|c| keepable(out, c))
        .count();
    planned + added
}

impl Runner {
    /// `total`: the cells expected, for the progress bar.
    pub fn new(
        exe: PathBuf,
        out: PathBuf,
        pause: Duration,
        total: usize,
    ) -> Result<Runner, String> {
        let stop = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(signal, Arc::clone(&stop))
                .map_err(|e| format!("cannot install the signal handler: {e}"))?;
        }
        let progress = if std::io::stderr().is_terminal() {
            ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        progress.set_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} cells  {elapsed} (eta {eta})  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Ok(Runner {
            exe,
            out,
            pause,
            stop,
            progress,
            done: 0,
            total,
            previous: Vec::new(),
            kept: 0,
        })
    }

    /// `--resume`: keep the cells of `previous` that were measured (or failed for a reason of
    /// their own) instead of running them again; an interrupted or unrun cell runs.
    pub fn resume_from(&mut self, previous: Vec<CellRecord>, jobs: &[Job]) {
        // The progress counts the cells to run: those measured before are not.
        self.total = self
            .total
            .saturating_sub(kept_before(&self.out, &previous, jobs));
        self.previous = previous;
        self.progress.set_length(self.total as u64);
    }

    /// The earlier record of `job`'s cell, if it was measured with the same command.
    pub fn measured_before(&self, job: &Job) -> Option<&CellRecord> {
        measured_before(&self.out, &self.previous, job)
    }

    /// Cells run, and cells kept from a resumed folder.
    pub fn counts(&self) -> (usize, usize) {
        (self.done, self.kept)
    }

    /// The comparison's folder.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Ctrl-C or SIGTERM arrived.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn say(&self, line: String) {
        if self.progress.is_hidden() {
            println!("{line}");
        } else {
            self.progress.println(line);
        }
    }

    /// Runs `job`, whose record is `plan.cells[i]`, records how it went and writes compare.json.
    /// Returns whether it succeeded.
    pub fn run(&mut self, plan: &mut Plan, i: usize, job: &Job) -> Result<bool, String> {
        if let Some(old) = self.measured_before(job).cloned() {
            let ok = old.status == CellStatus::Ok;
            plan.cells[i] = old;
            self.kept += 1;
            return Ok(ok);
        }
        if self.done > 0 {
            std::thread::sleep(self.pause);
        }
        self.done += 1;
        self.total = self.total.max(self.done);
        self.progress.set_message(job.record.id.clone());
        let duration = Duration::from_secs_f64(plan.duration_s);
        let limit = duration + Duration::from_secs_f64(warmup_s(job.record.conns)) + CELL_SLACK;
        let outcome = run_cell(&self.exe, job, &self.out, limit, &self.stop);
        let (n, total) = (self.done, self.total);
        let cell = &mut plan.cells[i];
        cell.wall_s = (outcome.wall.as_secs_f64() * 10.0).round() / 10.0;
        let ok = match outcome.failure {
            None => {
                cell.status = CellStatus::Ok;
                self.say(format!(
                    "[{n}/{total}] {:<34} {}",
                    job.record.id, outcome.summary
                ));
                true
            }
            Some(reason) => {
                cell.status = CellStatus::Failed;
                self.say(format!(
                    "[{n}/{total}] {:<34} FAILED: {}",
                    job.record.id,
                    reason.lines().last().unwrap_or("")
                ));
                cell.reason = Some(reason);
                false
            }
        };
        write_plan(&self.out, plan)?;
        self.progress.inc(1);
        Ok(ok)
    }

    pub fn finish(&self) {
        self.progress.finish_and_clear();
    }
}

struct Outcome {
    wall: Duration,
    /// `None` if the cell succeeded; else why not.
    failure: Option<String>,
    /// One line for the console.
    summary: String,
}

/// Runs one `lab run` with its output in `cells/<id>.log`, bounded by `limit`.
fn run_cell(exe: &Path, job: &Job, out: &Path, limit: Duration, stop: &AtomicBool) -> Outcome {
    let start = Instant::now();
    let failed = |reason: String| Outcome {
        wall: start.elapsed(),
        failure: Some(reason),
        summary: String::new(),
    };
    let log_path = out.join("cells").join(format!("{}.log", job.record.id));
    let json_path = out.join(job.record.file());
    let _ = std::fs::remove_file(&json_path);
    let log = match std::fs::File::create(&log_path) {
        Ok(f) => f,
        Err(e) => return failed(format!("cannot create {}: {e}", log_path.display())),
    };
    let mut child = match Command::new(exe)
        .args(&job.args)
        // Its own process group: a terminal's Ctrl-C reaches `lab compare` only, which passes
        // it on as SIGTERM, so the cell stops its load before its server.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return failed(format!("cannot start `lab run`: {e}")),
    };
    let stderr = child
        .stderr
        .take()
        .map(|s| StderrText::read(s, 16 * 1024 * 1024, 16 * 1024 * 1024));
    let deadline = start + limit;
    let mut timed_out = false;
    let mut forwarded = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(_) => break None,
        }
        if stop.load(Ordering::Relaxed) && !forwarded {
            lab_core::sys::kill(child.id() as i32, libc::SIGTERM);
            forwarded = true;
        }
        if Instant::now() >= deadline && !timed_out {
            timed_out = true;
            terminate(&mut child);
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Bounded: a process that left the tree can hold the pipe for ever (see StderrText).
    let err_text = stderr.map(StderrText::wait).unwrap_or_default();
    // Keep stderr in the cell's log too, after the summary.
    if !err_text.is_empty() {
        use std::io::Write as _;
        if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(&log_path) {
            let _ = write!(f, "\n--- stderr ---\n{err_text}");
        }
    }
    let tail = tail_lines(&err_text, REASON_LINES);
    let with_tail = |head: String| {
        if tail.is_empty() {
            head
        } else {
            format!("{head}\n{tail}")
        }
    };
    if timed_out {
        return failed(with_tail(format!(
            "timed out: still running after {} s and was killed",
            limit.as_secs()
        )));
    }
    if forwarded {
        return failed("interrupted".into());
    }
    // `lab run` exits 1 for any error; for a run in which nothing was served, only with a whole
    // report (read below) and a server that left nothing behind.
    let mut nothing_served = false;
    match status {
        Some(s) if s.success() => {}
        Some(s) if job.nothing_served_is_a_result && s.code() == Some(1) => nothing_served = true,
        Some(s) => return failed(with_tail(format!("`lab run` exited with {s}"))),
        None => return failed("cannot wait for `lab run`".into()),
    }
    let summary = match std::fs::read_to_string(&json_path)
        .ok()
        .and_then(|t| serde_json::from_str::<report::CellRun>(&t).ok())
    {
        Some(run) if nothing_served && run.leftover_processes > 0 => {
            return failed(with_tail(format!(
                "`lab run` served nothing and left {} server processes behind",
                run.leftover_processes
            )))
        }
        Some(run) => format!(
            "{:>10.0} req/s  p99 {:>8} ms  errors {}{}{}",
            run.load.throughput_rps,
            if run.load.requests > 0 {
                format!("{:.2}", run.load.latency_us.p99 as f64 / 1000.0)
            } else {
                "n/a".into()
            },
            run.load.errors.total(),
            match run.load.service.starved {
                0 => String::new(),
                n => format!("  starved {n} of {}", run.load.conns),
            },
            match run.load.loader.as_ref().filter(|l| l.saturated()) {
                Some(l) => {
                    let (_, on_cpu, waiting) = l.busiest().unwrap_or_default();
                    format!("  generator busy {:.0}%", 100.0 * (on_cpu + waiting))
                }
                None => String::new(),
            }
        ),
        None => return failed(with_tail("`lab run` wrote no readable report".into())),
    };
    Outcome {
        wall: start.elapsed(),
        failure: None,
        summary,
    }
}

/// SIGTERM to `lab run` (it stops its load and its server), then SIGKILL to what is left of its
/// whole tree: `lab run`'s own way of stopping a server.
fn terminate(child: &mut std::process::Child) {
    crate::run::stop_tree(child, KILL_GRACE, "lab run");
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(id: &str, status: CellStatus, reason: Option<&str>) -> CellRecord {
        CellRecord {
            id: id.into(),
            command: vec!["lab".into(), "run".into(), id.into()],
            status,
            reason: reason.map(str::to_string),
            ..CellRecord::default()
        }
    }

    /// Runs a cell whose `lab run` is `/bin/sh -c SCRIPT`, `script` given the cell's folder (for
    /// the pid files it writes), on a thread of its own: the outcome, or `Err` if the cell had
    /// not returned after a minute (the caller then kills what its script started).
    fn shell_cell(
        id: &str,
        script: impl FnOnce(&Path) -> String,
        limit: Duration,
    ) -> (
        tempfile::TempDir,
        Result<Outcome, std::sync::mpsc::RecvTimeoutError>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("cells")).unwrap();
        let job = Job {
            record: cell(id, CellStatus::Pending, None),
            args: vec!["-c".into(), script(dir.path())],
            nothing_served_is_a_result: false,
        };
        let out = dir.path().to_path_buf();
        let (done, outcome) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let stop = AtomicBool::new(false);
            let _ = done.send(run_cell(Path::new("/bin/sh"), &job, &out, limit, &stop));
        });
        let outcome = outcome.recv_timeout(Duration::from_secs(60));
        (dir, outcome)
    }

    /// A cell's `lab run` that outlives its time is stopped, with its whole process tree: here a
    /// shell (which SIGTERM stops) that started a process ignoring SIGTERM, as a server stuck in
    /// a handler might. Both are gone when the cell returns, and the cell says it timed out. A
    /// tree left standing would also hold the cell's stderr pipe open and keep it from returning
    /// at all: the test waits a minute for it, then fails (and kills what it started).
    #[test]
    fn a_cell_that_outlives_its_time_is_stopped_with_its_tree() {
        let script = |dir: &Path| {
            format!(
                "echo $$ > {0}; (trap '' TERM; exec sleep 3600) & echo $! >> {0}; wait",
                dir.join("pids").display()
            )
        };
        let (dir, outcome) = shell_cell("over-time", script, Duration::from_secs(1));
        let pids: Vec<u32> = std::fs::read_to_string(dir.path().join("pids"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        let left: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|&p| loadgen::procmon::is_alive(p))
            .collect();
        for &pid in &left {
            lab_core::sys::kill(pid as i32, libc::SIGKILL);
        }
        let outcome = outcome.expect("the cell returned (its process tree was stopped)");
        let reason = outcome.failure.expect("a cell killed for its time failed");
        assert!(reason.starts_with("timed out"), "{reason}");
        assert_eq!(pids.len(), 2, "the shell and the process it started");
        assert_eq!(left, Vec::<u32>::new(), "processes that outlived the cell");
    }

    /// A process that leaves the cell's tree (a daemon that double-forked, holding the cell's
    /// stderr) cannot keep the cell from returning: it ends, and says what held it.
    #[test]
    fn a_cell_returns_when_an_escaped_process_holds_its_stderr() {
        let script = |dir: &Path| {
            format!(
                "(sh -c 'echo $$ > {0}; exec sleep 3600' &); echo started >&2; exit 3",
                dir.join("pid").display()
            )
        };
        let (dir, outcome) = shell_cell("escaped", script, Duration::from_secs(30));
        let pid_file = dir.path().join("pid");
        let mut pid = None;
        for _ in 0..100 {
            pid = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok());
            if pid.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(pid) = pid {
            lab_core::sys::kill(pid, libc::SIGKILL);
        }
        let outcome = outcome.expect("the cell returned though its stderr was still open");
        let reason = outcome.failure.expect("`lab run` exited with 3");
        assert!(reason.contains("exited with"), "{reason}");
        assert!(reason.contains("stderr still held open"), "{reason}");
    }

    /// A resumed comparison's progress counts the cells still to run: every cell kept from the
    /// earlier run is left out, those planned up front and those its experiments added as they
    /// went (a search's steps, the faults and accept cells), which the replay meets again.
    #[test]
    fn resume_counts_kept_dynamic_cells_as_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("cells")).unwrap();
        let measured = |c: CellRecord| {
            std::fs::write(dir.path().join(c.file()), "{}").unwrap();
            c
        };
        let previous = vec![
            // Planned up front: one measured, one never run.
            measured(cell("hello-epoll-c10", CellStatus::Ok, None)),
            cell("hello-epoll-c100", CellStatus::Pending, None),
            // Added as the earlier run went: two measured steps, one that failed on its own,
            // one the interruption stopped.
            measured(cell("rates-hello-epoll-r1000", CellStatus::Ok, None)),
            measured(cell("rates-hello-epoll-r2000", CellStatus::Ok, None)),
            cell(
                "faults-epoll",
                CellStatus::Failed,
                Some("`lab run` exited with 1"),
            ),
            cell(
                "accept-epoll-shared",
                CellStatus::Failed,
                Some("interrupted"),
            ),
        ];
        let jobs: Vec<Job> = previous[..2]
            .iter()
            .map(|c| Job {
                record: CellRecord {
                    status: CellStatus::Pending,
                    ..c.clone()
                },
                args: Vec::new(),
                nothing_served_is_a_result: false,
            })
            .collect();
        assert_eq!(kept_before(dir.path(), &previous, &jobs), 4);
        // A planned cell whose command changed is run again, not kept.
        let mut other = jobs;
        other[0].record.command.push("--loops".into());
        assert_eq!(kept_before(dir.path(), &previous, &other), 3);
    }
}
