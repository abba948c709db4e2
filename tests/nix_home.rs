//! Home Manager's core options and `lib.hm`, in hearth's home module
//! (nix/home-module.nix): each evaluated with nixpkgs' lib as the platform
//! modules evaluate it, and the ones that change what lands in a home built
//! with the real `hearth` and activated into a throwaway home.
//!
//! Needs nixpkgs' lib: `HEARTH_NIXPKGS` (a nixpkgs or nixpkgs.lib checkout,
//! or its lib directory), else `<nixpkgs>` from `NIX_PATH`. Without either,
//! each test prints "skipped: no nixpkgs" and passes.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::common;
use crate::common::nix_eval::{eval_home as eval, eval_home_ok as eval_ok, root};

/// The generation of `module` for the current user and `home`, built with
/// the hearth binary under test.
fn build(n: &str, home: &common::TestHome, module: &str) -> PathBuf {
    try_build(n, home, module).unwrap_or_else(|e| panic!("nix-build failed:\n{e}"))
}

/// As `build`: the generation, or nix-build's error output.
fn try_build(n: &str, home: &common::TestHome, module: &str) -> Result<PathBuf, String> {
    common::nix_eval::build_home(n, home, module)
}

/// `sh -c script` with a clean environment but HOME: its stdout.
fn sh(shell: &str, args: &[&str], home: &Path) -> String {
    let out = Command::new(shell)
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("run a shell");
    assert!(
        out.status.success(),
        "{shell} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `nix-build tests/nix/home.nix -A attr` with the hearth under test, for
/// the generation's `/home/alice`: the store path.
fn build_attr(n: &str, module: &str, attr: &str) -> PathBuf {
    common::nix_available();
    let out = Command::new("nix-build")
        .current_dir(root())
        .args(["--no-out-link", "--option", "substituters", ""])
        .arg("tests/nix/home.nix")
        .args(["--arg", "nixpkgs", n, "--arg", "module", module])
        .args([
            "--arg",
            "hearthBin",
            env!("CARGO_BIN_EXE_hearth"),
            "-A",
            attr,
        ])
        .output()
        .expect("run nix-build");
    assert!(
        out.status.success(),
        "nix-build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

// ---------------------------------------------------------------------------
// home.*: the options real configurations set first

/// What nearly every Home Manager configuration starts with evaluates, and
/// the options with no effect in hearth change nothing in the spec.
#[test]
fn home_manager_preamble_is_accepted_and_changes_nothing() {
    let n = nixpkgs_or_skip!();
    let preamble = r#"{ lib, ... }: {
      home.stateVersion = "24.05";
      home.enableNixpkgsReleaseCheck = false;
      home.uid = 1000;
      programs.home-manager.enable = true;
      programs.home-manager.path = "$HOME/src/home-manager";
      news.display = "silent";
      meta.maintainers = [ { name = "Alice"; github = "alice"; } ];
      home.file.".x".text = "x";
    }"#;
    let plain = r#"{ ... }: { home.file.".x".text = "x"; }"#;
    assert_eq!(eval_ok(&n, preamble, "spec"), eval_ok(&n, plain, "spec"));
    assert_eq!(eval_ok(&n, preamble, "config.home.uid"), json!(1000));
    // Unset, it is null: hearth has no defaults that depend on it.
    assert_eq!(eval_ok(&n, plain, "config.home.stateVersion"), Value::Null);
    // A release name, as Home Manager's; anything else is a type error.
    let err = eval(
        &n,
        r#"{ home.stateVersion = "latest"; }"#,
        "config.home.stateVersion",
    )
    .expect_err("not a release");
    assert!(err.contains("home.stateVersion"), "{err}");
}

#[test]
fn home_directory_and_xdg_dirs_take_paths_and_trailing_slashes() {
    let n = nixpkgs_or_skip!();
    let module = r#"{ lib, ... }: {
      home.homeDirectory = lib.mkForce "/home/alice//";
      xdg.enable = true;
      xdg.configHome = /home/alice/cfg;
      xdg.configFile."git/config".text = "[user]\n";
    }"#;
    assert_eq!(eval_ok(&n, module, "spec.home"), json!("/home/alice"));
    assert_eq!(
        eval_ok(&n, module, "targets"),
        json!(["cfg/git/config"]),
        "a path value for xdg.configHome is its string"
    );
    let vars = eval_ok(&n, module, "spec.sessionVariables");
    assert_eq!(vars["XDG_CONFIG_HOME"], json!("/home/alice/cfg"));
    assert_eq!(vars["XDG_BIN_HOME"], json!("/home/alice/.local/bin"));
    assert_eq!(
        eval_ok(
            &n,
            r#"{ lib, ... }: { home.homeDirectory = lib.mkForce "/"; }"#,
            "spec.home"
        ),
        json!("/")
    );
}

/// null is left out, booleans are "true"/"false" (Home Manager's, not
/// Nix's toString), numbers and paths are strings.
#[test]
fn session_variables_as_home_manager_writes_them() {
    let n = nixpkgs_or_skip!();
    let module = r#"{ lib, ... }: {
      home.sessionVariables = {
        EDITOR = "vim";
        LESSHISTFILE = null;
        NIXOS_OZONE_WL = true;
        MOZ_X11 = false;
        JOBS = 4;
        NOTES = /home/alice/notes;
      };
    }"#;
    assert_eq!(
        eval_ok(&n, module, "spec.sessionVariables"),
        json!({
            "EDITOR": "vim",
            "NIXOS_OZONE_WL": "true",
            "MOZ_X11": "false",
            "JOBS": "4",
            "NOTES": "/home/alice/notes",
        })
    );
}

#[test]
fn search_variables_prepend_and_path_is_session_path() {
    let n = nixpkgs_or_skip!();
    let module = r#"{ lib, ... }: {
      home.sessionPath = [ "$HOME/bin" ];
      home.sessionSearchVariables = {
        PATH = [ "$HOME/go/bin" ];
        MANPATH = [ "$HOME/.local/share/man" "/opt/man" ];
        INFOPATH = [ "/opt/info" ];
      };
      home.sessionVariables.INFOPATH = "/usr/share/info";
      xdg.enable = true;
      xdg.localBinInPath = true;
    }"#;
    let spec = eval_ok(&n, module, "spec");
    // As in Home Manager: the whole of sessionPath (binHome last in it,
    // mkAfter) is one definition of sessionSearchVariables.PATH, merged
    // with the user's.
    assert_eq!(
        spec["sessionPath"],
        json!(["$HOME/bin", "/home/alice/.local/bin", "$HOME/go/bin"])
    );
    assert_eq!(
        spec["sessionVariables"]["MANPATH"],
        json!("$HOME/.local/share/man:/opt/man${MANPATH:+:}$MANPATH")
    );
    assert_eq!(
        spec["sessionVariables"]["INFOPATH"],
        json!("/opt/info:/usr/share/info")
    );
    // localBinInPath does nothing without xdg.enable, as in Home Manager.
    let off = "{ xdg.localBinInPath = true; }";
    assert_eq!(eval_ok(&n, off, "spec.sessionPath"), json!([]));
}

