//! Applying a plan: the only module that changes a home. Every change is one
//! atomic filesystem operation listed in a journal written before the first
//! of them, so that a failure, or a kill at any point, can be undone exactly.
//! Undo works by inspection (is the change there?), so the same code reverts
//! an in-process failure and an interrupted run found later.
//!
//! Every change also checks, at the moment it is made, that its path still
//! holds what the plan saw: a new copy is put in place with
//! `RENAME_NOREPLACE` and a new link made there by `symlinkat`, which fails
//! where anything is; a replacement is swapped in with `RENAME_EXCHANGE` and
//! what came out is checked, a removal first moves the entry aside and checks
//! it. What the user changed in between is put back and the activation fails
//! as a conflict found late (`Error::Changed`): nothing of the user's is lost.
//! What came out and was checked is then only to be unlinked, which a second
//! thread may do (`reap`).

use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::home::plan::{Action, Desired, Owned, Plan, Prev, Recorded, RecordedCopy, Seen};
use crate::manifest::RelPath;
use crate::sys::dirfd::DirFd;
use crate::sys::fault;
use crate::sys::fxhash::FxHashMap as HashMap;
use nix::errno::Errno;
use nix::sys::stat::SFlag;
use reap::Reaper;

/// One recorded change, with the names it uses, fixed before anything is
/// written. On disk it is `journal::OpV1`.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Remove an owned path: a symlink is unlinked (undo recreates it), a copy
    /// is renamed to `trash` (undo renames it back; commit deletes it).
    Remove {
        path: RelPath,
        was: Recorded,
        trash: TrashName,
    },
    RemoveDir {
        path: RelPath,
        required: bool,
        /// Its permission bits when the journal was written, so that undo
        /// recreates it exactly (a user may have made ~/.ssh 0700).
        mode: Option<u32>,
    },
    /// Rename aside without replacing anything: a backup, or (discard) a
    /// trash name deleted at commit.
    MoveAside {
        path: RelPath,
        to: RelPath,
        discard: bool,
        /// For a discard: what the plan saw there, checked once it is moved
        /// aside, so that what the user put there since is never deleted.
        expect: Option<Expect>,
    },
    Mkdir {
        path: RelPath,
    },
    Put {
        path: RelPath,
        want: Desired,
        prev: Prev,
        /// Its temporary name, and its stash: a hard link to the owned
        /// copy being replaced, kept until commit.
        names: PutNames,
        /// For a replaced copy: what hearth recorded of it, checked on what
        /// the swap takes out of the home. Boxed: only a Put that replaces
        /// a copy has one, and every Put pays for the room (a first
        /// activation's journal is one Put per file).
        was: Option<Box<Recorded>>,
    },
}

// The names an operation makes or moves things to beside its path are not
// stored but made when they are needed (applying, reverting, cleaning up,
// writing the journal), by [`Siblings`], from what they are derived from:
// the transaction, the operation's number and the tag. Stored, two names
// for each Put of a first activation were 14.5 MB of 100,000 files' peak.
// A journal read back keeps the names written in it, whatever they are (an
// older hearth's, or names this hearth would not derive, see
// `Siblings::read_put`): those are `Given`, boxed where a second name would
// make every operation bigger. The common case is a number, no allocation.

/// A Put's temporary and stash names.
#[derive(Clone, Debug, PartialEq)]
pub enum PutNames {
    /// `.hearth-TXID-N.tmp` and `.hearth-TXID-N.stash` beside the path.
    Derived(u32),
    /// The temporary name, then the stash, as a journal read back names them.
    Given(Box<[RelPath; 2]>),
}

/// A Remove's trash name.
#[derive(Clone, Debug, PartialEq)]
pub enum TrashName {
    /// `.hearth-TXID-N.trash` in the directory `out` levels above the
    /// path's own: 0 beside the path; more when a directory around it
    /// leaves in the same activation (see `journal`). Derived from the path
    /// rather than stored, as the number is: no allocation either way.
    Derived { n: u32, out: u32 },
    /// As a journal read back names it.
    Given(RelPath),
}

/// What a discard expects to move aside: what the plan saw.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    Symlink { target: PathBuf },
    File { size: u64, mode: u32 },
    EmptyDir,
    Special,
}

impl Expect {
    fn from_seen(seen: &Seen) -> Option<Expect> {
        Some(match seen {
            Seen::Symlink { target, .. } => Expect::Symlink {
                target: target.to_path_buf(),
            },
            Seen::File { size, mode, .. } => Expect::File {
                size: *size,
                mode: *mode,
            },
            Seen::Dir { .. } => Expect::EmptyDir,
            Seen::Special { .. } => Expect::Special,
            Seen::Missing => return None,
        })
    }
}

/// What an activation will change, written (by `journal`, whose
/// `JournalV1` is its format on disk) before the first change.
#[derive(Clone, Debug)]
pub struct Journal {
    pub txid: String,
    pub home: PathBuf,
    pub generation: PathBuf,
    pub ops: Vec<Op>,
    /// The packages profile and the link it had before, when it changes.
    pub profile: Option<(PathBuf, Option<PathBuf>)>,
    /// The onChange hooks and steps the activation runs after its commit.
    /// The journal is kept until they have run, so that a committed
    /// generation whose hooks were cut short (a kill, a dead parent) has
    /// them run by the next activation.
    pub hooks: Vec<OwedHook>,
    /// The generation that was current before (the hooks' old generation).
    pub previous: Option<PathBuf>,
}

/// A hook or step owed by a committed activation.
#[derive(Clone, Debug, PartialEq)]
pub struct OwedHook {
    /// "onChange of" or "step".
    pub what: String,
    pub name: String,
    pub program: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} {path}: {source}")]
    Op {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// The path no longer held what the plan saw when hearth came to change
    /// it: the user (or one of their programs) changed it meanwhile.
    #[error("{} changed while hearth was applying: it is now {now}{}", crate::report::home_path(.path), kept_text(.kept.as_ref()))]
    Changed {
        path: RelPath,
        now: String,
        /// Where what the user put there was left, when it could not be put
        /// back at its place (something else was put there in between).
        kept: Option<RelPath>,
    },
}

fn kept_text(kept: Option<&RelPath>) -> String {
    match kept {
        Some(k) => format!(
            "; it was kept as {} because its place was taken again",
            crate::report::home_path(k)
        ),
        None => String::new(),
    }
}

