//! Root mode: hearth started as root applies the homes of other users. Each
//! user's activation runs in its own process that drops to that user,
//! irrevocably, before it opens anything of theirs; root never touches a path
//! in a user's home (a user controls every directory there and could swap one
//! for a symlink to /etc).
//!
//! Why a re-exec of hearth rather than a bare fork: dropping privileges
//! needs allocations (the group list, the passwd entry), which a fork may
//! only make safely in a single-threaded process; a fresh hearth process
//! is single-threaded when it drops, holds nothing of the parent's state
//! (its environment is built from nothing), and then runs exactly the code
//! of `hearth activate`.
//!
//! Nothing the user's process does may stall, blind or fool root: it runs in
//! a process group of its own, killed whole at the timeout (SIGKILL ends a
//! stopped process too); its pipes are polled by the waiting thread itself,
//! and given up shortly after it ends, whoever still holds them; and every
//! line of it root shows has its control characters escaped.

use std::ffi::{CString, OsStr, OsString};
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::unistd::{Gid, Uid, User};

use crate::exit::ExitCode;
use crate::manifest;
use crate::report;
use crate::sys::nixtools;
use crate::term::{self, Priority};

/// The hidden subcommand the parent runs for one user (see `main.rs`).
pub const CHILD_COMMAND: &str = "activate-as-user";

/// The child's hidden flag: its stderr reaches the journal through root
/// mode, so its lines carry syslog priorities (see `term`).
pub const JOURNAL_FLAG: &str = "--stderr-journal";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("--user {name}: no such user in the user database\nhint: create the account first; nothing was changed")]
    NoSuchUser { name: String },
    #[error("cannot look up user {name}: {message}")]
    Lookup { name: String, message: String },
    #[error("--user {name}: only root can activate another user's home (hearth runs as {me})\nhint: run `hearth activate GEN` as {name}, or run this command as root")]
    NotRoot { name: String, me: String },
    #[error("{file} holds the home of {name}: only root can plan another user's home (hearth runs as {me})\nhint: run it as root: sudo hearth plan --system PATH")]
    NotRootSystem {
        file: PathBuf,
        name: String,
        me: String,
    },
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
    #[error("--timeout {raw:?}: {why}\nhint: give seconds (300) or a duration: 90s, 5m, 1h30m")]
    BadTimeout { raw: String, why: String },
    #[error("--setenv {arg:?}: {why}")]
    BadSetenv { arg: String, why: String },
    #[error("timed out after {secs} s; hearth's process for {name} was killed with every process it started (its process group)\nif it was changing the home, hearth's journal there makes the next activation of {name} revert or complete that change\nhint: look above for what hung (a step or hook waiting, or a stopped process), or raise --timeout")]
    TimedOut { name: String, secs: u64 },
}

impl Error {
    /// The documented exit status: invalid input for a refusal, an error
    /// for what went wrong in the system.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Drop { .. }
            | Error::StillRoot { .. }
            | Error::Spawn { .. }
            | Error::Lookup { .. }
            | Error::TimedOut { .. } => ExitCode::Error,
            Error::NoSuchUser { .. }
            | Error::NotRoot { .. }
            | Error::NotRootSystem { .. }
            | Error::RootTarget { .. }
            | Error::Resolve { .. }
            | Error::NotInStore { .. }
            | Error::Manifest(_)
            | Error::WrongUser { .. }
            | Error::HomeNotOwned { .. }
            | Error::Home { .. }
            | Error::BadPair { .. }
            | Error::BadTimeout { .. }
            | Error::BadSetenv { .. } => ExitCode::InvalidInput,
        }
    }
}

