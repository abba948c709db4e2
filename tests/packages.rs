//! Package changes and the packages profile, against real packages
//! environments: small packages built by nix-build (`hello-1.0`, then
//! `hello-1.1`, one removed and one added), merged by `hearth build-env`
//! as the home module does, and generations that name them. Shows the
//! changes in `plan`, `activate` and `status` (text and JSON), the list of
//! `hearth packages`, the profile's generations pruned with the hearth
//! generations that used them, and a generation given as `./result`.

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use common::*;
use serde_json::{json, Value};

const HEARTH: &str = env!("CARGO_BIN_EXE_hearth");

/// The packages and the two environments, built once per test run:
/// `old` holds hello-1.0 and gone-2.0; `new` holds hello-1.1, added-3.1
/// and libfoo-1.0 with its dev output (extraOutputsToInstall).
fn built() -> &'static BTreeMap<String, PathBuf> {
    static BUILT: OnceLock<BTreeMap<String, PathBuf>> = OnceLock::new();
    BUILT.get_or_init(|| {
        nix_available();
        let expr = format!(
            r#"
let
  mkOuts = name: outputs: script: builtins.derivation {{
    inherit name outputs;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-e" "-c" script ];
    PATH = "/bin:/usr/bin";
  }};
  mk = name: mkOuts name [ "out" ];
  tool = name: mk name ''
    mkdir -p $out/bin
    printf '#!/bin/sh\necho ${{name}}\n' > $out/bin/${{builtins.head (builtins.split "-[0-9]" name)}}
    chmod 0555 $out/bin/*
  '';
  hello10 = tool "hello-1.0";
  hello11 = tool "hello-1.1";
  gone = tool "gone-2.0";
  added = tool "added-3.1";
  libfoo = mkOuts "libfoo-1.0" [ "out" "dev" ] ''
    mkdir -p $out/lib $dev/include
    echo elf > $out/lib/libfoo.so
    echo '#define FOO 1' > $dev/include/foo.h
  '';
  entry = p: {{ path = "${{p}}"; priority = null; name = p.name; output = "out"; outputs = {{ }}; }};
  env = paths: extra: builtins.derivation {{
    name = "hearth-packages-test";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "exec \"$hearth\" build-env \"$specPath\" \"$out\"" ];
    hearth = "{HEARTH}";
    spec = builtins.toJSON {{ inherit paths; extraOutputsToInstall = extra; pathsToLink = [ "/" ]; }};
    passAsFile = [ "spec" ];
  }};
  old = env [ (entry hello10) (entry gone) ] [ ];
  new = env [
    (entry hello11)
    (entry added)
    ((entry libfoo) // {{ outputs = {{ out = "${{libfoo.out}}"; dev = "${{libfoo.dev}}"; }}; }})
  ] [ "dev" ];
in
builtins.derivation {{
  name = "hearth-packages-test-index";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" "/bin/cp \"$indexPath\" \"$out\"" ];
  index = builtins.toJSON {{ old = "${{old}}"; new = "${{new}}"; hello10 = "${{hello10}}"; }};
  passAsFile = [ "index" ];
}}
"#
        );
        let out = Command::new("nix-build")
            .args(["--no-out-link", "--option", "substituters", "", "--expr"])
            .arg(&expr)
            .stdin(Stdio::null())
            .output()
            .expect("run nix-build");
        assert!(
            out.status.success(),
            "nix-build failed:\n{}\n--- expression\n{expr}",
            String::from_utf8_lossy(&out.stderr)
        );
        let index = String::from_utf8(out.stdout).unwrap();
        serde_json::from_str(&fs::read_to_string(index.trim()).unwrap()).unwrap()
    })
}

pub(crate) fn env(name: &str) -> &'static Path {
    &built()[name]
}

/// Two generations of `home`: one file each, and the old and the new
/// packages environment.
fn old_and_new(home: &TestHome) -> (PathBuf, PathBuf) {
    let gens = build_generations(&[
        home.gen().text(".config/a", "a\n").packages_env(env("old")),
        home.gen().text(".config/a", "a\n").packages_env(env("new")),
    ]);
    (gens[0].clone(), gens[1].clone())
}

fn profile(home: &TestHome) -> PathBuf {
    home.join(".local/state/nix/profiles/hearth-packages")
}

/// The GC roots that keep `path` alive and lie in `home`.
fn roots_in(path: &Path, home: &TestHome) -> Vec<String> {
    let out = Command::new("nix-store")
        .args(["-q", "--roots"])
        .arg(path)
        .output()
        .expect("run nix-store --roots");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains(path_str(home.path())))
        .map(|l| home.redact(l))
        .collect()
}

#[test]
fn an_upgrade_shows_in_plan_activate_and_status() {
    let home = TestHome::new();
    let (old, new) = old_and_new(&home);

    // The first activation installs every package.
    let run = home.hearth(["activate", path_str(&old)]);
    run.assert_ok();
    insta::assert_snapshot!("first_activation", home.redact_user(&run.stdout));

    // Files unchanged, packages changed: the plan says what changes.
    let run = home.hearth(["plan", path_str(&new)]);
    run.assert_ok();
    insta::assert_snapshot!("plan", home.redact_user(&run.stdout));
    let doc = home.hearth(["plan", "--json", path_str(&new)]).json();
    let pkgs = &doc["packages"];
    assert_eq!(pkgs["old"], json!(path_str(env("old"))));
    assert_eq!(pkgs["new"], json!(path_str(env("new"))));
    assert_eq!(
        pkgs["added"],
        json!([{"name": "added", "versions": ["3.1"]}, {"name": "libfoo", "versions": ["1.0"]}])
    );
    assert_eq!(
        pkgs["removed"],
        json!([{"name": "gone", "versions": ["2.0"]}])
    );
    assert_eq!(
        pkgs["changed"],
        json!([{"name": "hello", "old": ["1.0"], "new": ["1.1"]}])
    );
    let size = &pkgs["closureSize"];
    assert!(
        size["old"].as_u64().unwrap() > 0 && size["new"].as_u64().unwrap() > 0,
        "{pkgs}"
    );
    let mut shown = pkgs.clone();
    shown["closureSize"] = json!("[sizes]");
    shown["old"] = json!("[old]");
    shown["new"] = json!("[new]");
    insta::assert_json_snapshot!("plan_json", shown);

    // Activating it says so, and no longer that the home already matched.
    let run = home.hearth(["activate", path_str(&new)]);
    run.assert_ok();
    insta::assert_snapshot!("activate", home.redact_user(&run.stdout));
    assert_eq!(fs::canonicalize(profile(&home)).unwrap(), env("new"));

    // Nothing changed since: nothing to say, and no Nix tool asked.
    let run = home.hearth(["activate", path_str(&new)]);
    run.assert_ok();
    assert_eq!(
        run.stdout,
        "generation 2 is active; the home already matched (1 unchanged)\n"
    );
    let doc = home.hearth(["activate", "--json", path_str(&new)]).json();
    assert_eq!(doc["packages"], Value::Null);
    let doc = home.hearth(["status", "--json"]).json();
    assert_eq!(doc["packages"], Value::Null);
    assert_eq!(doc["outcome"], "clean");

    // The profile moved back behind hearth's back: status tells, and
    // activating the generation again puts it right, saying what changed.
    let set = Command::new("nix-env")
        .arg("--profile")
        .arg(profile(&home))
        .arg("--set")
        .arg(env("old"))
        .env("HOME", "/dev/null")
        .output()
        .unwrap();
    assert!(set.status.success(), "{set:?}");
    let run = home.hearth(["status"]);
    run.assert_code(6);
    insta::assert_snapshot!("status", home.redact_user(&run.stdout));
    let doc = home.hearth(["status", "--json"]).json();
    assert_eq!(doc["outcome"], "drift");
    assert_eq!(
        doc["packages"]["changed"],
        json!([{"name": "hello", "old": ["1.0"], "new": ["1.1"]}])
    );
    let doc = home.hearth(["activate", "--json", path_str(&new)]).json();
    assert_eq!(doc["outcome"], "activated", "{doc}");
    assert_eq!(
        doc["packages"]["changed"],
        json!([{"name": "hello", "old": ["1.0"], "new": ["1.1"]}])
    );
    home.hearth(["status"]).assert_ok();
}

#[test]
fn packages_lists_the_current_generation() {
    let home = TestHome::new();
    let run = home.hearth(["packages"]);
    run.assert_ok();
    assert_eq!(
        home.redact_user(&run.stdout),
        "no generation has been activated in ~HOME\n"
    );

    let (_, new) = old_and_new(&home);
    home.hearth(["activate", path_str(&new)]).assert_ok();
    let run = home.hearth(["packages"]);
    run.assert_ok();
    insta::assert_snapshot!("list", home.redact_user(&run.stdout));

    let doc = home.hearth(["packages", "--json"]).json();
    assert_eq!(doc["environment"], json!(path_str(env("new"))));
    assert_eq!(doc["number"], 1);
    let list: Vec<(String, String, String)> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert!(
                p["path"].as_str().unwrap().starts_with("/nix/store/"),
                "{p}"
            );
            (
                p["name"].as_str().unwrap().into(),
                p["version"].as_str().unwrap().into(),
                p["output"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        ("added", "3.1", "out"),
        ("hello", "1.1", "out"),
        ("libfoo", "1.0", "dev"),
        ("libfoo", "1.0", "out"),
    ]
    .iter()
    .map(|(a, b, c)| ((*a).into(), (*b).into(), (*c).into()))
    .collect();
    assert_eq!(list, want);
}

#[test]
fn removing_and_expiring_generations_prunes_their_packages() {
    let home = TestHome::new();
    let (old, new) = old_and_new(&home);
    home.hearth(["activate", path_str(&old)]).assert_ok();
    home.hearth(["activate", path_str(&new)]).assert_ok();
    let links = || {
        let mut names: Vec<String> = fs::read_dir(home.join(".local/state/nix/profiles"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        links(),
        [
            "hearth-packages",
            "hearth-packages-1-link",
            "hearth-packages-2-link"
        ]
    );
    // Rooted by the profile's first generation (and generation 1's root).
    assert_eq!(
        roots_in(env("old"), &home),
        ["~HOME/.local/state/nix/profiles/hearth-packages-1-link -> /nix/store/HASH-hearth-packages-test"]
    );
    assert!(!roots_in(&old, &home).is_empty());

    home.hearth(["remove-generations", "1"]).assert_ok();
    assert_eq!(links(), ["hearth-packages", "hearth-packages-2-link"]);
    assert_eq!(roots_in(env("old"), &home), Vec::<String>::new());
    assert_eq!(roots_in(&old, &home), Vec::<String>::new());

    // Back to the old packages as generation 3; expiring generation 2
    // releases the new ones.
    home.hearth(["activate", path_str(&old)]).assert_ok();
    assert!(!roots_in(env("new"), &home).is_empty());
    let run = home.hearth(["expire-generations", "--keep-last", "1"]);
    run.assert_ok();
    assert_eq!(run.stdout, "removed generations 2\n");
    assert_eq!(links(), ["hearth-packages", "hearth-packages-3-link"]);
    assert_eq!(roots_in(env("new"), &home), Vec::<String>::new());
    assert_eq!(roots_in(&new, &home), Vec::<String>::new());
    // The current generation's packages stay rooted.
    assert!(!roots_in(env("old"), &home).is_empty());
}

#[test]
fn a_result_link_is_recorded_as_the_store_path() {
    let home = TestHome::new();
    let (old, new) = old_and_new(&home);
    let work = home.join("work");
    fs::create_dir(&work).unwrap();
    std::os::unix::fs::symlink(&old, work.join("result")).unwrap();

    let run = Run::from_output(
        home.command(["activate", "./result"])
            .current_dir(&work)
            .output()
            .unwrap(),
    );
    run.assert_ok();
    let doc = home.hearth(["generations", "--json"]).json();
    assert_eq!(doc["generations"][0]["path"], json!(path_str(&old)));
    // Its GC root, as for any generation.
    assert_eq!(
        fs::read_link(home.state_dir().join("gcroots/1")).unwrap(),
        old
    );

    // The link may change or go; the record does not depend on it.
    fs::remove_file(work.join("result")).unwrap();
    home.hearth(["activate", path_str(&new)]).assert_ok();
    let run = Run::from_output(
        home.command(["rollback", "--to", "1"])
            .current_dir("/")
            .output()
            .unwrap(),
    );
    run.assert_ok();
    let doc = home.hearth(["generations", "--json"]).json();
    assert_eq!(doc["current"], 1, "{doc}");
}
