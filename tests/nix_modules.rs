//! The Nix side, evaluated: the home module (nix/home-module.nix) with
//! nixpkgs' `lib` through `lib.evalModules`, as the NixOS and nix-darwin
//! modules evaluate it, and the platform modules over stand-ins of the
//! NixOS / nix-darwin options they set. Checks the DAG order and its cycle
//! error, XDG defaults, target normalization and the spec handed to
//! `hearth build-generation`; on the platform side the units and target,
//! homes.json, the timeout, the assertions for undeclared users, the session
//! variables in real shells, and the README's examples, evaluated as written.
//!
//! Needs nixpkgs' lib: `HEARTH_NIXPKGS` (a nixpkgs or nixpkgs.lib checkout,
//! or its lib directory), else `<nixpkgs>` from `NIX_PATH`. Without either,
//! each test says "skipped: no nixpkgs" and passes.

use std::path::Path;
use std::process::Command;

use crate::common::nix_eval::{error_line, eval_home, eval_home_ok as eval_ok, root};
use serde_json::{json, Value};

fn eval_err(nixpkgs: &str, module: &str, attr: &str, needle: &str) -> String {
    match eval_home(nixpkgs, module, attr) {
        Ok(v) => panic!("evaluation succeeded, expected an error with {needle:?}: {v}"),
        Err(e) => error_line(&e, needle),
    }
}

/// (name, after) of each activation step, in order.
fn steps(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["after"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

// ---------------------------------------------------------------------------
// home.activation

const STEPS_A: &str = r#"{ lib, ... }: {
  home.activation = {
    zeta = "echo zeta";
    alpha = lib.hm.dag.entryAfter [ "zeta" ] "echo alpha";
    checkDisk = lib.hm.dag.entryBefore [ "files" ] "df";
  };
}"#;

const STEPS_B: &str = r#"{ lib, ... }: {
  home.activation = {
    prepare = lib.hm.dag.entryBefore [ "checkDisk" ] "true";
    hmStyle = lib.hm.dag.entryAfter [ "writeBoundary" ] "echo hm";
    between = lib.hearth.dag.entryBetween [ "alpha" ] [ "hmStyle" ] "echo between";
  };
}"#;

#[test]
fn activation_order_is_deterministic_and_phased() {
    let n = nixpkgs_or_skip!();
    // Home Manager's order for this DAG (`files` being `linkGeneration`):
    // checkLinkTargets writeBoundary hmStyle between zeta alpha prepare
    // checkDisk checkFilesChanged installPackages linkGeneration
    // onFilesChange reloadSystemd. Every step is sorted before
    // linkGeneration, so all run in the check phase, in that order;
    // `between` comes after hmStyle: the constraint wins over names.
    let expected = pairs(&[
        ("hmStyle", "check"),
        ("between", "check"),
        ("zeta", "check"),
        ("alpha", "check"),
        ("prepare", "check"),
        ("checkDisk", "check"),
    ]);
    let got = steps(&eval_ok(
        &n,
        &format!("[ ({STEPS_A}) ({STEPS_B}) ]"),
        "activation",
    ));
    assert_eq!(got, expected);

    // The same steps defined in the other order give the same order.
    let swapped = steps(&eval_ok(
        &n,
        &format!("[ ({STEPS_B}) ({STEPS_A}) ]"),
        "activation",
    ));
    assert_eq!(swapped, expected);

    // Each step keeps its text.
    let v = eval_ok(&n, STEPS_A, "activation");
    let check_disk = v
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "checkDisk");
    assert_eq!(
        check_disk,
        Some(&json!({ "name": "checkDisk", "after": "check", "text": "df" }))
    );
}

#[test]
fn activation_cycle_is_an_error_naming_its_entries() {
    let n = nixpkgs_or_skip!();
    let cycle = r#"{ lib, ... }: {
      home.activation = {
        fine = "echo fine";
        c = lib.hm.dag.entryAfter [ "b" ] "echo c";
        a = lib.hm.dag.entryAfter [ "c" ] "echo a";
        b = lib.hm.dag.entryAfter [ "a" "fine" ] "echo b";
      };
    }"#;
    let three = eval_err(&n, cycle, "activation", "form a cycle");

    // Before the start anchor: a cycle through `check`.
    let early =
        r#"{ lib, ... }: { home.activation.early = lib.hm.dag.entryBefore [ "check" ] "true"; }"#;
    let anchor = eval_err(&n, early, "activation", "form a cycle");

    let own =
        r#"{ lib, ... }: { home.activation.self = lib.hm.dag.entryAfter [ "self" ] "true"; }"#;
    let one = eval_err(&n, own, "activation", "form a cycle");

    insta::assert_snapshot!("activation_cycle", format!("{three}\n{anchor}\n{one}"));
}