/// A user account as the user database describes it.
pub struct Account {
    pub name: String,
    pub uid: Uid,
    pub gid: Gid,
    pub home: PathBuf,
    /// The login shell; an empty field means /bin/sh, as login(1) has it.
    pub shell: PathBuf,
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
        shell: if user.shell.as_os_str().is_empty() {
            PathBuf::from("/bin/sh")
        } else {
            user.shell
        },
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
    let store = nixtools::store_dir();
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
    let dir = nixtools::state_dir()
        .join("gcroots/per-user")
        .join(&acct.name);
    match std::fs::create_dir(&dir) {
        Ok(()) => {
            if let Err(e) =
                std::os::unix::fs::lchown(&dir, Some(acct.uid.as_raw()), Some(acct.gid.as_raw()))
            {
                crate::report::err(&format!(
                    "hearth: warning: cannot give {} to {}: {e}\n",
                    dir.display(),
                    acct.name
                ));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => crate::report::err(&format!(
            "hearth: warning: cannot create {}: {e}\n",
            dir.display()
        )),
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
#[allow(
    unsafe_code,
    reason = "initgroups(3), which nix does not wrap on macOS"
)]
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

/// HOME, USER and LOGNAME from the account; `XDG_*` removed, so that an
/// `XDG_STATE_HOME` (or any other) cannot send the user's state elsewhere:
/// hearth then uses the defaults under the user's home. Then the home must
/// be the user's own directory, and becomes the working directory. (Root
/// mode's parent already starts this process with an environment built from
/// nothing, see `child_env`; this matters when the hidden subcommand is run
/// some other way.)
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
    /// How long one user's activation may take before it is killed.
    pub timeout: Duration,
    /// Variables the platform module passes explicitly (`--setenv`).
    pub setenv: Vec<(String, String)>,
    /// `--step-timeout`, passed on to the user's activation.
    pub step_timeout: Option<Duration>,
    /// `-q` or `-v`, passed on to the user's activation.
    pub verbosity: report::Verbosity,
}

/// Home Manager's per-user unit gets systemd's default start timeout of
/// 5 minutes; root mode bounds each user the same by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// How one user's activation ended.
pub struct Outcome {
    pub name: String,
    pub code: ExitCode,
    /// Set when the activation was killed at the timeout.
    pub timed_out: Option<Duration>,
    /// With `--json`: what the child printed on stdout (its one document),
    /// kept whole for the parent to print, not shown line by line.
    pub json: Option<String>,
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

/// Parses `--timeout`: seconds, or a duration (`crate::duration`).
pub fn parse_timeout(raw: &str) -> Result<Duration, Error> {
    let bad = |why: String| Error::BadTimeout {
        raw: raw.to_string(),
        why,
    };
    let limit = crate::duration::parse(raw, crate::duration::Bare::Seconds).map_err(|e| {
        bad(match e {
            crate::duration::Error::TooLarge { .. } => "too large".into(),
            crate::duration::Error::Invalid { why, .. } => format!("not a duration: {why}"),
        })
    })?;
    if limit < Duration::from_secs(1) {
        // Zero would kill every activation at once; "no limit" is what the
        // timeout exists to rule out.
        return Err(bad("must be at least 1 second".into()));
    }
    Ok(limit)
}

/// Variables the child takes from the account, not from `--setenv`.
const FROM_ACCOUNT: [&str; 4] = ["HOME", "USER", "LOGNAME", "SHELL"];

/// Variables of root's environment passed on when set: the locale and time
/// zone (not secrets, and output in the user's language), and the Nix
/// variables that say which store hearth and the Nix tools must use.
const PASSED_ON: [&str; 7] = [
    "LANG",
    "LC_ALL",
    "TZ",
    "LOCALE_ARCHIVE",
    "NIX_STORE_DIR",
    "NIX_STATE_DIR",
    "NIX_REMOTE",
];

/// Where the tools of a NixOS / nix-darwin system and of a plain Nix
/// install live; the user's own packages (`users.users.NAME.packages`)
/// come first.
const SYSTEM_PATH: [&str; 7] = [
    "/run/current-system/sw/bin",
    "/nix/var/nix/profiles/default/bin",
    "/usr/local/bin",
    "/usr/bin",
    "/bin",
    "/usr/sbin",
    "/sbin",
];

/// Parses `--setenv NAME=VALUE`. The account's variables and `XDG_*` are
/// refused: they come from the user database, and hearth keeps each user's
/// state at its default place under the home.
pub fn parse_setenv(arg: &str) -> Result<(String, String), Error> {
    let bad = |why: String| Error::BadSetenv {
        arg: arg.to_string(),
        why,
    };
    let Some((name, value)) = arg.split_once('=') else {
        return Err(bad("expected NAME=VALUE".into()));
    };
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(bad(format!(
            "{name:?} is not a variable name (letters, digits and _, not starting with a digit)"
        )));
    }
    if value.contains('\0') {
        return Err(bad("the value contains a NUL byte".into()));
    }
    if FROM_ACCOUNT.contains(&name) {
        return Err(bad(format!(
            "{name} is set for each user from the user database; it cannot be passed"
        )));
    }
    if name.starts_with("XDG_") {
        return Err(bad(format!(
            "{name}: hearth keeps each user's state at its default place under the home; XDG_* variables cannot be passed"
        )));
    }
    Ok((name.to_string(), value.to_string()))
}

/// The whole environment of a user's hearth process, and so of the steps
/// and hooks it runs, built from nothing: nothing of root's is inherited
/// unless listed here (the user can read their processes' environments in
/// /proc). `lookup` reads root's environment.
fn child_env(
    acct: &Account,
    setenv: &[(String, String)],
    lookup: impl Fn(&str) -> Option<OsString>,
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = vec![
        ("HOME".into(), acct.home.clone().into()),
        ("USER".into(), acct.name.clone().into()),
        ("LOGNAME".into(), acct.name.clone().into()),
        ("SHELL".into(), acct.shell.clone().into()),
        ("PATH".into(), default_path(&acct.name, &lookup)),
    ];
    for name in PASSED_ON {
        if let Some(value) = lookup(name) {
            env.push((name.into(), value));
        }
    }
    for (name, value) in setenv {
        env.retain(|(k, _)| k != OsStr::new(name));
        env.push((name.into(), value.into()));
    }
    env
}

/// The user's profile, the directory of the `nix-store` root uses (hearth
/// runs the Nix tools, and must find the same ones), then the system's.
fn default_path(name: &str, lookup: impl Fn(&str) -> Option<OsString>) -> OsString {
    let mut dirs: Vec<PathBuf> = vec![Path::new("/etc/profiles/per-user").join(name).join("bin")];
    let nix_dir = lookup("PATH").and_then(|path| {
        std::env::split_paths(&path).find(|d| d.is_absolute() && d.join("nix-store").is_file())
    });
    if let Some(d) = nix_dir {
        if !SYSTEM_PATH.iter().any(|s| Path::new(s) == d) {
            dirs.push(d);
        }
    }
    dirs.extend(SYSTEM_PATH.iter().map(PathBuf::from));
    std::env::join_paths(dirs).unwrap_or_else(|_| SYSTEM_PATH.join(":").into())
}

/// `text` with the control characters of each line escaped, line by line
/// (so that it stays several lines), for what root shows of a user's.
pub fn escape_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        out.push_str(&report::escape(line));
        out.push('\n');
    }
    out
}

