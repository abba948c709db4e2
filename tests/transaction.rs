//! The transaction around an activation, against real nix-built generations:
//! a failure or a kill at any write leaves the home exactly as before (or,
//! after recovery, exactly on the new generation), runs are serialized by the
//! lock, hooks and steps run when and how they should, and the generation
//! history (GC roots, packages profile, rollback, pruning) stays consistent.
//!
//! The failure and kill tests need the `fault-injection` feature (they are
//! ignored without it): `cargo test --features fault-injection --test integration transaction::`.

use crate::common;

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// Exit status of a run killed by SIGKILL, as `Run` reports it.
const KILLED: i32 = 128 + 9;

// ---------------------------------------------------------------------------
// Helpers

fn activate(home: &TestHome, gen: &Path) -> Run {
    home.hearth(["activate", path_str(gen)])
}

fn activate_bak(home: &TestHome, gen: &Path) -> Run {
    home.hearth(["activate", path_str(gen), "--backup-ext", "bak"])
}

/// Empties the home completely (hearth's state included) and recreates
/// `.local/state`, as `TestHome::new` leaves it.
fn wipe(home: &TestHome) {
    for entry in fs::read_dir(home.path()).unwrap() {
        let path = entry.unwrap().path();
        if fs::symlink_metadata(&path).unwrap().is_dir() {
            fs::remove_dir_all(&path).unwrap();
        } else {
            fs::remove_file(&path).unwrap();
        }
    }
    mkdirs(home, ".local/state");
}

