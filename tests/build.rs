//! What `hearth build-env` and `hearth build-generation` make of real store
//! paths built by nix-build: the binary runs as a process, directly into a
//! scratch directory or as the builder of a Nix derivation, and the trees it
//! writes are compared exactly. Ends with a built generation activated into
//! a throwaway home.

use crate::common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use nix::sys::stat::Mode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------
// Helpers

const HEARTH: &str = env!("CARGO_BIN_EXE_hearth");

/// Builds Nix derivations and returns the path of each attribute of
/// `attrs` (Nix source like `hello = "${hello}";`). `lets` (Nix `let`
/// bindings) may use `mk name script` and `mkOuts name outputs script`:
/// derivations whose builder is /bin/sh with the host's coreutils.
fn build_nix(lets: &str, attrs: &str) -> BTreeMap<String, PathBuf> {
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
  {lets}
in
builtins.derivation {{
  name = "hearth-build-test-index";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" "/bin/cp \"$indexPath\" \"$out\"" ];
  index = builtins.toJSON {{ {attrs} }};
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
    let text = fs::read_to_string(index.trim()).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The packages the build-env tests merge (small trees like real ones).
const PACKAGES: &str = r#"
  hello = mk "hello-2.12" ''
    mkdir -p $out/bin $out/share/man/man1 $out/share/licenses $out/nix-support
    printf '#!/bin/sh\necho hello\n' > $out/bin/hello; chmod 0555 $out/bin/hello
    echo 'hello(1)' > $out/share/man/man1/hello.1
    echo 'MIT License' > $out/share/licenses/MIT
    echo 'export X=1' > $out/nix-support/setup-hook
  '';
  fork = mk "hello-fork-1.0" ''
    mkdir -p $out/bin $out/share/man/man1
    printf '#!/bin/sh\necho fork\n' > $out/bin/hello; chmod 0555 $out/bin/hello
    echo 'fork(1)' > $out/share/man/man1/hello.1
  '';
  tools = mk "tools-1.0" ''
    mkdir -p $out/bin $out/share/man/man1 $out/share/licenses $out/lib
    printf '#!/bin/sh\necho tool\n' > $out/bin/tool; chmod 0555 $out/bin/tool
    echo 'tool(1)' > $out/share/man/man1/tool.1
    echo 'MIT License' > $out/share/licenses/MIT
    echo 'elf' > $out/lib/libtool.so
  '';
  other = mk "other-1.0" ''
    mkdir -p $out/bin $out/share/man/man1
    printf '#!/bin/sh\necho other\n' > $out/bin/tool; chmod 0555 $out/bin/tool
    echo 'other(1)' > $out/share/man/man1/tool.1
    printf '#!/bin/sh\necho other\n' > $out/bin/other; chmod 0555 $out/bin/other
  '';
  wrapper = mk "hello-wrapper" ''
    mkdir -p $out/bin $out/lib
    ln -s ${hello}/bin/hello $out/bin/hello
    echo 'elf' > $out/lib/libwrapper.so
  '';
  linker = mk "tools-lib-link" ''
    mkdir -p $out
    ln -s ${tools}/lib $out/lib
  '';
  libfoo = mkOuts "libfoo-1.0" [ "out" "dev" ] ''
    mkdir -p $out/lib $dev/include $dev/lib/pkgconfig
    echo 'elf' > $out/lib/libfoo.so
    echo '#define FOO 1' > $dev/include/foo.h
    echo 'Name: foo' > $dev/lib/pkgconfig/foo.pc
  '';
"#;

/// Every package of `PACKAGES` by name (`libfooDev`: libfoo's dev output),
/// built once per test run.
fn packages() -> &'static BTreeMap<String, PathBuf> {
    static PKGS: std::sync::OnceLock<BTreeMap<String, PathBuf>> = std::sync::OnceLock::new();
    PKGS.get_or_init(|| {
        build_nix(
            PACKAGES,
            r#"hello = "${hello}"; fork = "${fork}"; tools = "${tools}"; other = "${other}";
               wrapper = "${wrapper}"; linker = "${linker}";
               libfoo = "${libfoo}"; libfooDev = "${libfoo.dev}";"#,
        )
    })
}

fn pkg(name: &str) -> &'static Path {
    packages()
        .get(name)
        .unwrap_or_else(|| panic!("no test package {name}"))
}

