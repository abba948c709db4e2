//! Attacks on `hearth activate` by whoever controls the home: symlinked
//! parents, hard links and special files at targets, and a directory swapped
//! for a symlink to a place outside the home while hearth runs. Each test
//! asserts that nothing outside the home changes (a canary directory is
//! compared as a full snapshot) and that the activation either succeeds or
//! fails cleanly, leaving the home exactly as before.

use crate::common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use nix::sys::stat::Mode;

// ---------------------------------------------------------------------------
// Helpers

fn new_home() -> TestHome {
    nix::sys::stat::umask(Mode::from_bits_truncate(0o022));
    TestHome::new()
}

/// A directory outside the home, holding a few files and the directory
/// structure an attack would need hearth to follow into.
struct Canary(TestHome);

impl Canary {
    fn new() -> Self {
        let dir = TestHome::new();
        write_file(&dir, "secret", "do not touch\n");
        write_file(&dir, "b/c/kept", "kept\n");
        mkdirs(&dir, "d/sub");
        Canary(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn snapshot(&self) -> Snapshot {
        snapshot(self.0.path(), &[])
    }
}

fn hearth_within(home: &TestHome, args: &[&str], limit: Duration) -> (Run, Duration) {
    run_within(home.command(args), limit)
}

fn activate(home: &TestHome, gen: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["activate", path_str(gen)];
    args.extend_from_slice(extra);
    hearth_within(home, &args, Duration::from_secs(60)).0
}

// ---------------------------------------------------------------------------
// Symlinked parents

/// For each level of `a/b/c/file` in turn, that directory is a symlink to a
/// canary directory which has the rest of the path: following it would
/// write there.
#[test]
fn symlinked_parent_at_each_level_is_a_conflict_and_never_followed() {
    for level in ["a", "a/b", "a/b/c"] {
        for backup in [false, true] {
            let home = new_home();
            let canary = Canary::new();
            let gen = build_generation(&home.gen().text("a/b/c/file", "new\n"));
            if let Some((up, _)) = level.rsplit_once('/') {
                mkdirs(&home, up);
            }
            // The canary holds b/c, so `a` → canary makes a/b/c/file land in it;
            // deeper levels point at the part of the canary that fits.
            let inside = match level {
                "a" => canary.path().to_path_buf(),
                "a/b" => canary.path().join("b"),
                _ => canary.path().join("b/c"),
            };
            symlink(&home, level, &inside);
            let (canary_before, home_before) = (canary.snapshot(), home.snapshot());

            let extra: &[&str] = if backup {
                &["--backup-ext", "bak"]
            } else {
                &[]
            };
            let run = activate(&home, &gen, extra);

            assert_same(&canary_before, &canary.snapshot());
            if backup {
                // The link is moved aside, never followed; the file is made
                // in a real directory in its place.
                run.assert_ok();
                assert_eq!(read_link(&home, &format!("{level}.bak")), inside);
                assert_eq!(read_file(&home, "a/b/c/file"), "new\n");
                assert!(fs::symlink_metadata(home.join(level)).unwrap().is_dir());
            } else {
                run.assert_code(3);
                assert!(run.stderr.contains(&format!("~/{level} ")), "{run}");
                assert_same(&home_before, &home.snapshot());
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Hard links, FIFOs, huge files at targets

/// A hard link at a target to a file outside the home is a regular file
/// hearth did not make: a conflict, or with a backup extension renamed
/// aside (the link itself, same inode). Its content is never written.
#[test]
fn hardlink_to_an_outside_file_is_never_written_through() {
    for backup in [false, true] {
        let home = new_home();
        let canary = Canary::new();
        let outside = canary.path().join("secret");
        let gen = build_generation(
            &home
                .gen()
                .file(FileSpec::text(".config/app/conf", "new\n").copy()),
        );
        mkdirs(&home, ".config/app");
        fs::hard_link(&outside, home.join(".config/app/conf")).unwrap();
        let ino = fs::metadata(&outside).unwrap().ino();
        let canary_before = canary.snapshot();

        let extra: &[&str] = if backup {
            &["--backup-ext", "bak"]
        } else {
            &[]
        };
        let run = activate(&home, &gen, extra);

        assert_same(&canary_before, &canary.snapshot());
        assert_eq!(fs::read_to_string(&outside).unwrap(), "do not touch\n");
        if backup {
            run.assert_ok();
            let aside = fs::symlink_metadata(home.join(".config/app/conf.bak")).unwrap();
            assert_eq!(aside.ino(), ino, "the link itself is moved aside");
            assert_eq!(read_file(&home, ".config/app/conf"), "new\n");
            assert_ne!(
                fs::symlink_metadata(home.join(".config/app/conf"))
                    .unwrap()
                    .ino(),
                ino
            );
        } else {
            run.assert_code(3);
            assert_eq!(
                fs::symlink_metadata(home.join(".config/app/conf"))
                    .unwrap()
                    .ino(),
                ino
            );
        }
    }
}

/// A FIFO where hearth's own copy was (so observe wants to hash what is
/// there) is reported, never opened: hearth does not hang. With a backup
/// extension it is renamed aside.
#[test]
fn fifo_at_a_copy_target_does_not_hang() {
    let home = new_home();
    let [old, new] = <[PathBuf; 2]>::try_from(build_generations(&[
        home.gen()
            .file(FileSpec::text("pipe", "old\n").copy())
            .text("other", "old\n"),
        home.gen()
            .file(FileSpec::text("pipe", "new\n").copy())
            .text("other", "new\n"),
    ]))
    .unwrap();
    activate(&home, &old, &[]).assert_ok();
    fs::remove_file(home.join("pipe")).unwrap();
    nix::unistd::mkfifo(&home.join("pipe"), Mode::from_bits_truncate(0o600)).unwrap();
    let before = home.snapshot();

    let run = activate(&home, &new, &[]);
    run.assert_code(3);
    assert!(run.stderr.contains("FIFO"), "{run}");
    assert_same(&before, &home.snapshot());

    activate(&home, &new, &["--backup-ext", "bak"]).assert_ok();
    assert!(fs::symlink_metadata(home.join("pipe.bak"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert_eq!(read_file(&home, "pipe"), "new\n");
}

/// A 200 MB (sparse) file in the way with a backup extension is renamed
/// aside, not copied: the backup is the same inode, and it is quick.
#[test]
fn huge_file_in_the_way_is_renamed_aside_quickly() {
    let home = new_home();
    let gen = build_generation(&home.gen().text("big", "new\n"));
    let big = fs::File::create(home.join("big")).unwrap();
    big.set_len(200 * 1024 * 1024).unwrap();
    drop(big);
    let ino = fs::metadata(home.join("big")).unwrap().ino();

    let (run, took) = hearth_within(
        &home,
        &["activate", path_str(&gen), "--backup-ext", "bak"],
        Duration::from_secs(60),
    );

    run.assert_ok();
    let aside = fs::symlink_metadata(home.join("big.bak")).unwrap();
    assert_eq!((aside.ino(), aside.len()), (ino, 200 * 1024 * 1024));
    assert_eq!(read_file(&home, "big"), "new\n");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

// ---------------------------------------------------------------------------
// The race: a directory swapped for a symlink while hearth works in it

// renameat2(RENAME_EXCHANGE) is Linux's: the race needs an atomic swap.

/// Swaps `home/d` (a real directory) and `home/d-alt` (a symlink to the
/// canary) with atomic exchanges, as fast as it can, until stopped; then
/// leaves the real directory at `d`.
#[cfg(target_os = "linux")]
struct Flipper {
    stop: Arc<AtomicBool>,
    flips: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[cfg(target_os = "linux")]
impl Flipper {
    fn start(home: &Path) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flips = Arc::new(AtomicU64::new(0));
        let (s, f, home) = (stop.clone(), flips.clone(), home.to_path_buf());
        let thread = std::thread::spawn(move || {
            let (d, alt) = (home.join("d"), home.join("d-alt"));
            let exchange = || {
                nix::fcntl::renameat2(
                    None,
                    &d,
                    None,
                    &alt,
                    nix::fcntl::RenameFlags::RENAME_EXCHANGE,
                )
                .expect("exchange d and d-alt");
            };
            while !s.load(Ordering::Relaxed) {
                exchange();
                f.fetch_add(1, Ordering::Relaxed);
            }
            if fs::symlink_metadata(&d).unwrap().file_type().is_symlink() {
                exchange();
            }
        });
        Flipper {
            stop,
            flips,
            thread: Some(thread),
        }
    }

    /// Stops flipping; returns how many swaps were made.
    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("flipper thread");
        }
        self.flips.load(Ordering::Relaxed)
    }
}

#[cfg(target_os = "linux")]
impl Drop for Flipper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Many switches of a few hundred files, most of them inside `d`, while
/// `d` flips between a real directory and a symlink to the canary. Zero
/// escapes: the canary never changes; every run either succeeds (the home
/// is then exactly the new generation) or fails cleanly (exactly as before,
/// once an interrupted revert is completed by the next run).
#[cfg(target_os = "linux")]
#[test]
fn directory_swapped_for_a_symlink_during_activation_never_escapes() {
    let home = new_home();
    let canary = Canary::new();
    let gen_for = |tag: &str| {
        let mut g = home.gen();
        for i in 0..150 {
            let content = format!("{tag} {i}\n");
            g = g.text(&format!("d/link{i:03}"), &content);
            if i % 3 == 0 {
                g = g.file(FileSpec::text(&format!("d/copy{i:03}"), &content).copy());
            }
            if i % 2 == 0 {
                g = g.text(&format!("d/sub/{tag}{i:03}"), &content);
            }
            if i % 5 == 0 {
                g = g.text(&format!("top{i:03}"), &content);
            }
        }
        g
    };
    let [old, new] =
        <[PathBuf; 2]>::try_from(build_generations(&[gen_for("old"), gen_for("new")])).unwrap();
    mkdirs(&home, "d");
    symlink(&home, "d-alt", canary.path().join("d"));

    // What the home looks like on each generation, without interference.
    activate(&home, &new, &[]).assert_ok();
    let on_new = home.snapshot();
    activate(&home, &old, &[]).assert_ok();
    let on_old = home.snapshot();
    let canary_before = canary.snapshot();

    let deadline = Instant::now() + Duration::from_secs(25);
    let (mut runs, mut ok, mut conflicts, mut reverted, mut flips) = (0, 0, 0, 0, 0);
    let mut current = (&old, &on_old);
    while Instant::now() < deadline && runs < 200 {
        let next = if current.0 == &old {
            (&new, &on_new)
        } else {
            (&old, &on_old)
        };
        let flipper = Flipper::start(home.path());
        let run = activate(&home, next.0, &[]);
        flips += flipper.stop();
        runs += 1;

        assert_same(&canary_before, &canary.snapshot());
        match run.code {
            0 => {
                ok += 1;
                current = next;
            }
            3 => conflicts += 1,
            // Observing saw an entry change under it, again and again:
            // nothing was written yet.
            1 if run.stderr.contains("cannot inspect") => conflicts += 1,
            4 => reverted += 1,
            // The revert itself could not finish (a parent was swapped
            // under it): the journal is kept and the next run completes it.
            7 => {
                reverted += 1;
                home.hearth(["status"]);
            }
            _ => panic!("unexpected outcome:\n{run}"),
        }
        let now = home.snapshot();
        assert!(
            now.diff(current.1).is_empty(),
            "run {runs} (exit {}) left the home neither as before nor as wanted:\n{}\n{run}",
            run.code,
            now.diff(current.1).join("\n")
        );
    }
    assert_same(&canary_before, &canary.snapshot());
    eprintln!(
        "race: {runs} runs, {ok} succeeded, {conflicts} conflicts, {reverted} reverted, \
         {flips} swaps, 0 escapes"
    );
    assert!(runs >= 10, "only {runs} runs");
}