/// `hearth generations --json`: (number, path, current) in order.
fn generations(home: &TestHome) -> Vec<(u64, PathBuf, bool)> {
    let run = home.hearth(["generations", "--json"]);
    run.assert_ok();
    run.json()["generations"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list:\n{run}"))
        .iter()
        .map(|g| {
            (
                g["number"].as_u64().unwrap(),
                PathBuf::from(g["path"].as_str().unwrap()),
                g["current"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// The current generation's (number, path) as `hearth generations` says.
fn current(home: &TestHome) -> Option<(u64, PathBuf)> {
    let gens = generations(home);
    let mut cur = gens.iter().filter(|g| g.2);
    let found = cur.next().map(|(n, p, _)| (*n, p.clone()));
    assert!(cur.next().is_none(), "two current generations: {gens:?}");
    found
}

#[track_caller]
fn assert_status_clean(home: &TestHome) {
    home.hearth(["status"]).assert_ok();
}

fn manifest(gen: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(gen.join("manifest.json")).unwrap()).unwrap()
}

/// The `source` of `target` in a generation's manifest.
fn source_of(gen: &Path, target: &str) -> PathBuf {
    let m = manifest(gen);
    let file = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["target"] == target)
        .unwrap_or_else(|| panic!("{target} is not in {}", gen.display()));
    PathBuf::from(file["source"].as_str().unwrap())
}

/// A directory made immutable (`chattr +i`: even root cannot write into it)
/// for as long as this value lives.
struct Immutable(PathBuf);

impl Immutable {
    fn set(path: PathBuf) -> Self {
        assert!(chattr("+i", &path), "chattr +i {} failed", path.display());
        Immutable(path)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        // No panic here: it may run while a failed test unwinds.
        if !chattr("-i", &self.0) {
            eprintln!("chattr -i {} failed; undo it by hand", self.0.display());
        }
    }
}

fn chattr(flag: &str, path: &Path) -> bool {
    Command::new("chattr")
        .arg(flag)
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

/// What a file in the home holds, if it is a regular file.
fn content(home: &TestHome, rel: &str) -> Option<String> {
    let path = home.join(rel);
    fs::symlink_metadata(&path)
        .is_ok_and(|m| m.is_file())
        .then(|| fs::read_to_string(&path).unwrap())
}

// ---------------------------------------------------------------------------
// The switch used by the failure and kill tests: gen1 → gen2 with creates,
// replaces, removals (links and an owned copy), a replaced copy, directory
// creation and removal, type changes both ways, a directory link replaced by
// files under it, and backups of user files (one next to an older backup).

fn switch_specs(home: &TestHome) -> [GenSpec; 2] {
    let mut gen1 = home.gen();
    let mut gen2 = home.gen();
    for i in 0..8 {
        let (target, text) = (format!(".config/keep/k{i}"), format!("keep {i}\n"));
        gen1 = gen1.text(&target, &text);
        gen2 = gen2.text(&target, &text);
    }
    for i in 0..6 {
        let target = format!(".config/change/c{i}");
        gen1 = gen1.text(&target, &format!("old {i}\n"));
        gen2 = gen2.text(&target, &format!("new {i}\n"));
    }
    for i in 0..4 {
        gen1 = gen1.text(&format!(".config/old/o{i}"), &format!("orphan {i}\n"));
    }
    let gen1 = gen1
        .file(FileSpec::text(".local/share/owned-copy", "owned copy\n").copy())
        .file(
            FileSpec::text(".ssh/config", "Host old\n")
                .copy()
                .mode("0600"),
        )
        .text(".config/tc", "a file that becomes a directory\n")
        .text(".config/d2f/a", "in a directory that becomes a file\n")
        .file(FileSpec::tree(
            ".vim",
            &[
                ("vimrc", "set nocompatible\n", false),
                ("colors/dark.vim", "hi Normal\n", false),
            ],
        ))
        .text("zz/last", "last old\n");
    for i in 0..6 {
        gen2 = gen2.text(&format!(".config/new/n{i}"), &format!("created {i}\n"));
    }
    let gen2 = gen2
        .file(
            FileSpec::text(".ssh/config", "Host new\n")
                .copy()
                .mode("0600"),
        )
        .text(".config/tc/inner", "now inside a directory\n")
        .text(".config/d2f", "now a file\n")
        .text(".vim/vimrc", "set nocompatible\n")
        .text(".vim/colors/dark.vim", "hi Normal guibg=black\n")
        .text(".bashrc", "managed bashrc\n")
        .text(
            ".config/userdir",
            "managed, where the user had a directory\n",
        )
        .file(FileSpec::text(".gitconfig", "[user]\n").copy().mode("0640"))
        .text("zz/last", "last new\n");
    [gen1, gen2]
}

/// The user's own files, in the way of gen2 (and one that is not).
const USER_FILES: &[(&str, &str)] = &[
    (".bashrc", "my bashrc\n"),
    (".bashrc.bak", "an older backup\n"),
    (".config/userdir/notes.txt", "my notes\n"),
    (".config/mine", "not hearth's business\n"),
];

/// Where each user file may be during the switch: where it was, or its backup.
const USER_FILE_PLACES: &[&[&str]] = &[
    &[".bashrc", ".bashrc.bak.1"],
    &[".bashrc.bak"],
    &[".config/userdir/notes.txt", ".config/userdir.bak/notes.txt"],
    &[".config/mine"],
];

/// A home on gen1 with the user's files in it, and one directory that
/// gen2 removes made private (as users do with ~/.ssh).
fn on_gen1(home: &TestHome, gen1: &Path) {
    activate(home, gen1).assert_ok();
    for (rel, text) in USER_FILES {
        write_file(home, rel, text);
    }
    fs::set_permissions(home.join(".config/old"), fs::Permissions::from_mode(0o700)).unwrap();
}

#[track_caller]
fn assert_no_user_file_lost(home: &TestHome, when: &str) {
    for ((_, text), places) in USER_FILES.iter().zip(USER_FILE_PLACES) {
        let found = places
            .iter()
            .filter(|p| content(home, p).as_deref() == Some(text))
            .count();
        assert_eq!(
            found,
            1,
            "{when}: {text:?} is not in exactly one of {places:?}:\n{:?}",
            home.snapshot()
        );
    }
}

struct Switch {
    home: TestHome,
    gen1: PathBuf,
    gen2: PathBuf,
    /// The home on gen1 with the user's files.
    before: Snapshot,
    /// The home after an undisturbed switch to gen2 with `--backup-ext bak`.
    after: Snapshot,
}

/// Builds the switch, records the home before and after an undisturbed
/// run, and leaves the home as before.
fn switch() -> Switch {
    let home = TestHome::new();
    let [gen1, gen2] = build_generations(&switch_specs(&home)).try_into().unwrap();
    on_gen1(&home, &gen1);
    let before = home.snapshot();
    activate_bak(&home, &gen2).assert_ok();
    let after = home.snapshot();
    assert_status_clean(&home);
    for (rel, text) in [
        (".bashrc.bak.1", "my bashrc\n"),
        (".bashrc.bak", "an older backup\n"),
        (".config/userdir.bak/notes.txt", "my notes\n"),
    ] {
        assert_eq!(content(&home, rel).as_deref(), Some(text), "{after:?}");
    }
    wipe(&home);
    on_gen1(&home, &gen1);
    assert_same(&before, &home.snapshot());
    Switch {
        home,
        gen1,
        gen2,
        before,
        after,
    }
}

/// How many actions `hearth plan` lists for the switch (each is at least one write).
fn planned_actions(home: &TestHome, gen: &Path) -> usize {
    let run = home.hearth(["plan", path_str(gen), "--json", "--backup-ext", "bak"]);
    run.assert_ok();
    run.json()["actions"].as_array().unwrap().len()
}

// ---------------------------------------------------------------------------
// Failure mid-apply

#[test]
fn read_only_directory_mid_switch_reverts_everything() {
    let s = switch();
    let home = &s.home;
    // zz/last is the last target of gen2: every other change is made first.
    let _ro = Immutable::set(home.join("zz"));

    let run = activate_bak(home, &s.gen2);
    run.assert_code(4);
    assert!(
        run.stderr.contains("every change was reverted")
            && run.stderr.contains("zz/")
            && run.stderr.contains("Operation not permitted"),
        "{run}"
    );
    assert_same(&s.before, &home.snapshot());
    assert_eq!(current(home), Some((1, s.gen1.clone())));
    assert_eq!(generations(home).len(), 1);
    assert_status_clean(home);
}

#[test]
fn reverted_directory_removal_restores_the_directory_mode() {
    let home = TestHome::new();
    let [gen1, gen2] = build_generations(&[
        home.gen().text(".ssh/config", "c\n").text("zz/last", "1\n"),
        home.gen().text("zz/last", "2\n"),
    ])
    .try_into()
    .unwrap();
    activate(&home, &gen1).assert_ok();
    fs::set_permissions(home.join(".ssh"), fs::Permissions::from_mode(0o700)).unwrap();
    let before = home.snapshot();
    // gen2 removes ~/.ssh first, then fails to replace zz/last.
    let _ro = Immutable::set(home.join("zz"));
    activate(&home, &gen2).assert_code(4);
    assert_same(&before, &home.snapshot());
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn injected_failure_at_every_write_of_a_switch_reverts_exactly() {
    let s = switch();
    let home = &s.home;
    let actions = planned_actions(home, &s.gen2);
    let mut k = 1;
    loop {
        let run = home.hearth_env(
            ["activate", path_str(&s.gen2), "--backup-ext", "bak"],
            &[("HEARTH_FAULT_FAIL_AT", &k.to_string())],
        );
        if run.code == 0 {
            break;
        }
        run.assert_code(4);
        assert!(
            run.stderr.contains(&format!("injected fault at write {k}"))
                && run.stderr.contains("every change was reverted"),
            "k = {k}: {run}"
        );
        let now = home.snapshot();
        assert!(
            now == s.before,
            "k = {k}: the home changed:\n{}",
            s.before.diff(&now).join("\n")
        );
        k += 1;
        assert!(k < 1000, "the switch never completed");
    }
    let writes = k - 1;
    assert!(
        writes >= actions && actions >= 30,
        "{writes} writes for {actions} actions"
    );
    // With the fault past the last write, the switch is the undisturbed one.
    assert_same(&s.after, &home.snapshot());
    assert_eq!(current(home), Some((2, s.gen2.clone())));
    assert_status_clean(home);
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn state_stays_on_the_old_generation_after_an_injected_failure() {
    let s = switch();
    let home = &s.home;
    let run = home.hearth_env(
        ["activate", path_str(&s.gen2), "--backup-ext", "bak"],
        &[("HEARTH_FAULT_FAIL_AT", "20")],
    );
    run.assert_code(4);
    assert_eq!(current(home), Some((1, s.gen1.clone())));
    assert_eq!(generations(home).len(), 1);
    assert!(!home.state_dir().join("gcroots/2").exists());
    assert_status_clean(home);
    // Nothing is left to recover: the next run says nothing about it.
    let again = activate(home, &s.gen1);
    again.assert_ok();
    assert!(!again.stderr.contains("interrupted"), "{again}");
}

/// Directories a switch of a grid goes through: `GRID_SIDE` squared.
const GRID_SIDE: usize = 24;

/// A generation of one link in each of `GRID_SIDE` × `GRID_SIDE`
/// directories (`aNN/bNN/f`), all holding `content`.
fn grid(home: &TestHome, content: &str) -> GenSpec {
    let mut g = home.gen();
    for a in 0..GRID_SIDE {
        for b in 0..GRID_SIDE {
            g = g.text(&format!("a{a:02}/b{b:02}/f"), content);
        }
    }
    g
}

/// A home on the grid's first generation (every link holding "1"), as
/// it is then, and the first and second ("2") generations.
fn on_grid_gen1() -> (TestHome, Snapshot, PathBuf, PathBuf) {
    let home = TestHome::new();
    let [gen1, gen2] = build_generations(&[grid(&home, "1\n"), grid(&home, "2\n")])
        .try_into()
        .unwrap();
    activate(&home, &gen1).assert_ok();
    let before = home.snapshot();
    (home, before, gen1, gen2)
}

/// A home of 9,216 links (64 directories of 144) to one file, as it is
/// then, and the generations of those links to it and to another file: a
/// switch that unlinks more old links than `apply` hands to its helper
/// thread (8,192).
fn many_links() -> (TestHome, Snapshot, PathBuf, PathBuf) {
    let home = TestHome::new();
    let tree = build_tree(&[("one", "1\n", false), ("two", "2\n", false)]);
    let links_to = |file: &str| home.gen().links_to(&tree.join(file), 64, 144);
    let [gen1, gen2] = build_generations(&[links_to("one"), links_to("two")])
        .try_into()
        .unwrap();
    activate(&home, &gen1).assert_ok();
    let before = home.snapshot();
    (home, before, gen1, gen2)
}

/// A home of more directories than hearth keeps open at once while it
/// looks and while it applies (256 each): a switch that fails past that
/// many reverts in every one of them, and one that is not disturbed lands.
#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn a_switch_across_more_directories_than_are_kept_open_reverts_or_lands() {
    let (home, before, gen1, gen2) = on_grid_gen1();
    // Each replaced link is at least one write and at most two: the fault
    // comes after more than 256 of the 576 directories were written in.
    let actions = planned_actions(&home, &gen2);
    assert_eq!(actions, GRID_SIDE * GRID_SIDE);
    let run = home.hearth_env(
        ["activate", path_str(&gen2)],
        &[("HEARTH_FAULT_FAIL_AT", &actions.to_string())],
    );
    run.assert_code(4);
    assert!(run.stderr.contains("every change was reverted"), "{run}");
    assert_same(&before, &home.snapshot());
    assert_eq!(current(&home), Some((1, gen1.clone())));

    activate(&home, &gen2).assert_ok();
    for a in 0..GRID_SIDE {
        for b in 0..GRID_SIDE {
            let rel = format!("a{a:02}/b{b:02}/f");
            let text = fs::read_to_string(home.join(&rel)).unwrap();
            assert_eq!(text, "2\n", "{rel}");
        }
    }
    assert_eq!(current(&home), Some((2, gen2)));
    assert_status_clean(&home);
}

/// What a change took out of the home and checked (an old link swapped
/// out, a removed link moved aside) is then unlinked: in line in a small
/// switch, on a helper thread in a large one. An unlink that fails fails the
/// activation either way, and every change is reverted.
#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn a_failed_unlink_of_what_a_switch_took_out_reverts_exactly() {
    let fail_at = |k: usize| [("HEARTH_FAULT_UNLINK_FAIL_AT", k.to_string())];
    let reverted = |run: &Run, k: usize| {
        run.assert_code(4);
        assert!(
            run.stderr
                .contains(&format!("injected fault at unlink {k}"))
                && run.stderr.contains("every change was reverted"),
            "k = {k}: {run}"
        );
    };

    // In line: each unlink of the switch in turn (6 links replaced, 4
    // removed, and the old copies' hard links).
    let s = switch();
    let mut k = 1;
    loop {
        let [(name, value)] = fail_at(k);
        let run = s.home.hearth_env(
            ["activate", path_str(&s.gen2), "--backup-ext", "bak"],
            &[(name, value.as_str())],
        );
        if run.code == 0 {
            break;
        }
        reverted(&run, k);
        assert_same(&s.before, &s.home.snapshot());
        assert_eq!(current(&s.home), Some((1, s.gen1.clone())));
        k += 1;
        assert!(k < 100, "the switch never completed");
    }
    assert!(k > 10, "only {} unlinks", k - 1);
    assert_same(&s.after, &s.home.snapshot());

    // On the helper (see `many_links`): the 5,000th unlink fails.
    let (home, before, gen1, gen2) = many_links();
    let [(name, value)] = fail_at(5000);
    let run = home.hearth_env(["activate", path_str(&gen2)], &[(name, value.as_str())]);
    reverted(&run, 5000);
    assert_same(&before, &home.snapshot());
    assert_eq!(current(&home), Some((1, gen1)));
    activate(&home, &gen2).assert_ok();
    assert_eq!(current(&home), Some((2, gen2)));
    assert_status_clean(&home);
}

// ---------------------------------------------------------------------------
// kill -9 mid-apply

/// Kills the switch at write `k`; false when the switch had fewer writes and
/// completed.
fn kill_switch_at(s: &Switch, k: u32) -> bool {
    let run = s.home.hearth_env(
        ["activate", path_str(&s.gen2), "--backup-ext", "bak"],
        &[("HEARTH_FAULT_KILL_AT", &k.to_string())],
    );
    if run.code == 0 {
        return false;
    }
    run.assert_code(KILLED);
    true
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn kill_at_every_write_then_activate_new_recovers_and_lands_on_new() {
    let s = switch();
    let home = &s.home;
    let mut k = 1;
    while kill_switch_at(&s, k) {
        assert_no_user_file_lost(home, &format!("killed at write {k}"));
        let run = activate_bak(home, &s.gen2);
        run.assert_ok();
        assert!(
            run.stderr.contains("reverted an interrupted activation"),
            "k = {k}: {run}"
        );
        let now = home.snapshot();
        assert!(
            now == s.after,
            "k = {k}: not on gen2:\n{}",
            s.after.diff(&now).join("\n")
        );
        assert_eq!(current(home), Some((2, s.gen2.clone())), "k = {k}");
        assert_status_clean(home);
        wipe(home);
        on_gen1(home, &s.gen1);
        k += 1;
        assert!(k < 1000, "the switch never completed");
    }
    assert!(k > 40, "only {} writes", k - 1);
    assert_same(&s.after, &home.snapshot());
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn kill_at_every_write_then_activate_old_restores_the_home_exactly() {
    let s = switch();
    let home = &s.home;
    let mut k = 1;
    while kill_switch_at(&s, k) {
        assert_no_user_file_lost(home, &format!("killed at write {k}"));
        let run = activate(home, &s.gen1);
        run.assert_ok();
        assert!(
            run.stderr.contains("reverted an interrupted activation"),
            "k = {k}: {run}"
        );
        let now = home.snapshot();
        assert!(
            now == s.before,
            "k = {k}: not as before:\n{}",
            s.before.diff(&now).join("\n")
        );
        assert_eq!(current(home), Some((1, s.gen1.clone())), "k = {k}");
        assert_eq!(generations(home).len(), 1, "k = {k}");
        k += 1;
        assert!(k < 1000, "the switch never completed");
    }
    assert!(k > 40, "only {} writes", k - 1);
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn recovery_drops_the_gc_root_of_the_reverted_generation() {
    let s = switch();
    let home = &s.home;
    assert!(kill_switch_at(&s, 10));
    // The killed run's `nix-store --add-root` child finishes on its own.
    let root2 = home.state_dir().join("gcroots/2");
    let registered = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        fs::read_link(&root2).is_ok()
    });
    assert!(registered, "the killed run never registered its root");

    activate(home, &s.gen1).assert_ok();
    assert_eq!(generations(home).len(), 1);
    assert!(
        fs::symlink_metadata(&root2).is_err(),
        "{} still roots the reverted generation",
        root2.display()
    );
}

#[test]
fn a_torn_journal_is_discarded_because_nothing_was_changed_yet() {
    let home = TestHome::new();
    let [gen1, gen2] = build_generations(&[
        home.gen().text(".config/a", "1\n"),
        home.gen().text(".config/a", "2\n"),
    ])
    .try_into()
    .unwrap();
    activate(&home, &gen1).assert_ok();
    // What a kill in the middle of writing the journal leaves: the home is
    // only changed once the whole journal is on disk.
    let torn = format!("{:<15}\n{{\"txid\": \"0123", 4096);
    fs::write(home.state_dir().join("journal"), torn).unwrap();
    let before = home.snapshot();

    let run = home.hearth(["status"]);
    run.assert_ok();
    assert!(
        run.stderr.contains("discarding the incomplete journal"),
        "{run}"
    );
    assert_same(&before, &home.snapshot());
    activate(&home, &gen2).assert_ok();
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn status_after_a_kill_recovers_first_and_reports_the_old_generation() {
    let s = switch();
    let home = &s.home;
    for k in [1, 20, 40] {
        assert!(kill_switch_at(&s, k));
        let run = home.hearth(["status"]);
        run.assert_ok();
        assert!(
            run.stderr.contains("reverted an interrupted activation")
                && run.stdout.starts_with("generation 1 "),
            "k = {k}: {run}"
        );
        assert_same(&s.before, &home.snapshot());
    }
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn dry_run_after_a_kill_refuses_until_recovered() {
    let s = switch();
    let home = &s.home;
    assert!(kill_switch_at(&s, 10));
    let killed = home.snapshot();
    let run = home.hearth(["activate", "--dry-run", path_str(&s.gen2)]);
    assert_ne!(run.code, 0, "{run}");
    assert!(run.stderr.contains("must be recovered first"), "{run}");
    assert_same(&killed, &home.snapshot());
}

// ---------------------------------------------------------------------------
// Concurrent runs

#[test]
fn eight_concurrent_activations_are_serialized() {
    let home = TestHome::new();
    // The check step holds each run inside the lock long enough that the
    // others, started together, must wait for it.
    let gens = build_generations(&lock_holding_pair(&home, "0.2"));
    let mut expected = Vec::new();
    for gen in &gens {
        activate(&home, gen).assert_ok();
        expected.push(home.snapshot());
    }
    wipe(&home);

    let children: Vec<_> = (0..8)
        .map(|i| home.spawn(["activate", path_str(&gens[i % 2])]))
        .collect();
    let runs: Vec<Run> = children
        .into_iter()
        .map(|c| Run::from_output(c.wait_with_output().unwrap()))
        .collect();
    for run in &runs {
        run.assert_ok();
    }
    let waited = runs
        .iter()
        .filter(|r| {
            r.stderr
                .contains("waiting for another hearth run on this home to finish")
        })
        .count();
    assert!(waited >= 1, "no run waited for the lock: {runs:#?}");

    let (number, path) = current(&home).expect("a current generation");
    let which = gens.iter().position(|g| *g == path).unwrap();
    assert_same(&expected[which], &home.snapshot());
    assert_status_clean(&home);
    let numbers: Vec<u64> = generations(&home).iter().map(|g| g.0).collect();
    let n = numbers.len() as u64;
    assert!((1..=8).contains(&n), "{numbers:?}");
    assert_eq!(numbers, (1..=n).collect::<Vec<_>>());
    assert_eq!(number, n, "the last activation is the newest generation");
}

#[test]
fn lock_held_past_the_timeout_fails_clearly_and_changes_nothing() {
    let home = TestHome::new();
    let [gen1, gen2] = build_generations(&[
        home.gen().text(".a", "1\n"),
        home.gen().text(".a", "2\n").text(".b", "2\n"),
    ])
    .try_into()
    .unwrap();
    activate(&home, &gen1).assert_ok();
    let before = home.snapshot();

    let lock = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(home.state_dir().join("lock"))
        .expect("hearth's lock file");
    let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| e)
        .expect("take hearth's lock");
    let run = home.hearth(["--lock-timeout", "1", "activate", path_str(&gen2)]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("waiting for another hearth run")
            && run.stderr.contains("did not finish within 1 s")
            && run.stderr.contains("--lock-timeout"),
        "{run}"
    );
    assert_same(&before, &home.snapshot());
}

// ---------------------------------------------------------------------------
// onChange hooks

/// An onChange hook that logs the environment it sees to ~/.local/state
/// (not managed, not in snapshots).
const LOG_HOOK: &str = "echo \"changed HOME=$HOME new=$HEARTH_NEW_GENERATION \
old=$HEARTH_OLD_GENERATION dry=$HEARTH_DRY_RUN\" >> \"$HOME/.local/state/hooks.log\"\n";

fn hook_log(home: &TestHome) -> Vec<String> {
    fs::read_to_string(home.join(".local/state/hooks.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn on_change_runs_on_create_and_content_change_with_the_hook_environment() {
    let home = TestHome::new();
    let [gen1, gen2] = build_generations(&[
        home.gen()
            .file(FileSpec::text(".config/a", "v1\n").on_change(LOG_HOOK))
            .text(".config/other", "x\n"),
        home.gen()
            .file(FileSpec::text(".config/a", "v2\n").on_change(LOG_HOOK))
            .text(".config/other", "y\n"),
    ])
    .try_into()
    .unwrap();
    let h = path_str(home.path());
    let (g1, g2) = (path_str(&gen1), path_str(&gen2));

    activate(&home, &gen1).assert_ok();
    assert_eq!(
        hook_log(&home),
        [format!("changed HOME={h} new={g1} old= dry=0")]
    );
    activate(&home, &gen2).assert_ok();
    assert_eq!(
        hook_log(&home)[1..],
        [format!("changed HOME={h} new={g2} old={g1} dry=0")]
    );
}

#[test]
fn a_hook_shared_by_several_changed_targets_runs_once() {
    let home = TestHome::new();
    // Same basename and script text: the harness builds one hook store path
    // for both, as a recursive source gives every expanded file one hook.
    let gen = build_generation(
        &home
            .gen()
            .file(FileSpec::text(".config/a/conf", "a\n").on_change(LOG_HOOK))
            .file(FileSpec::text(".config/b/conf", "b\n").on_change(LOG_HOOK)),
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(gen.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["files"][0]["onChange"], manifest["files"][1]["onChange"],
        "the two entries should share one hook"
    );
    activate(&home, &gen).assert_ok();
    assert_eq!(hook_log(&home).len(), 1, "{:?}", hook_log(&home));
}

#[test]
fn on_change_does_not_run_on_reactivation() {
    let home = TestHome::new();
    let gen = build_generation(
        &home
            .gen()
            .file(FileSpec::text(".config/a", "v1\n").on_change(LOG_HOOK)),
    );
    activate(&home, &gen).assert_ok();
    assert_eq!(hook_log(&home).len(), 1);
    activate(&home, &gen).assert_ok();
    assert_eq!(hook_log(&home).len(), 1, "{:?}", hook_log(&home));
}

#[test]
fn on_change_does_not_run_when_only_the_link_target_changes() {
    let home = TestHome::new();
    // The same content at another store path.
    let tree = build_tree(&[("same", "same content\n", false)]);
    let other = tree.join("same");
    let [gen1, gen2] = build_generations(&[
        home.gen()
            .file(FileSpec::text(".config/a", "same content\n").on_change(LOG_HOOK)),
        home.gen()
            .file(FileSpec::path(".config/a", path_str(&other)).on_change(LOG_HOOK)),
    ])
    .try_into()
    .unwrap();
    activate(&home, &gen1).assert_ok();
    assert_eq!(hook_log(&home).len(), 1);

    activate(&home, &gen2).assert_ok();
    assert_eq!(
        read_link(&home, ".config/a"),
        other,
        "the link was replaced"
    );
    assert_eq!(hook_log(&home).len(), 1, "{:?}", hook_log(&home));
}

// ---------------------------------------------------------------------------
// Activation steps

/// A step that appends its name and `HEARTH_DRY_RUN` to the log, after `check`
/// (a shell condition that must hold).
fn logging_step(name: &str, check: &str) -> String {
    format!(
        "{check} || {{ echo \"{name}: condition failed: {check}\"; exit 1; }}\n\
         echo \"{name} dry=$HEARTH_DRY_RUN\" >> \"$HOME/.local/state/hooks.log\"\n"
    )
}

#[test]
fn check_steps_run_before_any_change_and_files_steps_after_in_order() {
    let home = TestHome::new();
    let absent = "test ! -e \"$HOME/.config/a\"";
    let present = "test -L \"$HOME/.config/a\"";
    let gen = build_generation(
        &home
            .gen()
            .step("c1", "check", &logging_step("c1", absent))
            .step("f1", "files", &logging_step("f1", present))
            .step("c2", "check", &logging_step("c2", absent))
            .step("f2", "files", &logging_step("f2", present))
            .file(FileSpec::text(".config/a", "a\n").on_change(LOG_HOOK)),
    );
    let run = activate(&home, &gen);
    run.assert_ok();
    let g = path_str(&gen);
    let h = path_str(home.path());
    assert_eq!(
        hook_log(&home),
        [
            "c1 dry=0".to_owned(),
            "c2 dry=0".to_owned(),
            format!("changed HOME={h} new={g} old= dry=0"),
            "f1 dry=0".to_owned(),
            "f2 dry=0".to_owned(),
        ]
    );
}

#[test]
fn failing_check_step_exits_5_and_changes_nothing() {
    let home = TestHome::new();
    let [gen1, gen2] = build_generations(&[
        home.gen().text(".a", "1\n").text(".gone", "g\n"),
        home.gen()
            .text(".a", "2\n")
            .text(".new", "n\n")
            .step("guard", "check", "echo refusing; exit 7\n")
            .step("after", "files", &logging_step("after", "true")),
    ])
    .try_into()
    .unwrap();
    activate(&home, &gen1).assert_ok();
    let before = home.snapshot();

    let run = activate(&home, &gen2);
    run.assert_code(5);
    assert!(
        run.stderr.contains("nothing was changed")
            && run.stderr.contains("\"guard\"")
            && run.stderr.contains("exit status: 7")
            && run.stderr.contains("refusing"),
        "{run}"
    );
    assert_same(&before, &home.snapshot());
    assert_eq!(current(&home), Some((1, gen1)));
    assert!(hook_log(&home).is_empty(), "{:?}", hook_log(&home));
}

#[test]
fn failing_files_step_exits_5_but_keeps_the_files_and_the_generation() {
    let home = TestHome::new();
    let output = (1..=12).fold(String::new(), |mut s, i| {
        let _ = writeln!(s, "echo out-{i:02}");
        s
    });
    let [gen1, gen2] = build_generations(&[
        home.gen().text(".a", "1\n"),
        home.gen().text(".a", "2\n").text(".new", "n\n").step(
            "broken",
            "files",
            &format!("{output}exit 3\n"),
        ),
    ])
    .try_into()
    .unwrap();
    activate(&home, &gen1).assert_ok();

    let run = activate(&home, &gen2);
    run.assert_code(5);
    let err = &run.stderr;
    assert!(
        err.contains("\"broken\"") && err.contains("exit status: 3"),
        "{run}"
    );
    // The tail of its output: the last ten lines.
    for i in 3..=12 {
        assert!(err.contains(&format!("out-{i:02}")), "{run}");
    }
    assert!(!err.contains("out-02"), "more than the tail: {run}");

    assert_eq!(read_link(&home, ".a"), source_of(&gen2, ".a"));
    assert_eq!(read_link(&home, ".new"), source_of(&gen2, ".new"));
    assert_eq!(current(&home), Some((2, gen2)));
    assert_status_clean(&home);
}

#[test]
fn dry_run_runs_check_steps_with_dry_run_set_and_no_files_steps() {
    let home = TestHome::new();
    let gen = build_generation(
        &home
            .gen()
            .text(".a", "1\n")
            .step("c", "check", &logging_step("c", "true"))
            .step("f", "files", &logging_step("f", "true")),
    );
    let before = home.snapshot();
    home.hearth(["activate", "--dry-run", path_str(&gen)])
        .assert_ok();
    assert_eq!(hook_log(&home), ["c dry=1"]);
    assert_same(&before, &home.snapshot());
    assert_eq!(current(&home), None);
}

// ---------------------------------------------------------------------------
// Packages profile

/// The generation's `packages` store path.
fn packages_of(gen: &Path) -> PathBuf {
    PathBuf::from(manifest(gen)["packages"].as_str().unwrap())
}

fn profile(home: &TestHome) -> PathBuf {
    home.join(".local/state/nix/profiles/hearth-packages")
}

/// The profile's generation links (`hearth-packages-N-link`).
fn profile_generations(home: &TestHome) -> usize {
    fs::read_dir(home.join(".local/state/nix/profiles")).map_or(0, |d| {
        d.filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.starts_with("hearth-packages-") && name.ends_with("-link")
        })
        .count()
    })
}

fn run_hello(home: &TestHome) -> String {
    let out = Command::new(profile(home).join("bin/hello"))
        .stdin(Stdio::null())
        .output()
        .expect("run hello from the profile");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn packages_become_the_hearth_profile() {
    let home = TestHome::new();
    let gen = build_generation(&home.gen().packages(&[(
        "bin/hello",
        "#!/bin/sh\necho hello one\n",
        true,
    )]));
    activate(&home, &gen).assert_ok();
    assert_eq!(fs::canonicalize(profile(&home)).unwrap(), packages_of(&gen));
    assert_eq!(run_hello(&home), "hello one\n");
    assert_eq!(profile_generations(&home), 1);
}

#[test]
fn packages_profile_gets_a_new_generation_only_when_packages_change() {
    let home = TestHome::new();
    let [gen1, gen2] = build_generations(&[
        home.gen()
            .packages(&[("bin/hello", "#!/bin/sh\necho hello one\n", true)]),
        home.gen()
            .packages(&[("bin/hello", "#!/bin/sh\necho hello two\n", true)]),
    ])
    .try_into()
    .unwrap();
    activate(&home, &gen1).assert_ok();
    activate(&home, &gen1).assert_ok();
    assert_eq!(profile_generations(&home), 1);

    activate(&home, &gen2).assert_ok();
    assert_eq!(profile_generations(&home), 2);
    assert_eq!(run_hello(&home), "hello two\n");
}

#[test]
fn packages_profile_follows_xdg_state_home() {
    let home = TestHome::new();
    let gen = build_generation(&home.gen().packages(&[(
        "bin/hello",
        "#!/bin/sh\necho hello\n",
        true,
    )]));
    let xdg = mkdirs(&home, "xdg-state");
    home.hearth_env(
        ["activate", path_str(&gen)],
        &[("XDG_STATE_HOME", path_str(&xdg))],
    )
    .assert_ok();
    let link = xdg.join("nix/profiles/hearth-packages");
    assert_eq!(fs::canonicalize(link).unwrap(), packages_of(&gen));
    assert!(!profile(&home).exists());
}

#[test]
fn packages_leave_the_users_own_profile_alone() {
    let home = TestHome::new();
    let gen = build_generation(&home.gen().packages(&[(
        "bin/hello",
        "#!/bin/sh\necho hello\n",
        true,
    )]));
    mkdirs(&home, "my-profile/bin");
    write_file(&home, "my-profile/bin/mine", "#!/bin/sh\n");
    symlink(&home, ".nix-profile", home.join("my-profile"));
    let before = home.snapshot();
    activate(&home, &gen).assert_ok();
    assert_untouched(&before, &home.snapshot());
}

// ---------------------------------------------------------------------------
// GC roots

fn nix_store(args: &[&str]) -> Run {
    let out = Command::new("nix-store")
        .args(["--option", "substituters", ""])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run nix-store");
    Run::from_output(out)
}

fn roots_of(path: &Path) -> String {
    let run = nix_store(&["--query", "--roots", path_str(path)]);
    run.assert_ok();
    run.stdout
}

/// Whether a garbage collection now would delete `path` (it is not
/// reachable from any root). Asks with `--print-dead`: nothing is deleted,
/// so that tests running at the same time keep their unrooted fixtures.
fn collectable(path: &Path) -> bool {
    let run = nix_store(&["--gc", "--print-dead"]);
    run.assert_ok();
    run.stdout.lines().any(|l| Path::new(l) == path)
}

#[test]
fn activated_generation_and_its_sources_survive_garbage_collection() {
    let home = TestHome::new();
    // Content unique to this home, so that no other test shares the source.
    let text = format!("only for {}\n", home.path().display());
    let gen = build_generation(&home.gen().text(".a", &text));
    let source = source_of(&gen, ".a");
    // Built without a root: collectable until hearth roots it.
    assert!(collectable(&gen) && collectable(&source));

    activate(&home, &gen).assert_ok();
    let root = home.state_dir().join("gcroots/1");
    for path in [&gen, &source] {
        assert!(
            roots_of(path).contains(path_str(&root)),
            "{}: {}",
            path.display(),
            roots_of(path)
        );
        assert!(!collectable(path), "{} would be collected", path.display());
    }
}

#[test]
fn removing_a_generation_drops_its_gc_root() {
    let home = TestHome::new();
    let tag = home.path().display().to_string();
    let [gen1, gen2] = build_generations(&[
        home.gen().text(".a", &format!("1 {tag}\n")),
        home.gen().text(".a", &format!("2 {tag}\n")),
    ])
    .try_into()
    .unwrap();
    activate(&home, &gen1).assert_ok();
    activate(&home, &gen2).assert_ok();
    let root1 = home.state_dir().join("gcroots/1");
    assert!(roots_of(&gen1).contains(path_str(&root1)));

    home.hearth(["remove-generations", "1"]).assert_ok();
    assert!(
        fs::symlink_metadata(&root1).is_err(),
        "root 1 is still there"
    );
    assert!(
        !roots_of(&gen1).contains(path_str(home.path())),
        "{}",
        roots_of(&gen1)
    );
    assert!(collectable(&gen1));
    assert!(!collectable(&gen2));
}

// ---------------------------------------------------------------------------
// Generations and rollback

struct Three {
    home: TestHome,
    gens: Vec<PathBuf>,
    /// The home after activating each generation in turn.
    homes: Vec<Snapshot>,
}

/// Three generations activated in turn; gen2 alone has `.config/only2`.
fn three() -> Three {
    let home = TestHome::new();
    let specs = vec![
        home.gen().text(".config/a", "1\n").text(".one", "1\n"),
        home.gen()
            .text(".config/a", "2\n")
            .text(".config/only2", "2\n"),
        home.gen()
            .text(".config/a", "3\n")
            .file(FileSpec::text(".three", "3\n").copy()),
    ];
    let gens = build_generations(&specs);
    let mut homes = Vec::new();
    for gen in &gens {
        activate(&home, gen).assert_ok();
        homes.push(home.snapshot());
    }
    Three { home, gens, homes }
}

#[test]
fn generations_lists_every_activation_and_marks_the_current_one() {
    let t = three();
    let listed = generations(&t.home);
    let want: Vec<_> = t
        .gens
        .iter()
        .enumerate()
        .map(|(i, g)| (i as u64 + 1, g.clone(), i == 2))
        .collect();
    assert_eq!(listed, want);

    let run = t.home.hearth(["generations"]);
    run.assert_ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{run}");
    for (i, line) in lines.iter().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[0], (i + 1).to_string(), "{run}");
        assert!(line.contains(path_str(&t.gens[i])), "{run}");
        assert_eq!(line.ends_with("(current)"), i == 2, "{run}");
    }
}

#[test]
fn rollback_goes_to_the_previous_generation() {
    let t = three();
    t.home.hearth(["rollback"]).assert_ok();
    assert_same(&t.homes[1], &t.home.snapshot());
    assert_eq!(current(&t.home), Some((2, t.gens[1].clone())));
    assert_eq!(generations(&t.home).len(), 3);
    assert_status_clean(&t.home);
}

#[test]
fn rollback_to_a_number() {
    let t = three();
    t.home.hearth(["rollback", "--to", "1"]).assert_ok();
    assert_same(&t.homes[0], &t.home.snapshot());
    assert_eq!(current(&t.home), Some((1, t.gens[0].clone())));
    assert_status_clean(&t.home);
}

#[test]
fn rollback_with_a_file_in_the_way_changes_nothing() {
    let t = three();
    write_file(&t.home, ".config/only2", "the user's own\n");
    let before = t.home.snapshot();
    let run = t.home.hearth(["rollback"]);
    run.assert_code(3);
    assert!(
        run.stderr.contains("~/.config/only2") && run.stderr.contains("nothing was changed"),
        "{run}"
    );
    assert_same(&before, &t.home.snapshot());
    assert_eq!(current(&t.home), Some((3, t.gens[2].clone())));
}

#[test]
fn remove_generations_refuses_the_current_one() {
    let t = three();
    let run = t.home.hearth(["remove-generations", "3"]);
    assert_ne!(run.code, 0, "{run}");
    assert!(run.stderr.contains("current"), "{run}");
    assert_eq!(generations(&t.home).len(), 3);
    assert!(t.home.state_dir().join("gcroots/3").exists());
}

#[test]
fn expire_keep_last_keeps_the_current_one_too() {
    let t = three();
    t.home.hearth(["rollback", "--to", "1"]).assert_ok();
    t.home
        .hearth(["expire-generations", "--keep-last", "1"])
        .assert_ok();
    let left: Vec<(u64, bool)> = generations(&t.home).iter().map(|g| (g.0, g.2)).collect();
    assert_eq!(left, [(1, true), (3, false)]);
    assert!(!t.home.state_dir().join("gcroots/2").exists());
    assert_same(&t.homes[0], &t.home.snapshot());
}

#[test]
fn expire_older_than_zero_keeps_only_the_current_one() {
    let t = three();
    t.home
        .hearth(["expire-generations", "--older-than", "0s"])
        .assert_ok();
    let left: Vec<(u64, bool)> = generations(&t.home).iter().map(|g| (g.0, g.2)).collect();
    assert_eq!(left, [(3, true)]);
    for n in ["1", "2"] {
        assert!(!t.home.state_dir().join("gcroots").join(n).exists());
    }
    assert!(t.home.state_dir().join("gcroots/3").exists());
    assert_same(&t.homes[2], &t.home.snapshot());
}