/// [`op_err`] for `path` of `home`, whose full path is made only for an
/// error (every operation of an activation passes here).
fn op_err_at<'a>(
    what: &'static str,
    home: &'a Path,
    path: &'a RelPath,
) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Op {
        what,
        path: path.in_home(home),
        source,
    }
}

fn op_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Op {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// A random transaction id; it also makes temporary names unpredictable.
/// From the kernel's generator (getrandom(2) through the `getrandom`
/// crate: no file to open, unlike /dev/urandom).
pub fn new_txid() -> String {
    use std::fmt::Write as _;
    let mut buf = [0u8; 8];
    if getrandom::fill(&mut buf).is_err() {
        // Only uniqueness matters for correctness; names are created exclusively.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        #[expect(
            clippy::cast_possible_truncation,
            reason = "only the low, fast-changing bits of the time are wanted"
        )]
        let t = t as u64;
        buf = (t ^ u64::from(std::process::id()).rotate_left(32)).to_le_bytes();
    }
    buf.iter().fold(String::with_capacity(16), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The names an activation gives what it makes and moves aside beside a
/// path: `.hearth-TXID-N.TAG` in the path's directory, N being the
/// operation's number. Made in reused buffers when they are needed (see
/// [`PutNames`]), as the whole path from the home.
pub(crate) struct Siblings<'t> {
    txid: &'t str,
    /// Two: a Put uses its temporary name and its stash together.
    bufs: [String; 2],
}

impl<'t> Siblings<'t> {
    pub(crate) fn new(txid: &'t str) -> Self {
        Siblings {
            txid,
            bufs: [String::new(), String::new()],
        }
    }

    /// The name for `n` and `tag` beside `path`, allocated (a discard's
    /// `to`, kept in its operation).
    fn name(&mut self, path: &RelPath, n: usize, tag: &str) -> RelPath {
        let dir = path.parents_inner_first().next();
        let [buf, _] = &mut self.bufs;
        derive_into(buf, self.txid, dir, n, tag);
        match dir {
            Some(_) => RelPath::from_parent(buf),
            None => RelPath::parse(buf).unwrap_or_else(|_| path.clone()),
        }
    }

    /// A Put's temporary name and stash, each the whole path from the home.
    pub(crate) fn put<'a>(&'a mut self, path: &'a RelPath, names: &'a PutNames) -> [&'a str; 2] {
        match names {
            PutNames::Derived(n) => {
                let dir = path.parents_inner_first().next();
                let [tmp, stash] = &mut self.bufs;
                derive_into(tmp, self.txid, dir, *n as usize, "tmp");
                derive_into(stash, self.txid, dir, *n as usize, "stash");
                [tmp, stash]
            }
            PutNames::Given(given) => [given[0].as_str(), given[1].as_str()],
        }
    }

    /// A Remove's trash, the whole path from the home.
    pub(crate) fn trash<'a>(&'a mut self, path: &'a RelPath, trash: &'a TrashName) -> &'a str {
        match trash {
            TrashName::Derived { n, out } => self.trash_at(path, *n as usize, *out as usize),
            TrashName::Given(given) => given.as_str(),
        }
    }

    /// The trash name for `n` in the directory `out` levels above `path`'s.
    fn trash_at(&mut self, path: &RelPath, n: usize, out: usize) -> &str {
        // The path's own directory, then those around it, then the home
        // itself (`None`).
        let dir = path
            .parents_inner_first()
            .map(Some)
            .chain([None])
            .nth(out)
            .flatten();
        let [buf, _] = &mut self.bufs;
        derive_into(buf, self.txid, dir, n, "trash");
        buf
    }

    /// A Put's names as a journal read back gives them: `Derived` when
    /// they are exactly the names this hearth makes for them (nothing is
    /// then kept), `Given` otherwise, whatever they are (an older hearth's
    /// names are used as they were written).
    pub(crate) fn read_put(&mut self, path: &RelPath, tmp: RelPath, stash: RelPath) -> PutNames {
        let n = number_in(tmp.file_name(), self.txid, "tmp");
        if let Some(n) = n {
            let derived = PutNames::Derived(n);
            if self.put(path, &derived) == [tmp.as_str(), stash.as_str()] {
                return derived;
            }
        }
        PutNames::Given(Box::new([tmp, stash]))
    }

    /// A Remove's trash as a journal read back gives it (see `read_put`).
    pub(crate) fn read_trash(&mut self, path: &RelPath, trash: RelPath) -> TrashName {
        let (dir, file) = crate::sys::dirfd::split(trash.as_str());
        // How far above the path's own directory it is, if it is in one.
        let out = path
            .parents_inner_first()
            .chain([""])
            .position(|d| d == dir)
            .and_then(|out| u32::try_from(out).ok());
        if let (Some(n), Some(out)) = (number_in(file, self.txid, "trash"), out) {
            let derived = TrashName::Derived { n, out };
            if self.trash(path, &derived) == trash.as_str() {
                return derived;
            }
        }
        TrashName::Given(trash)
    }
}

/// N of a file name `.hearth-TXID-N.TAG`. Only a first look: the callers
/// compare the name made from it with the one they have.
fn number_in(file: &str, txid: &str, tag: &str) -> Option<u32> {
    file.strip_prefix(".hearth-")?
        .strip_prefix(txid)?
        .strip_prefix('-')?
        .strip_suffix(tag)?
        .strip_suffix('.')?
        .parse()
        .ok()
}

/// `.hearth-TXID-N.TAG` in `dir` (the home itself when `None`), into `buf`.
fn derive_into(buf: &mut String, txid: &str, dir: Option<&str>, n: usize, tag: &str) {
    buf.clear();
    if let Some(dir) = dir {
        buf.push_str(dir);
        buf.push('/');
    }
    buf.push_str(".hearth-");
    buf.push_str(txid);
    buf.push('-');
    push_decimal(buf, n);
    buf.push('.');
    buf.push_str(tag);
}

/// A name [`Siblings`] made (or one a journal gave), as a path to keep: an
/// error names it. Names made from a normalized path and a file name
/// without `/` are normalized.
pub(crate) fn rel_path(name: &str) -> RelPath {
    RelPath::from_normal(name.to_owned())
}

/// One name of [`Siblings`] (the tests' way to say what a journal holds).
#[cfg(test)]
fn sibling(path: &RelPath, txid: &str, n: usize, tag: &str) -> RelPath {
    Siblings::new(txid).name(path, n, tag)
}

