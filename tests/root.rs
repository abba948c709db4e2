//! Root mode: hearth started as root applies real users' homes, each in a
//! process dropped to that user. The tests create throwaway accounts with
//! useradd (removed on drop, even when a test fails) and so need root; as
//! another user each test says it is skipped and passes.

use crate::common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{build_generation, build_generations, path_str, redact, snapshot, GenSpec, Run};

/// This module's throwaway users, with its own `new`, `gen`, ... (see
/// `common::users::TestUserOf`).
struct Root;
type TestUser = common::users::TestUserOf<Root>;

impl TestUser {
    fn new() -> Self {
        let u = TestUser::create("hth", "root-homes");
        u.chown_home(u.uid, u.gid);
        u
    }

    /// Every path in the home (the home included), by lstat, belongs to the
    /// user: nothing was made with root's privileges.
    #[track_caller]
    fn assert_all_theirs(&self) {
        let mut stack = vec![self.home.clone()];
        let mut seen = 0;
        while let Some(p) = stack.pop() {
            let m = fs::symlink_metadata(&p).unwrap();
            assert_eq!(
                (m.uid(), m.gid()),
                (self.uid, self.gid),
                "{} is not owned by {}",
                p.display(),
                self.name
            );
            seen += 1;
            if m.is_dir() {
                for e in fs::read_dir(&p).unwrap() {
                    stack.push(e.unwrap().path());
                }
            }
        }
        assert!(seen > 1);
    }

    fn redact(&self, text: &str) -> String {
        redact(
            text,
            &[
                (path_str(&self.home), "~HOME"),
                (&self.name, "USER"),
                (&self.uid.to_string(), "UID"),
            ],
        )
    }
}

/// Where root's own `XDG_STATE_HOME` points during the runs: hearth must not
/// let it send a user's state there.
fn leak_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("root-xdg-{}", std::process::id()))
}

/// hearth run as root (not through the harness's `TestHome`, which runs it
/// as the current user on a HOME of its own).
fn hearth_root<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(args)
        .env("XDG_STATE_HOME", leak_dir())
        .env("XDG_CONFIG_HOME", leak_dir())
        .env("HOME", "/root")
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .expect("run hearth");
    Run::from_output(out)
}

fn activate_as(user: &TestUser, gen: &Path) -> Run {
    hearth_root([
        "activate".as_ref(),
        "--user".as_ref(),
        user.name.as_ref(),
        gen.as_os_str(),
    ])
}

