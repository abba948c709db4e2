//! Running a generation's programs: `onChange` hooks and activation steps.
//! Never prints: as a program runs, what it does is handed to the `shown`
//! callback the edge passed in (`Progress`): that it started, each line of
//! its output as it comes (stdout and stderr together, in the order they
//! were written), and how it ended, with its whole output and how long it
//! took. The edge decides where it goes (stdout in text mode, stderr and
//! the JSON document with `--json`).
//! A program may be given a time limit (`--step-timeout`): it then runs in
//! a process group of its own, killed whole at the limit, and counts as
//! failed. Without a limit it stays in hearth's group, so that root mode's
//! timeout and a terminal's Ctrl-C reach it as before.
//! Each program also gets the user's runtime directory and session bus when
//! they are not set (see `sys::systemctl::runtime_env`), so that
//! `systemctl --user` works from a step run by root mode or a system unit.

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How many lines of a failing step's output the error repeats.
const TAIL_LINES: usize = 10;
/// How often the program is looked at while it prints nothing.
const TICK: Duration = Duration::from_millis(50);
/// How long, once the program has ended, its output is still awaited: a
/// process it left running in the background (`daemon &`) may hold the
/// pipe open for ever, and must not hold the activation (and its lock).
const DRAIN: Duration = Duration::from_secs(2);
/// How long a killed program may take to be reaped (a process in
/// uninterruptible sleep cannot die at once).
const REAP: Duration = Duration::from_secs(5);
/// The longest a line is let grow before it is shown anyway, so that a
/// program printing without newlines is still shown as it goes.
const MAX_LINE: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} {name:?} ({program}) exited with {status}{}", tail_text(.tail))]
    Failed {
        what: &'static str,
        name: String,
        program: PathBuf,
        status: String,
        tail: Vec<String>,
    },
    #[error("cannot run {what} {name:?} ({program}): {source}")]
    Spawn {
        what: &'static str,
        name: String,
        program: PathBuf,
        source: io::Error,
    },
    /// Killed at `--step-timeout`, with every process it started.
    #[error("{what} {name:?} ({program}) did not finish within {} (--step-timeout) and was killed with every process it started{}\nhint: find what it waits for, or raise --step-timeout", crate::home::hooks::duration_text(*.limit), tail_text(.tail))]
    TimedOut {
        what: &'static str,
        name: String,
        program: PathBuf,
        limit: Duration,
        tail: Vec<String>,
    },
}

fn tail_text(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("; last lines of its output:\n  {}", tail.join("\n  "))
    }
}

/// A duration as people read it: `0.3s`, `12.0s`, `2m05s`, `1h02m`.
pub fn duration_text(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        let tenths = d.as_millis() / 100;
        format!("{}.{}s", tenths / 10, tenths % 10)
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    }
}

/// The environment every hook sees.
pub struct Env<'a> {
    pub home: &'a Path,
    pub dry_run: bool,
    pub old: Option<&'a Path>,
    pub new: &'a Path,
    /// `--step-timeout`: the longest one program may run.
    pub timeout: Option<Duration>,
}

/// How one program ended, handed to the edge with its whole output.
pub struct Ran<'a> {
    /// "step", "check step" or "onChange of".
    pub what: &'static str,
    pub name: &'a str,
    pub output: &'a str,
    pub ok: bool,
    /// From its start to its end (or its kill).
    pub elapsed: Duration,
    /// Set when it was killed at this limit.
    pub timed_out: Option<Duration>,
    /// How it exited, as people read it ("exit status: 3"); `None` when it
    /// succeeded or was killed at the limit.
    pub status: Option<String>,
}

/// What a running program does, as it happens.
#[derive(Clone, Copy)]
pub enum Progress<'a> {
    Started {
        what: &'static str,
        name: &'a str,
    },
    /// One line of its output, without the newline.
    Line {
        what: &'static str,
        name: &'a str,
        line: &'a str,
    },
    Ended(&'a Ran<'a>),
}

/// Runs `program`, handing `shown` its start, each line of its output as it
/// comes, and its end; a failure (or a kill at the time limit) is returned.
pub fn run(
    what: &'static str,
    name: &str,
    program: &Path,
    env: &Env,
    shown: &mut dyn FnMut(Progress),
) -> Result<(), Error> {
    let spawn_err = |source| Error::Spawn {
        what,
        name: name.to_string(),
        program: program.to_path_buf(),
        source,
    };
    shown(Progress::Started { what, name });
    let start = Instant::now();
    let (child, lines) = spawn(program, env).map_err(spawn_err)?;
    let mut output = String::new();
    let ended = watch(child, &lines, start, env.timeout, &mut |line, newline| {
        shown(Progress::Line { what, name, line });
        output.push_str(line);
        if newline {
            output.push('\n');
        }
    })
    .map_err(spawn_err)?;
    let elapsed = start.elapsed();
    let (ok, timed_out, status) = match ended {
        Ended::Exited(s) if s.success() => (true, None, None),
        Ended::Exited(s) => (false, None, Some(s.to_string())),
        Ended::Killed(limit) => (false, Some(limit), None),
    };
    shown(Progress::Ended(&Ran {
        what,
        name,
        output: &output,
        ok,
        elapsed,
        timed_out,
        status: status.clone(),
    }));
    if ok {
        return Ok(());
    }
    let all: Vec<&str> = output.lines().collect();
    let tail: Vec<String> = all[all.len().saturating_sub(TAIL_LINES)..]
        .iter()
        .map(|l| (*l).to_string())
        .collect();
    Err(match (timed_out, status) {
        (Some(limit), _) => Error::TimedOut {
            what,
            name: name.to_string(),
            program: program.to_path_buf(),
            limit,
            tail,
        },
        (None, status) => Error::Failed {
            what,
            name: name.to_string(),
            program: program.to_path_buf(),
            status: status.unwrap_or_default(),
            tail,
        },
    })
}

