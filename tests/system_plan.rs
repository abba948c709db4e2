//! `hearth plan --system`: every home a built system publishes in
//! `etc/hearth/homes.json`, each planned as its user (root mode's privilege
//! drop, an environment built from nothing, the home's timeout), and the
//! one-sentence last line of a failed activation that systemd's last 10
//! journal lines keep. The tests with users create throwaway accounts and
//! need root; as another user they say they are skipped and pass.

use crate::common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{
    build_generation, build_generations, path_str, redact, snapshot, GenSpec, Run, TestHome,
};

/// This module's throwaway users (see `common::users::TestUserOf`).
struct SystemPlan;
type TestUser = common::users::TestUserOf<SystemPlan>;

impl TestUser {
    fn new() -> Self {
        let u = TestUser::create("hsp", "system-plan-homes");
        u.chown_home(u.uid, u.gid);
        u
    }

    /// A file of the user's own at `rel`, in a directory only the user can
    /// enter.
    fn private_file(&self, rel: &str, content: &str) {
        let path = self.home.join(rel);
        let dir = path.parent().unwrap();
        fs::create_dir_all(dir).unwrap();
        fs::write(&path, content).unwrap();
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        for p in [dir, &path] {
            std::os::unix::fs::lchown(p, Some(self.uid), Some(self.gid)).unwrap();
        }
    }
}

/// A check step: runs in a plan too, as the user, and says who it runs as
/// and which of root's variables it sees.
const WHO: &str =
    "echo \"$(id -un) $HOME ${XDG_STATE_HOME:-no-xdg-state} ${XDG_CONFIG_HOME:-no-xdg-config}\"";

/// Where root's own `XDG_STATE_HOME` and `XDG_CONFIG_HOME` point: a plan
/// must not use them for a user (issue 9, point 4).
fn leak_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("system-plan-xdg-{}", std::process::id()))
}

/// A toplevel-like directory `DIR/etc/hearth/homes.json` holding `homes`
/// (user, generation, timeout), as the platform modules write it.
struct System {
    dir: PathBuf,
}

impl System {
    fn new(homes: &[(&TestUser, &Path, u64)]) -> Self {
        let entries: Vec<serde_json::Value> = homes
            .iter()
            .map(|(u, gen, timeout)| {
                serde_json::json!({
                    "user": u.name, "home": path_str(&u.home),
                    "generation": path_str(gen), "timeout": timeout,
                })
            })
            .collect();
        let doc = serde_json::json!({"version": 1, "homes": entries});
        System::raw(&serde_json::to_string_pretty(&doc).unwrap())
    }

    fn raw(text: &str) -> Self {
        let (_, dir) = common::users::fresh("sys", "system-plan-systems");
        fs::create_dir_all(dir.join("etc/hearth")).unwrap();
        fs::write(dir.join("etc/hearth/homes.json"), text).unwrap();
        System { dir }
    }

    fn file(&self) -> PathBuf {
        self.dir.join("etc/hearth/homes.json")
    }
}

impl Drop for System {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// hearth run as root would be under sudo: root's HOME and its own XDG
/// variables in the environment.
fn hearth_root<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = hearth_cmd(args).output().expect("run hearth");
    Run::from_output(out)
}

fn hearth_cmd<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hearth"));
    cmd.args(args)
        .env("XDG_STATE_HOME", leak_dir())
        .env("XDG_CONFIG_HOME", leak_dir())
        .env("HOME", "/root")
        .current_dir("/")
        .stdin(Stdio::null());
    cmd
}

fn plan_system(sys: &System, json: bool) -> Run {
    let mut args: Vec<&OsStr> = vec!["plan".as_ref(), "--system".as_ref(), sys.dir.as_os_str()];
    if json {
        args.push("--json".as_ref());
    }
    hearth_root(args)
}

