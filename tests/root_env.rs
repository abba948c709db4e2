//! Root mode against a user's own processes: what a user's activation
//! (its hearth process, steps and hooks) is given and what it can do to the
//! root process that started it. Its environment is built from nothing (no
//! secret of root's reaches it); it is bounded in time (a hung, stopped or
//! daemonizing step cannot stall the users after it); and nothing it prints
//! reaches root's terminal raw (no ESC, CR, BEL...). The tests create
//! throwaway accounts with useradd (removed on drop) and so need root; as
//! another user each test says it is skipped and passes.

use crate::common;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{build_generations, path_str, redact, Run};

/// This module's throwaway users, with its own `new`, `gen`, ... (see
/// `common::users::TestUserOf`).
struct RootEnv;
type TestUser = common::users::TestUserOf<RootEnv>;

impl TestUser {
    /// The prefix is root.rs's: `root_attacks.rs` ignores these accounts when
    /// it checks that /etc/passwd did not change.
    fn new() -> Self {
        let u = TestUser::create("hth", "root-env-homes");
        for rel in ["", ".local", ".local/state"] {
            std::os::unix::fs::lchown(u.home.join(rel), Some(u.uid), Some(u.gid)).unwrap();
        }
        fs::set_permissions(&u.home, fs::Permissions::from_mode(0o755)).unwrap();
        u
    }

    fn pair(&self, gen: &Path) -> String {
        format!("{}={}", self.name, gen.display())
    }
}

/// Root's environment in these runs: secrets a user must never see.
const ROOT_SECRETS: [(&str, &str); 4] = [
    ("SECRET", "root-secret-value-1"),
    ("AWS_SECRET_ACCESS_KEY", "root-secret-value-2"),
    ("SSH_AUTH_SOCK", "/root/.ssh/agent-root-secret-value-3"),
    ("XDG_STATE_HOME", "/root/.local/state-root-secret-value-4"),
];

/// `hearth ARGS` as root with root's secrets in its environment; killed
/// (and the test failed) if it runs longer than `limit`. Returns the run
/// and how long it took.
fn hearth_root<I, S>(args: I, limit: Duration) -> (Run, Duration)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(args)
        .envs(ROOT_SECRETS)
        .env("HOME", "/root")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hearth");
    let start = Instant::now();
    // The pipes are read by wait_with_output at the end; what these runs
    // print fits in the pipe buffers.
    while child.try_wait().expect("wait for hearth").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let run = Run::from_output(child.wait_with_output().expect("collect output"));
            panic!("hearth did not finish within {limit:?}:\n{run}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = start.elapsed();
    let run = Run::from_output(child.wait_with_output().expect("collect hearth output"));
    (run, took)
}

/// The lines of `text` prefixed `[name] `, without the prefix.
fn lines_of<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let prefix = format!("[{name}] ");
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .collect()
}