/// A line read from the program's pipe, and whether it ended in a newline.
type Line = (Vec<u8>, bool);

/// Starts the program with stdout and stderr on one pipe (so that their
/// lines come in the order they were written), read by a thread that hands
/// whole lines over the returned channel; the channel closes at the pipe's
/// end of file.
fn spawn(program: &Path, env: &Env) -> io::Result<(Child, mpsc::Receiver<Line>)> {
    let old = env
        .old
        .map(|p| p.as_os_str().to_owned())
        .unwrap_or_default();
    let (mut reader, writer) = os_pipe::pipe()?;
    let mut cmd = Command::new(program);
    cmd.envs(crate::sys::systemctl::runtime_env())
        .env("HOME", env.home)
        .env("HEARTH_DRY_RUN", if env.dry_run { "1" } else { "0" })
        .env("HEARTH_OLD_GENERATION", old)
        .env("HEARTH_NEW_GENERATION", env.new)
        .stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer);
    if env.timeout.is_some() {
        // Its own group, killed whole at the limit.
        cmd.process_group(0);
    }
    let child = cmd.spawn();
    // The command holds hearth's copies of the pipe's write end: without
    // dropping them, the reader would never see the end of file.
    drop(cmd);
    let child = child?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.iter().position(|b| *b == b'\n') {
                        let mut line: Vec<u8> = buf.drain(..=end).collect();
                        line.pop();
                        // A CR before the newline ends the line too, as
                        // `str::lines` reads it.
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                        if tx.send((line, true)).is_err() {
                            return;
                        }
                    }
                    if buf.len() >= MAX_LINE && tx.send((std::mem::take(&mut buf), false)).is_err()
                    {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        if !buf.is_empty() {
            let _ = tx.send((buf, false));
        }
    });
    Ok((child, rx))
}

enum Ended {
    Exited(ExitStatus),
    /// Killed at this limit.
    Killed(Duration),
}

/// Hands each line to `line` as it comes, until the program has ended and
/// its pipe is closed (or `DRAIN` after its end); kills its process group
/// at `timeout`.
fn watch(
    mut child: Child,
    lines: &mpsc::Receiver<Line>,
    start: Instant,
    timeout: Option<Duration>,
    line: &mut dyn FnMut(&str, bool),
) -> io::Result<Ended> {
    let mut open = true;
    let mut killed_at: Option<Instant> = None;
    let mut ended: Option<(Instant, Option<ExitStatus>)> = None;
    loop {
        if open {
            match lines.recv_timeout(TICK) {
                Ok((bytes, newline)) => line(&String::from_utf8_lossy(&bytes), newline),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => open = false,
            }
        } else if ended.is_none() {
            std::thread::sleep(TICK);
        }
        let now = Instant::now();
        if ended.is_none() {
            if let Some(status) = child.try_wait()? {
                ended = Some((now, Some(status)));
            } else if let Some(at) = killed_at {
                if now >= at + REAP {
                    ended = Some((now, None));
                }
            } else if timeout.is_some_and(|t| now >= start + t) {
                kill_group(&child);
                killed_at = Some(now);
            }
        }
        if let Some((at, _)) = ended {
            if !open || now >= at + DRAIN {
                break;
            }
        }
    }
    // Whatever is already read is still shown.
    while let Ok((bytes, newline)) = lines.try_recv() {
        line(&String::from_utf8_lossy(&bytes), newline);
    }
    Ok(match (killed_at, ended) {
        (None, Some((_, Some(status)))) => Ended::Exited(status),
        _ => Ended::Killed(timeout.unwrap_or_default()),
    })
}

fn kill_group(child: &Child) {
    use nix::sys::signal::{killpg, Signal};
    use nix::unistd::Pid;
    let Ok(pid) = i32::try_from(child.id()) else {
        return;
    };
    // The program leads its group (process_group(0)); it is not reaped yet,
    // so the group id cannot have been reused. SIGKILL ends a stopped
    // process too.
    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
}

#[cfg(test)]
mod tests {
    use super::duration_text;
    use std::time::Duration;

    #[test]
    fn durations_for_people() {
        assert_eq!(duration_text(Duration::from_millis(0)), "0.0s");
        assert_eq!(duration_text(Duration::from_millis(349)), "0.3s");
        assert_eq!(duration_text(Duration::from_millis(12_050)), "12.0s");
        assert_eq!(duration_text(Duration::from_secs(125)), "2m05s");
        assert_eq!(duration_text(Duration::from_secs(3720)), "1h02m");
    }
}
