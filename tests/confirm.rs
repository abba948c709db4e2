//! Activating the applied generation again, on a home that still holds it,
//! is confirmed from hearth's record alone (`src/home/confirm.rs`): nothing
//! is read of the manifest, nothing is written. Whatever differs sends the
//! activation down the full path, which does what it always did: each test
//! below makes one such difference and shows that work done, and the first
//! shows that the confirmed run says exactly what the full path says.
//! Each home here has been confirmed once already, so that its directories
//! are stamped (`src/home/stamps.rs`) and each difference is found through
//! the stamps, as in a home left alone for a while.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

fn activate(home: &TestHome, gen: &Path) -> Run {
    home.hearth(["activate", path_str(gen)])
}

/// A home with links at the top and in a directory hearth made, and a
/// copy, activated once.
fn applied() -> (TestHome, PathBuf) {
    nix_available();
    let home = TestHome::new();
    let gen = build_generation(
        &home
            .gen()
            .text(".config/app/a.conf", "a\n")
            .text("top", "t\n")
            .file(FileSpec::text(".netrc", "n\n").copy().mode("0600")),
    );
    activate(&home, &gen).assert_ok();
    stamp(&home, &gen);
    (home, gen)
}

/// Activates `gen` again once the clock has moved on from the last
/// activation's changes: that no-op reads every link and stamps every
/// directory (`src/home/stamps.rs`), so the tests here confirm through the
/// stamps, as a home does that has been left alone for a moment. A kernel
/// tick is at most 10 ms.
fn stamp(home: &TestHome, gen: &Path) {
    std::thread::sleep(std::time::Duration::from_millis(25));
    let run = activate(home, gen);
    assert!(run.stdout.contains("already matched"), "{run}");
    if keeps_times(home.path()) {
        assert!(home.state_dir().join("stamps.json").is_file());
    }
}

/// Whether hearth trusts the change times of the filesystem at `path`
/// (ext4, XFS, btrfs, tmpfs: `src/home/stamps.rs`).
fn keeps_times(path: &Path) -> bool {
    use nix::sys::statfs::{
        statfs, BTRFS_SUPER_MAGIC, EXT4_SUPER_MAGIC, TMPFS_MAGIC, XFS_SUPER_MAGIC,
    };
    let fs = statfs(path).unwrap().filesystem_type();
    [
        EXT4_SUPER_MAGIC,
        XFS_SUPER_MAGIC,
        BTRFS_SUPER_MAGIC,
        TMPFS_MAGIC,
    ]
    .contains(&fs)
}

/// A link's access time (seconds, nanoseconds).
fn atime(path: &Path) -> (i64, i64) {
    use std::os::unix::fs::MetadataExt;
    let m = fs::symlink_metadata(path).unwrap();
    (m.atime(), m.atime_nsec())
}