/// `n` in decimal, without the formatting machinery.
fn push_decimal(buf: &mut String, n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut rest = n;
    loop {
        i -= 1;
        // A digit: below 10, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        let d = (rest % 10) as u8;
        digits[i] = b'0' + d;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        buf.push(char::from(d));
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
    ///
    /// Activations that replace or remove copies need it too: the old copy
    /// is kept under a stash or trash name until the commit, and without
    /// the journal nothing would know to put it back or to delete it.
    pub fn needs_flush(&self) -> bool {
        self.ops.iter().any(|op| {
            matches!(
                op,
                Op::MoveAside { .. }
                    | Op::Remove {
                        was: Recorded::Copy { .. },
                        ..
                    }
                    | Op::Put {
                        want: Desired::Copy { .. },
                        ..
                    }
                    | Op::Put {
                        prev: Prev::File,
                        ..
                    }
            )
        })
    }
}

/// Turns a checked plan (backup names assigned) into journal operations.
/// `old` is what the previous activation recorded (what replaced copies
/// are checked against).
pub fn journal(plan: &Plan, old: &Owned, txid: &str, home: &Path, generation: &Path) -> Journal {
    let mut dirs = Dirs::new(home);
    // Directories that leave their place in this activation (removed, or
    // moved aside with what is in them): a removed entry's trash goes
    // beside the outermost of them, not inside, so that the directory can
    // be removed and nothing of hearth's is moved aside with it.
    let leaving: crate::sys::fxhash::FxHashSet<&str> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::RemoveDir { path, .. }
            | Action::Backup { path, .. }
            | Action::Discard { path, .. } => Some(path.as_str()),
            _ => None,
        })
        .collect();
    // How many directories above its own a removed entry's trash goes: 0
    // beside it; k + 1 beside its k-th parent, the outermost that leaves
    // (in that parent's own parent directory).
    let trash_out = |path: &RelPath| -> usize {
        if leaving.is_empty() {
            return 0;
        }
        path.parents_inner_first()
            .enumerate()
            .filter(|(_, a)| leaving.contains(a))
            .last()
            .map_or(0, |(k, _)| k + 1)
    };
    // Sized once: an activation's operations are a home's worth of them,
    // and a growing vector would hold up to twice that at its peak.
    let mut ops = Vec::with_capacity(plan.actions.len());
    let mut names = Siblings::new(txid);
    // The names of operation `n`: derived while `n` (and `out`) fit the
    // room kept for them, which is always but in theory (billions of
    // operations); made and given otherwise.
    let trash = |names: &mut Siblings, path: &RelPath, n: usize| {
        let out = trash_out(path);
        match (u32::try_from(n), u32::try_from(out)) {
            (Ok(n), Ok(out)) => TrashName::Derived { n, out },
            _ => TrashName::Given(rel_path(names.trash_at(path, n, out))),
        }
    };
    let put_names = |names: &mut Siblings, path: &RelPath, n: usize| match u32::try_from(n) {
        Ok(n) => PutNames::Derived(n),
        Err(_) => PutNames::Given(Box::new([
            names.name(path, n, "tmp"),
            names.name(path, n, "stash"),
        ])),
    };
    ops.extend(plan.actions.iter().enumerate().filter_map(|(n, a)| {
        match a {
            Action::Remove { path, was } => Some(Op::Remove {
                path: path.clone(),
                was: was.clone(),
                trash: trash(&mut names, path, n),
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
                expect: None,
            }),
            Action::Discard { path, found } => Some(Op::MoveAside {
                path: path.clone(),
                to: names.name(path, n, "trash"),
                discard: true,
                expect: Expect::from_seen(found),
            }),
            Action::Mkdir { path } => Some(Op::Mkdir { path: path.clone() }),
            // Home Manager's link goes as hearth's own links do: moved
            // aside, checked to be that link, then deleted.
            Action::UnlinkHomeManager { path, target } => Some(Op::Remove {
                path: path.clone(),
                was: Recorded::Symlink {
                    target: target.as_path().into(),
                },
                trash: trash(&mut names, path, n),
            }),
            Action::Put {
                path, want, prev, ..
            } => Some(Op::Put {
                path: path.clone(),
                want: want.clone(),
                prev: prev.clone(),
                names: put_names(&mut names, path, n),
                was: match prev {
                    // An identical file replaced by a link is checked
                    // against what the plan saw, not hearth's record.
                    Prev::File => plan
                        .identical
                        .get(path)
                        .or_else(|| old.entries.get(path))
                        .map(|w| Box::new(w.clone())),
                    _ => None,
                },
            }),
        }
    }));
    Journal {
        txid: txid.to_string(),
        home: home.to_path_buf(),
        generation: generation.to_path_buf(),
        ops,
        profile: None,
        hooks: Vec::new(),
        previous: None,
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
    (crate::sys::dirfd::file_kind(&st) == SFlag::S_IFDIR).then_some(mode & 0o7777)
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
    /// Copies written under their temporary names, waiting for one sync of
    /// the filesystem before they are put in place: (index of the Put, what
    /// it replaces as found when its old copy was linked aside).
    staged: Vec<(usize, Prev)>,
}

/// The parent directories of the journal's paths, opened from the home one
/// component at a time without following symlinks, and kept open: every
/// operation then names one entry of a directory that was a real directory
/// of the home when it was opened, and the undo of an in-process failure
/// works in the very directories the operations were done in.
#[derive(Debug)]
struct Dirs {
    /// Shared: each operation holds it while it borrows the directories.
    home: Arc<Path>,
    root: Option<Arc<DirFd>>,
    open: HashMap<RelPath, Arc<DirFd>>,
}

/// Directory descriptors kept open while applying; past that, parents are
/// opened again from the home for each operation.
const MAX_OPEN_DIRS: usize = 256;

impl Dirs {
    fn new(home: &Path) -> Self {
        Dirs {
            home: Arc::from(home),
            root: None,
            open: HashMap::default(),
        }
    }

    fn root(&mut self) -> io::Result<Option<Arc<DirFd>>> {
        if self.root.is_none() {
            self.root = DirFd::open(&self.home, None)?.map(Arc::new);
        }
        Ok(self.root.clone())
    }

    /// The directory holding `path`; `None` when it is missing or not a
    /// real directory (a file, or a symlink, which is never followed).
    fn parent(&mut self, path: &RelPath) -> io::Result<Option<Arc<DirFd>>> {
        self.parent_at(path.as_str())
    }

