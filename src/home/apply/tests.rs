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
    let put = |n: u32, path: &str, want: Desired, prev: Prev, was: Option<Recorded>| Op::Put {
        path: rel(path),
        want,
        prev,
        names: PutNames::Derived(n),
        was: was.map(Box::new),
    };
    let trash = |n| TrashName::Derived { n, out: 0 };
    let ops = vec![
        Op::Remove {
            path: rel(".config/a"),
            was: Recorded::Symlink {
                target: Path::new("/nix/store/old-a").into(),
            },
            trash: trash(0),
        },
        Op::Remove {
            path: rel("gone"),
            was: copy_record(home, "gone"),
            trash: trash(1),
        },
        // Its trash stays in `left` until cleanup, so `left` goes only then.
        Op::Remove {
            path: rel("left/copy"),
            was: copy_record(home, "left/copy"),
            trash: trash(2),
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

        let problems = revert(&home, TX, &all);
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

/// The state directory of `scratch`, opened as an activation opens it.
fn state(scratch: &Scratch) -> crate::home::state::State {
    let dir = scratch.path().join("state");
    crate::home::state::State::open(&dir, true, std::time::Duration::from_secs(5), &mut |_| {})
        .unwrap()
}

/// The journal on disk, read back as recovery reads it.
fn read_back(st: &crate::home::state::State) -> Journal {
    st.read_journal(&mut |torn| panic!("torn journal {}", torn.display()))
        .unwrap()
        .unwrap()
}

/// A journal this hearth wrote and read back (as after a kill) makes its
/// names again, the very ones the run used: a run cut short anywhere is
/// reverted exactly from it, and a finished one is cleaned up from it.
#[test]
fn a_journal_read_back_reverts_and_cleans_up_with_the_names_the_run_used() {
    let n = fresh("count").2.ops.len();
    for k in 0..=n {
        let (scratch, home, mut j, before) = fresh("read-back");
        let st = state(&scratch);
        st.write_journal(&j).unwrap();
        let all = j.ops.clone();
        j.ops.truncate(k);
        run(&j).unwrap();

        let read = read_back(&st);
        // Every name is derivable: none is kept.
        assert_eq!(read.ops, all, "cut after {k} ops");
        let problems = revert(&read.home, &read.txid, &read.ops);
        assert!(problems.is_empty(), "cut after {k} ops: {problems:?}");
        assert_eq!(tree(&home), before, "cut after {k} ops");
    }
    let (scratch, home, j, before) = fresh("read-back-done");
    let st = state(&scratch);
    st.write_journal(&j).unwrap();
    run(&j).unwrap();
    assert!(cleanup(&read_back(&st)).is_empty());
    assert_eq!(tree(&home), switched(&before, made_dir_mode(&scratch)));
}

/// A journal whose names are not those this hearth makes (an older
/// hearth's, say) is reverted with the names written in it, wherever the
/// run it records was cut short: the new copy at its temporary name, the
/// old one linked at its stash, a removed copy in a trash one directory
/// up, a new link at its temporary name.
#[test]
fn a_journal_with_names_of_its_own_is_reverted_with_those_names() {
    let scratch = Scratch::new("given-names");
    let home = scratch.path().join("home");
    fs::create_dir(&home).unwrap();
    mkdir(&home, "sub", 0o755);
    put_file(&home, "copy", 0o644, "old copy\n");
    put_file(&home, "sub/gone", 0o600, "gone\n");
    let before = tree(&home);
    let (copy, gone) = (copy_record(&home, "copy"), copy_record(&home, "sub/gone"));
    put_file(scratch.path(), "new-copy", 0o444, "new copy\n");
    let source = scratch.path().join("new-copy");

    // As the run left it: the old copy linked at its stash and the new one
    // written at its temporary name, `sub/gone` moved to its trash, the
    // new link made at its temporary name.
    fs::hard_link(home.join("copy"), home.join("copy.stash-of-old")).unwrap();
    fs::copy(&source, home.join("copy.tmp-of-old")).unwrap();
    fs::rename(home.join("sub/gone"), home.join("trash-of-old")).unwrap();
    std::os::unix::fs::symlink("/nix/store/new-link", home.join("link.tmp-of-old")).unwrap();
    assert_ne!(tree(&home), before);

    let json = |p: &Path| serde_json::to_string(p).unwrap();
    let record = |r: &Recorded| match r {
        Recorded::Copy(c) => {
            let (sha256, mode, size) = (&c.sha256, c.mode, c.size.unwrap());
            format!(r#"{{"copy":{{"sha256":"{sha256}","mode":{mode},"size":{size}}}}}"#)
        }
        other @ Recorded::Symlink { .. } => panic!("not a copy: {other:?}"),
    };
    let body = format!(
        concat!(
            r#"{{"version":1,"txid":"{tx}","home":{home},"generation":"/nix/store/g","#,
            r#""ops":[{{"op":"put","path":"copy","want":{{"type":"copy","source":{source},"#,
            r#""sha256":"{sha}","mode":292,"size":9}},"prev":{{"type":"file"}},"#,
            r#""tmp":"copy.tmp-of-old","stash":"copy.stash-of-old","was":{was}}},"#,
            r#"{{"op":"remove","path":"sub/gone","was":{gone},"trash":"trash-of-old"}},"#,
            r#"{{"op":"put","path":"link","want":{{"type":"symlink","target":"/nix/store/new-link"}},"#,
            r#""prev":{{"type":"missing"}},"tmp":"link.tmp-of-old","stash":".hearth-{tx}-2.stash"}}],"#,
            r#""profile":null,"hooks":[],"previous":null}}"#
        ),
        tx = TX,
        home = json(&home),
        source = json(&source),
        sha = sha256_of(&source),
        was = record(&copy),
        gone = record(&gone),
    );
    let st = state(&scratch);
    fs::write(st.journal_path(), format!("{:<15}\n{body}", body.len())).unwrap();
    let read = read_back(&st);
    // Read as written: none of these names is one this hearth makes (the
    // link's stash alone is, but not with its temporary name).
    for op in &read.ops {
        assert!(
            matches!(
                op,
                Op::Put {
                    names: PutNames::Given(_),
                    ..
                } | Op::Remove {
                    trash: TrashName::Given(_),
                    ..
                }
            ),
            "{op:?}"
        );
    }

    let problems = revert(&read.home, &read.txid, &read.ops);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(tree(&home), before);
}

/// Names read back are made again only when they are exactly the ones this
/// hearth makes, in the directory it makes them in.
#[test]
fn only_names_this_hearth_makes_are_read_back_as_derived() {
    let mut names = Siblings::new(TX);
    let path = rel("a/b/c");
    let trash = |names: &mut Siblings, t: &str| names.read_trash(&path, rel(t));
    for (t, out) in [
        (format!("a/b/.hearth-{TX}-5.trash"), 0),
        (format!("a/.hearth-{TX}-5.trash"), 1),
        (format!(".hearth-{TX}-5.trash"), 2),
    ] {
        let read = trash(&mut names, &t);
        assert_eq!(read, TrashName::Derived { n: 5, out }, "{t}");
        assert_eq!(names.trash(&path, &read), t);
    }
    for t in [
        format!("a/b/.hearth-{TX}-05.trash"),
        format!("a/b/.hearth-{TX}-+5.trash"),
        format!("a/b/.hearth-{TX}-5.tmp"),
        format!("a/b/.hearth-{TX}x-5.trash"),
        format!("x/.hearth-{TX}-5.trash"),
        format!("a/b/c/.hearth-{TX}-5.trash"),
        "a/b/old.trash".to_owned(),
    ] {
        let read = trash(&mut names, &t);
        assert_eq!(read, TrashName::Given(rel(&t)));
        assert_eq!(names.trash(&path, &read), t);
    }
    let put = |names: &mut Siblings, t: &str, s: &str| names.read_put(&path, rel(t), rel(s));
    let (tmp, stash) = (
        format!("a/b/.hearth-{TX}-7.tmp"),
        format!("a/b/.hearth-{TX}-7.stash"),
    );
    assert_eq!(put(&mut names, &tmp, &stash), PutNames::Derived(7));
    assert_eq!(names.put(&path, &PutNames::Derived(7)), [&tmp, &stash]);
    for (t, s) in [
        (tmp.clone(), format!("a/b/.hearth-{TX}-8.stash")),
        (tmp.clone(), format!("a/.hearth-{TX}-7.stash")),
        (format!("a/.hearth-{TX}-7.tmp"), stash.clone()),
        (stash.clone(), tmp.clone()),
    ] {
        let read = put(&mut names, &t, &s);
        assert_eq!(read, PutNames::Given(Box::new([rel(&t), rel(&s)])));
        assert_eq!(names.put(&path, &read), [&t, &s]);
    }
}

/// The operations of a first activation are one per file: they stay small.
#[test]
fn an_operation_is_small() {
    assert!(
        std::mem::size_of::<Op>() <= 80,
        "{}",
        std::mem::size_of::<Op>()
    );
}
