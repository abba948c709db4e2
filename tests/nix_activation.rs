//! Home Manager's activation contract, in hearth's home module: its anchors
//! as nodes of the DAG sorted exactly as Home Manager sorts them (the
//! expected orders below were computed with Home Manager's own
//! `lib.hm.dag.topoSort` and are written out here), the cut into hearth's
//! check and files phases at `linkGeneration` and the onChange hooks at
//! `onFilesChange`, priorities on entries, the
//! environment Home Manager's steps expect (built into real generations and
//! activated into throwaway homes), and `hm-session-vars.sh` in the
//! packages environment.
//!
//! Needs nixpkgs' lib: `HEARTH_NIXPKGS` (a nixpkgs or nixpkgs.lib checkout,
//! or its lib directory), else `<nixpkgs>` from `NIX_PATH`. Without either,
//! each test prints "skipped: no nixpkgs" and passes.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

use crate::common;
use crate::common::nix_eval::{eval_home as eval, eval_home_ok as eval_ok, instantiate};

/// (name, phase) of each step of home.activation, in order.
fn phases(v: &Value) -> Vec<(String, String)> {
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

/// Home Manager's anchors, constrained as its core modules constrain them
/// (on Linux, where its systemd module adds `reloadSystemd`), as Nix
/// source over a DAG library `d`.
const HM_ANCHORS: &str = r#"{
  writeBoundary = d.entryAnywhere "";
  installPackages = d.entryAfter [ "writeBoundary" ] "";
  checkLinkTargets = d.entryBefore [ "writeBoundary" ] "";
  linkGeneration = d.entryAfter [ "writeBoundary" ] "";
  checkFilesChanged = d.entryBefore [ "linkGeneration" ] "";
  onFilesChange = d.entryAfter [ "linkGeneration" ] "";
  reloadSystemd = d.entryAfter [ "linkGeneration" ] "";
}"#;

