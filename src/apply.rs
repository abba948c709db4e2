//! Applying a plan: the only module that changes a home. Every change is one
//! atomic filesystem operation listed in a journal written before the first
//! of them, so that a failure, or a kill at any point, can be undone exactly.
//! Undo works by inspection (is the change there?), so the same code reverts
//! an in-process failure and an interrupted run found later.

use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use nix::errno::Errno;
use nix::sys::stat::SFlag;
use serde::{Deserialize, Serialize};

use crate::dirfd::DirFd;
use crate::fault;
use crate::fxhash::FxHashMap as HashMap;
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
    /// Whether the journal must be on disk before the first change: when the
    /// activation moves something of the user's aside (a backup, or what
    /// `force` replaces). Those are the changes whose undo a power cut must
    /// not lose. Every other change is to what hearth itself made, from the
    /// Nix store: after a power cut that lost the journal, the next
    /// activation of either generation adopts or repairs those links and
    /// copies, and at worst links of the other generation are left over.
    /// (Against kill -9 and errors the journal is complete either way: the
    /// kernel keeps what was written.)
    pub fn needs_flush(&self) -> bool {
        self.ops.iter().any(|op| matches!(op, Op::MoveAside { .. }))
    }
}

/// Turns a checked plan (backup names assigned) into journal operations.
pub fn journal(plan: &Plan, txid: &str, home: &Path, generation: &Path) -> Journal {
    let mut dirs = Dirs::new(home);
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
                mode: dir_mode(&mut dirs, path),
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

/// The permission bits of the directory at `path`, if it is one.
fn dir_mode(dirs: &mut Dirs, path: &RelPath) -> Option<u32> {
    let st = dirs
        .parent(path)
        .ok()??
        .stat(path.file_name(), false)
        .ok()?;
    // mode_t is u32 on Linux and u16 on macOS.
    #[allow(clippy::unnecessary_cast)]
    let mode = st.st_mode as u32;
    (crate::dirfd::file_kind(&st) == SFlag::S_IFDIR).then_some(mode & 0o7777)
}

/// What applying left for the caller to know.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Directories that were to be removed if empty but were not empty.
    pub dirs_left: Vec<RelPath>,
    /// The directories the operations were done in, still open, so that the
    /// cleanup after commit finds its names there even if a parent was
    /// swapped for a symlink meanwhile.
    dirs: Option<Dirs>,
}

/// The parent directories of the journal's paths, opened from the home one
/// component at a time without following symlinks, and kept open: every
/// operation then names one entry of a directory that was a real directory
/// of the home when it was opened, and the undo of an in-process failure
/// works in the very directories the operations were done in.
#[derive(Debug)]
struct Dirs {
    home: PathBuf,
    root: Option<Rc<DirFd>>,
    open: HashMap<RelPath, Rc<DirFd>>,
}

/// Directory descriptors kept open while applying; past that, parents are
/// opened again from the home for each operation.
const MAX_OPEN_DIRS: usize = 256;

impl Dirs {
    fn new(home: &Path) -> Self {
        Dirs {
            home: home.to_path_buf(),
            root: None,
            open: HashMap::default(),
        }
    }

    fn root(&mut self) -> io::Result<Option<Rc<DirFd>>> {
        if self.root.is_none() {
            self.root = DirFd::open(&self.home, None)?.map(Rc::new);
        }
        Ok(self.root.clone())
    }

    /// The directory holding `path`; `None` when it is missing or not a
    /// real directory (a file, or a symlink, which is never followed).
    fn parent(&mut self, path: &RelPath) -> io::Result<Option<Rc<DirFd>>> {
        let Some(dir) = path.parent() else {
            return self.root();
        };
        if let Some(fd) = self.open.get(&dir) {
            return Ok(Some(fd.clone()));
        }
        // From the nearest directory already open, one name at a time.
        let (mut fd, rest) = match dir
            .parents_inner_first()
            .find_map(|a| self.open.get(a).map(|fd| (fd.clone(), a.len() + 1)))
        {
            Some((fd, skip)) => (fd, &dir.as_str()[skip..]),
            None => match self.root()? {
                Some(root) => (root, dir.as_str()),
                None => return Ok(None),
            },
        };
        for name in rest.split('/') {
            match fd.open_dir(name)? {
                Some(next) => fd = Rc::new(next),
                None => return Ok(None),
            }
        }
        if self.open.len() < MAX_OPEN_DIRS {
            self.open.insert(dir, fd.clone());
        }
        Ok(Some(fd))
    }