    /// `parent` of a path given as text (a name [`Siblings`] made).
    fn parent_at(&mut self, path: &str) -> io::Result<Option<Arc<DirFd>>> {
        let (dir, _) = crate::sys::dirfd::split(path);
        if dir.is_empty() {
            return self.root();
        }
        if let Some(fd) = self.open.get(dir) {
            return Ok(Some(fd.clone()));
        }
        // From the nearest directory already open, one name at a time.
        let nearest = crate::manifest::parents_inner_first(dir)
            .find_map(|a| self.open.get(a).map(|fd| (fd.clone(), a.len())));
        let (mut fd, mut done) = match nearest {
            Some(found) => found,
            None => match self.root()? {
                Some(root) => (root, 0),
                None => return Ok(None),
            },
        };
        while done < dir.len() {
            let start = if done == 0 { 0 } else { done + 1 };
            let end = dir[start..].find('/').map_or(dir.len(), |i| start + i);
            match fd.open_dir(&dir[start..end])? {
                Some(next) => fd = Arc::new(next),
                None => return Ok(None),
            }
            self.keep(&dir[..end], &fd);
            done = end;
        }
        Ok(Some(fd))
    }

    /// Keeps `dir` open, with every directory opened on the way to it.
    /// The operations come in path order: the directories the ones ahead
    /// need are not those opened long ago. At the cap, those go (but for
    /// the parents of `dir`, whose other children come next) rather than
    /// no directory being kept any more, which would open every later
    /// directory again for each of its operations (a home of 100,000 files
    /// has thousands of directories).
    fn keep(&mut self, dir: &str, fd: &Arc<DirFd>) {
        let dir = RelPath::from_parent(dir);
        if self.open.len() >= MAX_OPEN_DIRS {
            self.open.retain(|k, _| dir.is_below(k));
        }
        self.open.insert(dir, fd.clone());
    }

    /// Like `parent`, for an operation that must happen: a parent that is
    /// not a real directory any more is an error, never followed.
    fn need(&mut self, path: &RelPath) -> io::Result<Arc<DirFd>> {
        self.need_at(path.as_str())
    }

    /// `need` of a path given as text (a name [`Siblings`] made).
    fn need_at(&mut self, path: &str) -> io::Result<Arc<DirFd>> {
        self.parent_at(path)?.ok_or_else(|| {
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
///
/// Copies are written under their temporary names as their turn comes, and
/// put in place only after all of them, once one sync of the filesystem has
/// forced their data to disk: a power cut then finds the old or the new
/// content at every target, and the activation pays for one sync, not one
/// per copy. Nothing else can depend on a copy being in place (nothing is
/// below a file).
pub fn run(j: &Journal) -> Result<Outcome, Failed> {
    let mut out = Outcome::default();
    let mut dirs = Dirs::new(&j.home);
    let mut names = Siblings::new(&j.txid);
    std::thread::scope(|scope| {
        let reaper = Reaper::new(scope, unlinks(&j.ops), &dirs.home);
        for (i, op) in j.ops.iter().enumerate() {
            // A directory is removed only once nothing waits to be
            // unlinked in it.
            let done = if let Op::RemoveDir { .. } = op {
                reaper.wait()
            } else {
                Ok(())
            };
            if let Err(error) =
                done.and_then(|()| forward(&mut dirs, &mut names, i, op, &mut out, &reaper))
            {
                return Err(failed(&reaper, &mut dirs, &mut names, error, &j.ops[..=i]));
            }
        }
        let staged = std::mem::take(&mut out.staged);
        if !staged.is_empty() {
            if let Err(error) = sync_staged(&mut dirs) {
                return Err(failed(&reaper, &mut dirs, &mut names, error, &j.ops));
            }
        }
        for (i, prev) in staged {
            if let Err(error) = put_in_place(&mut dirs, &mut names, &j.ops[i], &prev, &reaper) {
                return Err(failed(&reaper, &mut dirs, &mut names, error, &j.ops));
            }
        }
        if let Err(error) = reaper.wait() {
            return Err(failed(&reaper, &mut dirs, &mut names, error, &j.ops));
        }
        Ok(())
    })?;
    out.dirs = Some(dirs);
    Ok(out)
}

/// Undoes `done` after `error`. Undo finds what the helper has not unlinked
/// yet, as after a kill; it waits only so that the two never work on one
/// entry at once. An unlink that failed on the helper came first.
fn failed(
    reaper: &Reaper,
    dirs: &mut Dirs,
    names: &mut Siblings,
    error: Error,
    done: &[Op],
) -> Failed {
    let error = reaper.wait().err().unwrap_or(error);
    let undo = revert_in(dirs, names, done);
    Failed { error, undo }
}

/// How many entries the operations take out of the home to unlink once
/// checked: the old link or copy a Put swaps out, a removed link.
fn unlinks(ops: &[Op]) -> usize {
    ops.iter()
        .filter(|op| match op {
            Op::Put { prev, .. } => *prev != Prev::Missing,
            Op::Remove { was, .. } => matches!(was, Recorded::Symlink { .. }),
            _ => false,
        })
        .count()
}

/// Forces the staged copies' data to disk. On Linux one `syncfs` of the
/// home's filesystem does it for all of them (each copy was already synced
/// as it was written elsewhere, see `create`).
fn sync_staged(dirs: &mut Dirs) -> Result<(), Error> {
    let home = dirs.home.clone();
    let err = op_err("force to disk the copies in", &home);
    match dirs.root().map_err(err)? {
        Some(root) => root
            .sync_filesystem()
            .map_err(op_err("force to disk the copies in", &home)),
        None => Ok(()),
    }
}

#[derive(Debug)]
pub struct Failed {
    pub error: Error,
    /// Problems met while undoing; empty when the home is exactly as before.
    pub undo: Vec<Error>,
}

/// The file name of `other`, which must be in the directory of `path` or,
/// with `above`, in one of its ancestors (where a removed entry's trash
/// goes). Journals name nothing else; anything else is refused rather than
/// resolved.
fn name_near<'s>(path: &RelPath, other: &'s str, above: bool) -> io::Result<&'s str> {
    /// The directory part of `s`, with its `/`.
    fn dir_of(s: &str) -> &str {
        let (_, file) = crate::sys::dirfd::split(s);
        &s[..s.len() - file.len()]
    }
    let (mine, theirs) = (dir_of(path.as_str()), dir_of(other));
    if mine == theirs || (above && mine.starts_with(theirs)) {
        Ok(&other[theirs.len()..])
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{other} is not beside {}", path.as_str()),
        ))
    }
}

