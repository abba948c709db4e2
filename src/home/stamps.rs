//! Directories known unchanged since their links were last read, by their
//! change time: what lets a no-op confirm a home without reading every link
//! (`confirm`).
//!
//! A symlink's target cannot be changed in place: removing, renaming or
//! making an entry changes its directory's change time (ctime), and nothing
//! a program can do sets a ctime back. So once hearth has read every link
//! it recorded in a directory and found each holding its target, the
//! directory's identity and ctime, taken *before* those reads, stand for
//! them: while the directory is the same one with the same ctime, its links
//! are the ones read. That is git's index, kept per directory, and, like
//! git, it guards against a change made in the same clock tick as the look:
//!
//! - A ctime is kept only when it is older than the coarse clock read before
//!   the look (the clock the kernel stamps changes with), so any later change
//!   gets a later ctime. A ctime with no nanoseconds comes from a filesystem
//!   that keeps whole seconds, where that does not hold, and is never kept.
//! - Only on filesystems that keep nanosecond change times on the disk they
//!   are read from (ext4, XFS, btrfs, tmpfs): not on network or FUSE
//!   filesystems, whose times another machine or program sets.
//! - Each directory on the way from the home is looked at without following
//!   a symlink, so a directory replaced by a link elsewhere is not taken for
//!   the one read.
//! - The stamps name the applied generation's transaction: after any other
//!   activation they are not used, and the next no-op reads every link again.
//!
//! What the stamps cannot see is what no activation could see either: a
//! clock set back to the very tick of an earlier change. A wrong "unchanged"
//! would only mean a no-op that repairs nothing; nothing is ever changed or
//! removed on the strength of a stamp. Copies are always read and hashed: a
//! file's content changes without its directory's ctime.
//!
//! The stamps live in `stamps.json` beside the state, written by a no-op
//! holding the lock (never synced: losing them costs one full read) and
//! read by any command that confirms.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::sys::dirfd::DirFd;
use crate::sys::fxhash::FxHashMap;

/// The stamps file in the state directory.
pub const FILE: &str = "stamps.json";
const FORMAT: u32 = 1;

/// A directory as one look saw it: which directory it was, and when it
/// last changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub dev: u64,
    pub ino: u64,
    pub sec: i64,
    pub nsec: i64,
}

/// The stamps kept for one applied generation.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Stamps {
    /// By directory, relative to the home ("" is the home itself).
    pub dirs: FxHashMap<String, Stamp>,
    /// Every directory holding a recorded link, and every directory on the
    /// way to one, has its stamp here: when all of them are unchanged, the
    /// links need not even be listed.
    pub complete: bool,
    /// How many links the record had when they were written.
    pub links: usize,
}

/// On disk: `{"version":1,"txid":…,"complete":…,"links":…,"dirs":{DIR:[dev,ino,sec,nsec]}}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StampsV1 {
    version: u32,
    txid: String,
    complete: bool,
    links: usize,
    dirs: FxHashMap<String, (u64, u64, i64, i64)>,
}

/// The stamps in `state_dir` for the transaction `txid`; none when there
/// are none, they are another transaction's, or they cannot be read (a
/// stamp only saves work, so nothing about it is an error).
pub fn read(state_dir: &Path, txid: &str) -> Stamps {
    let path = state_dir.join(FILE);
    let mut text = Vec::new();
    let read = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(crate::home::state::OPEN_FLAGS)
        .open(&path)
        .and_then(|f| {
            if f.metadata()?.is_file() {
                (&f).read_to_end(&mut text).map(drop)
            } else {
                Err(std::io::ErrorKind::InvalidData.into())
            }
        });
    match read
        .ok()
        .and_then(|()| serde_json::from_slice::<StampsV1>(&text).ok())
    {
        Some(disk) if disk.version == FORMAT && disk.txid == txid => Stamps {
            dirs: disk
                .dirs
                .into_iter()
                .map(|(d, (dev, ino, sec, nsec))| {
                    (
                        d,
                        Stamp {
                            dev,
                            ino,
                            sec,
                            nsec,
                        },
                    )
                })
                .collect(),
            complete: disk.complete,
            links: disk.links,
        },
        _ => Stamps::default(),
    }
}