#[test]
fn generic_linux_sets_the_session_search_paths() {
    let n = nixpkgs_or_skip!();
    let vars = eval_ok(
        &n,
        "{ targets.genericLinux.enable = true; }",
        "spec.sessionVariables",
    );
    let profile = "/home/alice/.local/state/nix/profiles/hearth-packages";
    let data = vars["XDG_DATA_DIRS"].as_str().unwrap();
    assert!(
        data.starts_with(&format!(
            "${{NIX_STATE_DIR:-/nix/var/nix}}/profiles/default/share:{profile}/share:"
        )),
        "{data}"
    );
    assert!(data.ends_with(":/usr/share:/var/lib/snapd/desktop${XDG_DATA_DIRS:+:$XDG_DATA_DIRS}"));
    assert!(vars["XCURSOR_PATH"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{profile}/share/icons:")));
    assert!(vars["TERMINFO_DIRS"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{profile}/share/terminfo")));
    assert_eq!(
        eval_ok(&n, "{ }", "spec.sessionVariables"),
        json!({}),
        "off by default"
    );
}

/// A recursive directory given as a path and an explicit file on one of
/// its files: Home Manager's three resolutions.
#[test]
fn file_overlap_resolution() {
    let n = nixpkgs_or_skip!();
    let dir = crate::common::nix_eval::tempdir("nix_home", "overlap");
    common::write_file(&dir, "nvim/init.lua", "-- from the directory\n");
    common::write_file(&dir, "nvim/lua/plugins.lua", "return {}\n");
    let module = |mode: &str| {
        format!(
            r#"{{ lib, ... }}: {{
              home.fileOverlapResolution = "{mode}";
              xdg.configFile."nvim" = {{ source = {}/nvim; recursive = true; }};
              xdg.configFile."nvim/init.lua".text = "-- explicit\n";
              xdg.configFile."nvim/extra.lua".text = "-- not in the directory\n";
            }}"#,
            dir.display()
        )
    };
    let targets = |mode: &str| -> Vec<(String, bool)> {
        let files = eval_ok(&n, &module(mode), "spec.files");
        files
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["target"].as_str().unwrap().to_owned(),
                    f["recursive"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let own = |t: &str, r: bool| (t.to_owned(), r);
    // ignore: the directory's file wins; the explicit one is dropped.
    assert_eq!(
        targets("ignore"),
        vec![
            own(".config/nvim", true),
            own(".config/nvim/extra.lua", false)
        ]
    );
    // override: the directory is linked file by file, without init.lua.
    assert_eq!(
        targets("override"),
        vec![
            own(".config/nvim/extra.lua", false),
            own(".config/nvim/init.lua", false),
            own(".config/nvim/lua/plugins.lua", false),
        ]
    );
    let files = eval_ok(&n, &module("override"), "spec.files");
    assert!(
        files[1]["source"]
            .as_str()
            .unwrap()
            .ends_with("-hearth_init.lua"),
        "the explicit text: {}",
        files[1]
    );
    // error: one message naming both.
    let failed = eval_ok(&n, &module("error"), "failedAssertions");
    assert_eq!(
        failed,
        json!([".config/nvim/init.lua is the target of xdg.configFile.\"nvim/init.lua\" and a file of the recursive directory of xdg.configFile.nvim; remove one, or set home.fileOverlapResolution to \"ignore\" (the directory's file wins) or \"override\" (the other entry wins)"])
    );
}

/// Built and activated: aliases and sessionVariablesExtra in
/// hm-session-vars.sh, an out-of-store link, `ignorelinks` accepted, and
/// extraProfileCommands run in the packages environment's build.
#[test]
fn session_script_and_out_of_store_links_activate() {
    let n = nixpkgs_or_skip!();
    let home = common::TestHome::new();
    let outside = crate::common::nix_eval::tempdir("nix_home", "outside");
    common::write_file(&outside, "notes/todo", "water the plants\n");
    let module = format!(
        r#"{{ config, lib, ... }}: {{
          home.stateVersion = "25.05";
          home.shellAliases = {{ g = "git"; ll = "ls -l 'a b'"; }};
          home.sessionVariablesExtra = ''
            export FROM_EXTRA="$HOME/extra"
          '';
          home.sessionVariables = {{ EDITOR = "vim"; WAYLAND = true; GONE = null; }};
          home.file."notes".source = config.lib.file.mkOutOfStoreSymlink "{}/notes";
          home.file."later".source = config.lib.file.mkOutOfStoreSymlink "{}/not-yet";
          home.file.".vimrc" = {{ text = "set number\n"; ignorelinks = true; }};
        }}"#,
        outside.display(),
        outside.display()
    );
    let generation = build(&n, &home, &module);
    let vars = generation.join("hm-session-vars.sh");
    let vars = vars.to_str().unwrap();
    let script = format!(". {vars}; echo \"$EDITOR|$WAYLAND|${{GONE-unset}}|$FROM_EXTRA\"");
    assert_eq!(
        sh("sh", &["-c", &script], home.path()),
        format!("vim|true|unset|{}/extra\n", home.path().display())
    );
    // Aliases in interactive shells only.
    assert_eq!(
        sh(
            "bash",
            &["--norc", "-i", "-c", &format!(". {vars}; alias ll")],
            home.path()
        ),
        "alias ll='ls -l '\\''a b'\\'''\n"
    );
    assert_eq!(
        sh(
            "sh",
            &["-c", &format!(". {vars}; alias g || echo none")],
            home.path()
        ),
        "none\n"
    );

    home.hearth(["activate", generation.to_str().unwrap()])
        .assert_ok();
    // ~/notes -> a store path -> the directory outside the store.
    let link = common::read_link(home.path(), "notes");
    assert!(link.starts_with("/nix/store/"), "{}", link.display());
    assert_eq!(std::fs::read_link(&link).unwrap(), outside.join("notes"));
    assert_eq!(
        common::read_file(home.path(), "notes/todo"),
        "water the plants\n"
    );
    // A target that does not exist yet is linked all the same.
    let later = common::read_link(home.path(), "later");
    assert_eq!(std::fs::read_link(&later).unwrap(), outside.join("not-yet"));
    assert_eq!(common::read_file(home.path(), ".vimrc"), "set number\n");
}

/// Without pkgs (no coreutils), an option that needs them says so instead
/// of failing inside a build.
#[test]
fn what_needs_coreutils_says_so_without_pkgs() {
    let n = nixpkgs_or_skip!();
    let module =
        r#"{ lib, ... }: { hearth.coreutils = lib.mkForce null; home.shellAliases.g = "git"; }"#;
    let err = eval(&n, module, "generation").expect_err("no coreutils without pkgs");
    assert!(
        err.contains("sets home.shellAliases or home.sessionVariablesExtra, which need coreutils to build; evaluate the home with `pkgs`"),
        "{err}"
    );
}

/// extraProfileCommands run in the build of the packages environment, with
/// `$out` the environment and its links already made.
#[test]
fn extra_profile_commands_run_in_the_environment() {
    let n = nixpkgs_or_skip!();
    let module = r#"{ lib, ... }: {
      home.packages = [
        (derivation {
          name = "tool";
          system = builtins.currentSystem;
          builder = "/bin/sh";
          args = [ "-c" "/bin/mkdir -p $out/bin && /bin/touch $out/bin/tool" ];
        })
      ];
      home.extraProfileCommands = ''
        if [ -e "$out/bin/tool" ]; then echo linked > "$out/marker"; fi
      '';
    }"#;
    let env = build_attr(&n, module, "config.home.path");
    assert_eq!(common::read_file(&env, "marker"), "linked\n");
}

// ---------------------------------------------------------------------------
// The rest of Home Manager's home-environment: locale, keyboard, what a
// configuration adds to its generation

/// Every category of home.language is its LANG / LC_* session variable, as
/// in Home Manager, written to hm-session-vars.sh; the unset ones are left
/// out.
#[test]
fn language_sets_lang_and_lc_variables() {
    let n = nixpkgs_or_skip!();
    let all = r#"{
      home.language = {
        base = "en_US.UTF-8";
        ctype = "C.UTF-8";
        numeric = "de_DE.UTF-8";
        time = "en_GB.UTF-8";
        collate = "C";
        monetary = "de_CH.UTF-8";
        messages = "en_US.UTF-8";
        paper = "en_GB.UTF-8";
        name = "fr_FR.UTF-8";
        address = "fr_FR.UTF-8";
        telephone = "nl_NL.UTF-8";
        measurement = "sv_SE.UTF-8";
      };
    }"#;
    assert_eq!(
        eval_ok(&n, all, "spec.sessionVariables"),
        json!({
            "LANG": "en_US.UTF-8",
            "LC_CTYPE": "C.UTF-8",
            "LC_NUMERIC": "de_DE.UTF-8",
            "LC_TIME": "en_GB.UTF-8",
            "LC_COLLATE": "C",
            "LC_MONETARY": "de_CH.UTF-8",
            "LC_MESSAGES": "en_US.UTF-8",
            "LC_PAPER": "en_GB.UTF-8",
            "LC_NAME": "fr_FR.UTF-8",
            "LC_ADDRESS": "fr_FR.UTF-8",
            "LC_TELEPHONE": "nl_NL.UTF-8",
            "LC_MEASUREMENT": "sv_SE.UTF-8",
        })
    );
    let some = r#"{
      home.language = { base = "en_US.UTF-8"; time = "de_DE.UTF-8"; };
      home.sessionVariables.EDITOR = "vim";
    }"#;
    assert_eq!(
        eval_ok(&n, some, "spec.sessionVariables"),
        json!({ "EDITOR": "vim", "LANG": "en_US.UTF-8", "LC_TIME": "de_DE.UTF-8" })
    );
    assert_eq!(
        eval_ok(&n, some, "config.home.language.numeric"),
        Value::Null
    );
    // Built: in the generation's hm-session-vars.sh.
    let home = common::TestHome::new();
    let vars = build(&n, &home, some).join("hm-session-vars.sh");
    let script = format!(
        ". {}; echo \"$LANG|$LC_TIME|${{LC_NUMERIC-unset}}\"",
        vars.display()
    );
    assert_eq!(
        sh("sh", &["-c", &script], home.path()),
        "en_US.UTF-8|de_DE.UTF-8|unset\n"
    );
    // The same variable set both ways, differently: the module system's
    // conflict, naming the option (as in Home Manager).
    let both = r#"{
      home.language.base = "en_US.UTF-8";
      home.sessionVariables.LANG = "de_DE.UTF-8";
    }"#;
    let err = eval(&n, both, "spec.sessionVariables").expect_err("two values for LANG");
    assert!(err.contains("home.sessionVariables.LANG"), "{err}");
}