fn sibling_name<'s>(path: &RelPath, sibling: &'s str) -> io::Result<&'s str> {
    name_near(path, sibling, false)
}

/// Moves `name` of `from` to `to_name` of `to` (the same directory, or an
/// ancestor), never replacing anything there.
fn move_noreplace(from: &DirFd, name: &str, to: &DirFd, to_name: &str) -> nix::Result<()> {
    from.rename_noreplace_to(name, to, to_name)
}

fn changed(d: &DirFd, name: &str, path: &RelPath, kept: Option<RelPath>) -> Error {
    Error::Changed {
        path: path.clone(),
        now: describe_at(d, name),
        kept,
    }
}

fn forward(
    dirs: &mut Dirs,
    names: &mut Siblings,
    index: usize,
    op: &Op,
    out: &mut Outcome,
    reaper: &Reaper,
) -> Result<(), Error> {
    let home = &Arc::clone(&dirs.home);
    match op {
        Op::Remove { path, was, trash } => {
            let e = op_err_at("remove", home, path);
            let name = path.file_name();
            let trash = names.trash(path, trash);
            let trash_name =
                name_near(path, trash, true).map_err(op_err_at("remove", home, path))?;
            let d = dirs.need(path).map_err(op_err_at("remove", home, path))?;
            let td = dirs
                .need_at(trash)
                .map_err(op_err_at("remove", home, path))?;
            fault::write_point().map_err(op_err_at("remove", home, path))?;
            // Moved aside first, then checked: what the user put there since
            // the plan looked is never the thing deleted.
            match move_noreplace(&d, name, &td, trash_name) {
                Ok(()) => {}
                // Gone already: what the removal wanted.
                Err(Errno::ENOENT) => return Ok(()),
                Err(x) => return Err(e(x.into())),
            }
            if !holds_record(&td, trash_name, was) {
                return Err(put_back(&td, trash_name, &d, name, path, trash));
            }
            if let Recorded::Symlink { .. } = was {
                // A link carries nothing its record cannot recreate.
                fault::write_point().map_err(op_err_at("remove", home, path))?;
                reaper.unlink(&td, trash_name, path)?;
            }
            Ok(())
        }
        Op::RemoveDir { path, required, .. } => {
            let d = dirs
                .need(path)
                .map_err(op_err_at("remove directory", home, path))?;
            fault::write_point().map_err(op_err_at("remove directory", home, path))?;
            dirs.forget(path);
            match d.rmdir(path.file_name()) {
                Ok(()) => Ok(()),
                Err(e) if !required && is_not_empty(e) => {
                    out.dirs_left.push(path.clone());
                    Ok(())
                }
                Err(Errno::ENOENT) if !required => Ok(()),
                // Something else was put in its place since the plan looked.
                Err(Errno::ENOTDIR) if !required => {
                    out.dirs_left.push(path.clone());
                    Ok(())
                }
                Err(e) if is_not_empty(e) || e == Errno::ENOTDIR => {
                    Err(changed(&d, path.file_name(), path, None))
                }
                Err(e) => Err(op_err_at("remove directory", home, path)(e.into())),
            }
        }
        Op::MoveAside {
            path,
            to: to_rel,
            discard,
            expect,
        } => {
            let to =
                sibling_name(path, to_rel.as_str()).map_err(op_err_at("move aside", home, path))?;
            let d = dirs
                .need(path)
                .map_err(op_err_at("move aside", home, path))?;
            fault::write_point().map_err(op_err_at("move aside", home, path))?;
            dirs.forget(path);
            d.rename_noreplace(path.file_name(), to)
                .map_err(|e| op_err_at("move aside", home, path)(e.into()))?;
            // A backup keeps whatever it moved; a discard deletes it at
            // commit, so it must be what the plan saw.
            if *discard && !expect.as_ref().is_some_and(|x| is_expected(&d, to, x)) {
                return Err(put_back(
                    &d,
                    to,
                    &d,
                    path.file_name(),
                    path,
                    to_rel.as_str(),
                ));
            }
            Ok(())
        }
        Op::Mkdir { path } => {
            let d = dirs
                .need(path)
                .map_err(op_err_at("create directory", home, path))?;
            fault::write_point().map_err(op_err_at("create directory", home, path))?;
            match d.mkdir(path.file_name(), 0o755) {
                Ok(()) => Ok(()),
                // Put there since the plan looked: a directory serves; anything
                // else is the user's and stays.
                Err(Errno::EEXIST) if d.kind(path.file_name()) == Ok(SFlag::S_IFDIR) => Ok(()),
                Err(Errno::EEXIST) => Err(changed(&d, path.file_name(), path, None)),
                Err(e) => Err(op_err_at("create directory", home, path)(e.into())),
            }
        }
        Op::Put {
            path,
            want,
            prev,
            names: put_names,
            ..
        } => {
            // Errors name the target, never the temporary name the new
            // entry is made at (the user knows the one, not the other).
            let name = path.file_name();
            let d = dirs.need(path).map_err(op_err_at("create", home, path))?;
            let mut prev = prev.clone();
            if prev == Prev::File {
                let [_, stash] = names.put(path, put_names);
                let stash =
                    sibling_name(path, stash).map_err(op_err_at("keep a copy of", home, path))?;
                fault::write_point().map_err(op_err_at("keep a copy of", home, path))?;
                match d.link(name, stash) {
                    Ok(()) => {}
                    // Removed since the plan looked: the new copy just goes there.
                    Err(Errno::ENOENT) => prev = Prev::Missing,
                    Err(e) => return Err(op_err_at("keep a copy of", home, path)(e.into())),
                }
            }
            fault::write_point().map_err(op_err_at("create", home, path))?;
            if let (Desired::Symlink { target }, Prev::Missing) = (want, &prev) {
                // One symlinkat makes a link whole and never replaces
                // anything, so a link for an empty place is made at the
                // place itself: a temporary name and a rename would add a
                // second change of the directory and nothing of safety.
                return match d.symlink(target, name) {
                    Ok(()) => Ok(()),
                    // Put there since the plan looked: the user's, and stays.
                    Err(Errno::EEXIST) => Err(changed(&d, name, path, None)),
                    Err(x) => Err(op_err_at("create", home, path)(x.into())),
                };
            }
            // Named only here: a new link, the most common change, needs
            // neither name.
            let [tmp, stash] = names.put(path, put_names);
            let tmp = sibling_name(path, tmp).map_err(op_err_at("create", home, path))?;
            let stash =
                sibling_name(path, stash).map_err(op_err_at("keep a copy of", home, path))?;
            create(&d, want, tmp).map_err(op_err_at("create", home, path))?;
            if let Desired::Copy { .. } = want {
                out.staged.push((index, prev));
                return Ok(());
            }
            place(&d, home, op, &prev, (tmp, stash), reaper)
        }
    }
}

