//! Processes of hearth's stopped on purpose: `HEARTH_FAULT_PAUSE_AT=k` makes
//! hearth stop itself (SIGSTOP) at its k-th write, so that a test can change
//! the home, or cut the power, at exactly that moment.

use std::fs;
use std::process::Child;
use std::time::{Duration, Instant};

/// Whether the process is stopped (state `T` in /proc/PID/stat).
pub fn is_stopped(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|s| s == "T" || s == "t")
}

/// Waits until `child` has stopped itself (true) or exited (false).
pub fn stopped_or_exited(child: &mut Child) -> bool {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if is_stopped(child.id()) {
            return true;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "hearth neither stopped nor exited"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}