/// Sets a link's access time two days back (its directory is not changed):
/// reading it then sets it to now, on a filesystem mounted `relatime` (the
/// default) or `strictatime`.
fn age(path: &Path) -> (i64, i64) {
    use nix::sys::stat::{utimensat, UtimensatFlags};
    use nix::sys::time::TimeSpec;
    let old = TimeSpec::new(
        i64::try_from(std::time::UNIX_EPOCH.elapsed().unwrap().as_secs()).unwrap() - 2 * 86_400,
        0,
    );
    utimensat(
        None,
        path,
        &old,
        &TimeSpec::UTIME_OMIT,
        UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
    atime(path)
}

/// Whether the test home's filesystem is one hearth keeps stamps on, and
/// reading a link there sets its access time (as `relatime`, the default,
/// does for one two days old), which is how these tests tell whether a
/// link was read; says the test is skipped when not. Leaves the probe
/// (`top`) read.
fn stamps_seen(home: &TestHome) -> bool {
    if !keeps_times(home.path()) {
        eprintln!("skipped: the test home's filesystem is not one whose change times hearth trusts (ext4, XFS, btrfs, tmpfs)");
        return false;
    }
    let probe = home.join("top");
    let aged = age(&probe);
    fs::read_link(&probe).unwrap();
    let sets = atime(&probe) != aged;
    if !sets {
        eprintln!("skipped: the test home's filesystem does not set a link's access time when it is read (noatime)");
    }
    sets
}

/// A no-op looks at each directory, not at each link, once the directory's
/// links have been read and it has not changed since; a change in it, and
/// its links are read again. Seen by the links' access times, which
/// reading a link sets.
#[test]
fn a_no_op_reads_no_link_in_a_directory_unchanged_since_its_links_were_read() {
    let (home, gen) = applied();
    if !stamps_seen(&home) {
        return;
    }
    let link = home.join(".config/app/a.conf");
    let aged = age(&link);
    let run = activate(&home, &gen);
    assert!(run.stdout.contains("already matched"), "{run}");
    assert_eq!(
        atime(&link),
        aged,
        "a link in an unchanged directory was read"
    );
    // A file made and removed beside it: the directory changed.
    write_file(&home, ".config/app/new", "n\n");
    fs::remove_file(home.join(".config/app/new")).unwrap();
    let run = activate(&home, &gen);
    assert!(run.stdout.contains("already matched"), "{run}");
    assert_ne!(
        atime(&link),
        aged,
        "a link in a changed directory was not read"
    );
    // And a link removed just after that run is made again.
    fs::remove_file(&link).unwrap();
    let run = activate(&home, &gen);
    assert!(!run.stdout.contains("already matched"), "{run}");
    assert_eq!(read_file(&home, ".config/app/a.conf"), "a\n");
}

/// Drops what the record keeps for confirming (as a state written before
/// it was kept), so that the next activation takes the full path.
fn forget_facts(home: &TestHome) {
    let path = home.state_dir().join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    state["current"]
        .as_object_mut()
        .unwrap()
        .remove("facts")
        .expect("facts recorded");
    fs::write(&path, state.to_string()).unwrap();
}

#[test]
fn a_home_that_holds_the_generation_is_left_alone_and_told_as_the_full_path_tells_it() {
    let (home, gen) = applied();
    let state = home.state_dir().join("state.json");
    for args in [
        vec!["activate"],
        vec!["activate", "--json"],
        vec!["plan"],
        vec!["plan", "--json"],
    ] {
        let mut args: Vec<&str> = args;
        args.push(path_str(&gen));
        forget_facts(&home);
        let full = home.hearth(&args);
        full.assert_ok();
        // The full path recorded the facts again (format 2 with them).
        if args[0] == "activate" {
            assert!(fs::read_to_string(&state).unwrap().contains(r#""facts""#));
        } else {
            home.hearth(["activate", path_str(&gen)]).assert_ok();
        }
        let before = home.snapshot();
        let written = fs::read(&state).unwrap();
        let mtime = fs::metadata(&state).unwrap().modified().unwrap();
        let confirmed = home.hearth(&args);
        confirmed.assert_ok();
        assert_eq!(confirmed.stdout, full.stdout, "{args:?}");
        assert_eq!(confirmed.stderr, full.stderr, "{args:?}");
        assert_same(&before, &home.snapshot());
        assert_eq!(fs::read(&state).unwrap(), written);
        assert_eq!(fs::metadata(&state).unwrap().modified().unwrap(), mtime);
        assert!(!home.state_dir().join("journal").exists());
    }
    let run = activate(&home, &gen);
    assert!(
        run.stdout.contains("already matched (3 unchanged)"),
        "{run}"
    );
}

/// The stamps name the transaction that applied the generation: after
/// another activation, the next no-op reads every link again, even in a
/// directory that activation did not touch, and stamps anew.
#[test]
fn after_another_activation_the_stamps_of_the_one_before_are_not_used() {
    let (home, _) = applied();
    if !stamps_seen(&home) {
        return;
    }
    // The same files, and one more elsewhere: .config/app is not touched.
    let other = build_generation(
        &home
            .gen()
            .text(".config/app/a.conf", "a\n")
            .text("top", "t\n")
            .text(".config/more/m", "m\n")
            .file(FileSpec::text(".netrc", "n\n").copy().mode("0600")),
    );
    let link = home.join(".config/app/a.conf");
    let ino = |p: &Path| {
        use std::os::unix::fs::MetadataExt;
        fs::symlink_metadata(p).unwrap().ino()
    };
    let (dir_before, link_before) = (ino(&home.join(".config/app")), ino(&link));
    activate(&home, &other).assert_ok();
    assert_eq!(ino(&home.join(".config/app")), dir_before);
    assert_eq!(ino(&link), link_before, "the switch kept the link");
    std::thread::sleep(std::time::Duration::from_millis(25));
    let aged = age(&link);
    let run = activate(&home, &other);
    assert!(run.stdout.contains("already matched"), "{run}");
    assert_ne!(atime(&link), aged, "read again under another transaction");
    let aged = age(&link);
    let run = activate(&home, &other);
    assert!(run.stdout.contains("already matched"), "{run}");
    assert_eq!(atime(&link), aged, "stamped anew");
}

/// A directory put in the place of another (here a copy of it, links and
/// times and all: `cp -a` cannot copy a change time, which is when the
/// copy was made) is not taken for the one stamped: its links are read,
/// and an unchanged directory's are not.
#[test]
fn a_directory_swapped_for_a_copy_of_itself_is_read_again() {
    let (home, gen) = applied();
    if !stamps_seen(&home) {
        return;
    }
    let app = home.join(".config/app");
    fs::rename(&app, home.join(".config/app.old")).unwrap();
    let status = std::process::Command::new("cp")
        .args([
            "-a",
            path_str(&home.join(".config/app.old")),
            path_str(&app),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    fs::remove_dir_all(home.join(".config/app.old")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(25));
    // `.config` changed too; the home (with `top`) did not.
    let link = app.join("a.conf");
    let aged = age(&link);
    let top = age(&home.join("top"));
    let run = activate(&home, &gen);
    assert!(run.stdout.contains("already matched"), "{run}");
    assert_ne!(atime(&link), aged, "the copy's link was not read");
    assert_eq!(
        atime(&home.join("top")),
        top,
        "an unchanged directory was read"
    );
}

#[test]
fn a_link_the_user_removed_is_made_again() {
    let (home, gen) = applied();
    fs::remove_file(home.join(".config/app/a.conf")).unwrap();
    activate(&home, &gen).assert_ok();
    assert_eq!(read_file(&home, ".config/app/a.conf"), "a\n");
}

/// A home of more links than are worth a second thread for the check
/// (4,096, `src/home/confirm.rs`): the record lists these links (all to
/// one file) in the generation's order, and the two threads take runs of
/// 64 by turns, so the links removed below fall to both. Each is made again; then the home is confirmed.
#[test]
fn in_a_large_home_a_link_removed_from_either_share_is_made_again() {
    nix_available();
    let home = TestHome::new();
    let tree = build_tree(&[("one", "1\n", false)]);
    let source = tree.join("one");
    let gen = build_generation(&home.gen().links_to(&source, 32, 144));
    activate(&home, &gen).assert_ok();
    // Positions 0, 70, 144, 2,548 and 4,607 of 4,608: runs 0, 1, 2, 39, 71.
    for rel in ["d00/f000", "d00/f070", "d01/f000", "d17/f100", "d31/f143"] {
        fs::remove_file(home.join(rel)).unwrap();
        let run = activate(&home, &gen);
        run.assert_ok();
        assert!(!run.stdout.contains("already matched"), "{rel}: {run}");
        assert_eq!(fs::read_link(home.join(rel)).unwrap(), source, "{rel}");
    }
    let run = activate(&home, &gen);
    run.assert_ok();
    assert!(run.stdout.contains("already matched"), "{run}");
}

#[test]
fn a_link_the_user_replaced_is_a_conflict_and_kept() {
    let (home, gen) = applied();
    fs::remove_file(home.join("top")).unwrap();
    write_file(&home, "top", "mine\n");
    activate(&home, &gen).assert_code(3);
    assert_eq!(read_file(&home, "top"), "mine\n");
}

#[test]
fn a_copy_the_user_edited_is_a_conflict_and_kept() {
    let (home, gen) = applied();
    write_file(&home, ".netrc", "edited\n");
    activate(&home, &gen).assert_code(3);
    assert_eq!(read_file(&home, ".netrc"), "edited\n");
}

#[test]
fn a_directory_hearth_made_that_became_a_link_is_not_followed() {
    let (home, gen) = applied();
    let elsewhere = home.join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::rename(home.join(".config/app"), elsewhere.join("app")).unwrap();
    symlink(&home, ".config/app", elsewhere.join("app"));
    let run = activate(&home, &gen);
    assert!(!run.stdout.contains("already matched"), "{run}");
    // What is in the linked directory is not hearth's to touch.
    assert!(fs::symlink_metadata(elsewhere.join("app/a.conf")).is_ok());
}

#[test]
fn a_missing_gc_root_is_registered_again() {
    let (home, gen) = applied();
    let root = home.state_dir().join("gcroots/1");
    fs::remove_file(&root).unwrap();
    activate(&home, &gen).assert_ok();
    assert_eq!(fs::read_link(&root).unwrap(), gen);
}

/// Registering a root again leaves the link to it in Nix's per-user roots
/// directory as it is, when that link already leads to it.
#[test]
fn a_gc_root_registered_again_keeps_its_per_user_link() {
    use std::os::unix::fs::MetadataExt;
    let (home, gen) = applied();
    let root = home.state_dir().join("gcroots/1");
    let per_user = Path::new("/nix/var/nix/gcroots/per-user").join(current_user());
    let link = fs::read_dir(&per_user)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| fs::read_link(p).is_ok_and(|t| t == root))
        .expect("a per-user link to the root");
    let before = fs::symlink_metadata(&link).unwrap().ino();
    fs::remove_file(&root).unwrap();
    activate(&home, &gen).assert_ok();
    assert_eq!(fs::read_link(&root).unwrap(), gen);
    assert_eq!(fs::read_link(&link).unwrap(), root);
    assert_eq!(fs::symlink_metadata(&link).unwrap().ino(), before);
}

#[test]
fn steps_run_on_every_activation() {
    nix_available();
    let home = TestHome::new();
    let gen = build_generation(&home.gen().text("a", "a\n").step(
        "log",
        "files",
        "echo ran >> \"$HOME/log\"\n",
    ));
    for _ in 0..3 {
        activate(&home, &gen).assert_ok();
    }
    assert_eq!(read_file(&home, "log"), "ran\nran\nran\n");
}