/// Puts a staged copy in place (see `run`).
fn put_in_place(
    dirs: &mut Dirs,
    names: &mut Siblings,
    op: &Op,
    prev: &Prev,
    reaper: &Reaper,
) -> Result<(), Error> {
    let Op::Put {
        path,
        names: put_names,
        ..
    } = op
    else {
        return Ok(());
    };
    let home = Arc::clone(&dirs.home);
    let d = dirs
        .need(path)
        .map_err(op_err_at("rename into place", &home, path))?;
    // Checked beside the path when the copy was written.
    let [tmp, stash] = names.put(path, put_names);
    let (_, tmp) = crate::sys::dirfd::split(tmp);
    let (_, stash) = crate::sys::dirfd::split(stash);
    place(&d, &home, op, prev, (tmp, stash), reaper)
}

/// The last step of a Put: the entry made at its temporary name goes in
/// place, never over anything but what the plan saw there. `tmp` and
/// `stash` are the file names, in `d`.
fn place(
    d: &Arc<DirFd>,
    home: &Path,
    op: &Op,
    prev: &Prev,
    (tmp, stash): (&str, &str),
    reaper: &Reaper,
) -> Result<(), Error> {
    let Op::Put { path, was, .. } = op else {
        return Ok(());
    };
    let name = path.file_name();
    fault::write_point().map_err(op_err_at("rename into place", home, path))?;
    let into_place = |x: Errno| op_err_at("rename into place", home, path)(x.into());
    // Into an empty place, never over what was put there since the plan looked.
    let put_new = || match d.rename_noreplace(tmp, name) {
        Ok(()) => Ok(()),
        Err(Errno::EEXIST) => {
            let _ = d.unlink(tmp);
            Err(changed(d, name, path, None))
        }
        Err(x) => Err(into_place(x)),
    };
    if *prev == Prev::Missing {
        return put_new();
    }
    match d.exchange(tmp, name) {
        Ok(()) => {}
        Err(Errno::ENOENT) => {
            // Removed since the plan looked: nothing to swap with.
            if *prev == Prev::File {
                let _ = d.unlink(stash);
            }
            return put_new();
        }
        Err(x) => return Err(into_place(x)),
    }
    // What came out of the home is now at `tmp`: it must be what the
    // plan saw, or it goes straight back.
    let expected = match prev {
        Prev::Symlink { target } => is_link_to(d, tmp, target),
        Prev::File => {
            d.identity(tmp).ok().is_some()
                && d.identity(tmp).ok() == d.identity(stash).ok()
                && was.as_deref().is_some_and(|w| holds_record(d, stash, w))
        }
        Prev::Missing => true,
    };
    if !expected {
        let back = d.exchange(tmp, name);
        let _ = d.unlink(tmp);
        if *prev == Prev::File {
            let _ = d.unlink(stash);
        }
        back.map_err(into_place)?;
        return Err(changed(d, name, path, None));
    }
    // The old link is recreated from its target on undo; the old
    // copy is still at `stash`.
    reaper.unlink(d, tmp, path)
}

/// Puts what was moved to `aside` back at `name`, and makes the error that
/// says the path changed. When the place was taken again meanwhile, what
/// was moved stays at `aside` (never deleted) and the error names it.
fn put_back(
    ad: &DirFd,
    aside: &str,
    d: &DirFd,
    name: &str,
    path: &RelPath,
    aside_rel: &str,
) -> Error {
    let now = describe_at(ad, aside);
    let kept = match ad.rename_noreplace_to(aside, d, name) {
        Ok(()) => None,
        Err(_) => Some(rel_path(aside_rel)),
    };
    Error::Changed {
        path: path.clone(),
        now,
        kept,
    }
}

fn create(d: &DirFd, want: &Desired, name: &str) -> io::Result<()> {
    match want {
        Desired::Symlink { target } => Ok(d.symlink(target, name)?),
        Desired::Copy(want) => {
            let (source, mode) = (&want.source, &want.mode);
            let mut src = std::fs::File::open(source)?;
            // Created exclusively and private; the mode is set once it is complete.
            let mut dst = d.create_file(name)?;
            io::copy(&mut src, &mut dst)?;
            dst.flush()?;
            dst.set_permissions(std::fs::Permissions::from_mode(*mode))?;
            // On disk before the rename that puts it in place: after a power
            // cut the target holds the old or the new content, never an
            // empty or zero-filled file. On Linux one `syncfs` after all the
            // copies of the activation does it (see `run`).
            #[cfg(not(target_os = "linux"))]
            dst.sync_all()?;
            Ok(())
        }
    }
}

fn is_not_empty(e: Errno) -> bool {
    matches!(e, Errno::ENOTEMPTY | Errno::EEXIST)
}

/// Undoes `ops` (in reverse), each only as far as it is found done. Returns
/// what could not be undone; empty means the home is as before.
/// `txid` is the journal's: the names of the operations are made from it.
pub fn revert(home: &Path, txid: &str, ops: &[Op]) -> Vec<Error> {
    revert_in(&mut Dirs::new(home), &mut Siblings::new(txid), ops)
}

fn revert_in(dirs: &mut Dirs, names: &mut Siblings, ops: &[Op]) -> Vec<Error> {
    let mut problems = Vec::new();
    for op in ops.iter().rev() {
        if let Err(e) = undo(dirs, names, op) {
            problems.push(e);
        }
    }
    problems
}

/// Whether `name` is a symlink to `target`. One `readlinkat`: it fails
/// (EINVAL) on anything that is not a symlink, so no `stat` is needed.
fn is_link_to(d: &DirFd, name: &str, target: &Path) -> bool {
    d.read_link(name).is_ok_and(|t| t == target)
}

/// Whether `name` in `d` holds exactly what was wanted there. A copy is only
/// read when it is a regular file (a FIFO put there is never opened), and
/// no further than its size.
fn holds(d: &DirFd, name: &str, want: &Desired) -> bool {
    holds_record(d, name, &want.record())
}

