//! Full snapshots of a tree (paths, types, link targets, content hashes,
//! modes, owners) to compare a home before and after, and `redact` to make
//! hearth's output stable for insta.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Every path under a root, without following symlinks. Equality compares
/// `nodes` (what is there); `stamps` (inode, mtime, ctime) tell whether a
/// path was rewritten even with the same content.
#[derive(Clone)]
pub struct Snapshot {
    pub nodes: BTreeMap<PathBuf, Node>,
    pub stamps: BTreeMap<PathBuf, Stamp>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    /// Permission bits (`& 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    File { size: u64, sha256: String },
    Dir,
    Symlink { target: PathBuf },
    Fifo,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub ino: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

/// Snapshot of `root`, itself included as ".". Each of `excludes` (relative
/// to root) is left out with everything below it.
pub fn snapshot(root: impl AsRef<Path>, excludes: &[&str]) -> Snapshot {
    let mut snap = Snapshot {
        nodes: BTreeMap::new(),
        stamps: BTreeMap::new(),
    };
    let excludes: BTreeSet<&Path> = excludes.iter().map(Path::new).collect();
    walk(root.as_ref(), Path::new("."), &excludes, &mut snap);
    snap
}

fn walk(abs: &Path, rel: &Path, excludes: &BTreeSet<&Path>, snap: &mut Snapshot) {
    let meta = fs::symlink_metadata(abs).unwrap_or_else(|e| panic!("lstat {}: {e}", abs.display()));
    let file_type = meta.file_type();
    let kind = if file_type.is_symlink() {
        let target =
            fs::read_link(abs).unwrap_or_else(|e| panic!("readlink {}: {e}", abs.display()));
        Kind::Symlink { target }
    } else if file_type.is_file() {
        let content = fs::read(abs).unwrap_or_else(|e| panic!("read {}: {e}", abs.display()));
        Kind::File {
            size: meta.len(),
            sha256: hex(&Sha256::digest(&content)),
        }
    } else if file_type.is_dir() {
        Kind::Dir
    } else if std::os::unix::fs::FileTypeExt::is_fifo(&file_type) {
        Kind::Fifo
    } else {
        Kind::Other
    };
    let is_dir = kind == Kind::Dir;
    snap.nodes.insert(
        rel.to_owned(),
        Node {
            kind,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
        },
    );
    snap.stamps.insert(
        rel.to_owned(),
        Stamp {
            ino: meta.ino(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        },
    );
    if !is_dir {
        return;
    }
    let mut names: Vec<_> = fs::read_dir(abs)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", abs.display()))
        .map(|entry| entry.expect("read_dir entry").file_name())
        .collect();
    names.sort();
    for name in names {
        // Joining onto "." would keep a "./" prefix.
        let child_rel = if rel == Path::new(".") {
            PathBuf::from(&name)
        } else {
            rel.join(&name)
        };
        if !excludes.contains(child_rel.as_path()) {
            walk(&abs.join(&name), &child_rel, excludes, snap);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl PartialEq for Snapshot {
    fn eq(&self, other: &Self) -> bool {
        self.nodes == other.nodes
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (path, node) in &self.nodes {
            writeln!(f, "{}", line(path, node))?;
        }
        Ok(())
    }
}

/// One line of the listing. The owner is shown only when it is not the
/// user running the tests, so that listings are the same for root and others.
fn line(path: &Path, node: &Node) -> String {
    let what = match &node.kind {
        Kind::File { size, sha256 } => {
            format!("file  {:04o} {size}B sha256:{}", node.mode, &sha256[..16])
        }
        Kind::Dir => format!("dir   {:04o}", node.mode),
        Kind::Symlink { target } => format!("link  -> {}", target.display()),
        Kind::Fifo => format!("fifo  {:04o}", node.mode),
        Kind::Other => format!("other {:04o}", node.mode),
    };
    let me = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    let owner = if (node.uid, node.gid) == me {
        String::new()
    } else {
        format!(" owner {}:{}", node.uid, node.gid)
    };
    format!("{:<40} {what}{owner}", path.display())
}

impl Snapshot {
    /// Readable differences of content (`-` before, `+` after); empty when equal.
    pub fn diff(&self, after: &Snapshot) -> Vec<String> {
        let paths: BTreeSet<&PathBuf> = self.nodes.keys().chain(after.nodes.keys()).collect();
        let mut out = Vec::new();
        for path in paths {
            let (old, new) = (self.nodes.get(path), after.nodes.get(path));
            if old == new {
                continue;
            }
            if let Some(old) = old {
                out.push(format!("- {}", line(path, old)));
            }
            if let Some(new) = new {
                out.push(format!("+ {}", line(path, new)));
            }
        }
        out
    }
}

/// Panics, listing the differences, unless both snapshots hold the same content.
#[track_caller]
pub fn assert_same(before: &Snapshot, after: &Snapshot) {
    let diff = before.diff(after);
    assert!(diff.is_empty(), "the tree changed:\n{}", diff.join("\n"));
}

/// `assert_same`, and also that no path was rewritten: same inode, mtime and
/// ctime everywhere (a no-op must write nothing, not rewrite the same thing).
#[track_caller]
pub fn assert_untouched(before: &Snapshot, after: &Snapshot) {
    assert_same(before, after);
    let touched: Vec<String> = before
        .stamps
        .iter()
        .filter_map(|(path, old)| {
            let new = &after.stamps[path];
            let mut what = Vec::new();
            if old.ino != new.ino {
                what.push(format!("inode {} -> {}", old.ino, new.ino));
            }
            if old.mtime_ns != new.mtime_ns {
                what.push(format!("mtime {} -> {}", old.mtime_ns, new.mtime_ns));
            }
            if old.ctime_ns != new.ctime_ns {
                what.push(format!("ctime {} -> {}", old.ctime_ns, new.ctime_ns));
            }
            (!what.is_empty()).then(|| format!("  {}: {}", path.display(), what.join(", ")))
        })
        .collect();
    assert!(
        touched.is_empty(),
        "paths were rewritten:\n{}",
        touched.join("\n")
    );
}

/// Makes output stable for insta: applies `replacements` in order, then
/// shows every `/nix/store/<hash>-` as `/nix/store/HASH-`.
pub fn redact(text: &str, replacements: &[(&str, &str)]) -> String {
    const STORE: &str = "/nix/store/";
    let mut text = text.to_owned();
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    // Nix's base-32 alphabet (no e, o, t, u).
    let is_hash = |h: &[u8]| {
        h.len() == 33
            && h[32] == b'-'
            && h[..32]
                .iter()
                .all(|c| b"0123456789abcdfghijklmnpqrsvwxyz".contains(c))
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(i) = rest.find(STORE) {
        let after = &rest[i + STORE.len()..];
        out.push_str(&rest[..i + STORE.len()]);
        if after.len() >= 33 && is_hash(&after.as_bytes()[..33]) {
            out.push_str("HASH-");
            rest = &after[33..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}
