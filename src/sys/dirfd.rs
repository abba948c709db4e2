//! A directory of the home held open, so that everything done in it names one
//! entry of it (`*at` calls) and never resolves a path string: a symlink
//! swapped into a parent between a look and a write cannot redirect either.
//! Nothing here ever follows a symlink in the home.
#![allow(
    unsafe_code,
    reason = "taking ownership of a descriptor nix returns as a RawFd needs `from_raw_fd`; each use says why it is sound"
)]

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};

use crate::manifest::RelPath;

#[derive(Debug)]
pub struct DirFd {
    fd: OwnedFd,
}

/// The parent directory and the name of a normalized relative path
/// (`("", name)` at the top of the home).
pub fn split(path: &str) -> (&str, &str) {
    match path.bytes().rposition(|b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

/// Whether the normalized relative path `path` is `dir` or lies below it.
pub fn at_or_below(path: &str, dir: &str) -> bool {
    path.starts_with(dir) && matches!(path.as_bytes().get(dir.len()), None | Some(b'/'))
}

/// Directories of a home opened one component at a time, never through a
/// symlink, keeping those along the path of the last one asked for: paths
/// in the same or a nearby directory (paths taken in order) open nothing
/// again.
pub struct Walk {
    root: DirFd,
    /// (relative path, descriptor), each the parent of the next.
    open: Vec<(String, DirFd)>,
}

impl Walk {
    pub fn new(root: DirFd) -> Self {
        Walk {
            root,
            open: Vec::new(),
        }
    }

    /// The directory `rel` ("" is the home); `None` when it is not a
    /// directory (missing, a file, a symlink) or cannot be opened.
    pub fn dir(&mut self, rel: &str) -> Option<&DirFd> {
        while let Some((p, _)) = self.open.last() {
            if at_or_below(rel, p) {
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

/// How directories are held: on Linux `O_PATH` (enough for `*at` calls, and
/// opening needs no read permission); elsewhere read-only.
fn dir_flags() -> OFlag {
    #[cfg(target_os = "linux")]
    let base = OFlag::O_PATH;
    #[cfg(not(target_os = "linux"))]
    let base = OFlag::O_RDONLY;
    base | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC
}

/// Whether an open failed because the name is not (or no longer) a real
/// directory: missing, a file, or a symlink (never followed).
fn not_a_dir(e: Errno) -> bool {
    matches!(e, Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP)
}

impl DirFd {
    /// Opens the home (`rel` None) or a directory in it, component by
    /// component, without following any symlink below the home; `None` when
    /// it is not a directory (missing, a file, or a symlink).
    pub fn open(home: &Path, rel: Option<&RelPath>) -> io::Result<Option<DirFd>> {
        let home_fd = nix::fcntl::open(home, dir_flags(), Mode::empty())?;
        // SAFETY: the descriptor was just returned by open and is owned here.
        let fd = unsafe { OwnedFd::from_raw_fd(home_fd) };
        let mut dir = DirFd { fd };
        if let Some(rel) = rel {
            for name in rel.as_str().split('/') {
                match dir.open_dir(name)? {
                    Some(next) => dir = next,
                    None => return Ok(None),
                }
            }
        }
        Ok(Some(dir))
    }

    /// Opens the subdirectory `name`, not following a symlink there; `None`
    /// when it is not a directory.
    pub fn open_dir<P: ?Sized + nix::NixPath>(&self, name: &P) -> io::Result<Option<DirFd>> {
        match nix::fcntl::openat(
            Some(self.raw()),
            name,
            dir_flags() | OFlag::O_NOFOLLOW,
            Mode::empty(),
        ) {
            Ok(fd) => {
                // SAFETY: the descriptor was just returned by openat and is owned here.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                Ok(Some(DirFd { fd }))
            }
            Err(e) if not_a_dir(e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The names in this directory, each with whether it is a directory
    /// (not following symlinks).
    pub fn entries(&self) -> io::Result<Vec<(OsString, bool)>> {
        self.entries_up_to(usize::MAX).map(|(names, _)| names)
    }

    /// At most `max` names of this directory (as `entries`), and whether
    /// they are all of them: a huge directory is not read to its end.
    pub fn entries_up_to(&self, max: usize) -> io::Result<(Vec<(OsString, bool)>, bool)> {
        use std::os::unix::ffi::OsStrExt;
        let mut dir = nix::dir::Dir::openat(
            Some(self.raw()),
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let mut out = Vec::new();
        for entry in dir.iter() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            if out.len() == max {
                return Ok((out, false));
            }
            let is_dir = match entry.file_type() {
                Some(t) => t == nix::dir::Type::Directory,
                // Some filesystems do not say; ask.
                None => self
                    .stat(entry.file_name(), false)
                    .is_ok_and(|st| file_kind(&st) == SFlag::S_IFDIR),
            };
            out.push((std::ffi::OsStr::from_bytes(name).to_os_string(), is_dir));
        }
        Ok((out, true))
    }

    fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The entry `name`; with `follow`, what a symlink there points at.
    pub fn stat<P: ?Sized + nix::NixPath>(&self, name: &P, follow: bool) -> nix::Result<FileStat> {
        let flags = if follow {
            AtFlags::empty()
        } else {
            AtFlags::AT_SYMLINK_NOFOLLOW
        };
        nix::sys::stat::fstatat(Some(self.raw()), name, flags)
    }

    /// This directory itself (`fstat`).
    pub fn stat_self(&self) -> nix::Result<FileStat> {
        nix::sys::stat::fstat(self.raw())
    }

    /// The filesystem this directory is on (`fstatfs`).
    #[cfg(target_os = "linux")]
    pub fn filesystem(&self) -> nix::Result<nix::sys::statfs::Statfs> {
        nix::sys::statfs::fstatfs(&self.fd)
    }

    /// Whether anything (even a dangling symlink) is at `name`.
    pub fn exists(&self, name: &str) -> bool {
        self.stat(name, false).is_ok()
    }

    /// The file type bits of `name`, not following a symlink.
    pub fn kind(&self, name: &str) -> nix::Result<SFlag> {
        self.stat(name, false).map(|st| file_kind(&st))
    }

    /// The target of the symlink `name` (EINVAL: not a symlink). Read into
    /// a buffer on the stack: the result is allocated once, at its size
    /// (every managed link of a home is read on every activation).
    pub fn read_link(&self, name: &str) -> nix::Result<PathBuf> {
        use std::os::unix::ffi::OsStrExt;
        self.with_link(name, |target| {
            PathBuf::from(std::ffi::OsStr::from_bytes(target))
        })
    }

    /// Whether `name` is a symlink to exactly `want`; nothing allocated.
    pub fn link_is(&self, name: &str, want: &Path) -> bool {
        use std::os::unix::ffi::OsStrExt;
        self.with_link(name, |target| target == want.as_os_str().as_bytes())
            .unwrap_or(false)
    }

    /// `f` of the target of the symlink `name`, read into a buffer on the
    /// stack with one `readlinkat` (EINVAL: not a symlink).
    pub fn with_link<T>(&self, name: &str, f: impl FnOnce(&[u8]) -> T) -> nix::Result<T> {
        use nix::NixPath;
        // A link's target is at most PATH_MAX - 1 bytes on Linux (1023 on
        // macOS): a full buffer can only be a truncated target. Left
        // uninitialized: zeroing 4 KiB per link would cost more than the
        // rest of the call.
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let len = name.with_nix_path(|c| {
            // SAFETY: `c` is a NUL-terminated name alive for the call, the
            // descriptor is owned by self, and readlinkat writes at most
            // `buf.len()` bytes into `buf`.
            unsafe {
                nix::libc::readlinkat(self.raw(), c.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
            }
        })?;
        let len = usize::try_from(Errno::result(len)?).map_err(|_| Errno::EINVAL)?;
        if len >= buf.len() {
            return Err(Errno::ENAMETOOLONG);
        }
        // SAFETY: readlinkat wrote (initialized) the first `len` bytes, and
        // `len` is below the buffer's length.
        let target = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), len) };
        Ok(f(target))
    }

    /// Opens a regular file for reading. Never follows a symlink, never
    /// blocks on a FIFO or device swapped in after a look: those are opened
    /// non-blocking and refused from the type of the opened descriptor.
    pub fn open_file(&self, name: &str) -> io::Result<std::fs::File> {
        let fd = nix::fcntl::openat(
            Some(self.raw()),
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        // SAFETY: the descriptor was just returned by openat and is owned here.
        let file = unsafe { std::fs::File::from_raw_fd(fd) };
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        Ok(file)
    }

    /// Creates `name` as a new regular file, private until the caller sets
    /// its mode; fails if anything, even a dangling symlink, is there.
    pub fn create_file(&self, name: &str) -> io::Result<std::fs::File> {
        let fd = nix::fcntl::openat(
            Some(self.raw()),
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )?;
        // SAFETY: the descriptor was just returned by openat and is owned here.
        Ok(unsafe { std::fs::File::from_raw_fd(fd) })
    }

    pub fn symlink(&self, target: &Path, name: &str) -> nix::Result<()> {
        nix::unistd::symlinkat(target, Some(self.raw()), name)
    }

    pub fn mkdir(&self, name: &str, mode: u32) -> nix::Result<()> {
        nix::sys::stat::mkdirat(Some(self.raw()), name, Mode::from_bits_truncate(mode as _))
    }

    /// Sets the permission bits of the directory `name` (not through a symlink).
    pub fn chmod_dir(&self, name: &str, mode: u32) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let fd = nix::fcntl::openat(
            Some(self.raw()),
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        // SAFETY: the descriptor was just returned by openat and is owned here.
        let dir = unsafe { std::fs::File::from_raw_fd(fd) };
        dir.set_permissions(std::fs::Permissions::from_mode(mode))
    }

    /// Removes the non-directory `name`.
    pub fn unlink(&self, name: &str) -> nix::Result<()> {
        nix::unistd::unlinkat(
            Some(self.raw()),
            name,
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        )
    }

    /// Removes the empty directory `name`.
    pub fn rmdir(&self, name: &str) -> nix::Result<()> {
        nix::unistd::unlinkat(
            Some(self.raw()),
            name,
            nix::unistd::UnlinkatFlags::RemoveDir,
        )
    }

    /// A second name for the file `from` (a symlink there is linked itself).
    pub fn link(&self, from: &str, to: &str) -> nix::Result<()> {
        nix::unistd::linkat(
            Some(self.raw()),
            from,
            Some(self.raw()),
            to,
            AtFlags::empty(),
        )
    }

    /// Renames `from` to `to`, replacing a non-directory at `to`.
    pub fn rename(&self, from: &str, to: &str) -> nix::Result<()> {
        nix::fcntl::renameat(Some(self.raw()), from, Some(self.raw()), to)
    }

    /// Renames `from` to `to` without ever replacing what is at `to`: the
    /// kernel checks and renames in one step, so something put at `to` a
    /// moment before is never overwritten (EEXIST instead).
    pub fn rename_noreplace(&self, from: &str, to: &str) -> nix::Result<()> {
        self.rename_noreplace_to(from, self, to)
    }

    /// Like `rename_noreplace`, to `to` in the directory `dir` (this one or
    /// another of the same home).
    pub fn rename_noreplace_to(&self, from: &str, dir: &DirFd, to: &str) -> nix::Result<()> {
        #[cfg(target_os = "linux")]
        {
            use nix::fcntl::{renameat2, RenameFlags};
            renameat2(
                Some(self.raw()),
                from,
                Some(dir.raw()),
                to,
                RenameFlags::RENAME_NOREPLACE,
            )
        }
        #[cfg(target_os = "macos")]
        {
            self.renameatx(from, dir, to, nix::libc::RENAME_EXCL)
        }
        #[cfg(not(any(target_os = "linux", target_os = "macos")))]
        {
            if dir.exists(to) {
                return Err(Errno::EEXIST);
            }
            nix::fcntl::renameat(Some(self.raw()), from, Some(dir.raw()), to)
        }
    }
    /// Swaps the entries `a` and `b` in one step; both must exist. What was
    /// at `b` is then at `a`, where it can be checked before anything of it
    /// is lost, and swapped back if it is not what was expected.
    pub fn exchange(&self, a: &str, b: &str) -> nix::Result<()> {
        #[cfg(target_os = "linux")]
        {
            use nix::fcntl::{renameat2, RenameFlags};
            renameat2(
                Some(self.raw()),
                a,
                Some(self.raw()),
                b,
                RenameFlags::RENAME_EXCHANGE,
            )
        }
        #[cfg(target_os = "macos")]
        {
            self.renameatx(a, self, b, nix::libc::RENAME_SWAP)
        }
        #[cfg(not(any(target_os = "linux", target_os = "macos")))]
        {
            let _ = (a, b);
            Err(Errno::ENOSYS)
        }
    }

    /// macOS's `renameatx_np` (not compiled by the test suite, which runs on Linux).
    #[cfg(target_os = "macos")]
    fn renameatx(
        &self,
        from: &str,
        dir: &DirFd,
        to: &str,
        flags: nix::libc::c_uint,
    ) -> nix::Result<()> {
        use std::ffi::CString;
        let from = CString::new(from).map_err(|_| Errno::EINVAL)?;
        let to = CString::new(to).map_err(|_| Errno::EINVAL)?;
        // SAFETY: two valid NUL-terminated names and descriptors owned by
        // self and dir, alive for the call.
        let r = unsafe {
            nix::libc::renameatx_np(self.raw(), from.as_ptr(), dir.raw(), to.as_ptr(), flags)
        };
        Errno::result(r).map(drop)
    }

    /// The identity (device, inode) of the entry `name`, not following a symlink.
    pub fn identity(&self, name: &str) -> nix::Result<(u64, u64)> {
        // dev_t and ino_t differ in width between platforms.
        #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
        self.stat(name, false)
            .map(|st| (st.st_dev as u64, st.st_ino as u64))
    }

    /// Forces everything written to this directory's filesystem to disk
    /// (`syncfs`): one call for all the files an activation wrote, where an
    /// `fsync` each would cost a flush of the filesystem's log per file.
    /// Elsewhere than Linux the files were synced one by one already, and
    /// this does nothing.
    pub fn sync_filesystem(&self) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            let fd = nix::fcntl::openat(
                Some(self.raw()),
                ".",
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            // SAFETY: the descriptor was just returned by openat and is owned here.
            let dir = unsafe { std::fs::File::from_raw_fd(fd) };
            nix::unistd::syncfs(dir.as_raw_fd())?;
        }
        Ok(())
    }

    /// Forces this directory's entries (names created, renamed, removed)
    /// to disk. A directory held with `O_PATH` cannot be synced itself, so it
    /// is opened for reading once more.
    pub fn sync(&self) -> io::Result<()> {
        let fd = nix::fcntl::openat(
            Some(self.raw()),
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        // SAFETY: the descriptor was just returned by openat and is owned here.
        let dir = unsafe { std::fs::File::from_raw_fd(fd) };
        dir.sync_all()
    }
}

pub fn file_kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
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

    /// Directories are opened through real directories only, and the walk
    /// goes back up and down between paths in any order.
    #[test]
    fn a_walk_opens_real_directories_only() {
        let home = std::env::temp_dir().join(format!("hearth-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(home.join("a/b/c")).unwrap();
        std::fs::create_dir_all(home.join("d")).unwrap();
        std::os::unix::fs::symlink(home.join("d"), home.join("a/link")).unwrap();
        std::fs::write(home.join("a/file"), "x").unwrap();
        let mut walk = Walk::new(DirFd::open(&home, None).unwrap().unwrap());
        for (rel, is_dir) in [
            ("a/b/c", true),
            ("a", true),
            ("d", true),
            ("a/link", false),
            ("a/b", true),
            ("a/file", false),
            ("a/missing/x", false),
            ("", true),
            ("a/b/c", true),
        ] {
            assert_eq!(walk.dir(rel).is_some(), is_dir, "{rel}");
        }
        std::fs::remove_dir_all(&home).unwrap();
    }
}