#[test]
fn anchors_cannot_be_steps() {
    let n = nixpkgs_or_skip!();
    let v = eval_ok(
        &n,
        r#"{ home.activation.files = "echo no"; }"#,
        "failedAssertions",
    );
    assert_eq!(
        v,
        json!(["home.activation.files: `files` is a built-in anchor of home.activation, not a step; give the step another name"])
    );
}

#[test]
fn dag_library_matches_home_managers_interface() {
    let n = nixpkgs_or_skip!();
    // lib.hm.dag and lib.hearth.dag are one library; topoSort answers
    // { result } or { cycle } as Home Manager's dagTopoSort does.
    let module = r#"{ lib, config, ... }: {
      home.sessionVariables.RESULT = builtins.toJSON {
        same = lib.hm.dag == lib.hearth.dag;
        sorted = lib.hm.dag.topoSort {
          b = lib.hm.dag.entryAnywhere "B";
          a = lib.hm.dag.entryAfter [ "b" ] "A";
          c = lib.hm.dag.entryBefore [ "b" ] "C";
        };
        cycle = lib.hm.dag.topoSort {
          x = lib.hm.dag.entryAfter [ "y" ] 1;
          y = lib.hm.dag.entryAfter [ "x" ] 2;
        };
      };
    }"#;
    let v = eval_ok(&n, module, "spec.sessionVariables.RESULT");
    let v: Value = serde_json::from_str(v.as_str().unwrap()).unwrap();
    assert_eq!(
        v,
        json!({
            "same": true,
            "sorted": { "result": [
                { "name": "c", "data": "C" },
                { "name": "b", "data": "B" },
                { "name": "a", "data": "A" },
            ]},
            "cycle": { "cycle": ["x", "y"] },
        })
    );
}

// ---------------------------------------------------------------------------
// Files: XDG, targets

#[test]
fn xdg_files_map_onto_home_file_targets() {
    let n = nixpkgs_or_skip!();
    let module = r#"{
      xdg.configFile."git/config".text = "[user]\n";
      xdg.dataFile."fonts/a.ttf".text = "a";
      xdg.stateFile."app/state".text = "s";
      xdg.cacheFile."app/cache".text = "c";
      xdg.configFile.renamed = { target = "nvim/init.lua"; text = "--"; };
    }"#;
    assert_eq!(
        eval_ok(&n, module, "targets"),
        json!([
            ".cache/app/cache",
            ".config/git/config",
            ".config/nvim/init.lua",
            ".local/share/fonts/a.ttf",
            ".local/state/app/state",
        ])
    );
    assert_eq!(
        eval_ok(&n, "{ }", "config.xdg"),
        json!({
            "enable": false,
            "configHome": "/home/alice/.config",
            "dataHome": "/home/alice/.local/share",
            "stateHome": "/home/alice/.local/state",
            "cacheHome": "/home/alice/.cache",
            "configFile": {}, "dataFile": {}, "stateFile": {}, "cacheFile": {},
            "binHome": "/home/alice/.local/bin",
            "localBinInPath": false,
            "systemDirs": { "config": [], "data": [] },
        })
    );

    // Moved base directories move the files; xdg.enable exports them.
    let moved = r#"{
      xdg.enable = true;
      xdg.configHome = "/home/alice/etc";
      xdg.configFile."git/config".text = "[user]\n";
    }"#;
    assert_eq!(eval_ok(&n, moved, "targets"), json!(["etc/git/config"]));
    assert_eq!(
        eval_ok(&n, moved, "spec.sessionVariables.XDG_CONFIG_HOME"),
        json!("/home/alice/etc")
    );

    // definedBy names the xdg option.
    assert_eq!(
        eval_ok(&n, moved, "spec.files.0.definedBy"),
        json!("xdg.configFile.\"git/config\"")
    );

    let outside = r#"{ xdg.configHome = "/etc/xdg"; xdg.configFile.foo.text = "x"; }"#;
    assert_eq!(
        eval_err(&n, outside, "targets", "not inside the home"),
        "xdg.configFile.foo: the target /etc/xdg/foo is not inside the home /home/alice; \
         use a path relative to the home or an absolute path under it"
    );
}