/// A scratch directory for one test (removed unless the test fails).
fn scratch() -> TestHome {
    nix::sys::stat::umask(Mode::from_bits_truncate(0o022));
    TestHome::new()
}

/// Runs `hearth ARGS` outside any home.
fn hearth(args: &[&str]) -> Run {
    let out = Command::new(HEARTH)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run hearth");
    Run::from_output(out)
}

/// Writes `spec` to a new file in `dir` and runs `hearth COMMAND SPEC OUT`
/// with a new OUT in `dir`.
fn build_into(dir: &TestHome, command: &str, spec: &Value) -> (Run, PathBuf) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let spec_path = dir.join(&format!("{command}-{n}.json"));
    fs::write(&spec_path, spec.to_string()).unwrap();
    let out = dir.join(&format!("{command}-{n}"));
    let run = hearth(&[command, path_str(&spec_path), path_str(&out)]);
    (run, out)
}

/// A package entry of a build-env spec.
fn entry(name: &str, priority: Option<i64>) -> Value {
    json!({ "path": pkg(name), "priority": priority, "name": name })
}

/// The tree under `root`, one line per path, sorted: `dir/` for a real
/// directory, `path -> target` for a symlink (store hashes shown as HASH),
/// `path (MODE)` for a file. An environment's `nix-support/` (the record
/// of its packages, see `env_records_its_packages`) is left out: this is
/// what is linked.
fn tree(root: &Path) -> Vec<String> {
    fn walk(abs: &Path, rel: &str, out: &mut Vec<String>) {
        if rel == "nix-support" {
            return;
        }
        let meta = fs::symlink_metadata(abs).unwrap();
        if meta.is_symlink() {
            let to = fs::read_link(abs).unwrap();
            out.push(redact(&format!("{rel} -> {}", to.display()), &[]));
        } else if meta.is_dir() {
            if !rel.is_empty() {
                out.push(format!("{rel}/"));
            }
            let mut names: Vec<_> = fs::read_dir(abs)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            for name in names {
                let child = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                walk(&abs.join(&name), &child, out);
            }
        } else {
            out.push(format!("{rel} ({:o})", meta.permissions().mode() & 0o7777));
        }
    }
    let mut out = Vec::new();
    walk(root, "", &mut out);
    out
}

// ---------------------------------------------------------------------------
// build-env

#[test]
fn env_merges_nested_directories_into_real_directories() {
    let dir = scratch();
    let spec = json!({ "paths": [entry("hello", None), entry("tools", None)] });
    let (run, out) = build_into(&dir, "build-env", &spec);
    run.assert_ok();
    assert_eq!(
        tree(&out),
        [
            "bin/",
            "bin/hello -> /nix/store/HASH-hello-2.12/bin/hello",
            "bin/tool -> /nix/store/HASH-tools-1.0/bin/tool",
            "lib/",
            "lib/libtool.so -> /nix/store/HASH-tools-1.0/lib/libtool.so",
            "share/",
            "share/licenses/",
            // Byte-identical files of two packages: no collision, the first wins.
            "share/licenses/MIT -> /nix/store/HASH-hello-2.12/share/licenses/MIT",
            "share/man/",
            "share/man/man1/",
            "share/man/man1/hello.1 -> /nix/store/HASH-hello-2.12/share/man/man1/hello.1",
            "share/man/man1/tool.1 -> /nix/store/HASH-tools-1.0/share/man/man1/tool.1",
        ]
    );
    // The links lead to the packages' files.
    assert_eq!(read_file(&out, "share/man/man1/tool.1"), "tool(1)\n");
    assert_eq!(read_file(&out, "share/licenses/MIT"), "MIT License\n");
}

