//! A real user attacking a root-mode activation (`hearth activate --user
//! NAME GEN`, run as root) of their own home: symlinks from the home (at a
//! target, at each of its parents, at hearth's state directory and its
//! files) to root-owned places, a hard link to a root-owned file, a FIFO and
//! a huge file at targets. Each test asserts that nothing outside the home
//! changed (/etc/passwd, /etc/shadow, /etc/group and a root-owned canary
//! directory), that no root-owned path appeared in the home, and that the
//! run either succeeded or reported the problem. The tests create throwaway
//! accounts with useradd (removed on drop) and so need root; as another user
//! each test says it is skipped and passes.

use crate::common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use std::time::{Duration, Instant};

use common::users::fresh;
use common::{assert_same, Run, Snapshot};
use common::{build_generation, build_generations, path_str, redact, snapshot, FileSpec};
use sha2::{Digest, Sha256};

/// This module's throwaway users, with its own `new`, `gen`, ... (see
/// `common::users::TestUserOf`).
struct Attacker;
type TestUser = common::users::TestUserOf<Attacker>;

// ---------------------------------------------------------------------------
// The attacker

impl TestUser {
    fn new() -> Self {
        let u = TestUser::create("hta", "root-attack-homes");
        u.give_home();
        u
    }

    /// Gives every path of the home to the user, except the `keep`
    /// paths (relative): what root planted there stays root's.
    fn give_home_except(&self, keep: &[&str]) {
        let keep: BTreeSet<PathBuf> = keep.iter().map(|k| self.home.join(k)).collect();
        let mut stack = vec![self.home.clone()];
        while let Some(p) = stack.pop() {
            if !keep.contains(&p) {
                std::os::unix::fs::lchown(&p, Some(self.uid), Some(self.gid)).unwrap();
            }
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                for e in fs::read_dir(&p).unwrap() {
                    stack.push(e.unwrap().path());
                }
            }
        }
    }

    fn give_home(&self) {
        self.give_home_except(&[]);
    }

    /// Inodes of the paths in the home (by lstat) that are not the user's.
    fn foreign_inodes(&self) -> BTreeSet<u64> {
        let mut found = BTreeSet::new();
        let mut stack = vec![self.home.clone()];
        while let Some(p) = stack.pop() {
            let m = fs::symlink_metadata(&p).unwrap();
            if (m.uid(), m.gid()) != (self.uid, self.gid) {
                found.insert(m.ino());
            }
            if m.is_dir() {
                for e in fs::read_dir(&p).unwrap() {
                    stack.push(e.unwrap().path());
                }
            }
        }
        found
    }

    /// hearth run as root for this user: `activate --user NAME GEN`, killed
    /// (and the test failed) when it does not finish within a minute.
    fn activate(&self, gen: &Path, extra: &[&str]) -> Run {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
            .args(["activate", "--user", &self.name, path_str(gen)])
            .args(extra)
            .env("HOME", "/root")
            .env_remove("XDG_STATE_HOME")
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hearth");
        let start = Instant::now();
        while child.try_wait().expect("wait for hearth").is_none() {
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("hearth activate --user {} did not finish", self.name);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Run::from_output(child.wait_with_output().expect("collect hearth output"))
    }

    fn redact(&self, text: &str, canary: &Canary) -> String {
        redact(
            text,
            &[
                (path_str(&canary.path), "~CANARY"),
                (path_str(&self.home), "~HOME"),
                (&self.name, "USER"),
            ],
        )
    }
}

// ---------------------------------------------------------------------------
// What must not change

/// A root-owned directory outside the home (0755, files 0644), with the
/// structure an attack would need hearth to follow into.
struct Canary {
    path: PathBuf,
}

impl Canary {
    fn new() -> Self {
        let (_, path) = fresh("hta", "root-attack-canaries");
        fs::create_dir_all(path.join("b/c")).unwrap();
        fs::create_dir_all(path.join("d/sub")).unwrap();
        fs::write(path.join("secret"), "do not touch\n").unwrap();
        fs::write(path.join("b/c/kept"), "kept\n").unwrap();
        for (rel, mode) in [("", 0o755), ("secret", 0o644), ("b/c/kept", 0o644)] {
            fs::set_permissions(path.join(rel), fs::Permissions::from_mode(mode)).unwrap();
        }
        Canary { path }
    }