/// Replaces the stamps in `state_dir` (renamed into place, not synced);
/// a failure leaves the old ones or none, which only costs a full read.
pub fn write(state_dir: &Path, txid: &str, stamps: &Stamps) {
    let disk = StampsV1 {
        version: FORMAT,
        txid: txid.to_string(),
        complete: stamps.complete,
        links: stamps.links,
        dirs: stamps
            .dirs
            .iter()
            .map(|(d, s)| (d.clone(), (s.dev, s.ino, s.sec, s.nsec)))
            .collect(),
    };
    let _ = crate::home::state::write_atomic_with(state_dir, FILE, false, |f, dest| {
        let io = |e| crate::home::state::io_err(dest)(e);
        let json = serde_json::to_vec(&disk).map_err(|e| io(e.into()))?;
        f.write_all(&json).map_err(io)
    });
}

/// The time before a look, on the clock the kernel stamps changes with.
#[derive(Clone, Copy, Debug)]
pub struct Before {
    sec: i64,
    nsec: i64,
}

impl Before {
    /// Now, on Linux's coarse real-time clock (`None` elsewhere, or if it
    /// cannot be read: then nothing is stamped).
    pub fn now() -> Option<Before> {
        #[cfg(target_os = "linux")]
        {
            use nix::time::{clock_gettime, ClockId};
            let t = clock_gettime(ClockId::CLOCK_REALTIME_COARSE).ok()?;
            Some(Before {
                sec: t.tv_sec(),
                nsec: t.tv_nsec(),
            })
        }
        #[cfg(not(target_os = "linux"))]
        None
    }

    /// Whether `stamp`, taken after this time, can stand for what is read
    /// after it: its ctime is strictly older than this time (so any later
    /// change is stamped later) and has nanoseconds (so the filesystem
    /// does not round it to seconds).
    pub fn settles(self, stamp: &Stamp) -> bool {
        stamp.nsec != 0 && (stamp.sec, stamp.nsec) < (self.sec, self.nsec)
    }
}

/// Whether the home's filesystem keeps its own nanosecond change times:
/// ext4, XFS, btrfs or tmpfs (Linux only).
pub fn keeps_times(home: &DirFd) -> bool {
    #[cfg(target_os = "linux")]
    {
        use nix::sys::statfs::{BTRFS_SUPER_MAGIC, EXT4_SUPER_MAGIC, TMPFS_MAGIC, XFS_SUPER_MAGIC};
        home.filesystem().is_ok_and(|fs| {
            let t = fs.filesystem_type();
            [
                EXT4_SUPER_MAGIC,
                XFS_SUPER_MAGIC,
                BTRFS_SUPER_MAGIC,
                TMPFS_MAGIC,
            ]
            .contains(&t)
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = home;
        false
    }
}

/// The stamp of the directory `rel` of the home (`""`: the home), looked
/// at without following a symlink; `None` when it is not a directory.
pub fn look(home: &DirFd, rel: &str) -> Option<Stamp> {
    let st = if rel.is_empty() {
        home.stat_self()
    } else {
        home.stat(rel, false)
    }
    .ok()?;
    // dev_t, ino_t and the time fields differ in width between platforms.
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    let stamp = Stamp {
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
        sec: st.st_ctime as i64,
        nsec: st.st_ctime_nsec as i64,
    };
    (crate::sys::dirfd::file_kind(&st) == nix::sys::stat::SFlag::S_IFDIR).then_some(stamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(sec: i64, nsec: i64) -> Stamp {
        Stamp {
            dev: 1,
            ino: 2,
            sec,
            nsec,
        }
    }

    /// A ctime settles only when strictly older than the time before the
    /// look, and never when it has no nanoseconds.
    #[test]
    fn a_change_time_settles_only_when_older_than_the_look_and_finer_than_seconds() {
        let before = Before {
            sec: 100,
            nsec: 500,
        };
        assert!(before.settles(&stamp(100, 499)));
        assert!(before.settles(&stamp(99, 999_999_999)));
        assert!(!before.settles(&stamp(100, 500)), "the same tick");
        assert!(!before.settles(&stamp(100, 501)));
        assert!(!before.settles(&stamp(101, 1)));
        assert!(!before.settles(&stamp(99, 0)), "whole seconds");
    }

    #[test]
    fn stamps_are_read_back_for_their_transaction_only() {
        let dir = crate::home::state::tests::scratch("stamps");
        let mut stamps = Stamps {
            complete: true,
            links: 3,
            ..Stamps::default()
        };
        stamps.dirs.insert(String::new(), stamp(5, 6));
        stamps.dirs.insert(".config/a b".into(), stamp(7, 8));
        write(&dir, "t1", &stamps);
        assert_eq!(read(&dir, "t1"), stamps);
        assert_eq!(read(&dir, "t2"), Stamps::default());
        std::fs::write(dir.join(FILE), "{\"version\":1,").unwrap();
        assert_eq!(read(&dir, "t1"), Stamps::default());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
