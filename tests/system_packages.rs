//! Package changes where the system installs the packages (NixOS,
//! nix-darwin: the manifest's `systemPackages`, put into
//! `users.users.<name>.packages`): generations naming the real environments
//! of tests/packages.rs (`hello-1.0`, then `hello-1.1`, built by nix-build
//! and merged by `hearth build-env`). `plan`, `plan --system` (as root,
//! for a throwaway user) and `activate` (text and JSON) show what changes
//! between the previous generation's environment and the new one's, hearth
//! never installs it, `hearth packages` lists it, and a manifest naming
//! both kinds of environment is refused.

use crate::common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::{json, Value};

use crate::packages::env;

/// Two generations of `home` whose system environments are the old and
/// the new one of tests/packages.rs, and a third with the new environment
/// but other files.
fn generations(home: &TestHome) -> (PathBuf, PathBuf, PathBuf) {
    let gens = build_generations(&[
        home.gen()
            .text(".config/a", "a\n")
            .system_packages_env(env("old")),
        home.gen()
            .text(".config/a", "a\n")
            .system_packages_env(env("new")),
        home.gen()
            .text(".config/a", "a, edited\n")
            .system_packages_env(env("new")),
    ]);
    (gens[0].clone(), gens[1].clone(), gens[2].clone())
}

/// hearth's packages profile, which a system-installed environment never
/// touches.
fn profile_dir(home: &TestHome) -> PathBuf {
    home.join(".local/state/nix/profiles")
}

/// The `packages` of a JSON document, with what differs between runs
/// (store paths, closure sizes) replaced, after checking them.
fn shown(pkgs: &Value, old: Option<&Path>, new: &Path) -> Value {
    assert_eq!(pkgs["old"], json!(old.map(path_str)), "{pkgs}");
    assert_eq!(pkgs["new"], json!(path_str(new)), "{pkgs}");
    assert!(pkgs["closureSize"]["new"].as_u64().unwrap() > 0, "{pkgs}");
    let mut shown = pkgs.clone();
    shown["closureSize"] = json!("[sizes]");
    shown["old"] = json!(old.map(|_| "[old]"));
    shown["new"] = json!("[new]");
    shown
}

#[test]
fn an_upgrade_by_the_system_shows_in_plan_and_activate() {
    let home = TestHome::new();
    let (old, new, edited) = generations(&home);

    // The first generation: every package is new to the home.
    let run = home.hearth(["activate", path_str(&old)]);
    run.assert_ok();
    insta::assert_snapshot!("first_activation", home.redact_user(&run.stdout));
    // hearth leaves the installing to the system: no profile.
    assert!(!profile_dir(&home).exists(), "{}", run.stdout);

    // Files unchanged, the system's packages upgraded: the plan says so.
    let run = home.hearth(["plan", path_str(&new)]);
    run.assert_ok();
    insta::assert_snapshot!("plan", home.redact_user(&run.stdout));
    let doc = home.hearth(["plan", "--json", path_str(&new)]).json();
    assert_eq!(doc["outcome"], "planned", "{doc}");
    insta::assert_json_snapshot!(
        "plan_json",
        shown(&doc["packages"], Some(env("old")), env("new"))
    );

    // Activating it says what changed, and not that the home matched.
    let run = home.hearth(["activate", path_str(&new)]);
    run.assert_ok();
    insta::assert_snapshot!("activate", home.redact_user(&run.stdout));
    assert!(!profile_dir(&home).exists(), "{}", run.stdout);

    // The same generation again: the same environment, nothing to say.
    let run = home.hearth(["activate", path_str(&new)]);
    run.assert_ok();
    assert_eq!(
        run.stdout,
        "generation 2 is active; the home already matched (1 unchanged)\n"
    );
    let doc = home.hearth(["activate", "--json", path_str(&new)]).json();
    assert_eq!(doc["packages"], Value::Null, "{doc}");
    assert_eq!(doc["outcome"], "unchanged", "{doc}");

    // Another generation with the same environment: files change, the
    // packages do not.
    let doc = home
        .hearth(["activate", "--json", path_str(&edited)])
        .json();
    assert_eq!(doc["outcome"], "activated", "{doc}");
    assert_eq!(doc["packages"], Value::Null, "{doc}");

    // Back to the old environment (a new generation on the old one), as
    // JSON: the downgrade, from the environment of the generation before.
    let doc = home.hearth(["activate", "--json", path_str(&old)]).json();
    assert_eq!(doc["outcome"], "activated", "{doc}");
    let pkgs = &doc["packages"];
    assert_eq!(pkgs["installedBy"], "system", "{doc}");
    assert_eq!(pkgs["old"], json!(path_str(env("new"))), "{doc}");
    assert_eq!(
        pkgs["changed"],
        json!([{"name": "hello", "old": ["1.1"], "new": ["1.0"]}])
    );
    assert_eq!(
        pkgs["added"],
        json!([{"name": "gone", "versions": ["2.0"]}])
    );

    // status has no profile to hold against the system's environment.
    let doc = home.hearth(["status", "--json"]).json();
    assert_eq!(doc["outcome"], "clean", "{doc}");
    assert_eq!(doc["packages"], Value::Null, "{doc}");
    assert!(!profile_dir(&home).exists());
}

/// A rollback to a generation whose environment differs shows the change
/// too, from the generation the home was on.
#[test]
fn a_rollback_shows_the_systems_packages_changing_back() {
    let home = TestHome::new();
    let (old, new, _) = generations(&home);
    home.hearth(["activate", path_str(&old)]).assert_ok();
    home.hearth(["activate", path_str(&new)]).assert_ok();
    let doc = home.hearth(["rollback", "--json"]).json();
    assert_eq!(doc["outcome"], "activated", "{doc}");
    assert_eq!(
        doc["packages"]["changed"],
        json!([{"name": "hello", "old": ["1.1"], "new": ["1.0"]}]),
        "{doc}"
    );
    assert_eq!(doc["packages"]["installedBy"], "system", "{doc}");
}