#[test]
fn absolute_targets_inside_the_home_are_made_relative() {
    let n = nixpkgs_or_skip!();
    let module = r#"{
      home.file."/home/alice/.profile".text = "x";
      home.file.renamed = { target = "/home/alice/.config/y"; text = "y"; };
      home.file."./plain".text = "p";
      home.file.off = { enable = false; text = "off"; };
    }"#;
    assert_eq!(
        eval_ok(&n, module, "targets"),
        json!(["./plain", ".config/y", ".profile"])
    );

    for (target, what) in [
        ("/etc/passwd", "/etc/passwd"),
        ("/home/alicex/f", "/home/alicex/f"),
        ("/home/alice/", "/home/alice/"),
    ] {
        let module = format!(r#"{{ home.file."{target}".text = "x"; }}"#);
        let line = eval_err(&n, &module, "targets", "not inside the home");
        assert!(
            line.starts_with(&format!(
                "home.file.\"{target}\": the target {what} is not inside the home /home/alice"
            )),
            "{line}"
        );
    }
}

#[test]
fn duplicate_targets_name_both_definitions() {
    let n = nixpkgs_or_skip!();
    let module = r#"{
      home.file.".config/app/rc".text = "a";
      xdg.configFile."app/rc".text = "b";
    }"#;
    assert_eq!(
        eval_ok(&n, module, "failedAssertions"),
        json!([".config/app/rc is the target of 2 files: home.file.\".config/app/rc\", xdg.configFile.\"app/rc\"; remove all but one or give them other targets"])
    );
    let line = eval_err(&n, module, "generation", "is not valid");
    assert_eq!(line, "hearth: the home of alice is not valid:");
}

// ---------------------------------------------------------------------------
// The spec handed to `hearth build-generation`

const FULL: &str = r##"{ lib, ... }:
let
  pkg = name: attrs: derivation ({
    inherit name;
    system = "x86_64-linux";
    builder = "/bin/sh";
  } // attrs);
  hello = pkg "hello-2.12" { outputs = [ "out" "dev" "man" ]; } // { meta.outputsToInstall = [ "out" "man" ]; };
  tool = pkg "tool-1.0" { };
in {
  home.file.".vimrc" = { text = "set number\n"; onChange = "echo vimrc changed"; };
  home.file.".local/bin/hi" = { text = "#!/bin/sh\necho hi\n"; executable = true; };
  home.file.".netrc" = { text = "machine x\n"; type = "copy"; mode = "600"; force = true; };
  home.file.".config/tree" = { source = "/nix/store/00000000000000000000000000000000-tree"; recursive = true; };
  home.backupFileExtension = "bak";
  home.packages = [ hello (lib.lowPrio tool) ];
  home.extraOutputsToInstall = [ "dev" ];
  home.sessionVariables = { EDITOR = "vim"; JOBS = 4; };
  home.sessionPath = [ "$HOME/.local/bin" ];
  home.activation.greet = lib.hm.dag.entryAfter [ "writeBoundary" ] "echo hi";
}"##;

#[test]
fn generation_spec() {
    let n = nixpkgs_or_skip!();
    let spec = eval_ok(&n, FULL, "spec");

    // The contract with `hearth build-generation`: exactly these fields.
    let keys: Vec<&str> = spec
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "activation",
            "backupExtension",
            "files",
            "hearth",
            "home",
            "packages",
            "sessionPath",
            "sessionVariables",
            "shell",
            "systemPackages",
            "user"
        ]
    );
    for file in spec["files"].as_array().unwrap() {
        let keys: Vec<&str> = file
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "definedBy",
                "executable",
                "force",
                "mode",
                "onChange",
                "recursive",
                "source",
                "target",
                "type"
            ]
        );
    }
    insta::assert_json_snapshot!("generation_spec", spec);

    // The packages environment given to `hearth build-env`: one entry per
    // installed output, priorities as nixpkgs sets them.
    insta::assert_json_snapshot!("packages_spec", eval_ok(&n, FULL, "packagesSpec"));

    // The generation is a derivation; instantiating it checks its inputs.
    let drv = eval_ok(&n, FULL, "generation");
    assert!(
        drv.as_str()
            .unwrap()
            .ends_with("-hearth-generation-alice.drv"),
        "{drv}"
    );
}

