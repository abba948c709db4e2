//! Applying a plan: the only module that changes a home. Every change is one
//! atomic filesystem operation listed in a journal written before the first
//! of them, so that a failure, or a kill at any point, can be undone exactly.
//! Undo works by inspection (is the change there?), so the same code reverts
//! an in-process failure and an interrupted run found later.

use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fault;
use crate::manifest::RelPath;
use crate::observe;
use crate::plan::{Action, Desired, Plan, Prev, Recorded};

/// One recorded change, with the names it uses, fixed before anything is written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Op {
    /// Remove an owned path: a symlink is unlinked (undo recreates it), a copy
    /// is renamed to `trash` (undo renames it back; commit deletes it).
    Remove {
        path: RelPath,
        was: Recorded,
        trash: RelPath,
    },
    RemoveDir {
        path: RelPath,
        required: bool,
        /// Its permission bits when the journal was written, so that undo
        /// recreates it exactly (a user may have made ~/.ssh 0700).
        #[serde(default)]
        mode: Option<u32>,
    },
    /// Rename aside without replacing anything: a backup, or (discard) a
    /// trash name deleted at commit.
    MoveAside {
        path: RelPath,
        to: RelPath,
        discard: bool,
    },
    Mkdir {
        path: RelPath,
    },
    Put {
        path: RelPath,
        want: Desired,
        prev: Prev,
        tmp: RelPath,
        /// A hard link to the owned copy being replaced, kept until commit.
        stash: RelPath,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Journal {
    pub txid: String,
    pub home: PathBuf,
    pub generation: PathBuf,
    pub ops: Vec<Op>,
    /// The packages profile and the link it had before, when it changes.
    #[serde(default)]
    pub profile: Option<(PathBuf, Option<PathBuf>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} {path}: {source}")]
    Op {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn op_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Op {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// A random transaction id; it also makes temporary names unpredictable.
pub fn new_txid() -> String {
    let mut buf = [0u8; 8];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| io::Read::read_exact(&mut f, &mut buf))
        .is_ok();
    if !ok {
        // Only uniqueness matters for correctness; names are created exclusively.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        buf = ((t as u64) ^ (std::process::id() as u64).rotate_left(32)).to_le_bytes();
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn sibling(path: &RelPath, txid: &str, n: usize, tag: &str) -> RelPath {
    let name = format!(".hearth-{txid}-{n}.{tag}");
    match path.parent() {
        Some(p) => p.with_suffix(&format!("/{name}")),
        None => RelPath::parse(&name).unwrap_or_else(|_| path.clone()),
    }
}

impl Journal {
    /// Whether a power cut during this activation, with the journal lost,
    /// could leave something that cannot be put right: only creations into
    /// empty places (a first activation, typically) cannot. What they leave
    /// is then what the generation wants, which a later activation adopts.
    pub fn needs_flush(&self) -> bool {
        self.profile.is_some()
            || self.ops.iter().any(|op| {
                !matches!(
                    op,
                    Op::Mkdir { .. }
                        | Op::Put {
                            prev: Prev::Missing,
                            ..
                        }
                )
            })
    }
}

/// Turns a checked plan (backup names assigned) into journal operations.
pub fn journal(plan: &Plan, txid: &str, home: &Path, generation: &Path) -> Journal {
    let ops = plan
        .actions
        .iter()
        .enumerate()
        .filter_map(|(n, a)| match a {
            Action::Remove { path, was } => Some(Op::Remove {
                path: path.clone(),
                was: was.clone(),
                trash: sibling(path, txid, n, "trash"),
            }),
            Action::RemoveDir { path, required } => Some(Op::RemoveDir {
                path: path.clone(),
                required: *required,
                mode: std::fs::symlink_metadata(path.in_home(home))
                    .ok()
                    .filter(std::fs::Metadata::is_dir)
                    .map(|m| m.permissions().mode() & 0o7777),
            }),
            Action::Backup { path, to } => to.as_ref().map(|to| Op::MoveAside {
                path: path.clone(),
                to: to.clone(),
                discard: false,
            }),
            Action::Discard { path, .. } => Some(Op::MoveAside {
                path: path.clone(),
                to: sibling(path, txid, n, "trash"),
                discard: true,
            }),
            Action::Mkdir { path } => Some(Op::Mkdir { path: path.clone() }),
            Action::Put {
                path, want, prev, ..
            } => Some(Op::Put {
                path: path.clone(),
                want: want.clone(),
                prev: prev.clone(),
                tmp: sibling(path, txid, n, "tmp"),
                stash: sibling(path, txid, n, "stash"),
            }),
        })
        .collect();
    Journal {
        txid: txid.to_string(),
        home: home.to_path_buf(),
        generation: generation.to_path_buf(),
        ops,
        profile: None,
    }
}

/// What applying left for the caller to know.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Directories that were to be removed if empty but were not empty.
    pub dirs_left: Vec<RelPath>,
}

/// Applies the journal's operations in order. On failure everything done so
/// far is undone before returning the error; the error says whether that
/// undo succeeded.
pub fn run(j: &Journal) -> Result<Outcome, Failed> {
    let mut out = Outcome::default();
    for (i, op) in j.ops.iter().enumerate() {
        if let Err(error) = forward(&j.home, op, &mut out) {
            let undo = revert(&j.home, &j.ops[..=i]);
            return Err(Failed { error, undo });
        }
    }
    Ok(out)
}

#[derive(Debug)]
pub struct Failed {
    pub error: Error,
    /// Problems met while undoing; empty when the home is exactly as before.
    pub undo: Vec<Error>,
}

fn forward(home: &Path, op: &Op, out: &mut Outcome) -> Result<(), Error> {
    match op {
        Op::Remove { path, was, trash } => {
            let p = path.in_home(home);
            fault::write_point().map_err(op_err("remove", &p))?;
            match was {
                Recorded::Symlink { .. } => std::fs::remove_file(&p).map_err(op_err("remove", &p)),
                Recorded::Copy { .. } => {
                    rename_noreplace(&p, &trash.in_home(home)).map_err(op_err("remove", &p))
                }
            }
        }
        Op::RemoveDir { path, required, .. } => {
            let p = path.in_home(home);
            fault::write_point().map_err(op_err("remove directory", &p))?;
            match std::fs::remove_dir(&p) {
                Ok(()) => Ok(()),
                Err(e) if !required && is_not_empty(&e) => {
                    out.dirs_left.push(path.clone());
                    Ok(())
                }
                Err(e) if !required && e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(op_err("remove directory", &p)(e)),
            }
        }
        Op::MoveAside { path, to, .. } => {
            let p = path.in_home(home);
            fault::write_point().map_err(op_err("move aside", &p))?;
            rename_noreplace(&p, &to.in_home(home)).map_err(op_err("move aside", &p))
        }
        Op::Mkdir { path } => {
            let p = path.in_home(home);
            fault::write_point().map_err(op_err("create directory", &p))?;
            std::fs::DirBuilder::new()
                .mode(0o755)
                .create(&p)
                .map_err(op_err("create directory", &p))
        }
        Op::Put {
            path,
            want,
            prev,
            tmp,
            stash,
        } => {
            let p = path.in_home(home);
            let t = tmp.in_home(home);
            if *prev == Prev::File {
                fault::write_point().map_err(op_err("keep a copy of", &p))?;
                std::fs::hard_link(&p, stash.in_home(home))
                    .map_err(op_err("keep a copy of", &p))?;
            }
            fault::write_point().map_err(op_err("create", &t))?;
            create(want, &t).map_err(op_err("create", &t))?;
            fault::write_point().map_err(op_err("rename into place", &p))?;
            std::fs::rename(&t, &p).map_err(op_err("rename into place", &p))
        }
    }
}

fn create(want: &Desired, at: &Path) -> io::Result<()> {
    match want {
        Desired::Symlink { target } => std::os::unix::fs::symlink(target, at),
        Desired::Copy { source, mode, .. } => {
            let mut src = std::fs::File::open(source)?;
            // Created exclusively and private; the mode is set once it is complete.
            let mut dst = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(at)?;
            io::copy(&mut src, &mut dst)?;
            dst.flush()?;
            dst.set_permissions(std::fs::Permissions::from_mode(*mode))
        }
    }
}

fn is_not_empty(e: &io::Error) -> bool {
    e.raw_os_error() == Some(nix::libc::ENOTEMPTY) || e.raw_os_error() == Some(nix::libc::EEXIST)
}

/// Renames without ever replacing what is at `to`.
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use nix::fcntl::{renameat2, RenameFlags};
        renameat2(None, from, None, to, RenameFlags::RENAME_NOREPLACE).map_err(io::Error::from)
    }
    #[cfg(not(target_os = "linux"))]
    {
        if std::fs::symlink_metadata(to).is_ok() {
            return Err(io::Error::from(io::ErrorKind::AlreadyExists));
        }
        std::fs::rename(from, to)
    }
}

/// Undoes `ops` (in reverse), each only as far as it is found done. Returns
/// what could not be undone; empty means the home is as before.
pub fn revert(home: &Path, ops: &[Op]) -> Vec<Error> {
    let mut problems = Vec::new();
    for op in ops.iter().rev() {
        if let Err(e) = undo(home, op) {
            problems.push(e);
        }
    }
    problems
}

fn lexists(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

fn holds(p: &Path, want: &Desired) -> bool {
    match want {
        Desired::Symlink { target } => {
            std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
                && std::fs::read_link(p).is_ok_and(|t| t == *target)
        }
        Desired::Copy { sha256, .. } => {
            std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file())
                && observe::sha256_file(p).is_ok_and(|h| h == *sha256)
        }
    }
}

fn undo(home: &Path, op: &Op) -> Result<(), Error> {
    match op {
        Op::Remove { path, was, trash } => {
            let p = path.in_home(home);
            if lexists(&p) {
                return Ok(());
            }
            match was {
                Recorded::Symlink { target } => {
                    std::os::unix::fs::symlink(target, &p).map_err(op_err("restore", &p))
                }
                Recorded::Copy { .. } => {
                    let t = trash.in_home(home);
                    if lexists(&t) {
                        rename_noreplace(&t, &p).map_err(op_err("restore", &p))
                    } else {
                        Ok(())
                    }
                }
            }
        }
        Op::RemoveDir { path, mode, .. } => {
            let p = path.in_home(home);
            if lexists(&p) {
                return Ok(());
            }
            std::fs::DirBuilder::new()
                .mode(0o755)
                .create(&p)
                .map_err(op_err("restore directory", &p))?;
            match mode {
                // Explicitly: the mode given to mkdir is subject to the umask.
                Some(mode) => std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode))
                    .map_err(op_err("restore directory", &p)),
                None => Ok(()),
            }
        }
        Op::MoveAside { path, to, .. } => {
            let p = path.in_home(home);
            let t = to.in_home(home);
            if lexists(&t) && !lexists(&p) {
                rename_noreplace(&t, &p).map_err(op_err("move back", &p))
            } else {
                Ok(())
            }
        }
        Op::Mkdir { path } => {
            let p = path.in_home(home);
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => match std::fs::remove_dir(&p) {
                    Ok(()) => Ok(()),
                    // Something else put files there since; keep them.
                    Err(e) if is_not_empty(&e) => Ok(()),
                    Err(e) => Err(op_err("remove directory", &p)(e)),
                },
                _ => Ok(()),
            }
        }
        Op::Put {
            path,
            want,
            prev,
            tmp,
            stash,
        } => {
            let p = path.in_home(home);
            let t = tmp.in_home(home);
            let s = stash.in_home(home);
            if lexists(&t) {
                std::fs::remove_file(&t).map_err(op_err("remove", &t))?;
            }
            if holds(&p, want) {
                match prev {
                    Prev::Missing => std::fs::remove_file(&p).map_err(op_err("remove", &p))?,
                    Prev::Symlink { target } => {
                        std::os::unix::fs::symlink(target, &t).map_err(op_err("restore", &p))?;
                        std::fs::rename(&t, &p).map_err(op_err("restore", &p))?;
                    }
                    Prev::File => {
                        if lexists(&s) {
                            std::fs::rename(&s, &p).map_err(op_err("restore", &p))?;
                        }
                    }
                }
            } else if *prev == Prev::File && lexists(&s) {
                // Linked aside but never replaced: the original is still in place.
                std::fs::remove_file(&s).map_err(op_err("remove", &s))?;
            }
            Ok(())
        }
    }
}

/// After commit: delete what was only kept for undo. Failures here lose
/// nothing of the user's, so they are reported, not fatal.
pub fn cleanup(j: &Journal) -> Vec<Error> {
    let mut problems = Vec::new();
    for op in &j.ops {
        let (victim, _tree) = match op {
            Op::Remove {
                trash,
                was: Recorded::Copy { .. },
                ..
            } => (trash, false),
            Op::MoveAside {
                to, discard: true, ..
            } => (to, true),
            Op::Put {
                stash,
                prev: Prev::File,
                ..
            } => (stash, false),
            _ => continue,
        };
        let p = victim.in_home(&j.home);
        let result = match std::fs::symlink_metadata(&p) {
            // Discard only ever moves empty directories (plan refuses others).
            Ok(m) if m.is_dir() => std::fs::remove_dir(&p),
            Ok(_) => std::fs::remove_file(&p),
            Err(_) => Ok(()),
        };
        if let Err(e) = result {
            problems.push(op_err("remove", &p)(e));
        }
    }
    problems
}