/// A generation without packages after one whose system environment had
/// them: every package is shown removed, with no environment after.
#[test]
fn every_package_removed_by_the_system_shows() {
    let home = TestHome::new();
    let (old, _, _) = generations(&home);
    let none = build_generation(&home.gen().text(".config/a", "a\n"));
    home.hearth(["activate", path_str(&old)]).assert_ok();
    let doc = home.hearth(["activate", "--json", path_str(&none)]).json();
    let pkgs = &doc["packages"];
    assert_eq!(pkgs["installedBy"], "system", "{doc}");
    assert_eq!(pkgs["old"], json!(path_str(env("old"))), "{doc}");
    assert_eq!(pkgs["new"], Value::Null, "{doc}");
    assert_eq!(pkgs["added"], json!([]), "{doc}");
    let removed: Vec<&str> = pkgs["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert!(removed.contains(&"hello"), "{doc}");
    // And in text, as the plan of the way back shows the opposite.
    let text = home.hearth(["activate", path_str(&old)]);
    text.assert_ok();
    assert!(
        text.stdout.contains("packages (installed by the system)"),
        "{text}"
    );
}

#[test]
fn packages_lists_what_the_system_installs() {
    let home = TestHome::new();
    let (_, new, _) = generations(&home);
    home.hearth(["activate", path_str(&new)]).assert_ok();

    let run = home.hearth(["packages"]);
    run.assert_ok();
    insta::assert_snapshot!("list", home.redact_user(&run.stdout));

    let doc = home.hearth(["packages", "--json"]).json();
    assert_eq!(doc["environment"], json!(path_str(env("new"))), "{doc}");
    assert_eq!(doc["installedBy"], "system", "{doc}");
    let names: Vec<(&str, &str, &str)> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap(),
                p["output"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("added", "3.1", "out"),
            ("hello", "1.1", "out"),
            ("libfoo", "1.0", "dev"),
            ("libfoo", "1.0", "out"),
        ]
    );
}

#[test]
fn a_manifest_naming_both_environments_is_refused() {
    let home = TestHome::new();
    let gens = build_generations(&[home
        .gen()
        .text(".config/a", "a\n")
        .packages_env(env("old"))
        .system_packages_env(env("new"))]);
    for cmd in ["check", "activate", "plan"] {
        let run = home.hearth([cmd, path_str(&gens[0])]);
        run.assert_code(2);
        insta::assert_snapshot!("both", home.redact_user(&run.stderr));
    }
    assert!(!home.join(".config/a").exists());
    assert!(!profile_dir(&home).exists());
}

/// `hearth plan --system`, as root for a real user: the plan made as that
/// user shows what the system's packages change from the generation the
/// home is on.
#[test]
fn plan_system_shows_the_systems_packages_per_user() {
    needs_root!();
    let user = common::users::TestUser::create("hsy", "system-packages-homes");
    user.chown_home(user.uid, user.gid);
    let gens = build_generations(&[
        user.gen()
            .text(".config/a", "a\n")
            .system_packages_env(env("old")),
        user.gen()
            .text(".config/a", "a\n")
            .system_packages_env(env("new")),
    ]);
    let hearth = |args: &[&std::ffi::OsStr]| {
        Run::from_output(
            std::process::Command::new(env!("CARGO_BIN_EXE_hearth"))
                .args(args)
                .current_dir("/")
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap(),
        )
    };
    hearth(&[
        "activate".as_ref(),
        "--user".as_ref(),
        user.name.as_ref(),
        gens[0].as_os_str(),
    ])
    .assert_ok();
    let (_, sys) = common::users::fresh("sys", "system-packages-systems");
    fs_write_homes(&sys, &user, &gens[1]);

    let run = hearth(&["plan".as_ref(), "--system".as_ref(), sys.as_os_str()]);
    run.assert_ok();
    // Each line of the user's plan carries the user's name. (The closure
    // size needs the user to reach the Nix store's database, which a
    // single-user Nix without a daemon does not allow: not checked here.)
    for line in [
        "packages (installed by the system): 2 added, 1 removed, 1 changed",
        "  change   hello 1.0 -> 1.1",
    ] {
        let want = format!("[{}] {line}", user.name);
        assert!(
            run.stdout.lines().any(|l| l.starts_with(&want)),
            "{want:?} missing in\n{run}"
        );
    }
    let doc = hearth(&[
        "plan".as_ref(),
        "--system".as_ref(),
        sys.as_os_str(),
        "--json".as_ref(),
    ])
    .json();
    let text = doc.to_string();
    assert!(
        text.contains(r#""installedBy":"system""#)
            && text.contains(r#""name":"hello","new":["1.1"]"#),
        "{doc:#}"
    );
    let _ = std::fs::remove_dir_all(&sys);
}

/// `DIR/etc/hearth/homes.json` naming `user`'s generation `gen`, as the
/// platform modules write it.
fn fs_write_homes(dir: &Path, user: &common::users::TestUser, gen: &Path) {
    let doc = json!({"version": 1, "homes": [{
        "user": user.name, "home": path_str(&user.home),
        "generation": path_str(gen), "timeout": 300,
    }]});
    std::fs::create_dir_all(dir.join("etc/hearth")).unwrap();
    std::fs::write(dir.join("etc/hearth/homes.json"), doc.to_string()).unwrap();
}