/// Whether `name` in `d` is exactly what hearth recorded: the same link
/// target, or a regular file with the same mode and content.
fn holds_record(d: &DirFd, name: &str, rec: &Recorded) -> bool {
    match rec {
        Recorded::Symlink { target } => is_link_to(d, name, target),
        Recorded::Copy(rec) => {
            let RecordedCopy { sha256, mode, size } = &**rec;
            let Ok(st) = d.stat(name, false) else {
                return false;
            };
            // mode_t is u32 on Linux and u16 on macOS.
            #[allow(clippy::unnecessary_cast)]
            let m = st.st_mode as u32 & 0o7777;
            // A size is never negative.
            let len = u64::try_from(st.st_size).unwrap_or(0);
            // Never read past the recorded size: a huge or sparse file put
            // there is told apart by its size alone.
            crate::sys::dirfd::file_kind(&st) == SFlag::S_IFREG
                && m == *mode
                && size.is_none_or(|n| n == len)
                && d.open_file(name)
                    .and_then(|f| crate::home::observe::sha256_up_to(f, Some(size.unwrap_or(len))))
                    .is_ok_and(|h| h.as_deref() == Some(sha256.as_str()))
        }
    }
}

/// Whether what a discard moved to `name` is what the plan saw there.
fn is_expected(d: &DirFd, name: &str, expect: &Expect) -> bool {
    let Ok(st) = d.stat(name, false) else {
        return false;
    };
    let kind = crate::sys::dirfd::file_kind(&st);
    #[allow(clippy::unnecessary_cast)]
    let mode = st.st_mode as u32 & 0o7777;
    match expect {
        Expect::Symlink { target } => is_link_to(d, name, target),
        Expect::File { size, mode: m } => {
            kind == SFlag::S_IFREG && u64::try_from(st.st_size).ok() == Some(*size) && mode == *m
        }
        Expect::EmptyDir => {
            kind == SFlag::S_IFDIR
                && d.open_dir(name)
                    .ok()
                    .flatten()
                    // One name is enough to tell it is not empty.
                    .and_then(|sub| sub.entries_up_to(1).ok())
                    .is_some_and(|(e, _)| e.is_empty())
        }
        Expect::Special => !matches!(kind, SFlag::S_IFREG | SFlag::S_IFDIR | SFlag::S_IFLNK),
    }
}

/// A short description of what is at `name`, for messages.
fn describe_at(d: &DirFd, name: &str) -> String {
    match d.stat(name, false) {
        Err(_) => "nothing".into(),
        Ok(st) => match crate::sys::dirfd::file_kind(&st) {
            SFlag::S_IFLNK => match d.read_link(name) {
                Ok(t) => format!("a symlink to {}", crate::report::escape_path(&t)),
                Err(_) => "a symlink".into(),
            },
            SFlag::S_IFREG => format!("a regular file ({} bytes)", st.st_size),
            SFlag::S_IFDIR => "a directory".into(),
            _ => "a special file".into(),
        },
    }
}

/// Whether `name` is a regular file that a power cut left without its
/// data: empty, or all zeros. Only asked where the journal shows hearth was
/// writing a copy there, and read no further than `limit`.
fn damaged(d: &DirFd, name: &str, limit: u64) -> bool {
    use std::io::Read;
    let Ok(st) = d.stat(name, false) else {
        return false;
    };
    if crate::sys::dirfd::file_kind(&st) != SFlag::S_IFREG
        || u64::try_from(st.st_size).unwrap_or(u64::MAX) > limit
    {
        return false;
    }
    let Ok(f) = d.open_file(name) else {
        return false;
    };
    let mut buf = Vec::new();
    f.take(limit).read_to_end(&mut buf).is_ok() && buf.iter().all(|b| *b == 0)
}

fn undo(dirs: &mut Dirs, names: &mut Siblings, op: &Op) -> Result<(), Error> {
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
    // `path` of the home (a name of the journal, as text: a name
    // [`Siblings`] made is one).
    let at = |what: &'static str, path: &str| {
        let p = home.join(path);
        move |e: Errno| op_err(what, &p)(e.into())
    };
    let path_at = path.as_str();
    match op {
        Op::Remove { was, trash, .. } => {
            let trash = names.trash(path, trash);
            let t = name_near(path, trash, true).map_err(op_err("restore", &p))?;
            let td = dirs.parent_at(trash).map_err(op_err("restore", &p))?;
            if d.exists(name) {
                return Ok(());
            }
            if let Some(td) = td.filter(|td| td.exists(t)) {
                return move_noreplace(&td, t, &d, name).map_err(at("restore", path_at));
            }
            match was {
                Recorded::Symlink { target } => {
                    d.symlink(target, name).map_err(at("restore", path_at))
                }
                // Never moved (the trash is not there): nothing to restore.
                Recorded::Copy { .. } => Ok(()),
            }
        }
        Op::RemoveDir { mode, .. } => {
            if d.exists(name) {
                return Ok(());
            }
            dirs.forget(path);
            d.mkdir(name, 0o755)
                .map_err(at("restore directory", path_at))?;
            match mode {
                // Explicitly: the mode given to mkdir is subject to the umask.
                Some(mode) => d
                    .chmod_dir(name, *mode)
                    .map_err(op_err("restore directory", &p)),
                None => Ok(()),
            }
        }
        Op::MoveAside { to, discard, .. } => {
            let t = sibling_name(path, to.as_str()).map_err(op_err("move back", &p))?;
            if !d.exists(t) {
                return Ok(());
            }
            if !d.exists(name) {
                dirs.forget(path);
                return d
                    .rename_noreplace(t, name)
                    .map_err(at("move back", path_at));
            }
            if *discard {
                // Its place was taken since (the user saved a new file
                // there): what `force` was to delete goes, the new file stays.
                return match d.kind(t) {
                    Ok(SFlag::S_IFDIR) => d.rmdir(t),
                    _ => d.unlink(t),
                }
                .map_err(at("remove", to.as_str()));
            }
            // A backup whose place was taken stays where it is, under its
            // backup name, like any backup.
            Ok(())
        }
        Op::Mkdir { .. } => match d.kind(name) {
            Ok(SFlag::S_IFDIR) => {
                dirs.forget(path);
                match d.rmdir(name) {
                    Ok(()) => Ok(()),
                    // Something else put files there since; keep them.
                    Err(e) if is_not_empty(e) => Ok(()),
                    Err(e) => Err(at("remove directory", path_at)(e)),
                }
            }
            _ => Ok(()),
        },
        Op::Put {
            want,
            prev,
            names: put_names,
            ..
        } => {
            let [tmp, stash] = names.put(path, put_names);
            let t = sibling_name(path, tmp).map_err(op_err("remove", &p))?;
            let s = sibling_name(path, stash).map_err(op_err("restore", &p))?;
            undo_put(&d, name, path, want, prev, (tmp, t), (stash, s), &at)
        }
    }
}