/// Activates `gen` for `name` in a child process, every line of its output
/// prefixed with `[name] ` and its control characters escaped. Refusals found
/// before the child starts, and a timeout, are printed the same way. Returns
/// how that user's activation ended.
pub fn activate_user(name: &str, gen: &Path, opts: &Options) -> Outcome {
    let (code, timed_out, json) = match run_child(name, gen, opts) {
        Ok((code, json)) => (code, None, json),
        Err(e) => {
            let timed_out = matches!(e, Error::TimedOut { .. }).then_some(opts.timeout);
            let text = format!("error: {e}");
            let prefix = format!("[{}] ", report::escape(name));
            for line in escape_lines(&text).lines() {
                show_err(Priority::Error, &prefix, line);
            }
            (e.exit_code(), timed_out, None)
        }
    };
    Outcome {
        name: name.to_string(),
        code,
        timed_out,
        json,
    }
}

fn run_child(name: &str, gen: &Path, opts: &Options) -> Result<(ExitCode, Option<String>), Error> {
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
        .arg(opts.lock_timeout.as_secs().to_string());
    match opts.verbosity {
        report::Verbosity::Quiet => {
            cmd.arg("--quiet");
        }
        report::Verbosity::Verbose => {
            cmd.arg("--verbose");
        }
        report::Verbosity::Normal => {}
    }
    cmd.arg(CHILD_COMMAND).arg(name).arg(&gen);
    // The child's stderr is a pipe to this process, so it cannot see the
    // journal itself; told, it prefixes each line with its priority (it
    // knows where a message starts and ends), which `show` moves before
    // the user's name.
    if term::stderr_is_journal() {
        cmd.arg(JOURNAL_FLAG);
    }
    if opts.dry_run {
        cmd.arg("--dry-run");
    }
    if opts.json {
        cmd.arg("--json");
    }
    if let Some(ext) = &opts.backup_ext {
        cmd.arg("--backup-ext").arg(ext);
    }
    if let Some(limit) = opts.step_timeout {
        cmd.arg("--step-timeout").arg(limit.as_secs().to_string());
    }
    // The environment is built from nothing at the spawn (not cleaned
    // afterwards), so that no variable of root's ever exists in a process
    // the user can read. The working directory is set by the child once it
    // is the user; until then it stays somewhere root owns. Its own process
    // group lets the timeout end it with everything it started.
    let child = cmd
        .env_clear()
        .envs(child_env(&acct, &opts.setenv, |k| std::env::var_os(k)))
        .current_dir("/")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Spawn {
            name: name.to_string(),
            exe: exe.clone(),
            source,
        })?;
    let prefix = format!("[{}] ", report::escape(name));
    match supervise(child, &prefix, opts.timeout, opts.json) {
        Ok((Ended::Exited(status), json)) => Ok((exit_code(status), json)),
        Ok((Ended::Killed, _)) => Err(Error::TimedOut {
            name: name.to_string(),
            secs: opts.timeout.as_secs(),
        }),
        Err(source) => Err(Error::Spawn {
            name: name.to_string(),
            exe,
            source,
        }),
    }
}

