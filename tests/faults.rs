//! Faults from outside hearth, against real nix-built generations: a home
//! that fills up mid-switch, and a lock holder killed while other runs wait.
//! The read-only directory, injected failures and kills at every write, and
//! eight concurrent runs are in tests/transaction.rs.
//!
//! The disk-full test mounts a small tmpfs over a throwaway home, so it needs
//! root (as CI has); without it, it says so loudly and passes.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

fn activate(home: &TestHome, gen: &Path) -> Run {
    home.hearth(["activate", path_str(gen)])
}

/// `hearth generations --json`, as it is printed: the state, seen from outside.
fn generations(home: &TestHome) -> String {
    let run = home.hearth(["generations", "--json"]);
    run.assert_ok();
    run.stdout
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A tmpfs mounted over a directory, unmounted on drop, even when the test
/// fails (a lazy unmount if something still holds it open).
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path, size: &str) -> Option<Mount> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755")])
            .arg("tmpfs")
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Mount(dir.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // No panic here: it may run while a failed test unwinds.
        let umount = |lazy: bool| {
            let mut cmd = Command::new("umount");
            if lazy {
                cmd.arg("-l");
            }
            cmd.arg(&self.0).status().is_ok_and(|s| s.success())
        };
        if !umount(false) && !umount(true) {
            eprintln!("umount {} failed; undo it by hand", self.0.display());
        }
    }
}

/// Text of about `kib` KiB, different for each `tag` (so each is its own
/// store path).
fn big_text(tag: &str, kib: usize) -> String {
    let line = format!("{tag}: {}\n", "x".repeat(1000));
    line.repeat(kib * 1024 / line.len())
}

#[test]
fn a_home_that_fills_up_mid_switch_is_left_exactly_as_it_was() {
    if !is_root() {
        eprintln!(
            "SKIPPED a_home_that_fills_up_mid_switch_is_left_exactly_as_it_was: \
             mounting a small filesystem as the home needs root"
        );
        return;
    }
    // Declared before the mount, so dropped after it is unmounted.
    let home = TestHome::new();
    let gen_spec = |v: &str| {
        let mut g = home.gen();
        for i in 0..10 {
            g = g.text(&format!(".config/app/f{i}"), &format!("{v} {i}\n"));
        }
        g
    };
    // gen2 replaces every link and copies three 1.5 MiB files into a 4 MiB
    // home: the third copy cannot fit, after many other changes were made.
    let mut gen2 = gen_spec("new").text(".config/new", "new\n");
    for i in 0..3 {
        gen2 = gen2
            .file(FileSpec::text(&format!("big/b{i}"), &big_text(&format!("b{i}"), 1536)).copy());
    }
    let [gen1, gen2] = build_generations(&[gen_spec("old").text(".config/gone", "g\n"), gen2])
        .try_into()
        .unwrap();

    let Some(_mount) = Mount::tmpfs(home.path(), "4m") else {
        panic!("cannot mount a tmpfs on {} as root", home.path().display());
    };
    mkdirs(&home, ".local/state");
    activate(&home, &gen1).assert_ok();
    write_file(&home, "notes.txt", "the user's own file\n");
    let before = home.snapshot();
    let state = generations(&home);

    let run = activate(&home, &gen2);
    run.assert_code(4);
    assert!(
        run.stderr.contains("No space left on device")
            && run.stderr.contains("/big/")
            && run.stderr.contains("every change was reverted"),
        "{run}"
    );
    assert_same(&before, &home.snapshot());
    assert_eq!(generations(&home), state, "the state moved");
    home.hearth(["status"]).assert_ok();

    // Nothing is left half-done: the old generation activates as a no-op.
    let again = activate(&home, &gen1);
    again.assert_ok();
    assert!(!again.stderr.contains("interrupted"), "{again}");
    assert_same(&before, &home.snapshot());
}

