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
//!
//! It holds no copy of a link's target: a link holding what was expected
//! there (nearly every one, in a switch) is kept as which one it held, and
//! `observe` shares the target it already has; another target is handed
//! over, not cloned.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;

use crate::manifest::RelPath;
use crate::sys::dirfd::{at_or_below, split, DirFd, Walk};
use crate::sys::fxhash::FxHashMap;

/// Below this many links, a thread costs more than it saves: its own
/// directory descriptors (an `openat` and a `close` for each directory it
/// reads in) and its start. Measured on a 2-core VM: a switch of 1,000
/// files was 2% slower with the helper, one of 10,000 files 8% faster.
const WORTH_A_THREAD: usize = 4096;

/// The targets a link at a path may hold as far as hearth knows: the source
/// the new generation wants there and the target hearth recorded. A link
/// found holding one of them shares it rather than holding a copy.
#[derive(Clone, Copy, Debug, Default)]
pub struct Expected<'a> {
    pub wanted: Option<&'a Arc<Path>>,
    pub recorded: Option<&'a Arc<Path>>,
}

/// What a link held: one of the expected targets, or another.
enum Held<'a> {
    Wanted(&'a Arc<Path>),
    Recorded(&'a Arc<Path>),
    Other(Arc<Path>),
}

impl<'a> Expected<'a> {
    /// `target`, the bytes of a link, as a path: the expected one it is
    /// (shared, nothing allocated), or a new one.
    pub fn share(&self, target: &[u8]) -> Arc<Path> {
        match self.held(target) {
            Held::Wanted(t) | Held::Recorded(t) => t.clone(),
            Held::Other(t) => t,
        }
    }

    fn held(&self, target: &[u8]) -> Held<'a> {
        let is = |t: &&Arc<Path>| t.as_os_str().as_bytes() == target;
        if let Some(t) = self.wanted.filter(is) {
            Held::Wanted(t)
        } else if let Some(t) = self.recorded.filter(is) {
            Held::Recorded(t)
        } else {
            Held::Other(Arc::from(Path::new(std::ffi::OsStr::from_bytes(target))))
        }
    }
}

/// Whether a link is expected at the path of a slot, and what it may hold.
pub type ExpectAt<'a> = dyn Fn(usize) -> Option<Expected<'a>> + Sync + 'a;

// The state of a slot: not read yet; taken by `observe` (which reads it
// itself, and has read every link before it); read by the helper, holding
// the wanted or the recorded target, or another one (in `other`); or
// failed, with the errno in the low bits.
const UNREAD: u32 = 0;
const TAKEN: u32 = 1;
const WANTED: u32 = 2;
const RECORDED: u32 = 3;
const OTHER: u32 = 4;
const FAILED: u32 = 1 << 16;

/// The links to read, and what has been read of them.
pub struct Ahead<'a> {
    /// Every path `observe` looks at, in the order it looks at them: a
    /// path's slot is its position.
    paths: &'a [RelPath],
    expect: &'a ExpectAt<'a>,
    state: Vec<AtomicU32>,
    /// The targets read that were not expected, until taken.
    other: Mutex<FxHashMap<usize, Arc<Path>>>,
}

impl<'a> Ahead<'a> {
    /// The links at those of `paths` where `expect` expects one.
    pub fn new(paths: &'a [RelPath], expect: &'a ExpectAt<'a>) -> Self {
        let state = std::iter::repeat_with(|| AtomicU32::new(UNREAD))
            .take(paths.len())
            .collect();
        Ahead {
            paths,
            expect,
            state,
            other: Mutex::default(),
        }
    }

    /// Whether a helper thread is worth starting for about `links` links:
    /// enough of them, and a second core to run it. Asked before anything
    /// is built for it.
    pub fn worth_a_thread(links: usize) -> bool {
        links >= WORTH_A_THREAD && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
    }

    /// The helper: reads the links from the end of the list (in `observe`'s
    /// order, each directory's entries together, so that each directory is
    /// opened once), skipping those already read, until it meets `observe`.
    pub fn read_from_the_end(&self, home: DirFd) {
        let mut walk = Walk::new(home);
        // The last directory that could not be opened: the paths below it
        // come next, and each would try it again (a first activation's
        // directories are all missing).
        let mut closed: Option<&str> = None;
        for (i, path) in self.paths.iter().enumerate().rev() {
            match self.state[i].load(Ordering::Relaxed) {
                UNREAD => {}
                // `observe` is here: it has taken everything before.
                TAKEN => break,
                _ => continue,
            }
            let Some(expect) = (self.expect)(i) else {
                continue;
            };
            let (parent, name) = split(path.as_str());
            if closed.is_some_and(|d| at_or_below(parent, d)) {
                continue;
            }
            // Below what is not a directory, `observe` reads nothing either.
            let Some(dir) = walk.dir(parent) else {
                closed = Some(parent);
                continue;
            };
            self.keep(i, dir.with_link(name, |t| expect.held(t)));
        }
    }

