//! The user's systemd manager: the runtime directory and session bus that
//! steps and hooks get when they are not set, and the user units hearth
//! stops, restarts and starts after the files (as sd-switch does for Home
//! Manager). The manager tests start a real `systemd --user` for a
//! throwaway user in a private mount namespace (root only), and say loudly
//! that they are skipped where one cannot start.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{build_generations, path_str, redact, run_within, FileSpec, GenSpec, TestHome};

struct UserUnits;
type TestUser = common::users::TestUserOf<UserUnits>;

impl TestUser {
    /// The prefix is root.rs's: `root_attacks.rs` ignores these accounts
    /// when it checks that /etc/passwd did not change.
    fn new() -> Self {
        let u = TestUser::create("hth", "user-units-homes");
        for rel in ["", ".local", ".local/state"] {
            std::os::unix::fs::lchown(u.home.join(rel), Some(u.uid), Some(u.gid)).unwrap();
        }
        fs::set_permissions(&u.home, fs::Permissions::from_mode(0o755)).unwrap();
        u
    }
}

const UNITS: &str = ".config/systemd/user";

/// A simple long-running service, wanted by default.target.
fn service(name: &str, version: &str) -> String {
    format!(
        "[Unit]\nDescription=hearth test {name} ({version})\n\n[Service]\nExecStart=/bin/sleep 1000\n\n[Install]\nWantedBy=default.target\n"
    )
}

/// `gen` with `unit` (text `text`) and its `default.target.wants` link.
fn with_wanted_unit(gen: GenSpec, unit: &str, text: &str) -> GenSpec {
    gen.file(FileSpec::text(&format!("{UNITS}/{unit}"), text))
        .file(FileSpec::text(
            &format!("{UNITS}/default.target.wants/{unit}"),
            text,
        ))
}

/// A step that prints the two variables hearth fills in.
const PRINT_ENV: &str = "echo \"XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR-unset}\"\n\
                         echo \"DBUS_SESSION_BUS_ADDRESS=${DBUS_SESSION_BUS_ADDRESS-unset}\"\n";

