//! `lib.hm` beyond the DAG and the formats (nix/lib): `assertions`,
//! `darwin`, `deprecations`, `git`, `zsh`, `nushell`, `mcp`,
//! `maintainers`, and the generators beyond Hyprland's and KDL (SCFG and
//! the DAG-ordered formats), called from a home module as a configuration
//! or a module from a dotfiles repository calls them. The expected values are Home
//! Manager's for the same calls; where hearth words a message its own way,
//! the test says so.
//!
//! Needs nixpkgs' lib: `HEARTH_NIXPKGS` (a nixpkgs or nixpkgs.lib checkout,
//! or its lib directory), else `<nixpkgs>` from `NIX_PATH`. Without either,
//! each test prints "skipped: no nixpkgs" and passes.

use std::path::Path;
use std::process::Command;

use crate::common::nix_eval::root;
use serde_json::{json, Value};

/// What evaluating `attr` of the home module with `modules` gave: its JSON
/// (or None when the evaluation failed) and Nix's stderr, where warnings and
/// errors go.
fn eval(n: &str, modules: &str, attr: &str) -> (Option<Value>, String) {
    let out = Command::new("nix-instantiate")
        .current_dir(root())
        // Read-write: the mcp wrapper test stores its script (builtins.toFile).
        .args(["--eval", "--read-write-mode", "--strict", "--json"])
        // The generators' formats are built during evaluation; there is no
        // binary cache to ask for them.
        .args(["--option", "substituters", ""])
        .arg("tests/nix/home.nix")
        .args(["--arg", "nixpkgs", n, "--arg", "module", modules])
        .args(["-A", attr])
        .output()
        .expect("run nix-instantiate");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let value = out
        .status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).expect("nix-instantiate prints JSON"));
    (value, stderr)
}

/// `value` (a Nix expression using `lib`, `config` and `options`),
/// evaluated inside a home module, with what Nix printed on stderr.
fn lib_value_warned(n: &str, value: &str) -> (Value, String) {
    let module = format!(
        r"{{ lib, config, options, ... }}: {{
          options.probe = lib.mkOption {{ type = lib.types.anything; }};
          config.probe = {value};
        }}"
    );
    let (value, stderr) = eval(n, &module, "config.probe");
    (
        value.unwrap_or_else(|| panic!("evaluation failed:\n{stderr}")),
        stderr,
    )
}

fn lib_value(n: &str, value: &str) -> Value {
    lib_value_warned(n, value).0
}

/// `pkgs` as `assertPlatform` and `assertInterval` read it, for `system`.
const PKGS_FOR: &str = r#"system: {
  stdenv.hostPlatform = { inherit system; isDarwin = lib.hasSuffix "-darwin" system; };
}"#;

#[test]
fn assertions_assert_platform_holds_only_on_the_listed_systems() {
    let n = nixpkgs_or_skip!();
    let got = lib_value(
        &n,
        &format!(
            r#"let
              pkgsFor = {PKGS_FOR};
              check = system: lib.hm.assertions.assertPlatform "programs.foo" (pkgsFor system)
                [ "x86_64-linux" "aarch64-darwin" ];
            in [ (check "x86_64-linux") (check "riscv64-linux") ]"#
        ),
    );
    // Home Manager's message says the same in other words ("The module
    // programs.foo does not support your platform. It only supports ...").
    assert_eq!(
        got,
        json!([
            {
                "assertion": true,
                "message": "programs.foo cannot be used on x86_64-linux; it supports only:\n  - aarch64-darwin\n  - x86_64-linux"
            },
            {
                "assertion": false,
                "message": "programs.foo cannot be used on riscv64-linux; it supports only:\n  - aarch64-darwin\n  - x86_64-linux"
            },
        ])
    );
}

#[test]
fn darwin_calendar_intervals_and_their_assertion() {
    let n = nixpkgs_or_skip!();
    let got = lib_value(
        &n,
        &format!(
            r#"let
              pkgsFor = {PKGS_FOR};
              inherit (lib.hm.darwin) mkCalendarInterval assertInterval;
            in {{
              intervals = map mkCalendarInterval
                [ "hourly" "daily" "weekly" "monthly" "semiannually" "annually" "minutely" ];
              holds = [
                (assertInterval "services.x.frequency" "minutely" (pkgsFor "aarch64-darwin")).assertion
                (assertInterval "services.x.frequency" "minutely" (pkgsFor "x86_64-linux")).assertion
                (assertInterval "services.x.frequency" "weekly" (pkgsFor "aarch64-darwin")).assertion
              ];
              message = (assertInterval "services.x.frequency" "minutely" (pkgsFor "aarch64-darwin")).message;
              doc = lib.hm.darwin.intervalDocumentation;
            }}"#
        ),
    );
    let midnight = |extra: Value| {
        let mut m = json!({ "Hour": 0, "Minute": 0 });
        m.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        m
    };
    assert_eq!(
        got["intervals"],
        json!([
            [{ "Minute": 0 }],
            [midnight(json!({}))],
            [midnight(json!({ "Weekday": 1 }))],
            [midnight(json!({ "Day": 1 }))],
            [
                midnight(json!({ "Month": 1, "Day": 1 })),
                midnight(json!({ "Month": 7, "Day": 1 }))
            ],
            [midnight(json!({ "Month": 1, "Day": 1 }))],
            null,
        ])
    );
    assert_eq!(got["holds"], json!([false, true, true]));
    // hearth's wording; Home Manager's names the same option and intervals.
    assert_eq!(
        got["message"],
        "services.x.frequency is \"minutely\"; on macOS it must be one of hourly, daily, \
         weekly, monthly, semiannually, annually."
    );
    assert_eq!(
        got["doc"],
        "On macOS, only hourly, daily, weekly, monthly, semiannually, annually can be used \
         (each as {manpage}`systemd.time(7)` defines it).\n"
    );
}

