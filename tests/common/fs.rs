//! Filesystem fixtures: files, directories and symlinks made or read in one
//! call, with parents created and the path named in any panic, and scratch
//! directories under the target's tmp dir.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Writes `content` to `root/rel`, creating parent directories.
pub fn write_file(root: impl AsRef<Path>, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = root.as_ref().join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create parent dirs");
    }
    fs::write(&path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

pub fn read_file(root: impl AsRef<Path>, rel: &str) -> String {
    let path = root.as_ref().join(rel);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

pub fn mkdirs(root: impl AsRef<Path>, rel: &str) -> PathBuf {
    let path = root.as_ref().join(rel);
    fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    path
}

/// Makes `root/rel` a symlink to `target`, creating parent directories.
pub fn symlink(root: impl AsRef<Path>, rel: &str, target: impl AsRef<Path>) -> PathBuf {
    let path = root.as_ref().join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create parent dirs");
    }
    std::os::unix::fs::symlink(target, &path)
        .unwrap_or_else(|e| panic!("symlink {}: {e}", path.display()));
    path
}

pub fn read_link(root: impl AsRef<Path>, rel: &str) -> PathBuf {
    let path = root.as_ref().join(rel);
    fs::read_link(&path).unwrap_or_else(|e| panic!("readlink {}: {e}", path.display()))
}

/// A path as `&str`, for argument lists and manifests.
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// A new directory under the target's tmp dir, named after the running test.
pub(super) fn unique_dir(kind: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let thread = std::thread::current();
    let test: String = thread
        .name()
        .unwrap_or("test")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(80)
        .collect();
    let parent = Path::new(env!("CARGO_TARGET_TMPDIR")).join(kind);
    fs::create_dir_all(&parent).expect("create test tmp dir");
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("{test}-{}-{n}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => return dir,
            // Left by an earlier run whose process had the same id.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => panic!("create {}: {e}", dir.display()),
        }
    }
}

/// Every name hearth uses for its temporary, stash and trash entries
/// (`.hearth-*`) below `root`: after a run or a recovery there must be none.
pub fn litter(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name().to_string_lossy().starts_with(".hearth-") {
                out.push(entry.path());
            }
            if entry.file_type().unwrap().is_dir() && entry.file_name() != "lost+found" {
                stack.push(entry.path());
            }
        }
    }
    out
}
