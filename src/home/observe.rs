//! Looking at a home: what is at every path a plan is about, found without
//! following symlinks and without writing anything.

use std::hash::Hasher;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::home::ahead::{Ahead, Expected};
use crate::home::plan::{NewPlace, Observed, Owned, Recorded, Seen, SourceInfo};
use crate::manifest::{File, FileType, RelPath};
use crate::sys::dirfd::{self, DirFd};
use crate::sys::fxhash::{FxHashMap as HashMap, FxHashSet as HashSet, FxHasher};

/// A directory in the way is listed up to this many paths, and this many
/// levels deep; past either the conflict message just says "a directory".
/// Listing holds one descriptor per level, so the depth bounds them: a
/// directory nested thousands of levels deep cannot exhaust them.
const LIST_LIMIT: usize = 10_000;
const LIST_DEPTH: usize = 32;

/// Directory descriptors kept open while looking at a home: the chain of
/// parents of the directory being looked in, up to this depth.
const MAX_OPEN_DIRS: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot inspect {path}: {source}")]
    Inspect { path: PathBuf, source: io::Error },
    #[error("cannot read the source {path} of {target}: {source}\nhint: the generation may have been garbage-collected; rebuild it")]
    Source {
        path: PathBuf,
        target: RelPath,
        source: io::Error,
    },
    #[error("the source {path} of {target} is not a regular file; a \"copy\" entry copies one file (link directories with \"symlink\")")]
    SourceNotFile { path: PathBuf, target: RelPath },
}

/// Inspects every target of `old` ∪ `new` and each of their parent directories.
/// `move_aside`: what is in the way will be moved aside (a backup extension is
/// set), so it need not be listed. `home_manager`: also every path Home
/// Manager's current generation links (for a plan; checking what hearth
/// owns needs none of it).
pub fn look(
    home: &Path,
    old: &Owned,
    new: &[File],
    move_aside: bool,
    home_manager: bool,
) -> Result<Observed, Error> {
    let home_manager = if home_manager {
        home_manager_paths(home)
    } else {
        Vec::new()
    };
    let hm_set: HashSet<&RelPath> = home_manager.iter().collect();
    // Each directory's entries are looked at through one descriptor of it,
    // outermost directories first: a lookup then walks one name, never a
    // path, so it is cheap and cannot be sent elsewhere by a symlink swapped
    // into a parent. Below a parent that is not a real directory, nothing
    // is looked at (it would be followed).
    let walk = walk_order(old, new, &home_manager);
    let looked_at = walk.order.len();
    let mut seen = Observed::default();
    seen.paths.reserve(looked_at);
    seen.new_places = vec![NewPlace::UNKNOWN; new.len()];
    let store = crate::sys::nixtools::store_dir();
    // Sources first: their sizes say which files at targets can be copies
    // of them and so are worth reading.
    for f in new.iter().filter(|f| f.kind == FileType::Copy) {
        if seen.sources.contains_key(&f.source) {
            continue;
        }
        let meta = std::fs::metadata(&f.source).map_err(|source| Error::Source {
            path: f.source.to_path_buf(),
            target: f.target.clone(),
            source,
        })?;
        if !meta.is_file() {
            return Err(Error::SourceNotFile {
                path: f.source.to_path_buf(),
                target: f.target.clone(),
            });
        }
        // A store file does not change; one that did is not the source.
        let sha256 = sha256_file(&f.source, meta.len())
            .and_then(|h| h.ok_or_else(|| io::Error::other("it changed while it was read")))
            .map_err(|source| Error::Source {
                path: f.source.to_path_buf(),
                target: f.target.clone(),
                source,
            })?;
        seen.sources.insert(
            f.source.clone(),
            SourceInfo {
                sha256,
                mode: meta.mode() & 0o7777,
                size: meta.len(),
            },
        );
    }
    // In a large home, the links to read are read ahead from the other end
    // on a second core.
    let expect_at = |i: usize| {
        let (p, roles) = (walk.order.get(i)?, walk.roles.get(i)?);
        expected_link(roles.file(new), roles.record(old), hm_set.contains(p))
    };
    let ahead = Ahead::worth_a_thread(looked_at).then(|| Ahead::new(&walk.order, &expect_at));
    let helper = ahead
        .as_ref()
        .and_then(|a| Some((a, DirFd::open(home, None).ok()??)));
    std::thread::scope(|scope| {
        if let Some((ahead, root)) = helper {
            // A thread that cannot be made (a limit on tasks) is no
            // helper: observe reads every link itself.
            let _ = std::thread::Builder::new()
                .name("hearth-ahead".into())
                .spawn_scoped(scope, move || ahead.read_from_the_end(root));
        }
        look_below(
            home,
            (old, new),
            move_aside,
            &hm_set,
            ahead.as_ref(),
            &walk,
            &store,
            &mut seen,
        )
    })?;
    seen.home_manager = home_manager;
    Ok(seen)
}