/// home.keyboard and home.preferXdgDirectories are kept for configurations
/// that read them, and change nothing hearth builds.
#[test]
fn keyboard_and_prefer_xdg_directories_read_back_and_change_nothing() {
    let n = nixpkgs_or_skip!();
    let module = r#"{
      home.keyboard = { layout = "us,de"; variant = "colemak,"; options = [ "grp:caps_toggle" ]; };
      home.preferXdgDirectories = true;
      home.file.".x".text = "x";
    }"#;
    let plain = r#"{ home.file.".x".text = "x"; }"#;
    assert_eq!(eval_ok(&n, module, "spec"), eval_ok(&n, plain, "spec"));
    assert_eq!(
        eval_ok(&n, module, "config.home.keyboard"),
        json!({
            "layout": "us,de",
            "model": null,
            "options": ["grp:caps_toggle"],
            "variant": "colemak,",
        })
    );
    assert_eq!(
        eval_ok(&n, module, "config.home.preferXdgDirectories"),
        json!(true)
    );
    // Unset, as in Home Manager since 21.11: null, and not preferred.
    assert_eq!(eval_ok(&n, plain, "config.home.keyboard"), Value::Null);
    assert_eq!(
        eval_ok(&n, plain, "config.home.preferXdgDirectories"),
        json!(false)
    );
}