    /// Like `parent`, for an operation that must happen: a parent that is
    /// not a real directory any more is an error, never followed.
    fn need(&mut self, path: &RelPath) -> io::Result<Rc<DirFd>> {
        self.parent(path)?.ok_or_else(|| {
            // ENOTDIR, with the reason: io::ErrorKind::NotADirectory is too new.
            let why =
                "its parent is no longer a directory (a symlink or file was put in its place)";
            io::Error::new(io::Error::from(Errno::ENOTDIR).kind(), why)
        })
    }

    /// Forgets `dir` and what is below it, once it was moved or removed.
    fn forget(&mut self, dir: &RelPath) {
        if !self.open.is_empty() {
            self.open.retain(|k, _| k != dir && !k.is_below(dir));
        }
    }
}

/// Applies the journal's operations in order. On failure everything done so
/// far is undone before returning the error; the error says whether that
/// undo succeeded.
pub fn run(j: &Journal) -> Result<Outcome, Failed> {
    let mut out = Outcome::default();
    let mut dirs = Dirs::new(&j.home);
    for (i, op) in j.ops.iter().enumerate() {
        if let Err(error) = forward(&mut dirs, op, &mut out) {
            let undo = revert_in(&mut dirs, &j.ops[..=i]);
            return Err(Failed { error, undo });
        }
    }
    out.dirs = Some(dirs);
    Ok(out)
}

#[derive(Debug)]
pub struct Failed {
    pub error: Error,
    /// Problems met while undoing; empty when the home is exactly as before.
    pub undo: Vec<Error>,
}

/// The file name of `sibling`, which must be in the same directory as
/// `path` (journals only ever name siblings; anything else is refused
/// rather than resolved).
fn sibling_name<'s>(path: &RelPath, sibling: &'s RelPath) -> io::Result<&'s str> {
    let dir_of = |p: &RelPath| {
        let s = p.as_str();
        s[..s.len() - p.file_name().len()].to_string()
    };
    if dir_of(path) == dir_of(sibling) {
        Ok(sibling.file_name())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not in the same directory", sibling.as_str()),
        ))
    }
}

fn forward(dirs: &mut Dirs, op: &Op, out: &mut Outcome) -> Result<(), Error> {
    let home = &dirs.home.clone();
    match op {
        Op::Remove { path, was, trash } => {
            let p = path.in_home(home);
            let e = op_err("remove", &p);
            let name = path.file_name();
            let trash = sibling_name(path, trash).map_err(op_err("remove", &p))?;
            let d = dirs.need(path).map_err(op_err("remove", &p))?;
            fault::write_point().map_err(op_err("remove", &p))?;
            match was {
                Recorded::Symlink { .. } => d.unlink(name).map_err(|x| e(x.into())),
                Recorded::Copy { .. } => d.rename_noreplace(name, trash).map_err(|x| e(x.into())),
            }
        }
        Op::RemoveDir { path, required, .. } => {
            let p = path.in_home(home);
            let d = dirs.need(path).map_err(op_err("remove directory", &p))?;
            fault::write_point().map_err(op_err("remove directory", &p))?;
            dirs.forget(path);
            match d.rmdir(path.file_name()) {
                Ok(()) => Ok(()),
                Err(e) if !required && is_not_empty(e) => {
                    out.dirs_left.push(path.clone());
                    Ok(())
                }
                Err(Errno::ENOENT) if !required => Ok(()),
                Err(e) => Err(op_err("remove directory", &p)(e.into())),
            }
        }
        Op::MoveAside { path, to, .. } => {
            let p = path.in_home(home);
            let to = sibling_name(path, to).map_err(op_err("move aside", &p))?;
            let d = dirs.need(path).map_err(op_err("move aside", &p))?;
            fault::write_point().map_err(op_err("move aside", &p))?;
            dirs.forget(path);
            d.rename_noreplace(path.file_name(), to)
                .map_err(|e| op_err("move aside", &p)(e.into()))
        }
        Op::Mkdir { path } => {
            let p = path.in_home(home);
            let d = dirs.need(path).map_err(op_err("create directory", &p))?;
            fault::write_point().map_err(op_err("create directory", &p))?;
            d.mkdir(path.file_name(), 0o755)
                .map_err(|e| op_err("create directory", &p)(e.into()))
        }
        Op::Put {
            path,
            want,
            prev,
            tmp,
            stash,
        } => {
            let p = path.in_home(home);
            let name = path.file_name();
            let t = tmp.in_home(home);
            let tmp = sibling_name(path, tmp).map_err(op_err("create", &t))?;
            let stash = sibling_name(path, stash).map_err(op_err("keep a copy of", &p))?;
            let d = dirs.need(path).map_err(op_err("create", &p))?;
            if *prev == Prev::File {
                fault::write_point().map_err(op_err("keep a copy of", &p))?;
                d.link(name, stash)
                    .map_err(|e| op_err("keep a copy of", &p)(e.into()))?;
            }
            fault::write_point().map_err(op_err("create", &t))?;
            create(&d, want, tmp).map_err(op_err("create", &t))?;
            fault::write_point().map_err(op_err("rename into place", &p))?;
            d.rename(tmp, name)
                .map_err(|e| op_err("rename into place", &p)(e.into()))
        }
    }
}