/// Where a path of the walk is in each generation: the position of the new
/// generation's file at it, and of the old record's entry (`NONE`: neither
/// has one; a parent directory is in neither).
#[derive(Clone, Copy, Debug)]
struct Roles {
    new: usize,
    old: usize,
}

impl Roles {
    /// No position: a slice of files or records never has that many.
    const NONE: usize = usize::MAX;

    fn file<'a>(&self, new: &'a [File]) -> Option<&'a File> {
        new.get(self.new)
    }

    fn record<'a>(&self, old: &'a Owned) -> Option<&'a Recorded> {
        old.entries.get_index(self.old).map(|(_, rec)| rec)
    }
}

/// The paths to look at, each directory's entries together, the
/// directories outermost first (each one's subtree at once, see
/// `look_below`): the order `look_below` walks them in and the read-ahead
/// reads them against, so that a path's position is its slot there.
struct Walk {
    order: Vec<RelPath>,
    /// Each path's roles, by the same position.
    roles: Vec<Roles>,
    /// How many entries each directory has, in that order.
    groups: Vec<usize>,
}

/// A path to look at, on its way into the walk.
struct Listed<'p> {
    /// Its directory's place in tree order (high half), then a hash of its
    /// path (low half): sorting by this puts each directory's entries
    /// together, the directories in tree order, and the same path listed
    /// twice (a target of both generations) next to itself, with no
    /// comparison of paths at all but for equal hashes.
    key: u64,
    path: &'p RelPath,
    roles: Roles,
}

/// The walk over every target of `old` and `new`, the old record's
/// directories, `home_manager`'s paths and each of their parents, each
/// path once, with where it is in each generation.
///
/// Sorted, not gathered in a table of every path: at 100,000 paths such a
/// table is far larger than the processor's cache, and each of its
/// lookups a miss; sorting reads the lists in order, and only the
/// directories (a few thousand) are looked up.
fn walk_order(old: &Owned, new: &[File], home_manager: &[RelPath]) -> Walk {
    let none = Roles {
        new: Roles::NONE,
        old: Roles::NONE,
    };
    let listed = || {
        let old_entries =
            (old.entries.keys().enumerate()).map(move |(i, p)| (p, Roles { old: i, ..none }));
        let new_files =
            (new.iter().enumerate()).map(move |(i, f)| (&f.target, Roles { new: i, ..none }));
        let others = old.dirs.iter().chain(home_manager).map(move |p| (p, none));
        old_entries.chain(new_files).chain(others)
    };
    // The directories the paths are in, with their parents. The paths of a
    // directory mostly come together: only the first of them is looked up.
    let mut dirs: HashSet<&str> = HashSet::default();
    let mut last_dir = None;
    for (p, _) in listed() {
        let dir = dirfd::split(p.as_str()).0;
        if last_dir == Some(dir) {
            continue;
        }
        last_dir = Some(dir);
        for d in p.parents_inner_first() {
            if !dirs.insert(d) {
                break;
            }
        }
    }
    let mut in_order: Vec<&str> = dirs.iter().copied().collect();
    in_order.push("");
    in_order.sort_unstable_by(|a, b| tree_order(a, b));
    let rank: HashMap<&str, u64> = (in_order.iter().copied()).zip(0..).collect();
    // The directories are paths to look at too (each an entry of its own
    // parent), made once here: the paths listed borrow them.
    let made: Vec<RelPath> = (in_order.iter().filter(|d| !d.is_empty()))
        .map(|d| RelPath::from_parent(d))
        .collect();
    drop(dirs);
    let mut listing: Vec<Listed> = Vec::with_capacity(
        old.entries.len() + new.len() + old.dirs.len() + home_manager.len() + made.len(),
    );
    let mut ranked: Option<(&str, u64)> = None;
    for (path, roles) in listed().chain(made.iter().map(|p| (p, none))) {
        let dir = dirfd::split(path.as_str()).0;
        let place = match ranked {
            Some((d, r)) if d == dir => r,
            // Every directory of a path listed was ranked.
            _ => rank.get(dir).copied().unwrap_or(u64::MAX >> 32),
        };
        ranked = Some((dir, place));
        let mut h = FxHasher::default();
        h.write(path.as_str().as_bytes());
        listing.push(Listed {
            key: place << 32 | (h.finish() >> 32),
            path,
            roles,
        });
    }
    drop(rank);
    listing.sort_unstable_by_key(|l| l.key);
    let mut walk = Walk {
        order: Vec::with_capacity(listing.len()),
        roles: Vec::with_capacity(listing.len()),
        groups: Vec::with_capacity(in_order.len()),
    };
    // The same path listed more than once is one entry with the roles of
    // each listing; it is among the entries of its key so far (more than
    // one only when two paths of a directory share a hash).
    let (mut key_from, mut group_from) = (0, 0);
    let mut prev_key = None;
    for l in listing {
        if prev_key != Some(l.key) {
            if prev_key.is_some_and(|k| k >> 32 != l.key >> 32) {
                walk.groups.push(walk.order.len() - group_from);
                group_from = walk.order.len();
            }
            key_from = walk.order.len();
            prev_key = Some(l.key);
        }
        let same = (key_from..walk.order.len()).find(|&k| walk.order.get(k) == Some(l.path));
        if let Some(roles) = same.and_then(|k| walk.roles.get_mut(k)) {
            if l.roles.new != Roles::NONE {
                roles.new = l.roles.new;
            }
            if l.roles.old != Roles::NONE {
                roles.old = l.roles.old;
            }
        } else {
            // A clone is a count going up.
            walk.order.push(l.path.clone());
            walk.roles.push(l.roles);
        }
    }
    if walk.order.len() > group_from {
        walk.groups.push(walk.order.len() - group_from);
    }
    walk
}