/// How often the child is checked while its pipes are quiet.
const TICK: Duration = Duration::from_millis(50);
/// How long, once the child has ended, its output is still awaited: a
/// process it left behind (a daemonized or stopped grandchild) may hold the
/// pipes open for ever, and must not hold root with them.
const DRAIN: Duration = Duration::from_secs(2);
/// How long a killed child may take to be reaped (a process in
/// uninterruptible sleep, on a dead network home, cannot die at once).
const REAP: Duration = Duration::from_secs(5);
/// The longest a line is let grow before it is shown anyway, so that a
/// user printing without newlines cannot fill root's memory.
const MAX_LINE: usize = 64 * 1024;

enum Ended {
    Exited(ExitStatus),
    /// Killed at the timeout.
    Killed,
}

/// The most of a child's JSON document root keeps (a user must not fill
/// root's memory); a longer one is cut and then fails to parse.
const MAX_DOC: usize = 64 * 1024 * 1024;

/// One of the child's pipes, read into whole lines.
struct Stream<R> {
    pipe: Option<R>,
    buf: Vec<u8>,
    to_stderr: bool,
    /// Keep everything instead of showing lines (the child's `--json` stdout).
    keep: bool,
}

impl<R: Read + AsRawFd> Stream<R> {
    fn new(pipe: Option<R>, to_stderr: bool, keep: bool) -> Self {
        Stream {
            pipe,
            buf: Vec::new(),
            to_stderr,
            keep,
        }
    }