#[test]
fn git_diff_pager_config() {
    let n = nixpkgs_or_skip!();
    assert_eq!(
        lib_value(&n, r#"lib.hm.git.diffPagerConfig "delta""#),
        json!({ "pager": { "diff": "delta", "log": "delta", "show": "delta" } })
    );
}

#[test]
fn zsh_values_definitions_and_exports() {
    let n = nixpkgs_or_skip!();
    let got = lib_value(
        &n,
        r#"with lib.hm.zsh; [
          (map toZshValue [ true false "a \"b\" `c` \\d $e" [ "x y" "z" 3 ] 42 ])
          (define "FOO" "bar")
          (defineAll { B = 1; A = [ "p" ]; })
          (export "E" true)
          (exportAll { B = 1; N = null; A = "x"; } { })
          (exportAll { B = 1; N = null; A = "x"; } { indent = "  "; })
        ]"#,
    );
    assert_eq!(
        got,
        json!([
            [
                "true",
                "false",
                r#""a \"b\" \`c\` \\d $e""#,
                "(\n  'x y' z 3\n)",
                "\"42\""
            ],
            "FOO=\"bar\"",
            "A=(\n  p\n)\nB=\"1\"",
            "export E=true",
            "export A=\"x\"\nexport B=\"1\"",
            "export A=\"x\"\n  export B=\"1\"",
        ])
    );
}

#[test]
fn nushell_literals_inline_expressions_and_bindings() {
    let n = nixpkgs_or_skip!();
    let got = lib_value(
        &n,
        r#"with lib.hm.nushell; {
          inline = [ (isNushellInline (mkNushellInline "ls")) (isNushellInline { expr = "ls"; }) ];
          scalars = map (toNushell { }) [ null 1 1.5 "a\"b" true [ ] { } ];
          multi = toNushell { } {
            b = [ 1 "two" ];
            a = { c = mkNushellInline "$env.HOME"; "d e" = false; };
          };
          single = toNushell { multiline = false; } { b = [ 1 "two" ]; a = { c = null; }; };
          bindings = toNushell { asBindings = true; } { x = 1; "$y" = [ "a" ]; };
          indented = toNushell { indent = "  "; } [ { a = 1; } ];
          badName = (builtins.tryEval (toNushell { asBindings = true; } { "a.b" = 1; })).success;
          function = (builtins.tryEval (toNushell { } (x: x))).success;
        }"#,
    );
    assert_eq!(
        got,
        json!({
            "inline": [true, false],
            "scalars": ["null", "1", "1.5", "\"a\\\"b\"", "true", "[]", "{}"],
            "multi": "{\n    \"a\": {\n        \"c\": ($env.HOME)\n        \"d e\": false\n    }\n    \"b\": [\n        1\n        \"two\"\n    ]\n}",
            "single": "{ \"a\": { \"c\": null } \"b\": [ 1 \"two\" ] }",
            "bindings": "let $y = [\n    \"a\"\n]\nlet x = 1\n",
            "indented": "[\n      {\n          \"a\": 1\n      }\n  ]",
            "badName": false,
            "function": false,
        })
    );
}

#[test]
fn mcp_servers_are_normalised() {
    let n = nixpkgs_or_skip!();
    let got = lib_value(
        &n,
        r#"with lib.hm.mcp; {
          render = renderEnv (p: "{file:${p}}") { API_KEY = "literal"; TOKEN.file = "/run/secrets/token"; };
          enabled = map resolveEnabled [
            { enabled = true; } { disabled = true; } { disabled = false; } { }
            { enabled = null; disabled = true; }
          ];
          addType = map addType [ { url = "https://x"; } { command = "srv"; } { url = null; } { type = "sse"; url = "u"; } ];
          unwrapped = wrapEnvFilesCommand { pkgs = null; name = "n"; } { command = "srv"; env.A = "1"; };
          transform = transformMcpServer {
            server = {
              command = "srv"; args = [ ]; env = { A = "1"; T.file = "/s/t"; };
              disabled = true; serverUrl = "https://s"; headers = { }; note = "x";
            };
            exclude = [ "note" ];
            extraTransforms = [ addType ];
          };
          transformUrl = transformMcpServer {
            server = { url = "https://u"; serverUrl = "https://s"; env.T.file = "/s/t"; };
            mkFileRef = p: "\${file:${p}}";
          };
        }"#,
    );
    assert_eq!(
        got,
        json!({
            "render": { "API_KEY": "literal", "TOKEN": "{file:/run/secrets/token}" },
            "enabled": [true, false, true, null, false],
            "addType": [
                { "type": "http", "url": "https://x" },
                { "command": "srv", "type": "stdio" },
                { "type": "stdio", "url": null },
                { "type": "sse", "url": "u" },
            ],
            "unwrapped": { "command": "srv", "env": { "A": "1" } },
            "transform": {
                "command": "srv",
                "enabled": false,
                "env": { "A": "1", "T": "{file:/s/t}" },
                "type": "http",
                "url": "https://s",
            },
            "transformUrl": { "env": { "T": "${file:/s/t}" }, "url": "https://u" },
        })
    );
}

