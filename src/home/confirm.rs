//! Activating the generation that is already applied, confirmed from the
//! record alone: when the state says this generation is applied (for this
//! user and home, without activation steps), no activation is pending, its
//! GC root and packages profile are in place, Home Manager has no
//! generation here, and every path hearth recorded still holds what it
//! put there, nothing would change, and nothing does. That is established
//! without reading the manifest or planning: one `readlinkat` per link
//! (a copy is read and hashed, as a plan would), each directory opened
//! once by each thread that reads in it (from 4,096 links, two share the
//! links; each opens the home for itself, as `observe` does, never through
//! a symlink); except that a directory whose stamp (`stamps`) shows it
//! unchanged since a run read its links stands for them, so that a home
//! left alone costs one `fstatat` per directory. Anything else, and the
//! activation takes the full path (observe, plan), which decides what to
//! do; this module only ever says "nothing to do" or "look".

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::home::plan::{Owned, Recorded};
use crate::home::stamps::{self, Before, Stamp, Stamps};
use crate::home::state::{Data, Loaded};
use crate::sys::dirfd::{split, DirFd, Walk};
use crate::sys::fxhash::{FxHashMap, FxHashSet};

/// Whether the home holds what `owned` records: every link with its
/// target, every copy with its content and mode, every directory hearth
/// made still a directory. Never follows a symlink below the home; any
/// error reading is "no" (the full path then says what it is).
pub fn home_matches(home: &Path, owned: &Owned) -> bool {
    let Ok(Some(root)) = DirFd::open(home, None) else {
        return false;
    };
    entries_match(&mut Walk::new(root), owned, |_| false)
}

/// Where the directory stamps are (see `stamps`), and whether this run
/// may replace them: only an activation holding the lock does.
pub struct StampsAt<'a> {
    pub state_dir: &'a Path,
    pub write: bool,
}

/// [`home_matches`] for a record read with its links apart: each link is
/// checked as it is read from the record's text, then the rest. A link in
/// a directory whose stamp shows it unchanged since its links were last
/// read is not read again (see `stamps`); with every directory so, the
/// links are not even listed. With enough links to read and a second
/// core, a helper thread checks every other run of them: a link is one
/// `readlinkat`, and a home's links are most of what a no-op does besides
/// starting. When everything matches and `at` allows, the stamps are
/// brought up to date.
pub fn record_matches(home: &Path, loaded: &Loaded, at: Option<&StampsAt>) -> bool {
    let Some(cur) = &loaded.data.current else {
        return false;
    };
    let Ok(Some(root)) = DirFd::open(home, None) else {
        return false;
    };
    let links = loaded.managed().saturating_sub(cur.owned.entries.len());
    // The clock is read before any directory is looked at.
    let before = at
        .and_then(|_| Before::now())
        .filter(|_| stamps::keeps_times(&root));
    let dirs = match (at, before) {
        (Some(at), Some(_)) => Some(Dirs::look(&root, loaded, links, at, &cur.txid)),
        _ => None,
    };
    let unchanged = dirs.as_ref().map(|d| &d.unchanged);
    let skip = |parent: &str| unchanged.is_some_and(|u| !u.is_empty() && u.contains(parent));
    let mut walk = Walk::new(root);
    let all_unchanged = dirs.as_ref().is_some_and(Dirs::all_unchanged);
    let links_match = if all_unchanged {
        true
    } else if worth_a_thread(links) && unchanged.is_none_or(FxHashSet::is_empty) {
        // Either side stops at the first link that does not match, and
        // tells the other to stop too.
        let differs = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let helper = std::thread::Builder::new()
                .name("hearth-confirm".into())
                .spawn_scoped(scope, || {
                    let Ok(Some(root)) = DirFd::open(home, None) else {
                        return false;
                    };
                    links_in_share(loaded, &mut Walk::new(root), 1, &differs)
                });
            let mine = links_in_share(loaded, &mut walk, 0, &differs);
            // No helper (it could not be started): its share is checked here.
            let theirs = match helper {
                Ok(helper) => helper.join().unwrap_or(false),
                Err(_) => links_in_share(loaded, &mut walk, 1, &differs),
            };
            mine && theirs
        })
    } else {
        loaded.links_all(|path, dir, name| {
            skip(split(path).0) || link_matches(&mut walk, path, dir, name)
        })
    };
    let is_dir = |d: &str| dirs.as_ref().is_some_and(|dirs| dirs.is_dir(d));
    let matches = links_match && entries_match(&mut walk, &cur.owned, is_dir);
    if let (true, Some(at), Some(dirs), Some(before)) = (matches, at, &dirs, before) {
        if at.write {
            dirs.restamp(at.state_dir, &cur.txid, links, before);
        }
    }
    matches
}