#[test]
fn env_priorities_decide_like_hi_prio_and_low_prio() {
    // (priority of hello, priority of the fork, the package whose files win)
    for (hello, fork, winner) in [
        (None, Some(-10), "hello-fork-1.0"), // lib.hiPrio fork
        (Some(10), None, "hello-fork-1.0"),  // lib.lowPrio hello
        (Some(4), Some(6), "hello-2.12"),    // meta.priority
    ] {
        for order in [["hello", "fork"], ["fork", "hello"]] {
            let dir = scratch();
            let prio = |n: &str| if n == "hello" { hello } else { fork };
            let spec = json!({ "paths": order.map(|n| entry(n, prio(n))) });
            let (run, out) = build_into(&dir, "build-env", &spec);
            run.assert_ok();
            let lines = tree(&out);
            let want = format!("bin/hello -> /nix/store/HASH-{winner}/bin/hello");
            assert!(
                lines.contains(&want),
                "{order:?} {hello:?} {fork:?}: {lines:#?}"
            );
            let want = format!(
                "share/man/man1/hello.1 -> /nix/store/HASH-{winner}/share/man/man1/hello.1"
            );
            assert!(lines.contains(&want), "{lines:#?}");
        }
    }
}

#[test]
fn env_equal_priorities_list_every_collision_at_once() {
    let dir = scratch();
    let spec = json!({ "paths": [entry("hello", None), entry("fork", None), entry("tools", None), entry("other", None)] });
    let (run, out) = build_into(&dir, "build-env", &spec);
    run.assert_code(2);
    assert!(!out.exists(), "nothing is written when packages collide");
    insta::assert_snapshot!("env_collisions", redact(&run.stderr, &[]));
}

#[test]
fn env_same_file_reached_through_a_link_is_no_collision() {
    let dir = scratch();
    // hello-wrapper's bin/hello is a symlink to hello's bin/hello.
    let spec = json!({ "paths": [entry("wrapper", None), entry("hello", None)] });
    let (run, out) = build_into(&dir, "build-env", &spec);
    run.assert_ok();
    assert!(
        tree(&out).contains(&"bin/hello -> /nix/store/HASH-hello-wrapper/bin/hello".to_string())
    );
    assert_eq!(read_file(&out, "bin/hello"), "#!/bin/sh\necho hello\n");
}

#[test]
fn env_a_linked_directory_stays_a_link_alone_and_merges_with_another() {
    let dir = scratch();
    let (run, out) = build_into(
        &dir,
        "build-env",
        &json!({ "paths": [entry("linker", None)] }),
    );
    run.assert_ok();
    assert_eq!(tree(&out), ["lib -> /nix/store/HASH-tools-lib-link/lib"]);

    // Another package has lib/ too: the link is followed and both merge.
    let spec = json!({ "paths": [entry("linker", None), entry("wrapper", None)] });
    let (run, out) = build_into(&dir, "build-env", &spec);
    run.assert_ok();
    assert_eq!(
        tree(&out),
        [
            "bin/",
            "bin/hello -> /nix/store/HASH-hello-wrapper/bin/hello",
            "lib/",
            "lib/libtool.so -> /nix/store/HASH-tools-lib-link/lib/libtool.so",
            "lib/libwrapper.so -> /nix/store/HASH-hello-wrapper/lib/libwrapper.so",
        ]
    );
}

/// The record `hearth packages` and the package changes read: every store
/// path linked, in merge order, with its output, priority and whether it
/// was propagated; read-only like the rest of the environment.
#[test]
fn env_records_its_packages() {
    let libfoo = json!({
        "path": pkg("libfoo"), "priority": -10, "name": "libfoo-1.0", "output": "out",
        "outputs": { "out": pkg("libfoo"), "dev": pkg("libfooDev") },
    });
    let dir = scratch();
    let spec = json!({ "paths": [entry("hello", None), libfoo], "extraOutputsToInstall": ["dev"] });
    let (run, out) = build_into(&dir, "build-env", &spec);
    run.assert_ok();
    let record = out.join("nix-support/hearth-packages.json");
    assert_eq!(
        fs::metadata(&record).unwrap().permissions().mode() & 0o777,
        0o444
    );
    let record: Value = serde_json::from_str(&fs::read_to_string(&record).unwrap()).unwrap();
    assert_eq!(
        record,
        json!({
            "version": 1,
            "packages": [
                { "path": pkg("hello"), "output": null, "priority": 5, "propagated": false },
                { "path": pkg("libfoo"), "output": "out", "priority": -10, "propagated": false },
                { "path": pkg("libfooDev"), "output": "dev", "priority": -10, "propagated": false },
            ]
        })
    );
}