/// Whether a link is expected at a path (wanted or recorded there, or Home
/// Manager's), and the targets it may hold. Where one is expected, one
/// `readlinkat` tells both that it is a link and where it points.
fn expected_link<'a>(
    wanted: Option<&'a File>,
    recorded: Option<&'a Recorded>,
    home_manager: bool,
) -> Option<Expected<'a>> {
    let recorded = match recorded {
        Some(Recorded::Symlink { target }) => Some(target),
        _ => None,
    };
    (wanted.is_some_and(|f| f.kind == FileType::Symlink) || recorded.is_some() || home_manager)
        .then(|| Expected {
            wanted: wanted.map(|f| &f.source),
            recorded,
        })
}

/// The paths of `order`, in that order: for each directory (outermost
/// first, its entries the next of `groups` paths), opened once, its
/// entries. What `look` does once it knows what to look at.
#[expect(
    clippy::too_many_arguments,
    reason = "the parts of `look` it was cut from, passed as they are"
)]
fn look_below(
    home: &Path,
    (old, new): (&Owned, &[File]),
    move_aside: bool,
    hm_set: &HashSet<&RelPath>,
    ahead: Option<&Ahead>,
    walk: &Walk,
    store: &Path,
    seen: &mut Observed,
) -> Result<(), Error> {
    let (order, groups) = (&walk.order, &walk.groups);
    // The directories on the way to the current one, outermost first,
    // each opened through the one before it: the parents come in tree
    // order, so a directory's own parent is the last one kept here.
    let mut open: Vec<(&str, DirFd)> = Vec::new();
    let mut next = 0;
    for &n in groups {
        let first = next;
        next += n;
        // Each directory's entries: `n` paths of `order` from `first`
        // (the groups cover the order exactly).
        let Some(kids) = order.get(first..next) else {
            break;
        };
        let Some(parent) = kids.first().map(|p| dirfd::split(p.as_str()).0) else {
            continue;
        };
        let dir = enter(home, parent, &mut open, seen)?;
        let Some(roles) = walk.roles.get(first..next) else {
            break;
        };
        for ((i, p), roles) in (first..).zip(kids).zip(roles) {
            let p = p.clone();
            let Some(dir) = &dir else {
                insert(seen, p, Seen::Missing, *roles);
                continue;
            };
            let wanted = roles.file(new);
            let recorded = roles.record(old);
            let hash = HashIf {
                recorded: match recorded {
                    Some(Recorded::Copy(c)) => Some(c.size),
                    _ => None,
                },
                wanted: wanted
                    .filter(|f| f.kind == FileType::Copy)
                    .and_then(|f| seen.sources.get(&f.source))
                    .map(|i| i.size),
            };
            // A directory in the way is listed for the plan's decision
            // (replace hearth's own, force on an empty one) and the conflict
            // message; moved aside, it only needs listing if hearth made it.
            let list = wanted.is_some() && (!move_aside || old.dirs.contains(&p));
            let expect = expected_link(wanted, recorded, hm_set.contains(&p));
            let read = ahead.zip(expect.as_ref()).and_then(|(a, e)| a.take(i, e));
            let mut found = inspect_retrying(home, dir, &p, &hash, list, expect.as_ref(), read)?;
            if let Some(f) = wanted.filter(|f| f.kind == FileType::Symlink) {
                // A regular file where a link is wanted may hold exactly the
                // link's content (Home Manager leaves such a file in place).
                identical_to_link_source(home, dir, &p, f, store, &mut found, &mut seen.sources)?;
            }
            if let Seen::Symlink { target, dangling } = &mut found {
                // A stat through the link costs a syscall per file; only a
                // link that is neither wanted nor hearth's own gets reported.
                let expected = wanted.is_some_and(|f| *f.source == **target)
                    || matches!(recorded, Some(Recorded::Symlink { target: t }) if **t == **target);
                if !expected {
                    // Only the existence of what it points at; never opened.
                    *dangling = dir.stat(p.file_name(), true).is_err();
                }
            }
            insert(seen, p, found, *roles);
        }
        // Kept for opening this directory's subdirectories, which come
        // next, with one lookup. As many as the home is deep, up to a
        // bound: a home nested thousands of levels deep cannot exhaust the
        // descriptors (below that, each directory is opened from the home).
        if let Some(fd) = dir.filter(|_| !parent.is_empty()) {
            if open.len() < MAX_OPEN_DIRS {
                open.push((parent, fd));
            }
        }
    }
    Ok(())
}