/// The wrapper script reads each file-backed variable and runs the server
/// with it; a file it cannot read is said on stderr and the server still
/// starts. Run for real with sh (the script is written with builtins.toFile,
/// standing in for `pkgs.writeShellScript`, which only names and stores it).
#[test]
fn mcp_env_files_wrapper_runs_the_server_with_the_secrets() {
    let n = nixpkgs_or_skip!();
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nix_lib-mcp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("my token");
    std::fs::write(&secret, "s3cret").unwrap();
    let missing = dir.join("missing");
    let got = lib_value(
        &n,
        &format!(
            r##"let
              pkgs.writeShellScript = name: text: builtins.toFile name "#!/bin/sh\n${{text}}";
            in lib.hm.mcp.wrapEnvFilesCommand {{ inherit pkgs; name = "srv"; }} {{
              command = "/bin/sh";
              args = [ "-c" "echo \"T=$T G=\${{G-unset}} A=\${{A-unset}}\"" ];
              env = {{ A = "1"; T.file = "{}"; G.file = "{}"; }};
            }}"##,
            secret.display(),
            missing.display()
        ),
    );
    assert_eq!(got["args"], json!([]));
    assert_eq!(got["env"], json!({ "A": "1" }));
    let script = got["command"].as_str().unwrap();
    assert!(script.ends_with("-mcp-srv-wrapper"), "{script}");
    let out = Command::new("sh")
        .arg(script)
        .env_remove("A")
        .env_remove("T")
        .env_remove("G")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "T=s3cret G=unset A=unset\n"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "mcp server srv: cannot read G from {}",
            missing.display()
        )),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn maintainers_is_an_empty_set() {
    let n = nixpkgs_or_skip!();
    assert_eq!(lib_value(&n, "lib.hm.maintainers"), json!({}));
}

#[test]
fn deprecation_warnings_and_remapped_settings() {
    let n = nixpkgs_or_skip!();
    let (got, stderr) = lib_value_warned(
        &n,
        r#"with lib.hm.deprecations; {
          w1 = mkDeprecatedOptionValueWarning {
            option = [ "programs" "example" "settings" ]; old = "a list";
            replacement = "`programs.example.settings.items`";
          };
          w2 = mkDeprecatedOptionValueWarning {
            option = [ "a" "b" ]; old = "a string"; replacement = "`a.c`"; details = "See the manual.";
          };
          w3 = mkDeprecatedOptionValueRenameWarning { option = [ "a" "b" ]; old = "\"x\""; replacement = "\"y\""; };
          remap = remapAttrsRecursive {
            pred = k: builtins.match ".*[a-z][A-Z].*" k != null;
            transform = lib.hm.strings.toSnakeCase;
            ignore = [ "keepMe" ];
          } "p.settings" { someSetting = 1; keepMe = 2; inner = { deepKey = [ { listKey = 3; } ]; }; };
          omitted = map (mkListEntryOmittedFieldPredicate { omittedField = "type"; triggerField = "config"; }) [
            { value = { config = "c"; }; } { value = { config = "c"; type = "t"; }; }
            { value = { config = ""; }; } { value = "str"; }
          ];
        }"#,
    );
    // The three warnings are hearth's wording of Home Manager's.
    assert_eq!(
        got,
        json!({
            "w1": "`programs.example.settings` given as a list is deprecated and will stop\nworking in a future release; use `programs.example.settings.items` instead.\n",
            "w2": "`a.b` given as a string is deprecated and will stop\nworking in a future release; use `a.c` instead.\n\nSee the manual.\n",
            "w3": "`a.b` = \"x\" is deprecated and will stop\nworking in a future release; use \"y\" instead.\n",
            "remap": { "inner": { "deep_key": [{ "list_key": 3 }] }, "keepMe": 2, "some_setting": 1 },
            "omitted": [true, false, false, false],
        })
    );
    for (old, path, new) in [
        ("someSetting", "p.settings", "some_setting"),
        ("deepKey", "p.settings.inner", "deep_key"),
        ("listKey", "p.settings.inner.deepKey.[0]", "list_key"),
    ] {
        let line = format!(
            "hearth: '{old}' in '{path}' now means '{new}'; write '{new}' in your configuration."
        );
        assert!(stderr.contains(&line), "no {line:?} in:\n{stderr}");
    }
    assert!(!stderr.contains("keepMe"), "{stderr}");
}