#[test]
fn env_extra_outputs_add_the_dev_output() {
    let libfoo = json!({
        "path": pkg("libfoo"), "priority": null, "name": "libfoo-1.0",
        "outputs": { "out": pkg("libfoo"), "dev": pkg("libfooDev") },
    });
    let dir = scratch();
    let (run, out) = build_into(&dir, "build-env", &json!({ "paths": [libfoo.clone()] }));
    run.assert_ok();
    assert_eq!(
        tree(&out),
        [
            "lib/",
            "lib/libfoo.so -> /nix/store/HASH-libfoo-1.0/lib/libfoo.so"
        ]
    );

    let dir = scratch();
    let spec = json!({ "paths": [libfoo], "extraOutputsToInstall": ["dev", "man"] });
    let (run, out) = build_into(&dir, "build-env", &spec);
    run.assert_ok();
    assert_eq!(
        tree(&out),
        [
            "include/",
            "include/foo.h -> /nix/store/HASH-libfoo-1.0-dev/include/foo.h",
            "lib/",
            "lib/libfoo.so -> /nix/store/HASH-libfoo-1.0/lib/libfoo.so",
            "lib/pkgconfig/",
            "lib/pkgconfig/foo.pc -> /nix/store/HASH-libfoo-1.0-dev/lib/pkgconfig/foo.pc",
        ]
    );
}

#[test]
fn env_bad_spec_names_the_json_path() {
    let dir = scratch();
    let spec = json!({ "paths": [{ "path": "/nix/store/nope-x", "priority": 5 }], "colour": 1 });
    let (run, _) = build_into(&dir, "build-env", &spec);
    run.assert_code(2);
    assert!(run.stderr.contains("colour"), "{run}");
    let spec = json!({ "paths": [{ "path": "/nix/store/00000000000000000000000000000000-nope" }] });
    let (run, _) = build_into(&dir, "build-env", &spec);
    run.assert_code(2);
    assert!(
        run.stderr.contains(
            "paths[0].path: /nix/store/00000000000000000000000000000000-nope does not exist"
        ),
        "{run}"
    );
}

// ---------------------------------------------------------------------------
// build-generation

/// The sources the generation tests link: a directory for a recursive
/// entry and single files with and without the executable bit.
fn dotfiles() -> PathBuf {
    build_tree(&[
        ("nvim/init.lua", "-- init\n", false),
        ("nvim/lua/a.lua", "-- a\n", false),
        ("tool", "#!/bin/sh\necho tool\n", true),
        ("notes", "notes\n", false),
        ("gitconfig", "[user]\n", false),
    ])
}

fn spec_file(target: &str, source: &Path, who: &str) -> Value {
    json!({ "target": target, "source": source, "type": "symlink", "executable": null,
            "recursive": false, "mode": null, "force": false, "onChange": null,
            "definedBy": who })
}

fn gen_spec(home: &Path, files: &[Value]) -> Value {
    json!({ "user": current_user(), "home": home, "backupExtension": null, "shell": "/bin/sh",
            "hearth": HEARTH, "files": files, "packages": null, "activation": [],
            "sessionVariables": {}, "sessionPath": [] })
}

fn manifest_of(gen: &Path) -> Value {
    serde_json::from_str(&read_file(gen, "manifest.json")).unwrap()
}

