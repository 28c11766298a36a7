//! Running a load test: check the machine, spawn the workers, draw
//! progress while they run, merge what they measured into a [`Report`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::Config;
use crate::error::Error;
use crate::preflight::preflight;
use crate::progress::Progress;
use crate::request::Request;
use crate::stats::{histogram, Live, ThreadStats, Timeline};
use crate::worker::{Plan, Shared, Worker};
use lab_schema::{
    encode_histogram, Connections, Errors, Host, Latency, LoadReport as Report, Loader, Service,
    SCHEMA_VERSION,
};

/// Longest wait for responses still in flight when the time is up.
const MAX_DRAIN: Duration = Duration::from_secs(2);
/// How much later than planned the workers are told to stop regardless.
const GRACE: Duration = Duration::from_secs(5);
/// Seconds after `--start-at` past which a start is reported as late.
const LATE_START: f64 = 0.5;

/// Run the load test described by `config` and return what was measured.
/// Blocks for the warm-up plus the duration (plus a short drain).
pub fn run(config: &Config) -> Result<Report, Error> {
    run_until(config, &AtomicBool::new(false))
}

/// Like [`run`], but ends early (with a report of what was measured so
/// far) once `stop` becomes true, e.g. from a Ctrl-C handler.
pub fn run_until(config: &Config, stop: &AtomicBool) -> Result<Report, Error> {
    let mut warnings = preflight(config)?;
    if let Some(at) = config.start_at {
        warnings.extend(wait_until(at, stop));
    }
    let threads = config.effective_threads();
    let request = Request::build(config);
    let shared = Shared {
        live: Live::default(),
        budget: config.requests.map(AtomicU64::new),
        stop: AtomicBool::new(false),
    };
    let drain = config.timeout.min(MAX_DRAIN);
    let epoch = Instant::now();
    let measure_us = config.warmup.as_micros() as u64;
    let end_us = measure_us + config.duration.as_micros() as u64;
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut timeline = Timeline::new(threads);

    let results = std::thread::scope(|scope| {
        // Build every worker first, so a failure (no poller) leaves nothing running.
        let mut workers = Vec::with_capacity(threads);
        for t in 0..threads {
            let conns = config.conns / threads + usize::from(t < config.conns % threads);
            let plan = Plan {
                epoch,
                measure_us,
                end_us,
                drain_us: drain.as_micros() as u64,
                timeout_us: config.timeout.as_micros() as u64,
                connect_every_us: threads as f64 * 1e6 / config.connect_rate,
                request_every_us: config.rate.map(|r| config.conns as f64 * 1e6 / r),
                depth: config.effective_pipeline(),
                keepalive: config.keepalive,
                target: config.target.clone(),
                request: request.clone(),
                conns,
            };
            workers.push(Worker::new(plan, &shared, tx.clone())?);
        }
        let mut handles = Vec::with_capacity(threads);
        for (t, worker) in workers.into_iter().enumerate() {
            let spawned = std::thread::Builder::new()
                .name(format!("loadgen-{t}"))
                .spawn_scoped(scope, move || {
                    if !config.cpus.is_empty() {
                        crate::affinity::pin_current_thread(&config.cpus)?;
                    }
                    worker.run()
                });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    // The scope joins those already running: make that quick.
                    shared.stop.store(true, Ordering::Relaxed);
                    return Err(Error::Io(e));
                }
            }
        }
        // Only the workers hold senders now: the channel disconnects when
        // the last one is done.
        drop(tx);

        let mut progress = Progress::new(config.quiet, config.warmup + config.duration);
        let give_up = epoch + config.warmup + config.duration + drain + GRACE;
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(row) => timeline.add(row),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            }
            let elapsed = epoch.elapsed();
            progress.update(&shared.live, elapsed, elapsed < config.warmup);
            if stop.load(Ordering::Relaxed) || Instant::now() >= give_up {
                shared.stop.store(true, Ordering::Relaxed);
            }
        }
        progress.finish();

        let mut results = Vec::with_capacity(threads);
        for handle in handles {
            match handle.join() {
                Ok(result) => results.push(result?),
                Err(_) => return Err(Error::Io(std::io::Error::other("a worker thread panicked"))),
            }
        }
        Ok(results)
    })?;

    let mut report = merge(
        config, threads, measure_us, results, timeline, &shared, warnings,
    );
    // Stopped by the caller (Ctrl-C), not by the clock or the budget.
    report.interrupted = stop.load(Ordering::Relaxed)
        && report.duration_s + 0.01 < config.duration.as_secs_f64()
        && config.requests.is_none_or(|n| report.requests < n);
    Ok(report)
}