/// A summary line without its column padding (names differ in length).
fn squeeze(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The summary at the end of stderr, squeezed, names and paths redacted.
fn summary(run: &Run, sys: &System, names: &[(&str, &str)]) -> String {
    let at = run.stderr.find("hearth: plans for").expect("a summary");
    let text: Vec<String> = run.stderr[at..].lines().map(squeeze).collect();
    let mut redactions = names.to_vec();
    let file = sys.file();
    redactions.push((path_str(&file), "~SYSTEM/etc/hearth/homes.json"));
    redact(&text.join("\n"), &redactions)
}

#[test]
fn each_home_is_planned_as_its_user_and_roots_xdg_is_not_used() {
    needs_root!();
    let a = TestUser::new();
    let b = TestUser::new();
    let gens = build_generations(&[
        a.gen().text(".config/app/conf", "one\n"),
        a.gen()
            .text(".config/app/conf", "two\n")
            .text(".new", "new\n")
            .step("who", "check", WHO),
        b.gen()
            .text(".config/app/conf", "b\n")
            .text(".private/x", "x\n")
            .step("who", "check", WHO),
    ]);
    // a's home is on its first generation: the plan of the second is made
    // from the state under a's home (root's XDG_STATE_HOME has none).
    let first = hearth_root([
        "activate".as_ref(),
        "--user".as_ref(),
        a.name.as_ref(),
        gens[0].as_os_str(),
    ]);
    first.assert_ok();
    // In b's way: a file in a directory only b can enter.
    b.private_file(".private/x", "mine\n");
    let sys = System::new(&[(&a, &gens[1], 300), (&b, &gens[2], 300)]);
    let before = (snapshot(&a.home, &[]), snapshot(&b.home, &[]));

    let run = plan_system(&sys, false);
    // A plan that shows conflicts was computed: exit 0.
    run.assert_ok();
    assert_eq!(before, (snapshot(&a.home, &[]), snapshot(&b.home, &[])));
    assert!(
        !leak_dir().join("hearth").exists(),
        "root's XDG_STATE_HOME was used"
    );

    for u in [&a, &b] {
        let p = format!("[{}] ", u.name);
        // Run as the user, with HOME from the account and no XDG_* of root's.
        let who = format!(
            "{p}[who] {} {} no-xdg-state no-xdg-config\n",
            u.name,
            u.home.display()
        );
        assert!(run.stdout.contains(&who), "{who:?} missing in\n{run}");
        // The heading, then the user's lines.
        let heading = format!("== {} ({}): ", u.name, u.home.display());
        assert!(run.stdout.contains(&heading), "{run}");
    }
    // a: planned against a's recorded generation (a replace, not a file in
    // the way), so the state read was the one under a's home.
    let pa = format!("[{}] ", a.name);
    assert!(
        run.stdout
            .contains(&format!("{pa}  replace  ~/.config/app/conf")),
        "{run}"
    );
    assert!(
        run.stdout.contains(&format!("{pa}  create   ~/.new")),
        "{run}"
    );
    // b: b's own file, which root mode could only see as b, is in the way.
    let pb = format!("[{}] ", b.name);
    assert!(
        run.stderr.contains(&format!(
            "{pb}  ~/.private/x   a regular file (5 bytes), not created by hearth"
        )),
        "{run}"
    );
    assert!(
        run.stderr.contains(&format!(
            "{pb}hearth: {}: activation would stop here: 1 path is in the way (listed above); it would change nothing\n",
            b.name
        )),
        "{run}"
    );
    // Every line before the summary is a user's or a heading.
    let at = run.stderr.find("hearth: plans for").expect("a summary");
    for line in run.stderr[..at].lines().chain(run.stdout.lines()) {
        assert!(
            line.starts_with(&pa) || line.starts_with(&pb) || line.starts_with("== "),
            "unattributed line {line:?} in\n{run}"
        );
    }
    insta::assert_snapshot!(
        "two_users_summary",
        summary(&run, &sys, &[(&a.name, "ALICE"), (&b.name, "BOB")])
    );

    // --json: one document, one entry per user with the user's own plan.
    let run = plan_system(&sys, true);
    run.assert_ok();
    assert_eq!(before, (snapshot(&a.home, &[]), snapshot(&b.home, &[])));
    let mut docs = serde_json::Deserializer::from_str(&run.stdout).into_iter::<serde_json::Value>();
    let doc = docs.next().expect("a document").expect("JSON");
    assert!(docs.next().is_none(), "more than one document:\n{run}");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["command"], "plan");
    assert_eq!(doc["outcome"], "planned");
    assert_eq!(doc["exit"], 0);
    assert_eq!(doc["system"], path_str(&sys.file()));
    let homes = doc["homes"].as_array().expect("homes");
    assert_eq!(homes.len(), 2, "{run}");
    let (ha, hb) = (&homes[0], &homes[1]);
    assert_eq!(ha["user"], a.name.as_str());
    assert_eq!(ha["home"], path_str(&a.home));
    assert_eq!(ha["generation"], path_str(&gens[1]));
    assert_eq!(ha["timeout"], 300);
    assert_eq!(ha["outcome"], "planned");
    assert_eq!(ha["exit"], 0);
    assert_eq!(ha["plan"]["outcome"], "planned");
    assert_eq!(ha["plan"]["home"], path_str(&a.home));
    let kinds: Vec<(&str, &str)> = ha["plan"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["kind"].as_str().unwrap(), x["path"].as_str().unwrap()))
        .collect();
    assert!(kinds.contains(&("put", ".new")), "{kinds:?}");
    assert_eq!(hb["outcome"], "conflicts");
    assert_eq!(hb["exit"], 3);
    assert_eq!(hb["plan"]["conflicts"][0]["path"], ".private/x");
    assert_eq!(hb["plan"]["conflicts"][0]["kind"], "in-the-way");
}