fn create(d: &DirFd, want: &Desired, name: &str) -> io::Result<()> {
    match want {
        Desired::Symlink { target } => Ok(d.symlink(target, name)?),
        Desired::Copy { source, mode, .. } => {
            let mut src = std::fs::File::open(source)?;
            // Created exclusively and private; the mode is set once it is complete.
            let mut dst = d.create_file(name)?;
            io::copy(&mut src, &mut dst)?;
            dst.flush()?;
            dst.set_permissions(std::fs::Permissions::from_mode(*mode))
        }
    }
}

fn is_not_empty(e: Errno) -> bool {
    matches!(e, Errno::ENOTEMPTY | Errno::EEXIST)
}

/// Undoes `ops` (in reverse), each only as far as it is found done. Returns
/// what could not be undone; empty means the home is as before.
pub fn revert(home: &Path, ops: &[Op]) -> Vec<Error> {
    revert_in(&mut Dirs::new(home), ops)
}

fn revert_in(dirs: &mut Dirs, ops: &[Op]) -> Vec<Error> {
    let mut problems = Vec::new();
    for op in ops.iter().rev() {
        if let Err(e) = undo(dirs, op) {
            problems.push(e);
        }
    }
    problems
}

/// Whether `name` in `d` holds exactly what was wanted there. A copy is only
/// read when it is a regular file (a FIFO put there is never opened).
fn holds(d: &DirFd, name: &str, want: &Desired) -> bool {
    match want {
        Desired::Symlink { target } => {
            d.kind(name) == Ok(SFlag::S_IFLNK) && d.read_link(name).is_ok_and(|t| t == *target)
        }
        Desired::Copy { sha256, .. } => {
            d.kind(name) == Ok(SFlag::S_IFREG)
                && d.open_file(name)
                    .and_then(observe::sha256_reader)
                    .is_ok_and(|h| h == *sha256)
        }
    }
}

