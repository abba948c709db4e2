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
use crate::sys::dirfd::{split, DirFd, Walk};

/// Whether the home holds what `owned` records: every link with its
/// target, every copy with its content and mode, every directory hearth
/// made still a directory. Never follows a symlink below the home; any
/// error reading is "no" (the full path then says what it is).
pub fn home_matches(home: &Path, owned: &Owned) -> bool {
    let Ok(Some(root)) = DirFd::open(home, None) else {
        return false;
    };
    let mut walk = Walk::new(root);
    let entries_match = owned.entries.iter().all(|(path, rec)| {
        let (parent, name) = split(path.as_str());
        let Some(dir) = walk.dir(parent) else {
            return false;
        };
        match rec {
            Recorded::Symlink { target } => dir.link_is(name, target),
            Recorded::Copy(c) => copy_matches(dir, name, &c.sha256, c.mode, c.size),
        }
    });
    entries_match && owned.dirs.iter().all(|d| walk.dir(d.as_str()).is_some())
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
