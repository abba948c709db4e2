//! What `hearth activate`, `plan`, `status` and `check` do to the files of a
//! home, driven as a process against generations built by a real nix-build.
//! Every test compares full snapshots of the home: the one it ends with
//! against the one it should end with (built by hand in a second home), or
//! against the one it started with when nothing may change.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use nix::sys::stat::Mode;
use serde_json::Value;

// ---------------------------------------------------------------------------
// Helpers

/// A fresh home. The umask is fixed so that the directories a test makes by
/// hand get the same mode (0755) as those hearth makes.
fn new_home() -> TestHome {
    nix::sys::stat::umask(Mode::from_bits_truncate(0o022));
    TestHome::new()
}

/// The home a test expects, built by hand in a second throwaway home so that
/// it can be compared with the real one as a full snapshot.
struct Want(TestHome);

impl Want {
    fn new() -> Self {
        Want(new_home())
    }

    /// A file as a user makes it (default mode).
    fn file(self, rel: &str, content: &str) -> Self {
        write_file(&self.0, rel, content);
        self
    }

    /// A file with an explicit mode, as hearth copies it.
    fn copy(self, rel: &str, content: &str, mode: u32) -> Self {
        let path = write_file(&self.0, rel, content);
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
        self
    }

    fn link(self, rel: &str, target: impl AsRef<Path>) -> Self {
        symlink(&self.0, rel, target);
        self
    }

    fn snapshot(&self) -> Snapshot {
        self.0.snapshot()
    }
}

/// The `source` of the entry for `target` in a generation's manifest.
fn source(gen: &Path, target: &str) -> PathBuf {
    let text = fs::read_to_string(gen.join("manifest.json")).unwrap();
    let manifest: Value = serde_json::from_str(&text).unwrap();
    let entry = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["target"] == target)
        .unwrap_or_else(|| panic!("{} has no entry for {target}", gen.display()));
    PathBuf::from(entry["source"].as_str().unwrap())
}

fn activate(home: &TestHome, gen: &Path) -> Run {
    home.hearth(["activate", path_str(gen)])
}

fn hearth_within(home: &TestHome, args: &[&str], secs: u64) -> Run {
    home.hearth_within(args, Duration::from_secs(secs))
}

fn mkfifo(home: &TestHome, rel: &str) {
    nix::unistd::mkfifo(&home.join(rel), Mode::from_bits_truncate(0o600)).unwrap();
}

/// Every path of the home, hearth's state included.
fn full_snapshot(home: &TestHome) -> Snapshot {
    snapshot(home.path(), &[])
}

// ---------------------------------------------------------------------------
// First activation

#[test]
fn first_activation_creates_links_copies_and_parent_dirs() {
    let home = new_home();
    let exe = build_tree(&[("tool", "#!/bin/sh\necho tool\n", true)]);
    let gen = build_generation(
        &home
            .gen()
            .text(".profile", "export A=1\n")
            .text(".config/git/config", "[user]\n")
            .file(FileSpec::tree(
                ".local/share/app",
                &[("a", "a\n", false), ("sub/b", "b\n", true)],
            ))
            .file(
                FileSpec::text(".ssh/config", "Host *\n")
                    .copy()
                    .mode("0600"),
            )
            .file(FileSpec::text("deep/er/still/plain", "plain\n").copy())
            .file(FileSpec::path("bin/tool", path_str(&exe.join("tool"))).copy()),
    );

    activate(&home, &gen).assert_ok();

    let want = Want::new()
        .link(".profile", source(&gen, ".profile"))
        .link(".config/git/config", source(&gen, ".config/git/config"))
        // One link for the whole directory, not a link per file.
        .link(".local/share/app", source(&gen, ".local/share/app"))
        .copy(".ssh/config", "Host *\n", 0o600)
        // No mode: the source's mode (store files are read-only).
        .copy("deep/er/still/plain", "plain\n", 0o444)
        .copy("bin/tool", "#!/bin/sh\necho tool\n", 0o555);
    assert_same(&want.snapshot(), &home.snapshot());
}

#[test]
fn status_is_clean_after_activation() {
    let home = new_home();
    let gen = build_generation(
        &home.gen().text(".profile", "export A=1\n").file(
            FileSpec::text(".ssh/config", "Host *\n")
                .copy()
                .mode("0600"),
        ),
    );
    activate(&home, &gen).assert_ok();

    let run = home.hearth(["status"]);

    run.assert_ok();
    assert!(run.stdout.contains("all 2 managed paths match"), "{run}");
}

// ---------------------------------------------------------------------------
// Conflicts

/// A home with one of each kind of thing in the way of `gen`'s targets, and
/// that generation. `real` is a directory a foreign symlink parent points to.
fn home_with_every_conflict() -> (TestHome, PathBuf) {
    let home = new_home();
    write_file(&home, "file", "mine\n");
    write_file(&home, "dir/a", "a\n");
    write_file(&home, "dir/sub/b", "b\n");
    write_file(&home, "real/kept", "kept\n");
    symlink(&home, "foreign", home.join("real/kept"));
    symlink(&home, "dangling", "/nonexistent/hearth-test");
    mkfifo(&home, "fifo");
    symlink(&home, "via-link", home.join("real"));
    write_file(&home, "via-file", "not a directory\n");
    let gen = build_generation(
        &home
            .gen()
            .text("file", "new\n")
            .text("dir", "new\n")
            .text("foreign", "new\n")
            .text("dangling", "new\n")
            .text("fifo", "new\n")
            .text("via-link/file", "new\n")
            .text("via-file/file", "new\n")
            .text("free", "new\n"),
    );
    (home, gen)
}

