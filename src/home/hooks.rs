//! Running a generation's programs: `onChange` hooks and activation steps.
//! Their output is passed through, each line prefixed with the step's name.

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

/// Runs `program` and prints its output as `[name] line`.
pub fn run(what: &'static str, name: &str, program: &Path, env: &Env) -> Result<(), Error> {
    let old = env
        .old
        .map(|p| p.as_os_str().to_owned())
        .unwrap_or_default();
    let out = duct::cmd!(program)
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
    let mut shown = String::with_capacity(text.len() + 16);
    for line in text.lines() {
        shown.push_str(&format!("[{name}] {line}\n"));
    }
    crate::report::out(&shown);
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
