//! A user changing the home while hearth activates it: at every write of a
//! switch, hearth is stopped (`HEARTH_FAULT_PAUSE_AT=k`, SIGSTOP at the
//! k-th write), this test process changes a path the way an editor or a
//! program writing its config does, and hearth is continued. Whatever the
//! moment, the user's change must survive: either hearth's change of that
//! path came first (exit 0, the user's change on top of it), or hearth finds
//! the path changed, reverts the whole activation and says so (exit 3, the
//! home as before plus the user's change). No temporary name is left over.
//!
//! A second test does the same without stopping hearth: the user's save is
//! triggered by inotify events of hearth's own writes in the home, at a
//! random one of them, over many switches.
//!
//! Needs the `fault-injection` feature for the stopped runs:
//! `cargo test --features fault-injection --test integration races::`.

use crate::common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// What the user does to `path` (relative to the home).
#[derive(Clone, Copy, Debug)]
enum Change {
    /// An editor's save: a new file renamed over the path.
    SaveByRename,
    /// A program appending to the file in place.
    Append,
}

const SAVED: &str = "the user's own content\n";
const APPENDED: &str = "a line the user appended\n";

impl Change {
    /// Makes the change; false when there was nothing to append to (hearth
    /// had removed the file already).
    fn apply(self, home: &TestHome, rel: &str) -> bool {
        match self {
            Change::SaveByRename => {
                let tmp = home.join(".user-save.tmp");
                fs::write(&tmp, SAVED).unwrap();
                fs::rename(&tmp, home.join(rel)).unwrap();
                true
            }
            Change::Append => {
                let opened = fs::OpenOptions::new()
                    .append(true)
                    .custom_flags(nix::libc::O_NOFOLLOW)
                    .open(home.join(rel));
                match opened {
                    Ok(mut f) => {
                        f.write_all(APPENDED.as_bytes()).unwrap();
                        true
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                    Err(e) => panic!("append to {rel}: {e}"),
                }
            }
        }
    }

    /// Whether the user's change is still there after the run.
    fn survived(self, home: &TestHome, rel: &str) -> bool {
        let path = home.join(rel);
        if fs::symlink_metadata(&path).map_or(true, |m| !m.is_file()) {
            return false;
        }
        let text = fs::read_to_string(&path).unwrap_or_default();
        match self {
            Change::SaveByRename => text == SAVED,
            Change::Append => text.ends_with(APPENDED),
        }
    }
}

/// The snapshot without `rel` (the raced path).
fn without(snap: &Snapshot, rel: &str) -> Snapshot {
    let mut snap = snap.clone();
    snap.nodes.remove(Path::new(rel));
    snap.nodes.remove(&Path::new(".").join(rel));
    snap
}

/// Runs the switch from `old` to `new` once for every write point k, the
/// user changing `rel` while hearth is stopped at write k. Returns how many
/// runs were stopped (every write point of the switch) and how many of them
/// ended as a late conflict.
fn race_every_write(
    old: &GenSpec,
    new: &GenSpec,
    setup: impl Fn(&TestHome),
    rel: &str,
    change: Change,
    extra: &[&str],
) -> (usize, usize) {
    let mut stopped = 0;
    let mut late = 0;
    let snapshot_name = format!(
        "late_{}",
        std::thread::current()
            .name()
            .unwrap_or("race")
            .rsplit("::")
            .next()
            .unwrap_or("race")
    );
    for k in 1.. {
        let home = TestHome::new();
        let old = GenSpec {
            home: path_str(home.path()).to_owned(),
            ..old.clone()
        };
        let new = GenSpec {
            home: path_str(home.path()).to_owned(),
            ..new.clone()
        };
        let gens = build_generations(&[old, new]);
        setup(&home);
        home.hearth(["activate", path_str(&gens[0])]).assert_ok();
        let before = home.snapshot();

        let mut args = vec!["activate", path_str(&gens[1])];
        args.extend_from_slice(extra);
        let mut child = home
            .command(&args)
            .env("HEARTH_FAULT_PAUSE_AT", k.to_string())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let was_stopped = stopped_or_exited(&mut child);
        let mut changed = false;
        if was_stopped {
            changed = change.apply(&home, rel);
            kill(
                Pid::from_raw(i32::try_from(child.id()).unwrap()),
                Signal::SIGCONT,
            )
            .unwrap();
        }
        let run = Run::from_output(child.wait_with_output().unwrap());
        if !was_stopped {
            // Past the last write: every moment has been tried.
            run.assert_ok();
            break;
        }
        stopped += 1;
        if !changed {
            run.assert_ok();
            continue;
        }
        assert!(
            change.survived(&home, rel),
            "write {k}: the user's change to {rel} was lost\n{run}\n{:?}",
            home.snapshot()
        );
        assert_eq!(
            litter(home.path()),
            Vec::<PathBuf>::new(),
            "write {k}\n{run}"
        );
        match run.code {
            0 => {}
            3 => {
                late += 1;
                if late == 1 {
                    insta::assert_snapshot!(snapshot_name.clone(), home.redact(&run.stderr));
                }
                assert!(
                    run.stderr.contains("changed while hearth was applying"),
                    "{run}"
                );
                assert!(run.stderr.contains(&format!("~/{rel}")), "{run}");
                assert_same(&without(&before, rel), &without(&home.snapshot(), rel));
                // The record is still the old generation's.
                let status = home.hearth(["status", "--json"]);
                assert_eq!(status.json()["number"], 1, "{status}");
            }
            other => panic!("write {k}: unexpected exit {other}\n{run}"),
        }
    }
    assert!(stopped > 0, "no write point was reached");
    eprintln!("{stopped} write points: {late} late conflicts, the rest after hearth's change; nothing lost");
    (stopped, late)
}

fn texts(base: GenSpec, files: &[(&str, &str)]) -> GenSpec {
    files.iter().fold(base, |g, (t, c)| g.text(t, c))
}

fn spec() -> GenSpec {
    GenSpec::new("/placeholder")
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn a_file_saved_where_a_new_link_goes_is_kept() {
    nix_available();
    let old = texts(spec(), &[("a", "a1\n"), ("b", "b1\n")]);
    let new = texts(
        spec(),
        &[("a", "a2\n"), ("b", "b1\n"), ("c", "c\n"), ("new", "n\n")],
    );
    let (stopped, late) = race_every_write(&old, &new, |_| {}, "new", Change::SaveByRename, &[]);
    assert!(late > 0, "{late} of {stopped}");
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn a_file_saved_over_a_link_being_removed_is_kept() {
    nix_available();
    let old = texts(spec(), &[("a", "a1\n"), ("gone", "g\n"), ("z", "z\n")]);
    let new = texts(spec(), &[("a", "a2\n"), ("z", "z2\n")]);
    let (stopped, late) = race_every_write(&old, &new, |_| {}, "gone", Change::SaveByRename, &[]);
    assert!(late > 0, "{late} of {stopped}");
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn a_file_saved_over_a_link_being_repointed_is_kept() {
    nix_available();
    let old = texts(spec(), &[("a", "a1\n"), ("x", "x1\n"), ("z", "z\n")]);
    let new = texts(spec(), &[("a", "a2\n"), ("x", "x2\n"), ("z", "z2\n")]);
    let (stopped, late) = race_every_write(&old, &new, |_| {}, "x", Change::SaveByRename, &[]);
    assert!(late > 0, "{late} of {stopped}");
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn an_append_to_a_copy_being_replaced_is_kept() {
    nix_available();
    let old = spec()
        .text("a", "a1\n")
        .file(FileSpec::text("conf", "version 1\n").copy())
        .text("z", "z\n");
    let new = spec()
        .text("a", "a2\n")
        .file(FileSpec::text("conf", "version 2\n").copy())
        .text("z", "z2\n");
    let (stopped, late) = race_every_write(&old, &new, |_| {}, "conf", Change::Append, &[]);
    assert!(late > 0, "{late} of {stopped}");
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn an_append_to_a_copy_being_removed_is_kept() {
    nix_available();
    let old = spec()
        .text("a", "a1\n")
        .file(FileSpec::text("conf", "version 1\n").copy());
    let new = spec().text("a", "a2\n");
    let (stopped, late) = race_every_write(&old, &new, |_| {}, "conf", Change::Append, &[]);
    assert!(late > 0, "{late} of {stopped}");
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn a_file_saved_where_force_discards_is_kept() {
    nix_available();
    let old = spec().text("a", "a1\n");
    let new = spec()
        .text("a", "a2\n")
        .file(FileSpec::text("forced", "hearth's\n").force())
        .text("z", "z\n");
    let (stopped, late) = race_every_write(
        &old,
        &new,
        |home| {
            write_file(home, "forced", "in the way\n");
        },
        "forced",
        Change::SaveByRename,
        &[],
    );
    assert!(late > 0, "{late} of {stopped}");
}

/// Without stopping hearth: a program of the user's watches the home with
/// inotify and, at a random one of hearth's own writes there, saves a file
/// (write a new file, rename it over the target) at a random target of the
/// switch. Over every trial the user's file must be there at the end.
#[test]
fn saves_at_random_moments_of_a_large_switch_are_never_lost() {
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    const FILES: usize = 500;
    const TRIALS: usize = 40;
    nix_available();
    let home = TestHome::new();
    let names: Vec<String> = (0..FILES).map(|i| format!("f{i:04}")).collect();
    let a = names
        .iter()
        .fold(home.gen(), |g, n| g.text(n, &format!("{n} one\n")));
    let b = names
        .iter()
        .fold(home.gen(), |g, n| g.text(n, &format!("{n} two\n")));
    let gens = build_generations(&[a, b]);
    home.hearth(["activate", path_str(&gens[0])]).assert_ok();
    // A small deterministic generator: the trials are the same every run.
    let mut xorshift: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        xorshift ^= xorshift << 13;
        xorshift ^= xorshift >> 7;
        xorshift ^= xorshift << 17;
        usize::try_from(xorshift % n as u64).unwrap()
    };
    let (mut late, mut after) = (0, 0);
    for trial in 0..TRIALS {
        let target = names[next(FILES)].clone();
        let at_event = next(FILES * 2);
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).unwrap();
        inotify
            .add_watch(
                home.path(),
                AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO,
            )
            .unwrap();
        let to = if trial % 2 == 0 { &gens[1] } else { &gens[0] };
        let mut child = home.spawn(["activate", path_str(to)]);
        let mut seen = 0;
        'watch: loop {
            match inotify.read_events() {
                Ok(events) => {
                    for _ in events {
                        seen += 1;
                        if seen >= at_event {
                            break 'watch;
                        }
                    }
                }
                Err(nix::errno::Errno::EAGAIN) => {
                    if child.try_wait().unwrap().is_some() {
                        break;
                    }
                    std::thread::yield_now();
                }
                Err(e) => panic!("inotify: {e}"),
            }
        }
        let tmp = home.join(".user-save.tmp");
        fs::write(&tmp, SAVED).unwrap();
        fs::rename(&tmp, home.join(&target)).unwrap();
        let run = Run::from_output(child.wait_with_output().unwrap());
        assert_eq!(
            fs::read_to_string(home.join(&target)).ok().as_deref(),
            Some(SAVED),
            "trial {trial}: the save to {target} was lost\n{run}"
        );
        assert_eq!(litter(home.path()), Vec::<PathBuf>::new(), "{run}");
        match run.code {
            0 => after += 1,
            3 => late += 1,
            other => panic!("trial {trial}: exit {other}\n{run}"),
        }
        // Back to a clean state for the next trial: the user removes their
        // file, and the switch is done again without interference.
        fs::remove_file(home.join(&target)).unwrap();
        home.hearth(["activate", path_str(to)]).assert_ok();
    }
    eprintln!("{TRIALS} saves: {late} found late by hearth (reverted), {after} after hearth's change; none lost");
}