/// Sleeps until `at` (or `stop`). Starting late is allowed, with a warning: loaders that are
/// to be merged should start within a second of each other.
fn wait_until(at: SystemTime, stop: &AtomicBool) -> Option<String> {
    loop {
        let now = SystemTime::now();
        match at.duration_since(now) {
            Ok(left) if !left.is_zero() && !stop.load(Ordering::Relaxed) => {
                std::thread::sleep(left.min(Duration::from_millis(50)));
            }
            Ok(_) => return None,
            Err(late) => {
                let late = late.duration().as_secs_f64();
                return (late > LATE_START).then(|| {
                    format!(
                        "started {late:.1} s after --start-at (was the clock or the command late?)"
                    )
                });
            }
        }
    }
}

/// Combine the workers' measurements into one report.
fn merge(
    config: &Config,
    threads: usize,
    measure_us: u64,
    results: Vec<ThreadStats>,
    timeline: Timeline,
    shared: &Shared,
    warnings: Vec<String>,
) -> Report {
    let mut latency = histogram();
    let mut uncorrected = config.rate.map(|_| histogram());
    let mut send_lag = config.rate.map(|_| histogram());
    let mut connect = histogram();
    let mut errors = Errors::default();
    let mut requests = 0;
    let mut established = 0;
    let mut finished_us = measure_us;
    let mut per_conn = Vec::with_capacity(config.conns);
    let mut first_response_us = Vec::with_capacity(config.conns);
    for r in &results {
        per_conn.extend_from_slice(&r.per_conn);
        first_response_us.extend_from_slice(&r.first_response_us);
        // Same bounds everywhere, so adding cannot fail.
        let _ = latency.add(&r.latency);
        if let (Some(all), Some(one)) = (&mut uncorrected, &r.uncorrected) {
            let _ = all.add(one);
        }
        if let (Some(all), Some(one)) = (&mut send_lag, &r.send_lag) {
            let _ = all.add(one);
        }
        let _ = connect.add(&r.connect);
        errors.add(&r.errors);
        requests += r.requests;
        established += r.established;
        finished_us = finished_us.max(r.finished_us);
    }
    let duration_s = (finished_us - measure_us) as f64 / 1e6;
    // Every thread's shares, or none: a partial list would hide the busiest.
    let busy: Option<Vec<(f64, f64)>> = results.iter().map(|r| r.busy).collect();
    let loader = busy.map(|busy| Loader {
        on_cpu: busy.iter().map(|b| b.0).collect(),
        waiting: busy.iter().map(|b| b.1).collect(),
    });
    Report {
        schema_version: SCHEMA_VERSION,
        url: config.url(),
        conns: config.conns,
        threads,
        rate: config.rate,
        duration_s,
        planned_s: config.duration.as_secs_f64(),
        interrupted: false,
        send_lag_us: send_lag.as_ref().map(Latency::from_histogram),
        requests,
        throughput_rps: if duration_s > 0.0 {
            requests as f64 / duration_s
        } else {
            0.0
        },
        latency_us: Latency::from_histogram(&latency),
        latency_uncorrected_us: uncorrected.as_ref().map(Latency::from_histogram),
        connect_us: Latency::from_histogram(&connect),
        errors,
        service: Service::from_counts(&per_conn, &mut first_response_us),
        connections: Connections {
            target: config.conns as u64,
            established,
            peak_open: shared.live.peak_open.load(Ordering::Relaxed),
        },
        timeline: timeline.finish(),
        histogram: encode_histogram(&latency),
        uncorrected_histogram: uncorrected.as_ref().map(encode_histogram),
        connect_histogram: encode_histogram(&connect),
        tag: config.tag.clone(),
        start_at: config
            .start_at
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64()),
        host: Host::current(),
        warnings,
        loader,
    }
}
