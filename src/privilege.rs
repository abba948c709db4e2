//! Root mode: hearth started as root applies the homes of other users. Each
//! user's activation runs in its own process that drops to that user,
//! irrevocably, before it opens anything of theirs; root never touches a path
//! in a user's home (a user controls every directory there and could swap one
//! for a symlink to /etc).
//!
//! Why a re-exec of hearth rather than a bare fork: the parent reads each
//! child's output through pipes in threads (to prefix every line with the
//! user's name), and a fork of a multi-threaded process may only make
//! async-signal-safe calls before `exec`, while dropping privileges needs
//! allocations (the group list, the passwd entry). A fresh hearth process is
//! single-threaded when it drops, holds nothing of the parent's state, and
//! then runs exactly the code of `hearth activate`.

use std::ffi::{CString, OsString};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::unistd::{Gid, Uid, User};

use crate::manifest;
use crate::nixprofile;

/// The hidden subcommand the parent runs for one user (see `main.rs`).
pub const CHILD_COMMAND: &str = "activate-as-user";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("--user {name}: no such user in the user database\nhint: create the account first; nothing was changed")]
    NoSuchUser { name: String },
    #[error("cannot look up user {name}: {message}")]
    Lookup { name: String, message: String },
    #[error("--user {name}: only root can activate another user's home (hearth runs as {me})\nhint: run `hearth activate GEN` as {name}, or run this command as root")]
    NotRoot { name: String, me: String },
    #[error("{name}: hearth does not drop to root (uid 0) for another account\nhint: activate root's own home as root with `hearth activate GEN`")]
    RootTarget { name: String },
    #[error("{gen}: cannot resolve the generation: {source}\nhint: pass the store path of a built generation; nothing was changed")]
    Resolve { gen: PathBuf, source: io::Error },
    #[error("{gen} is not in the Nix store ({store}); in root mode hearth applies only generations built by Nix\nhint: pass the generation's store path; nothing was changed")]
    NotInStore { gen: PathBuf, store: PathBuf },
    #[error(transparent)]
    Manifest(#[from] manifest::Error),
    #[error("{gen}: the manifest is for user {want:?}, but --user is {name:?}\nhint: pass {name}'s own generation; nothing was changed")]
    WrongUser {
        gen: PathBuf,
        want: String,
        name: String,
    },
    #[error("{name}: cannot drop privileges ({step}): {errno}\nnothing in the home was changed")]
    Drop {
        name: String,
        step: &'static str,
        errno: nix::errno::Errno,
    },
    #[error("{name}: after dropping to uid {uid}, the process could still become root; refusing to activate\nnothing in the home was changed")]
    StillRoot { name: String, uid: u32 },
    #[error("the home {home} of {name} is owned by uid {owner}, not by {name} (uid {uid}); hearth does not write into a home its user does not own\nhint: chown the home to {name}, or fix the account's home directory; nothing was changed")]
    HomeNotOwned {
        name: String,
        home: PathBuf,
        owner: u32,
        uid: u32,
    },
    #[error("the home {home} of {name} is not a directory {name} can use: {source}\nnothing was changed")]
    Home {
        name: String,
        home: PathBuf,
        source: io::Error,
    },
    #[error("cannot start hearth for {name} ({exe}): {source}")]
    Spawn {
        name: String,
        exe: PathBuf,
        source: io::Error,
    },
    #[error("{arg:?}: expected NAME=GENERATION")]
    BadPair { arg: String },
}

impl Error {
    /// The documented exit status: 2 for refused input, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Drop { .. }
            | Error::StillRoot { .. }
            | Error::Spawn { .. }
            | Error::Lookup { .. } => 1,
            _ => 2,
        }
    }
}

/// A user account as the user database describes it.
pub struct Account {
    pub name: String,
    pub uid: Uid,
    pub gid: Gid,
    pub home: PathBuf,
}

pub fn resolve(name: &str) -> Result<Account, Error> {
    let user = User::from_name(name)
        .map_err(|e| Error::Lookup {
            name: name.to_string(),
            message: e.to_string(),
        })?
        .ok_or_else(|| Error::NoSuchUser {
            name: name.to_string(),
        })?;
    Ok(Account {
        name: user.name,
        uid: user.uid,
        gid: user.gid,
        home: user.dir,
    })
}

