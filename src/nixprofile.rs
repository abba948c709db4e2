//! Nix profile and GC-root operations, done by the Nix tools themselves
//! (nix-store, nix-env) so that hearth never writes into the store's metadata.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

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
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Failed {
            command,
            status: out.status.to_string(),
            output: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            path: path.to_path_buf(),
        })
    }
}

/// Whether `path` lives in the Nix store (only such paths can be GC roots or
/// profile generations).
pub fn in_store(path: &Path) -> bool {
    path.starts_with(store_dir())
}

pub fn store_dir() -> PathBuf {
    std::env::var_os("NIX_STORE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/nix/store"))
}

/// A GC root being registered by a `nix-store` child, so that the tens of
/// milliseconds it takes overlap with applying the files.
pub struct PendingRoot {
    handle: duct::Handle,
    command: String,
    gen: PathBuf,
}

/// Starts making `root` a GC root for `gen` (an indirect root registered with Nix).
pub fn start_gc_root(root: &Path, gen: &Path) -> Result<PendingRoot, Error> {
    if let Some(parent) = root.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.to_path_buf(),
            source,
        })?;
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
    Ok(PendingRoot {
        handle,
        command,
        gen: gen.to_path_buf(),
    })
}

impl PendingRoot {
    pub fn wait(self) -> Result<(), Error> {
        let out = self.handle.wait().map_err(|source| Error::Spawn {
            command: self.command.clone(),
            source,
        })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Error::Failed {
                command: self.command,
                status: out.status.to_string(),
                output: String::from_utf8_lossy(&out.stdout).trim().to_string(),
                path: self.gen,
            })
        }
    }
}

pub fn remove_gc_root(root: &Path) -> Result<(), Error> {
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
