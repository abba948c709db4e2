//! Running a generation's programs: `onChange` hooks and activation steps.
//! Never prints: each program's output (stdout and stderr together) is
//! handed, as soon as the program ends, to the `shown` callback the edge
//! passed in, which decides where it goes (stdout in text mode, stderr and
//! the JSON document with `--json`).
//! Each program also gets the user's runtime directory and session bus when
//! they are not set (see `sys::systemctl::runtime_env`), so that
//! `systemctl --user` works from a step run by root mode or a system unit.

use std::io;
use std::path::{Path, PathBuf};

/// How many lines of a failing step's output the error repeats.
const TAIL_LINES: usize = 10;

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
}

fn tail_text(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("; last lines of its output:\n  {}", tail.join("\n  "))
    }
}

/// The environment every hook sees.
pub struct Env<'a> {
    pub home: &'a Path,
    pub dry_run: bool,
    pub old: Option<&'a Path>,
    pub new: &'a Path,
}

/// What one program printed, handed to the edge when it ends.
pub struct Ran<'a> {
    /// "step", "check step" or "onChange of".
    pub what: &'static str,
    pub name: &'a str,
    pub output: &'a str,
    pub ok: bool,
}

/// Runs `program`; its output goes to `shown` (then a failure is returned).
pub fn run(
    what: &'static str,
    name: &str,
    program: &Path,
    env: &Env,
    shown: &mut dyn FnMut(&Ran),
) -> Result<(), Error> {
    let old = env
        .old
        .map(|p| p.as_os_str().to_owned())
        .unwrap_or_default();
    let mut cmd = duct::cmd!(program);
    for (k, v) in crate::sys::systemctl::runtime_env() {
        cmd = cmd.env(k, v);
    }
    let out = cmd
        .env("HOME", env.home)
        .env("HEARTH_DRY_RUN", if env.dry_run { "1" } else { "0" })
        .env("HEARTH_OLD_GENERATION", old)
        .env("HEARTH_NEW_GENERATION", env.new)
        .stdin_null()
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()
        .map_err(|source| Error::Spawn {
            what,
            name: name.to_string(),
            program: program.to_path_buf(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    shown(&Ran {
        what,
        name,
        output: &text,
        ok: out.status.success(),
    });
    if out.status.success() {
        return Ok(());
    }
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let tail = lines[lines.len().saturating_sub(TAIL_LINES)..].to_vec();
    Err(Error::Failed {
        what,
        name: name.to_string(),
        program: program.to_path_buf(),
        status: out.status.to_string(),
        tail,
    })
}