#[test]
fn one_users_failure_does_not_stop_the_others() {
    needs_root!();
    let owner = TestUser::new();
    let stolen = TestUser::new();
    let fine = TestUser::new();
    let gens = build_generations(&[stolen.gen().text(".a", "a\n"), fine.gen().text(".a", "a\n")]);
    // stolen's home belongs to someone else: refused as stolen.
    stolen.chown_home(owner.uid, owner.gid);
    let sys = System::new(&[(&stolen, &gens[0], 300), (&fine, &gens[1], 300)]);
    let run = plan_system(&sys, false);
    run.assert_code(1);
    let pf = format!("[{}] ", fine.name);
    assert!(
        run.stdout.contains(&format!("{pf}  create   ~/.a")),
        "the other user's plan is missing:\n{run}"
    );
    assert!(
        run.stderr.contains(&format!(
            "[{}] error: the home {}",
            stolen.name,
            stolen.home.display()
        )),
        "{run}"
    );
    insta::assert_snapshot!(
        "one_failed_summary",
        summary(
            &run,
            &sys,
            &[(&stolen.name, "STOLEN"), (&fine.name, "FINE")]
        )
    );
    let run = plan_system(&sys, true);
    run.assert_code(1);
    let doc = run.json();
    assert_eq!(doc["outcome"], "failed");
    assert_eq!(doc["homes"][0]["outcome"], "refused");
    assert_eq!(doc["homes"][0]["plan"]["outcome"], "refused");
    assert_eq!(doc["homes"][1]["outcome"], "planned");
}

/// A home missing altogether: the user's run cannot enter it.
#[test]
fn a_missing_home_is_reported_for_its_user() {
    needs_root!();
    let gone = TestUser::new();
    let fine = TestUser::new();
    let gens = build_generations(&[gone.gen().text(".a", "a\n"), fine.gen().text(".a", "a\n")]);
    fs::remove_dir_all(&gone.home).unwrap();
    let sys = System::new(&[(&gone, &gens[0], 300), (&fine, &gens[1], 300)]);
    let run = plan_system(&sys, false);
    run.assert_code(1);
    assert!(
        run.stdout
            .contains(&format!("[{}]   create   ~/.a", fine.name)),
        "{run}"
    );
    let last: Vec<String> = run.stderr.lines().rev().take(4).map(squeeze).collect();
    assert!(
        last.iter()
            .any(|l| *l == format!("{} no plan: refused (above) (exit 2)", gone.name)),
        "{run}"
    );
}

/// Without root: a system whose homes are all the caller's is planned (as
/// root mode runs it, in a clean environment); one with another user's home
/// is refused, saying to use root.
#[test]
fn without_root_only_ones_own_homes() {
    needs_root!();
    let u = TestUser::new();
    let other = TestUser::new();
    let gens = build_generations(&[u.gen().text(".a", "a\n"), other.gen().text(".a", "a\n")]);
    let as_user = |sys: &System| {
        let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
            .args(["plan".as_ref(), "--system".as_ref(), sys.dir.as_os_str()])
            .env("HOME", &u.home)
            .uid(u.uid)
            .gid(u.gid)
            .current_dir("/")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Run::from_output(out)
    };
    let own = System::new(&[(&u, &gens[0], 300)]);
    let run = as_user(&own);
    run.assert_ok();
    assert!(
        run.stdout
            .contains(&format!("[{}]   create   ~/.a", u.name)),
        "{run}"
    );

    let both = System::new(&[(&u, &gens[0], 300), (&other, &gens[1], 300)]);
    let run = as_user(&both);
    run.assert_code(2);
    assert_eq!(run.stdout, "");
    let file = both.file();
    insta::assert_snapshot!(
        "not_root",
        redact(
            &run.stderr,
            &[
                (path_str(&file), "~SYSTEM/etc/hearth/homes.json"),
                (&other.name, "OTHER"),
                (&u.name, "USER"),
            ]
        )
    );
}