/// A module renames its settings with `mkSettingsRenamedOptionModules`:
/// the old names still set the new options, with nixpkgs' rename warning.
#[test]
fn settings_renamed_option_modules_set_the_new_options() {
    let n = nixpkgs_or_skip!();
    let modules = r#"[
      ({ lib, ... }: {
        imports = lib.hm.deprecations.mkSettingsRenamedOptionModules [ "old" ] [ "probe" ] { } [
          "someOption"
          [ "fooBar" "subOption" ]
          { old = "other"; new = [ "elsewhere" "x" ]; }
        ];
        options.probe = lib.mkOption { type = lib.types.attrsOf lib.types.anything; default = { }; };
      })
      {
        old.someOption = 1;
        old.fooBar.subOption = 2;
        old.other = 3;
      }
    ]"#;
    let (got, stderr) = eval(&n, modules, "config.probe");
    assert_eq!(
        got,
        Some(json!({ "some_option": 1, "foo_bar": { "sub_option": 2 }, "elsewhere": { "x": 3 } })),
        "{stderr}"
    );
    let (warnings, stderr) = eval(&n, modules, "config.warnings");
    let warnings = warnings.unwrap_or_else(|| panic!("evaluation failed:\n{stderr}"));
    let renamed = |old: &str, new: &str| {
        format!("The option `{old}' defined in `<unknown-file>' has been renamed to `{new}'.")
    };
    assert_eq!(
        warnings,
        json!([
            renamed("old.other", "probe.elsewhere.x"),
            renamed("old.fooBar.subOption", "probe.foo_bar.sub_option"),
            renamed("old.someOption", "probe.some_option"),
        ])
    );
}

/// A default chosen by `home.stateVersion`: the legacy value (with a
/// warning when it is read) before the release, the current one after; in
/// deferred mode a warning only while the option is left at its default.
#[test]
fn state_version_option_defaults() {
    let n = nixpkgs_or_skip!();
    let (got, stderr) = lib_value_warned(
        &n,
        r#"let
          at = stateVersion: lib.hm.deprecations.mkStateVersionOptionDefault {
            inherit stateVersion;
            since = "26.05";
            optionPath = [ "programs" "ex" "foo" ];
            legacy.value = "old";
            current.value = "new";
          };
        in {
          old = at "25.05";
          new = at "26.05";
          deferWithoutConfig = (builtins.tryEval (lib.hm.deprecations.mkStateVersionOptionDefault {
            stateVersion = "25.05"; since = "26.05"; optionPath = [ "x" ];
            legacy.value = 1; current.value = 2; deferWarningToConfig = true;
          }).default).success;
          listWarnings = lib.hm.deprecations.mkStateVersionListSubmoduleWarnings {
            stateVersion = "25.05"; since = "26.05"; baseWarning = "Base.\n";
            definitions = [
              { file = /some/dir/home.nix; value = [ { config = "c"; } { config = "c"; mode = "m"; } ]; }
              { file = "/x/other.nix"; value = [ { config = "d"; } ]; }
            ];
            shouldWarnEntry = e: !(e.value ? mode);
            describeEntry = e: "entry `${e.value.config}`";
            extraEntryWarning = e: if e.value.config == "d" then "Extra." else "";
          };
          listWarningsCurrent = lib.hm.deprecations.mkStateVersionListSubmoduleWarnings {
            stateVersion = "26.05"; since = "26.05"; baseWarning = "B";
            definitions = [ { file = "/f"; value = [ { } ]; } ]; shouldWarnEntry = _: true;
          };
        }"#,
    );
    let warning = "The default of `programs.ex.foo` is `\"new\"` since release 26.05; it was `\"old\"`.\n\
        With a `home.stateVersion` older than 26.05, `programs.ex.foo` keeps `\"old\"`.\n\
        Set `programs.ex.foo = \"old\";` to keep it, or `programs.ex.foo = \"new\";` to take the new default;\n\
        either silences this warning.\n";
    let default_text = json!({
        "_type": "literalExpression",
        "text": "if lib.versionAtLeast config.home.stateVersion \"26.05\" then \"new\" else \"old\"\n",
    });
    assert_eq!(
        got,
        json!({
            "old": {
                "default": "old", "defaultText": default_text, "effectiveDefault": "old",
                "optionUsesDefaultPriority": false, "shouldWarn": false, "warning": warning,
            },
            "new": {
                "default": "new", "defaultText": default_text, "effectiveDefault": "new",
                "optionUsesDefaultPriority": false, "shouldWarn": false, "warning": warning,
            },
            "deferWithoutConfig": false,
            // hearth's wording of where the entry is; Home Manager's says
            // "Triggered by entry `c` defined in `home.nix` at list index 1."
            "listWarnings": [
                "Base.\nThis applies to entry `c`: item 1 of the list in `home.nix`.",
                "Base.\nThis applies to entry `d`: item 1 of the list in `other.nix`.\nExtra.",
            ],
            "listWarningsCurrent": [],
        })
    );
    // Reading the legacy default warned, once: the current one did not.
    assert_eq!(stderr.matches("keeps `\"old\"`").count(), 1, "{stderr}");

    // Deferred: the option's default is the current value, and the module
    // warns only while the option is left at its default.
    let deferred = |set: &str| {
        let module = format!(
            r#"[
              ({{ lib, config, options, ... }}:
                let
                  sv = lib.hm.deprecations.mkStateVersionOptionDefault {{
                    stateVersion = "25.05";
                    inherit config options;
                    since = "26.05";
                    optionPath = [ "programs" "ex" "settings" ];
                    legacy.value = {{ FOO = "legacy"; }};
                    current.value = {{ }};
                    deferWarningToConfig = true;
                  }};
                in {{
                  options.programs.ex.settings = lib.mkOption {{
                    type = lib.types.attrsOf lib.types.str;
                    inherit (sv) default;
                  }};
                  options.probe = lib.mkOption {{ type = lib.types.anything; }};
                  config.probe = {{
                    inherit (sv) shouldWarn effectiveDefault;
                    inherit (config.programs.ex) settings;
                  }};
                }})
              {set}
            ]"#
        );
        let (got, stderr) = eval(&n, &module, "config.probe");
        got.unwrap_or_else(|| panic!("evaluation failed:\n{stderr}"))
    };
    assert_eq!(
        deferred("{ }"),
        json!({ "shouldWarn": true, "effectiveDefault": { "FOO": "legacy" }, "settings": {} })
    );
    assert_eq!(
        deferred(r#"{ programs.ex.settings.FOO = "mine"; }"#),
        json!({ "shouldWarn": false, "effectiveDefault": { "FOO": "legacy" }, "settings": { "FOO": "mine" } })
    );
}