#[test]
fn generation_expands_recursive_sources_fixes_modes_and_writes_scripts() {
    let dir = scratch();
    let src = dotfiles();
    let mut recursive = spec_file(".config/nvim", &src.join("nvim"), "xdg.configFile.\"nvim\"");
    recursive["recursive"] = json!(true);
    let mut not_exe = spec_file("bin/tool", &src.join("tool"), "home.file.\"bin/tool\"");
    not_exe["executable"] = json!(false);
    let mut exe = spec_file("bin/notes", &src.join("notes"), "home.file.\"bin/notes\"");
    exe["executable"] = json!(true);
    let mut same = spec_file(".notes", &src.join("notes"), "home.file.\".notes\"");
    same["executable"] = json!(false);
    let mut hooked = spec_file(
        ".gitconfig",
        &src.join("gitconfig"),
        "home.file.\".gitconfig\"",
    );
    hooked["onChange"] = json!("echo changed");
    let mut spec = gen_spec(dir.path(), &[recursive, not_exe, exe, same, hooked]);
    spec["activation"] = json!([
        { "name": "first", "after": "check", "text": "echo first" },
        { "name": "second", "after": "files", "text": "echo second" },
    ]);
    let (run, gen) = build_into(&dir, "build-generation", &spec);
    run.assert_ok();
    assert_eq!(
        tree(&gen),
        [
            "activate (555)",
            "files/",
            "files/2 (444)",
            "files/3 (555)",
            "hm-session-vars.sh (444)",
            "hooks/",
            "hooks/onchange-4 (555)",
            "manifest.json (444)",
            "steps/",
            "steps/0-first (555)",
            "steps/1-second (555)",
        ]
    );
    assert_eq!(read_file(&gen, "files/2"), "#!/bin/sh\necho tool\n");
    let g = path_str(&gen);
    let s = |rel: &str| path_str(&src.join(rel)).to_owned();
    let files: Vec<(String, String, Value)> = manifest_of(&gen)["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["target"].as_str().unwrap().to_owned(),
                f["source"].as_str().unwrap().to_owned(),
                f["onChange"].clone(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            (
                ".config/nvim/init.lua".into(),
                s("nvim/init.lua"),
                Value::Null
            ),
            (
                ".config/nvim/lua/a.lua".into(),
                s("nvim/lua/a.lua"),
                Value::Null
            ),
            ("bin/tool".into(), format!("{g}/files/2"), Value::Null),
            ("bin/notes".into(), format!("{g}/files/3"), Value::Null),
            (".notes".into(), s("notes"), Value::Null),
            (
                ".gitconfig".into(),
                s("gitconfig"),
                json!(format!("{g}/hooks/onchange-4"))
            ),
        ]
    );
    let steps = &manifest_of(&gen)["activation"];
    assert_eq!(
        steps,
        &json!([
            { "name": "first", "after": "check", "script": format!("{g}/steps/0-first") },
            { "name": "second", "after": "files", "script": format!("{g}/steps/1-second") },
        ])
    );
    // The scripts run with the spec's shell and HEARTH_DRY_RUN honoured by `run`.
    let out = Command::new(gen.join("steps/0-first")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "first\n");
    assert!(read_file(&gen, "steps/0-first").starts_with("#!/bin/sh\n"));
    assert_eq!(
        read_file(&gen, "activate"),
        format!("#!/bin/sh\nexec '{HEARTH}' activate '{g}' \"$@\"\n")
    );
    hearth(&["check", g]).assert_ok();
}

#[test]
fn generation_without_hearth_in_the_spec_activates_with_the_running_binary() {
    let dir = scratch();
    let mut spec = gen_spec(dir.path(), &[]);
    spec.as_object_mut().unwrap().remove("hearth");
    let (run, gen) = build_into(&dir, "build-generation", &spec);
    run.assert_ok();
    let me = fs::canonicalize(HEARTH).unwrap();
    assert!(
        read_file(&gen, "activate").contains(&format!("exec '{}' activate", me.display())),
        "{}",
        read_file(&gen, "activate")
    );
}

#[test]
fn generation_session_vars_source_with_sh() {
    let dir = scratch();
    let mut spec = gen_spec(dir.path(), &[]);
    spec["sessionVariables"] = json!({
        "EDITOR": "vim",
        "GOPATH": "$HOME/go",
        "QUOTED": "it's \"q\" \\$HOME `x` \\n",
        "N": 3,
    });
    spec["sessionPath"] = json!(["$HOME/bin", "/opt/x bin"]);
    let (run, gen) = build_into(&dir, "build-generation", &spec);
    run.assert_ok();
    let vars = gen.join("hm-session-vars.sh");
    // Sourced twice: the guard keeps PATH from growing twice.
    let script = format!(
        ". '{v}'; . '{v}'; printf '%s|' \"$EDITOR\" \"$GOPATH\" \"$QUOTED\" \"$N\" \"$PATH\"",
        v = vars.display()
    );
    let out = Command::new("/bin/sh")
        .args(["-c", &script])
        .env_clear()
        .env("HOME", "/h")
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "vim|/h/go|it's \"q\" $HOME  \\n|3|/h/bin:/opt/x bin:/usr/bin:/bin|"
    );
}