    fn secret(&self) -> PathBuf {
        self.path.join("secret")
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// The accounts files, less the lines of the throwaway accounts that this
/// and other test processes add and remove meanwhile.
fn accounts_hash(file: &str) -> String {
    let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("read {file}: {e}"));
    let is_test_account =
        |line: &str| common::users::is_test_account(line.split(':').next().unwrap_or_default());
    let kept: Vec<&str> = text.lines().filter(|l| !is_test_account(l)).collect();
    format!("{:x}", Sha256::digest(kept.join("\n")))
}

/// Everything outside the home that an escape would change.
struct Sentinels {
    accounts: Vec<String>,
    canary: Snapshot,
}

const ACCOUNTS: [&str; 3] = ["/etc/passwd", "/etc/shadow", "/etc/group"];

impl Sentinels {
    fn take(canary: &Canary) -> Self {
        Sentinels {
            accounts: ACCOUNTS.iter().map(|f| accounts_hash(f)).collect(),
            canary: snapshot(&canary.path, &[]),
        }
    }

    #[track_caller]
    fn assert_unchanged(&self, canary: &Canary) {
        let now = Sentinels::take(canary);
        assert_eq!(self.accounts, now.accounts, "{ACCOUNTS:?} changed");
        assert_same(&self.canary, &now.canary);
    }
}

/// One attack: the sentinels and the home's foreign paths before the run,
/// checked against after it.
struct Watch {
    sentinels: Sentinels,
    foreign: BTreeSet<u64>,
}

impl Watch {
    fn start(u: &TestUser, canary: &Canary) -> Self {
        Watch {
            sentinels: Sentinels::take(canary),
            foreign: u.foreign_inodes(),
        }
    }

    /// (a) nothing outside the home changed; (b) no path in the home that
    /// is not the user's appeared (what root planted may stay, or move).
    #[track_caller]
    fn assert_no_escape(&self, u: &TestUser, canary: &Canary) {
        self.sentinels.assert_unchanged(canary);
        let appeared: Vec<u64> = u
            .foreign_inodes()
            .difference(&self.foreign)
            .copied()
            .collect();
        assert!(
            appeared.is_empty(),
            "root-owned inodes appeared in the home: {appeared:?}"
        );
        assert!(!Path::new("/etc/b").exists() && !Path::new("/etc/c").exists());
    }
}

fn symlink(u: &TestUser, rel: &str, to: &Path) {
    let path = u.home.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(to, &path).unwrap();
}

fn conflict_line<'a>(run: &'a Run, rel: &str) -> &'a str {
    run.stderr
        .lines()
        .find(|l| l.contains(&format!("~/{rel} ")))
        .unwrap_or_else(|| panic!("no conflict reported at ~/{rel}:\n{run}"))
}

// ---------------------------------------------------------------------------
// Symlinks at a target and at its parents

const TARGET: &str = "a/b/c/file";

/// For the target and each of its parents in turn, a symlink there to
/// `outside(level)`: a conflict naming it, and with a backup extension the
/// link moved aside (never followed) and the file made in real directories.
fn symlink_at_each_level_is_never_followed(outside: impl Fn(&str, &Canary) -> PathBuf) {
    for level in ["a/b/c/file", "a/b/c", "a/b", "a"] {
        for backup in [false, true] {
            let u = TestUser::new();
            let canary = Canary::new();
            let gen = build_generation(&u.gen().text(TARGET, "new\n"));
            let to = outside(level, &canary);
            symlink(&u, level, &to);
            u.give_home();
            let watch = Watch::start(&u, &canary);
            let before = snapshot(&u.home, &[".local/state"]);

            let extra: &[&str] = if backup {
                &["--backup-ext", "bak"]
            } else {
                &[]
            };
            let run = u.activate(&gen, extra);

            watch.assert_no_escape(&u, &canary);
            if backup {
                run.assert_ok();
                assert_eq!(
                    fs::read_link(u.home.join(format!("{level}.bak"))).unwrap(),
                    to
                );
                assert_eq!(fs::read_to_string(u.home.join(TARGET)).unwrap(), "new\n");
            } else {
                run.assert_code(3);
                let line = conflict_line(&run, level);
                assert!(line.starts_with(&format!("[{}] ", u.name)), "{run}");
                assert_same(&before, &snapshot(&u.home, &[".local/state"]));
                if level == "a" {
                    insta::assert_snapshot!(
                        format!("symlinked_parent_{}", u8::from(to.starts_with("/etc"))),
                        u.redact(&run.stderr, &canary)
                    );
                }
            }
        }
    }
}

