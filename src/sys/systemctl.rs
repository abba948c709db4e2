//! The user's systemd manager, from the user's side: the runtime directory
//! and session bus hearth gives its steps, hooks and `systemctl` when they
//! are not set, and `systemctl --user` itself. Effects only: which units to
//! start, restart or stop is decided in `home::units`. Never trusts a
//! runtime directory that belongs to someone else.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The variables hearth adds to what steps, hooks and `systemctl` inherit:
/// `XDG_RUNTIME_DIR` when it is not set and `/run/user/<euid>` is a
/// directory (not a link) owned by the effective user, and
/// `DBUS_SESSION_BUS_ADDRESS` when it is not set and the runtime
/// directory's `bus` socket exists. Root mode's child starts with no
/// `XDG_*` at all, and a NixOS unit with `User=` without the session's:
/// this is how they reach the user's manager.
pub fn runtime_env() -> Vec<(&'static str, OsString)> {
    let euid = nix::unistd::geteuid().as_raw();
    fill(
        std::env::var_os("XDG_RUNTIME_DIR"),
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").as_ref(),
        &Path::new("/run/user").join(euid.to_string()),
        euid,
    )
}

/// `runtime_env` with what it reads passed in: the two variables as set,
/// the candidate runtime directory, and the effective uid.
fn fill(
    xdg: Option<OsString>,
    dbus: Option<&OsString>,
    candidate: &Path,
    euid: u32,
) -> Vec<(&'static str, OsString)> {
    let mut add = Vec::new();
    let set = |v: Option<&OsString>| v.is_some_and(|v| !v.is_empty());
    let runtime = if set(xdg.as_ref()) {
        xdg.map(PathBuf::from)
    } else if owned_dir(candidate, euid) {
        add.push(("XDG_RUNTIME_DIR", candidate.as_os_str().to_owned()));
        Some(candidate.to_path_buf())
    } else {
        None
    };
    if !set(dbus) {
        if let Some(dir) = runtime.filter(|d| d.is_absolute()) {
            let bus = dir.join("bus");
            if is_socket(&bus) {
                let mut addr = OsString::from("unix:path=");
                addr.push(bus.as_os_str());
                add.push(("DBUS_SESSION_BUS_ADDRESS", addr));
            }
        }
    }
    add
}

/// A directory itself (a symlink is not followed) owned by `uid`.
fn owned_dir(path: &Path, uid: u32) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir() && m.uid() == uid)
}