#[test]
fn generation_clashes_name_the_options() {
    let dir = scratch();
    let src = dotfiles();
    let mut recursive = spec_file(".config", &src.join("nvim"), "xdg.configFile.\"all\"");
    recursive["recursive"] = json!(true);
    let spec = gen_spec(
        dir.path(),
        &[
            spec_file(".vimrc", &src.join("notes"), "home.file.\"a\""),
            spec_file(
                &format!("{}/.vimrc", path_str(dir.path())),
                &src.join("tool"),
                "home.file.\"b\"",
            ),
            spec_file(
                ".config/lua/a.lua",
                &src.join("notes"),
                "xdg.configFile.\"lua/a.lua\"",
            ),
            recursive,
            spec_file(".config/lua", &src.join("notes"), "home.file.\"lua\""),
            spec_file("/etc/passwd", &src.join("notes"), "home.file.\"passwd\""),
        ],
    );
    let (run, gen) = build_into(&dir, "build-generation", &spec);
    run.assert_code(2);
    assert!(!gen.exists(), "nothing is written for a bad spec");
    let text = redact(
        &run.stderr,
        &[
            (&format!("{}.json", gen.display()), "SPEC.json"),
            (path_str(dir.path()), "~HOME"),
            (&format!("for {} ", current_user()), "for USER "),
        ],
    );
    insta::assert_snapshot!("generation_clashes", text);
}

// ---------------------------------------------------------------------------
// End to end: both commands as the builders of Nix derivations, then
// `hearth activate` of the result into a throwaway home.