/// DAGs (Nix source over `d`) and the order Home Manager's own
/// `lib.hm.dag.topoSort` gives them with its anchors (evaluated with Home
/// Manager's modules/lib/dag.nix and nixpkgs' lib; written out here).
const CASES: &[(&str, &[&str])] = &[
    (
        "{ }",
        &[
            "checkFilesChanged",
            "checkLinkTargets",
            "writeBoundary",
            "installPackages",
            "linkGeneration",
            "onFilesChange",
            "reloadSystemd",
        ],
    ),
    (
        r#"{ myStep = d.entryAfter [ "writeBoundary" ] ""; }"#,
        &[
            "checkFilesChanged",
            "checkLinkTargets",
            "writeBoundary",
            "installPackages",
            "linkGeneration",
            "myStep",
            "onFilesChange",
            "reloadSystemd",
        ],
    ),
    (
        r#"{
          aStep = d.entryAfter [ "writeBoundary" ] "";
          zStep = d.entryAfter [ "writeBoundary" ] "";
          iStep = d.entryAfter [ "writeBoundary" ] "";
        }"#,
        &[
            "checkLinkTargets",
            "writeBoundary",
            "aStep",
            "checkFilesChanged",
            "iStep",
            "installPackages",
            "linkGeneration",
            "onFilesChange",
            "reloadSystemd",
            "zStep",
        ],
    ),
    (
        r#"{ aaa = d.entryAnywhere ""; zzz = d.entryAnywhere ""; mmm = d.entryAnywhere ""; }"#,
        &[
            "aaa",
            "checkFilesChanged",
            "checkLinkTargets",
            "writeBoundary",
            "installPackages",
            "linkGeneration",
            "mmm",
            "onFilesChange",
            "reloadSystemd",
            "zzz",
        ],
    ),
    (
        r#"{
          nvd = d.entryAfter [ "writeBoundary" ] "";
          zed = d.entryAfter [ "linkGeneration" ] "";
          early = d.entryBefore [ "checkLinkTargets" ] "";
        }"#,
        &[
            "checkFilesChanged",
            "early",
            "checkLinkTargets",
            "writeBoundary",
            "installPackages",
            "linkGeneration",
            "nvd",
            "onFilesChange",
            "reloadSystemd",
            "zed",
        ],
    ),
    (
        r#"{ between = d.entryBetween [ "linkGeneration" ] [ "writeBoundary" ] ""; }"#,
        &[
            "checkLinkTargets",
            "writeBoundary",
            "between",
            "checkFilesChanged",
            "installPackages",
            "linkGeneration",
            "onFilesChange",
            "reloadSystemd",
        ],
    ),
    (
        r#"{
          createDirs = d.entryAfter [ "writeBoundary" ] "";
          gitHooks = d.entryAfter [ "createDirs" "linkGeneration" ] "";
          announce = d.entryAfter [ "writeBoundary" ] "";
        }"#,
        &[
            "checkLinkTargets",
            "writeBoundary",
            "announce",
            "checkFilesChanged",
            "createDirs",
            "linkGeneration",
            "gitHooks",
            "installPackages",
            "onFilesChange",
            "reloadSystemd",
        ],
    ),
    (
        r#"{
          dconfSettings = d.entryAfter [ "installPackages" ] "";
          uninstall = d.entryAfter [ "installPackages" "linkGeneration" ] "";
          report = d.entryAnywhere "";
        }"#,
        &[
            "checkFilesChanged",
            "checkLinkTargets",
            "writeBoundary",
            "installPackages",
            "dconfSettings",
            "linkGeneration",
            "onFilesChange",
            "reloadSystemd",
            "report",
            "uninstall",
        ],
    ),
    (
        r#"{
          a = d.entryBefore [ "writeBoundary" ] "";
          b = d.entryAfter [ "a" ] "";
          c = d.entryBetween [ "b" ] [ "a" ] "";
          x = d.entryAfter [ "onFilesChange" ] "";
          y = d.entryBefore [ "x" ] "";
        }"#,
        &[
            "a",
            "c",
            "b",
            "checkFilesChanged",
            "checkLinkTargets",
            "writeBoundary",
            "installPackages",
            "linkGeneration",
            "onFilesChange",
            "reloadSystemd",
            "y",
            "x",
        ],
    ),
    (
        r#"{
          z1 = d.entryAnywhere "";
          a1 = d.entryBefore [ "z1" ] "";
          m1 = d.entryAfter [ "nothere" ] "";
          c1 = d.entryBefore [ "checkFilesChanged" ] "";
        }"#,
        &[
            "a1",
            "c1",
            "checkFilesChanged",
            "checkLinkTargets",
            "writeBoundary",
            "installPackages",
            "linkGeneration",
            "m1",
            "onFilesChange",
            "reloadSystemd",
            "z1",
        ],
    ),
];

const ANCHOR_NAMES: &[&str] = &[
    "checkFilesChanged",
    "checkLinkTargets",
    "writeBoundary",
    "installPackages",
    "linkGeneration",
    "onFilesChange",
    "reloadSystemd",
];

/// hearth's DAG library sorts each DAG exactly as Home Manager's does,
/// ties included.
#[test]
fn dag_sorts_as_home_managers_topo_sort() {
    let n = nixpkgs_or_skip!();
    for (dag, expected) in CASES {
        let expr = format!(
            "let d = import ./nix/lib/dag.nix {{ lib = import ./tests/nix/lib.nix {n}; }}; \
             in map (e: e.name) (d.topoSort ({HM_ANCHORS} // {dag})).result"
        );
        let got = instantiate(&["--expr", &expr]).unwrap_or_else(|e| panic!("{dag}:\n{e}"));
        assert_eq!(got, json!(expected), "{dag}");
    }
}

