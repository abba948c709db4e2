//! Nix profile and GC-root operations, done by the Nix tools themselves
//! (nix-store, nix-env) so that hearth never writes into the store's metadata.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use sha2::Digest;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{command}` failed ({status}): {output}\nhint: is Nix installed and is {path} still in the store?")]
    Failed {
        command: String,
        status: String,
        output: String,
        path: PathBuf,
    },
    #[error("cannot run `{command}`: {source}\nhint: hearth needs nix-store and nix-env on PATH")]
    Spawn { command: String, source: io::Error },
    #[error("cannot update {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn run(
    program: &str,
    args: &[&std::ffi::OsStr],
    env: &[(&str, OsString)],
    path: &Path,
) -> Result<(), Error> {
    let command = format!(
        "{program} {}",
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let cmd = env
        .iter()
        .fold(duct::cmd(program, args), |cmd, (k, v)| cmd.env(k, v));
    let out = cmd
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()
        .map_err(|source| Error::Spawn {
            command: command.clone(),
            source,
        })?;
    outcome(command, &out, path)
}

/// A finished Nix command: success, or its status and output as the error.
fn outcome(command: String, out: &std::process::Output, path: &Path) -> Result<(), Error> {
    if out.status.success() {
        return Ok(());
    }
    Err(Error::Failed {
        command,
        status: out.status.to_string(),
        output: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        path: path.to_path_buf(),
    })
}

/// Whether `path` lives in the Nix store (only such paths can be GC roots or
/// profile generations).
pub fn in_store(path: &Path) -> bool {
    path.starts_with(store_dir())
}

pub fn store_dir() -> PathBuf {
    std::env::var_os("NIX_STORE_DIR").map_or_else(|| PathBuf::from("/nix/store"), PathBuf::from)
}

pub fn state_dir() -> PathBuf {
    std::env::var_os("NIX_STATE_DIR").map_or_else(|| PathBuf::from("/nix/var/nix"), PathBuf::from)
}

/// Where hearth links its roots from, so that Nix's collector finds them:
/// the user's own directory of GC roots, which Nix scans like `auto/`.
pub fn per_user_link(root: &Path, user: &str) -> PathBuf {
    use std::fmt::Write as _;
    let digest = sha2::Sha256::digest(root.as_os_str().as_encoded_bytes());
    let name = digest[..16]
        .iter()
        .fold(String::with_capacity(32), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        });
    state_dir()
        .join("gcroots/per-user")
        .join(user)
        .join(format!("hearth-{name}"))
}

/// Replaces whatever is at `at` with a symlink to `target`, atomically;
/// a link already holding `target` is left as it is. Replacing it would
/// free the old link's block, which on a filesystem mounted with
/// `discard` waits for the device (0.36 ms on the benchmark's machine).
fn put_link(target: &Path, at: &Path) -> io::Result<()> {
    if std::fs::read_link(at).is_ok_and(|held| held == target) {
        return Ok(());
    }
    let tmp = at.with_file_name(format!(
        ".{}.hearth-tmp-{}",
        at.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, at).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// A GC root on its way: made directly, or by a `nix-store` child whose
/// tens of milliseconds overlap with applying the files.
pub enum PendingRoot {
    Done,
    Child {
        handle: Box<duct::Handle>,
        command: String,
        gen: PathBuf,
    },
}

/// Makes `root` (in hearth's state) an indirect GC root for `gen`. Where the
/// user may write to their per-user GC-roots directory (single-user Nix, or
/// root), hearth links it from there itself, as `nix-store --add-root
/// --indirect` does from `auto/`; otherwise (a Nix daemon owns the
/// directories) it asks `nix-store`.
pub fn start_gc_root(root: &Path, gen: &Path, user: &str) -> Result<PendingRoot, Error> {
    if let Some(parent) = root.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let link = per_user_link(root, user);
    let direct = link
        .parent()
        .map_or(
            Err(io::ErrorKind::NotFound.into()),
            |dir| match std::fs::create_dir(dir) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
                _ => Ok(()),
            },
        )
        .and_then(|()| put_link(gen, root))
        .and_then(|()| put_link(root, &link));
    if direct.is_ok() {
        return Ok(PendingRoot::Done);
    }
    let command = format!(
        "nix-store --add-root {} --indirect --realise {}",
        root.display(),
        gen.display()
    );
    let handle = duct::cmd!(
        "nix-store",
        "--add-root",
        root,
        "--indirect",
        "--realise",
        gen
    )
    .stdin_null()
    .stderr_to_stdout()
    .stdout_capture()
    .unchecked()
    .start()
    .map_err(|source| Error::Spawn {
        command: command.clone(),
        source,
    })?;
    Ok(PendingRoot::Child {
        handle: Box::new(handle),
        command,
        gen: gen.to_path_buf(),
    })
}

impl PendingRoot {
    pub fn wait(self) -> Result<(), Error> {
        let PendingRoot::Child {
            handle,
            command,
            gen,
        } = self
        else {
            return Ok(());
        };
        let out = handle.wait().map_err(|source| Error::Spawn {
            command: command.clone(),
            source,
        })?;
        outcome(command, out, &gen)
    }
}

/// Drops the root and, if hearth made it, its link from the per-user
/// directory (a dangling one would be harmless, but is litter).
pub fn remove_gc_root(root: &Path, user: &str) -> Result<(), Error> {
    let _ = std::fs::remove_file(per_user_link(root, user));
    match std::fs::remove_file(root) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            path: root.to_path_buf(),
            source,
        }),
    }
}