/// A configuration that sets every one of these options evaluates, each
/// value reads back, and home.activationPackage is the generation.
#[test]
fn home_environment_options_all_set_evaluate() {
    let n = nixpkgs_or_skip!();
    let module = r#"{ lib, ... }:
      let
        pkg = name: derivation { inherit name; system = "x86_64-linux"; builder = "/bin/sh"; };
      in {
        home.stateVersion = "25.05";
        home.language.base = "en_US.UTF-8";
        home.keyboard.layout = "us";
        home.preferXdgDirectories = true;
        home.extraDependencies = [ (pkg "kept") ];
        home.checks = [ (pkg "check") ];
        home.extraBuilderCommands = "echo hi > $out/hi";
        home.emptyActivationPath = false;
        home.extraActivationPath = [ (pkg "tool") ];
        home.activationGenerateGcRoot = false;
        home.activation.hello = lib.hm.dag.entryAfter [ "writeBoundary" ] "tool";
      }"#;
    assert_eq!(eval_ok(&n, module, "failedAssertions"), json!([]));
    let read = |attr: &str| eval_ok(&n, module, &format!("config.home.{attr}"));
    assert_eq!(read("emptyActivationPath"), json!(false));
    assert_eq!(read("activationGenerateGcRoot"), json!(false));
    assert_eq!(read("extraBuilderCommands"), json!("echo hi > $out/hi"));
    let kept = read("extraDependencies");
    assert!(kept[0].as_str().unwrap().ends_with("-kept"), "{kept}");
    assert_eq!(
        read("activationPackage.drvPath"),
        eval_ok(&n, module, "generation")
    );
    // Defaults: Home Manager's for a current state version.
    let plain = "{ }";
    assert_eq!(
        eval_ok(&n, plain, "config.home.emptyActivationPath"),
        json!(true)
    );
    assert_eq!(
        eval_ok(&n, plain, "config.home.activationGenerateGcRoot"),
        json!(true)
    );
    // extraDependencies take store paths only, as Home Manager's.
    let err = eval(
        &n,
        r#"{ home.extraDependencies = [ "/etc/passwd" ]; }"#,
        "config.home.extraDependencies",
    )
    .expect_err("not in the store");
    assert!(err.contains("home.extraDependencies"), "{err}");
}

