//! `lib.hm` beyond the DAG and the formats (nix/lib): `assertions`,
//! `darwin`, `deprecations`, `git`, `zsh`, `nushell`, `mcp`,
//! `maintainers`, called from a home module as a configuration or a module
//! from a dotfiles repository calls them. The expected values are Home
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