/// The name of the user running hearth.
pub fn whoami() -> Result<String, Error> {
    let uid = nix::unistd::getuid();
    User::from_uid(uid)
        .map_err(|e| Error::Lookup {
            name: format!("uid {uid}"),
            message: e.to_string(),
        })?
        .map(|u| u.name)
        .ok_or_else(|| Error::Lookup {
            name: format!("uid {uid}"),
            message: "no entry in the user database".into(),
        })
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Checks, as root and before anything runs as the user, that `gen` is a
/// generation built by Nix for `name`: the store is trusted, a path the user
/// could have written is not. Returns the resolved store path.
pub fn check_generation(name: &str, gen: &Path) -> Result<PathBuf, Error> {
    let real = gen.canonicalize().map_err(|source| Error::Resolve {
        gen: gen.to_path_buf(),
        source,
    })?;
    let store = nixprofile::store_dir();
    if !real.starts_with(&store) || real == store {
        return Err(Error::NotInStore { gen: real, store });
    }
    let g = manifest::Generation::load(&real)?;
    if g.manifest.user != name {
        return Err(Error::WrongUser {
            gen: real,
            want: g.manifest.user,
            name: name.to_string(),
        });
    }
    Ok(real)
}

/// Makes Nix's per-user GC-roots directory for the account, owned by it, as
/// Nix itself does for a user of the daemon (`LocalStore::createUser`), so
/// that the user can register the generation's GC root without root. It lies
/// outside the home, below a root-owned directory the user cannot change.
/// Best effort: without it, the child asks `nix-store` (the daemon).
pub fn prepare_gc_roots(acct: &Account) {
    let dir = nixprofile::state_dir()
        .join("gcroots/per-user")
        .join(&acct.name);
    match std::fs::create_dir(&dir) {
        Ok(()) => {
            if let Err(e) =
                std::os::unix::fs::lchown(&dir, Some(acct.uid.as_raw()), Some(acct.gid.as_raw()))
            {
                eprintln!(
                    "hearth: warning: cannot give {} to {}: {e}",
                    dir.display(),
                    acct.name
                );
            }
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => eprintln!("hearth: warning: cannot create {}: {e}", dir.display()),
    }
}

/// In the child: becomes `name` for good (when started as root), checks the
/// home, and sets the environment and working directory from the account.
/// Nothing of the user's is opened before the drop.
pub fn become_user(name: &str) -> Result<Account, Error> {
    let acct = resolve(name)?;
    if is_root() {
        if acct.uid.is_root() {
            return Err(Error::RootTarget {
                name: name.to_string(),
            });
        }
        drop_to(&acct)?;
    } else if nix::unistd::getuid() != acct.uid || nix::unistd::geteuid() != acct.uid {
        return Err(Error::NotRoot {
            name: name.to_string(),
            me: whoami()?,
        });
    }
    enter(&acct)?;
    Ok(acct)
}

fn drop_err<'a>(name: &'a str, step: &'static str) -> impl FnOnce(nix::errno::Errno) -> Error + 'a {
    move |errno| Error::Drop {
        name: name.to_string(),
        step,
        errno,
    }
}

/// Supplementary groups, then gid, then uid (the order matters: after the
/// uid, the process may no longer change its groups), real, effective and
/// saved alike, so that no ID is left to switch back to.
#[cfg(target_os = "linux")]
fn drop_to(acct: &Account) -> Result<(), Error> {
    use nix::unistd::{getgrouplist, setgroups, setresgid, setresuid};
    let name = acct.name.as_str();
    let cname = CString::new(name).map_err(|_| Error::Drop {
        name: name.to_string(),
        step: "user name",
        errno: nix::errno::Errno::EINVAL,
    })?;
    let groups = getgrouplist(&cname, acct.gid).map_err(drop_err(name, "getgrouplist"))?;
    setgroups(&groups).map_err(drop_err(name, "setgroups"))?;
    setresgid(acct.gid, acct.gid, acct.gid).map_err(drop_err(name, "setresgid"))?;
    setresuid(acct.uid, acct.uid, acct.uid).map_err(drop_err(name, "setresuid"))?;
    let ids = nix::unistd::getresuid().map_err(drop_err(name, "getresuid"))?;
    let gids = nix::unistd::getresgid().map_err(drop_err(name, "getresgid"))?;
    let dropped = [ids.real, ids.effective, ids.saved]
        .iter()
        .all(|u| *u == acct.uid)
        && [gids.real, gids.effective, gids.saved]
            .iter()
            .all(|g| *g == acct.gid);
    verify_dropped(acct, dropped)
}

/// macOS has no setresuid; for a privileged process POSIX `setuid` sets the
/// real, effective and saved IDs at once. (Not exercised by the test suite,
/// which runs on Linux.)
#[cfg(not(target_os = "linux"))]
fn drop_to(acct: &Account) -> Result<(), Error> {
    let name = acct.name.as_str();
    let cname = CString::new(name).map_err(|_| Error::Drop {
        name: name.to_string(),
        step: "user name",
        errno: nix::errno::Errno::EINVAL,
    })?;
    // SAFETY: a valid NUL-terminated name and a plain gid; no memory is shared.
    let r = unsafe { nix::libc::initgroups(cname.as_ptr(), acct.gid.as_raw() as _) };
    nix::errno::Errno::result(r).map_err(drop_err(name, "initgroups"))?;
    nix::unistd::setgid(acct.gid).map_err(drop_err(name, "setgid"))?;
    nix::unistd::setuid(acct.uid).map_err(drop_err(name, "setuid"))?;
    let dropped = nix::unistd::getuid() == acct.uid
        && nix::unistd::geteuid() == acct.uid
        && nix::unistd::getegid() == acct.gid;
    verify_dropped(acct, dropped)
}

/// The proof that the drop is irrevocable: becoming root again must fail.
fn verify_dropped(acct: &Account, dropped: bool) -> Result<(), Error> {
    let regained = nix::unistd::setuid(Uid::from_raw(0)).is_ok()
        || nix::unistd::seteuid(Uid::from_raw(0)).is_ok()
        || nix::unistd::geteuid().is_root();
    if regained || !dropped {
        return Err(Error::StillRoot {
            name: acct.name.clone(),
            uid: acct.uid.as_raw(),
        });
    }
    Ok(())
}

/// HOME, USER and LOGNAME from the account; XDG_* removed, so that root's
/// XDG_STATE_HOME (or any other) cannot send the user's state elsewhere:
/// hearth then uses the defaults under the user's home. Then the home must
/// be the user's own directory, and becomes the working directory.
fn enter(acct: &Account) -> Result<(), Error> {
    let xdg: Vec<OsString> = std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| k.as_encoded_bytes().starts_with(b"XDG_"))
        .collect();
    for k in xdg {
        std::env::remove_var(k);
    }
    std::env::set_var("HOME", &acct.home);
    std::env::set_var("USER", &acct.name);
    std::env::set_var("LOGNAME", &acct.name);
    let home_err = |source| Error::Home {
        name: acct.name.clone(),
        home: acct.home.clone(),
        source,
    };
    // Followed if it is a symlink: we are the user now, and can reach only
    // what the user can.
    let meta = std::fs::metadata(&acct.home).map_err(home_err)?;
    if !meta.is_dir() {
        return Err(home_err(io::Error::from_raw_os_error(nix::libc::ENOTDIR)));
    }
    if meta.uid() != acct.uid.as_raw() {
        return Err(Error::HomeNotOwned {
            name: acct.name.clone(),
            home: acct.home.clone(),
            owner: meta.uid(),
            uid: acct.uid.as_raw(),
        });
    }
    std::env::set_current_dir(&acct.home).map_err(home_err)
}

/// What to pass on to each user's activation.
pub struct Options {
    pub lock_timeout: Duration,
    pub dry_run: bool,
    pub json: bool,
    pub backup_ext: Option<String>,
}

/// How one user's activation ended.
pub struct Outcome {
    pub name: String,
    pub code: u8,
}

/// Parses `NAME=GENERATION`.
pub fn parse_pair(arg: &str) -> Result<(String, PathBuf), Error> {
    match arg.split_once('=') {
        Some((name, gen)) if !name.is_empty() && !gen.is_empty() => {
            Ok((name.to_string(), PathBuf::from(gen)))
        }
        _ => Err(Error::BadPair {
            arg: arg.to_string(),
        }),
    }
}

/// Activates `gen` for `name` in a child process, every line of its output
/// prefixed with `[name] `. Refusals found before the child starts are
/// printed the same way. Returns the exit status of that user's activation.
pub fn activate_user(name: &str, gen: &Path, opts: &Options) -> Outcome {
    let code = match run_child(name, gen, opts) {
        Ok(code) => code,
        Err(e) => {
            let text = format!("error: {e}");
            let mut err = io::stderr().lock();
            for line in text.lines() {
                let _ = writeln!(err, "[{name}] {line}");
            }
            e.exit_code()
        }
    };
    Outcome {
        name: name.to_string(),
        code,
    }
}

fn run_child(name: &str, gen: &Path, opts: &Options) -> Result<u8, Error> {
    let me = whoami()?;
    if !is_root() && name != me {
        return Err(Error::NotRoot {
            name: name.to_string(),
            me,
        });
    }
    let acct = resolve(name)?;
    if is_root() && acct.uid.is_root() {
        return Err(Error::RootTarget {
            name: name.to_string(),
        });
    }
    let gen = check_generation(name, gen)?;
    if is_root() {
        prepare_gc_roots(&acct);
    }
    let exe = std::env::current_exe().map_err(|source| Error::Spawn {
        name: name.to_string(),
        exe: PathBuf::from("/proc/self/exe"),
        source,
    })?;
    let mut cmd = Command::new(&exe);
    cmd.arg("--lock-timeout")
        .arg(opts.lock_timeout.as_secs().to_string())
        .arg(CHILD_COMMAND)
        .arg(name)
        .arg(&gen);
    if opts.dry_run {
        cmd.arg("--dry-run");
    }
    if opts.json {
        cmd.arg("--json");
    }
    if let Some(ext) = &opts.backup_ext {
        cmd.arg("--backup-ext").arg(ext);
    }
    // The working directory is set by the child once it is the user; until
    // then it stays somewhere root owns.
    let mut child = cmd
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Spawn {
            name: name.to_string(),
            exe: exe.clone(),
            source,
        })?;
    let out = child.stdout.take();
    let err = child.stderr.take();
    let status = std::thread::scope(|s| {
        if let Some(out) = out {
            s.spawn(|| prefix_lines(out, name, false));
        }
        if let Some(err) = err {
            s.spawn(|| prefix_lines(err, name, true));
        }
        child.wait()
    })
    .map_err(|source| Error::Spawn {
        name: name.to_string(),
        exe,
        source,
    })?;
    Ok(exit_code(status))
}

fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => u8::try_from(c).unwrap_or(1),
        (None, Some(sig)) => u8::try_from(128 + sig).unwrap_or(1),
        _ => 1,
    }
}

/// Copies `from` line by line, each line written whole (under the lock) so
/// that the lines of stdout and stderr do not interleave mid-line.
fn prefix_lines(from: impl Read, name: &str, to_stderr: bool) {
    let mut reader = BufReader::new(from);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let text = format!("[{name}] {}\n", text.trim_end_matches('\n'));
                // A closed stdout (the parent's reader gone) is not the
                // user's failure: the child's status decides.
                let _ = if to_stderr {
                    io::stderr().lock().write_all(text.as_bytes())
                } else {
                    let mut w = io::stdout().lock();
                    w.write_all(text.as_bytes()).and_then(|()| w.flush())
                };
            }
        }
    }
}

/// What a child's exit status means, for the summary (see `main.rs`).
pub fn describe(code: u8, dry_run: bool) -> &'static str {
    match code {
        0 if dry_run => "planned (dry run)",
        0 => "activated",
        2 => "refused: invalid input",
        3 => "failed: conflicts, nothing changed",
        4 => "failed and reverted, home as before",
        5 => "a step or hook failed",
        7 => "failed; the revert failed too, journal kept",
        c if c > 128 => "killed",
        _ => "failed",
    }
}