/// Built with the real hearth and activated: extraDependencies are in the
/// generation's closure, checks are inputs of its build but not in its
/// closure (and a failing one fails it), extraBuilderCommands ran in its
/// build with coreutils on PATH, and extraActivationPath is on the PATH of
/// steps and onChange hooks.
#[test]
fn generation_extras_build_and_activate() {
    let n = nixpkgs_or_skip!();
    let home = common::TestHome::new();
    let module = |check: &str| {
        format!(
            r#"{{ lib, ... }}:
          let
            mk = name: script: derivation {{
              inherit name;
              system = builtins.currentSystem;
              builder = "/bin/sh";
              args = [ "-c" script ];
            }};
          in {{
            home.extraDependencies = [ (mk "hearth-test-kept" "echo kept > $out") ];
            home.checks = [ (mk "hearth-test-check" "{check}") ];
            home.extraBuilderCommands = ''
              command -v chmod > "$out/builder-marker"
            '';
            home.extraActivationPath = [
              (mk "hearth-test-tool" ''
                /bin/mkdir -p $out/bin
                printf '#!/bin/sh\necho "tool ran: $1"\n' > $out/bin/hearth-test-tool
                /bin/chmod +x $out/bin/hearth-test-tool
              '')
            ];
            home.activation.useTool = lib.hm.dag.entryAfter [ "writeBoundary" ] ''
              hearth-test-tool step > "$HOME/step.log"
            '';
            home.file.".x" = {{
              text = "x";
              onChange = ''hearth-test-tool hook > "$HOME/hook.log"'';
            }};
          }}"#
        )
    };

    let err = try_build(&n, &home, &module("exit 1")).expect_err("a failing check");
    assert!(err.contains("hearth-test-check"), "{err}");

    let generation = build(&n, &home, &module("echo passed > $out"));
    let refs = |path: &Path| -> Vec<String> {
        let out = Command::new("nix-store")
            .args(["-q", "--references"])
            .arg(path)
            .output()
            .expect("run nix-store");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let held = refs(&generation);
    let has = |paths: &[String], suffix: &str| paths.iter().any(|p| p.ends_with(suffix));
    assert!(has(&held, "-hearth-test-kept"), "{held:?}");
    assert!(!has(&held, "-hearth-test-check"), "{held:?}");
    assert!(has(&held, "-hearth-test-tool"), "{held:?}");
    let kept = common::read_file(&generation, "extra-dependencies");
    assert!(kept.trim_end().ends_with("-hearth-test-kept"), "{kept}");
    // The check is an input of the generation's derivation.
    let drv = Command::new("nix-store")
        .args(["-q", "--deriver"])
        .arg(&generation)
        .output()
        .expect("run nix-store");
    let drv = PathBuf::from(String::from_utf8(drv.stdout).unwrap().trim());
    assert!(has(&refs(&drv), "-hearth-test-check.drv"));

    let marker = common::read_file(&generation, "builder-marker");
    assert!(
        marker.starts_with("/nix/store/") && marker.trim_end().ends_with("/bin/chmod"),
        "{marker}"
    );

    home.hearth(["activate", generation.to_str().unwrap()])
        .assert_ok();
    assert_eq!(
        common::read_file(home.path(), "step.log"),
        "tool ran: step\n"
    );
    assert_eq!(
        common::read_file(home.path(), "hook.log"),
        "tool ran: hook\n"
    );
}

// ---------------------------------------------------------------------------
// lib.hm beyond the DAG

/// `value` (a Nix expression using `lib` and `config`), evaluated inside a
/// home module.
fn lib_value(n: &str, value: &str) -> Value {
    let module = format!(
        r"{{ lib, config, ... }}: {{
          options.probe = lib.mkOption {{ type = lib.types.anything; }};
          config.probe = {value};
        }}"
    );
    eval_ok(n, &module, "config.probe")
}