/// The file's problems, each named with the file and the JSON path.
#[test]
fn bad_system_files_are_refused_clearly() {
    let store_gen = build_generation(&GenSpec::new("/home/nobody").text(".a", "a\n"));
    let g = path_str(&store_gen);
    let home = |user: &str, gen: &str| {
        format!(r#"{{"user":"{user}","home":"/home/{user}","generation":"{gen}","timeout":300}}"#)
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "newer_version",
            r#"{"version":2,"homes":[],"hosts":[]}"#.into(),
        ),
        (
            "outside_store",
            format!(
                r#"{{"version":1,"homes":[{},{}]}}"#,
                home("nobody", g),
                home("other", "/tmp/gen")
            ),
        ),
        ("not_json", "homes: []".into()),
        (
            "unknown_field",
            format!(
                r#"{{"version":1,"homes":[{}],"extra":true}}"#,
                home("nobody", g)
            ),
        ),
    ];
    for (name, text) in cases {
        let sys = System::raw(&text);
        let run = plan_system(&sys, false);
        run.assert_code(2);
        assert_eq!(run.stdout, "", "{name}");
        let file = sys.file();
        insta::assert_snapshot!(
            format!("bad_{name}"),
            redact(
                &run.stderr,
                &[
                    (path_str(&file), "~SYSTEM/etc/hearth/homes.json"),
                    (path_str(&sys.dir), "~SYSTEM"),
                ]
            )
        );
        // The file itself may be given too.
        let direct = hearth_root(["plan".as_ref(), "--system".as_ref(), file.as_os_str()]);
        assert_eq!(direct.stderr, run.stderr, "{name}");
        // And --json still prints one document.
        let json = plan_system(&sys, true);
        json.assert_code(2);
        assert_eq!(json.json()["outcome"], "refused", "{name}");
    }
    // A directory that is no system toplevel.
    let (_, not_a_system) = common::users::fresh("nosys", "system-plan-systems");
    fs::create_dir_all(&not_a_system).unwrap();
    let run = hearth_root([
        "plan".as_ref(),
        "--system".as_ref(),
        not_a_system.as_os_str(),
    ]);
    fs::remove_dir_all(&not_a_system).unwrap();
    run.assert_code(2);
    insta::assert_snapshot!(
        "bad_missing",
        redact(&run.stderr, &[(path_str(&not_a_system), "~DIR")])
    );
}

/// A reader that goes away (`| head -1`) ends the output, not the plans.
#[test]
fn a_closed_pipe_does_not_stop_the_plans() {
    needs_root!();
    let users: Vec<TestUser> = (0..2).map(|_| TestUser::new()).collect();
    let gens = build_generations(
        &users
            .iter()
            .map(|u| {
                (0..400).fold(u.gen(), |g, i| {
                    g.text(
                        &format!(".config/many/file-{i:03}-with-a-longish-name"),
                        "x\n",
                    )
                })
            })
            .collect::<Vec<_>>(),
    );
    let sys = System::new(&[(&users[0], &gens[0], 300), (&users[1], &gens[1], 300)]);
    let (code, stderr) = common::with_stdout_closed_early(hearth_cmd([
        "plan".as_ref(),
        "--system".as_ref(),
        sys.dir.as_os_str(),
    ]));
    assert_eq!(code, 0, "stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for u in &users {
        assert!(
            stderr
                .lines()
                .any(|l| squeeze(l) == format!("{} planned", u.name)),
            "{stderr}"
        );
    }
}

/// A failed activation's last line on stderr says whose, what, how many
/// paths, and whether the home changed; the full report stays above it.
#[test]
fn the_last_line_of_a_failed_activation_says_it_all() {
    let home = TestHome::new();
    let gens = build_generations(&[
        home.gen()
            .text(".a", "a\n")
            .text(".b", "b\n")
            .text(".c", "c\n"),
        home.gen()
            .text(".d", "d\n")
            .step("fails", "files", "echo broken; exit 1"),
    ]);
    for rel in [".a", ".b", ".c"] {
        fs::write(home.join(rel), "mine\n").unwrap();
    }
    let g0 = path_str(&gens[0]);
    let run = home.hearth(["activate", g0]);
    run.assert_code(3);
    let plan = home.hearth(["plan", g0]);
    plan.assert_code(3);
    let hooked = home.hearth(["activate", path_str(&gens[1])]);
    hooked.assert_code(5);
    let last = |r: &Run| r.stderr.lines().last().unwrap_or_default().to_string();
    insta::assert_snapshot!(
        "last_lines",
        home.redact_user(&[last(&run), last(&plan), last(&hooked)].join("\n"))
    );
    // The full report is still above.
    assert!(
        run.stderr.starts_with("error: 3 paths are in the way"),
        "{run}"
    );
}
