//! The machine and its limits, recorded in compare.json's `environment`.

use report::Environment;
use std::process::{Command, Stdio};

/// The machine and its limits, read from /proc and two cheap commands.
pub fn environment() -> Environment {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_bytes = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024);
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let (soft, hard) = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .map(|l| {
            let w: Vec<&str> = l["Max open files".len()..].split_whitespace().collect();
            (
                w.first().unwrap_or(&"").to_string(),
                w.get(1).unwrap_or(&"").to_string(),
            )
        })
        .unwrap_or_default();
    let os = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_default();
    let command_line = |prog: &str, args: &[&str]| {
        Command::new(prog)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    Environment {
        cpu_model,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
        memory_bytes,
        kernel: read("/proc/sys/kernel/osrelease"),
        os,
        open_files_soft: soft,
        open_files_hard: hard,
        somaxconn: read("/proc/sys/net/core/somaxconn"),
        ip_local_port_range: read("/proc/sys/net/ipv4/ip_local_port_range"),
        threads_max: read("/proc/sys/kernel/threads-max"),
        pid_max: read("/proc/sys/kernel/pid_max"),
        max_map_count: read("/proc/sys/vm/max_map_count"),
        rustc: command_line("rustc", &["--version"]),
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .into(),
        lab_version: env!("CARGO_PKG_VERSION").into(),
        // The commit `lab` was built from (build.rs), not whatever checkout it runs in.
        git_commit: env!("LAB_GIT_COMMIT").into(),
    }
}