/// The directories of a record's links as this run found them, against
/// their stamps.
struct Dirs {
    stored: Stamps,
    /// Each directory holding a link and each on the way to one (`""`, the
    /// home, too), with its stamp now (`None`: not a directory).
    now: FxHashMap<String, Option<Stamp>>,
    /// Those that are still the directory stamped, with its stamp, each on
    /// the way to it a directory.
    unchanged: FxHashSet<String>,
    /// The stored stamps name every directory (and there are as many links
    /// as when they were written).
    complete: bool,
}

impl Dirs {
    fn look(root: &DirFd, loaded: &Loaded, links: usize, at: &StampsAt, txid: &str) -> Dirs {
        let stored = stamps::read(at.state_dir, txid);
        let complete = stored.complete && stored.links == links;
        let mut now: FxHashMap<String, Option<Stamp>> = FxHashMap::default();
        if complete {
            now.extend(stored.dirs.keys().map(|d| (d.clone(), None)));
        } else {
            now.insert(String::new(), None);
            loaded.links_all(|path, _, _| {
                let mut dir = split(path).0;
                while !now.contains_key(dir) {
                    now.insert(dir.to_string(), None);
                    dir = split(dir).0;
                }
                true
            });
        }
        for (dir, stamp) in &mut now {
            *stamp = stamps::look(root, dir);
        }
        let on_the_way = |dir: &str| {
            let mut d = dir;
            while !d.is_empty() {
                d = split(d).0;
                if !matches!(now.get(d), Some(Some(_))) {
                    return false;
                }
            }
            true
        };
        let unchanged = now
            .iter()
            .filter(|(dir, stamp)| {
                stamp.is_some_and(|s| stored.dirs.get(dir.as_str()) == Some(&s)) && on_the_way(dir)
            })
            .map(|(dir, _)| dir.clone())
            .collect();
        Dirs {
            stored,
            now,
            unchanged,
            complete,
        }
    }

    /// Every directory unchanged, as far as the stored stamps name them all.
    fn all_unchanged(&self) -> bool {
        self.complete && self.unchanged.len() == self.now.len()
    }

    /// Whether `dir` was found a directory, each on the way to it too.
    fn is_dir(&self, dir: &str) -> bool {
        let mut d = dir;
        loop {
            if !matches!(self.now.get(d), Some(Some(_))) {
                return false;
            }
            if d.is_empty() {
                return true;
            }
            d = split(d).0;
        }
    }

    /// Writes the stamps of every directory found settled (its links all
    /// just read or still unchanged), when they differ from the stored ones.
    fn restamp(&self, state_dir: &Path, txid: &str, links: usize, before: Before) {
        let dirs: FxHashMap<String, Stamp> = self
            .now
            .iter()
            .filter_map(|(dir, s)| s.filter(|s| before.settles(s)).map(|s| (dir.clone(), s)))
            .filter(|(dir, _)| self.is_dir(dir))
            .collect();
        let fresh = Stamps {
            complete: dirs.len() == self.now.len(),
            dirs,
            links,
        };
        if fresh != self.stored {
            stamps::write(state_dir, txid, &fresh);
        }
    }
}

/// Links in runs of this many, each run checked by one thread: the
/// record lists links by the directory of their targets and, within it,
/// in the generation's order, where a directory's files mostly come
/// together, so each thread mostly opens directories of its own.
const RUN: usize = 64;