/// The same DAGs as home.activation: valid (Home Manager's anchors are
/// nodes of their own, so `entryBefore [ "checkLinkTargets" ]` and
/// `entryBetween [ "linkGeneration" ] [ "writeBoundary" ]` are no cycles),
/// the steps in Home Manager's order, those sorted before `linkGeneration`
/// in the check phase, those between it and `onFilesChange` after the files
/// but before the onChange hooks (`linked`), the rest after both.
#[test]
fn activation_runs_in_home_managers_order_cut_at_link_generation() {
    let n = nixpkgs_or_skip!();
    for (dag, hm_order) in CASES {
        let module =
            format!("{{ lib, ... }}: {{ home.activation = let d = lib.hm.dag; in {dag}; }}");
        let got = phases(&eval_ok(&n, &module, "activation"));
        let at = |anchor| hm_order.iter().position(|s| *s == anchor).unwrap();
        let (link, hooks) = (at("linkGeneration"), at("onFilesChange"));
        let expected: Vec<(String, String)> = hm_order
            .iter()
            .enumerate()
            .filter(|(_, s)| !ANCHOR_NAMES.contains(s))
            .map(|(i, s)| {
                let phase = if i < link {
                    "check"
                } else if i < hooks {
                    "linked"
                } else {
                    "files"
                };
                ((*s).to_owned(), phase.to_owned())
            })
            .collect();
        assert_eq!(got, expected, "{dag}");
    }

    // Written out once, for the common Home Manager steps (Home Manager:
    // early checkLinkTargets writeBoundary announce checkFilesChanged
    // createDirs linkGeneration gitHooks installPackages onFilesChange
    // reloadSystemd report, with `report` after linkGeneration; `files` is
    // hearth's name for it).
    let module = r#"{ lib, ... }: {
      home.activation = {
        createDirs = lib.hm.dag.entryAfter [ "writeBoundary" ] "mkdir -p $HOME/src";
        gitHooks = lib.hm.dag.entryAfter [ "createDirs" "linkGeneration" ] "true";
        announce = lib.hm.dag.entryAfter [ "writeBoundary" ] "echo hi";
        early = lib.hm.dag.entryBefore [ "checkLinkTargets" ] "true";
        report = lib.hm.dag.entryAfter [ "files" ] "true";
      };
    }"#;
    assert_eq!(
        phases(&eval_ok(&n, module, "activation")),
        [
            ("early", "check"),
            ("announce", "check"),
            ("createDirs", "check"),
            ("gitHooks", "linked"),
            ("report", "files"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
}

/// Without Linux's `reloadSystemd` (nix-darwin), the ties fall as Home
/// Manager's on Darwin; a step after `reloadSystemd` then has nothing to
/// wait for, as in Home Manager.
#[test]
fn activation_on_darwin_has_no_reload_systemd_anchor() {
    let n = nixpkgs_or_skip!();
    let dag = r#"{
      aaa = lib.hm.dag.entryAnywhere "";
      zzz = lib.hm.dag.entryAnywhere "";
      mmm = lib.hm.dag.entryAnywhere "";
      rs = lib.hm.dag.entryAfter [ "reloadSystemd" ] "";
    }"#;
    let order = |system: &str| {
        let module = format!(
            "{{ lib, ... }}: {{ hearth.system = lib.mkForce \"{system}\"; home.activation = {dag}; }}"
        );
        phases(&eval_ok(&n, &module, "activation"))
    };
    // Home Manager: aaa checkFilesChanged checkLinkTargets writeBoundary
    // installPackages linkGeneration mmm onFilesChange [reloadSystemd] rs zzz.
    let expected = [
        ("aaa", "check"),
        ("mmm", "linked"),
        ("rs", "files"),
        ("zzz", "files"),
    ]
    .map(|(a, b)| (a.to_owned(), b.to_owned()));
    assert_eq!(order("x86_64-linux"), expected);
    assert_eq!(order("aarch64-darwin"), expected);
}

/// Cycles are still errors, naming their entries; Home Manager's anchors
/// cannot be steps.
#[test]
fn activation_cycles_and_anchor_names() {
    let n = nixpkgs_or_skip!();
    let cycle = r#"{ lib, ... }: {
      home.activation.a = lib.hm.dag.entryBetween [ "checkLinkTargets" ] [ "linkGeneration" ] "true";
    }"#;
    let err = eval(&n, cycle, "activation").unwrap_err();
    let line = err
        .lines()
        .find(|l| l.contains("form a cycle"))
        .unwrap_or_else(|| panic!("{err}"))
        .trim()
        .trim_start_matches("error: ");
    insta::assert_snapshot!("activation_cycle_through_anchors", line);

    let v = eval_ok(
        &n,
        r#"{ home.activation.writeBoundary = "echo no"; }"#,
        "failedAssertions",
    );
    assert_eq!(
        v,
        json!(["home.activation.writeBoundary: `writeBoundary` is a built-in anchor of home.activation, not a step; give the step another name"])
    );
}