/// Keeps what was found at `p`, and where, for the plan (see
/// [`Observed::new_places`]).
fn insert(seen: &mut Observed, p: RelPath, found: Seen, roles: Roles) {
    let (k, _) = seen.paths.insert_full(p, found);
    if let Some(place) = seen.new_places.get_mut(roles.new) {
        *place = NewPlace {
            seen: k,
            old: roles.old,
        };
    }
}

/// The directory `parent` ("": the home), opened for looking at its
/// entries: through the last of the `open` directories when that is its
/// own parent, else from the home. `None` when it was not seen to be a
/// directory: below it, nothing is looked at (it would be followed).
fn enter(
    home: &Path,
    parent: &str,
    open: &mut Vec<(&str, DirFd)>,
    seen: &Observed,
) -> Result<Option<DirFd>, Error> {
    if parent.is_empty() {
        return DirFd::open(home, None).map_err(|source| Error::Inspect {
            path: home.to_path_buf(),
            source,
        });
    }
    while open
        .last()
        .is_some_and(|(up, _)| !(parent.len() > up.len() && dirfd::at_or_below(parent, up)))
    {
        open.pop();
    }
    if !matches!(seen.paths.get(parent), Some(Seen::Dir { .. })) {
        return Ok(None);
    }
    let (up, name) = dirfd::split(parent);
    let opened = match open.last().filter(|(o, _)| *o == up) {
        Some((_, fd)) => fd.open_dir(name),
        None => DirFd::open(home, Some(&RelPath::from_parent(parent))),
    };
    opened.map_err(|source| Error::Inspect {
        path: home.join(parent),
        source,
    })
}

/// Paths in the order of a depth-first walk: a directory, then everything
/// below it, then its next sibling (`a`, `a/b`, `a-c`), as if `/` sorted
/// before every other byte.
fn tree_order(a: &str, b: &str) -> std::cmp::Ordering {
    let key = |c: u8| if c == b'/' { 0 } else { c };
    a.bytes().map(key).cmp(b.bytes().map(key))
}

/// Where Home Manager keeps the generation it last activated, relative to
/// the home: its GC root, and its profile (older installations have only
/// that one).
const HOME_MANAGER_ROOTS: [&str; 2] = [
    ".local/state/home-manager/gcroots/current-home",
    ".local/state/nix/profiles/home-manager",
];

/// Whether Home Manager has a generation for this home (its GC root or
/// profile leads into the store): a plan then also looks at its links.
/// One `readlink` per root when it has none.
pub fn home_manager_present(home: &Path) -> bool {
    HOME_MANAGER_ROOTS
        .iter()
        .any(|root| std::fs::read_link(home.join(root)).is_ok())
}

/// Past this many files, Home Manager's tree is not listed (its stale links
/// then stay, as before adoption existed).
const HOME_MANAGER_LIMIT: usize = 100_000;

/// The paths Home Manager's current generation links into the home: every
/// file and link in its `home-files` tree, which `linkGeneration` linked one
/// by one. Empty when Home Manager has no generation here. Only the store
/// is listed; what the roots in the home point at must be a generation in
/// the store whose `home-files` is a `-home-manager-files` store path.
fn home_manager_paths(home: &Path) -> Vec<RelPath> {
    let store = crate::sys::nixtools::store_dir();
    let mut trees: Vec<PathBuf> = Vec::new();
    for root in HOME_MANAGER_ROOTS {
        let Ok(generation) = std::fs::canonicalize(home.join(root)) else {
            continue;
        };
        if !crate::home::plan::in_store(&generation, &store) {
            continue;
        }
        let Ok(files) = std::fs::canonicalize(generation.join("home-files")) else {
            continue;
        };
        let is_tree = files.parent() == Some(store.as_path())
            && files
                .file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with("-home-manager-files"));
        if is_tree && !trees.contains(&files) {
            trees.push(files);
        }
    }
    let mut out: Vec<RelPath> = Vec::new();
    for tree in &trees {
        if !list_store_tree(tree, "", LIST_DEPTH, &mut out) {
            return Vec::new();
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Adds the files and links below `dir` (at `rel` in the tree) to `out`;
/// false past the limits. A link is a leaf: never followed.
fn list_store_tree(dir: &Path, rel: &str, levels: usize, out: &mut Vec<RelPath>) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return true;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            // Not a name hearth can manage.
            continue;
        };
        let child = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        if kind.is_dir() {
            if levels <= 1 || !list_store_tree(&entry.path(), &child, levels - 1, out) {
                return false;
            }
        } else if let Ok(p) = RelPath::parse(&child) {
            out.push(p);
            if out.len() > HOME_MANAGER_LIMIT {
                return false;
            }
        }
    }
    true
}