    /// Keeps what the helper read at slot `i`, unless `observe` took it
    /// meanwhile.
    fn keep(&self, i: usize, read: nix::Result<Held>) {
        let code = match read {
            Ok(Held::Wanted(_)) => WANTED,
            Ok(Held::Recorded(_)) => RECORDED,
            Err(e) => FAILED | e as u32,
            Ok(Held::Other(target)) => {
                // Stored under the lock that `take` holds to remove it: seen
                // as OTHER, it is in the map.
                let Ok(mut other) = self.other.lock() else {
                    return;
                };
                if self.state[i]
                    .compare_exchange(UNREAD, OTHER, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    other.insert(i, target);
                }
                return;
            }
        };
        let _ = self.state[i].compare_exchange(UNREAD, code, Ordering::Release, Ordering::Relaxed);
    }

    /// What the link at slot `i` holds (as `DirFd::read_link` says, its
    /// target shared from `expect` when it is one of those), when it was
    /// read ahead; `None`: read it now. Either way, the helper will not
    /// read it after this.
    pub fn take(&self, i: usize, expect: &Expected) -> Option<Result<Arc<Path>, Errno>> {
        // Claimed when not read yet, so that the helper skips it; the
        // caller reads it itself.
        let Err(code) =
            self.state
                .get(i)?
                .compare_exchange(UNREAD, TAKEN, Ordering::AcqRel, Ordering::Acquire)
        else {
            return None;
        };
        match code {
            WANTED => expect.wanted.cloned().map(Ok),
            RECORDED => expect.recorded.cloned().map(Ok),
            OTHER => self.other.lock().ok()?.remove(&i).map(Ok),
            #[expect(clippy::cast_possible_wrap, reason = "an errno, below FAILED")]
            code if code > FAILED => Some(Err(Errno::from_raw((code - FAILED) as i32))),
            // Taken twice: read again.
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every link is read once, by the helper or by the caller, and what
    /// the helper read is what the link holds: the expected target itself
    /// when it is one.
    #[test]
    fn links_are_read_once_by_either_side() {
        let home = std::env::temp_dir().join(format!("hearth-ahead-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        let names: Vec<String> = (0..200).map(|i| format!("d{}/l{i}", i % 7)).collect();
        let targets: Vec<Arc<Path>> = (0..200)
            .map(|i| Arc::from(Path::new(&format!("/target/{i}"))))
            .collect();
        for (n, t) in names.iter().zip(&targets) {
            let path = home.join(n);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(t, &path).unwrap();
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
            "d2",
        ]);
        let paths: Vec<RelPath> = all.iter().map(|p| RelPath::parse(p).unwrap()).collect();
        // The links of every third name are expected to hold their target
        // (as wanted or as recorded); the rest are not known; no link is
        // expected at the directory "d2".
        let at = |p: &RelPath| names.iter().position(|n| n == p.as_str());
        let expect_at = |slot: usize| -> Option<Expected> {
            let p = &paths[slot];
            let i = at(p);
            let t = i.map(|i| &targets[i]);
            (p.as_str() != "d2").then_some(match i.map(|i| i % 3) {
                Some(1) => Expected {
                    wanted: t,
                    recorded: None,
                },
                Some(2) => Expected {
                    wanted: None,
                    recorded: t,
                },
                _ => Expected::default(),
            })
        };
        let ahead = Ahead::new(&paths, &expect_at);
        let root = DirFd::open(&home, None).unwrap().unwrap();
        // The first ones taken before the helper starts: read by the caller.
        assert_eq!(ahead.take(0, &expect_at(0).unwrap()), None);
        std::thread::scope(|s| {
            s.spawn(|| ahead.read_from_the_end(root));
        });
        for (i, p) in paths.iter().enumerate().take(names.len()).skip(1) {
            let got = ahead.take(i, &expect_at(i).unwrap());
            assert_eq!(got, Some(Ok(targets[i].clone())), "{p}");
            let shared = Arc::ptr_eq(&got.unwrap().unwrap(), &targets[i]);
            assert_eq!(shared, i % 3 != 0, "{p}: shared only when expected");
        }
        let take = |p: &str| {
            let i = all.iter().rposition(|a| *a == p).unwrap();
            ahead.take(i, &expect_at(i).unwrap_or_default())
        };
        assert_eq!(take("plain"), Some(Err(Errno::EINVAL)));
        assert_eq!(take("missing"), Some(Err(Errno::ENOENT)));
        // A path listed twice is read at each of its places.
        assert_eq!(take("d1/l1"), Some(Ok(targets[1].clone())));
        // Below a file: not read by the helper, left to the caller.
        assert_eq!(take("plain/below"), None);
        // Below a missing directory (tried once): likewise.
        for p in ["gone/a", "gone/b", "gone/c/d"] {
            assert_eq!(take(p), None, "{p}");
        }
        // No link expected there: not read.
        assert_eq!(take("d2"), None);
        // Past the list.
        assert_eq!(ahead.take(all.len(), &Expected::default()), None);
        std::fs::remove_dir_all(&home).unwrap();
    }
}
