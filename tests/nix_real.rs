//! hearth's NixOS module checked against the REAL NixOS module files
//! (users-groups, assertions, activation-script, restrict-activation-scripts,
//! shells-environment, etc, and NixOS's unit rendering), through
//! tests/nix/real-nixos.nix: no warning, the `hearth.target` contract of
//! issue 9, unit files that `systemd-analyze verify` accepts, hearth's own
//! assertion for a user NixOS does not give a home, and each unit's
//! `ExecStart`, run as a real user with the unit's environment, applying that
//! user's home.
//!
//! Needs `HEARTH_NIXOS` (a directory mirroring nixpkgs' `nixos/`) and
//! `HEARTH_NIXPKGS` (nixpkgs' lib); DEVELOPERS.md says where they come from.
//! Without them each test prints a `skipped: …` line and passes.
//! `HEARTH_NIXOS_MODULE` points the tests at another checkout's
//! nixos-module/ (e.g. a worktree under review).
//!
//! The `darwin_*` tests do the same for hearth's nix-darwin module against
//! the real nix-darwin modules (activation-scripts, users, etc, checks,
//! environment, system-path, fish, ...) through tests/nix/real-darwin.nix:
//! no warning, hearth's step last in the `activate` script nix-darwin
//! renders, the homes in /etc/hearth/homes.json, hearth's assertion for a
//! user without a home, and the rendered `activate` script (its
//! machine-independent part) run as root activating real users' homes.
//! They need `HEARTH_DARWIN` (a nix-darwin checkout) and `HEARTH_NIXPKGS`;
//! `HEARTH_DARWIN_MODULE` points them at another checkout's darwin-module/.

use crate::common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::nix_eval::root;
use serde_json::Value;

/// The arguments of tests/nix/real-nixos.nix, or None (said loudly) when an
/// input is missing.
fn inputs() -> Option<Vec<String>> {
    let dir = |var: &str| {
        std::env::var_os(var)
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
    };
    let (Some(nixos), Some(lib)) = (dir("HEARTH_NIXOS"), dir("HEARTH_NIXPKGS")) else {
        let skip = "skipped: the real NixOS modules are not here \
                    (set HEARTH_NIXOS and HEARTH_NIXPKGS, see DEVELOPERS.md)";
        println!("{skip}");
        eprintln!("{skip}");
        return None;
    };
    let canon = |p: PathBuf| {
        p.canonicalize()
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .display()
            .to_string()
    };
    let mut args = vec![
        "--arg".to_owned(),
        "nixpkgs-lib".to_owned(),
        canon(lib),
        "--arg".to_owned(),
        "nixos".to_owned(),
        canon(nixos),
    ];
    if let Some(module) = dir("HEARTH_NIXOS_MODULE") {
        args.extend(["--arg".to_owned(), "hearthModule".to_owned(), canon(module)]);
    }
    Some(args)
}

macro_rules! inputs_or_skip {
    () => {
        match inputs() {
            Some(a) => a,
            None => return,
        }
    };
}

const NIXOS: &str = "tests/nix/real-nixos.nix";
const DARWIN: &str = "tests/nix/real-darwin.nix";

fn hearth_bin() -> &'static str {
    env!("CARGO_BIN_EXE_hearth")
}

/// `nix-instantiate --eval --strict --json tests/nix/real-nixos.nix -A attr`:
/// the value, or Nix's error output.
fn eval(args: &[String], extra: &[&str], attr: &str) -> Result<Value, String> {
    eval_file(NIXOS, args, extra, attr)
}