#[test]
fn no_packages_no_environment() {
    let n = nixpkgs_or_skip!();
    assert_eq!(eval_ok(&n, "{ }", "spec.packages"), Value::Null);
    // The platform modules install the packages themselves.
    let system = r#"{ lib, ... }: {
      hearth.installPackages = false;
      home.packages = [ (derivation { name = "x"; system = "x86_64-linux"; builder = "/bin/sh"; }) ];
    }"#;
    assert_eq!(eval_ok(&n, system, "spec.packages"), Value::Null);
}

/// Builds a generation with the real binary when it has
/// `build-generation` (the Rust side of the generation builder).
#[test]
fn generation_builds_with_the_hearth_binary() {
    let n = nixpkgs_or_skip!();
    let bin = env!("CARGO_BIN_EXE_hearth");
    let has = Command::new(bin)
        .args(["build-generation", "--help"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has {
        println!("skipped: this hearth has no build-generation subcommand yet");
        return;
    }
    let module = r#"{ lib, ... }: {
      home.homeDirectory = lib.mkForce "/home/alice";
      home.file.".vimrc".text = "set number\n";
      xdg.configFile."app/rc" = { text = "x=1\n"; onChange = "echo changed"; };
      home.activation.greet = lib.hm.dag.entryAfter [ "files" ] "echo hi";
    }"#;
    let out = Command::new("nix-build")
        .current_dir(root())
        .args([
            "--no-out-link",
            "--option",
            "substituters",
            "",
            "tests/nix/home.nix",
        ])
        .args(["--arg", "nixpkgs", &n, "--arg", "module", module])
        .args(["--arg", "hearthBin", bin, "-A", "build"])
        .output()
        .expect("run nix-build");
    assert!(
        out.status.success(),
        "nix-build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generation = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let check = Command::new(bin)
        .args(["check", &generation])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "hearth check {generation}:\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

// ---------------------------------------------------------------------------
// docs/options.md

/// docs/options.md documents exactly the options the modules declare (by
/// name: the text may differ with the nixpkgs version rendering types).
/// Regenerate it with scripts/options-doc.sh.
#[test]
fn options_doc_is_current() {
    let n = nixpkgs_or_skip!();
    let out = Command::new("nix-instantiate")
        .current_dir(root())
        .args(["--eval", "--strict", "--json", "docs/options.nix"])
        .args(["--arg", "nixpkgs", &n])
        .output()
        .expect("run nix-instantiate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered: String = serde_json::from_slice(&out.stdout).unwrap();
    let committed = std::fs::read_to_string(root().join("docs/options.md")).unwrap();
    let headings = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("### "))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        headings(&committed),
        headings(&rendered),
        "docs/options.md is out of date: run scripts/options-doc.sh"
    );
}
// ---------------------------------------------------------------------------
// The platform modules, over stand-ins of the NixOS / nix-darwin options

/// `nix-instantiate --eval --strict --json tests/nix/os.nix -A attr` with
/// extra arguments: the JSON value, or the error output.
fn try_eval_os(nixpkgs: &str, platform: &str, args: &[&str], attr: &str) -> Result<Value, String> {
    let out = Command::new("nix-instantiate")
        .current_dir(root())
        .args(["--eval", "--strict", "--json", "tests/nix/os.nix"])
        .args([
            "--arg", "nixpkgs", nixpkgs, "--argstr", "platform", platform,
        ])
        .args(args)
        .args(["-A", attr])
        .output()
        .expect("run nix-instantiate");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("nix-instantiate prints JSON"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn eval_os_with(nixpkgs: &str, platform: &str, args: &[&str], attr: &str) -> Value {
    try_eval_os(nixpkgs, platform, args, attr).unwrap_or_else(|e| panic!("evaluation failed:\n{e}"))
}

fn eval_os(nixpkgs: &str, platform: &str, attr: &str) -> Value {
    eval_os_with(nixpkgs, platform, &[], attr)
}

/// `nix-build tests/nix/os.nix -A attr` with extra arguments: the store path.
fn build_os(nixpkgs: &str, platform: &str, args: &[&str], attr: &str) -> String {
    let out = Command::new("nix-build")
        .current_dir(root())
        .args([
            "--no-out-link",
            "--option",
            "substituters",
            "",
            "tests/nix/os.nix",
        ])
        .args([
            "--arg", "nixpkgs", nixpkgs, "--argstr", "platform", platform,
        ])
        .args(args)
        .args(["-A", attr])
        .output()
        .expect("run nix-build");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Runs `program args` with only PATH and `envs` in its environment.
fn run_clean(program: &str, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", "/bin:/usr/bin")
        .envs(envs.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

fn sh(script: &str, envs: &[(&str, &str)]) -> std::process::Output {
    run_clean("/bin/sh", &["-c", script], envs)
}

#[test]
fn nixos_module_target_units_and_no_activation_script() {
    let n = nixpkgs_or_skip!();
    let gens = eval_os(&n, "nixos", "generations");
    let alice = gens["alice"].as_str().unwrap();

    // No activation script: they are deprecated, and not run at all with
    // system.nixos-init.enable.
    assert_eq!(eval_os(&n, "nixos", "activationScripts"), json!({}));

    // The target switch-to-configuration stops and starts again on every
    // switch, pulled in at boot.
    assert_eq!(
        eval_os(&n, "nixos", "targets"),
        json!({ "hearth": {
            "description": "hearth: the homes of all users",
            "wantedBy": ["multi-user.target"],
            "unitConfig": { "X-StopOnReconfiguration": true },
        }})
    );

    let units = eval_os(&n, "nixos", "units");
    assert_eq!(
        units.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["hearth-alice", "hearth-bob"]
    );
    let unit = &units["hearth-alice"];
    assert_eq!(unit["wantedBy"], json!(["hearth.target"]));
    assert_eq!(unit["partOf"], json!(["hearth.target"]));
    assert_eq!(
        unit["before"],
        json!(["hearth.target", "systemd-user-sessions.service"])
    );
    assert!(unit["after"]
        .as_array()
        .unwrap()
        .contains(&json!("nix-daemon.socket")));
    assert_eq!(
        unit["unitConfig"],
        json!({ "RequiresMountsFor": "/home/alice" })
    );
    let service = &unit["serviceConfig"];
    assert_eq!(service["User"], "alice");
    assert_eq!(service["Type"], "oneshot");
    assert_eq!(service["RemainAfterExit"], true);
    assert_eq!(service["TimeoutStartSec"], 300);
    assert_eq!(
        service["ExecStart"].as_str().unwrap(),
        format!("/nix/store/00000000000000000000000000000000-hearth/bin/hearth activate {alice}")
    );

    // The user's environment, never root's; PATH as NixOS renders it: nix,
    // then what NixOS gives every unit, systemd once.
    let env = unit["environment"].as_object().unwrap();
    assert_eq!(
        env.keys().collect::<Vec<_>>(),
        ["HOME", "LOGNAME", "PATH", "USER"]
    );
    assert_eq!(
        (&env["HOME"], &env["USER"], &env["LOGNAME"]),
        (&json!("/home/alice"), &json!("alice"), &json!("alice"))
    );
    let bins: Vec<&str> = env["PATH"]
        .as_str()
        .unwrap()
        .split(':')
        .filter(|d| d.ends_with("/bin"))
        .map(|d| d.trim_end_matches("/bin").split_once('-').unwrap().1)
        .collect();
    assert_eq!(
        bins,
        [
            "nix",
            "coreutils",
            "findutils",
            "gnugrep",
            "gnused",
            "systemd"
        ]
    );

    // Packages: the environment goes to users.users, not into the manifest.
    assert_eq!(
        eval_os(&n, "nixos", "alicePackages"),
        json!(["hearth-packages-alice"])
    );
    assert_eq!(eval_os(&n, "nixos", "bobPackages"), json!([]));
    assert_eq!(eval_os(&n, "nixos", "alicePackagesInManifest"), Value::Null);
    assert_eq!(eval_os(&n, "nixos", "failedAssertions"), json!([]));
}

/// /etc/hearth/homes.json, what `hearth plan --system` reads, on both
/// platforms.
#[test]
fn homes_json_lists_every_home() {
    let n = nixpkgs_or_skip!();
    for (platform, dir) in [("nixos", "/home"), ("darwin", "/Users")] {
        let gens = eval_os(&n, platform, "generations");
        let text = eval_os_with(
            &n,
            platform,
            &["--arg", "extra", "{ hearth.activationTimeout = 42; }"],
            "homesJson",
        );
        let homes: Value = serde_json::from_str(text.as_str().unwrap()).unwrap();
        assert_eq!(
            homes,
            json!({ "version": 1, "homes": [
                { "user": "alice", "home": format!("{dir}/alice"), "generation": gens["alice"], "timeout": 42 },
                { "user": "bob", "home": format!("{dir}/bob"), "generation": gens["bob"], "timeout": 42 },
            ]}),
            "{platform}"
        );
    }
}

/// hearth.activationTimeout: the unit's start timeout on NixOS, and
/// `activate-users --timeout` on nix-darwin, where the old
/// hearth.darwin.activationTimeout still works, with a warning.
#[test]
fn activation_timeout_on_both_platforms() {
    let n = nixpkgs_or_skip!();
    let set = ["--arg", "extra", "{ hearth.activationTimeout = 42; }"];
    assert_eq!(
        eval_os_with(
            &n,
            "nixos",
            &set,
            "units.hearth-bob.serviceConfig.TimeoutStartSec"
        ),
        42
    );
    let script = |args: &[&str]| -> String {
        eval_os_with(&n, "darwin", args, "activationScripts.postActivation.text")
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(script(&[]).contains(" --timeout 300;"), "{}", script(&[]));
    assert!(script(&set).contains(" --timeout 42;"), "{}", script(&set));
    let old = [
        "--arg",
        "extra",
        "{ hearth.darwin.activationTimeout = 43; }",
    ];
    assert!(script(&old).contains(" --timeout 43;"), "{}", script(&old));
    assert_eq!(
        eval_os_with(&n, "darwin", &old, "config.warnings"),
        json!(["The option `hearth.darwin.activationTimeout' defined in `<unknown-file>' has been renamed to `hearth.activationTimeout'."])
    );
}

/// A home whose user is not declared, or has no usable home directory, gets
/// one assertion from hearth that says what to set; evaluating the
/// assertions does not fail first.
#[test]
fn undeclared_users_get_one_assertion_each() {
    let n = nixpkgs_or_skip!();
    let cases = [
        // bob only exists through hearth's users.users.bob.packages.
        ("nixos", "{ alice.isNormalUser = true; }"),
        // A system user's home defaults to /var/empty.
        (
            "nixos",
            r#"{ alice = { isSystemUser = true; group = "alice"; }; bob.isNormalUser = true; }"#,
        ),
        // nix-darwin's home defaults to null.
        ("darwin", r#"{ alice.home = "/Users/alice"; }"#),
    ];
    let mut messages = Vec::new();
    for (platform, users) in cases {
        let failed = eval_os_with(&n, platform, &["--arg", "users", users], "failedAssertions");
        let failed: Vec<String> = serde_json::from_value(failed).unwrap();
        assert_eq!(failed.len(), 1, "{platform} {users}: {failed:?}");
        messages.push(format!("{platform} {users}:\n  {}", failed[0]));
    }
    insta::assert_snapshot!("undeclared_users", messages.join("\n"));
}

/// Extracts the README's examples marked as evaluated (a Nix flake each)
/// and evaluates them as written, with stand-ins of the flake's inputs: no
/// failed assertion, each home's generation instantiates, and `lib.hm`
/// steps are there.
#[test]
fn readme_examples_evaluate() {
    let n = nixpkgs_or_skip!();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let marker = "<!-- evaluated by tests/nix_modules.rs -->";
    let blocks: Vec<String> = readme
        .split(marker)
        .skip(1)
        .map(|rest| {
            let body = rest
                .trim_start()
                .strip_prefix("```nix\n")
                .expect("the marker is followed by a ```nix fence");
            body[..body.find("\n```").expect("a closing fence")].to_owned()
        })
        .collect();
    assert_eq!(blocks.len(), 2, "a NixOS and a nix-darwin example");

    let mut configurations = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        // The files the examples refer to, as a user would have them.
        let dir = crate::common::nix_eval::tempdir("nix_modules", &format!("readme-{i}"));
        std::fs::create_dir_all(dir.join("alice")).unwrap();
        std::fs::create_dir_all(dir.join("bob")).unwrap();
        std::fs::write(dir.join("flake.nix"), block).unwrap();
        std::fs::write(dir.join("configuration.nix"), "{ }\n").unwrap();
        std::fs::write(dir.join("alice/gitconfig"), "[user]\n").unwrap();
        std::fs::write(
            dir.join("bob/home.nix"),
            "{ home.file.\".bobrc\".text = \"bob\\n\"; }\n",
        )
        .unwrap();
        let flake = dir.join("flake.nix");
        let v = eval_os_with(
            &n,
            "nixos",
            &["--arg", "flake", flake.to_str().unwrap()],
            "readme",
        );
        for (kind, systems) in v.as_object().unwrap() {
            for (name, system) in systems.as_object().unwrap() {
                let what = format!("README {kind}.{name}");
                assert_eq!(system["failedAssertions"], json!([]), "{what}");
                assert_eq!(system["warnings"], json!([]), "{what}");
                for (user, drv) in system["generations"].as_object().unwrap() {
                    assert!(
                        drv.as_str()
                            .unwrap()
                            .ends_with(&format!("-hearth-generation-{user}.drv")),
                        "{what}: {drv}"
                    );
                }
                assert!(
                    system["activation"]["alice"]
                        .as_array()
                        .unwrap()
                        .contains(&json!("hello")),
                    "{what}: {system}"
                );
                configurations.push(kind.clone());
            }
        }
    }
    assert_eq!(
        configurations,
        ["nixosConfigurations", "darwinConfigurations"]
    );
}

/// The session variables script of each user's generation, built by the
/// real binary, reaches that user's login shells: bash and zsh through
/// set-environment (environment.extraInit), fish through its own snippet
/// (programs.fish.shellInit). Another user's variables are not applied, and
/// Home Manager's inherited guard does not hide hearth's.
#[test]
fn session_variables_reach_the_users_shells() {
    let n = nixpkgs_or_skip!();
    let bin = env!("CARGO_BIN_EXE_hearth");
    let args = ["--arg", "hearthBin", bin];
    let generation = build_os(&n, "nixos", &args, "generation");
    assert!(Path::new(&generation).join("hm-session-vars.sh").exists());
    let text = |attr: &str| -> String {
        serde_json::from_value(eval_os_with(&n, "nixos", &args, attr)).unwrap()
    };
    let dir = crate::common::nix_eval::tempdir("nix_modules", "session");
    let init = dir.join("set-environment");
    std::fs::write(&init, text("extraInit")).unwrap();
    assert!(text("extraInit").contains(&generation));

    let home = dir.to_str().unwrap();
    let env = |user: &'static str| -> Vec<(&str, &str)> {
        if user.is_empty() {
            vec![("HOME", home)]
        } else {
            vec![("HOME", home), ("USER", user)]
        }
    };
    let probe_sh = format!(". {}; echo \"EDITOR=${{EDITOR-unset}}\"", init.display());
    let expect = [
        ("alice", "EDITOR=vim\n"),
        ("bob", "EDITOR=unset\n"),
        ("", "EDITOR=unset\n"),
    ];

    let mut shells: Vec<(String, Vec<&str>, &str)> =
        vec![("/bin/bash".to_owned(), vec!["--norc", "-c"], &probe_sh)];
    for (shell, flags, probe) in [("zsh", vec!["-f", "-c"], probe_sh.as_str())] {
        if let Some(path) = which(shell) {
            shells.push((path, flags, probe));
        } else {
            let msg = format!("skipped: {shell} is not installed (apt-get install {shell})");
            println!("{msg}");
            eprintln!("{msg}");
        }
    }
    for (shell, flags, probe) in &shells {
        for (user, want) in expect {
            let mut a = flags.clone();
            a.push(probe);
            let out = run_clean(shell, &a, &env(user));
            assert!(out.status.success(), "{shell} as {user:?}: {out:?}");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                want,
                "{shell} as {user:?}: {out:?}"
            );
        }
        // Home Manager's guard, inherited, hides nothing of hearth's.
        let mut a = flags.clone();
        a.push(probe);
        let mut e = env("alice");
        e.push(("__HM_SESS_VARS_SOURCED", "1"));
        let out = run_clean(shell, &a, &e);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "EDITOR=vim\n",
            "{shell}: {out:?}"
        );
        // hearth's own guard, inherited from a parent shell: nothing again.
        let mut e = env("alice");
        e.push(("__HEARTH_SESS_VARS_SOURCED", "1"));
        let out = run_clean(shell, &a, &e);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "EDITOR=unset\n",
            "{shell}: {out:?}"
        );
    }

    // Run by fish (translated by babelfish, where FISH_VERSION is set), the
    // sh part does nothing: fish's own snippet applies the variables.
    let out = run_clean(
        "/bin/bash",
        &["--norc", "-c", &probe_sh],
        &[("HOME", home), ("USER", "alice"), ("FISH_VERSION", "3.7.0")],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "EDITOR=unset\n",
        "{out:?}"
    );
}

/// fish takes `$USER` from the uid it runs as, so its snippet is tried as a
/// real throwaway user with a home of its own in the configuration, and as
/// another user (nobody), who gets nothing.
#[test]
fn session_variables_reach_fish() {
    let n = nixpkgs_or_skip!();
    let Some(fish) = which("fish") else {
        let msg = "skipped: fish is not installed (apt-get install fish)";
        println!("{msg}");
        eprintln!("{msg}");
        return;
    };
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: needs root to run fish as a throwaway user");
        eprintln!("skipped: needs root to run fish as a throwaway user");
        return;
    }
    let user = crate::common::users::TestUser::create("hthfish", "nix-modules-fish");
    let extra = format!(
        r#"{{ users.users.{u}.isNormalUser = true; hearth.users.{u}.home.sessionVariables = {{ EDITOR = "fish-vim"; ONE = "a b=c"; }}; }}"#,
        u = user.name
    );
    let bin = env!("CARGO_BIN_EXE_hearth");
    let args = ["--arg", "hearthBin", bin, "--arg", "extra", &extra];
    let attr = format!("config.hearth.users.{}.home.generation", user.name);
    build_os(&n, "nixos", &args, &attr);
    let init: String =
        serde_json::from_value(eval_os_with(&n, "nixos", &args, "fishInit")).unwrap();
    let dir = crate::common::nix_eval::tempdir("nix_modules", "fish");
    let open = std::os::unix::fs::PermissionsExt::from_mode(0o777);
    std::fs::set_permissions(&dir, open).unwrap();
    let file = dir.join("config.fish");
    std::fs::write(&file, init).unwrap();
    let probe = format!(
        "source {}; set -q EDITOR; and echo EDITOR=$EDITOR ONE=$ONE; or echo EDITOR=unset; set -q __hearth_kv; and echo leaked; true",
        file.display()
    );
    let home = dir.to_str().unwrap();
    let as_uid = |uid: &str, envs: &[(&str, &str)]| -> String {
        let args = [
            "--reuid",
            uid,
            "--regid",
            uid,
            "--clear-groups",
            fish.as_str(),
            "--no-config",
            "-c",
            probe.as_str(),
        ];
        let mut e = vec![("HOME", home)];
        e.extend_from_slice(envs);
        let out = run_clean("/usr/bin/setpriv", &args, &e);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let uid = user.uid.to_string();
    assert_eq!(as_uid(&uid, &[]), "EDITOR=fish-vim ONE=a b=c\n");
    // Home Manager's inherited guard hides nothing; hearth's own, inherited
    // (or set through fenv), means the variables are there already.
    assert_eq!(
        as_uid(&uid, &[("__HM_SESS_VARS_SOURCED", "1")]),
        "EDITOR=fish-vim ONE=a b=c\n"
    );
    assert_eq!(
        as_uid(&uid, &[("__HEARTH_SESS_VARS_SOURCED", "1")]),
        "EDITOR=unset\n"
    );
    // Another user, even with USER set to this one: nothing.
    assert_eq!(as_uid("65534", &[("USER", &user.name)]), "EDITOR=unset\n");
}

fn which(program: &str) -> Option<String> {
    ["/usr/bin", "/bin", "/usr/local/bin"]
        .into_iter()
        .map(|d| format!("{d}/{program}"))
        .find(|p| Path::new(p).exists())
}

/// nix-darwin: all users are activated by one `hearth activate-users` run
/// (which goes on after a user's failure and names it in its summary, see
/// tests/root.rs); the rest of the activation script still runs, and it ends
/// non-zero. bin/hearth is a stand-in that fails for bob: what is tested is
/// the shell around it.
#[test]
fn darwin_activation_goes_on_after_a_failure_and_names_it() {
    let n = nixpkgs_or_skip!();
    let stand_in = "#!/bin/sh\necho \"hearth $*\"\ncase \"$*\" in *' bob='*) echo 'hearth: the activation failed for 1 of 2: bob' >&2; exit 1;; esac\n";
    let args = ["--argstr", "hearthScript", stand_in];
    build_os(&n, "darwin", &args, "hearthPackage");
    let text: String = serde_json::from_value(eval_os_with(
        &n,
        "darwin",
        &args,
        "activationScripts.postActivation.text",
    ))
    .unwrap();
    let script = format!("set -e\n{text}\necho the rest of the activation\n");
    let out = sh(&script, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with("hearth activate-users alice=/nix/store/"),
        "{stdout}"
    );
    assert!(lines[0].contains(" bob=/nix/store/"), "{stdout}");
    assert!(lines[0].ends_with(" --timeout 300"), "{stdout}");
    assert_eq!(lines[1], "the rest of the activation");
    assert!(
        stderr.ends_with("hearth: the activation of some homes failed (see the summary above)\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hearth: the activation failed for 1 of 2: bob"),
        "{stderr}"
    );
}