#[test]
fn a_target_or_parent_symlinked_into_the_canary_is_never_followed() {
    needs_root!();
    symlink_at_each_level_is_never_followed(|level, canary| match level {
        "a" => canary.path.clone(),
        "a/b" => canary.path.join("b"),
        "a/b/c" => canary.path.join("b/c"),
        _ => canary.secret(),
    });
}

#[test]
fn a_target_or_parent_symlinked_to_etc_is_never_followed() {
    needs_root!();
    symlink_at_each_level_is_never_followed(|level, _| match level {
        "a/b/c/file" => PathBuf::from("/etc/shadow"),
        _ => PathBuf::from("/etc"),
    });
}

// ---------------------------------------------------------------------------
// hearth's state directory

/// The home prepared by `prepare`, then a run that must fail (exit 2 or 1)
/// with `what` reported, changing nothing outside the home.
fn state_attack_is_refused(snap: &str, prepare: impl Fn(&TestUser, &Canary) -> PathBuf) {
    let u = TestUser::new();
    let canary = Canary::new();
    let gen = build_generation(&u.gen().text(".a", "a\n"));
    let to = prepare(&u, &canary);
    u.give_home();
    let watch = Watch::start(&u, &canary);

    let run = u.activate(&gen, &[]);

    watch.assert_no_escape(&u, &canary);
    assert_ne!(run.code, 0, "{run}");
    assert!(!u.home.join(".a").exists(), "activated anyway:\n{run}");
    let shown = u.redact(&run.stderr, &canary);
    let shown = redact(&shown, &[(path_str(&to), "~OUTSIDE")]);
    insta::assert_snapshot!(snap, format!("exit code {}\n{shown}", run.code));
}

#[test]
fn a_state_dir_symlinked_to_a_root_owned_dir_is_refused() {
    needs_root!();
    state_attack_is_refused("state_dir_symlinked", |u, canary| {
        symlink(u, ".local/state/hearth", &canary.path);
        canary.path.clone()
    });
}

#[test]
fn a_local_state_symlinked_to_a_root_owned_dir_is_refused() {
    needs_root!();
    state_attack_is_refused("local_state_symlinked", |u, canary| {
        fs::remove_dir(u.home.join(".local/state")).unwrap();
        symlink(u, ".local/state", &canary.path);
        canary.path.clone()
    });
}

/// `file` of the state directory is a symlink to the canary's file and,
/// in a second home, to /etc/shadow.
fn state_file_symlink_is_refused(file: &str) {
    for (i, outside) in ["canary", "shadow"].into_iter().enumerate() {
        state_attack_is_refused(
            &format!("state_{file}_symlinked_{i}_{outside}"),
            |u, canary| {
                let to = match outside {
                    "canary" => canary.secret(),
                    _ => PathBuf::from("/etc/shadow"),
                };
                fs::create_dir_all(u.home.join(".local/state/hearth")).unwrap();
                symlink(u, &format!(".local/state/hearth/{file}"), &to);
                to
            },
        );
    }
}

#[test]
fn a_symlinked_lock_is_refused() {
    needs_root!();
    state_file_symlink_is_refused("lock");
}

#[test]
fn a_symlinked_journal_is_refused() {
    needs_root!();
    state_file_symlink_is_refused("journal");
}

#[test]
fn a_symlinked_state_json_is_refused() {
    needs_root!();
    state_file_symlink_is_refused("state.json");
}

