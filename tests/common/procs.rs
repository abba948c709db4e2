//! Processes of hearth's stopped on purpose: `HEARTH_FAULT_PAUSE_AT=k` makes
//! hearth stop itself (SIGSTOP) at its k-th write, so that a test can change
//! the home, or cut the power, at exactly that moment.

use std::fs;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
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

/// Runs `cmd` with its stdout read for one byte and then closed, as
/// `cmd | head -c 1` does, waits for it, and returns its exit status (a
/// signal as a shell shows it, 128 + N) and its stderr. Output longer than
/// the pipe's buffer is what makes an unguarded print fail with EPIPE.
pub fn with_stdout_closed_early(mut cmd: Command) -> (i32, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    let _ = stdout.read(&mut first);
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap();
    (code, stderr)
}

/// Whether process `pid` lives (a zombie is dead; only its entry is left).
pub fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

/// Asserts that the process whose pid a step wrote to `pid_file` is gone
/// (waiting up to 10 s for it): a step killed at its timeout takes what it
/// started in the background with it.
pub fn assert_background_gone(pid_file: &std::path::Path) {
    let pid: i32 = fs::read_to_string(pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let gone = Instant::now() + Duration::from_secs(10);
    while alive(pid) && Instant::now() < gone {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !alive(pid),
        "the step's background process was left running"
    );
}