/// Empties the home (hearth's state included), as `TestHome::new` leaves it.
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

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn a_lock_holder_killed_mid_switch_while_seven_runs_wait() {
    let home = TestHome::new();
    // The check step keeps the first run inside the lock, so that the
    // others are queued behind it when it dies.
    let gens = build_generations(&lock_holding_pair(&home, "0.3"));
    // The user's own file is part of every expected home.
    let notes = |home: &TestHome| write_file(home, "notes.txt", "the user's own file\n");
    notes(&home);
    let mut expected = Vec::new();
    for gen in &gens {
        activate(&home, gen).assert_ok();
        expected.push(home.snapshot());
    }
    wipe(&home);
    notes(&home);
    activate(&home, &gens[0]).assert_ok();

    let doomed = home
        .command(["activate", path_str(&gens[1])])
        .env("HEARTH_FAULT_KILL_AT", "12")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn hearth");
    std::thread::sleep(Duration::from_millis(100));
    let waiting: Vec<_> = (0..7)
        .map(|i| home.spawn(["activate", path_str(&gens[i % 2])]))
        .collect();
    Run::from_output(doomed.wait_with_output().unwrap()).assert_code(128 + 9);
    let runs: Vec<Run> = waiting
        .into_iter()
        .map(|c| Run::from_output(c.wait_with_output().unwrap()))
        .collect();
    for run in &runs {
        run.assert_ok();
    }
    let recovered = runs
        .iter()
        .filter(|r| r.stderr.contains("reverted an interrupted activation"))
        .count();
    assert_eq!(recovered, 1, "exactly one run recovers: {runs:#?}");

    let gens_json: serde_json::Value = serde_json::from_str(&generations(&home)).unwrap();
    let list = gens_json["generations"]
        .as_array()
        .expect("a list of generations");
    let current = list
        .iter()
        .find(|g| g["current"] == true)
        .expect("a current generation");
    let path = PathBuf::from(current["path"].as_str().unwrap());
    let which = gens.iter().position(|g| *g == path).unwrap();
    assert_same(&expected[which], &home.snapshot());
    home.hearth(["status"]).assert_ok();
    // The killed run recorded nothing; the survivors numbered theirs in turn.
    let numbers: Vec<u64> = list.iter().map(|g| g["number"].as_u64().unwrap()).collect();
    let n = numbers.len() as u64;
    assert!((1..=8).contains(&n), "{numbers:?}");
    assert_eq!(numbers, (1..=n).collect::<Vec<_>>());
    assert_eq!(current["number"].as_u64(), Some(n));
}

/// The exit status of a process killed by SIGKILL, as the harness reports it.
const KILLED: i32 = 128 + 9;

/// Two generations of a few hundred files: kept, changed, removed and added
/// links in nested directories, plus copies replaced, removed and added.
fn large_switch(home: &TestHome) -> [GenSpec; 2] {
    let (mut gen1, mut gen2) = (home.gen(), home.gen());
    for i in 0..300 {
        let target = format!(".config/app{}/sub{}/f{i}", i % 7, i % 3);
        match i % 6 {
            // A third kept, a sixth changed, a sixth removed, a sixth added.
            0 | 1 => {
                gen1 = gen1.text(&target, &format!("same {i}\n"));
                gen2 = gen2.text(&target, &format!("same {i}\n"));
            }
            2 => {
                gen1 = gen1.text(&target, &format!("old {i}\n"));
                gen2 = gen2.text(&target, &format!("new {i}\n"));
            }
            3 => gen1 = gen1.text(&target, &format!("gone {i}\n")),
            4 => gen2 = gen2.text(&format!(".local/share/new{}/f{i}", i % 5), "added\n"),
            _ => {
                gen1 = gen1.file(FileSpec::text(&target, &format!("copy {i}\n")).copy());
                gen2 = gen2.file(FileSpec::text(&target, &format!("copy {i} v2\n")).copy());
            }
        }
    }
    [gen1, gen2]
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn kill_at_every_write_of_a_switch_of_hundreds_of_files_then_recover_exactly() {
    let home = TestHome::new();
    let [gen1, gen2] = build_generations(&large_switch(&home)).try_into().unwrap();
    activate(&home, &gen1).assert_ok();
    let before = home.snapshot();
    let mut k = 1u32;
    loop {
        let run = home.hearth_env(
            ["activate", path_str(&gen2)],
            &[("HEARTH_FAULT_KILL_AT", &k.to_string())],
        );
        if run.code == 0 {
            break;
        }
        run.assert_code(KILLED);
        // The next run recovers first; activating gen1 then changes nothing.
        let back = activate(&home, &gen1);
        back.assert_ok();
        assert!(
            back.stderr.contains("reverted an interrupted activation"),
            "k = {k}: {back}"
        );
        let now = home.snapshot();
        assert!(
            now == before,
            "k = {k}: not exactly on gen1:\n{}",
            before.diff(&now).join("\n")
        );
        k += 1;
        assert!(k < 5000, "the switch never completed");
    }
    assert!(k > 300, "only {} writes", k - 1);
    eprintln!("recovered exactly after a kill at each of {} writes", k - 1);
}
