//! Root mode's output: `-q` and `-v` reach every user's process (and
//! `plan --system`'s); when root's stderr is the journal, every line root
//! shows there, a user's relayed one or its own summary, starts with its
//! syslog priority (a user's `error:` stays an error); and `--step-timeout`
//! kills a real user's hanging step. The tests create throwaway accounts and
//! need root; as another user they say they are skipped and pass.

use crate::common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{build_generations, path_str, redact, GenSpec, Run};

struct RootOutput;
type TestUser = common::users::TestUserOf<RootOutput>;

impl TestUser {
    fn new() -> Self {
        let u = TestUser::create("hro", "root-output-homes");
        u.chown_home(u.uid, u.gid);
        u
    }

    /// A file of the user's own in the way of `rel`.
    fn in_the_way(&self, rel: &str) {
        let path = self.home.join(rel);
        fs::write(&path, "mine\n").unwrap();
        std::os::unix::fs::lchown(&path, Some(self.uid), Some(self.gid)).unwrap();
    }
}

/// A generation of `n` files under `dir` for `u`.
fn many(u: &TestUser, dir: &str, n: usize) -> GenSpec {
    let mut spec = u.gen();
    for i in 0..n {
        spec = spec.text(&format!("{dir}/file-{i:03}"), "x\n");
    }
    spec
}

fn hearth_cmd<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hearth"));
    cmd.args(args)
        .env("HOME", "/root")
        .env_remove("JOURNAL_STREAM")
        .current_dir("/")
        .stdin(Stdio::null());
    cmd
}

fn hearth_root<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Run::from_output(hearth_cmd(args).output().expect("run hearth"))
}

/// `NAME=GEN` for `activate-users`.
fn pair(u: &TestUser, gen: &Path) -> String {
    format!("{}={}", u.name, gen.display())
}

/// Names and homes of `users` redacted (`USER1`, `~HOME1`, ...), the
/// longest name first so that one name inside another stays whole.
fn redact_users(text: &str, users: &[&TestUser]) -> String {
    let homes: Vec<(String, String)> = users
        .iter()
        .enumerate()
        .map(|(i, u)| (path_str(&u.home).to_string(), format!("~HOME{}", i + 1)))
        .collect();
    let mut names: Vec<(String, String)> = users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.name.clone(), format!("USER{}", i + 1)))
        .collect();
    names.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
    let all: Vec<(&str, &str)> = homes
        .iter()
        .chain(&names)
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    redact(text, &all)
}