    /// One read (the pipe was reported ready, so it does not block); the
    /// complete lines are shown. End of file or an error closes the pipe.
    fn read_once(&mut self, prefix: &str) {
        let Some(pipe) = self.pipe.as_mut() else {
            return;
        };
        let mut chunk = [0u8; 16 * 1024];
        match pipe.read(&mut chunk) {
            Ok(0) => self.close(prefix),
            Ok(n) if self.keep => {
                let room = MAX_DOC.saturating_sub(self.buf.len());
                self.buf.extend_from_slice(&chunk[..n.min(room)]);
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                while let Some(end) = self.buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = self.buf.drain(..=end).collect();
                    show(&line[..end], prefix, self.to_stderr);
                }
                if self.buf.len() >= MAX_LINE {
                    let line = std::mem::take(&mut self.buf);
                    show(&line, prefix, self.to_stderr);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => self.close(prefix),
        }
    }

    /// Shows what is left of a last line and stops reading (dropping the
    /// pipe closes root's end of it).
    fn close(&mut self, prefix: &str) {
        if !self.buf.is_empty() && !self.keep {
            let line = std::mem::take(&mut self.buf);
            show(&line, prefix, self.to_stderr);
        }
        self.pipe = None;
    }
}

/// Waits for the child, showing its output as it comes, for at most
/// `timeout`; then kills its process group (SIGKILL ends a stopped process
/// too). One thread polls both pipes and the child, so that nothing the
/// child leaves behind can keep root waiting: after the child is gone, its
/// pipes are read for at most `DRAIN`.
fn supervise(
    mut child: Child,
    prefix: &str,
    timeout: Duration,
    json: bool,
) -> io::Result<(Ended, Option<String>)> {
    let mut out = Stream::new(child.stdout.take(), false, json);
    let mut err = Stream::new(child.stderr.take(), true, false);
    let deadline = Instant::now() + timeout;
    let mut killed_at: Option<Instant> = None;
    let mut ended: Option<(Instant, Option<ExitStatus>)> = None;
    loop {
        let now = Instant::now();
        if ended.is_none() {
            // Reaped only here, so the group is still ours when it is killed.
            if let Some(status) = child.try_wait()? {
                ended = Some((now, Some(status)));
            } else if let Some(at) = killed_at {
                if now >= at + REAP {
                    ended = Some((now, None));
                }
            } else if now >= deadline {
                kill_group(&child);
                killed_at = Some(now);
                continue;
            }
        }
        if let Some((at, _)) = ended {
            if (out.pipe.is_none() && err.pipe.is_none()) || now >= at + DRAIN {
                break;
            }
        }
        wait_readable(&mut out, &mut err, prefix, TICK);
    }
    out.close(prefix);
    err.close(prefix);
    let doc = json.then(|| String::from_utf8_lossy(&out.buf).into_owned());
    let ended = match (killed_at, ended) {
        (None, Some((_, Some(status)))) => Ended::Exited(status),
        _ => Ended::Killed,
    };
    Ok((ended, doc))
}

fn kill_group(child: &Child) {
    use nix::sys::signal::{killpg, Signal};
    use nix::unistd::Pid;
    let Ok(pid) = i32::try_from(child.id()) else {
        return;
    };
    // The child leads its group (process_group(0)); it is not reaped yet, so
    // the group id cannot have been reused. Fails only if it is already gone.
    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
}

/// Waits up to `tick` for output on the open pipes and reads what came.
#[allow(
    unsafe_code,
    reason = "poll(2) of the children's pipes, which nix 0.29 wraps only with borrowed fds"
)]
fn wait_readable<A, B>(out: &mut Stream<A>, err: &mut Stream<B>, prefix: &str, tick: Duration)
where
    A: Read + AsRawFd,
    B: Read + AsRawFd,
{
    let fds: Vec<i32> = [
        out.pipe.as_ref().map(AsRawFd::as_raw_fd),
        err.pipe.as_ref().map(AsRawFd::as_raw_fd),
    ]
    .into_iter()
    .flatten()
    .collect();
    if fds.is_empty() {
        std::thread::sleep(tick);
        return;
    }
    let mut polled: Vec<nix::libc::pollfd> = fds
        .iter()
        .map(|fd| nix::libc::pollfd {
            fd: *fd,
            events: nix::libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = i32::try_from(tick.as_millis()).unwrap_or(50);
    // SAFETY: `polled` is a live, correctly sized array of pollfd for the
    // call's duration, and its descriptors stay open (owned by the streams).
    let n = unsafe {
        nix::libc::poll(
            polled.as_mut_ptr(),
            nix::libc::nfds_t::try_from(polled.len()).unwrap_or(0),
            ms,
        )
    };
    if n <= 0 {
        // Timeout, or EINTR: the loop looks at the child again.
        return;
    }
    for p in polled.iter().filter(|p| p.revents != 0) {
        if out.pipe.as_ref().is_some_and(|r| r.as_raw_fd() == p.fd) {
            out.read_once(prefix);
        } else if err.pipe.as_ref().is_some_and(|r| r.as_raw_fd() == p.fd) {
            err.read_once(prefix);
        }
    }
}

/// The child's status, as one of hearth's (a hearth child only exits with
/// those; anything else, such as a panic's 101, is an error).
fn exit_code(status: ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => u8::try_from(c).map_or(ExitCode::Error, ExitCode::from_code),
        (None, Some(sig)) => u8::try_from(sig).map_or(ExitCode::Error, ExitCode::Killed),
        _ => ExitCode::Error,
    }
}

/// Shows one line of the child's, whole (under the lock, so that lines of
/// stdout and stderr do not interleave mid-line), prefixed, its control
/// characters escaped: nothing the user prints can move root's cursor or
/// rewrite what root saw.
fn show(line: &[u8], prefix: &str, to_stderr: bool) {
    let text = String::from_utf8_lossy(line);
    if to_stderr {
        // The child's priority (it was told, see `JOURNAL_FLAG`), or, for
        // a line without one (a panic's), the line's own words.
        let (priority, rest) = term::stderr_is_journal()
            .then(|| Priority::strip(&text))
            .flatten()
            .unwrap_or((Priority::of(&text), &text));
        show_err(priority, prefix, &report::escape(rest));
        return;
    }
    let text = format!("{prefix}{}\n", report::escape(&text));
    // A closed stdout (the parent's reader gone) is not the user's failure:
    // the child's status decides.
    let mut w = io::stdout().lock();
    let _ = w.write_all(text.as_bytes()).and_then(|()| w.flush());
}

/// One line of a user's on root's stderr, already escaped: prefixed with
/// the user's name and, when stderr is the journal, first with the line's
/// priority (so that an `error:` of a user's stays an error there).
fn show_err(priority: Priority, prefix: &str, line: &str) {
    let text = if term::stderr_is_journal() {
        term::for_journal(&format!("{prefix}{line}\n"), priority)
    } else {
        format!("{prefix}{line}\n")
    };
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

/// What an activation's outcome means, for the summary (see `main.rs`).
pub fn describe(o: &Outcome, dry_run: bool) -> String {
    if let Some(t) = o.timed_out {
        return format!("timed out after {} s, killed", t.as_secs());
    }
    o.code.outcome(dry_run).to_string()
}

/// The summary printed after all users: one line per user, and the failed.
/// Names are escaped like everything else root shows.
pub fn summary(outcomes: &[Outcome], dry_run: bool) -> String {
    let names: Vec<String> = outcomes
        .iter()
        .map(|o| report::escape(&o.name).into_owned())
        .collect();
    let width = names.iter().map(String::len).max().unwrap_or(0);
    let mut text = format!(
        "hearth: {} user{}:\n",
        outcomes.len(),
        if outcomes.len() == 1 { "" } else { "s" }
    );
    for (o, name) in outcomes.iter().zip(&names) {
        let what = describe(o, dry_run);
        if o.code.is_success() {
            let _ = writeln!(text, "  {name:<width$}  {what}");
        } else {
            let _ = writeln!(text, "  {name:<width$}  {what} (exit {})", o.code.code());
        }
    }
    let failed: Vec<&str> = outcomes
        .iter()
        .zip(&names)
        .filter(|(o, _)| !o.code.is_success())
        .map(|(_, n)| n.as_str())
        .collect();
    if failed.is_empty() {
        text.push_str("hearth: all users succeeded\n");
    } else {
        let _ = writeln!(
            text,
            "hearth: the activation failed for {} of {}: {}",
            failed.len(),
            outcomes.len(),
            failed.join(", ")
        );
    }
    let timed_out: Vec<&str> = outcomes
        .iter()
        .zip(&names)
        .filter(|(o, _)| o.timed_out.is_some())
        .map(|(_, n)| n.as_str())
        .collect();
    if !timed_out.is_empty() {
        let _ = writeln!(
            text,
            "hearth: timed out: {} (the next activation reverts or completes a switch cut short)",
            timed_out.join(", ")
        );
    }
    text
}

/// The priority of each line of `summary`'s text: a user who failed, the
/// line naming the failed and the one naming the timed out are errors.
pub fn summary_priorities(outcomes: &[Outcome]) -> Vec<Priority> {
    let failed = |o: &Outcome| {
        if o.code.is_success() {
            Priority::Info
        } else {
            Priority::Error
        }
    };
    let mut lines = vec![Priority::Info];
    lines.extend(outcomes.iter().map(failed));
    lines.push(
        outcomes
            .iter()
            .map(failed)
            .find(|p| *p == Priority::Error)
            .unwrap_or(Priority::Info),
    );
    if outcomes.iter().any(|o| o.timed_out.is_some()) {
        lines.push(Priority::Error);
    }
    lines
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

    fn outcome(name: &str, code: u8) -> Outcome {
        Outcome {
            name: name.into(),
            code: ExitCode::from_code(code),
            timed_out: None,
            json: None,
        }
    }

    #[test]
    fn summary_names_the_failed() {
        let o = outcome;
        let text = summary(&[o("alice", 0), o("bob", 3), o("carol", 0)], false);
        assert_eq!(
            text,
            "hearth: 3 users:\n  alice  activated\n  bob    failed: conflicts, nothing changed (exit 3)\n  carol  activated\nhearth: the activation failed for 1 of 3: bob\n"
        );
    }

    #[test]
    fn the_summary_has_a_priority_per_line() {
        let mut slow = outcome("bob", 1);
        slow.timed_out = Some(Duration::from_secs(300));
        for outcomes in [
            vec![outcome("alice", 0)],
            vec![outcome("alice", 0), outcome("carol", 3)],
            vec![outcome("alice", 0), slow],
        ] {
            let text = summary(&outcomes, false);
            let priorities = summary_priorities(&outcomes);
            assert_eq!(priorities.len(), text.lines().count(), "{text}");
            for (line, p) in text.lines().zip(priorities) {
                let failed = line.contains("(exit ")
                    || line.contains("failed for")
                    || line.contains("timed out:");
                assert_eq!(p == Priority::Error, failed, "{line}");
            }
        }
    }

    #[test]
    fn summary_names_the_timed_out_and_escapes_names() {
        let mut slow = outcome("bob", 1);
        slow.timed_out = Some(Duration::from_secs(300));
        let text = summary(&[outcome("al\x1b[2Jice", 0), slow], false);
        assert!(!text.contains('\x1b'), "{text:?}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn timeouts() {
        let secs = |raw| parse_timeout(raw).map(|d| d.as_secs()).ok();
        assert_eq!(secs("300"), Some(300));
        assert_eq!(secs("90s"), Some(90));
        assert_eq!(secs("5m"), Some(300));
        assert_eq!(secs("1h"), Some(3600));
        assert_eq!(secs(" 7 "), Some(7));
        assert_eq!(secs("1h30m"), Some(5400));
        assert_eq!(secs("5d"), Some(5 * 86_400));
        for bad in [
            "0",
            "0s",
            "500ms",
            "",
            "s",
            "-1",
            "1.5",
            "99999999999999999999",
            "18446744073709551615h",
        ] {
            assert_eq!(secs(bad), None, "{bad:?}");
        }
        let errs: Vec<String> = ["0", "5x", "99999999999999999999", "soon"]
            .iter()
            .map(|raw| {
                parse_timeout(raw)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default()
            })
            .collect();
        insta::assert_snapshot!(errs.join("\n---\n"));
    }

    #[test]
    fn setenv_pairs() {
        assert_eq!(
            parse_setenv("SSL_CERT_FILE=/etc/ssl/certs/ca.pem").unwrap(),
            (
                "SSL_CERT_FILE".to_string(),
                "/etc/ssl/certs/ca.pem".to_string()
            )
        );
        assert_eq!(
            parse_setenv("EMPTY=").unwrap(),
            ("EMPTY".to_string(), String::new())
        );
        assert_eq!(parse_setenv("A=b=c").unwrap().1, "b=c");
        let errs: Vec<String> = [
            "NOVALUE",
            "=x",
            "1A=x",
            "A-B=x",
            "HOME=/tmp",
            "SHELL=/bin/sh",
            "XDG_STATE_HOME=/tmp",
        ]
        .iter()
        .map(|raw| {
            parse_setenv(raw)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        })
        .collect();
        insta::assert_snapshot!(errs.join("\n"));
    }

    #[test]
    fn the_child_environment_is_built_from_nothing() {
        let acct = Account {
            name: "alice".into(),
            uid: Uid::from_raw(1000),
            gid: Gid::from_raw(1000),
            home: "/home/alice".into(),
            shell: "/bin/zsh".into(),
        };
        let root = |k: &str| match k {
            "AWS_SECRET_ACCESS_KEY" => Some(OsString::from("s3cret")),
            "LANG" => Some("C.UTF-8".into()),
            "PATH" => Some("/root/bin:/usr/bin".into()),
            "XDG_STATE_HOME" => Some("/root/.local/state".into()),
            _ => None,
        };
        let setenv = vec![
            ("LANG".to_string(), "de_DE.UTF-8".to_string()),
            ("EXTRA".to_string(), "1".to_string()),
        ];
        let env: Vec<(String, String)> = child_env(&acct, &setenv, root)
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect();
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["HOME", "USER", "LOGNAME", "SHELL", "PATH", "LANG", "EXTRA"]
        );
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("HOME"), Some("/home/alice"));
        assert_eq!(get("SHELL"), Some("/bin/zsh"));
        assert_eq!(get("LANG"), Some("de_DE.UTF-8"));
        let path = get("PATH").unwrap_or_default();
        assert!(
            path.starts_with("/etc/profiles/per-user/alice/bin:"),
            "{path}"
        );
        assert!(!path.contains("/root"), "{path}");
    }

    #[test]
    fn lines_are_escaped_one_by_one() {
        assert_eq!(escape_lines("a\x1b[Kb\nc\rd\n"), "a\\u{1b}[Kb\nc\\rd\n");
    }

    /// `sh -c script` in a process group of its own with piped output, as
    /// root mode starts a user's child.
    fn sh_in_own_group(script: &str) -> Child {
        Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// A process the child leaves behind holding its stdout (here in a
    /// session of its own, so that even the group kill misses it) must not
    /// keep root reading: once the child has exited, the pipes are given up
    /// after `DRAIN`.
    #[test]
    fn a_grandchild_holding_the_pipe_does_not_hold_the_supervisor() {
        let pidfile = std::env::temp_dir().join(format!("hearth-drain-{}", std::process::id()));
        let child = sh_in_own_group(&format!(
            "setsid sh -c 'echo $$ > {}; exec sleep 60' & echo started",
            pidfile.display()
        ));
        let start = Instant::now();
        let (ended, _) = supervise(child, "[t] ", Duration::from_secs(60), false).unwrap();
        let took = start.elapsed();
        let leftover = std::fs::read_to_string(&pidfile).unwrap_or_default();
        if let Ok(pid) = leftover.trim().parse::<i32>() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = std::fs::remove_file(&pidfile);
        assert!(matches!(ended, Ended::Exited(s) if s.success()));
        assert!(took < DRAIN + Duration::from_secs(2), "took {took:?}");
        assert!(!leftover.is_empty(), "the grandchild did not start");
    }

    /// A stopped child is killed at the timeout, with its group.
    #[test]
    fn a_stopped_child_is_killed_at_the_timeout() {
        let pidfile = std::env::temp_dir().join(format!("hearth-stop-{}", std::process::id()));
        let child = sh_in_own_group(&format!(
            "sleep 60 & echo $! > {}; kill -STOP $$; wait",
            pidfile.display()
        ));
        let start = Instant::now();
        let (ended, _) = supervise(child, "[t] ", Duration::from_secs(1), false).unwrap();
        let took = start.elapsed();
        assert!(matches!(ended, Ended::Killed));
        assert!(
            took >= Duration::from_secs(1) && took < Duration::from_secs(4),
            "took {took:?}"
        );
        // The sleep in its group went with it: gone, or a zombie waiting
        // for whoever inherited it.
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        let _ = std::fs::remove_file(&pidfile);
        let dead = (0..40).any(|_| {
            let proc_stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()));
            let zombie = proc_stat.as_deref().is_ok_and(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
            });
            if proc_stat.is_err() || zombie {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
            false
        });
        assert!(
            dead,
            "the sleep {} outlived the kill of its group",
            pid.trim()
        );
    }
}