#[test]
fn built_generation_activates_into_a_home() {
    let home = scratch();
    // The derivations name the binary by path; its hash makes a rebuilt
    // binary rebuild them instead of reusing an older output.
    let nonce = Sha256::digest(fs::read(HEARTH).unwrap())
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        });
    let lets = format!(
        r#"{PACKAGES}
  hearth = "{HEARTH}";
  nonce = "{nonce}";
  user = "{user}";
  home = "{home}";
  run = name: command: spec: builtins.derivation {{
    inherit name hearth nonce;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" ("exec \"$hearth\" " + command + " \"$specPath\" \"$out\"") ];
    spec = builtins.toJSON spec;
    passAsFile = [ "spec" ];
  }};
  dotfiles = mk "dotfiles" ''
    mkdir -p $out/nvim/lua
    echo '-- init' > $out/nvim/init.lua
    echo '-- a' > $out/nvim/lua/a.lua
    printf '#!/bin/sh\necho tool\n' > $out/tool; chmod 0555 $out/tool
    echo '[user]' > $out/gitconfig
  '';
  env = run "home-packages" "build-env" {{
    paths = [
      {{ path = "${{hello}}"; priority = null; name = "hello-2.12"; outputs = {{ }}; }}
      {{ path = "${{fork}}"; priority = 10; name = "hello-fork-1.0"; outputs = {{ }}; }}
      {{ path = "${{tools}}"; priority = null; name = "tools-1.0"; outputs = {{ }}; }}
    ];
    extraOutputsToInstall = [ ];
    pathsToLink = [ "/" ];
  }};
  file = target: source: who: {{
    inherit target source; type = "symlink"; executable = null; recursive = false;
    mode = null; force = false; onChange = null; definedBy = who;
  }};
  gen = run "hearth-generation-${{user}}" "build-generation" {{
    inherit user home hearth;
    backupExtension = null;
    shell = "/bin/sh";
    files = [
      (file ".config/nvim" "${{dotfiles}}/nvim" "xdg.configFile.nvim" // {{ recursive = true; }})
      (file ".gitconfig" "${{dotfiles}}/gitconfig" "home.file.gitconfig" // {{ onChange = "echo onchange >> \"$HOME/order.log\""; }})
      (file "bin/tool" "${{dotfiles}}/tool" "home.file.tool" // {{ executable = false; }})
    ];
    packages = "${{env}}";
    activation = [
      {{ name = "before"; after = "check"; text = "echo check >> \"$HOME/order.log\""; }}
      {{ name = "after"; after = "files"; text = "echo files >> \"$HOME/order.log\""; }}
    ];
    sessionVariables = {{ EDITOR = "vim"; }};
    sessionPath = [ "$HOME/bin" ];
  }};
"#,
        user = current_user(),
        home = path_str(home.path()),
    );
    let built = build_nix(
        &lets,
        r#"gen = "${gen}"; env = "${env}"; dotfiles = "${dotfiles}";"#,
    );
    let (gen, env, dots) = (&built["gen"], &built["env"], &built["dotfiles"]);

    assert_eq!(
        tree(env),
        [
            "bin/",
            "bin/hello -> /nix/store/HASH-hello-2.12/bin/hello",
            "bin/tool -> /nix/store/HASH-tools-1.0/bin/tool",
            "lib/",
            "lib/libtool.so -> /nix/store/HASH-tools-1.0/lib/libtool.so",
            "share/",
            "share/licenses/",
            "share/licenses/MIT -> /nix/store/HASH-hello-2.12/share/licenses/MIT",
            "share/man/",
            "share/man/man1/",
            "share/man/man1/hello.1 -> /nix/store/HASH-hello-2.12/share/man/man1/hello.1",
            "share/man/man1/tool.1 -> /nix/store/HASH-tools-1.0/share/man/man1/tool.1",
        ]
    );

    let before = home.snapshot();
    let run = home.hearth(["activate", path_str(gen)]);
    run.assert_ok();
    let after = home.snapshot();
    let g = path_str(gen);
    let d = path_str(dots);
    let diff = before.diff(&after);
    let want = [
        "+ .config",
        "+ .config/nvim",
        "+ .config/nvim/init.lua",
        "+ .config/nvim/lua",
        "+ .config/nvim/lua/a.lua",
        "+ .gitconfig",
        "+ bin",
        "+ bin/tool",
        "+ order.log",
    ];
    let got: Vec<String> = diff
        .iter()
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(got, want, "{}", diff.join("\n"));
    assert_eq!(
        read_link(&home, ".config/nvim/lua/a.lua"),
        Path::new(&format!("{d}/nvim/lua/a.lua"))
    );
    assert_eq!(
        read_link(&home, "bin/tool"),
        Path::new(&format!("{g}/files/3"))
    );
    let tool = fs::metadata(home.join("bin/tool")).unwrap();
    assert_eq!(tool.permissions().mode() & 0o777, 0o444);
    // check step, then the onChange hook, then the files step.
    assert_eq!(read_file(&home, "order.log"), "check\nonchange\nfiles\n");
    // The packages environment is the user's profile.
    let profile = home.join(".local/state/nix/profiles/hearth-packages");
    assert_eq!(read_file(&profile, "bin/hello"), "#!/bin/sh\necho hello\n");
    // The generation's own activate script does the same: nothing changes
    // (no onChange), the steps run again.
    let after = snapshot(home.path(), &[".local/state", "order.log"]);
    let out = Command::new(gen.join("activate"))
        .env("HOME", home.path())
        .env_remove("XDG_STATE_HOME")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let run = Run::from_output(out);
    run.assert_ok();
    assert_untouched(
        &after,
        &snapshot(home.path(), &[".local/state", "order.log"]),
    );
    assert_eq!(
        read_file(&home, "order.log"),
        "check\nonchange\nfiles\ncheck\nfiles\n"
    );
}

#[test]
fn env_a_package_named_twice_keeps_its_better_priority() {
    let dir = scratch();
    let spec = json!({ "paths": [entry("hello", None), entry("fork", Some(-5)), entry("hello", Some(-10))] });
    let (run, out) = build_into(&dir, "build-env", &spec);
    run.assert_ok();
    let lines = tree(&out);
    assert!(
        lines.contains(&"bin/hello -> /nix/store/HASH-hello-2.12/bin/hello".to_string()),
        "{lines:#?}"
    );
}