/// A fresh directory under the target's tmp dir.
fn scratch(name: &str) -> PathBuf {
    let (_, dir) = common::users::fresh(name, "user-units-scratch");
    fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------------------
// The runtime environment (any user)

#[test]
fn a_step_gets_the_bus_of_the_runtime_dir_it_is_given() {
    let home = TestHome::new();
    let runtime = scratch("rt");
    let gens = build_generations(&[home.gen().step("env", "files", PRINT_ENV)]);
    let gen = path_str(&gens[0]);

    // No bus socket: only what was set.
    let run = |dbus: Option<&str>| {
        let mut cmd = home.command(["activate", gen]);
        cmd.env("XDG_RUNTIME_DIR", &runtime)
            .env_remove("DBUS_SESSION_BUS_ADDRESS");
        if let Some(d) = dbus {
            cmd.env("DBUS_SESSION_BUS_ADDRESS", d);
        }
        let run = run_within(cmd, Duration::from_secs(60)).0;
        run.assert_ok();
        redact(&run.stdout, &[(path_str(&runtime), "RUNTIME")])
            .lines()
            .filter(|l| l.starts_with("[env] "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let without_bus = run(None);
    let _bus = UnixListener::bind(runtime.join("bus")).unwrap();
    let with_bus = run(None);
    let preset = run(Some("unix:path=/somewhere/else"));
    insta::assert_snapshot!(
        "runtime_env_as_given",
        format!("no bus socket:\n{without_bus}\nwith a bus socket:\n{with_bus}\nbus already set:\n{preset}")
    );
    let _ = fs::remove_dir_all(&runtime);
}

/// Runs `script` as root in a private mount namespace with a tmpfs on
/// /run/user (nothing it makes there reaches the host). Returns its stdout,
/// or `None` (with a loud line) when this machine cannot make one.
fn in_namespace(script: &str, limit: Duration) -> Option<String> {
    // A container without CAP_SYS_ADMIN (or without util-linux's unshare)
    // cannot make one at all: that is this machine, not hearth.
    let probe = Command::new("unshare")
        .args(["-m", "true"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("skipped: cannot make a private mount namespace (unshare -m) here");
        println!("skipped: cannot make a private mount namespace (unshare -m) here");
        return None;
    }
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "sh", "-c", script]);
    let (run, _) = run_within(cmd, limit);
    if run.code == 77 {
        eprintln!("skipped: {}", run.stdout.trim());
        return None;
    }
    assert_eq!(run.code, 0, "the namespace script failed:\n{run}");
    Some(run.stdout)
}

const NAMESPACE_SETUP: &str = r#"
skip() { echo "$1"; exit 77; }
mount --make-rprivate / 2>/dev/null || skip "cannot make the mounts private"
mkdir -p /run/user
mount -t tmpfs -o mode=0755 tmpfs /run/user || skip "cannot mount a tmpfs on /run/user"
"#;

#[test]
fn root_modes_child_gets_the_users_own_runtime_dir_and_never_anothers() {
    needs_root!();
    let u = TestUser::new();
    let gens = build_generations(&[u.gen().step("env", "files", PRINT_ENV)]);
    let hearth = env!("CARGO_BIN_EXE_hearth");
    let script = format!(
        r#"{NAMESPACE_SETUP}
U={name}; UIDN={uid}; GIDN={gid}
act() {{ {hearth} activate --user "$U" {gen} | grep '\[env\]' | sed "s/$U/USER/; s/$UIDN/UID/"; }}
echo "no /run/user/UID:"; act
mkdir -m 0700 /run/user/$UIDN; chown $UIDN:$GIDN /run/user/$UIDN
echo "the user's /run/user/UID:"; act
chown 0:0 /run/user/$UIDN
echo "/run/user/UID owned by root:"; act
"#,
        name = u.name,
        uid = u.uid,
        gid = u.gid,
        gen = gens[0].display(),
    );
    let Some(out) = in_namespace(&script, Duration::from_secs(120)) else {
        return;
    };
    insta::assert_snapshot!("runtime_env_in_root_mode", out);
}

// ---------------------------------------------------------------------------
// User units without a manager

#[test]
fn without_a_manager_the_activation_succeeds_and_leaves_units_alone() {
    let home = TestHome::new();
    let runtime = scratch("nomgr");
    let gens = build_generations(&[with_wanted_unit(
        home.gen(),
        "a.service",
        &service("a", "1"),
    )]);
    let gen = path_str(&gens[0]);
    let act = |args: &[&str]| {
        let mut cmd = home.command(args);
        cmd.env("XDG_RUNTIME_DIR", &runtime);
        run_within(cmd, Duration::from_secs(60)).0
    };
    let plan = act(&["activate", "--dry-run", gen]);
    plan.assert_ok();
    assert!(!plan.stdout.contains("user units"), "{plan}");
    let run = act(&["activate", "--json", gen]);
    run.assert_ok();
    let doc = run.json();
    assert_eq!(doc["outcome"], "activated", "{run}");
    assert!(home.join(UNITS).join("a.service").exists());
    insta::assert_snapshot!(
        "no_manager_json",
        redact(
            &serde_json::to_string_pretty(&doc["units"]).unwrap(),
            &[(path_str(&runtime), "RUNTIME")]
        )
    );
    assert!(run.stderr.is_empty(), "{run}");
    let _ = fs::remove_dir_all(&runtime);
}

// ---------------------------------------------------------------------------
// User units with a real manager

/// Starts `systemd --user` for the user (cgroups of its own, a tmpfs on
/// /run/systemd with `system` in it so that systemd believes it was booted
/// with systemd), runs `body`, then stops the manager and removes the
/// cgroups whatever happened. `as_user CMD...` runs a command as the user
/// with the manager's runtime dir.
fn with_manager(u: &TestUser, cgroup: &str, body: &str) -> String {
    format!(
        r#"{NAMESPACE_SETUP}
U={name}; UIDN={uid}; GIDN={gid}; H={home}; CG={cgroup}
SD=/lib/systemd/systemd
[ -x $SD ] || skip "no systemd user manager: no $SD"
as_user() {{ setpriv --reuid=$UIDN --regid=$GIDN --init-groups env -i HOME=$H XDG_RUNTIME_DIR=/run/user/$UIDN PATH=/usr/bin:/bin "$@"; }}
mount -t tmpfs -o mode=0755 tmpfs /run/systemd || skip "no systemd user manager: cannot mount a tmpfs on /run/systemd"
mkdir -p /run/systemd/system
mkdir -m 0700 /run/user/$UIDN && chown $UIDN:$GIDN /run/user/$UIDN
if [ -d /sys/fs/cgroup/unified ]; then
  CGS="/sys/fs/cgroup/unified/$CG /sys/fs/cgroup/systemd/$CG"
else
  CGS="/sys/fs/cgroup/$CG"
fi
MPID=
cleanup() {{
  as_user systemctl --user exit >/dev/null 2>&1
  for i in $(seq 100); do [ -n "$MPID" ] && kill -0 $MPID 2>/dev/null || break; sleep 0.1; done
  [ -n "$MPID" ] && kill -9 $MPID 2>/dev/null
  for c in $CGS; do
    [ -e $c/cgroup.kill ] && echo 1 > $c/cgroup.kill 2>/dev/null
    for i in $(seq 50); do find $c -depth -type d -exec rmdir {{}} \; 2>/dev/null; [ -d $c ] || break; sleep 0.1; done
  done
}}
trap cleanup EXIT
for c in $CGS; do
  mkdir -p $c 2>/dev/null && chown -R $UIDN:$GIDN $c || skip "no systemd user manager: cannot create the cgroup $c"
done
CGS="$CGS" sh -c 'for c in $CGS; do echo $$ > $c/cgroup.procs || exit 97; done; exec "$@"' sh \
  setpriv --reuid=$UIDN --regid=$GIDN --init-groups env -i HOME=$H XDG_RUNTIME_DIR=/run/user/$UIDN PATH=/usr/bin:/bin \
  $SD --user >/dev/null 2>&1 &
MPID=$!
state=
for i in $(seq 150); do
  state=$(as_user systemctl --user is-system-running 2>/dev/null)
  case "$state" in running|degraded) break;; esac
  kill -0 $MPID 2>/dev/null || break
  sleep 0.1
done
case "$state" in running|degraded) ;; *) skip "no systemd user manager: is-system-running said '$state'";; esac
{body}
"#,
        name = u.name,
        uid = u.uid,
        gid = u.gid,
        home = u.home.display(),
    )
}

