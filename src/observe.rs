//! Looking at a home: what is at every path a plan is about, found without
//! following symlinks and without writing anything.

use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::dirfd::{self, DirFd};
use crate::fxhash::{FxHashMap as HashMap, FxHashSet as HashSet};
use crate::manifest::{File, FileType, RelPath};
use crate::plan::{Observed, Owned, Recorded, Seen, SourceInfo};

/// A directory in the way is listed up to this many paths; past that the
/// conflict message just says "a directory".
const LIST_LIMIT: usize = 10_000;

/// Directory descriptors kept open while looking at a home.
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
pub fn look(home: &Path, old: &Owned, new: &[File]) -> Result<Observed, Error> {
    // Each path once, with its parents; a parent already present means
    // all of its own parents are too.
    let mut wanted: HashSet<RelPath> = HashSet::default();
    let mut add = |p: &RelPath| {
        p.insert_with_parents(&mut wanted);
    };
    old.entries.keys().for_each(&mut add);
    old.dirs.iter().for_each(&mut add);
    new.iter().for_each(|f| add(&f.target));
    // Each directory's entries are looked at through one descriptor of it,
    // outermost directories first: a lookup then walks one name, never a
    // path, so it is cheap and cannot be sent elsewhere by a symlink swapped
    // into a parent. Below a parent that is not a real directory, nothing
    // is looked at (it would be followed).
    let mut children: HashMap<Option<RelPath>, Vec<RelPath>> = HashMap::default();
    for p in wanted {
        children.entry(p.parent()).or_default().push(p);
    }
    let mut parents: Vec<(usize, Option<RelPath>)> = children
        .keys()
        .map(|p| (p.as_ref().map_or(0, |d| d.depth() + 1), p.clone()))
        .collect();
    parents.sort_unstable_by_key(|(depth, _)| *depth);

    let new_by_target: HashMap<&RelPath, &File> = new.iter().map(|f| (&f.target, f)).collect();
    let mut seen = Observed::default();
    let mut open: HashMap<RelPath, (usize, DirFd)> = HashMap::default();

    let mut level = 0;
    for (depth, parent) in parents {
        let Some(kids) = children.remove(&parent) else {
            continue;
        };
        if depth != level {
            // Only the previous level's descriptors can be parents from here on.
            open.retain(|_, (d, _)| *d + 2 >= depth);
            level = depth;
        }
        let reachable = match &parent {
            None => true,
            Some(d) => matches!(seen.paths.get(d), Some(Seen::Dir { .. })),
        };
        let dir = if reachable {
            let via = parent
                .as_ref()
                .and_then(|d| Some((d.parent(), d.file_name())).filter(|_| d.depth() > 0))
                .and_then(|(up, name)| up.and_then(|u| open.get(&u)).map(|(_, fd)| (fd, name)));
            let opened = match via {
                Some((up, name)) => up.open_dir(name),
                None => DirFd::open(home, parent.as_ref()),
            };
            opened.map_err(|source| Error::Inspect {
                path: parent
                    .as_ref()
                    .map_or(home.to_path_buf(), |d| d.in_home(home)),
                source,
            })?
        } else {
            None
        };
        for p in kids {
            let Some(dir) = &dir else {
                seen.paths.insert(p, Seen::Missing);
                continue;
            };
            let wanted = new_by_target.get(&p);
            let recorded = old.entries.get(&p);
            let want_hash = wanted.is_some_and(|f| f.kind == FileType::Copy)
                || matches!(recorded, Some(Recorded::Copy { .. }));
            let mut found = inspect_retrying(home, dir, &p, want_hash, wanted.is_some())?;
            if let Seen::Symlink { target, dangling } = &mut found {
                // A stat through the link costs a syscall per file; only a
                // link that is neither wanted nor hearth's own gets reported.
                let expected = wanted.is_some_and(|f| f.source == *target)
                    || matches!(recorded, Some(Recorded::Symlink { target: t }) if t == target);
                if !expected {
                    // Only the existence of what it points at; never opened.
                    *dangling = dir.stat(p.file_name(), true).is_err();
                }
            }
            seen.paths.insert(p, found);
        }
        // Kept for opening this directory's subdirectories with one lookup;
        // bounded so that a wide home does not run out of descriptors.
        if let (Some(d), Some(fd)) = (parent, dir) {
            if open.len() < MAX_OPEN_DIRS {
                open.insert(d, (depth - 1, fd));
            }
        }
    }

    for f in new.iter().filter(|f| f.kind == FileType::Copy) {
        if seen.sources.contains_key(&f.source) {
            continue;
        }
        let meta = std::fs::metadata(&f.source).map_err(|source| Error::Source {
            path: f.source.clone(),
            target: f.target.clone(),
            source,
        })?;
        if !meta.is_file() {
            return Err(Error::SourceNotFile {
                path: f.source.clone(),
                target: f.target.clone(),
            });
        }
        let sha256 = sha256_file(&f.source).map_err(|source| Error::Source {
            path: f.source.clone(),
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
    Ok(seen)
}

/// `inspect_at`, tried again when it fails: an entry replaced between its
/// stat and the readlink or open that follows (a symlink swapped for a
/// directory) fails the second call, and a fresh look then sees what is
/// there now.
fn inspect_retrying(
    home: &Path,
    dir: &DirFd,
    rel: &RelPath,
    want_hash: bool,
    list: bool,
) -> Result<Seen, Error> {
    let mut tries = 1;
    loop {
        match inspect_at(home, dir, rel, want_hash, list) {
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
    want_hash: bool,
    list: bool,
) -> Result<Seen, Error> {
    use nix::sys::stat::SFlag;
    let path = || rel.in_home(home);
    let err = |e: nix::errno::Errno| Error::Inspect {
        path: path(),
        source: e.into(),
    };
    let name = rel.file_name();
    let st = match dir.stat(name, false) {
        Ok(st) => st,
        Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) => return Ok(Seen::Missing),
        Err(e) => return Err(err(e)),
    };
    let kind = dirfd::file_kind(&st);
    // mode_t is u32 on Linux and u16 on macOS.
    #[allow(clippy::unnecessary_cast)]
    let mode = (st.st_mode as u32) & 0o7777;
    Ok(if kind == SFlag::S_IFLNK {
        let target = dir.read_link(name).map_err(err)?;
        Seen::Symlink {
            target,
            dangling: false,
        }
    } else if kind == SFlag::S_IFREG {
        let sha256 = if want_hash {
            let hashed = dir.open_file(name).and_then(sha256_reader);
            Some(hashed.map_err(|source| Error::Inspect {
                path: path(),
                source,
            })?)
        } else {
            None
        };
        Seen::File {
            size: st.st_size as u64,
            mode,
            sha256,
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
    if !list_into(&dir, rel, rel.as_str(), &mut out)? {
        return Ok(None);
    }
    out.sort();
    Ok(Some(out))
}

/// Adds what is below `dir` (at `relstr`) to `out`; false past the limit.
/// One descriptor per level is open at a time.
fn list_into(dir: &DirFd, rel: &RelPath, relstr: &str, out: &mut Vec<RelPath>) -> io::Result<bool> {
    for (name, is_dir) in dir.entries()? {
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
            // Gone or replaced since it was listed: nothing below it to count.
            if let Some(sub) = dir.open_dir(name.as_os_str())? {
                if !list_into(&sub, rel, &child, out)? {
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

pub fn sha256_file(path: &Path) -> io::Result<String> {
    sha256_reader(std::fs::File::open(path)?)
}

pub fn sha256_reader(mut file: std::fs::File) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