/// At a link target: when `found` is a regular file of the size of the
/// link's source (a regular file in the store), hashes both, so that the
/// plan can tell a file identical to the source (replaced by the link with
/// nothing lost). The source is opened without following a link and
/// without blocking; the file is read no further than that size.
fn identical_to_link_source(
    home: &Path,
    dir: &DirFd,
    rel: &RelPath,
    f: &File,
    store: &Path,
    found: &mut Seen,
    sources: &mut HashMap<Arc<Path>, SourceInfo>,
) -> Result<(), Error> {
    let Seen::File {
        size,
        sha256: sha256 @ None,
        unreadable: false,
        ..
    } = found
    else {
        return Ok(());
    };
    let size = *size;
    if !sources.contains_key(&f.source) {
        if !crate::home::plan::in_store(&f.source, store) {
            return Ok(());
        }
        let Some((file, meta)) = open_regular(&f.source) else {
            return Ok(());
        };
        if meta.len() != size {
            return Ok(());
        }
        let Ok(Some(h)) = sha256_up_to(file, Some(size)) else {
            return Ok(());
        };
        sources.insert(
            f.source.clone(),
            SourceInfo {
                sha256: h,
                mode: meta.mode() & 0o7777,
                size,
            },
        );
    }
    if sources.get(&f.source).is_none_or(|s| s.size != size) {
        return Ok(());
    }
    match dir.open_file(rel.file_name()) {
        // Not hearth's to read: it cannot be shown identical.
        Err(e) if is_denied(&e) => {}
        opened => {
            *sha256 = opened
                .and_then(|file| sha256_up_to(file, Some(size)))
                .map_err(|source| Error::Inspect {
                    path: rel.in_home(home),
                    source,
                })?;
        }
    }
    Ok(())
}

/// `inspect_at`, tried again when it fails: an entry replaced between its
/// stat and the readlink or open that follows (a symlink swapped for a
/// directory) fails the second call, and a fresh look then sees what is
/// there now.
/// `inspect_at`, tried again (up to three times) when what is at `rel`
/// changes while it is looked at. `read`: its link, read ahead (used by
/// the first try only).
fn inspect_retrying(
    home: &Path,
    dir: &DirFd,
    rel: &RelPath,
    hash: &HashIf,
    list: bool,
    expect: Option<&Expected>,
    mut read: Option<nix::Result<Arc<Path>>>,
) -> Result<Seen, Error> {
    let mut tries = 1;
    loop {
        match inspect_at(home, dir, rel, hash, list, expect, read.take()) {
            Err(_) if tries < 3 => tries += 1,
            result => return result,
        }
    }
}