/// `nix-instantiate --eval --strict --json FILE -A attr`.
fn eval_file(file: &str, args: &[String], extra: &[&str], attr: &str) -> Result<Value, String> {
    let out = Command::new("nix-instantiate")
        .current_dir(root())
        .args(["--eval", "--strict", "--json", file])
        .args(args)
        .args(extra)
        .args(["-A", attr])
        .output()
        .expect("run nix-instantiate");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("nix-instantiate prints JSON"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn eval_ok(args: &[String], extra: &[&str], attr: &str) -> Value {
    eval(args, extra, attr).unwrap_or_else(|e| panic!("evaluation of {attr} failed:\n{e}"))
}

/// Builds the hearth package (the real binary) and every generation.
fn build(args: &[String], extra: &[&str]) {
    build_file(NIXOS, args, extra);
}

/// `nix-build FILE -A build` with the real hearth binary.
fn build_file(file: &str, args: &[String], extra: &[&str]) {
    let out = Command::new("nix-build")
        .current_dir(root())
        .args(["--no-out-link", "--option", "substituters", ""])
        .arg(file)
        .args(args)
        .args(extra)
        .args(["--arg", "hearthBin", hearth_bin(), "-A", "build"])
        .output()
        .expect("run nix-build");
    assert!(
        out.status.success(),
        "nix-build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn units(v: &Value) -> BTreeMap<String, String> {
    serde_json::from_value(v.clone()).expect("unit name -> text")
}

/// The values of `key=` in a unit file's text, in order.
fn values<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    let prefix = format!("{key}=");
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .collect()
}

/// The real modules evaluate hearth's without an unknown option, a failed
/// assertion or a warning (NixOS warns about every activation script not on
/// its list: hearth must have none).
#[test]
fn evaluates_with_the_real_modules_without_warnings() {
    let args = inputs_or_skip!();
    assert_eq!(
        eval_ok(&args, &[], "failedAssertions"),
        Value::Array(vec![])
    );
    assert_eq!(eval_ok(&args, &[], "warnings"), Value::Array(vec![]));
    if eval_ok(&args, &[], "hasRestrictActivationScripts") != Value::Bool(true) {
        println!("note: HEARTH_NIXOS has no restrict-activation-scripts.nix");
    }
    assert_eq!(
        eval_ok(&args, &[], "hearthActivationScripts"),
        Value::Array(vec![])
    );
}

/// Issue 9's contract, as NixOS renders it: a `hearth.target` that
/// switch-to-configuration stops and starts again on every switch, wanted
/// by multi-user.target; one unit per user, part of it, with a start
/// timeout; the homes published in /etc/hearth/homes.json.
#[test]
fn units_follow_the_target_contract() {
    let args = inputs_or_skip!();
    let units = units(&eval_ok(&args, &[], "units"));
    let wanted = eval_ok(&args, &[], "wantedBy");
    assert_eq!(
        units.keys().collect::<Vec<_>>(),
        [
            "hearth-alice.service",
            "hearth-bob.service",
            "hearth.target"
        ]
    );
    let target = &units["hearth.target"];
    assert_eq!(values(target, "X-StopOnReconfiguration"), ["true"]);
    assert!(
        wanted["hearth.target"]
            .as_array()
            .unwrap()
            .contains(&Value::String("multi-user.target".into())),
        "{wanted}"
    );
    for user in ["alice", "bob"] {
        let unit = &units[&format!("hearth-{user}.service")];
        assert_eq!(values(unit, "User"), [user], "{unit}");
        assert_eq!(values(unit, "PartOf"), ["hearth.target"], "{unit}");
        assert_eq!(values(unit, "WantedBy"), ["hearth.target"], "{unit}");
        assert_eq!(values(unit, "TimeoutStartSec"), ["300"], "{unit}");
        let before = values(unit, "Before").join(" ");
        assert!(before.contains("hearth.target"), "{unit}");
        assert!(before.contains("systemd-user-sessions.service"), "{unit}");
    }
    let homes: Value = serde_json::from_str(
        eval_ok(&args, &[], "homesJson")
            .as_str()
            .expect("environment.etc.\"hearth/homes.json\" is set"),
    )
    .unwrap();
    let gens = eval_ok(&args, &[], "generations");
    assert_eq!(homes["version"], 1);
    let listed: Vec<(&str, &str, &str, u64)> = homes["homes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["user"].as_str().unwrap(),
                h["home"].as_str().unwrap(),
                h["generation"].as_str().unwrap(),
                h["timeout"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("alice", "/home/alice", gens["alice"].as_str().unwrap(), 300),
            ("bob", "/home/bob", gens["bob"].as_str().unwrap(), 300),
        ]
    );
}

/// The system installs a home's packages (`users.users.<name>.packages`),
/// and the generation's manifest names that very environment as
/// `systemPackages` (and `packages` is null), so that `plan` and `activate`
/// can show what changes in it.
#[test]
fn the_manifest_names_the_environment_the_system_installs() {
    let args = inputs_or_skip!();
    let bin = ["--arg", "hearthBin", hearth_bin()];
    build(&args, &[]);
    let gens = eval_ok(&args, &bin, "generations");
    let installed = eval_ok(&args, &bin, "userPackages");
    for user in ["alice", "bob"] {
        let env = installed[user].as_array().unwrap();
        assert_eq!(env.len(), 1, "{installed}");
        let env = env[0].as_str().unwrap();
        assert!(env.starts_with("/nix/store/"), "{env}");
        let gen = Path::new(gens[user].as_str().unwrap());
        let manifest: Value =
            serde_json::from_str(&std::fs::read_to_string(gen.join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(manifest["systemPackages"], env, "{user}: {manifest}");
        assert_eq!(manifest["packages"], Value::Null, "{user}: {manifest}");
        // It is the environment hearth's build-env made of home.packages.
        assert!(
            Path::new(env)
                .join("nix-support/hearth-packages.json")
                .is_file(),
            "{env}"
        );
    }
}

/// `systemd-analyze verify` (this machine's systemd) accepts the rendered
/// units: it exits 0 and prints nothing (it reports a key it cannot parse on
/// stderr and still exits 0). The store paths in `ExecStart` are built, since
/// verify checks that the command exists.
#[test]
fn rendered_units_pass_systemd_analyze_verify() {
    let args = inputs_or_skip!();
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipped: no systemd-analyze on this machine");
        return;
    }
    let bin = ["--arg", "hearthBin", hearth_bin()];
    build(&args, &[]);
    let units = units(&eval_ok(&args, &bin, "units"));
    let dir = crate::common::nix_eval::tempdir("nix_real", "verify");
    let mut paths = vec![];
    for (name, text) in &units {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        paths.push(path);
    }
    let verify = |paths: &[PathBuf]| {
        Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .args(paths)
            .output()
            .expect("run systemd-analyze")
    };
    let out = verify(&paths);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && said.is_empty(), "{said}");

    // The check can fail: a key systemd cannot parse is reported.
    let broken = dir.join("hearth-broken.service");
    let text = units["hearth-alice.service"].replace("Type=oneshot", "Type=oneshott");
    std::fs::write(&broken, text).unwrap();
    let out = verify(&[broken]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("oneshott"),
        "{out:?}"
    );
}

/// A home for a user NixOS gives no home (not in users.users, or a system
/// user, whose home is /var/empty) gets one assertion from hearth that
/// names `hearth.users.NAME`.
#[test]
fn a_user_without_a_home_gets_hearths_assertion() {
    let args = inputs_or_skip!();
    let cases = [
        ("carol", "{ hearth.users.carol = { }; }"),
        (
            "daemon",
            r#"{
              users.users.daemon = { isSystemUser = true; group = "daemon"; };
              users.groups.daemon = { };
              hearth.users.daemon = { };
            }"#,
        ),
    ];
    for (name, module) in cases {
        let failed = eval(&args, &["--arg", "extraModule", module], "failedAssertions")
            .unwrap_or_else(|e| panic!("{name}: evaluation failed instead of an assertion:\n{e}"));
        let hearths: Vec<&str> = failed
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .filter(|m| m.contains(&format!("hearth.users.{name}")))
            .collect();
        assert_eq!(hearths.len(), 1, "{name}: {failed}");
    }
}

/// Each unit's `ExecStart`, run as its (real, throwaway) user with exactly
/// the unit's `Environment=`, applies that user's home: the file is linked,
/// the step ran.
#[test]
fn each_units_command_activates_its_users_home() {
    struct Real;
    let args = inputs_or_skip!();
    needs_root!();
    let users: Vec<common::users::TestUserOf<Real>> = (0..2)
        .map(|_| {
            let u = common::users::TestUserOf::<Real>::create("hrl", "nix-real-homes");
            for rel in ["", ".local", ".local/state"] {
                std::os::unix::fs::lchown(u.home.join(rel), Some(u.uid), Some(u.gid)).unwrap();
            }
            // The user's GC-roots directory, as the Nix daemon of a NixOS
            // system makes it for each of its users (this machine has no
            // daemon; the directory goes with the user on drop).
            let roots = Path::new("/nix/var/nix/gcroots/per-user").join(&u.name);
            std::fs::create_dir_all(&roots).unwrap();
            std::os::unix::fs::lchown(&roots, Some(u.uid), Some(u.gid)).unwrap();
            u
        })
        .collect();
    let mut set = String::from("{ ");
    for u in &users {
        writeln!(set, "{} = \"{}\";", u.name, u.home.display()).unwrap();
    }
    set.push('}');
    // The unit's PATH gets this machine's nix-store and nix-env, as a real
    // system's has its Nix.
    let which = Command::new("sh")
        .args(["-c", "command -v nix-store"])
        .output()
        .unwrap();
    let nix_store = String::from_utf8(which.stdout).unwrap();
    let host_nix = Path::new(nix_store.trim())
        .parent()
        .unwrap()
        .display()
        .to_string();
    let extra = ["--arg", "users", &set, "--argstr", "hostNix", &host_nix];
    build(&args, &extra);
    let with_bin = [&extra[..], &["--arg", "hearthBin", hearth_bin()]].concat();
    let units = units(&eval_ok(&args, &with_bin, "units"));

    for u in &users {
        let unit = &units[&format!("hearth-{}.service", u.name)];
        let command: Vec<&str> = values(unit, "ExecStart")[0].split(' ').collect();
        // setpriv drops to the user as systemd's User= does (its group, no
        // supplementary groups of root's).
        let mut cmd = Command::new("/usr/bin/setpriv");
        cmd.args(["--reuid", &u.uid.to_string(), "--regid", &u.gid.to_string()])
            .args(["--init-groups", "--"])
            .args(&command)
            .env_clear();
        for env in values(unit, "Environment") {
            let pair: String = serde_json::from_str(env).expect("a JSON-quoted K=V");
            let (k, v) = pair.split_once('=').unwrap();
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run the unit's ExecStart");
        assert!(
            out.status.success(),
            "{}: {}\n{}",
            u.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let rc = u.home.join(".config/hearth-check/rc");
        assert_eq!(
            std::fs::read_to_string(&rc).unwrap(),
            format!("hello {}\n", u.name)
        );
        assert_eq!(
            std::fs::read_to_string(u.home.join(".hearth-check-greeted")).unwrap(),
            format!("greeted {}\n", u.name)
        );
    }
}

/// The arguments of tests/nix/real-darwin.nix, or None (said loudly) when an
/// input is missing.
fn darwin_inputs() -> Option<Vec<String>> {
    let dir = |var: &str| {
        std::env::var_os(var)
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
    };
    let (Some(darwin), Some(lib)) = (dir("HEARTH_DARWIN"), dir("HEARTH_NIXPKGS")) else {
        let skip = "skipped: the real nix-darwin modules are not here \
                    (set HEARTH_DARWIN and HEARTH_NIXPKGS, see DEVELOPERS.md)";
        println!("{skip}");
        eprintln!("{skip}");
        return None;
    };
    let canon = |p: PathBuf| {
        p.canonicalize()
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .display()
            .to_string()
    };
    let mut args = vec![
        "--arg".to_owned(),
        "nixpkgs-lib".to_owned(),
        canon(lib),
        "--arg".to_owned(),
        "darwin".to_owned(),
        canon(darwin),
    ];
    if let Some(module) = dir("HEARTH_DARWIN_MODULE") {
        args.extend(["--arg".to_owned(), "hearthModule".to_owned(), canon(module)]);
    }
    Some(args)
}

macro_rules! darwin_inputs_or_skip {
    () => {
        match darwin_inputs() {
            Some(a) => a,
            None => return,
        }
    };
}

fn darwin_eval_ok(args: &[String], extra: &[&str], attr: &str) -> Value {
    eval_file(DARWIN, args, extra, attr)
        .unwrap_or_else(|e| panic!("evaluation of {attr} failed:\n{e}"))
}

fn darwin_text(args: &[String], extra: &[&str], attr: &str) -> String {
    match darwin_eval_ok(args, extra, attr) {
        Value::String(s) => s,
        v => panic!("{attr} is not a string: {v}"),
    }
}

/// The byte offset of `needle` in `text`, or a failure naming it.
fn offset(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} is not in:\n{text}"))
}

/// The real nix-darwin modules evaluate hearth's without an unknown option,
/// a failed assertion or a warning.
#[test]
fn darwin_evaluates_with_the_real_modules_without_warnings() {
    let args = darwin_inputs_or_skip!();
    assert_eq!(
        darwin_eval_ok(&args, &[], "failedAssertions"),
        Value::Array(vec![])
    );
    assert_eq!(darwin_eval_ok(&args, &[], "warnings"), Value::Array(vec![]));
}

/// In the `activate` script nix-darwin renders, hearth's step is one
/// `hearth activate-users` for both users with the timeout, after the
/// checks, the creation of the users nix-darwin manages, /etc, and the
/// configuration's own postActivation, and before the script ends.
#[test]
fn darwin_activate_runs_hearth_after_the_other_steps() {
    let args = darwin_inputs_or_skip!();
    let own = [
        "--arg",
        "extraModule",
        r#"{ system.activationScripts.postActivation.text = "echo the-configurations-own"; }"#,
    ];
    let activate = darwin_text(&args, &own, "activate");
    let gens = darwin_eval_ok(&args, &own, "generations");
    let hearth = format!(
        "/bin/hearth activate-users 'alice={}' 'bob={}' --timeout 300;",
        gens["alice"].as_str().unwrap(),
        gens["bob"].as_str().unwrap()
    );
    let at = offset(&activate, &hearth);
    assert_eq!(activate.matches("activate-users").count(), 1, "{activate}");
    for before in [
        // system/checks.nix, users/default.nix (alice is a known user),
        // system/etc.nix, the configuration's postActivation
        "checkActivation",
        "creating user alice",
        "setting up /etc",
        "echo the-configurations-own",
    ] {
        assert!(
            offset(&activate, before) < at,
            "{before:?} after hearth:\n{activate}"
        );
    }
    let end = offset(
        &activate,
        "ln -sfn \"$(readlink -f \"$systemConfig\")\" /run/current-system",
    );
    assert!(at < end, "{activate}");
}

/// /etc/hearth/homes.json per issue 9's contract, and each user's session
/// variables in nix-darwin's set-environment (bash, zsh) and
/// /etc/fish/config.fish.
#[test]
fn darwin_publishes_the_homes_and_their_session_variables() {
    let args = darwin_inputs_or_skip!();
    let gens = darwin_eval_ok(&args, &[], "generations");
    let homes: Value = serde_json::from_str(&darwin_text(&args, &[], "homesJson")).unwrap();
    assert_eq!(
        homes,
        serde_json::json!({
            "version": 1,
            "homes": [
                { "user": "alice", "home": "/Users/alice", "generation": gens["alice"], "timeout": 300 },
                { "user": "bob", "home": "/Users/bob", "generation": gens["bob"], "timeout": 300 },
            ]
        })
    );
    let set_env = darwin_text(&args, &[], "setEnvironment");
    let fish = darwin_text(&args, &[], "fishConfig");
    for user in ["alice", "bob"] {
        let vars = format!("{}/hm-session-vars.sh", gens[user].as_str().unwrap());
        assert!(
            set_env.contains(&format!("__hearth_vars={vars}")),
            "{set_env}"
        );
        assert!(
            fish.contains(&format!("set __hearth_vars {vars}")),
            "{fish}"
        );
    }
    // After nix-darwin's own default EDITOR, so that a home's wins.
    assert!(offset(&set_env, "export EDITOR=") < offset(&set_env, "__hearth_vars"));
    // After nix-darwin's own NIX_PROFILES, which a home's variable may expand.
    assert!(offset(&set_env, "NIX_PROFILES=") < offset(&set_env, "__hearth_vars"));
}

/// A home for a user nix-darwin gives no home (not declared, a known user
/// with the default null home, which nix-darwin creates with /var/empty, or
/// /var/empty itself) gets hearth's one assertion naming
/// `hearth.users.NAME`. nix-darwin itself says nothing about any of them:
/// the failed assertions are hearth's alone.
#[test]
fn darwin_a_user_without_a_home_gets_hearths_assertion() {
    let args = darwin_inputs_or_skip!();
    let cases = [
        ("carol", "{ hearth.users.carol = { }; }"),
        (
            "dave",
            r#"{ users.knownUsers = [ "dave" ]; users.users.dave.uid = 700; hearth.users.dave = { }; }"#,
        ),
        (
            "erin",
            r#"{ users.users.erin.home = "/var/empty"; hearth.users.erin = { }; }"#,
        ),
    ];
    for (name, module) in cases {
        let failed = eval_file(
            DARWIN,
            &args,
            &["--arg", "extraModule", module],
            "failedAssertions",
        )
        .unwrap_or_else(|e| panic!("{name}: evaluation failed instead of an assertion:\n{e}"));
        let failed = failed.as_array().unwrap();
        assert_eq!(failed.len(), 1, "{name}: {failed:?}");
        let message = failed[0].as_str().unwrap();
        assert!(
            message.starts_with(&format!("hearth.users.{name}: "))
                && message.contains(&format!("users.users.{name}.home = \"/Users/{name}\"")),
            "{name}: {message}"
        );
    }
}

/// The `activate` script nix-darwin renders, with every fragment but
/// postActivation emptied (they call dscl, launchctl, ... and rewrite /etc)
/// and cut before it points /run/current-system at the system, run as root
/// the way darwin-rebuild runs it (its `#!/usr/bin/env -i bash` line: an
/// empty environment, `set -e`): each home is activated as its user; a
/// first user whose activation fails does not stop the second, the rest of
/// the script still runs, and the script then ends with status 1.
#[test]
fn darwin_activate_activates_each_home_as_its_user() {
    struct RealDarwin;
    let args = darwin_inputs_or_skip!();
    needs_root!();
    let mut users: Vec<common::users::TestUserOf<RealDarwin>> = (0..2)
        .map(|_| {
            let u = common::users::TestUserOf::<RealDarwin>::create("hrd", "nix-real-darwin");
            for rel in ["", ".local", ".local/state"] {
                std::os::unix::fs::lchown(u.home.join(rel), Some(u.uid), Some(u.gid)).unwrap();
            }
            // The user's GC-roots directory, as the Nix daemon makes it
            // (this machine has no daemon; it goes with the user on drop).
            let roots = Path::new("/nix/var/nix/gcroots/per-user").join(&u.name);
            std::fs::create_dir_all(&roots).unwrap();
            std::os::unix::fs::lchown(&roots, Some(u.uid), Some(u.gid)).unwrap();
            u
        })
        .collect();
    // hearth activates them in the order of their names.
    users.sort_by(|a, b| a.name.cmp(&b.name));
    let dir = crate::common::nix_eval::tempdir("nix_real", "darwin-activate");
    let after = dir.join("after-hearth");
    let mut set = String::from("{ ");
    for u in &users {
        writeln!(set, "{} = \"{}\";", u.name, u.home.display()).unwrap();
    }
    set.push('}');
    let module = format!(
        "{{ lib, ... }}: {{ system.activationScripts.postActivation.text = \
         lib.mkOrder 2000 \"echo done > {}\"; }}",
        after.display()
    );
    let extra = [
        "--arg",
        "users",
        &set,
        "--arg",
        "knownUsers",
        "[ ]",
        "--arg",
        "extraModule",
        &module,
    ];
    build_file(DARWIN, &args, &extra);
    let with_bin = [&extra[..], &["--arg", "hearthBin", hearth_bin()]].concat();
    let head = darwin_text(&args, &with_bin, "activateHead");
    assert!(head.starts_with("#!/usr/bin/env -i /bin/bash\n"), "{head}");
    let script = dir.join("activate");
    std::fs::write(&script, &head).unwrap();
    // What macOS makes of that line (it splits it at spaces; Linux would
    // pass `-i /bin/bash` to env as one argument).
    let activate = || {
        let _ = std::fs::remove_file(&after);
        Command::new("/usr/bin/env")
            .args(["-i", "/bin/bash"])
            .arg(&script)
            .output()
            .expect("run activate")
    };
    let rc = |u: &common::users::TestUserOf<RealDarwin>| u.home.join(".config/hearth-check/rc");
    let activated = |u: &common::users::TestUserOf<RealDarwin>| {
        assert_eq!(
            std::fs::read_to_string(rc(u)).unwrap(),
            format!("hello {}\n", u.name)
        );
        let greeted = u.home.join(".hearth-check-greeted");
        assert_eq!(
            std::fs::read_to_string(&greeted).unwrap(),
            format!("greeted {}\n", u.name)
        );
        let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&greeted).unwrap());
        assert_eq!(owner, u.uid, "{}: the step ran as uid {owner}", u.name);
    };

    // A file of the first user's own is in the way: its activation fails.
    let (first, second) = (&users[0], &users[1]);
    std::fs::create_dir_all(rc(first).parent().unwrap()).unwrap();
    std::fs::write(rc(first), "mine\n").unwrap();
    for rel in [".config", ".config/hearth-check", ".config/hearth-check/rc"] {
        std::os::unix::fs::lchown(first.home.join(rel), Some(first.uid), Some(first.gid)).unwrap();
    }
    let out = activate();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("hearth: the activation of some homes failed"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("[{}] error:", first.name)),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(rc(first)).unwrap(), "mine\n");
    activated(second);
    assert_eq!(
        std::fs::read_to_string(&after).unwrap(),
        "done\n",
        "{stderr}"
    );

    // Out of the way: both homes, status 0.
    std::fs::remove_file(rc(first)).unwrap();
    let out = activate();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("failed"), "{stderr}");
    for u in &users {
        activated(u);
    }
    assert_eq!(std::fs::read_to_string(&after).unwrap(), "done\n");
}