/// Below this many links, starting a thread costs more than it saves. On
/// the 2-core VM of session 13 (medians of interleaved runs), a no-op of
/// 1,000 files took 2.25 ms without the helper and 2.37 ms with it; one of
/// 10,000 files 19.2 and 15.9 ms, one of 100,000 files 158 and 102 ms.
const WORTH_A_THREAD: usize = 4096;

fn worth_a_thread(links: usize) -> bool {
    links >= WORTH_A_THREAD && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}

/// Whether the links of `share` (0 or 1: the even or the odd runs of
/// [`RUN`]) hold what the record says, unless `differs` says that one of
/// the other share does not; sets `differs` when one of its own does not.
fn links_in_share(loaded: &Loaded, walk: &mut Walk, share: usize, differs: &AtomicBool) -> bool {
    let mut i = 0;
    let all = loaded.links_all(|path, dir, name| {
        let mine = (i / RUN) % 2 == share;
        i += 1;
        !mine || (!differs.load(Ordering::Relaxed) && link_matches(walk, path, dir, name))
    });
    if !all {
        differs.store(true, Ordering::Relaxed);
    }
    all
}

/// Whether the link at `path` in the home holds the target `dir` + `name`
/// (a target is the directory and the name it was written as, joined).
fn link_matches(walk: &mut Walk, path: &str, dir: &str, name: &str) -> bool {
    let (parent, file) = split(path);
    walk.dir(parent).is_some_and(|d| {
        d.with_link(file, |found| {
            found.len() == dir.len() + name.len()
                && found.starts_with(dir.as_bytes())
                && found.ends_with(name.as_bytes())
        })
        .unwrap_or(false)
    })
}

/// Whether every entry and directory of `owned` is in the home `walk` is in.
/// `is_dir`: a directory already known to be one (the rest are opened).
fn entries_match(walk: &mut Walk, owned: &Owned, is_dir: impl Fn(&str) -> bool) -> bool {
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
    entries_match
        && owned
            .dirs
            .iter()
            .all(|d| is_dir(d.as_str()) || walk.dir(d.as_str()).is_some())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::home::state::tests::scratch;

    /// A record whose one link, `a`, leads to `dir` + `name`, with the
    /// directory `d` hearth made.
    fn record(dir: &str, name: &str) -> Loaded {
        let text = format!(
            r#"{{"version":2,"current":{{"number":1,"generation":"/nix/store/g1","txid":"t","links":{{"{dir}":{{"a":"{name}"}}}},"copies":{{}},"dirs":["d"]}},"history":[{{"number":1,"path":"/nix/store/g1","time":1}}]}}"#
        );
        Loaded::read(Path::new("state.json"), text).unwrap()
    }

    /// A link read in place matches only its whole target, however the
    /// record splits it; a missing link or directory does not match.
    #[test]
    fn a_link_read_in_place_matches_its_whole_target_only() {
        let home = scratch("record-matches");
        std::os::unix::fs::symlink("/nix/store/x-src/f1", home.join("a")).unwrap();
        std::fs::create_dir(home.join("d")).unwrap();
        assert_eq!(record("/nix/store/x-src/", "f1").managed(), 1);
        assert!(record_matches(
            &home,
            &record("/nix/store/x-src/", "f1"),
            None
        ));
        assert!(record_matches(
            &home,
            &record("/nix/store/", "x-src/f1"),
            None
        ));
        for (dir, name) in [
            ("/nix/store/x-src/", "f10"),
            ("/nix/store/x-src/", "f"),
            ("/nix/store/x-sr/", "f1"),
            ("/nix/store/x-src/", "g1"),
            // Its start and its end, but not all of it.
            ("/nix/store/x-src/", "1"),
            ("/nix/store/", "f1"),
        ] {
            assert!(
                !record_matches(&home, &record(dir, name), None),
                "{dir}{name}"
            );
        }
        std::fs::remove_dir(home.join("d")).unwrap();
        assert!(!record_matches(
            &home,
            &record("/nix/store/x-src/", "f1"),
            None
        ));
        std::fs::remove_file(home.join("a")).unwrap();
        std::fs::create_dir(home.join("d")).unwrap();
        assert!(!record_matches(
            &home,
            &record("/nix/store/x-src/", "f1"),
            None
        ));
        std::fs::remove_dir_all(&home).unwrap();
    }
}