/// A summary line without its column padding (names differ in length).
fn squeeze(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How many lines of `text` are `[USER]   create   ~/DIR/file-…`.
fn creates(text: &str, u: &TestUser, dir: &str) -> usize {
    let line = format!("[{}]   create   ~/{dir}/file-", u.name);
    text.lines().filter(|l| l.starts_with(&line)).count()
}

#[test]
fn quiet_and_verbose_reach_every_users_activation() {
    needs_root!();
    let a = TestUser::new();
    let b = TestUser::new();
    let talk = "echo talking\n";
    let gens = build_generations(&[
        many(&a, "one", 60).step("talk", "files", talk),
        many(&b, "one", 60).step("talk", "files", talk),
        many(&a, "two", 60).step("talk", "files", talk),
        many(&b, "two", 60)
            .text(".x", "x\n")
            .step("talk", "files", talk),
        many(&a, "three", 60),
        many(&b, "three", 60),
    ]);

    // Without a flag: each user's large plan is summarized.
    let run = hearth_root(["activate-users", &pair(&a, &gens[0]), &pair(&b, &gens[1])]);
    run.assert_ok();
    for u in [&a, &b] {
        assert_eq!(creates(&run.stdout, u, "one"), 5, "{run}");
        assert!(
            run.stdout
                .contains(&format!("[{}] [talk] talking\n", u.name)),
            "{run}"
        );
    }
    assert!(run.stdout.contains("and 55 more to create"), "{run}");

    // -q: nothing of a user who succeeded; a user's error, and then the
    // whole summary, still show.
    b.in_the_way(".x");
    let run = hearth_root([
        "-q",
        "activate-users",
        &pair(&a, &gens[2]),
        &pair(&b, &gens[3]),
    ]);
    run.assert_code(1);
    assert_eq!(run.stdout, "", "{run}");
    assert_eq!(
        fs::read_to_string(a.home.join("two/file-000")).unwrap(),
        "x\n"
    );
    assert!(!run.stderr.contains(&format!("[{}]", a.name)), "{run}");
    assert!(
        run.stderr
            .starts_with(&format!("[{}] error: 1 path is in the way", b.name)),
        "{run}"
    );
    let summary: Vec<String> = run.stderr[run.stderr.find("hearth: 2 users:").unwrap()..]
        .lines()
        .map(squeeze)
        .collect();
    insta::assert_snapshot!(
        "quiet_summary",
        redact_users(&summary.join("\n"), &[&a, &b])
    );
    // With every user activated, -q prints nothing at all.
    fs::remove_file(b.home.join(".x")).unwrap();
    let run = hearth_root(["--quiet", "activate-users", &pair(&b, &gens[3])]);
    run.assert_ok();
    assert_eq!(
        (run.stdout.as_str(), run.stderr.as_str()),
        ("", ""),
        "{run}"
    );

    // -v: every path of every user's plan.
    let run = hearth_root([
        "activate-users",
        "-v",
        &pair(&a, &gens[4]),
        &pair(&b, &gens[5]),
    ]);
    run.assert_ok();
    for u in [&a, &b] {
        assert_eq!(creates(&run.stdout, u, "three"), 60, "{run}");
    }
    assert!(!run.stdout.contains("more to create"), "{run}");

    // And `activate --user`, the one-user form.
    let run = hearth_root([
        "-q".as_ref(),
        "activate".as_ref(),
        "--user".as_ref(),
        a.name.as_ref(),
        gens[2].as_os_str(),
    ]);
    run.assert_ok();
    assert_eq!(
        (run.stdout.as_str(), run.stderr.as_str()),
        ("", ""),
        "{run}"
    );
}

/// `DIR/etc/hearth/homes.json` for `homes`, as the platform modules write it.
struct System {
    dir: PathBuf,
}

impl System {
    fn new(homes: &[(&TestUser, &Path)]) -> Self {
        let entries: Vec<serde_json::Value> = homes
            .iter()
            .map(|(u, gen)| {
                serde_json::json!({
                    "user": u.name, "home": path_str(&u.home),
                    "generation": path_str(gen), "timeout": 300,
                })
            })
            .collect();
        let (_, dir) = common::users::fresh("sys", "root-output-systems");
        fs::create_dir_all(dir.join("etc/hearth")).unwrap();
        fs::write(
            dir.join("etc/hearth/homes.json"),
            serde_json::json!({"version": 1, "homes": entries}).to_string(),
        )
        .unwrap();
        System { dir }
    }
}

impl Drop for System {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn plan_system_passes_quiet_and_verbose_on() {
    needs_root!();
    let a = TestUser::new();
    let gens = build_generations(&[many(&a, "one", 60)]);
    let sys = System::new(&[(&a, &gens[0])]);
    let plan = |flag: &str| {
        hearth_root([
            flag.as_ref(),
            "plan".as_ref(),
            "--system".as_ref(),
            sys.dir.as_os_str(),
        ])
    };
    let run = plan("--verbose");
    run.assert_ok();
    assert_eq!(creates(&run.stdout, &a, "one"), 60, "{run}");
    let run = plan("--lock-timeout=60");
    run.assert_ok();
    assert_eq!(creates(&run.stdout, &a, "one"), 5, "{run}");
    // Every plan computed: nothing at all with -q.
    let run = plan("-q");
    run.assert_ok();
    assert_eq!(
        (run.stdout.as_str(), run.stderr.as_str()),
        ("", ""),
        "{run}"
    );
}

/// hearth as root with stderr into a file that `JOURNAL_STREAM` names (as
/// systemd names the journal's socket); its exit status and stderr.
fn into_journal(args: &[&OsStr], scratch: &Path) -> (i32, String) {
    let path = scratch.join(format!("stderr-{}", std::process::id()));
    let file = fs::File::create(&path).unwrap();
    let meta = file.metadata().unwrap();
    let status = hearth_cmd(args)
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stdout(Stdio::null())
        .stderr(file)
        .status()
        .unwrap();
    let text = fs::read_to_string(&path).unwrap();
    fs::remove_file(&path).unwrap();
    (status.code().unwrap(), text)
}

fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("root-output-journal");
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn into_the_journal_every_line_of_root_mode_carries_its_priority() {
    needs_root!();
    let a = TestUser::new();
    let b = TestUser::new();
    let talk = "echo talking\necho trouble >&2\n";
    let gens = build_generations(&[
        a.gen().text(".a", "1\n").step("talk", "files", talk),
        b.gen().text(".x", "x\n"),
        a.gen().text(".a", "2\n").step("talk", "files", talk),
    ]);
    b.in_the_way(".x");
    let users = [&a, &b];
    let names: Vec<(&str, &str)> = vec![(path_str(&gens[0]), "GEN1"), (path_str(&gens[1]), "GEN2")];

    // A user's error, its hint and its last line are errors; the summary's
    // lines have each their own.
    let args: Vec<String> = vec![
        "activate-users".into(),
        pair(&a, &gens[0]),
        pair(&b, &gens[1]),
    ];
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    let (code, stderr) = into_journal(&args, &scratch());
    assert_eq!(code, 1, "{stderr}");
    for line in stderr.lines() {
        assert!(
            ["<3>", "<4>", "<6>"].iter().any(|p| line.starts_with(p)),
            "no priority: {line:?} in\n{stderr}"
        );
    }
    // The summary's columns squeezed (names differ in length).
    let at = stderr.find("<6>hearth: 2 users:").expect("a summary");
    let mut text = stderr[..at].to_string();
    for line in stderr[at..].lines() {
        text.push_str(&squeeze(line));
        text.push('\n');
    }
    insta::assert_snapshot!(
        "journal_users",
        redact_users(&redact(&text, &names), &users)
    );

    // A step's output on stderr (--json) is information, under the name.
    let (code, stderr) = into_journal(
        &[
            "activate".as_ref(),
            "--json".as_ref(),
            "--user".as_ref(),
            a.name.as_ref(),
            gens[2].as_os_str(),
        ],
        &scratch(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&format!("<6>[{}] [talk] trouble\n", a.name)),
        "{stderr}"
    );

    // plan --system: a plan whose activation would stop is a warning.
    let sys = System::new(&[(&a, &gens[2]), (&b, &gens[1])]);
    let (code, stderr) = into_journal(
        &["plan".as_ref(), "--system".as_ref(), sys.dir.as_os_str()],
        &scratch(),
    );
    assert_eq!(code, 0, "{stderr}");
    let at = stderr.find("<6>hearth: plans for").expect("a summary");
    let summary: Vec<String> = stderr[at..].lines().map(squeeze).collect();
    let sys_dir = path_str(&sys.dir).to_string();
    insta::assert_snapshot!(
        "journal_system_summary",
        redact_users(
            &redact(&summary.join("\n"), &[(&sys_dir, "SYSTEM")]),
            &users
        )
    );

    // Not the journal (another stream named): no prefixes.
    let run = hearth_root(["activate-users", &pair(&b, &gens[1])]);
    run.assert_code(1);
    assert!(!run.stderr.contains("<3>"), "{run}");
    assert!(!run.stderr.contains("<6>"), "{run}");
}

#[test]
fn a_users_hanging_step_is_killed_at_the_step_timeout() {
    needs_root!();
    let a = TestUser::new();
    let hang =
        "sleep 300 &\necho $! > \"$HOME/.local/state/background.pid\"\necho waiting for it\nwait\n";
    let gens = build_generations(&[
        a.gen().text(".a", "1\n").step("hang", "files", hang).step(
            "after",
            "files",
            "echo never\n",
        ),
        a.gen().text(".a", "2\n").step("hang", "files", hang).step(
            "after",
            "files",
            "echo never\n",
        ),
    ]);
    let start = Instant::now();
    let run = hearth_root([
        "activate".as_ref(),
        "--user".as_ref(),
        a.name.as_ref(),
        "--step-timeout".as_ref(),
        "1".as_ref(),
        gens[0].as_os_str(),
    ]);
    assert!(start.elapsed() < Duration::from_secs(60), "{run}");
    run.assert_code(5);
    assert!(!run.stdout.contains("never"), "{run}");
    common::assert_background_gone(&a.home.join(".local/state/background.pid"));
    assert_eq!(fs::read_to_string(a.home.join(".a")).unwrap(), "1\n");
    let names = [(path_str(&gens[0]), "GEN")];
    insta::assert_snapshot!(
        "step_timeout",
        format!(
            "stdout:\n{}\nstderr:\n{}",
            common::redact_durations(&redact_users(&redact(&run.stdout, &names), &[&a])),
            redact_users(&redact(&run.stderr, &names), &[&a])
        )
    );

    // activate-users takes it too: the user failed, the summary says so.
    let run = hearth_root([
        "activate-users",
        "--step-timeout",
        "1s",
        &pair(&a, &gens[1]),
    ]);
    run.assert_code(1);
    assert!(run.stdout.contains("step hang: killed after"), "{run}");
    assert!(
        run.stderr
            .lines()
            .any(|l| squeeze(l) == format!("{} a step or hook failed (exit 5)", a.name)),
        "{run}"
    );
}