/// What is at `rel` (an entry of `dir`), not following a symlink there.
fn inspect_at(
    home: &Path,
    dir: &DirFd,
    rel: &RelPath,
    hash: &HashIf,
    list: bool,
    expect: Option<&Expected>,
    read: Option<nix::Result<Arc<Path>>>,
) -> Result<Seen, Error> {
    use nix::errno::Errno;
    use nix::sys::stat::SFlag;
    let path = || rel.in_home(home);
    let err = |e: Errno| Error::Inspect {
        path: path(),
        source: e.into(),
    };
    let name = rel.file_name();
    if let Some(expect) = expect {
        // readlinkat fails with EINVAL on anything but a link: a home of
        // links is confirmed with one syscall per path (the no-op's cost).
        // A link holding what was expected shares that target.
        match read.unwrap_or_else(|| dir.with_link(name, |t| expect.share(t))) {
            Ok(target) => {
                return Ok(Seen::Symlink {
                    target,
                    dangling: false,
                })
            }
            Err(Errno::ENOENT | Errno::ENOTDIR) => return Ok(Seen::Missing),
            Err(Errno::EINVAL) => {}
            Err(e) => return Err(err(e)),
        }
    }
    let st = match dir.stat(name, false) {
        Ok(st) => st,
        Err(Errno::ENOENT | Errno::ENOTDIR) => return Ok(Seen::Missing),
        Err(e) => return Err(err(e)),
    };
    let kind = dirfd::file_kind(&st);
    // mode_t is u32 on Linux and u16 on macOS.
    #[allow(clippy::unnecessary_cast)]
    let mode = (st.st_mode as u32) & 0o7777;
    Ok(if kind == SFlag::S_IFLNK {
        let expect = expect.copied().unwrap_or_default();
        let target = dir.with_link(name, |t| expect.share(t)).map_err(err)?;
        Seen::Symlink {
            target,
            dangling: false,
        }
    } else if kind == SFlag::S_IFREG {
        #[allow(
            clippy::cast_sign_loss,
            reason = "st_size of a regular file is never negative"
        )]
        let size = st.st_size as u64;
        let (sha256, unreadable) = match hash.limit(size) {
            None => (None, false),
            Some(limit) => match dir.open_file(name) {
                // Not hearth's to read (a file the user made private): it
                // cannot be shown to be hearth's copy, and moving it aside
                // or discarding it needs no reading.
                Err(e) if is_denied(&e) => (None, true),
                opened => (
                    opened
                        .and_then(|f| sha256_up_to(f, limit))
                        .map_err(|source| Error::Inspect {
                            path: path(),
                            source,
                        })?,
                    false,
                ),
            },
        };
        Seen::File {
            size,
            mode,
            sha256,
            unreadable,
        }
    } else if kind == SFlag::S_IFDIR {
        let below = if list {
            list_below(dir, rel).map_err(|source| Error::Inspect {
                path: path(),
                source,
            })?
        } else {
            None
        };
        Seen::Dir { below }
    } else {
        let kind = match kind {
            SFlag::S_IFIFO => "FIFO",
            SFlag::S_IFSOCK => "socket",
            SFlag::S_IFBLK => "block device",
            SFlag::S_IFCHR => "character device",
            _ => "special file",
        };
        Seen::Special { kind: kind.into() }
    })
}

/// Every path below the directory `rel` (an entry of `parent`), relative
/// to the home, or `None` past the limit. Walked through descriptors like
/// the rest, so a symlink swapped in below cannot make it list elsewhere.
fn list_below(parent: &DirFd, rel: &RelPath) -> io::Result<Option<Vec<RelPath>>> {
    let mut out = Vec::new();
    let Some(dir) = parent.open_dir(rel.file_name())? else {
        // No longer a directory: the retry looks again.
        return Err(io::Error::from(nix::errno::Errno::ENOTDIR));
    };
    if !list_into(&dir, rel, rel.as_str(), LIST_DEPTH, &mut out)? {
        return Ok(None);
    }
    out.sort();
    Ok(Some(out))
}

/// Adds what is below `dir` (at `relstr`) to `out`, down to `levels` more
/// levels; false past the limits. One descriptor per level is open at a time.
fn list_into(
    dir: &DirFd,
    rel: &RelPath,
    relstr: &str,
    levels: usize,
    out: &mut Vec<RelPath>,
) -> io::Result<bool> {
    // Never more names read than the limit leaves room for.
    let (names, all) = dir.entries_up_to(LIST_LIMIT + 1 - out.len().min(LIST_LIMIT))?;
    if !all {
        return Ok(false);
    }
    for (name, is_dir) in names {
        let child = format!("{relstr}/{}", name.to_string_lossy());
        match RelPath::parse(&child) {
            Ok(p) => out.push(p),
            // A name that is not UTF-8 cannot be one of hearth's own.
            Err(_) => out.push(rel.with_suffix("/?")),
        }
        if out.len() > LIST_LIMIT {
            return Ok(false);
        }
        if is_dir {
            if levels <= 1 {
                return Ok(false);
            }
            // Gone or replaced since it was listed: nothing below it to count.
            if let Some(sub) = dir.open_dir(name.as_os_str())? {
                if !list_into(&sub, rel, &child, levels - 1, out)? {
                    return Ok(false);
                }
            }
        }
    }
    Ok(true)
}

/// Whether anything exists at `home/rel` (for choosing free backup names),
/// looked up without following a symlink in any parent.
pub fn exists(home: &Path, rel: &RelPath) -> bool {
    DirFd::open(home, rel.parent().as_ref())
        .ok()
        .flatten()
        .is_some_and(|d| d.exists(rel.file_name()))
}

/// The sizes a regular file at a path may have to be one of hearth's copies
/// there: the recorded copy's (proving the old one is still hearth's) or the
/// wanted copy's source (adopting an identical file). Only such a file is
/// read, and never past that size: a huge or sparse file put at a copy
/// target costs one stat.
#[derive(Debug, Default)]
pub struct HashIf {
    /// `Some(None)`: a copy recorded before sizes were, of unknown size.
    pub recorded: Option<Option<u64>>,
    pub wanted: Option<u64>,
}