fn undo(dirs: &mut Dirs, op: &Op) -> Result<(), Error> {
    let home = &dirs.home.clone();
    let path = op.path();
    let p = path.in_home(home);
    let name = path.file_name();
    // Where the parent is not a real directory, nothing of this operation
    // can be in the home (what is not there cannot be undone, and a symlink
    // is never followed to look).
    let Some(d) = dirs.parent(path).map_err(op_err("restore", &p))? else {
        return Ok(());
    };
    let at = |what: &'static str, path: &RelPath| {
        let p = path.in_home(home);
        move |e: Errno| op_err(what, &p)(e.into())
    };
    match op {
        Op::Remove { was, trash, .. } => {
            if d.exists(name) {
                return Ok(());
            }
            match was {
                Recorded::Symlink { target } => {
                    d.symlink(target, name).map_err(at("restore", path))
                }
                Recorded::Copy { .. } => {
                    let t = sibling_name(path, trash).map_err(op_err("restore", &p))?;
                    if d.exists(t) {
                        d.rename_noreplace(t, name).map_err(at("restore", path))
                    } else {
                        Ok(())
                    }
                }
            }
        }
        Op::RemoveDir { mode, .. } => {
            if d.exists(name) {
                return Ok(());
            }
            dirs.forget(path);
            d.mkdir(name, 0o755)
                .map_err(at("restore directory", path))?;
            match mode {
                // Explicitly: the mode given to mkdir is subject to the umask.
                Some(mode) => d
                    .chmod_dir(name, *mode)
                    .map_err(op_err("restore directory", &p)),
                None => Ok(()),
            }
        }
        Op::MoveAside { to, .. } => {
            let t = sibling_name(path, to).map_err(op_err("move back", &p))?;
            if d.exists(t) && !d.exists(name) {
                dirs.forget(path);
                d.rename_noreplace(t, name).map_err(at("move back", path))
            } else {
                Ok(())
            }
        }
        Op::Mkdir { .. } => match d.kind(name) {
            Ok(SFlag::S_IFDIR) => {
                dirs.forget(path);
                match d.rmdir(name) {
                    Ok(()) => Ok(()),
                    // Something else put files there since; keep them.
                    Err(e) if is_not_empty(e) => Ok(()),
                    Err(e) => Err(at("remove directory", path)(e)),
                }
            }
            _ => Ok(()),
        },
        Op::Put {
            want,
            prev,
            tmp,
            stash,
            ..
        } => {
            let t = sibling_name(path, tmp).map_err(op_err("remove", &p))?;
            let s = sibling_name(path, stash).map_err(op_err("restore", &p))?;
            if d.exists(t) {
                d.unlink(t).map_err(at("remove", tmp))?;
            }
            if holds(&d, name, want) {
                match prev {
                    Prev::Missing => d.unlink(name).map_err(at("remove", path))?,
                    Prev::Symlink { target } => {
                        d.symlink(target, t).map_err(at("restore", path))?;
                        d.rename(t, name).map_err(at("restore", path))?;
                    }
                    Prev::File => {
                        if d.exists(s) {
                            d.rename(s, name).map_err(at("restore", path))?;
                        }
                    }
                }
            } else if *prev == Prev::File && d.exists(s) {
                // Linked aside but never replaced: the original is still in place.
                d.unlink(s).map_err(at("remove", stash))?;
            }
            Ok(())
        }
    }
}

/// After commit: delete what was only kept for undo. Failures here lose
/// nothing of the user's, so they are reported, not fatal.
pub fn cleanup(j: &Journal) -> Vec<Error> {
    cleanup_in(&mut Dirs::new(&j.home), j)
}

/// `cleanup` in the directories `run` worked in.
pub fn cleanup_after(j: &Journal, out: &mut Outcome) -> Vec<Error> {
    match &mut out.dirs {
        Some(dirs) if dirs.home == j.home => cleanup_in(dirs, j),
        _ => cleanup(j),
    }
}

fn cleanup_in(dirs: &mut Dirs, j: &Journal) -> Vec<Error> {
    let mut problems = Vec::new();
    for op in &j.ops {
        let victim = match op {
            Op::Remove {
                trash,
                was: Recorded::Copy { .. },
                ..
            } => trash,
            Op::MoveAside {
                to, discard: true, ..
            } => to,
            Op::Put {
                stash,
                prev: Prev::File,
                ..
            } => stash,
            _ => continue,
        };
        let p = victim.in_home(&j.home);
        let d = match dirs.parent(victim) {
            Ok(Some(d)) => d,
            // Not in the home any more (a parent was replaced): nothing to delete.
            Ok(None) => continue,
            Err(e) => {
                problems.push(op_err("remove", &p)(e));
                continue;
            }
        };
        let name = victim.file_name();
        let result = match d.kind(name) {
            // Discard only ever moves empty directories (plan refuses others).
            Ok(SFlag::S_IFDIR) => d.rmdir(name),
            Ok(_) => d.unlink(name),
            Err(_) => Ok(()),
        };
        if let Err(e) = result {
            problems.push(op_err("remove", &p)(e.into()));
        }
    }
    problems
}

impl Op {
    /// The path the operation is about (its other names are siblings).
    pub fn path(&self) -> &RelPath {
        match self {
            Op::Remove { path, .. }
            | Op::RemoveDir { path, .. }
            | Op::MoveAside { path, .. }
            | Op::Mkdir { path }
            | Op::Put { path, .. } => path,
        }
    }
}
