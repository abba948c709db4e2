//! Activating the generation that is already applied, confirmed from the
//! record alone: when the state says this generation is applied (for this
//! user and home, without activation steps), no activation is pending, its
//! GC root and packages profile are in place, Home Manager has no
//! generation here, and every path hearth recorded still holds what it
//! put there, nothing would change, and nothing does. That is established
//! without reading the manifest or planning: one `readlinkat` per link
//! (a copy is read and hashed, as a plan would), each directory opened
//! once. Anything else, and the activation takes the full path (observe,
//! plan), which decides what to do; this module only ever says "nothing
//! to do" or "look".

use std::path::Path;

use crate::home::plan::{Owned, Recorded};
use crate::home::state::Data;
use crate::sys::dirfd::DirFd;

/// Whether the home holds what `owned` records: every link with its
/// target, every copy with its content and mode, every directory hearth
/// made still a directory. Never follows a symlink below the home; any
/// error reading is "no" (the full path then says what it is).
pub fn home_matches(home: &Path, owned: &Owned) -> bool {
    let Ok(Some(root)) = DirFd::open(home, None) else {
        return false;
    };
    let mut walk = Walk {
        root,
        open: Vec::new(),
    };
    let entries_match = owned.entries.iter().all(|(path, rec)| {
        let (parent, name) = split(path.as_str());
        let Some(dir) = walk.dir(parent) else {
            return false;
        };
        match rec {
            Recorded::Symlink { target } => dir.link_is(name, target),
            Recorded::Copy { sha256, mode, size } => copy_matches(dir, name, sha256, *mode, *size),
        }
    });
    entries_match && owned.dirs.iter().all(|d| walk.dir(d.as_str()).is_some())
}

/// The parent directory and the name of a normalized relative path.
fn split(path: &str) -> (&str, &str) {
    match path.bytes().rposition(|b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

fn copy_matches(dir: &DirFd, name: &str, sha256: &str, mode: u32, size: Option<u64>) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Ok(file) = dir.open_file(name) else {
        return false;
    };
    let Ok(meta) = file.metadata() else {
        return false;
    };
    if meta.permissions().mode() & 0o7777 != mode || size.is_some_and(|s| s != meta.len()) {
        return false;
    }
    crate::home::observe::sha256_reader(file).is_ok_and(|h| h == sha256)
}

/// The directories open along the path of the last one asked for, so
/// that paths in the same or a nearby directory open nothing again.
struct Walk {
    root: DirFd,
    /// (relative path, descriptor), each the parent of the next.
    open: Vec<(String, DirFd)>,
}

impl Walk {
    /// The directory `rel` ("" is the home), opened one component at a
    /// time without following symlinks; `None` when it is not a directory.
    fn dir(&mut self, rel: &str) -> Option<&DirFd> {
        while let Some((p, _)) = self.open.last() {
            let ancestor = rel.len() > p.len()
                && rel.as_bytes()[p.len()] == b'/'
                && rel.starts_with(p.as_str());
            if rel == p || ancestor {
                break;
            }
            self.open.pop();
        }
        loop {
            let have = self.open.last().map_or(0, |(p, _)| p.len());
            if have == rel.len() {
                break;
            }
            let start = if have == 0 { 0 } else { have + 1 };
            let end = rel[start..]
                .bytes()
                .position(|b| b == b'/')
                .map_or(rel.len(), |i| start + i);
            let base = self.open.last().map_or(&self.root, |(_, d)| d);
            let next = base.open_dir(&rel[start..end]).ok()??;
            self.open.push((rel[..end].to_string(), next));
        }
        Some(self.open.last().map_or(&self.root, |(_, d)| d))
    }
}

/// Whether activating `gen` again can be confirmed from `data` alone
/// (before looking at the home): it is the applied generation, recorded
/// for this user and home, without activation steps, with its packages
/// environment recorded.
pub fn applies_to(data: &Data, gen: &Path, user: &str, home: &Path) -> bool {
    let Some(cur) = &data.current else {
        return false;
    };
    let Some(facts) = &cur.facts else {
        return false;
    };
    let recorded = data.find(cur.number).is_some_and(|g| g.packages.is_some());
    recorded
        && !facts.steps
        && facts.user == user
        && same_path(&facts.home, home)
        && same_path(&cur.generation, gen)
}

fn same_path(a: &Path, b: &Path) -> bool {
    a.components().eq(b.components())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_at_their_last_slash() {
        assert_eq!(split("a"), ("", "a"));
        assert_eq!(split("a/b"), ("a", "b"));
        assert_eq!(split(".config/x/y.conf"), (".config/x", "y.conf"));
    }
}