/// `lib.hm.generators` has every name Home Manager's has.
#[test]
fn generators_has_every_home_manager_name() {
    let n = nixpkgs_or_skip!();
    assert_eq!(
        lib_value(&n, "builtins.attrNames lib.hm.generators"),
        json!([
            "hasDAGEntryWithOrdering",
            "isDAGEntryWithOrdering",
            "mkDAGOrderedFormat",
            "mkDAGOrderedIniFormat",
            "mkDAGOrderedJsonFormat",
            "mkDAGOrderedKeyValueFormat",
            "mkDAGOrderedTomlFormat",
            "mkDAGOrderedYamlFormat",
            "sortDAGEntries",
            "toDAGOrderedAttrs",
            "toDAGOrderedINI",
            "toDAGOrderedKeyValue",
            "toDAGOrderedText",
            "toHyprconf",
            "toKDL",
            "toSCFG",
        ])
    );
}

/// Which values count as ordered entries, and the order of a set holding
/// some: Home Manager's topological order, with plain values beside the
/// entries, an entry naming a missing one, and one naming itself (no
/// effect in Home Manager's sort, none here).
#[test]
fn generators_sort_dag_entries() {
    let n = nixpkgs_or_skip!();
    let got = lib_value(
        &n,
        r#"let g = lib.hm.generators; d = lib.hm.dag; in {
          isOrdered = map g.isDAGEntryWithOrdering [
            (d.entryAfter [ "a" ] 1)
            (d.entryBefore [ "a" ] 1)
            (d.entryAnywhere 1)
            { data = 1; after = [ "x" ]; before = [ ]; extra = true; }
            "plain"
            { after = [ "x" ]; }
          ];
          hasOrdered = map g.hasDAGEntryWithOrdering [
            { a = 1; b = d.entryAnywhere 2; }
            { a = 1; b = d.entryAfter [ "a" ] 2; }
            { }
          ];
          simple = g.sortDAGEntries { } { after = d.entryAfter [ "before" ] "2"; before = "1"; };
          chain = g.sortDAGEntries { } {
            a = d.entryAnywhere "1";
            b = d.entryAfter [ "a" "c" ] "2";
            c = d.entryBefore [ "d" ] "3";
            d = d.entryBefore [ "e" ] "4";
            e = "5";
            f = { data = "6"; after = [ ]; before = [ "a" ]; };
          };
          anchors = g.sortDAGEntries { } {
            writeBoundary = d.entryAnywhere "w";
            z1 = d.entryAfter [ "writeBoundary" ] "z1";
            a1 = d.entryBefore [ "writeBoundary" ] "a1";
            m = "m";
            b = d.entryBetween [ "z1" ] [ "a1" ] "b";
            self = d.entryAfter [ "self" ] "s";
          };
          plain = g.toDAGOrderedAttrs { } { z = 1; a = { data = 2; after = [ ]; before = [ ]; }; m = [ 3 ]; };
          ordered = g.toDAGOrderedAttrs { } {
            z = d.entryBefore [ "a" ] 1;
            a = 2;
            shape = { data.keep = true; after = [ ]; before = [ ]; };
            m = d.entryAfter [ "missing" ] 3;
          };
        }"#,
    );
    let pairs = |list: &[(&str, Value)]| {
        Value::Array(
            list.iter()
                .map(|(name, value)| json!({ "name": name, "value": value }))
                .collect(),
        )
    };
    let shape = |data: Value| json!({ "after": [], "before": [], "data": data });
    assert_eq!(
        got["isOrdered"],
        json!([true, true, false, true, false, false])
    );
    assert_eq!(got["hasOrdered"], json!([false, true, false]));
    assert_eq!(
        got["simple"],
        pairs(&[("before", json!("1")), ("after", json!("2"))])
    );
    assert_eq!(
        got["chain"],
        pairs(&[
            ("f", json!("6")),
            ("a", json!("1")),
            ("c", json!("3")),
            ("b", json!("2")),
            ("d", json!("4")),
            ("e", json!("5")),
        ])
    );
    assert_eq!(
        got["anchors"],
        pairs(&[
            ("a1", json!("a1")),
            ("b", json!("b")),
            ("m", json!("m")),
            ("self", json!("s")),
            ("writeBoundary", json!("w")),
            ("z1", json!("z1")),
        ])
    );
    // Without an ordered entry: in order of name, values as they are (an
    // entry without constraints too).
    assert_eq!(
        got["plain"],
        pairs(&[("a", shape(json!(2))), ("m", json!([3])), ("z", json!(1))])
    );
    // With one: an unordered entry-shaped set is a value, not an entry.
    assert_eq!(
        got["ordered"],
        pairs(&[
            ("z", json!(1)),
            ("a", json!(2)),
            ("m", json!(3)),
            ("shape", shape(json!({ "keep": true }))),
        ])
    );
}

