//! Looking at a home: what is at every path a plan is about, found without
//! following symlinks and without writing anything.

use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::fxhash::{FxHashMap as HashMap, FxHashSet as HashSet};
use crate::manifest::{File, FileType, RelPath};
use crate::plan::{Observed, Owned, Recorded, Seen, SourceInfo};

/// A directory in the way is listed up to this many paths; past that the
/// conflict message just says "a directory".
const LIST_LIMIT: usize = 10_000;

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
        if !wanted.insert(p.clone()) {
            return;
        }
        let mut cur = p.parent();
        while let Some(dir) = cur {
            cur = dir.parent();
            if !wanted.insert(dir) {
                break;
            }
        }
    };
    old.entries.keys().for_each(&mut add);
    old.dirs.iter().for_each(&mut add);
    new.iter().for_each(|f| add(&f.target));
    // Parents before children: bucketed by depth, no sort of path strings.
    let mut by_depth: Vec<Vec<RelPath>> = Vec::new();
    for p in wanted {
        let d = p.depth();
        if by_depth.len() <= d {
            by_depth.resize_with(d + 1, Vec::new);
        }
        by_depth[d].push(p);
    }

    let new_by_target: HashMap<&RelPath, &File> = new.iter().map(|f| (&f.target, f)).collect();
    let mut seen = Observed::default();

    // Outermost first: once a parent is known not to be a real directory,
    // nothing below it is looked at, because the lookup would follow it.
    for p in by_depth.into_iter().flatten() {
        let reachable = match p.parent() {
            None => true,
            Some(parent) => matches!(seen.paths.get(&parent), Some(Seen::Dir { .. })),
        };
        let found = if reachable {
            let want_hash = new_by_target
                .get(&p)
                .is_some_and(|f| f.kind == FileType::Copy)
                || matches!(old.entries.get(&p), Some(Recorded::Copy { .. }));
            let list = new_by_target.contains_key(&p);
            let mut found = inspect(home, &p, want_hash, list)?;
            if let Seen::Symlink { target, dangling } = &mut found {
                // A stat through the link costs a syscall per file; only a
                // link that is neither wanted nor hearth's own gets reported.
                let expected = new_by_target.get(&p).is_some_and(|f| f.source == *target)
                    || matches!(old.entries.get(&p), Some(Recorded::Symlink { target: t }) if t == target);
                if !expected {
                    // Only the existence of what it points at; never opened.
                    *dangling = std::fs::metadata(p.in_home(home)).is_err();
                }
            }
            found
        } else {
            Seen::Missing
        };
        seen.paths.insert(p, found);
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
            },
        );
    }
    Ok(seen)
}

/// What is at `home/rel`, not following a symlink there. The caller ensures
/// every parent is a real directory.
pub fn inspect(home: &Path, rel: &RelPath, want_hash: bool, list: bool) -> Result<Seen, Error> {
    let path = rel.in_home(home);
    let err = |source| Error::Inspect {
        path: path.clone(),
        source,
    };
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Seen::Missing),
        Err(e) if e.raw_os_error() == Some(nix::libc::ENOTDIR) => return Ok(Seen::Missing),
        Err(e) => return Err(err(e)),
    };
    let ft = meta.file_type();
    Ok(if ft.is_symlink() {
        let target = std::fs::read_link(&path).map_err(err)?;
        // Whether it dangles is filled in by `look` where a report needs it.
        Seen::Symlink {
            target,
            dangling: false,
        }
    } else if ft.is_file() {
        let sha256 = if want_hash {
            Some(sha256_file(&path).map_err(err)?)
        } else {
            None
        };
        Seen::File {
            size: meta.len(),
            mode: meta.mode() & 0o7777,
            sha256,
        }
    } else if ft.is_dir() {
        let below = if list {
            list_below(&path, rel).map_err(err)?
        } else {
            None
        };
        Seen::Dir { below }
    } else {
        let kind = if ft.is_fifo() {
            "FIFO"
        } else if ft.is_socket() {
            "socket"
        } else if ft.is_block_device() {
            "block device"
        } else if ft.is_char_device() {
            "character device"
        } else {
            "special file"
        };
        Seen::Special { kind: kind.into() }
    })
}

/// Every path below `dir` (relative to the home), or `None` past the limit.
fn list_below(dir: &Path, rel: &RelPath) -> io::Result<Option<Vec<RelPath>>> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), rel.as_str().to_string())];
    while let Some((abs, relstr)) = stack.pop() {
        for entry in std::fs::read_dir(&abs)? {
            let entry = entry?;
            let name = entry.file_name();
            let child_rel = format!("{relstr}/{}", name.to_string_lossy());
            if entry.file_type()?.is_dir() {
                stack.push((entry.path(), child_rel.clone()));
            }
            match RelPath::parse(&child_rel) {
                Ok(p) => out.push(p),
                // A name that is not UTF-8 cannot be one of hearth's own.
                Err(_) => out.push(rel.with_suffix("/?")),
            }
            if out.len() > LIST_LIMIT {
                return Ok(None);
            }
        }
    }
    out.sort();
    Ok(Some(out))
}

/// Whether anything exists at `home/rel` (for choosing free backup names).
pub fn exists(home: &Path, rel: &RelPath) -> bool {
    std::fs::symlink_metadata(rel.in_home(home)).is_ok()
}

pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = std::fs::File::open(path)?;
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
