//! Unit tests of applying a journal, without Nix or a plan: journals written
//! by hand (link targets that need not exist, copies from a scratch file) run,
//! reverted and cleaned up in a scratch home, compared as whole trees. The
//! binary's own tests (tests/transaction.rs) cover the same against real
//! generations; these pin `run`, `revert` and `cleanup` themselves. They
//! never touch anything outside their scratch directories under the temp dir.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

const TX: &str = "0123456789abcdef";

/// A fresh directory under the system's temp dir, removed on drop unless
/// the test failed (then it is kept for a look, and its path printed).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hearth-apply-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("scratch kept: {}", self.0.display());
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// Every path under `root` (not following links): a link's target, a
/// file's mode and content, a directory's mode.
fn tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            let meta = fs::symlink_metadata(&path).unwrap();
            let what = if meta.file_type().is_symlink() {
                link(fs::read_link(&path).unwrap().to_str().unwrap())
            } else if meta.is_dir() {
                walk(root, &path, out);
                dir_entry(meta.mode() & 0o7777)
            } else if meta.is_file() {
                file(meta.mode() & 0o7777, &fs::read_to_string(&path).unwrap())
            } else {
                "other".to_owned()
            };
            out.insert(rel, what);
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn link(target: &str) -> String {
    format!("link -> {target}")
}

fn file(mode: u32, content: &str) -> String {
    format!("file {mode:04o} {content:?}")
}

fn dir_entry(mode: u32) -> String {
    format!("dir {mode:04o}")
}

/// The mode `mkdir(0755)` gives under this process's umask, as hearth's
/// directories get it.
fn made_dir_mode(scratch: &Scratch) -> u32 {
    let probe = scratch.path().join("probe");
    fs::DirBuilder::new().mode(0o755).create(&probe).unwrap();
    let mode = fs::metadata(&probe).unwrap().mode() & 0o7777;
    fs::remove_dir(&probe).unwrap();
    mode
}

fn rel(path: &str) -> RelPath {
    RelPath::parse(path).unwrap()
}

