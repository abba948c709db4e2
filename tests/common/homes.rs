//! Throwaway homes and runs of the hearth binary in them: `TestHome` (a
//! fresh home, removed on drop unless the test panicked) and `Run` (how a
//! run ended: exit code, stdout, stderr).

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{current_user, path_str, redact, snapshot, unique_dir, GenSpec, Snapshot};

/// A fresh home directory for one test, removed on drop unless the test
/// panicked (then it is kept for inspection and its path printed).
pub struct TestHome {
    path: PathBuf,
}

impl TestHome {
    /// The home holds only `.local/state`, like a lived-in home: creating
    /// hearth's state dir then changes nothing that `snapshot()` sees.
    pub fn new() -> Self {
        let path = unique_dir("homes")
            .canonicalize()
            .expect("canonicalize home");
        fs::create_dir_all(path.join(".local/state")).expect("create ~/.local/state");
        TestHome { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path.join(".local/state/hearth")
    }

    /// An empty generation for this home and the current user.
    pub fn gen(&self) -> GenSpec {
        GenSpec::new(&self.path)
    }

    /// The hearth binary with `HOME` set to this home and `XDG_STATE_HOME` unset.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hearth"));
        cmd.args(args)
            .env("HOME", &self.path)
            .env_remove("XDG_STATE_HOME")
            .stdin(Stdio::null());
        cmd
    }

    pub fn hearth<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.hearth_env(args, &[])
    }

    pub fn hearth_env<I, S>(&self, args: I, env: &[(&str, &str)]) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self
            .command(args)
            .envs(env.iter().copied())
            .output()
            .expect("run hearth");
        Run::from_output(out)
    }

    /// hearth started in the background with stdout and stderr piped; finish
    /// with `Run::from_output(child.wait_with_output().unwrap())`.
    pub fn spawn<I, S>(&self, args: I) -> Child
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hearth")
    }

    /// The home without `.local/state` (hearth's state and package profile).
    pub fn snapshot(&self) -> Snapshot {
        snapshot(&self.path, &[".local/state"])
    }

    /// `redact` with this home's path shown as `~HOME`.
    /// `redact`, and the user running the tests shown as `USER` (in
    /// generation names, quoted, and in "for user NAME").
    pub fn redact_user(&self, text: &str) -> String {
        let user = current_user();
        redact(
            text,
            &[
                (path_str(&self.path), "~HOME"),
                (
                    &format!("hearth-generation-{user}"),
                    "hearth-generation-USER",
                ),
                (&format!("{user:?}"), "\"USER\""),
                (&format!("for user {user} "), "for user USER "),
                // The last line of a failed activation names the user.
                (&format!("hearth: {user}: "), "hearth: USER: "),
            ],
        )
    }

    /// hearth run in this home, killed (failing the test) when it does not
    /// finish within `limit`: a FIFO opened for reading would block it forever.
    pub fn hearth_within(&self, args: &[&str], limit: Duration) -> Run {
        run_within(self.command(args), limit).0
    }

    /// `redact` with this home's path shown as `~HOME`, and the user named
    /// by the last line of a failed activation as `USER`.
    pub fn redact(&self, text: &str) -> String {
        let last_line = format!("hearth: {}: ", current_user());
        redact(
            text,
            &[
                (path_str(&self.path), "~HOME"),
                (&last_line, "hearth: USER: "),
            ],
        )
    }
}

impl Default for TestHome {
    fn default() -> Self {
        Self::new()
    }
}

impl AsRef<Path> for TestHome {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for TestHome {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test home kept: {}", self.path.display());
            return;
        }
        drop_gc_root_links(&self.path);
        if fs::remove_dir_all(&self.path).is_err() {
            // A test may leave read-only directories behind (as a non-root
            // user their entries cannot be removed): open them up and retry.
            make_writable(&self.path);
            fs::remove_dir_all(&self.path).expect("remove test home");
        }
    }
}

/// hearth links each generation's GC root from Nix's per-user roots
/// directory; those links into a removed test home would pile up there.
fn drop_gc_root_links(home: &Path) {
    let dir = Path::new("/nix/var/nix/gcroots/per-user").join(current_user());
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("hearth-")
            && fs::read_link(entry.path()).is_ok_and(|t| t.starts_with(home))
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn make_writable(dir: &Path) {
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            make_writable(&entry.path());
        }
    }
}
/// How a run of hearth ended. `code` is 128 + signal when it was killed.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[expect(
        clippy::needless_pass_by_value,
        reason = "takes the Output as `Command::output` and `wait_with_output` return it"
    )]
    pub fn from_output(out: Output) -> Self {
        use std::os::unix::process::ExitStatusExt;
        let code = out
            .status
            .code()
            .or_else(|| out.status.signal().map(|s| 128 + s))
            .expect("an exit code or a signal");
        Run {
            code,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code of hearth:\n{self}");
        self
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        self.assert_code(0)
    }

    /// stdout parsed as JSON (for `--json`).
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "exit code {}\n--- stdout\n{}--- stderr\n{}---",
            self.code, self.stdout, self.stderr
        )
    }
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Runs `cmd` with its output collected, killing it and failing the test
/// when it does not finish within `limit`. Returns the run and its time.
pub fn run_within(mut cmd: Command, limit: Duration) -> (Run, Duration) {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hearth");
    while child.try_wait().expect("wait for hearth").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect hearth output");
            panic!(
                "hearth did not finish within {limit:?}:\n{}",
                Run::from_output(out)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = start.elapsed();
    (
        Run::from_output(child.wait_with_output().expect("collect hearth output")),
        took,
    )
}

/// Durations are the one thing in these outputs that changes from run to
/// run: `done in 0.3s` and `after 1.0s` read `done in DURATION`.
pub fn redact_durations(text: &str) -> String {
    text.lines()
        .map(|line| {
            let mut line = line.to_string();
            for marker in [": done in ", ": failed after ", ": killed after "] {
                if let Some(at) = line.find(marker) {
                    let start = at + marker.len();
                    let end = line[start..].find(' ').map_or(line.len(), |i| start + i);
                    line.replace_range(start..end, "DURATION");
                }
            }
            line + "\n"
        })
        .collect()
}