#[test]
fn lib_hm_strings_shell_and_booleans() {
    let n = nixpkgs_or_skip!();
    assert_eq!(
        lib_value(
            &n,
            r#"[
              (lib.hm.strings.storeFileName ".config/my file-1!.txt")
              (lib.hm.strings.toSnakeCase "fooBarBaz")
              (lib.hm.strings.toKebabCase "FooBar")
              (lib.hm.strings.isCamelCase "fooBar")
              (lib.hm.strings.isKebabCase "foo-bar")
              (lib.hm.booleans.yesNo true)
              (lib.hm.booleans.yesNo false)
              (lib.hm.shell.exportAll { EDITOR = "vim"; GUI = true; GONE = null; JOBS = 4; })
              (lib.hm.shell.prependToVar ":" "MANPATH" [ "/a" "/b" ])
              (config.lib.shell.export "X" false)
            ]"#
        ),
        json!([
            "hm_.configmyfile1.txt",
            "foo_bar_baz",
            "foo-bar",
            true,
            true,
            "yes",
            "no",
            "export EDITOR=\"vim\"\nexport GUI=\"true\"\nexport JOBS=\"4\"",
            "/a:/b${MANPATH:+:}$MANPATH",
            "export X=\"false\"",
        ])
    );
}

#[test]
fn lib_hm_generators_write_hyprland_and_kdl() {
    let n = nixpkgs_or_skip!();
    let hypr = lib_value(
        &n,
        r#"lib.hm.generators.toHyprconf {
          attrs = {
            "$mod" = "SUPER";
            bind = [ "$mod, Q, exec, kitty" "$mod, C, killactive" ];
            general = { gaps_in = 5; border_size = 2; };
            decoration.blur = { enabled = true; size = 3; };
            monitor = ",preferred,auto,1";
          };
        }"#,
    );
    assert_eq!(
        hypr,
        json!(
            "$mod=SUPER\n\
             bind=$mod, Q, exec, kitty\nbind=$mod, C, killactive\n\
             \n\
             decoration {\n  blur {\n    enabled=true\n    size=3\n  }\n}\n\
             \n\
             general {\n  border_size=2\n  gaps_in=5\n}\n\
             monitor=,preferred,auto,1\n"
        )
    );
    let kdl = lib_value(
        &n,
        r#"lib.hm.generators.toKDL { } {
          layout = { _props = { gaps = 8; }; focus-ring = { width = 2; off = null; }; };
          keybinds = { _children = [ { bind = { _args = [ "Alt h" ]; MoveFocus = "Left"; }; } { bind = { _args = [ "Alt l" ]; MoveFocus = "Right"; }; } ]; };
          spawn-at-startup = [ "waybar" "-c" "x\"y" ];
          theme = "gruvbox";
        }"#,
    );
    assert_eq!(
        kdl,
        json!(
            "keybinds {\n\tbind \"Alt h\" {\n\t\tMoveFocus \"Left\"\n\t}\n\tbind \"Alt l\" {\n\t\tMoveFocus \"Right\"\n\t}\n}\n\
             layout gaps=8 {\n\tfocus-ring {\n\t\toff null\n\t\twidth 2\n\t}\n}\n\
             spawn-at-startup \"waybar\" \"-c\" \"x\\\"y\"\n\
             theme \"gruvbox\"\n"
        )
    );
}

/// `GVariant` text as dconf reads it (what Home Manager's dconf settings hold).
#[test]
fn lib_hm_gvariant_text() {
    let n = nixpkgs_or_skip!();
    let g = "lib.hm.gvariant";
    let text = lib_value(
        &n,
        &format!(
            r#"with {g}; map toString [
              (mkValue true) (mkValue 3) (mkValue "it's") (mkValue [ "a" "b" ])
              (mkTuple [ "xkb" "us" ]) (mkUint32 300) (mkInt64 (-2)) (mkVariant "v")
              (mkDictionaryEntry [ "k" 1 ]) (mkNothing "s") (mkJust 5)
              (mkEmptyArray type.string)
              (mkArray (type.tupleOf [ type.string type.string ]) [ (mkTuple [ "xkb" "de" ]) ])
            ]"#
        ),
    );
    assert_eq!(
        text,
        json!([
            "true",
            "3",
            "'it\\'s'",
            "@as ['a','b']",
            "@(ss) ('xkb','us')",
            "@u 300",
            "@x -2",
            "@v <'v'>",
            "@{si} {'k',1}",
            "@ms nothing",
            "just 5",
            "@as []",
            "@a(ss) [@(ss) ('xkb','de')]",
        ])
    );
}