/// `toDAGOrderedText`: nested sets ordered at every depth, lists, paths
/// and derivations given to `renderValue`.
#[test]
fn generators_dag_ordered_text() {
    let n = nixpkgs_or_skip!();
    let got = lib_value(
        &n,
        r#"let d = lib.hm.dag; in lib.hm.generators.toDAGOrderedText {
          renderValue = v:
            if builtins.isPath v then "path:${baseNameOf v}"
            else if builtins.isString v then v
            else builtins.toJSON v;
          renderList = vs: "(" + lib.concatStringsSep " " vs + ")";
          renderAttrs = es: "{" + lib.concatMapStringsSep ";" (e: "${e.name}=${e.value}") es + "}";
        } {
          zeta = d.entryBefore [ "alpha" ] [ 1 "two" { y = 1; x = d.entryBefore [ "y" ] true; } ];
          alpha = { inner = null; };
          p = ./Cargo.toml;
          drv = { type = "derivation"; outPath = "/nix/store/x"; name = "x"; };
        }"#,
    );
    assert_eq!(
        got,
        json!(
            "{zeta=(1 two {x=true;y=1});alpha={inner=null};drv=\"/nix/store/x\";p=path:Cargo.toml}"
        )
    );
}

/// `toDAGOrderedKeyValue` and `toDAGOrderedINI` with their options:
/// indent, `mkKeyValue`, lists as repeated keys or through `listToValue`,
/// section names, ordered sections holding ordered keys.
#[test]
fn generators_dag_ordered_key_value_and_ini() {
    let n = nixpkgs_or_skip!();
    let got = lib_value(
        &n,
        r#"let g = lib.hm.generators; d = lib.hm.dag; in {
          kv = g.toDAGOrderedKeyValue { } {
            zz = "1"; aa = d.entryAfter [ "zz" ] "2"; mm = d.entryBefore [ "zz" ] true; num = 3;
          };
          kvPlain = g.toDAGOrderedKeyValue { indent = "  "; } { b = 1; a = "x"; };
          kvDup = g.toDAGOrderedKeyValue {
            listsAsDuplicateKeys = true;
            mkKeyValue = lib.generators.mkKeyValueDefault { } " = ";
          } { server = d.entryAfter [ "port" ] [ "a.example" "b.example" ]; port = 22; };
          kvListToValue = g.toDAGOrderedKeyValue { listToValue = lib.concatMapStringsSep "," toString; } {
            b = [ 1 2 ]; a = d.entryAfter [ "b" ] [ "x" ];
          };
          ini = g.toDAGOrderedINI { } {
            aa = d.entryAfter [ "zz" ] { bb = d.entryAfter [ "cc" ] "2"; cc = "1"; };
            zz = { value = "ask"; };
          };
          iniPlain = g.toDAGOrderedINI { mkSectionName = n: "sec ${n}"; } { "b[1]" = { x = 1; }; a = { y = false; }; };
          iniEscape = g.toDAGOrderedINI { } { "b[1]" = { x = 1; }; };
          iniDup = g.toDAGOrderedINI { listsAsDuplicateKeys = true; } {
            General = { Include = [ "a" "b" ]; Name = d.entryBefore [ "Include" ] "me"; };
            Extra = d.entryBefore [ "General" ] { };
          };
        }"#,
    );
    assert_eq!(
        got,
        json!({
            "kv": "mm=true\nzz=1\naa=2\nnum=3\n",
            "kvPlain": "  a=x\n  b=1\n",
            "kvDup": "port = 22\nserver = a.example\nserver = b.example\n",
            "kvListToValue": "b=1,2\na=x\n",
            "ini": "[zz]\nvalue=ask\n\n[aa]\ncc=1\nbb=2\n",
            "iniPlain": "[sec a]\ny=false\n\n[sec b[1]]\nx=1\n",
            "iniEscape": "[b\\[1\\]]\nx=1\n",
            "iniDup": "[Extra]\n\n[General]\nName=me\nInclude=a\nInclude=b\n",
        })
    );
}

