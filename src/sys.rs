//! The `lab` binary's raw `libc` calls.

/// Sends `sig` to `pid`.
pub fn signal(pid: u32, sig: i32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    // SAFETY: kill(2) only sends a signal; a stale pid at worst signals nothing (ESRCH).
    unsafe {
        libc::kill(pid, sig);
    }
}

/// True if `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rfind(')').and_then(|i| stat.get(i + 2..i + 3)) != Some("Z"),
        Err(_) => false,
    }
}