/// One line per unit: whether it is active, and its main PID.
fn unit_states(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("state "))
        .map(|l| {
            let mut it = l.split_whitespace();
            let mut next = || it.next().unwrap_or("").to_string();
            (next(), next(), next())
        })
        .collect()
}

#[test]
fn a_switch_restarts_changed_starts_new_and_stops_removed_user_units() {
    needs_root!();
    let u = TestUser::new();
    let first = with_wanted_unit(
        with_wanted_unit(u.gen(), "a.service", &service("a", "1")),
        "c.service",
        &service("c", "1"),
    );
    let second = with_wanted_unit(
        with_wanted_unit(u.gen(), "a.service", &service("a", "2")),
        "b.service",
        &service("b", "1"),
    );
    // A unit that fails to start: a warning naming it, not a failure.
    let second = with_wanted_unit(
        second,
        "bad.service",
        "[Service]\nType=oneshot\nExecStart=/bin/false\n",
    );
    let gens = build_generations(&[first, second]);
    let hearth = env!("CARGO_BIN_EXE_hearth");
    let body = format!(
        r#"
show() {{
  for unit in a.service b.service c.service; do
    echo "state $1:$unit $(as_user systemctl --user is-active $unit) $(as_user systemctl --user show -p MainPID --value $unit)"
  done
}}
act() {{ echo "== $1"; shift; o=$({hearth} "$@" 2>&1); rc=$?; echo "$o" | sed "s/$U/USER/g"; echo "exit $rc"; }}
act "gen1" activate --user $U {g1}
show gen1
act "plan gen2" activate --user $U --dry-run {g2}
act "gen2" activate --user $U {g2}
show gen2
act "gen2 again" activate --user $U {g2}
show again
echo "== json of gen2 again"
{hearth} activate --user $U --json {g2} 2>/dev/null
echo "== end of json"
"#,
        g1 = gens[0].display(),
        g2 = gens[1].display(),
    );
    let cgroup = format!("hearth-test-{}", u.name);
    let Some(out) = in_namespace(&with_manager(&u, &cgroup, &body), Duration::from_secs(240))
    else {
        return;
    };
    for h in [
        "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup/systemd",
        "/sys/fs/cgroup",
    ] {
        assert!(
            !Path::new(h).join(&cgroup).exists(),
            "the test's cgroup was left in {h}:\n{out}"
        );
    }
    let states = unit_states(&out);
    let get = |key: &str| {
        states
            .iter()
            .find(|(k, _, _)| k == key)
            .unwrap_or_else(|| panic!("no state {key}:\n{out}"))
            .clone()
    };
    let (_, a1, pid1) = get("gen1:a.service");
    let (_, c1, _) = get("gen1:c.service");
    let (_, b1, _) = get("gen1:b.service");
    assert_eq!(
        (a1.as_str(), c1.as_str(), b1.as_str()),
        ("active", "active", "inactive"),
        "{out}"
    );
    let (_, a2, pid2) = get("gen2:a.service");
    let (_, b2, pid_b) = get("gen2:b.service");
    let (_, c2, _) = get("gen2:c.service");
    assert_eq!(
        (a2.as_str(), b2.as_str(), c2.as_str()),
        ("active", "active", "inactive"),
        "{out}"
    );
    assert_ne!(pid1, pid2, "a.service was not restarted:\n{out}");
    let (_, a3, pid3) = get("again:a.service");
    let (_, b3, pid_b3) = get("again:b.service");
    assert_eq!((a3.as_str(), b3.as_str()), ("active", "active"), "{out}");
    assert_eq!(
        (pid2, pid_b),
        (pid3, pid_b3),
        "a no-op switch restarted a unit:\n{out}"
    );

    // What hearth said: the summary lines, the plan and the JSON.
    let (text, json) = out
        .split_once("== json of gen2 again\n")
        .unwrap_or_else(|| panic!("no JSON run:\n{out}"));
    let said: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("== ") || l.contains("user units") || l.starts_with("exit "))
        .collect();
    // Apart: stderr's order against stdout's is not fixed.
    let warnings: Vec<&str> = text.lines().filter(|l| l.contains("warning")).collect();
    insta::assert_snapshot!(
        "switch_summary",
        format!("{}\nwarnings:\n{}", said.join("\n"), warnings.join("\n"))
    );
    let json = json.split("== end of json").next().unwrap_or_default();
    let doc: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"));
    assert_eq!(doc["outcome"], "unchanged", "{out}");
    insta::assert_snapshot!(
        "noop_switch_json",
        serde_json::to_string_pretty(&doc["units"]).unwrap()
    );
}