impl HashIf {
    /// Whether a file of `size` bytes is to be hashed, and how far it may be
    /// read (`Some(None)`: without a bound, for a copy of unknown size).
    pub fn limit(&self, size: u64) -> Option<Option<u64>> {
        match self.recorded {
            Some(None) => Some(None),
            Some(Some(n)) if n == size => Some(Some(size)),
            _ if self.wanted == Some(size) => Some(Some(size)),
            _ => None,
        }
    }
}

fn is_denied(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error().map(nix::errno::Errno::from_raw),
        Some(nix::errno::Errno::EACCES | nix::errno::Errno::EPERM)
    )
}

/// The hash of the file at `path` if it holds exactly `size` bytes.
pub fn sha256_file(path: &Path, size: u64) -> io::Result<Option<String>> {
    sha256_up_to(std::fs::File::open(path)?, Some(size))
}

/// The hash of everything `file` holds.
pub fn sha256_reader(file: std::fs::File) -> io::Result<String> {
    sha256_up_to(file, None).map(Option::unwrap_or_default)
}

/// The hash of what `file` holds. With a `limit`, at most that many bytes
/// (and one more) are read, and a file that does not hold exactly that many
/// (it grew or shrank while it was read) has no hash: `None`, it is not the
/// copy it was sized as.
pub fn sha256_up_to(file: std::fs::File, limit: Option<u64>) -> io::Result<Option<String>> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut file = file.take(limit.map_or(u64::MAX, |n| n.saturating_add(1)));
    let mut read: u64 = 0;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        read += n as u64;
        if limit.is_some_and(|l| read > l) {
            return Ok(None);
        }
        hasher.update(&buf[..n]);
    }
    if limit.is_some_and(|l| read != l) {
        // It shrank: not the copy of that size either.
        return Ok(None);
    }
    Ok(Some(hex(&hasher.finalize())))
}

/// Whether two link targets hold the same content. The old one is where the
/// home's link pointed, which its user may have chosen: a FIFO there must not
/// block hearth, nor `/dev/zero` fill its memory. So content is compared only
/// between two regular files in the store `store` (their normalized paths,
/// opened without following a symlink at the last component and without
/// blocking) of equal size, reading at most that size; anything else (a store
/// path that is itself a symlink, a path outside the store) is the same only
/// if the normalized paths are.
pub fn same_store_content(old: &Path, new: &Path, store: &Path) -> bool {
    if old == new {
        return true;
    }
    let (Some(a), Some(b)) = (
        crate::home::plan::normalize(old),
        crate::home::plan::normalize(new),
    ) else {
        return false;
    };
    if !(crate::home::plan::in_store(&a, store) && crate::home::plan::in_store(&b, store)) {
        return a == b;
    }
    match (
        open_regular(&a).map(|(f, m)| (f, m.len())),
        open_regular(&b).map(|(f, m)| (f, m.len())),
    ) {
        (Some((fa, size_a)), Some((fb, size_b))) => {
            size_a == size_b
                && matches!(
                    (sha256_up_to(fa, Some(size_a)), sha256_up_to(fb, Some(size_b))),
                    (Ok(Some(x)), Ok(Some(y))) if x == y
                )
        }
        _ => a == b,
    }
}