/// `toSCFG`: Home Manager's own example, quoting and escaping, every kind
/// of literal, and the directives left out (`params = [ null ]`,
/// `children = [ ]`) or kept (`params = null`, `params = [ ]`).
#[test]
fn generators_to_scfg() {
    let n = nixpkgs_or_skip!();
    let got = lib_value(
        &n,
        r#"let g = lib.hm.generators; in {
          empty = g.toSCFG { } [ ];
          example = g.toSCFG { } [
            { name = "dir"; children = [ {
                name = "blk1"; params = [ "p1" ''"p2"'' ];
                children = [
                  { name = "sub1"; params = [ "arg11" "arg12" ]; }
                  { name = "sub2"; params = [ "arg21" "arg22" ]; }
                  { name = "sub3"; params = [ "arg31" "arg32" ];
                    children = [ { name = "sub sub1"; } { name = "sub-sub2"; params = [ "arg321" "arg322" ]; } ]; }
                ];
              } ]; }
          ];
          literals = g.toSCFG { } [
            { name = "listen"; params = [ 8080 true false 1.5 "" "a b" "tab\there" "q'uote" "back\\slash" "{" "nl\nx" "cr\rx" ]; }
            { name = "nullParams"; params = null; }
            { name = "unset"; params = [ null ]; children = [ ]; }
            { name = "bare"; }
            { name = "emptyChildren"; children = [ ]; }
            { name = "nullChildren"; children = null; params = [ "x" ]; }
            { name = "emptyParams"; params = [ ]; }
            { name = 42; }
          ];
        }"#,
    );
    assert_eq!(
        got,
        json!({
            "empty": "",
            "example": "dir {\n\tblk1 p1 \"\\\"p2\\\"\" {\n\t\tsub1 arg11 arg12\n\t\tsub2 arg21 arg22\n\t\tsub3 arg31 arg32 {\n\t\t\t\"sub sub1\"\n\t\t\tsub-sub2 arg321 arg322\n\t\t}\n\t}\n}\n",
            "literals": "listen 8080 true false 1.500000 \"\" \"a b\" \"tab\\there\" \"q'uote\" \"back\\\\slash\" \"{\" \"nl\\nx\" \"cr\\rx\"\nnullParams\nbare\nnullChildren x\nemptyParams \n42\n",
        })
    );
}

/// The `mkDAGOrdered*Format`s built for real with tests/nix/stubs.nix's
/// `formatsPkgs`: its jq and remarshal stand-ins copy their input, so the
/// JSON, YAML and TOML files hold the ordered JSON text those tools are
/// given (their own output is theirs to test); the INI and key-value files
/// are the finished files. Also checked: the tool each build has, the
/// `pkgs.formats` value each extends (its `type` kept) and the options
/// handed to it.
#[test]
fn generators_dag_ordered_formats_build() {
    let n = nixpkgs_or_skip!();
    let got = lib_value(
        &n,
        r#"let
          g = lib.hm.generators;
          d = lib.hm.dag;
          pkgs = (import ./tests/nix/stubs.nix).formatsPkgs;
          data = {
            ordered = {
              after = d.entryAfter [ "before" "plainDagEntryShape" ] {
                nested = { after = d.entryAfter [ "before" ] 2; before = 1; };
              };
              before = "ask";
              plainDagEntryShape = { data.keep = true; after = [ ]; before = [ ]; };
            };
            list = [ { b = 1; a = d.entryAfter [ "b" ] [ null 1.5 ]; } "x" ];
          };
          json = g.mkDAGOrderedJsonFormat { inherit pkgs; };
          yaml = g.mkDAGOrderedYamlFormat { inherit pkgs; };
          toml = g.mkDAGOrderedTomlFormat { inherit pkgs; };
          ini = g.mkDAGOrderedIniFormat { inherit pkgs; listsAsDuplicateKeys = true; };
          kv = g.mkDAGOrderedKeyValueFormat { inherit pkgs; mkKeyValue = lib.generators.mkKeyValueDefault { } " "; };
          custom = g.mkDAGOrderedFormat {
            inherit pkgs;
            format = pkgs.formats.json { };
            generator = { cycleErrorMessage }: g.toDAGOrderedKeyValue { inherit cycleErrorMessage; };
          };
          build = f: name: v:
            let drv = f.generate name v; in {
              file = builtins.readFile drv;
              inherit (drv) name;
              tools = map (p: p.name) drv.nativeBuildInputs;
            };
        in {
          json = build json "settings.json" data;
          yaml = build yaml "config.yaml" data;
          toml = build toml "config.toml" data;
          ini = build ini "app.ini" {
            aa = d.entryAfter [ "zz" ] { bb = d.entryAfter [ "cc" ] "2"; cc = "1"; list = [ 1 2 ]; };
            zz = { value = "ask"; };
          };
          kv = build kv "kv.conf" { aa = d.entryAfter [ "zz" ] "2"; zz = "1"; };
          custom = build custom "custom.conf" { b = d.entryBefore [ "a" ] 1; a = 2; };
          types = map (f: f.type) [ json yaml toml ini kv ];
          args = { ini = ini.args; kv = kv.args; json = json.args; };
        }"#,
    );
    let ordered = "{\"list\":[{\"b\":1,\"a\":[null,1.5]},\"x\"],\"ordered\":{\"before\":\"ask\",\"plainDagEntryShape\":{\"after\":[],\"before\":[],\"data\":{\"keep\":true}},\"after\":{\"nested\":{\"before\":1,\"after\":2}}}}";
    assert_eq!(
        got,
        json!({
            "json": { "file": ordered, "name": "settings.json", "tools": ["jq"] },
            "yaml": { "file": ordered, "name": "config.yaml", "tools": ["remarshal"] },
            "toml": { "file": ordered, "name": "config.toml", "tools": ["remarshal"] },
            "ini": {
                "file": "[zz]\nvalue=ask\n\n[aa]\ncc=1\nbb=2\nlist=1\nlist=2\n",
                "name": "app.ini",
                "tools": [],
            },
            "kv": { "file": "zz 1\naa 2\n", "name": "kv.conf", "tools": [] },
            "custom": { "file": "b=1\na=2\n", "name": "custom.conf", "tools": [] },
            "types": ["json", "yaml", "toml", "ini", "keyValue"],
            "args": {
                "ini": { "atomsCoercedToLists": null, "listToValue": null, "listsAsDuplicateKeys": true },
                "kv": { "listToValue": null, "listsAsDuplicateKeys": false },
                "json": {},
            },
        })
    );
}