fn put_file(root: &Path, path: &str, mode: u32, content: &str) {
    let path = root.join(path);
    fs::write(&path, content).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

fn mkdir(root: &Path, path: &str, mode: u32) {
    let path = root.join(path);
    fs::create_dir(&path).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

fn sha256_of(path: &Path) -> String {
    crate::home::observe::sha256_up_to(fs::File::open(path).unwrap(), None)
        .unwrap()
        .unwrap()
}

fn copy_record(root: &Path, path: &str) -> Recorded {
    let p = root.join(path);
    let meta = fs::metadata(&p).unwrap();
    Recorded::copy(sha256_of(&p), meta.mode() & 0o7777, Some(meta.len()))
}

/// The home as the previous generation left it, plus the user's files in
/// the way of the next one.
fn old_home(home: &Path) {
    mkdir(home, ".config", 0o755);
    std::os::unix::fs::symlink("/nix/store/old-a", home.join(".config/a")).unwrap();
    std::os::unix::fs::symlink("/nix/store/old-b", home.join(".config/b")).unwrap();
    put_file(home, "copy", 0o644, "old copy\n");
    put_file(home, "gone", 0o644, "gone\n");
    mkdir(home, "left", 0o755);
    put_file(home, "left/copy", 0o644, "left\n");
    // 0700, not what mkdir gives: undo must bring the mode back too.
    mkdir(home, "old-dir", 0o700);
    put_file(home, "user.conf", 0o644, "mine\n");
    put_file(home, "forced", 0o640, "in the way\n");
}

/// A switch touching every kind of operation: links and copies removed,
/// replaced and created, a backup, a discard, directories made and removed
/// (one only once the trash inside it is deleted at cleanup).
fn switch(home: &Path, store: &Path) -> Journal {
    let source = store.join("new-copy");
    put_file(store, "new-copy", 0o444, "new copy\n");
    let symlink = |target: &str| Desired::Symlink {
        target: Path::new(target).into(),
    };
    let put = |n: usize, path: &str, want: Desired, prev: Prev, was: Option<Recorded>| Op::Put {
        path: rel(path),
        want,
        prev,
        tmp: sibling(&rel(path), TX, n, "tmp"),
        stash: sibling(&rel(path), TX, n, "stash"),
        was,
    };
    let ops = vec![
        Op::Remove {
            path: rel(".config/a"),
            was: Recorded::Symlink {
                target: Path::new("/nix/store/old-a").into(),
            },
            trash: sibling(&rel(".config/a"), TX, 0, "trash"),
        },
        Op::Remove {
            path: rel("gone"),
            was: copy_record(home, "gone"),
            trash: sibling(&rel("gone"), TX, 1, "trash"),
        },
        // Its trash stays in `left` until cleanup, so `left` goes only then.
        Op::Remove {
            path: rel("left/copy"),
            was: copy_record(home, "left/copy"),
            trash: sibling(&rel("left/copy"), TX, 2, "trash"),
        },
        Op::RemoveDir {
            path: rel("left"),
            required: false,
            mode: Some(0o755),
        },
        Op::RemoveDir {
            path: rel("old-dir"),
            required: true,
            mode: Some(0o700),
        },
        Op::MoveAside {
            path: rel("user.conf"),
            to: rel("user.conf.bak"),
            discard: false,
            expect: None,
        },
        Op::MoveAside {
            path: rel("forced"),
            to: sibling(&rel("forced"), TX, 6, "trash"),
            discard: true,
            expect: Some(Expect::File {
                size: 11,
                mode: 0o640,
            }),
        },
        Op::Mkdir { path: rel("new") },
        Op::Mkdir {
            path: rel("new/dir"),
        },
        put(
            9,
            ".config/b",
            symlink("/nix/store/new-b"),
            Prev::Symlink {
                target: "/nix/store/old-b".into(),
            },
            None,
        ),
        put(
            10,
            "copy",
            Desired::copy(source.clone(), sha256_of(&source), 0o600, 9),
            Prev::File,
            Some(copy_record(home, "copy")),
        ),
        put(
            11,
            "user.conf",
            symlink("/nix/store/new-user"),
            Prev::Missing,
            None,
        ),
        put(
            12,
            "forced",
            symlink("/nix/store/new-forced"),
            Prev::Missing,
            None,
        ),
        put(
            13,
            "new/dir/link",
            symlink("/nix/store/new-link"),
            Prev::Missing,
            None,
        ),
    ];
    Journal {
        txid: TX.to_owned(),
        home: home.to_path_buf(),
        generation: PathBuf::from("/nix/store/hash-hearth-generation-test"),
        ops,
        profile: None,
        hooks: Vec::new(),
        previous: None,
    }
}

/// The home once `switch` is done and cleaned up, from the one before it.
fn switched(before: &BTreeMap<String, String>, new_dir: u32) -> BTreeMap<String, String> {
    let mut want = before.clone();
    for gone in [".config/a", "gone", "left", "left/copy", "old-dir"] {
        want.remove(gone).unwrap();
    }
    let mut set = |path: &str, what: String| {
        want.insert(path.to_owned(), what);
    };
    set(".config/b", link("/nix/store/new-b"));
    set("copy", file(0o600, "new copy\n"));
    set("user.conf.bak", file(0o644, "mine\n"));
    set("user.conf", link("/nix/store/new-user"));
    set("forced", link("/nix/store/new-forced"));
    set("new", dir_entry(new_dir));
    set("new/dir", dir_entry(new_dir));
    set("new/dir/link", link("/nix/store/new-link"));
    want
}

/// What is kept only for undo until the commit: the old copy's stash, the
/// removed copies' and the discarded file's trash (and so `left`).
fn kept_for_undo(mut want: BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut set = |path: &str, what: String| {
        want.insert(path.to_owned(), what);
    };
    set(&format!(".hearth-{TX}-10.stash"), file(0o644, "old copy\n"));
    set(&format!(".hearth-{TX}-1.trash"), file(0o644, "gone\n"));
    set("left", dir_entry(0o755));
    set(&format!("left/.hearth-{TX}-2.trash"), file(0o644, "left\n"));
    set(
        &format!(".hearth-{TX}-6.trash"),
        file(0o640, "in the way\n"),
    );
    want
}

/// A scratch directory with the old home (`home/`) and the switch's journal
/// (its copy's source in `store/`), and the home as it is before the switch.
fn fresh(name: &str) -> (Scratch, PathBuf, Journal, BTreeMap<String, String>) {
    let scratch = Scratch::new(name);
    let (home, store) = (scratch.path().join("home"), scratch.path().join("store"));
    fs::create_dir(&home).unwrap();
    fs::create_dir(&store).unwrap();
    old_home(&home);
    let j = switch(&home, &store);
    let before = tree(&home);
    (scratch, home, j, before)
}

#[test]
fn a_switch_is_applied_then_cleaned_up_to_exactly_the_new_home() {
    let (scratch, home, j, before) = fresh("switch");
    let done = switched(&before, made_dir_mode(&scratch));

    let mut out = run(&j).unwrap();
    assert_eq!(out.dirs_left, vec![rel("left")]);
    assert_eq!(tree(&home), kept_for_undo(done.clone()));

    assert!(cleanup_after(&j, &mut out).is_empty());
    assert_eq!(tree(&home), done);
    // A cleanup cut short is finished by the next run: a second one finds
    // nothing left to do and changes nothing.
    assert!(cleanup(&j).is_empty());
    assert_eq!(tree(&home), done);
}

#[test]
fn cleanup_keeps_a_directory_the_user_put_something_into() {
    let (scratch, home, j, before) = fresh("keep");
    run(&j).unwrap();
    put_file(&home, "left/new", 0o644, "the user's\n");

    // In a new process, as after a kill between commit and cleanup.
    assert!(cleanup(&j).is_empty());
    let mut want = switched(&before, made_dir_mode(&scratch));
    want.insert("left".into(), dir_entry(0o755));
    want.insert("left/new".into(), file(0o644, "the user's\n"));
    assert_eq!(tree(&home), want);
}

/// A run killed after any number of its operations, reverted later from the
/// journal alone (a new process: no directory kept open), is exactly the
/// home before, with the old directory's mode and the old copy's inode.
#[test]
fn a_run_cut_short_anywhere_is_reverted_exactly_from_the_journal() {
    let n = fresh("count").2.ops.len();
    for k in 0..=n {
        let (_scratch, home, mut j, before) = fresh("cut");
        let copy_ino = fs::metadata(home.join("copy")).unwrap().ino();
        let all = j.ops.clone();
        j.ops.truncate(k);
        run(&j).unwrap();

        let problems = revert(&home, &all);
        assert!(problems.is_empty(), "cut after {k} ops: {problems:?}");
        assert_eq!(tree(&home), before, "cut after {k} ops");
        assert_eq!(fs::metadata(home.join("copy")).unwrap().ino(), copy_ino);
    }
}

/// An operation that fails (its parent directory is missing) at any place
/// in the journal: `run` undoes everything done before it and says the undo
/// left nothing over.
#[test]
fn a_failure_at_any_operation_is_undone_exactly() {
    let n = fresh("count").2.ops.len();
    for k in 0..=n {
        let (_scratch, home, mut j, before) = fresh("fail");
        j.ops.insert(
            k,
            Op::Mkdir {
                path: rel("no/such/dir"),
            },
        );

        let Err(Failed { error, undo }) = run(&j) else {
            panic!("a mkdir under a missing parent succeeded (at {k})");
        };
        assert!(
            matches!(&error, Error::Op { what: "create directory", path, .. }
                if path == &home.join("no/such/dir")),
            "at {k}: {error}"
        );
        assert!(undo.is_empty(), "at {k}: {undo:?}");
        assert_eq!(tree(&home), before, "failure at op {k}");
    }
}

/// A removed copy the user edited since the plan looked is put back and
/// the whole run undone: nothing of the user's is lost.
#[test]
fn a_copy_edited_before_its_removal_is_put_back_and_the_run_undone() {
    let (_scratch, home, j, _) = fresh("edited");
    // Same size and mode, other content: only the hash tells.
    put_file(&home, "gone", 0o644, "GONE\n");
    let before = tree(&home);

    let Err(Failed { error, undo }) = run(&j) else {
        panic!("an edited copy was removed");
    };
    assert!(
        matches!(&error, Error::Changed { path, kept: None, .. } if path == &rel("gone")),
        "{error}"
    );
    assert!(undo.is_empty(), "{undo:?}");
    assert_eq!(tree(&home), before);
}

#[test]
fn sibling_names_carry_the_transaction_and_the_operations_number() {
    for n in [0, 7, 10, 12_345, usize::MAX] {
        assert_eq!(
            sibling(&rel(".config/a"), TX, n, "tmp").as_str(),
            format!(".config/.hearth-{TX}-{n}.tmp")
        );
        assert_eq!(
            sibling(&rel("a"), TX, n, "trash").as_str(),
            format!(".hearth-{TX}-{n}.trash")
        );
    }
}