/// A regular file at `path` and what it is; `None` for anything else (a
/// symlink at the last component is not followed, a FIFO not waited for).
fn open_regular(path: &Path) -> Option<(std::fs::File, std::fs::Metadata)> {
    use nix::fcntl::OFlag;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC).bits())
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    meta.is_file().then_some((file, meta))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory removed at the end of the test.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let p =
                std::env::temp_dir().join(format!("hearth-observe-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_file_is_hashed_only_at_a_size_a_copy_can_have() {
        let both = HashIf {
            recorded: Some(Some(10)),
            wanted: Some(20),
        };
        assert_eq!(both.limit(10), Some(Some(10)));
        assert_eq!(both.limit(20), Some(Some(20)));
        assert_eq!(both.limit(1 << 40), None);
        assert_eq!(both.limit(0), None);
        // Not a copy position at all.
        assert_eq!(HashIf::default().limit(10), None);
        // Adopting an identical file: only the source's size.
        let wanted = HashIf {
            recorded: None,
            wanted: Some(0),
        };
        assert_eq!(wanted.limit(0), Some(Some(0)));
        assert_eq!(wanted.limit(1), None);
        // A copy recorded before sizes were: unknown, so read in full.
        let legacy = HashIf {
            recorded: Some(None),
            wanted: Some(3),
        };
        assert_eq!(legacy.limit(1 << 40), Some(None));
    }

    #[test]
    fn hashing_stops_at_the_limit_and_a_longer_file_has_no_hash() {
        let dir = TempDir::new("hash");
        let f = dir.path().join("f");
        std::fs::write(&f, b"hello").unwrap();
        let full = sha256_file(&f, 5).unwrap().unwrap();
        assert_eq!(
            full,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(
            sha256_reader(std::fs::File::open(&f).unwrap()).unwrap(),
            full
        );
        // Sized as 4 bytes but holding 5 (it grew): not that copy.
        assert_eq!(sha256_file(&f, 4).unwrap(), None);
        // Sized as 6 but holding 5 (it shrank): not that copy either.
        assert_eq!(sha256_file(&f, 6).unwrap(), None);
        // /dev/zero never ends: a bounded read stops after the limit.
        let zero = std::fs::File::open("/dev/zero").unwrap();
        assert_eq!(sha256_up_to(zero, Some(1 << 20)).unwrap(), None);
    }

    #[test]
    fn directories_are_walked_depth_first_each_subtree_at_once() {
        let mut dirs = vec!["a-c", "a/b/x", "b", "a", "a/b-c", "a/b", "a.d/e", "a.d"];
        dirs.sort_unstable_by(|a, b| tree_order(a, b));
        assert_eq!(
            dirs,
            ["a", "a/b", "a/b/x", "a/b-c", "a-c", "a.d", "a.d/e", "b"]
        );
    }

    #[test]
    fn the_walk_has_each_path_once_with_its_roles_each_directory_together() {
        let p = |s: &str| RelPath::parse(s).unwrap();
        let file = |t: &str| File {
            target: p(t),
            source: Path::new("/nix/store/s").into(),
            kind: FileType::Symlink,
            mode: None,
            force: false,
            on_change: None,
        };
        let link = || Recorded::Symlink {
            target: Path::new("/nix/store/s").into(),
        };
        let mut old = Owned::default();
        for t in ["a/b/x", "a/y", "c"] {
            old.entries.insert(p(t), link());
        }
        old.dirs.insert(p("a/b"));
        let new: Vec<File> = ["c", "a/b/z", "a/b/x", "d/e"].map(file).into();
        let home_manager = [p("a/y"), p("a")];
        let walk = walk_order(&old, &new, &home_manager);

        // Each directory's entries together, the directories in tree
        // order; within one, any order.
        let mut groups = Vec::new();
        let mut at = 0;
        for n in &walk.groups {
            let mut names: Vec<&str> = walk.order[at..at + n].iter().map(RelPath::as_str).collect();
            names.sort_unstable();
            groups.push(names);
            at += n;
        }
        assert_eq!(at, walk.order.len());
        assert_eq!(
            groups,
            [
                vec!["a", "c", "d"],
                vec!["a/b", "a/y"],
                vec!["a/b/x", "a/b/z"],
                vec!["d/e"]
            ]
        );
        // A path of both generations carries its place in each.
        let roles = |t: &str| {
            let i = walk.order.iter().position(|q| q.as_str() == t).unwrap();
            (walk.roles[i].new, walk.roles[i].old)
        };
        let none = Roles::NONE;
        assert_eq!(roles("c"), (0, 2));
        assert_eq!(roles("a/b/x"), (2, 0));
        assert_eq!(roles("a/b/z"), (1, none));
        assert_eq!(roles("a/y"), (none, 1));
        assert_eq!(roles("a/b"), (none, none));
        assert_eq!(roles("d/e"), (3, none));
    }

    #[test]
    fn link_contents_are_compared_only_between_store_files_of_equal_size() {
        use std::os::unix::fs::symlink;
        let root = TempDir::new("same");
        let store = root.path().join("store");
        std::fs::create_dir(&store).unwrap();
        let put = |name: &str, text: &str| {
            let p = store.join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let a = put("a", "same\n");
        let b = put("b", "same\n");
        let c = put("c", "diff\n");
        let d = put("d", "longer\n");
        let same = |x: &Path, y: &Path| same_store_content(x, y, &store);
        assert!(same(&a, &a));
        assert!(same(&a, &b), "same content at another store path");
        assert!(!same(&a, &c));
        assert!(!same(&a, &d));
        // `..` resolved: the same file by a detour.
        assert!(same(&store.join("zz/../a"), &b));

        // A FIFO, /dev/zero, or a path outside the store is never read:
        // these return at once (a read would block or never end).
        let fifo = store.join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(!same(&fifo, &a));
        assert!(!same(Path::new("/dev/zero"), &a));
        let escape = store.join("../outside");
        std::fs::write(&escape, "same\n").unwrap();
        assert!(!same(&escape, &a), "outside the store: paths differ");
        // A store path that is a symlink: compared by path, not followed.
        let link = store.join("link");
        symlink(&a, &link).unwrap();
        assert!(!same(&link, &b));
        assert!(same(&link, &link));
        // Relative targets are never store paths.
        assert!(!same(Path::new("a"), &a));
    }
}