/// `lib.mkBefore`, `lib.mkAfter` and `lib.mkOrder` on entries work as in
/// Home Manager (the expected texts are what its `dagOf` gives): on plain
/// text they order the definitions of one entry; on a DAG entry, or on the
/// whole attribute set, they are accepted and do not order the entry's
/// text (Home Manager keeps such a definition as it is).
#[test]
fn priorities_on_entries() {
    let n = nixpkgs_or_skip!();
    let module = r#"[
      ({ lib, ... }: {
        home.activation.plain = lib.mkAfter "echo last";
        home.activation.entry = lib.mkBefore (lib.hm.dag.entryAfter [ "linkGeneration" ] "echo first");
        home.activation.ordered = lib.mkOrder 1500 "echo 1500";
        home.activation.whole = "echo whole";
      })
      ({ lib, ... }: {
        home.activation.plain = lib.mkBefore "echo first";
        home.activation.entry = "echo second";
        home.activation.ordered = lib.mkOrder 200 "echo 200";
      })
      ({ lib, ... }: {
        home.activation.plain = "echo middle";
        home.activation.ordered = "echo 1000";
      })
      ({ lib, ... }: { home.activation = lib.mkBefore { whole = "echo before"; }; })
    ]"#;
    let v = eval_ok(&n, module, "activation");
    let text = |name: &str| -> String {
        v.as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no step {name} in {v}"))["text"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(text("plain"), "echo first\necho middle\necho last");
    assert_eq!(text("entry"), "echo second\necho first");
    assert_eq!(text("ordered"), "echo 200\necho 1000\necho 1500");
    assert_eq!(text("whole"), "echo whole\necho before");
    // The entry's constraint holds: after linkGeneration (and, in Home
    // Manager's sort, before onFilesChange).
    assert_eq!(
        phases(&v),
        [
            ("entry", "linked"),
            ("ordered", "files"),
            ("plain", "files"),
            ("whole", "files"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
}

// ---------------------------------------------------------------------------
// Built and activated

/// The generation of `module` for the current user and `home`, built with
/// the hearth binary under test.
fn build(n: &str, home: &common::TestHome, module: &str) -> PathBuf {
    common::nix_eval::build_home(n, home, module)
        .unwrap_or_else(|e| panic!("nix-build failed:\n{e}"))
}

/// Steps written for Home Manager, in bash (as hearth runs them when the
/// home is evaluated with `pkgs`): each logs what it sees.
fn hm_steps(shell: &str, version: u32) -> String {
    format!(
        r#"{{ lib, ... }}: {{
      hearth.shell = lib.mkForce "{shell}";
      home.file.".marker".text = "{version}\n";
      home.activation = {{
        # Before the files: sees the old marker, or none.
        inspect = lib.hm.dag.entryAfter [ "writeBoundary" ] ''
          echo "inspect pwd=$PWD marker=$(cat .marker 2>/dev/null || echo none)" >> log
          run touch ran-in-check
          run echo x
          run --quiet echo quiet
          run --silence sh -c 'echo silent; echo silent >&2'
          verboseEcho verbose
          noteEcho "note $VERBOSE_ARG."
          $DRY_RUN_CMD touch dry-run-cmd
        '';
        reportChanges = lib.hm.dag.entryAfter [ "linkGeneration" ] ''
          if [[ -v oldGenPath ]]; then
            echo "diff $oldGenPath $newGenPath" >> log
          else
            echo "first $newGenPath" >> log
          fi
          echo "report marker=$(cat .marker)" >> log
        '';
        pipefail = lib.hm.dag.entryAfter [ "reportChanges" ] ''
          if false | true; then echo "pipefail off" >> log; else echo "pipefail on" >> log; fi
        '';
      }};
    }}"#
    )
}

fn log_lines(home: &common::TestHome) -> Vec<String> {
    let log = home.join("log");
    if !log.exists() {
        return Vec::new();
    }
    common::read_file(home.path(), "log")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Steps written for Home Manager get its environment: `$oldGenPath`
/// (unset on a first activation) and `$newGenPath`, the home as working
/// directory, `run` (only echoing in a dry run; `--quiet` and `--silence`),
/// `$DRY_RUN_CMD`, `verboseEcho`, `noteEcho`, `set -eu -o pipefail`.
#[test]
fn home_manager_steps_get_their_environment() {
    let n = nixpkgs_or_skip!();
    let home = common::TestHome::new();
    let g1 = build(&n, &home, &hm_steps("/bin/bash", 1));
    let g2 = build(&n, &home, &hm_steps("/bin/bash", 2));
    let (g1s, g2s) = (common::path_str(&g1), common::path_str(&g2));
    let h = common::path_str(home.path()).to_owned();

    // A dry run: the check-phase step runs with `run` only echoing.
    let dry = home.hearth(["activate", "--dry-run", g1s]);
    dry.assert_ok();
    assert_eq!(log_lines(&home), [format!("inspect pwd={h} marker=none")]);
    assert!(!home.join("ran-in-check").exists());
    assert!(!home.join("dry-run-cmd").exists());
    let dry_out = dry.stdout.clone();
    for echoed in [
        "touch ran-in-check",
        "echo x",
        "echo quiet",
        "touch dry-run-cmd",
    ] {
        assert!(dry_out.contains(echoed), "{echoed:?} not in:\n{dry_out}");
    }
    std::fs::remove_file(home.join("log")).unwrap();

    // `hearth plan` is a dry run too.
    home.hearth(["plan", g1s]).assert_ok();
    assert!(!home.join("ran-in-check").exists());
    std::fs::remove_file(home.join("log")).unwrap();

    // The first activation: no oldGenPath.
    let first = home.hearth(["activate", g1s]);
    first.assert_ok();
    assert_eq!(
        log_lines(&home),
        [
            format!("inspect pwd={h} marker=none"),
            format!("first {g1s}"),
            "report marker=1".to_owned(),
            "pipefail on".to_owned(),
        ]
    );
    assert!(home.join("ran-in-check").exists());
    assert!(home.join("dry-run-cmd").exists());
    let out = first.stdout.clone();
    // Step output is shown under the step's name.
    assert!(out.lines().any(|l| l == "[inspect] x"), "{out}");
    assert!(out.lines().any(|l| l == "[inspect] note ."), "{out}");
    assert!(
        !out.contains("quiet") && !out.contains("silent") && !out.contains("verbose"),
        "{out}"
    );
    std::fs::remove_file(home.join("log")).unwrap();

    // The second: `nvd diff $oldGenPath $newGenPath` would see both.
    home.hearth(["activate", g2s]).assert_ok();
    assert_eq!(
        log_lines(&home),
        [
            format!("inspect pwd={h} marker=1"),
            format!("diff {g1s} {g2s}"),
            "report marker=2".to_owned(),
            "pipefail on".to_owned(),
        ]
    );
}

/// The onChange hooks run where Home Manager runs them, at
/// `onFilesChange`: a step `entryAfter [ "linkGeneration" ]` that Home
/// Manager's sort puts before `onFilesChange` runs after the files but
/// before the hook, one it puts after (same constraint, another name), and
/// one `entryAfter [ "onFilesChange" ]`, after the hook; each sees the new
/// files.
#[test]
fn on_change_hooks_run_at_on_files_change() {
    let n = nixpkgs_or_skip!();
    let module = |version: u32| {
        format!(
            r#"{{ lib, ... }}: {{
          home.file.".inputrc" = {{
            text = "{version}\n";
            onChange = ''echo "hook $(cat .inputrc)" >> log'';
          }};
          home.activation = {{
            aaa = lib.hm.dag.entryAfter [ "linkGeneration" ] ''echo "aaa $(cat .inputrc)" >> log'';
            zzz = lib.hm.dag.entryAfter [ "linkGeneration" ] ''echo "zzz $(cat .inputrc)" >> log'';
            report = lib.hm.dag.entryAfter [ "onFilesChange" ] ''echo "report $(cat .inputrc)" >> log'';
          }};
        }}"#
        )
    };
    // Home Manager's sort: aaa, onFilesChange, report, zzz.
    assert_eq!(
        phases(&eval_ok(&n, &module(1), "activation")),
        [("aaa", "linked"), ("report", "files"), ("zzz", "files")]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let home = common::TestHome::new();
    let g1 = build(&n, &home, &module(1));
    let g2 = build(&n, &home, &module(2));
    for (gen, v) in [(&g1, 1), (&g2, 2)] {
        home.hearth(["activate", common::path_str(gen)]).assert_ok();
        assert_eq!(
            log_lines(&home),
            ["aaa", "hook", "report", "zzz"].map(|s| format!("{s} {v}")),
            "generation {v}"
        );
        std::fs::remove_file(home.join("log")).unwrap();
    }
    // Nothing changed: no hook, the steps still run.
    home.hearth(["activate", common::path_str(&g2)]).assert_ok();
    assert_eq!(log_lines(&home), ["aaa 2", "report 2", "zzz 2"]);
}

/// The preamble is POSIX: with /bin/sh (a home evaluated without `pkgs`)
/// the same helpers work in a step that uses no bash.
#[test]
fn posix_steps_get_the_same_helpers() {
    let n = nixpkgs_or_skip!();
    let home = common::TestHome::new();
    let module = r#"{ lib, ... }: {
      hearth.shell = lib.mkForce "/bin/sh";
      home.activation.posix = lib.hm.dag.entryAfter [ "linkGeneration" ] ''
        echo "old=''${oldGenPath-unset} new=$newGenPath dry=''${DRY_RUN-unset}" >> log
        run --silence sh -c 'echo silent >&2'
        run echo x >> log
        noteEcho note
      '';
    }"#;
    let g = build(&n, &home, module);
    let gs = common::path_str(&g);
    home.hearth(["activate", gs]).assert_ok();
    assert_eq!(
        log_lines(&home),
        [format!("old=unset new={gs} dry=unset"), "x".to_owned()]
    );
}