/// Undoes a Put, from wherever a failure or a kill left it: the new entry
/// made at `tmp` but not yet in place; swapped in with the old one at `tmp`;
/// in place with the old one gone (a link) or kept at `stash` (a copy).
#[allow(clippy::too_many_arguments)]
fn undo_put<F, G>(
    d: &DirFd,
    name: &str,
    path: &RelPath,
    want: &Desired,
    prev: &Prev,
    (tmp_rel, t): (&str, &str),
    (stash_rel, s): (&str, &str),
    at: &F,
) -> Result<(), Error>
where
    F: Fn(&'static str, &str) -> G,
    G: FnOnce(Errno) -> Error,
{
    let same =
        |a: &str, b: &str| d.identity(a).ok().is_some() && d.identity(a).ok() == d.identity(b).ok();
    if d.exists(t) {
        // Swapped in, and the old entry still at `tmp`: swap back.
        let swapped = match prev {
            Prev::File => d.exists(s) && same(t, s),
            Prev::Symlink { target } => is_link_to(d, t, target) && holds(d, name, want),
            Prev::Missing => false,
        };
        if swapped {
            d.exchange(t, name).map_err(at("restore", path.as_str()))?;
        }
        // `tmp` now holds the new entry, never put in place.
        d.unlink(t).map_err(at("remove", tmp_rel))?;
    }
    // What hearth put at `n`: exactly what was wanted, or, for a copy, the
    // empty or zero-filled file a power cut can leave of one (read no
    // further than its size, or 1 MiB for an older journal without it).
    let mine = |n: &str| {
        holds(d, n, want) || matches!(want, Desired::Copy(c) if damaged(d, n, c.size.max(1 << 20)))
    };
    if mine(name) {
        match prev {
            Prev::Missing => {
                // Moved aside and checked, so that only hearth's entry goes.
                d.rename_noreplace(name, t)
                    .map_err(at("remove", path.as_str()))?;
                if mine(t) {
                    d.unlink(t).map_err(at("remove", tmp_rel))?;
                } else {
                    let _ = d.rename_noreplace(t, name);
                    return Err(changed(d, name, path, None));
                }
            }
            Prev::Symlink { target } => {
                d.symlink(target, t).map_err(at("restore", path.as_str()))?;
                d.exchange(t, name).map_err(at("restore", path.as_str()))?;
                if mine(t) {
                    d.unlink(t).map_err(at("remove", tmp_rel))?;
                } else {
                    let _ = d.exchange(t, name);
                    let _ = d.unlink(t);
                    return Err(changed(d, name, path, None));
                }
            }
            Prev::File => {
                if d.exists(s) {
                    d.exchange(s, name).map_err(at("restore", path.as_str()))?;
                    if mine(s) {
                        d.unlink(s).map_err(at("remove", stash_rel))?;
                    } else {
                        let _ = d.exchange(s, name);
                        return Err(changed(d, name, path, Some(rel_path(stash_rel))));
                    }
                }
            }
        }
    } else if *prev == Prev::File && d.exists(s) {
        if !d.exists(name) {
            // Never replaced, but the entry is gone: the kept copy goes back.
            d.rename_noreplace(s, name)
                .map_err(at("restore", path.as_str()))?;
        } else if same(s, name) {
            // Linked aside but never replaced: the original is still in place.
            d.unlink(s).map_err(at("remove", stash_rel))?;
        } else {
            // Something else is at the target now; the old copy is the last
            // one of its content hearth knows of, so it is kept, not deleted.
            return Err(changed(d, name, path, Some(rel_path(stash_rel))));
        }
    }
    Ok(())
}

/// After commit: delete what was only kept for undo, then the directories
/// whose removal only those kept entries held up. Failures here lose
/// nothing of the user's; they are returned so that the journal is kept and
/// the next run tries again.
pub fn cleanup(j: &Journal) -> Vec<Error> {
    cleanup_in(&mut Dirs::new(&j.home), j)
}

/// `cleanup` in the directories `run` worked in.
pub fn cleanup_after(j: &Journal, out: &mut Outcome) -> Vec<Error> {
    match &mut out.dirs {
        Some(dirs) if *dirs.home == *j.home => cleanup_in(dirs, j),
        _ => cleanup(j),
    }
}

fn cleanup_in(dirs: &mut Dirs, j: &Journal) -> Vec<Error> {
    let mut problems = Vec::new();
    let mut names = Siblings::new(&j.txid);
    for op in &j.ops {
        let victim = match op {
            Op::Remove {
                path,
                trash,
                was: Recorded::Copy { .. },
            } => names.trash(path, trash),
            Op::MoveAside {
                to, discard: true, ..
            } => to.as_str(),
            Op::Put {
                path,
                names: put_names,
                prev: Prev::File,
                ..
            } => names.put(path, put_names)[1],
            _ => continue,
        };
        let p = j.home.join(victim);
        let d = match dirs.parent_at(victim) {
            Ok(Some(d)) => d,
            // Not in the home any more (a parent was replaced): nothing to delete.
            Ok(None) => continue,
            Err(e) => {
                problems.push(op_err("remove", &p)(e));
                continue;
            }
        };
        let (_, name) = crate::sys::dirfd::split(victim);
        if let Err(e) = fault::cleanup_point() {
            problems.push(op_err("remove", &p)(e));
            continue;
        }
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
    // Directories that were to go if empty, and were not only because what
    // was deleted just now was still inside (the journal lists them deepest
    // first). One the user has put something into stays.
    for op in &j.ops {
        if let Op::RemoveDir {
            path,
            required: false,
            ..
        } = op
        {
            if let Ok(Some(d)) = dirs.parent(path) {
                if d.kind(path.file_name()) == Ok(SFlag::S_IFDIR) {
                    dirs.forget(path);
                    let _ = d.rmdir(path.file_name());
                }
            }
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

mod reap;
#[cfg(test)]
mod tests;