#[test]
fn every_conflict_is_reported_in_one_run_and_nothing_changes() {
    let (home, gen) = home_with_every_conflict();
    let before = home.snapshot();

    let run = hearth_within(&home, &["activate", path_str(&gen)], 60);

    run.assert_code(3);
    // hearth's state dir aside: it is created to hold the lock.
    assert_same(&before, &home.snapshot());
    // Not written through the symlinked parent.
    assert!(!home.join("real/file").exists());
    for path in [
        "file", "dir", "foreign", "dangling", "fifo", "via-link", "via-file",
    ] {
        assert!(
            run.stderr.contains(&format!("~/{path} ")),
            "{path} is not reported:\n{run}"
        );
    }
    assert!(!run.stderr.contains("~/free"), "{run}");
    insta::assert_snapshot!("conflict_report", home.redact_user(&run.stderr));
}

#[test]
fn plan_reports_the_same_conflicts_and_changes_nothing() {
    let (home, gen) = home_with_every_conflict();
    let before = full_snapshot(&home);

    let run = hearth_within(&home, &["plan", path_str(&gen)], 60);

    run.assert_code(3);
    assert_same(&before, &full_snapshot(&home));
    assert_eq!(run.stderr.matches("\n  ~/").count(), 7, "{run}");
}

#[test]
fn conflicts_in_json_name_each_path_with_its_kind() {
    let (home, gen) = home_with_every_conflict();

    let run = hearth_within(&home, &["activate", "--json", path_str(&gen)], 60);

    run.assert_code(3);
    let json = run.json();
    let conflicts: Vec<(&str, &str, &str)> = json["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap(),
                c["kind"].as_str().unwrap(),
                c["found"]["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        conflicts,
        [
            ("dangling", "in-the-way", "symlink"),
            ("dir", "in-the-way", "dir"),
            ("fifo", "in-the-way", "special"),
            ("file", "in-the-way", "file"),
            ("foreign", "in-the-way", "symlink"),
            ("via-file", "parent-in-the-way", "file"),
            ("via-link", "parent-in-the-way", "symlink"),
        ]
    );
}

// ---------------------------------------------------------------------------
// Backups

#[test]
fn backup_ext_flag_moves_a_file_aside() {
    let home = new_home();
    write_file(&home, "x", "mine\n");
    let gen = build_generation(&home.gen().text("x", "new\n"));

    home.hearth(["activate", "--backup-ext", "bak", path_str(&gen)])
        .assert_ok();

    let want = Want::new()
        .link("x", source(&gen, "x"))
        .file("x.bak", "mine\n");
    assert_same(&want.snapshot(), &home.snapshot());
}

#[test]
fn manifest_backup_extension_moves_a_file_aside() {
    let home = new_home();
    write_file(&home, "x", "mine\n");
    let gen = build_generation(&home.gen().backup_extension("old").text("x", "new\n"));

    activate(&home, &gen).assert_ok();

    let want = Want::new()
        .link("x", source(&gen, "x"))
        .file("x.old", "mine\n");
    assert_same(&want.snapshot(), &home.snapshot());
}

#[test]
fn backup_ext_flag_overrides_the_manifest() {
    let home = new_home();
    write_file(&home, "x", "mine\n");
    let gen = build_generation(&home.gen().backup_extension("old").text("x", "new\n"));

    home.hearth(["activate", "--backup-ext", "orig", path_str(&gen)])
        .assert_ok();

    let want = Want::new()
        .link("x", source(&gen, "x"))
        .file("x.orig", "mine\n");
    assert_same(&want.snapshot(), &home.snapshot());
}

#[test]
fn backups_are_numbered_and_never_overwritten() {
    let home = new_home();
    write_file(&home, "x", "first\n");
    write_file(&home, "x.bak", "an older backup\n");
    let gen = build_generation(&home.gen().backup_extension("bak").text("x", "new\n"));

    activate(&home, &gen).assert_ok();
    // The user puts a file there again: the next backup gets the next number.
    fs::remove_file(home.join("x")).unwrap();
    write_file(&home, "x", "second\n");
    activate(&home, &gen).assert_ok();

    let want = Want::new()
        .link("x", source(&gen, "x"))
        .file("x.bak", "an older backup\n")
        .file("x.bak.1", "first\n")
        .file("x.bak.2", "second\n");
    assert_same(&want.snapshot(), &home.snapshot());
}

#[test]
fn a_backup_never_takes_the_name_of_a_target() {
    let home = new_home();
    write_file(&home, "x", "user x\n");
    write_file(&home, "x.bak", "user x.bak\n");
    let gen = build_generation(&home.gen().text("x", "x\n").text("x.bak", "x.bak\n"));

    home.hearth(["activate", "--backup-ext", "bak", path_str(&gen)])
        .assert_ok();

    let want = Want::new()
        .link("x", source(&gen, "x"))
        .link("x.bak", source(&gen, "x.bak"))
        .file("x.bak.1", "user x\n")
        .file("x.bak.bak", "user x.bak\n");
    assert_same(&want.snapshot(), &home.snapshot());
}

#[test]
fn backup_moves_a_directory_in_the_way_aside_whole() {
    let home = new_home();
    write_file(&home, "d/a", "a\n");
    write_file(&home, "d/sub/b", "b\n");
    let gen = build_generation(&home.gen().text("d", "new\n"));

    home.hearth(["activate", "--backup-ext", "bak", path_str(&gen)])
        .assert_ok();

    let want = Want::new()
        .link("d", source(&gen, "d"))
        .file("d.bak/a", "a\n")
        .file("d.bak/sub/b", "b\n");
    assert_same(&want.snapshot(), &home.snapshot());
}

#[test]
fn backup_moves_a_file_in_place_of_a_parent_dir_aside() {
    let home = new_home();
    write_file(&home, "p", "mine\n");
    let gen = build_generation(&home.gen().text("p/x", "new\n"));

    home.hearth(["activate", "--backup-ext", "bak", path_str(&gen)])
        .assert_ok();

    let want = Want::new()
        .link("p/x", source(&gen, "p/x"))
        .file("p.bak", "mine\n");
    assert_same(&want.snapshot(), &home.snapshot());
}

#[test]
fn backup_moves_a_symlinked_parent_aside_without_writing_through_it() {
    let home = new_home();
    write_file(&home, "real/kept", "kept\n");
    symlink(&home, "p", home.join("real"));
    let gen = build_generation(&home.gen().text("p/x", "new\n"));

    home.hearth(["activate", "--backup-ext", "bak", path_str(&gen)])
        .assert_ok();

    let want = Want::new()
        .link("p/x", source(&gen, "p/x"))
        .link("p.bak", home.join("real"))
        .file("real/kept", "kept\n");
    assert_same(&want.snapshot(), &home.snapshot());
}

// ---------------------------------------------------------------------------
// Force

#[test]
fn force_replaces_a_file_and_a_symlink_without_backup() {
    let home = new_home();
    write_file(&home, "x", "mine\n");
    symlink(&home, "y", "/etc/hostname");
    let gen = build_generation(
        &home
            .gen()
            .file(FileSpec::text("x", "new x\n").force())
            .file(FileSpec::text("y", "new y\n").force()),
    );

    activate(&home, &gen).assert_ok();

    let want = Want::new()
        .link("x", source(&gen, "x"))
        .link("y", source(&gen, "y"));
    assert_same(&want.snapshot(), &home.snapshot());
}

#[test]
fn force_replaces_an_empty_directory() {
    let home = new_home();
    mkdirs(&home, "d");
    let gen = build_generation(&home.gen().file(FileSpec::text("d", "new\n").force()));

    activate(&home, &gen).assert_ok();

    let want = Want::new().link("d", source(&gen, "d"));
    assert_same(&want.snapshot(), &home.snapshot());
}

#[test]
fn force_with_a_backup_extension_still_moves_aside() {
    let home = new_home();
    write_file(&home, "x", "mine\n");
    let gen = build_generation(
        &home
            .gen()
            .backup_extension("bak")
            .file(FileSpec::text("x", "new\n").force()),
    );

    activate(&home, &gen).assert_ok();

    let want = Want::new()
        .link("x", source(&gen, "x"))
        .file("x.bak", "mine\n");
    assert_same(&want.snapshot(), &home.snapshot());
}

#[test]
fn force_on_a_non_empty_directory_without_backup_is_a_conflict() {
    let home = new_home();
    write_file(&home, "d/a", "a\n");
    let gen = build_generation(&home.gen().file(FileSpec::text("d", "new\n").force()));
    let before = home.snapshot();

    let run = activate(&home, &gen);

    run.assert_code(3);
    assert_same(&before, &home.snapshot());
    insta::assert_snapshot!("force_on_directory", home.redact_user(&run.stderr));
}

// ---------------------------------------------------------------------------
// Orphans: entries the new generation no longer has

#[test]
fn switching_removes_what_the_new_generation_no_longer_has() {
    let home = new_home();
    let gens = build_generations(&[
        home.gen()
            .text("keep", "keep\n")
            .text("gone", "gone\n")
            .text("sub/gone", "gone\n")
            .file(FileSpec::text("copied", "copied\n").copy()),
        home.gen().text("keep", "keep\n"),
    ]);
    activate(&home, &gens[0]).assert_ok();

    let run = activate(&home, &gens[1]);

    run.assert_ok();
    assert!(!run.stderr.contains("note:"), "{run}");
    let want = Want::new().link("keep", source(&gens[1], "keep"));
    assert_same(&want.snapshot(), &home.snapshot());
}

#[test]
fn switching_replaces_changed_links_and_copies() {
    let home = new_home();
    let gens = build_generations(&[
        home.gen()
            .text("link", "old\n")
            .file(FileSpec::text("copy", "old\n").copy())
            .file(FileSpec::text("mode", "same\n").copy().mode("0600")),
        home.gen()
            .text("link", "new\n")
            .file(FileSpec::text("copy", "new\n").copy())
            .file(FileSpec::text("mode", "same\n").copy().mode("0640")),
    ]);
    activate(&home, &gens[0]).assert_ok();

    activate(&home, &gens[1]).assert_ok();

    let want = Want::new()
        .link("link", source(&gens[1], "link"))
        .copy("copy", "new\n", 0o444)
        .copy("mode", "same\n", 0o640);
    assert_same(&want.snapshot(), &home.snapshot());
}

/// Activates a generation with a link and a copy, then has the user change
/// both: the link replaced by a file, the copy edited.
fn home_with_user_changed_entries() -> (TestHome, Vec<PathBuf>) {
    let home = new_home();
    let gens = build_generations(&[
        home.gen()
            .text("link", "link\n")
            .file(FileSpec::text("copy", "copy\n").copy().mode("0644"))
            .text("other", "other\n"),
        home.gen(),
    ]);
    activate(&home, &gens[0]).assert_ok();
    fs::remove_file(home.join("link")).unwrap();
    write_file(&home, "link", "the user's own\n");
    fs::write(home.join("copy"), "edited\n").unwrap();
    (home, gens)
}

#[test]
fn user_changed_orphans_are_kept_and_reported_without_failing() {
    let (home, gens) = home_with_user_changed_entries();

    let run = activate(&home, &gens[1]);

    run.assert_ok();
    let want = Want::new()
        .file("link", "the user's own\n")
        .copy("copy", "edited\n", 0o644);
    assert_same(&want.snapshot(), &home.snapshot());
    insta::assert_snapshot!("kept_note", home.redact_user(&run.stderr));
}

#[test]
fn user_changed_orphans_are_dropped_from_the_state() {
    let (home, gens) = home_with_user_changed_entries();
    activate(&home, &gens[1]).assert_ok();
    let after = home.snapshot();

    let again = activate(&home, &gens[1]);
    let status = home.hearth(["status"]);

    again.assert_ok();
    assert!(!again.stderr.contains("link"), "{again}");
    assert!(!again.stderr.contains("copy"), "{again}");
    status.assert_ok();
    assert!(!status.stdout.contains("~/"), "{status}");
    assert_same(&after, &home.snapshot());
    // No longer hearth's: going back to the first generation finds them in the way.
    let back = activate(&home, &gens[0]);
    back.assert_code(3);
    assert!(back.stderr.contains("~/link"), "{back}");
    assert!(back.stderr.contains("~/copy"), "{back}");
    assert!(back.stderr.contains("not created by hearth"), "{back}");
}

// ---------------------------------------------------------------------------
// Directories hearth created

#[test]
fn dirs_hearth_created_are_removed_once_empty() {
    let home = new_home();
    let gens = build_generations(&[home.gen().text("a/b/c/file", "x\n"), home.gen()]);
    let before = home.snapshot();
    activate(&home, &gens[0]).assert_ok();

    activate(&home, &gens[1]).assert_ok();

    assert_same(&before, &home.snapshot());
}

#[test]
fn a_dir_hearth_created_that_holds_a_user_file_stays() {
    let home = new_home();
    let gens = build_generations(&[home.gen().text("a/b/file", "x\n"), home.gen()]);
    activate(&home, &gens[0]).assert_ok();
    write_file(&home, "a/mine", "mine\n");

    activate(&home, &gens[1]).assert_ok();

    let want = Want::new().file("a/mine", "mine\n");
    assert_same(&want.snapshot(), &home.snapshot());
}

#[test]
fn dirs_that_existed_before_hearth_are_never_removed() {
    let home = new_home();
    mkdirs(&home, ".config/sub");
    let gens = build_generations(&[home.gen().text(".config/sub/new/file", "x\n"), home.gen()]);
    let before = home.snapshot();
    activate(&home, &gens[0]).assert_ok();

    activate(&home, &gens[1]).assert_ok();

    assert_same(&before, &home.snapshot());
}

// ---------------------------------------------------------------------------
// Type changes between generations

#[test]
fn a_file_target_becomes_a_directory() {
    let home = new_home();
    let gens = build_generations(&[
        home.gen().text("a", "file\n"),
        home.gen().text("a/b", "inside\n"),
    ]);
    activate(&home, &gens[0]).assert_ok();

    activate(&home, &gens[1]).assert_ok();

    let want = Want::new().link("a/b", source(&gens[1], "a/b"));
    assert_same(&want.snapshot(), &home.snapshot());
}

#[test]
fn a_directory_of_targets_becomes_a_file() {
    let home = new_home();
    let gens = build_generations(&[
        home.gen().text("a/x", "x\n").text("a/y", "y\n"),
        home.gen().text("a", "file\n"),
    ]);
    activate(&home, &gens[0]).assert_ok();

    activate(&home, &gens[1]).assert_ok();

    let want = Want::new().link("a", source(&gens[1], "a"));
    assert_same(&want.snapshot(), &home.snapshot());
}

#[test]
fn a_directory_of_targets_holding_a_user_file_does_not_become_a_file() {
    let home = new_home();
    let gens = build_generations(&[
        home.gen().text("a/x", "x\n").text("a/y", "y\n"),
        home.gen().text("a", "file\n"),
    ]);
    activate(&home, &gens[0]).assert_ok();
    write_file(&home, "a/mine", "mine\n");
    let before = full_snapshot(&home);

    let run = activate(&home, &gens[1]);

    run.assert_code(3);
    assert_same(&before, &full_snapshot(&home));
    insta::assert_snapshot!("conflict_dir_with_user_file", home.redact_user(&run.stderr));
}

#[test]
fn a_copy_becomes_a_link_and_a_link_a_copy() {
    let home = new_home();
    let gens = build_generations(&[
        home.gen()
            .file(FileSpec::text("was-copy", "one\n").copy())
            .text("was-link", "two\n"),
        home.gen()
            .text("was-copy", "one\n")
            .file(FileSpec::text("was-link", "two\n").copy().mode("0600")),
    ]);
    activate(&home, &gens[0]).assert_ok();

    activate(&home, &gens[1]).assert_ok();

    let want = Want::new()
        .link("was-copy", source(&gens[1], "was-copy"))
        .copy("was-link", "two\n", 0o600);
    assert_same(&want.snapshot(), &home.snapshot());
}

#[test]
fn a_directory_link_becomes_files_under_that_directory() {
    let home = new_home();
    let gens = build_generations(&[
        home.gen().file(FileSpec::tree(
            ".config/app",
            &[("x", "x\n", false), ("sub/y", "y\n", false)],
        )),
        home.gen()
            .text(".config/app/x", "x\n")
            .text(".config/app/sub/y", "y\n"),
    ]);
    activate(&home, &gens[0]).assert_ok();
    let tree = source(&gens[0], ".config/app");

    activate(&home, &gens[1]).assert_ok();

    let want = Want::new()
        .link(".config/app/x", source(&gens[1], ".config/app/x"))
        .link(".config/app/sub/y", source(&gens[1], ".config/app/sub/y"));
    assert_same(&want.snapshot(), &home.snapshot());
    // The old link's target (in the store) was not written through.
    assert!(!tree.join("x").is_symlink());
}

#[test]
fn files_under_a_directory_become_a_directory_link() {
    let home = new_home();
    let gens = build_generations(&[
        home.gen()
            .text(".config/app/x", "x\n")
            .text(".config/app/sub/y", "y\n"),
        home.gen().file(FileSpec::tree(
            ".config/app",
            &[("x", "x\n", false), ("sub/y", "y\n", false)],
        )),
    ]);
    activate(&home, &gens[0]).assert_ok();

    activate(&home, &gens[1]).assert_ok();

    let want = Want::new().link(".config/app", source(&gens[1], ".config/app"));
    assert_same(&want.snapshot(), &home.snapshot());
}

// ---------------------------------------------------------------------------
// Re-activation and drift

#[test]
fn reactivating_the_same_generation_writes_nothing() {
    let home = new_home();
    let gen = build_generation(
        &home
            .gen()
            .text(".profile", "export A=1\n")
            .text(".config/git/config", "[user]\n")
            .file(FileSpec::tree(".local/share/app", &[("a", "a\n", false)]))
            .file(
                FileSpec::text(".ssh/config", "Host *\n")
                    .copy()
                    .mode("0600"),
            ),
    );
    activate(&home, &gen).assert_ok();
    let mut before = full_snapshot(&home);

    let run = activate(&home, &gen);

    run.assert_ok();
    assert!(run.stdout.contains("already matched"), "{run}");
    // Same inode, mtime and ctime for every path, hearth's state files
    // included; only the state dir's own times, and its directory stamps
    // (src/home/stamps.rs: what a no-op found, so that the next need not
    // read every link again), are not required to stay.
    let mut after = full_snapshot(&home);
    for snap in [&mut before, &mut after] {
        snap.stamps.remove(Path::new(".local/state/hearth"));
        let stamps = Path::new(".local/state/hearth/stamps.json");
        snap.stamps.remove(stamps);
        snap.nodes.remove(stamps);
    }
    assert_untouched(&before, &after);
}

#[test]
fn reactivation_recreates_deleted_links_and_copies() {
    let home = new_home();
    let gen = build_generation(
        &home
            .gen()
            .text("a/x", "x\n")
            .text("y", "y\n")
            .file(FileSpec::text("c", "c\n").copy().mode("0640")),
    );
    activate(&home, &gen).assert_ok();
    let applied = home.snapshot();
    fs::remove_file(home.join("a/x")).unwrap();
    fs::remove_file(home.join("c")).unwrap();

    activate(&home, &gen).assert_ok();

    assert_same(&applied, &home.snapshot());
}

#[test]
fn reactivation_recreates_a_deleted_directory_of_links() {
    let home = new_home();
    let gen = build_generation(&home.gen().text("a/b/x", "x\n").text("a/y", "y\n"));
    activate(&home, &gen).assert_ok();
    let applied = home.snapshot();
    fs::remove_dir_all(home.join("a")).unwrap();

    activate(&home, &gen).assert_ok();

    assert_same(&applied, &home.snapshot());
}

#[test]
fn reactivation_repairs_a_link_replaced_by_another_store_link() {
    let home = new_home();
    let gen = build_generation(&home.gen().text("x", "x\n").text("y", "y\n"));
    activate(&home, &gen).assert_ok();
    let applied = home.snapshot();
    fs::remove_file(home.join("x")).unwrap();
    symlink(&home, "x", source(&gen, "y"));

    activate(&home, &gen).assert_ok();

    assert_same(&applied, &home.snapshot());
}

#[test]
fn reactivation_over_user_changes_is_a_conflict_and_keeps_them() {
    let home = new_home();
    let gen = build_generation(
        &home
            .gen()
            .text("link", "link\n")
            .file(FileSpec::text("copy", "copy\n").copy()),
    );
    activate(&home, &gen).assert_ok();
    fs::remove_file(home.join("link")).unwrap();
    write_file(&home, "link", "the user's own\n");
    fs::set_permissions(home.join("copy"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(home.join("copy"), "edited\n").unwrap();
    let before = full_snapshot(&home);

    let run = activate(&home, &gen);

    run.assert_code(3);
    assert_same(&before, &full_snapshot(&home));
    insta::assert_snapshot!("modified_conflict", home.redact_user(&run.stderr));
}

#[test]
fn status_reports_drift() {
    let home = new_home();
    let gen = build_generation(
        &home
            .gen()
            .text("deleted", "x\n")
            .text("replaced", "x\n")
            .text("fine", "x\n")
            .file(FileSpec::text("edited", "x\n").copy()),
    );
    activate(&home, &gen).assert_ok();
    fs::remove_file(home.join("deleted")).unwrap();
    fs::remove_file(home.join("replaced")).unwrap();
    write_file(&home, "replaced", "mine\n");
    fs::set_permissions(home.join("edited"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(home.join("edited"), "edited\n").unwrap();

    let run = home.hearth(["status"]);

    run.assert_code(6);
    insta::assert_snapshot!("status_drift", home.redact_user(&run.stdout));
}

// ---------------------------------------------------------------------------
// plan and --dry-run

#[test]
fn plan_and_dry_run_on_a_fresh_home_write_nothing_at_all() {
    let home = new_home();
    fs::remove_dir_all(home.join(".local")).unwrap();
    let gen = build_generation(
        &home
            .gen()
            .text(".config/a", "a\n")
            .file(FileSpec::text("b", "b\n").copy()),
    );
    let before = full_snapshot(&home);

    for args in [
        vec!["plan", path_str(&gen)],
        vec!["plan", "--json", path_str(&gen)],
        vec!["activate", "--dry-run", path_str(&gen)],
        vec!["activate", "--dry-run", "--json", path_str(&gen)],
    ] {
        home.hearth(&args).assert_ok();
        // Not even ~/.local/state.
        assert_untouched(&before, &full_snapshot(&home));
    }
}

#[test]
fn plan_and_dry_run_on_an_activated_home_write_nothing_at_all() {
    let (home, gens) = home_for_a_full_plan();
    let before = full_snapshot(&home);

    for args in [
        vec!["plan", path_str(&gens[1])],
        vec!["plan", "--json", path_str(&gens[1])],
        vec!["activate", "--dry-run", path_str(&gens[1])],
        vec!["activate", "--dry-run", "--json", path_str(&gens[1])],
    ] {
        home.hearth(&args).assert_ok();
        assert_untouched(&before, &full_snapshot(&home));
    }
}

/// A home on a first generation, with a file in the way of the second, and
/// the two generations: every kind of action is needed to switch.
fn home_for_a_full_plan() -> (TestHome, Vec<PathBuf>) {
    let home = new_home();
    let gens = build_generations(&[
        home.gen()
            .text("same", "same\n")
            .text("changes", "old\n")
            .text("gone/file", "gone\n"),
        home.gen()
            .backup_extension("bak")
            .text("same", "same\n")
            .text("changes", "new\n")
            .text("new/file", "new\n")
            .text("in-the-way", "new\n")
            .file(FileSpec::text("copied", "copied\n").copy().mode("0600")),
    ]);
    activate(&home, &gens[0]).assert_ok();
    write_file(&home, "in-the-way", "mine\n");
    (home, gens)
}

#[test]
fn plan_json_lists_each_action_with_its_kind() {
    let (home, gens) = home_for_a_full_plan();

    let run = home.hearth(["plan", "--json", path_str(&gens[1])]);

    run.assert_ok();
    let json = run.json();
    let actions: Vec<(&str, &str, Option<&str>)> = json["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap(),
                a["path"].as_str().unwrap(),
                a["why"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("remove", "gone/file", None),
            ("remove-dir", "gone", None),
            ("mkdir", "new", None),
            ("put", "changes", Some("replace")),
            ("put", "new/file", Some("create")),
            ("backup", "in-the-way", None),
            ("put", "in-the-way", Some("create")),
            ("put", "copied", Some("create")),
        ]
    );
    assert_eq!(json["actions"][5]["to"], "in-the-way.bak");
    assert_eq!(json["unchanged"], 1);
    assert_eq!(json["conflicts"], Value::Array(vec![]));
}

#[test]
fn activate_json_reports_what_was_done() {
    let (home, gens) = home_for_a_full_plan();

    let run = home.hearth(["activate", "--json", path_str(&gens[1])]);

    run.assert_ok();
    let json = run.json();
    let kinds: Vec<&str> = json["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "remove",
            "remove-dir",
            "mkdir",
            "put",
            "put",
            "backup",
            "put",
            "put"
        ]
    );
    assert_eq!(json["generation"], path_str(&gens[1]));
    assert_eq!(read_file(&home, "in-the-way.bak"), "mine\n");
}

#[test]
fn plan_text_shows_each_action() {
    let (home, gens) = home_for_a_full_plan();

    let run = home.hearth(["plan", path_str(&gens[1])]);

    run.assert_ok();
    insta::assert_snapshot!("plan_text", home.redact_user(&run.stdout));
}

#[test]
fn dry_run_prints_the_same_as_plan() {
    let (home, gens) = home_for_a_full_plan();

    let plan = home.hearth(["plan", path_str(&gens[1])]);
    let dry = home.hearth(["activate", "--dry-run", path_str(&gens[1])]);

    dry.assert_ok();
    assert_eq!(plan.stdout, dry.stdout);
}

// ---------------------------------------------------------------------------
// check

#[test]
fn check_accepts_a_good_generation() {
    let home = new_home();
    let gen = build_generation(
        &home
            .gen()
            .text("a", "a\n")
            .file(FileSpec::text("b", "b\n").copy().mode("0600"))
            .step("reload", "files", "true\n"),
    );

    let run = home.hearth(["check", path_str(&gen)]);

    run.assert_ok();
    insta::assert_snapshot!("check_good", home.redact_user(&run.stdout));
}

// ---------------------------------------------------------------------------
// Bad input: every message names where, what, and how to fix it

/// A manifest around `files` (JSON text), for errors found while parsing.
fn raw_manifest(files: &str) -> String {
    format!(
        "{{\n  \"version\": 1,\n  \"user\": \"alice\",\n  \"home\": \"/home/alice\",\n  \"files\": [\n{files}\n  ]\n}}\n"
    )
}

#[test]
fn malformed_manifests_are_rejected_naming_the_json_path() {
    let home = new_home();
    let cases = [
        (
            "bad_unknown_field",
            raw_manifest(
                "    { \"target\": \"a\", \"source\": \"/nix/store/a\", \"type\": \"symlink\" },\n    \
                 { \"target\": \"b\", \"source\": \"/nix/store/b\", \"type\": \"symlink\", \"colour\": \"red\" }",
            ),
        ),
        (
            "bad_wrong_type",
            raw_manifest(
                "    { \"target\": \"a\", \"source\": \"/nix/store/a\", \"type\": \"symlink\", \"force\": \"yes\" }",
            ),
        ),
        (
            "bad_missing_field",
            raw_manifest("    { \"target\": \"a\", \"type\": \"symlink\" }"),
        ),
        (
            "bad_unknown_type",
            raw_manifest(
                "    { \"target\": \"a\", \"source\": \"/nix/store/a\", \"type\": \"hardlink\" }",
            ),
        ),
        (
            "bad_version_2",
            raw_manifest("").replace("\"version\": 1", "\"version\": 2"),
        ),
        ("bad_not_json", "{ \"version\": 1, \"files\": [".to_owned()),
    ];
    let specs: Vec<GenSpec> = cases.iter().map(|(_, m)| GenSpec::raw(m)).collect();
    let gens = build_generations(&specs);

    for ((name, _), gen) in cases.iter().zip(&gens) {
        let run = home.hearth(["check", path_str(gen)]);
        run.assert_code(2);
        insta::assert_snapshot!(*name, home.redact_user(&run.stderr));
    }
}

#[test]
fn invalid_entries_are_rejected_naming_the_entry_and_the_fix() {
    let home = new_home();
    let missing = "/nix/store/00000000000000000000000000000000-hearth-missing";
    let cases = [
        ("bad_absolute_target", home.gen().text("/etc/motd", "x\n")),
        (
            "bad_dotdot_target",
            home.gen().text("a/../../outside", "x\n"),
        ),
        (
            "bad_duplicate_targets",
            home.gen().text(".vimrc", "one\n").text("./.vimrc", "two\n"),
        ),
        (
            "bad_target_inside_another",
            home.gen()
                .text(".config/app", "file\n")
                .text(".config/app/x", "inside\n"),
        ),
        (
            "bad_copy_mode",
            home.gen()
                .file(FileSpec::text("a", "x\n").copy().mode("0999")),
        ),
        (
            "bad_copy_setuid_mode",
            home.gen()
                .file(FileSpec::text("a", "x\n").copy().mode("4755")),
        ),
        (
            "bad_mode_on_symlink",
            home.gen().file(FileSpec::text("a", "x\n").mode("0644")),
        ),
        (
            "bad_missing_source",
            home.gen().file(FileSpec::path("a", missing)),
        ),
        (
            "bad_copy_of_directory",
            home.gen()
                .file(FileSpec::tree("a", &[("x", "x\n", false)]).copy()),
        ),
        ("bad_target_is_the_home", home.gen().text("./", "x\n")),
        (
            "bad_manifest_backup_extension",
            home.gen().backup_extension("a/b").text("a", "x\n"),
        ),
        (
            "bad_several_problems",
            home.gen()
                .text("/abs", "x\n")
                .file(FileSpec::path("b", missing))
                .file(FileSpec::text("c", "x\n").mode("0644")),
        ),
    ];
    let specs: Vec<GenSpec> = cases.iter().map(|(_, spec)| spec.clone()).collect();
    let gens = build_generations(&specs);

    for ((name, _), gen) in cases.iter().zip(&gens) {
        let run = home.hearth(["check", path_str(gen)]);
        run.assert_code(2);
        insta::assert_snapshot!(*name, home.redact_user(&run.stderr));
    }
}

#[test]
fn check_of_a_directory_without_a_manifest_says_what_a_generation_is() {
    let home = new_home();
    let dir = mkdirs(&home, "not-a-generation");

    let run = home.hearth(["check", path_str(&dir)]);

    run.assert_code(2);
    insta::assert_snapshot!("bad_not_a_generation", home.redact_user(&run.stderr));
}

#[test]
fn activate_rejects_an_invalid_manifest_and_writes_nothing() {
    let home = new_home();
    let gen = build_generation(
        &home
            .gen()
            .text("ok", "x\n")
            .file(FileSpec::text("a", "x\n").mode("0644")),
    );
    let before = full_snapshot(&home);

    let run = activate(&home, &gen);

    run.assert_code(2);
    assert_untouched(&before, &full_snapshot(&home));
    assert_eq!(run.stderr, home.hearth(["check", path_str(&gen)]).stderr);
}

#[test]
fn activate_refuses_a_generation_for_another_user() {
    let home = new_home();
    let gen = build_generation(&home.gen().user("nobody").text("a", "x\n"));
    let before = full_snapshot(&home);

    let run = activate(&home, &gen);

    run.assert_code(2);
    assert_untouched(&before, &full_snapshot(&home));
    insta::assert_snapshot!("wrong_user", home.redact_user(&run.stderr));
}

#[test]
fn activate_refuses_a_generation_for_another_home() {
    let home = new_home();
    let other = new_home();
    let gen = build_generation(&other.gen().text("a", "x\n"));
    let before = full_snapshot(&home);

    let run = activate(&home, &gen);

    run.assert_code(2);
    assert_untouched(&before, &full_snapshot(&home));
    let text = run.stderr.replace(path_str(other.path()), "~OTHER");
    insta::assert_snapshot!("wrong_home", home.redact_user(&text));
}

#[test]
fn activate_rejects_a_bad_backup_ext() {
    let home = new_home();
    write_file(&home, "a", "mine\n");
    let gen = build_generation(&home.gen().text("a", "x\n"));
    let before = full_snapshot(&home);

    let run = home.hearth(["activate", "--backup-ext", "../x", path_str(&gen)]);

    run.assert_code(2);
    assert_untouched(&before, &full_snapshot(&home));
    insta::assert_snapshot!("bad_backup_ext_flag", home.redact_user(&run.stderr));
}

// ---------------------------------------------------------------------------
// rollback without an earlier generation

#[test]
fn rollback_from_the_first_generation_says_there_is_nothing_to_go_back_to() {
    let home = new_home();
    let gen = build_generation(&home.gen().text("a", "x\n"));
    activate(&home, &gen).assert_ok();
    let before = full_snapshot(&home);

    let run = home.hearth(["rollback"]);

    run.assert_code(2);
    assert_untouched(&before, &full_snapshot(&home));
    insta::assert_snapshot!("rollback_oldest", home.redact_user(&run.stderr));
}

#[test]
fn rollback_on_a_fresh_home_says_nothing_was_activated() {
    let home = new_home();
    let before = full_snapshot(&home);

    let run = home.hearth(["rollback"]);

    run.assert_code(2);
    assert_untouched(&before, &full_snapshot(&home));
    insta::assert_snapshot!("rollback_nothing", home.redact_user(&run.stderr));
}

#[test]
fn rollback_to_an_unknown_generation_says_where_to_look() {
    let home = new_home();
    let gen = build_generation(&home.gen().text("a", "x\n"));
    activate(&home, &gen).assert_ok();
    let before = full_snapshot(&home);

    let run = home.hearth(["rollback", "--to", "7"]);

    run.assert_code(2);
    assert_untouched(&before, &full_snapshot(&home));
    insta::assert_snapshot!("rollback_unknown", home.redact_user(&run.stderr));
}

// ---------------------------------------------------------------------------
// hearth's own state dir

#[test]
fn a_target_at_hearths_state_dir_is_refused() {
    let home = new_home();
    let gens = build_generations(&[
        home.gen().text("a", "a\n"),
        home.gen()
            .text("a", "a\n")
            .file(FileSpec::text(".local/state/hearth", "x\n").copy()),
    ]);
    activate(&home, &gens[0]).assert_ok();
    let before = full_snapshot(&home);

    let run = home.hearth(["activate", "--backup-ext", "bak", path_str(&gens[1])]);

    run.assert_code(2);
    assert_untouched(&before, &full_snapshot(&home));
    insta::assert_snapshot!(home.redact(&run.stderr));
}

/// Above or below the state directory is refused as at it: compared as
/// paths, component by component (`.local/stateX` is not above it).
#[test]
fn a_target_above_or_inside_hearths_state_dir_is_refused() {
    let home = new_home();
    for target in [".local/state", ".local/state/hearth/gcroots/x", ".local"] {
        let gens = build_generations(&[home
            .gen()
            .text("a", "a\n")
            .file(FileSpec::text(target, "x\n").copy())]);
        let before = full_snapshot(&home);
        let run = home.hearth(["activate", path_str(&gens[0])]);
        run.assert_code(2);
        assert!(
            run.stderr.contains("hearth's state directory"),
            "{target}: {}",
            run.stderr
        );
        assert_untouched(&before, &full_snapshot(&home));
    }
    let gens = build_generations(&[home
        .gen()
        .file(FileSpec::text(".local/stateX", "x\n").copy())
        .file(FileSpec::text(".local/state/hearthX", "x\n").copy())]);
    activate(&home, &gens[0]).assert_ok();
}