/// A summary line without its column padding (names differ in length).
fn squeeze(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------
// The environment

#[test]
fn a_users_activation_gets_an_environment_built_from_nothing() {
    needs_root!();
    let u = TestUser::new();
    // The step records its own environment, and tries to read its parent's
    // (the user's hearth process) as the user could while it runs.
    let gens = build_generations(&[u.gen().text(".a", "a\n").step(
        "record",
        "files",
        "env > \"$HOME/env.txt\"\n\
         tr '\\0' '\\n' < /proc/$PPID/environ > \"$HOME/parent-env.txt\" 2>/dev/null || true\n",
    )]);
    let (run, _) = hearth_root(
        [
            "activate-users".to_string(),
            u.pair(&gens[0]),
            "--setenv".to_string(),
            "HEARTH_TEST_PASSED=from the platform module".to_string(),
        ],
        Duration::from_secs(120),
    );
    run.assert_ok();

    let env_text = fs::read_to_string(u.home.join("env.txt")).unwrap();
    let env: Vec<(&str, &str)> = env_text.lines().filter_map(|l| l.split_once('=')).collect();
    let names: BTreeSet<&str> = env.iter().map(|(k, _)| *k).collect();
    // Exactly: the account's, a PATH, root's locale and Nix store variables
    // when set, the one passed with --setenv, and what hearth gives a step.
    let mut allowed: BTreeSet<&str> = [
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "PATH",
        "HEARTH_TEST_PASSED",
        "HEARTH_DRY_RUN",
        "HEARTH_OLD_GENERATION",
        "HEARTH_NEW_GENERATION",
    ]
    .into_iter()
    .collect();
    for name in [
        "LANG",
        "LC_ALL",
        "TZ",
        "LOCALE_ARCHIVE",
        "NIX_STORE_DIR",
        "NIX_STATE_DIR",
        "NIX_REMOTE",
    ] {
        if std::env::var_os(name).is_some() {
            allowed.insert(name);
        }
    }
    // What /bin/sh itself adds to the environment of `env`.
    let from_shell: BTreeSet<&str> = ["PWD", "OLDPWD", "SHLVL", "_"].into_iter().collect();
    let extra: Vec<&&str> = names
        .iter()
        .filter(|n| !allowed.contains(**n) && !from_shell.contains(**n))
        .collect();
    assert!(
        extra.is_empty(),
        "unexpected variables {extra:?} in\n{env_text}"
    );
    let missing: Vec<&&str> = allowed.iter().filter(|n| !names.contains(**n)).collect();
    assert!(missing.is_empty(), "missing {missing:?} in\n{env_text}");

    let get = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
    assert_eq!(get("HOME"), Some(path_str(&u.home)));
    assert_eq!(get("USER"), Some(u.name.as_str()));
    assert_eq!(get("LOGNAME"), Some(u.name.as_str()));
    assert_eq!(get("SHELL"), Some("/bin/sh"));
    assert_eq!(get("HEARTH_TEST_PASSED"), Some("from the platform module"));
    let path = get("PATH").unwrap_or_default();
    assert!(!path.contains("/root"), "root's PATH leaked: {path}");

    // Not one of root's values anywhere the user could read them.
    let parent_env = fs::read_to_string(u.home.join("parent-env.txt")).unwrap_or_default();
    for (name, value) in ROOT_SECRETS {
        for (what, text) in [("the step's", &env_text), ("hearth's", &parent_env)] {
            assert!(
                !text.contains(value),
                "root's {name} is in {what} environment:\n{text}"
            );
        }
    }
    // Root's XDG_STATE_HOME did not send the user's state elsewhere.
    assert!(u.home.join(".local/state/hearth/state.json").exists());
}

// ---------------------------------------------------------------------------
// The timeout

/// What each user's bad step does.
struct Stall {
    what: &'static str,
    script: &'static str,
    /// Whether the user's activation stalls (and is killed at the timeout).
    stalls: bool,
}

const STALLS: [Stall; 3] = [
    Stall {
        what: "hangs",
        script: "echo hanging\nexec sleep 1000\n",
        stalls: true,
    },
    Stall {
        what: "stops its hearth process",
        script: "echo stopping\nkill -STOP $PPID\n",
        stalls: true,
    },
    Stall {
        // In a session of its own, so that even the kill of the user's
        // process group does not reach it: it keeps the step's output pipe
        // open after the step has exited. The user's hearth awaits that
        // output only briefly after the step ends (see `home::hooks`), so
        // this one does not stall.
        what: "leaves a daemon holding its output",
        script: "echo daemonizing\nsetsid sleep 1000 &\necho $! > \"$HOME/daemon.pid\"\n",
        stalls: false,
    },
];

const LIMIT: u64 = 3;

/// For each way to stall: `activate-users --timeout 3 slow=… next=…` ends
/// within the limit plus a margin, reports `slow` as timed out, and
/// activates `next`; then the slow user's next activation (a fixed
/// generation) succeeds, its home recovered from the run that was cut.
#[test]
fn a_hung_stopped_or_daemonizing_step_is_killed_at_the_timeout_and_the_next_user_goes_on() {
    needs_root!();
    for (i, stall) in STALLS.iter().enumerate() {
        let slow = TestUser::new();
        let next = TestUser::new();
        let gens = build_generations(&[
            slow.gen()
                .text(".config/slow", "slow\n")
                .step("stall", "files", stall.script),
            next.gen().text(".config/next", "next\n"),
            slow.gen().text(".config/fixed", "fixed\n"),
        ]);
        let (run, took) = hearth_root(
            [
                "activate-users".to_string(),
                slow.pair(&gens[0]),
                next.pair(&gens[1]),
                "--timeout".to_string(),
                LIMIT.to_string(),
            ],
            Duration::from_secs(LIMIT + 60),
        );
        // Kill what the step left behind, whatever the outcome.
        if let Ok(pid) = fs::read_to_string(slow.home.join("daemon.pid")) {
            let _ = Command::new("kill").args(["-9", pid.trim()]).status();
        }
        eprintln!("{}: activate-users took {took:?}", stall.what);
        if !stall.stalls {
            run.assert_ok();
            assert!(
                took < Duration::from_secs(LIMIT),
                "{}: took {took:?}\n{run}",
                stall.what
            );
            assert!(slow.home.join(".config/slow").exists(), "{run}");
            assert!(next.home.join(".config/next").exists(), "{run}");
            continue;
        }
        run.assert_code(1);
        // The limit, plus the other user's activation and the 2 s given to a
        // dead child's pipes: nowhere near the 1000 s the step asked for.
        assert!(
            took >= Duration::from_secs(LIMIT) && took < Duration::from_secs(LIMIT + 8),
            "{}: took {took:?}\n{run}",
            stall.what
        );
        assert_eq!(
            fs::read_to_string(next.home.join(".config/next")).unwrap(),
            "next\n",
            "{}",
            stall.what
        );
        let errors = lines_of(&run.stderr, &slow.name);
        assert!(
            errors
                .iter()
                .any(|l| l.starts_with("error: timed out after 3 s")),
            "{}: {run}",
            stall.what
        );
        let summary = run
            .stderr
            .find("hearth: 2 users:")
            .map_or_else(|| panic!("no summary in\n{run}"), |at| &run.stderr[at..]);
        let summary: Vec<String> = summary.lines().map(squeeze).collect();
        let names = [(slow.name.as_str(), "SLOW"), (next.name.as_str(), "NEXT")];
        let summary = redact(&summary.join("\n"), &names);
        insta::assert_snapshot!("timed_out_summary", summary);
        if i == 0 {
            let error: Vec<&str> = errors
                .iter()
                .copied()
                .filter(|l| !l.starts_with('['))
                .collect();
            insta::assert_snapshot!("timed_out_error", redact(&error.join("\n"), &names));
        }

        // The next run on the slow user's home is not blocked by the one
        // that was cut (its lock died with it), and lands on the new
        // generation.
        let (again, _) = hearth_root(
            [
                "activate".to_string(),
                "--user".to_string(),
                slow.name.clone(),
                path_str(&gens[2]).to_string(),
                "--timeout".to_string(),
                "60".to_string(),
            ],
            Duration::from_secs(90),
        );
        again.assert_ok();
        assert_eq!(
            fs::read_to_string(slow.home.join(".config/fixed")).unwrap(),
            "fixed\n"
        );
        assert!(!slow.home.join(".config/slow").exists(), "{}", stall.what);
    }
}

#[test]
fn a_bad_timeout_or_setenv_is_refused_before_any_user_runs() {
    needs_root!();
    let u = TestUser::new();
    let gens = build_generations(&[u.gen().text(".a", "a\n")]);
    for (args, snap) in [
        (vec!["--timeout", "0"], "timeout_zero"),
        (vec!["--setenv", "HOME=/root"], "setenv_home"),
    ] {
        let mut all = vec!["activate-users".to_string(), u.pair(&gens[0])];
        all.extend(args.iter().map(ToString::to_string));
        let (run, _) = hearth_root(all, Duration::from_secs(60));
        run.assert_code(2);
        assert!(!u.home.join(".a").exists());
        insta::assert_snapshot!(snap, run.stderr);
    }
}

// ---------------------------------------------------------------------------
// Escaping

/// True for a character that could act on a terminal: every control
/// character but the newline.
fn is_raw_control(c: char) -> bool {
    c.is_control() && c != '\n'
}

/// A user's step prints escape sequences, CR, BEL and backspaces, and lists
/// a file whose name holds ESC; another user's home has a symlink in the
/// way whose target holds ESC (named in the conflict report). Root's
/// output holds no raw control character, only their escapes.
#[test]
fn nothing_a_user_prints_reaches_roots_terminal_raw() {
    needs_root!();
    let noisy = TestUser::new();
    let blocked = TestUser::new();
    let gens = build_generations(&[
        noisy.gen().text(".a", "a\n").step(
            "noise",
            "files",
            "printf 'ok\\033[2J\\033[1;1Hroot: all fine\\rOVER\\a\\b\\b\\n'\n\
             printf 'no newline at the end \\033]0;title\\007'\n\
             touch \"$HOME/evil$(printf '\\033[31m')name\"\n\
             ls \"$HOME\" | grep evil\n\
             printf 'to stderr \\033[A\\r\\n' >&2\n",
        ),
        blocked.gen().text(".in-the-way", "mine\n"),
    ]);
    // A symlink of the user's at the target, to a name with ESC and CR.
    let evil_target = "\u{1b}[2K\rhearth: all users succeeded";
    std::os::unix::fs::symlink(evil_target, blocked.home.join(".in-the-way")).unwrap();
    std::os::unix::fs::lchown(
        blocked.home.join(".in-the-way"),
        Some(blocked.uid),
        Some(blocked.gid),
    )
    .unwrap();

    let (run, _) = hearth_root(
        [
            "activate-users".to_string(),
            noisy.pair(&gens[0]),
            blocked.pair(&gens[1]),
        ],
        Duration::from_secs(120),
    );
    run.assert_code(1);
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        let raw: Vec<char> = text.chars().filter(|c| is_raw_control(*c)).collect();
        assert!(raw.is_empty(), "raw {raw:?} on root's {stream}:\n{run:?}");
    }
    // What was printed is still there, escaped.
    let noisy_lines = lines_of(&run.stdout, &noisy.name);
    assert!(
        noisy_lines
            .iter()
            .any(|l| l.contains("evil\\u{1b}[31mname")),
        "{run}"
    );
    let blocked_lines = lines_of(&run.stderr, &blocked.name).join("\n");
    assert!(
        blocked_lines.contains("\\u{1b}[2K\\rhearth: all users succeeded"),
        "{run}"
    );
    let names = [
        (noisy.name.as_str(), "NOISY"),
        (blocked.name.as_str(), "BLOCKED"),
        (path_str(&noisy.home), "~NOISY"),
        (path_str(&blocked.home), "~BLOCKED"),
    ];
    let noisy_lines: Vec<&str> = noisy_lines
        .into_iter()
        .chain(lines_of(&run.stderr, &noisy.name))
        .filter(|l| l.starts_with("[noise]") || l.starts_with("no newline") || l.contains("stderr"))
        .collect();
    insta::assert_snapshot!(
        "escaped_step_output",
        redact(&noisy_lines.join("\n"), &names)
    );
    insta::assert_snapshot!("escaped_conflict", redact(&blocked_lines, &names));
}