// ---------------------------------------------------------------------------
// hm-session-vars.sh in the packages environment

/// The packages environment holds `etc/profile.d/hm-session-vars.sh`, the
/// same file as the generation's (extras included), where Home Manager
/// users' shell files source it: the profile standalone,
/// /etc/profiles/per-user/$USER on NixOS and nix-darwin.
#[test]
fn session_vars_are_in_the_packages_environment() {
    let n = nixpkgs_or_skip!();
    let home = common::TestHome::new();
    let module = r#"{ lib, ... }: {
      home.packages = [
        (derivation {
          name = "tool-1.0";
          system = builtins.currentSystem;
          builder = "/bin/sh";
          PATH = "/bin:/usr/bin";
          args = [ "-c" "mkdir -p $out/bin; printf '#!/bin/sh\\necho tool\\n' > $out/bin/tool" ];
        })
      ];
      home.sessionVariables = { EDITOR = "vim"; GREETING = "hello $USER"; };
      home.sessionPath = [ "$HOME/bin" ];
      home.sessionVariablesExtra = "export EXTRA=yes";
    }"#;
    let g = build(&n, &home, module);
    let manifest: Value = serde_json::from_str(&common::read_file(&g, "manifest.json")).unwrap();
    let env = PathBuf::from(manifest["packages"].as_str().expect("an environment"));
    let in_env = env.join("etc/profile.d/hm-session-vars.sh");
    assert_eq!(
        std::fs::read_to_string(&in_env).unwrap(),
        common::read_file(&g, "hm-session-vars.sh")
    );
    assert!(std::fs::read_to_string(&in_env)
        .unwrap()
        .contains("export EXTRA=yes"));

    home.hearth(["activate", common::path_str(&g)]).assert_ok();
    let profile = home.join(".local/state/nix/profiles/hearth-packages");
    let script = format!(
        ". {}/etc/profile.d/hm-session-vars.sh; echo \"$EDITOR|$GREETING|$EXTRA|$PATH\"",
        profile.display()
    );
    let out = Command::new("/bin/sh")
        .args(["-c", &script])
        .env_clear()
        .env("HOME", home.path())
        .env("USER", "alice")
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!(
            "vim|hello alice|yes|{}/bin:/usr/bin:/bin\n",
            home.path().display()
        )
    );

    // No packages, no environment: the file is only in the generation.
    let bare = build(&n, &home, "{ home.sessionVariables.EDITOR = \"vim\"; }");
    let manifest: Value = serde_json::from_str(&common::read_file(&bare, "manifest.json")).unwrap();
    assert_eq!(manifest["packages"], Value::Null);
}