/// What a profile symlink points at now (`P-N-link`), if it exists.
pub fn profile_link(profile: &Path) -> Option<PathBuf> {
    std::fs::read_link(profile).ok()
}

/// Whether the profile already resolves to `path`.
pub fn profile_is(profile: &Path, path: &Path) -> bool {
    std::fs::canonicalize(profile).is_ok_and(|p| p == path)
}

/// Points the profile at `path` with a new profile generation.
pub fn set_profile(profile: &Path, path: &Path) -> Result<(), Error> {
    if let Some(parent) = profile.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    run(
        "nix-env",
        &[
            "--profile".as_ref(),
            profile.as_os_str(),
            "--set".as_ref(),
            path.as_os_str(),
        ],
        &nix_env_outside_home(),
        path,
    )
}

/// Deletes generations `numbers` of the profile (`nix-env
/// --delete-generations`, which refuses to delete the current one).
pub fn delete_profile_generations(profile: &Path, numbers: &[u64]) -> Result<(), Error> {
    let numbers: Vec<String> = numbers.iter().map(u64::to_string).collect();
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "--profile".as_ref(),
        profile.as_os_str(),
        "--delete-generations".as_ref(),
    ];
    args.extend(numbers.iter().map(std::ffi::OsStr::new));
    run("nix-env", &args, &nix_env_outside_home(), profile)
}

/// nix-env creates `$HOME/.nix-defexpr` whenever it is missing, whatever
/// the operation; hearth must not write into the home beyond its plan. So
/// nix-env gets a HOME below which nothing can be created (/dev/null is not
/// a directory), and still reads the user's Nix configuration.
fn nix_env_outside_home() -> Vec<(&'static str, OsString)> {
    let mut env = vec![("HOME", OsString::from("/dev/null"))];
    if std::env::var_os("XDG_CONFIG_HOME").is_none() {
        if let Some(home) = std::env::var_os("HOME") {
            env.push(("XDG_CONFIG_HOME", Path::new(&home).join(".config").into()));
        }
    }
    env
}

/// Puts the profile symlink back to an earlier `P-N-link` (or removes it
/// when there was none), as `nix-env --switch-generation` would.
pub fn restore_profile(profile: &Path, link: Option<&Path>) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: profile.to_path_buf(),
        source,
    };
    match link {
        None => std::fs::remove_file(profile).map_err(io),
        Some(link) => {
            let tmp = profile.with_extension("hearth-restore");
            let _ = std::fs::remove_file(&tmp);
            std::os::unix::fs::symlink(link, &tmp).map_err(io)?;
            std::fs::rename(&tmp, profile).map_err(io)
        }
    }
}
