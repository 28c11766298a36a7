//! The `/proc` sampler sees a process tree.

use std::process::Command;
use std::time::Duration;

use loadgen::procmon::{tree_pids, Sampler};

#[test]
fn samples_a_child_process() {
    let mut child = Command::new("sleep")
        .arg("10")
        .spawn()
        .expect("spawn sleep");
    let pid = child.id();
    let handle = Sampler::start(pid, Duration::from_millis(20));
    std::thread::sleep(Duration::from_millis(150));
    let stats = handle.stop();
    assert!(stats.peak_processes >= 1);
    assert!(stats.peak_threads >= 1);
    assert!(stats.peak_rss_bytes > 0);
    assert!(stats.peak_pss_bytes > 0);
    assert!(stats.peak_fds >= 1);
    assert!(stats.samples.len() >= 2);

    // This test process is the root of a tree that holds the child.
    let ours = tree_pids(std::process::id());
    assert_eq!(ours[0], std::process::id());
    assert!(ours.contains(&pid));
    assert_eq!(tree_pids(pid), vec![pid]);

    child.kill().unwrap();
    child.wait().unwrap();
    assert!(tree_pids(pid).is_empty());
    assert!(!tree_pids(std::process::id()).contains(&pid));
}

#[test]
fn counts_cpu_of_the_current_process() {
    let handle = Sampler::start(std::process::id(), Duration::from_millis(20));
    // Burn some CPU so there is something to count.
    let start = std::time::Instant::now();
    let mut x = 0u64;
    while start.elapsed() < Duration::from_millis(300) {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
    }
    std::hint::black_box(x);
    let stats = handle.stop();
    assert!(stats.cpu_user_s + stats.cpu_sys_s > 0.0);
    assert!(stats.ctx_voluntary + stats.ctx_involuntary > 0);
    let json = serde_json::to_string(&stats).unwrap();
    let back: loadgen::ServerStats = serde_json::from_str(&json).unwrap();
    assert_eq!(back, stats);
}