// ---------------------------------------------------------------------------
// Hard links, FIFOs, huge files at targets

/// A hard link at a copy target to a root-owned file outside the home
/// (planted by root: `protected_hardlinks` forbids the user making it) is a
/// conflict, and with a backup extension moved aside as it is; the file's
/// content, mode and owner never change.
#[test]
fn a_hardlink_to_a_root_owned_file_is_never_written_through() {
    needs_root!();
    for backup in [false, true] {
        let u = TestUser::new();
        let canary = Canary::new();
        let gen = build_generation(&u.gen().file(FileSpec::text(".config/conf", "new\n").copy()));
        fs::create_dir_all(u.home.join(".config")).unwrap();
        fs::hard_link(canary.secret(), u.home.join(".config/conf")).unwrap();
        u.give_home_except(&[".config/conf"]);
        let ino = fs::metadata(canary.secret()).unwrap().ino();
        let watch = Watch::start(&u, &canary);

        let extra: &[&str] = if backup {
            &["--backup-ext", "bak"]
        } else {
            &[]
        };
        let run = u.activate(&gen, extra);

        watch.assert_no_escape(&u, &canary);
        let conf = fs::symlink_metadata(u.home.join(".config/conf")).unwrap();
        if backup {
            run.assert_ok();
            let aside = fs::symlink_metadata(u.home.join(".config/conf.bak")).unwrap();
            assert_eq!((aside.ino(), aside.uid()), (ino, 0));
            assert_eq!(
                fs::read_to_string(u.home.join(".config/conf")).unwrap(),
                "new\n"
            );
            assert_eq!(conf.uid(), u.uid);
        } else {
            run.assert_code(3);
            assert_eq!(conf.ino(), ino);
            conflict_line(&run, ".config/conf");
        }
    }
}

/// A FIFO where hearth's own copy was (so it wants to hash what is there)
/// is a conflict, reported without hanging.
#[test]
fn a_fifo_at_a_target_is_a_conflict_and_does_not_hang() {
    needs_root!();
    let u = TestUser::new();
    let canary = Canary::new();
    let gens = build_generations(&[
        u.gen().file(FileSpec::text("pipe", "old\n").copy()),
        u.gen().file(FileSpec::text("pipe", "new\n").copy()),
    ]);
    u.activate(&gens[0], &[]).assert_ok();
    fs::remove_file(u.home.join("pipe")).unwrap();
    nix::unistd::mkfifo(
        &u.home.join("pipe"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    u.give_home();
    let watch = Watch::start(&u, &canary);

    let run = u.activate(&gens[1], &[]);

    watch.assert_no_escape(&u, &canary);
    run.assert_code(3);
    assert!(conflict_line(&run, "pipe").contains("FIFO"), "{run}");
    assert!(fs::symlink_metadata(u.home.join("pipe"))
        .unwrap()
        .file_type()
        .is_fifo());
}

/// A 1 GiB sparse file at a target, with `--backup-ext`, is renamed aside
/// (same inode, still the user's), not copied: the run is quick.
#[test]
fn a_huge_sparse_file_at_a_target_is_renamed_aside_quickly() {
    needs_root!();
    let u = TestUser::new();
    let canary = Canary::new();
    let gen = build_generation(&u.gen().text("big", "new\n"));
    let big = fs::File::create(u.home.join("big")).unwrap();
    big.set_len(1 << 30).unwrap();
    drop(big);
    u.give_home();
    let ino = fs::metadata(u.home.join("big")).unwrap().ino();
    let watch = Watch::start(&u, &canary);

    let start = Instant::now();
    let run = u.activate(&gen, &["--backup-ext", "bak"]);
    let took = start.elapsed();

    watch.assert_no_escape(&u, &canary);
    run.assert_ok();
    let aside = fs::symlink_metadata(u.home.join("big.bak")).unwrap();
    assert_eq!(
        (aside.ino(), aside.len(), aside.uid()),
        (ino, 1 << 30, u.uid)
    );
    assert_eq!(fs::read_to_string(u.home.join("big")).unwrap(), "new\n");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}