fn is_socket(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// The runtime directory hearth's programs see: the one set, or the one
/// `runtime_env` fills in.
fn runtime_dir(env: &[(&'static str, OsString)]) -> Option<PathBuf> {
    env.iter()
        .find(|(k, _)| *k == "XDG_RUNTIME_DIR")
        .map(|(_, v)| PathBuf::from(v))
        .or_else(|| std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from))
        .filter(|p| p.is_absolute())
}

/// Why the user's manager cannot be used (so nothing is done to units).
/// One message for every cause: it lands in JSON documents, which must not
/// differ between machines with and without a runtime directory.
#[derive(Debug, thiserror::Error)]
pub enum Unreachable {
    /// No runtime directory, or no `systemd/private` socket in it.
    #[error("user manager not running: units not reloaded")]
    NoSocket,
    /// The socket exists, but `is-system-running` gives no state to act in.
    #[error("user manager not running: units not reloaded")]
    NoAnswer,
}

/// A `systemctl --user` command that failed.
#[derive(Debug, thiserror::Error)]
#[error("`systemctl --user {}` failed: {said}", .args.join(" "))]
pub struct Failed {
    pub args: Vec<String>,
    /// What systemctl printed (stderr, else stdout), or why it did not run.
    pub said: String,
}

/// The user's running systemd manager, reached through `systemctl --user`
/// with the runtime environment filled in.
pub struct Manager {
    env: Vec<(&'static str, OsString)>,
}

impl Manager {
    /// The manager, when it runs: its private socket exists and
    /// `is-system-running` answers with a state it can act in.
    pub fn reach() -> Result<Manager, Unreachable> {
        let env = runtime_env();
        let dir = runtime_dir(&env).ok_or(Unreachable::NoSocket)?;
        if !is_socket(&dir.join("systemd/private")) {
            return Err(Unreachable::NoSocket);
        }
        let m = Manager { env };
        // Exits non-zero for "degraded" and such: the answer is what counts.
        let (_, out, _) = m
            .output(&["is-system-running"])
            .map_err(|_| Unreachable::NoAnswer)?;
        match out.trim() {
            "running" | "degraded" | "starting" | "initializing" | "maintenance" => Ok(m),
            _ => Err(Unreachable::NoAnswer),
        }
    }

    /// Runs `systemctl --user ARGS`: (success, stdout, stderr).
    fn output(&self, args: &[&str]) -> Result<(bool, String, String), Failed> {
        let mut cmd = duct::cmd(
            OsStr::new("systemctl"),
            std::iter::once("--user").chain(args.iter().copied()),
        )
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked();
        for (k, v) in &self.env {
            cmd = cmd.env(k, v);
        }
        let out = cmd.run().map_err(|e| Failed {
            args: args.iter().map(ToString::to_string).collect(),
            said: format!("cannot run systemctl: {e}"),
        })?;
        Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    /// Runs a command that must succeed.
    fn run(&self, args: &[&str]) -> Result<String, Failed> {
        let (ok, out, err) = self.output(args)?;
        if ok {
            return Ok(out);
        }
        let said = if err.trim().is_empty() { out } else { err };
        Err(Failed {
            args: args.iter().map(ToString::to_string).collect(),
            said: said.trim().to_string(),
        })
    }

    /// The directories the manager loads units from (`UnitPath`).
    pub fn unit_path(&self) -> Result<Vec<PathBuf>, Failed> {
        let out = self.run(&["show", "--property=UnitPath", "--value"])?;
        Ok(out.split_whitespace().map(PathBuf::from).collect())
    }

    /// Which of `units` are active (or activating, reloading): one answer
    /// per unit, in order.
    pub fn active(&self, units: &[String]) -> Result<Vec<bool>, Failed> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["is-active", "--"];
        args.extend(units.iter().map(String::as_str));
        // Exits non-zero when any is inactive; the lines are the answer.
        let (_, out, err) = self.output(&args)?;
        let states: Vec<&str> = out.lines().collect();
        if states.len() != units.len() {
            return Err(Failed {
                args: args.iter().map(ToString::to_string).collect(),
                said: format!(
                    "expected {} states, got {:?} {}",
                    units.len(),
                    out.trim(),
                    err.trim()
                ),
            });
        }
        Ok(states
            .iter()
            .map(|s| matches!(s.trim(), "active" | "activating" | "reloading"))
            .collect())
    }

    pub fn daemon_reload(&self) -> Result<(), Failed> {
        self.run(&["daemon-reload"]).map(drop)
    }

    /// `systemctl --user VERB -- UNIT` (start, restart, stop), waiting for
    /// the job as NixOS's switch does.
    pub fn act(&self, verb: &str, unit: &str) -> Result<(), Failed> {
        self.run(&[verb, "--", unit]).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::home::state::tests::scratch;
    use std::os::unix::net::UnixListener;

    fn names(v: &[(&'static str, OsString)]) -> Vec<(&'static str, String)> {
        v.iter()
            .map(|(k, v)| (*k, v.to_string_lossy().into_owned()))
            .collect()
    }

    #[test]
    fn fills_the_runtime_dir_only_when_it_is_the_users() {
        let tmp = scratch("runtime-dir");
        let dir = tmp.join("1000");
        std::fs::create_dir(&dir).unwrap();
        let me = nix::unistd::geteuid().as_raw();
        let got = fill(None, None, &dir, me);
        assert_eq!(
            names(&got),
            [("XDG_RUNTIME_DIR", dir.display().to_string())]
        );
        // Someone else's directory is never used.
        assert!(fill(None, None, &dir, me + 1).is_empty());
        // Nor a link to one's own.
        let link = tmp.join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(fill(None, None, &link, me).is_empty());
        // A variable that is set is kept as it is.
        assert!(fill(Some("/elsewhere".into()), None, &dir, me).is_empty());
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn fills_the_bus_when_its_socket_exists() {
        let tmp = scratch("runtime-bus");
        let me = nix::unistd::geteuid().as_raw();
        assert!(fill(
            Some(tmp.as_path().into()),
            None,
            Path::new("/nonexistent"),
            me
        )
        .is_empty());
        let _bus = UnixListener::bind(tmp.as_path().join("bus")).unwrap();
        let got = fill(
            Some(tmp.as_path().into()),
            None,
            Path::new("/nonexistent"),
            me,
        );
        assert_eq!(
            names(&got),
            [(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}/bus", tmp.as_path().display())
            )]
        );
        let kept = fill(
            Some(tmp.as_path().into()),
            Some(&"unix:path=/x".into()),
            Path::new("/nonexistent"),
            me,
        );
        assert!(kept.is_empty());
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