/// The errors a configuration can get from the generators. A cycle names
/// its entries, as Home Manager's does, after the same prefix (the
/// caller's `cycleErrorMessage`, else Home Manager's default, or the
/// file's name for a format); the rest of each message is hearth's
/// wording (Home Manager aborts with the cycle as JSON, fails an
/// assertion for both list options, and says "Cannot convert value of
/// type set to SCFG literal.").
#[test]
fn generators_errors() {
    let n = nixpkgs_or_skip!();
    let cases = [
        (
            "sortDAGEntries",
            r#"lib.hm.generators.sortDAGEntries { } {
              a = lib.hm.dag.entryAfter [ "b" ] 1; b = lib.hm.dag.entryAfter [ "a" ] 2; c = 3;
            }"#,
        ),
        (
            "toDAGOrderedINI, a cycle inside a section",
            r#"let d = lib.hm.dag; in lib.hm.generators.toDAGOrderedINI { } {
              s = { x = d.entryAfter [ "z" ] 1; y = d.entryAfter [ "x" ] 2; z = d.entryAfter [ "y" ] 3; w = 0; };
            }"#,
        ),
        (
            "toDAGOrderedKeyValue with cycleErrorMessage",
            r#"lib.hm.generators.toDAGOrderedKeyValue { cycleErrorMessage = "programs.foo.settings"; } {
              a = lib.hm.dag.entryBefore [ "a" "b" ] 1; b = lib.hm.dag.entryBefore [ "a" ] 2;
            }"#,
        ),
        (
            "mkDAGOrderedJsonFormat",
            r#"(lib.hm.generators.mkDAGOrderedJsonFormat {
              pkgs = (import ./tests/nix/stubs.nix).formatsPkgs;
            }).generate "settings.json" {
              a.x = lib.hm.dag.entryAfter [ "y" ] 1; a.y = lib.hm.dag.entryAfter [ "x" ] 2;
            }"#,
        ),
        (
            "toDAGOrderedKeyValue, both list options",
            r"lib.hm.generators.toDAGOrderedKeyValue { listsAsDuplicateKeys = true; listToValue = toString; } { a = 1; }",
        ),
        (
            "toSCFG, a set as a parameter",
            r#"lib.hm.generators.toSCFG { } [ { name = "a"; params = [ { } ]; } ]"#,
        ),
        (
            "toSCFG, not a list",
            r#"lib.hm.generators.toSCFG { } { "" = [ ]; }"#,
        ),
    ];
    let mut report = Vec::new();
    for (what, value) in cases {
        let module = format!(
            r"{{ lib, ... }}: {{
              options.probe = lib.mkOption {{ type = lib.types.anything; }};
              config.probe = {value};
            }}"
        );
        let (got, stderr) = eval(&n, &module, "config.probe");
        assert!(got.is_none(), "{what}: evaluated to {got:?}");
        // Nix's message, without its hint about --show-trace.
        let message = stderr
            .lines()
            .skip_while(|l| !l.starts_with("error:"))
            .take_while(|l| !l.starts_with("(use '--show-trace'"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!message.is_empty(), "{what}: no error in:\n{stderr}");
        report.push(format!("{what}:\n{message}\n"));
    }
    insta::assert_snapshot!(report.join("\n"));
}