/// `dagOf` with submodule elements (`dagName` is the entry's name), plain
/// values under mkBefore/mkAfter, and the other types of `lib.hm.types`.
#[test]
fn lib_hm_types() {
    let n = nixpkgs_or_skip!();
    let module = r#"{ lib, config, ... }: {
      options.servers = lib.mkOption {
        type = lib.hm.types.dagOf (lib.types.submodule ({ dagName, ... }: {
          options.port = lib.mkOption { type = lib.types.int; };
          options.label = lib.mkOption { type = lib.types.str; default = "server ${dagName}"; };
        }));
      };
      options.steps = lib.mkOption { type = lib.hm.types.dagOf lib.types.lines; };
      options.pick = lib.mkOption { type = lib.hm.types.selectorFunction; };
      options.overlay = lib.mkOption { type = lib.hm.types.overlayFunction; };
      options.font = lib.mkOption { type = lib.hm.types.fontType; };
      options.layouts = lib.mkOption { type = lib.hm.types.gvariant; };
      options.result = lib.mkOption { type = lib.types.anything; };
      imports = [
        { steps.greet = lib.mkAfter "echo last"; layouts = [ (lib.hm.gvariant.mkTuple [ "xkb" "de" ]) ]; }
        { pick = p: [ p.b ]; overlay = final: prev: { y = prev.x + 1; }; }
      ];
      config = {
        servers.web = lib.hm.dag.entryAfter [ "db" ] { port = 80; };
        servers.db = { port = 5432; };
        steps.greet = lib.mkBefore "echo first";
        steps.after = lib.hm.dag.entryAfter [ "greet" ] "echo after";
        pick = p: [ p.a ];
        overlay = final: prev: { x = 1; };
        font = { name = "DejaVu Sans"; size = 10; };
        layouts = [ (lib.hm.gvariant.mkTuple [ "xkb" "us" ]) ];
        result = {
          servers = lib.mapAttrs (_: e: { inherit (e) after; inherit (e.data) port label; }) config.servers;
          greet = config.steps.greet.data;
          after = config.steps.after.after;
          picked = config.pick { a = 1; b = 2; c = 3; };
          overlaid = config.overlay { } { x = 1; };
          font = config.font;
          layouts = toString config.layouts;
        };
      };
    }"#;
    assert_eq!(
        eval_ok(&n, module, "config.result"),
        json!({
            "servers": {
                "web": { "after": ["db"], "port": 80, "label": "server web" },
                "db": { "after": [], "port": 5432, "label": "server db" },
            },
            "greet": "echo first\necho last",
            "after": ["greet"],
            "picked": [2, 1],
            "overlaid": { "x": 1, "y": 2 },
            "font": { "package": null, "name": "DejaVu Sans", "size": 10 },
            "layouts": "@a(ss) [@(ss) ('xkb','de'),@(ss) ('xkb','us')]",
        })
    );
}

// ---------------------------------------------------------------------------
// Options hearth does not have

/// Seven options hearth lacks, set in three files (Home Manager program and
/// service modules, a Home Manager misc module, a misspelt core option):
/// one error lists all seven, each with its file, and says what to do.
#[test]
fn unsupported_options_are_one_error_naming_each_and_its_file() {
    let n = nixpkgs_or_skip!();
    let dir = crate::common::nix_eval::tempdir("nix_home", "unsupported");
    common::write_file(
        &dir,
        "shell.nix",
        r#"{ lib, ... }: {
          programs.git = { enable = true; userName = "Alice"; };
          programs.zsh.enable = lib.mkDefault true;
        }"#,
    );
    common::write_file(
        &dir,
        "desktop.nix",
        r#"{ pkgs, ... }: {
          services.syncthing.enable = true;
          gtk.theme.name = "Adwaita";
          home.pointerCursor.size = 24;
        }"#,
    );
    common::write_file(
        &dir,
        "home.nix",
        r#"{ config, ... }: {
          imports = [ ./shell.nix ./desktop.nix ];
          home.stateVersion = "24.11";
          home.sesionVariables.EDITOR = "vim";
          # A configuration may still read what it set.
          home.file.".gitname".text = if config.programs.git.enable then "git" else "";
        }"#,
    );
    let module = dir.join("home.nix").display().to_string();
    let failed = eval_ok(&n, &module, "failedAssertions");
    let failed = failed.as_array().unwrap();
    assert_eq!(failed.len(), 1, "one error: {failed:?}");
    let message = failed[0]
        .as_str()
        .unwrap()
        .replace(dir.to_str().unwrap(), "DIR");
    insta::assert_snapshot!(message);
    // Building says it as the platform modules do, before anything is built.
    let err = eval(&n, &module, "generation").expect_err("not built");
    assert!(
        err.contains("hearth: the home of alice is not valid:")
            && err.contains("7 options set here are not options of hearth's home module:"),
        "{err}"
    );
    // Without them, the same home evaluates.
    assert_eq!(
        eval_ok(
            &n,
            r#"{ home.stateVersion = "24.11"; }"#,
            "failedAssertions"
        ),
        json!([])
    );
}

// ---------------------------------------------------------------------------
// Realistic configurations (tests/nix/configs), unchanged

fn config_path(name: &str) -> String {
    root()
        .join("tests/nix/configs")
        .join(name)
        .display()
        .to_string()
}