/// A summary line without its column padding (names differ in length).
fn squeeze(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn root_activates_a_users_home_as_that_user() {
    needs_root!();
    let u = TestUser::new();
    let gen = build_generation(
        &u.gen()
            .text(".config/app/conf", "conf\n")
            .file(common::FileSpec::text(".secret", "s\n").copy().mode("0600"))
            .step(
                "mark",
                "files",
                "touch \"$HOME/step-was-here\"; id -un; pwd",
            ),
    );
    // Given through a symlink (like a `result` link): resolved, in the store.
    let link_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{}-link", u.name));
    fs::create_dir_all(&link_dir).unwrap();
    let link = link_dir.join("result");
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink(&gen, &link).unwrap();

    let run = activate_as(&u, &link);
    run.assert_ok();
    fs::remove_dir_all(&link_dir).unwrap();

    assert_eq!(
        fs::read_to_string(u.home.join(".config/app/conf")).unwrap(),
        "conf\n"
    );
    assert_eq!(fs::read_to_string(u.home.join(".secret")).unwrap(), "s\n");
    assert!(u.home.join("step-was-here").exists());
    let state = u.home.join(".local/state/hearth");
    assert!(state.join("state.json").exists(), "{run}");
    u.assert_all_theirs();
    assert!(
        !leak_dir().join("hearth").exists(),
        "root's XDG_STATE_HOME was used"
    );
    // The hook ran as the user, in the home; every line is attributed.
    let prefix = format!("[{}] ", u.name);
    assert!(
        run.stdout.contains(&format!("{prefix}[mark] {}\n", u.name)),
        "{run}"
    );
    assert!(
        run.stdout
            .contains(&format!("{prefix}[mark] {}\n", u.home.display())),
        "{run}"
    );
    for line in run.stdout.lines().chain(run.stderr.lines()) {
        assert!(
            line.starts_with(&prefix),
            "unprefixed line {line:?} in\n{run}"
        );
    }
}

#[test]
fn a_manifest_for_another_user_is_refused() {
    needs_root!();
    let u = TestUser::new();
    let gen = build_generation(
        &GenSpec::new(&u.home)
            .user("somebody-else")
            .text(".a", "a\n"),
    );
    let before = snapshot(&u.home, &[]);
    let run = activate_as(&u, &gen);
    run.assert_code(2);
    assert_eq!(before, snapshot(&u.home, &[]));
    insta::assert_snapshot!("wrong_manifest_user", u.redact(&run.stderr));
}

#[test]
fn a_generation_outside_the_store_is_refused() {
    needs_root!();
    let u = TestUser::new();
    let gen = build_generation(&u.gen().text(".a", "a\n"));
    let copy = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{}-gen", u.name));
    let _ = fs::remove_dir_all(&copy);
    let status = Command::new("cp")
        .arg("-a")
        .arg(&gen)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    let before = snapshot(&u.home, &[]);
    let run = activate_as(&u, &copy);
    let _ = Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(&copy)
        .status();
    fs::remove_dir_all(&copy).unwrap();
    run.assert_code(2);
    assert_eq!(before, snapshot(&u.home, &[]));
    let text = redact(&run.stderr, &[(path_str(&copy), "~COPY")]);
    insta::assert_snapshot!("generation_outside_store", u.redact(&text));
}

/// The hidden `activate-as-user`, run directly by root, checks the
/// generation itself (before dropping): one outside the store is refused
/// with the same error as `activate --user`, and the home is untouched.
#[test]
fn activate_as_user_run_directly_refuses_a_generation_outside_the_store() {
    needs_root!();
    let u = TestUser::new();
    let gen = build_generation(&u.gen().text(".a", "a\n"));
    let copy = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{}-gen", u.name));
    let _ = fs::remove_dir_all(&copy);
    let status = Command::new("cp")
        .arg("-a")
        .arg(&gen)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    let before = snapshot(&u.home, &[]);
    let run = hearth_root([
        "activate-as-user".as_ref(),
        u.name.as_ref(),
        copy.as_os_str(),
    ]);
    let _ = Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(&copy)
        .status();
    fs::remove_dir_all(&copy).unwrap();
    run.assert_code(2);
    assert_eq!(before, snapshot(&u.home, &[]));
    let text = redact(&run.stderr, &[(path_str(&copy), "~COPY")]);
    insta::assert_snapshot!("activate_as_user_outside_store", u.redact(&text));
}

/// Decision: a home owned by someone else is refused before anything is
/// written (the child, already the user, checks the owner of the home).
#[test]
fn a_home_owned_by_another_user_is_refused() {
    needs_root!();
    let u = TestUser::new();
    let other = TestUser::new();
    let gen = build_generation(&u.gen().text(".a", "a\n"));
    u.chown_home(other.uid, other.gid);
    // World-writable, so that only the check (not the permissions) stops it.
    fs::set_permissions(&u.home, fs::Permissions::from_mode(0o777)).unwrap();
    let before = snapshot(&u.home, &[]);
    let run = activate_as(&u, &gen);
    run.assert_code(2);
    assert_eq!(before, snapshot(&u.home, &[]));
    let text = redact(&run.stderr, &[(&other.uid.to_string(), "OTHER_UID")]);
    insta::assert_snapshot!("home_owned_by_another_user", u.redact(&text));
}

#[test]
fn without_root_only_ones_own_name_is_accepted() {
    needs_root!();
    let u = TestUser::new();
    let other = TestUser::new();
    let gens = build_generations(&[
        u.gen().text(".a", "a\n"),
        u.gen().text(".a", "a\n").text(".b", "b\n"),
        other.gen().text(".a", "a\n"),
    ]);
    // Root mode first: it also gives u the per-user GC-roots directory that
    // a Nix daemon would make (this machine has none).
    activate_as(&u, &gens[0]).assert_ok();
    let as_user = |args: &[&OsStr]| {
        let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
            .args(args)
            .env("HOME", &u.home)
            .env_remove("XDG_STATE_HOME")
            .uid(u.uid)
            .gid(u.gid)
            .current_dir("/")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Run::from_output(out)
    };
    let before = snapshot(&other.home, &[]);
    let run = as_user(&[
        "activate".as_ref(),
        "--user".as_ref(),
        other.name.as_ref(),
        gens[2].as_os_str(),
    ]);
    run.assert_code(2);
    assert_eq!(before, snapshot(&other.home, &[]));
    let text = redact(&run.stderr, &[(&other.name, "OTHER")]);
    insta::assert_snapshot!("not_root_other_user", u.redact(&text));

    let run = as_user(&[
        "activate".as_ref(),
        "--user".as_ref(),
        u.name.as_ref(),
        gens[1].as_os_str(),
    ]);
    run.assert_ok();
    assert_eq!(fs::read_to_string(u.home.join(".b")).unwrap(), "b\n");
    u.assert_all_theirs();
}

#[test]
fn one_users_failure_does_not_stop_the_others() {
    needs_root!();
    let users: Vec<TestUser> = (0..3).map(|_| TestUser::new()).collect();
    let gens = build_generations(
        &users
            .iter()
            .map(|u| u.gen().text(".config/x", &format!("{}\n", u.name)))
            .collect::<Vec<_>>(),
    );
    // The middle user has a file of their own in the way.
    let mid = &users[1];
    let in_the_way = mid.home.join(".config");
    fs::create_dir(&in_the_way).unwrap();
    fs::write(in_the_way.join("x"), "mine\n").unwrap();
    for p in [&in_the_way, &in_the_way.join("x")] {
        std::os::unix::fs::lchown(p, Some(mid.uid), Some(mid.gid)).unwrap();
    }
    // hearth's state dir may appear (its lock); the files must not change.
    let before = snapshot(&mid.home, &[".local/state"]);

    let pairs: Vec<String> = users
        .iter()
        .zip(&gens)
        .map(|(u, g)| format!("{}={}", u.name, g.display()))
        .collect();
    let run = hearth_root(std::iter::once("activate-users".to_string()).chain(pairs));
    run.assert_code(1);

    for i in [0, 2] {
        let u = &users[i];
        assert_eq!(
            fs::read_to_string(u.home.join(".config/x")).unwrap(),
            format!("{}\n", u.name)
        );
        u.assert_all_theirs();
    }
    assert_eq!(before, snapshot(&mid.home, &[".local/state"]));

    // Every line is a user's, up to the summary.
    let summary_at = run.stderr.find("hearth: 3 users:").expect("a summary");
    let (lines, summary) = run.stderr.split_at(summary_at);
    for line in lines.lines().chain(run.stdout.lines()) {
        assert!(
            users
                .iter()
                .any(|u| line.starts_with(&format!("[{}] ", u.name))),
            "unprefixed line {line:?} in\n{run}"
        );
    }
    assert!(lines.contains(&format!("[{}] error: ", mid.name)), "{run}");
    let names = [
        (users[0].name.as_str(), "FIRST"),
        (users[1].name.as_str(), "MIDDLE"),
        (users[2].name.as_str(), "LAST"),
    ];
    let summary: Vec<String> = summary.lines().map(squeeze).collect();
    insta::assert_snapshot!("three_users_summary", redact(&summary.join("\n"), &names));
}

#[test]
fn twenty_users_in_one_run() {
    needs_root!();
    let users: Vec<TestUser> = (0..20).map(|_| TestUser::new()).collect();
    let gens = build_generations(
        &users
            .iter()
            .map(|u| {
                u.gen()
                    .text(".config/a/one", &format!("one {}\n", u.name))
                    .text(".config/b/two", "two\n")
                    .file(common::FileSpec::text(".copied", &u.name).copy())
            })
            .collect::<Vec<_>>(),
    );
    let pairs: Vec<String> = users
        .iter()
        .zip(&gens)
        .map(|(u, g)| format!("{}={}", u.name, g.display()))
        .collect();
    let run = hearth_root(std::iter::once("activate-users".to_string()).chain(pairs));
    run.assert_ok();
    assert!(run.stderr.contains("hearth: 20 users:"), "{run}");
    assert!(run.stderr.contains("hearth: all users succeeded"), "{run}");
    for u in &users {
        assert_eq!(
            fs::read_to_string(u.home.join(".config/a/one")).unwrap(),
            format!("one {}\n", u.name)
        );
        assert_eq!(fs::read_to_string(u.home.join(".copied")).unwrap(), u.name);
        assert!(u.home.join(".local/state/hearth/state.json").exists());
        u.assert_all_theirs();
        assert!(
            run.stderr
                .lines()
                .any(|l| squeeze(l) == format!("{} activated", u.name)),
            "{run}"
        );
    }
}
