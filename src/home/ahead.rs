//! Links read ahead on a second thread while `observe` looks at the home.
//! Observing is one `readlinkat` per path where a link is expected (a
//! switch of 1,000 files makes a thousand of them, most of its system
//! calls besides the changes); on a machine with a second core, a helper
//! thread reads those links from the other end of the list, and `observe`
//! takes what the helper already read instead of reading it again. Each
//! link is read once, by whichever gets there first (rarely by both).
//!
//! What the helper read is what `observe` would have read a moment later:
//! a look at the home, never a decision. Nothing is changed from it; every
//! change still checks, atomically, that its path holds what the plan saw.
//! The helper opens directories as `observe` does, one component at a time
//! and never through a symlink, and reads nothing below a path that is not
//! a directory.

use std::path::PathBuf;
use std::sync::OnceLock;

use nix::errno::Errno;

use crate::sys::dirfd::{at_or_below, split, DirFd, Walk};
use crate::sys::fxhash::FxHashMap;

/// Below this many links, a thread costs more than it saves: its own
/// directory descriptors (an `openat` and a `close` for each directory it
/// reads in) and its start. Measured on a 2-core VM: a switch of 1,000
/// files was 2% slower with the helper, one of 10,000 files 8% faster.
const WORTH_A_THREAD: usize = 4096;

/// The links to read, and what has been read of them.
pub struct Ahead<'a> {
    paths: Vec<&'a str>,
    index: FxHashMap<&'a str, usize>,
    read: Vec<OnceLock<Result<PathBuf, Errno>>>,
}

impl<'a> Ahead<'a> {
    /// The links to read: `paths` without repeats.
    pub fn new(paths: impl IntoIterator<Item = &'a str>) -> Self {
        let mut index = FxHashMap::default();
        let mut list = Vec::new();
        for p in paths {
            index.entry(p).or_insert_with(|| {
                list.push(p);
                list.len() - 1
            });
        }
        let read = std::iter::repeat_with(OnceLock::new)
            .take(list.len())
            .collect();
        Ahead {
            paths: list,
            index,
            read,
        }
    }

    /// Whether a helper thread is worth starting for about `links` links:
    /// enough of them, and a second core to run it. Asked before anything
    /// is built for it.
    pub fn worth_a_thread(links: usize) -> bool {
        links >= WORTH_A_THREAD && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
    }

    /// The helper: reads the links from the end of the list (sorted, so
    /// that each directory is opened once), skipping those already read.
    pub fn read_from_the_end(&self, home: DirFd) {
        let mut order: Vec<usize> = (0..self.paths.len()).collect();
        order.sort_unstable_by(|a, b| self.paths[*b].cmp(self.paths[*a]));
        let mut walk = Walk::new(home);
        // The last directory that could not be opened: the paths below it
        // come next (the list is sorted), and each would try it again (a
        // first activation's directories are all missing).
        let mut closed: Option<&str> = None;
        for i in order {
            let slot = &self.read[i];
            if slot.get().is_some() {
                continue;
            }
            let (parent, name) = split(self.paths[i]);
            if closed.is_some_and(|d| at_or_below(parent, d)) {
                continue;
            }
            // Below what is not a directory, `observe` reads nothing either.
            let Some(dir) = walk.dir(parent) else {
                closed = Some(parent);
                continue;
            };
            let _ = slot.set(dir.read_link(name));
        }
    }

    /// What the link at `path` holds (as `DirFd::read_link` says), when it
    /// was read ahead; `None`: read it now. Either way, the helper will not
    /// read it after this.
    pub fn take(&self, path: &str) -> Option<Result<PathBuf, Errno>> {
        let slot = &self.read[*self.index.get(path)?];
        let mut mine = None;
        // Claimed with a placeholder when not read yet, so that the helper
        // skips it; the caller reads it itself.
        let got = slot.get_or_init(|| {
            mine = Some(());
            Err(Errno::EAGAIN)
        });
        match (mine, got) {
            (Some(()), _) => None,
            (None, got) => Some(got.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every link is read once, by the helper or by the caller, and what
    /// the helper read is what the link holds.
    #[test]
    fn links_are_read_once_by_either_side() {
        let home = std::env::temp_dir().join(format!("hearth-ahead-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        let names: Vec<String> = (0..200).map(|i| format!("d{}/l{i}", i % 7)).collect();
        for (i, n) in names.iter().enumerate() {
            let path = home.join(n);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(format!("/target/{i}"), &path).unwrap();
        }
        std::fs::write(home.join("plain"), "x").unwrap();
        let mut all: Vec<&str> = names.iter().map(String::as_str).collect();
        all.extend([
            "plain",
            "missing",
            "plain/below",
            "d1/l1",
            "gone/a",
            "gone/b",
            "gone/c/d",
        ]);
        let ahead = Ahead::new(all.iter().copied());
        let root = DirFd::open(&home, None).unwrap().unwrap();
        // The first ones taken before the helper starts: read by the caller.
        assert_eq!(ahead.take(&names[0]), None);
        std::thread::scope(|s| {
            s.spawn(|| ahead.read_from_the_end(root));
        });
        for (i, n) in names.iter().enumerate().skip(1) {
            assert_eq!(
                ahead.take(n),
                Some(Ok(PathBuf::from(format!("/target/{i}")))),
                "{n}"
            );
        }
        assert_eq!(ahead.take("plain"), Some(Err(Errno::EINVAL)));
        assert_eq!(ahead.take("missing"), Some(Err(Errno::ENOENT)));
        // Below a file: not read by the helper, left to the caller.
        assert_eq!(ahead.take("plain/below"), None);
        // Below a missing directory (tried once): likewise.
        for p in ["gone/a", "gone/b", "gone/c/d"] {
            assert_eq!(ahead.take(p), None, "{p}");
        }
        assert_eq!(ahead.take("elsewhere"), None);
        std::fs::remove_dir_all(&home).unwrap();
    }
}