/// Every configuration evaluates with no failed assertion, to the spec its
/// Home Manager meaning asks for.
#[test]
fn realistic_configurations_evaluate() {
    let n = nixpkgs_or_skip!();
    for name in ["minimal.nix", "workstation.nix", "generic-linux.nix"] {
        let module = config_path(name);
        assert_eq!(
            eval_ok(&n, &module, "failedAssertions"),
            json!([]),
            "{name}"
        );
    }

    let spec = eval_ok(&n, &config_path("workstation.nix"), "spec");
    let vars = &spec["sessionVariables"];
    assert_eq!(vars["VISUAL"], json!("nvim"));
    assert_eq!(vars["MOZ_ENABLE_WAYLAND"], json!("true"));
    assert_eq!(vars.get("LESSHISTFILE"), None);
    assert_eq!(vars["CARGO_HOME"], json!("/home/alice/.local/share/cargo"));
    assert_eq!(
        spec["sessionPath"],
        json!([
            "$HOME/.cargo/bin",
            "/home/alice/go/bin",
            "/home/alice/.local/bin"
        ])
    );
    let steps: Vec<(String, String)> = spec["activation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["after"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // As Home Manager sorts them: announce and createDirs (after
    // writeBoundary) before linkGeneration, so in the check phase;
    // gitHooks after linkGeneration and before onFilesChange, so before
    // the onChange hooks.
    let phase = |n: &str, p: &str| (n.to_owned(), p.to_owned());
    assert_eq!(
        steps,
        vec![
            phase("announce", "check"),
            phase("createDirs", "check"),
            phase("gitHooks", "linked")
        ]
    );

    let spec = eval_ok(&n, &config_path("generic-linux.nix"), "spec");
    assert_eq!(spec["home"], json!("/home/alice"));
    assert_eq!(
        spec["sessionVariables"]["MANPATH"],
        json!("/home/alice/.local/share/man${MANPATH:+:}$MANPATH")
    );
    assert!(spec["sessionVariables"]["XDG_DATA_DIRS"]
        .as_str()
        .unwrap()
        .contains(":/usr/share:"));
    let zellij = eval_ok(
        &n,
        &config_path("generic-linux.nix"),
        r#"config.home.file.".config/zellij/config.kdl".text"#,
    );
    assert_eq!(
        zellij,
        json!(
            "default_layout \"compact\"\n\
             keybinds clear-defaults=false {\n\tnormal {\n\t\tbind \"Alt h\" {\n\t\t\tMoveFocus \"Left\"\n\t\t}\n\t\tbind \"Alt l\" {\n\t\t\tMoveFocus \"Right\"\n\t\t}\n\t}\n}\n\
             pane_frames false\n\
             theme \"gruvbox-dark\"\n"
        )
    );
}

/// workstation.nix built with the real hearth and activated into a
/// throwaway home: every file where Home Manager would put it, the
/// out-of-store link, the steps in order, the session script.
#[test]
fn workstation_builds_and_activates() {
    let n = nixpkgs_or_skip!();
    let home = common::TestHome::new();
    let generation = build(&n, &home, &config_path("workstation.nix"));
    home.hearth(["activate", generation.to_str().unwrap()])
        .assert_ok();

    let h = home.path();
    assert_eq!(
        common::read_file(h, ".config/nvim/lua/plugins.lua"),
        "return { \"tpope/vim-fugitive\" }\n"
    );
    // Recursive: the directory is real, its files are links.
    assert!(!h.join(".config/nvim").is_symlink());
    assert!(h.join(".config/nvim/init.lua").is_symlink());
    assert!(common::read_file(h, ".config/git/config").contains("name = Alice Example"));
    assert_eq!(
        common::read_file(h, ".config/git/ignore"),
        ".direnv/\nresult\n"
    );
    let glog = std::fs::metadata(h.join(".local/bin/glog")).unwrap();
    assert_ne!(
        std::os::unix::fs::PermissionsExt::mode(&glog.permissions()) & 0o111,
        0
    );
    let notes = common::read_link(h, "notes");
    assert_eq!(
        std::fs::read_link(notes).unwrap(),
        h.join("src/dotfiles/notes")
    );
    assert_eq!(
        common::read_file(h, "activation.log"),
        "announce\ncreateDirs\ngitHooks\n"
    );
    assert!(h.join(".local/share/cargo").is_dir());

    let vars = generation.join("hm-session-vars.sh");
    let script = format!(
        ". {}; echo \"$EDITOR $VISUAL $MOZ_ENABLE_WAYLAND ${{LESSHISTFILE-unset}}\"; alias gs",
        vars.display()
    );
    assert_eq!(
        sh("bash", &["--norc", "-i", "-c", &script], h),
        "nvim nvim true unset\nalias gs='git status --short'\n"
    );

    // A second activation of the same generation changes no file: only the
    // steps run again (their log grows by the same three lines, then is put
    // back for the comparison).
    let before = home.snapshot();
    home.hearth(["activate", generation.to_str().unwrap()])
        .assert_ok();
    let log = "announce\ncreateDirs\ngitHooks\n";
    assert_eq!(common::read_file(h, "activation.log"), log.repeat(2));
    std::fs::write(h.join("activation.log"), log).unwrap();
    common::assert_same(&before, &home.snapshot());
    home.hearth(["status"]).assert_ok();
}