/// The summary printed after all users: one line per user, and the failed.
pub fn summary(outcomes: &[Outcome], dry_run: bool) -> String {
    let width = outcomes.iter().map(|o| o.name.len()).max().unwrap_or(0);
    let mut text = format!(
        "hearth: {} user{}:\n",
        outcomes.len(),
        if outcomes.len() == 1 { "" } else { "s" }
    );
    for o in outcomes {
        let what = describe(o.code, dry_run);
        if o.code == 0 {
            text.push_str(&format!("  {:<width$}  {what}\n", o.name));
        } else {
            text.push_str(&format!("  {:<width$}  {what} (exit {})\n", o.name, o.code));
        }
    }
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.code != 0)
        .map(|o| o.name.as_str())
        .collect();
    if failed.is_empty() {
        text.push_str("hearth: all users succeeded\n");
    } else {
        text.push_str(&format!(
            "hearth: the activation failed for {} of {}: {}\n",
            failed.len(),
            outcomes.len(),
            failed.join(", ")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs() {
        assert_eq!(
            parse_pair("alice=/nix/store/x").unwrap(),
            ("alice".to_string(), PathBuf::from("/nix/store/x"))
        );
        assert!(parse_pair("alice").is_err());
        assert!(parse_pair("=/nix/store/x").is_err());
        assert!(parse_pair("alice=").is_err());
    }

    #[test]
    fn summary_names_the_failed() {
        let o = |name: &str, code| Outcome {
            name: name.into(),
            code,
        };
        let text = summary(&[o("alice", 0), o("bob", 3), o("carol", 0)], false);
        assert_eq!(
            text,
            "hearth: 3 users:\n  alice  activated\n  bob    failed: conflicts, nothing changed (exit 3)\n  carol  activated\nhearth: the activation failed for 1 of 3: bob\n"
        );
    }
}
