//! Tests of the test harness itself (tests/common): what it builds and
//! snapshots must be exactly what a test asked for. Independent of hearth's
//! behaviour.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;
use serde_json::Value;

/// Text that breaks naive quoting in Nix and in shell.
const NASTY: &str = "say \"hi\" and 'bye'\n$HOME ${HOME} $(false) `false`\n\
                     back\\slash \\n ''${x}'' \t tab\nünïcødé ✓\n\nno newline at end";

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn in_store(path: &str) -> &Path {
    assert!(
        path.starts_with("/nix/store/"),
        "{path} is not in the store"
    );
    let path = Path::new(path);
    assert!(path.exists(), "{} does not exist", path.display());
    path
}

fn script_of(path: &str) -> String {
    let path = in_store(path);
    assert_eq!(mode(path), 0o555, "{} is not an executable", path.display());
    fs::read_to_string(path).unwrap()
}

#[test]
fn builds_two_generations_at_once_with_exact_content() {
    let home = TestHome::new();
    let first = home
        .gen()
        .backup_extension("bak")
        .text(".config/nasty", NASTY)
        .text(".profile", "export A=1\n")
        .file(FileSpec::tree(
            ".local/share/tool",
            &[
                ("bin/run", "#!/bin/sh\necho \"$1\"\n", true),
                ("doc/a b.txt", NASTY, false),
            ],
        ))
        .file(
            FileSpec::text(".ssh/config", "Host *\n")
                .copy()
                .mode("0600")
                .force()
                .on_change("echo changed > \"$HOME/marker\"\n"),
        )
        .file(FileSpec::path(".outside", "/etc/hostname"))
        .packages(&[("bin/hello", "#!/bin/sh\necho hello\n", true)])
        .step("checkFirst", "check", "test -d \"$HOME\"\n")
        .step("reload", "files", "echo $HEARTH_NEW_GENERATION\n");
    let second = home
        .gen()
        .text(".profile", "export A=1\n")
        .text(".config/nasty", "other");
    let gens = build_generations(&[first, second]);
    assert_eq!(gens.len(), 2);

    for gen in &gens {
        let name = gen.file_name().unwrap().to_str().unwrap();
        assert!(
            name.ends_with(&format!("-hearth-generation-{}", current_user())),
            "{name}"
        );
    }
    let manifest = |gen: &Path| -> Value {
        serde_json::from_str(&fs::read_to_string(gen.join("manifest.json")).unwrap()).unwrap()
    };
    let m = manifest(&gens[0]);
    assert_eq!(m["version"], 1);
    assert_eq!(m["user"], current_user());
    assert_eq!(m["home"], path_str(home.path()));
    assert_eq!(m["backupExtension"], "bak");

    let files = m["files"].as_array().unwrap();
    let targets: Vec<&str> = files
        .iter()
        .map(|f| f["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        [
            ".config/nasty",
            ".profile",
            ".local/share/tool",
            ".ssh/config",
            ".outside"
        ]
    );
    let source = |i: usize| files[i]["source"].as_str().unwrap();

    assert_eq!(fs::read_to_string(in_store(source(0))).unwrap(), NASTY);
    assert_eq!(files[0]["type"], "symlink");
    assert_eq!(files[0]["mode"], Value::Null);
    assert_eq!(files[0]["force"], false);
    assert_eq!(files[0]["onChange"], Value::Null);

    let tree = in_store(source(2));
    assert_eq!(
        fs::read_to_string(tree.join("bin/run")).unwrap(),
        "#!/bin/sh\necho \"$1\"\n"
    );
    assert_eq!(mode(&tree.join("bin/run")), 0o555);
    assert_eq!(fs::read_to_string(tree.join("doc/a b.txt")).unwrap(), NASTY);
    assert_eq!(mode(&tree.join("doc/a b.txt")), 0o444);

    assert_eq!(fs::read_to_string(in_store(source(3))).unwrap(), "Host *\n");
    assert_eq!(files[3]["type"], "copy");
    assert_eq!(files[3]["mode"], "0600");
    assert_eq!(files[3]["force"], true);
    assert_eq!(
        script_of(files[3]["onChange"].as_str().unwrap()),
        "#!/bin/sh\necho changed > \"$HOME/marker\"\n"
    );

    assert_eq!(source(4), "/etc/hostname");

    let packages = in_store(m["packages"].as_str().unwrap());
    assert_eq!(mode(&packages.join("bin/hello")), 0o555);

    let steps = m["activation"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(
        (&steps[0]["name"], &steps[0]["after"]),
        (&"checkFirst".into(), &"check".into())
    );
    assert_eq!(
        script_of(steps[0]["script"].as_str().unwrap()),
        "#!/bin/sh\ntest -d \"$HOME\"\n"
    );
    assert_eq!(steps[1]["after"], "files");
    assert_eq!(
        script_of(steps[1]["script"].as_str().unwrap()),
        "#!/bin/sh\necho $HEARTH_NEW_GENERATION\n"
    );

    // Unchanged content keeps its store path across generations; changed
    // content gets a new one.
    let m2 = manifest(&gens[1]);
    assert_eq!(m2["files"][0]["source"], files[1]["source"]);
    assert_ne!(m2["files"][1]["source"], files[0]["source"]);
    assert_eq!(
        fs::read_to_string(m2["files"][1]["source"].as_str().unwrap()).unwrap(),
        "other"
    );
    assert_eq!(m2["packages"], Value::Null);
    assert_eq!(m2["activation"], Value::Array(vec![]));
}

#[test]
fn raw_manifest_and_standalone_tree() {
    let raw = "{ \"version\": 2, \"files\": [ { \"bogus\": \"$x\\n\" } ] }\n";
    let gen = build_generation(&GenSpec::raw(raw));
    assert_eq!(fs::read_to_string(gen.join("manifest.json")).unwrap(), raw);

    let tree = build_tree(&[("a/b/c", NASTY, false), ("x", "", true)]);
    assert!(tree.starts_with("/nix/store"));
    assert_eq!(fs::read_to_string(tree.join("a/b/c")).unwrap(), NASTY);
    assert_eq!(fs::read_to_string(tree.join("x")).unwrap(), "");
    assert_eq!(mode(&tree.join("x")), 0o555);
}

#[test]
fn snapshot_round_trip() {
    let home = TestHome::new();
    write_file(&home, "dir/file", "content\n");
    fs::set_permissions(home.join("dir/file"), fs::Permissions::from_mode(0o640)).unwrap();
    let empty = mkdirs(&home, "dir/empty");
    // Explicit, so that the listing does not depend on the umask.
    fs::set_permissions(empty, fs::Permissions::from_mode(0o755)).unwrap();
    symlink(&home, "link", "dir/file");
    symlink(&home, "dangling", "/nonexistent/target");
    nix::unistd::mkfifo(
        &home.join("dir/fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    write_file(&home, ".local/state/hearth/ignored", "x");
    assert_eq!(read_file(&home, "dir/file"), "content\n");
    assert_eq!(
        read_link(&home, "dangling"),
        Path::new("/nonexistent/target")
    );

    let before = home.snapshot();
    let listing = format!("{before:?}");
    let lines: Vec<Vec<&str>> = listing
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        lines.contains(&vec!["dangling", "link", "->", "/nonexistent/target"]),
        "{listing}"
    );
    assert!(
        lines.contains(&vec!["dir/fifo", "fifo", "0600"]),
        "{listing}"
    );
    assert!(
        lines.contains(&vec![
            "dir/file",
            "file",
            "0640",
            "8B",
            "sha256:434728a410a78f56"
        ]),
        "{listing}"
    );
    let paths: Vec<String> = before
        .nodes
        .keys()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(
        paths,
        [
            ".",
            ".local",
            "dangling",
            "dir",
            "dir/empty",
            "dir/fifo",
            "dir/file",
            "link"
        ]
    );
    assert_eq!(before.nodes[Path::new("dir/fifo")].kind, Kind::Fifo);
    assert_eq!(
        before.nodes[Path::new("dangling")].kind,
        Kind::Symlink {
            target: "/nonexistent/target".into()
        }
    );
    let file = &before.nodes[Path::new("dir/file")];
    assert_eq!(file.mode, 0o640);
    assert_eq!(
        file.kind,
        Kind::File {
            size: 8,
            // sha256 of "content\n"
            sha256: "434728a410a78f56fc1b5899c3593436e61ab0c731e9072d95e96db290205e53".into()
        }
    );

    // Nothing changed: equal, and untouched.
    let again = home.snapshot();
    assert_eq!(before, again);
    assert_untouched(&before, &again);

    // Same content rewritten: still equal, but no longer untouched.
    fs::remove_file(home.join("dir/file")).unwrap();
    write_file(&home, "dir/file", "content\n");
    fs::set_permissions(home.join("dir/file"), fs::Permissions::from_mode(0o640)).unwrap();
    let rewritten = home.snapshot();
    assert_same(&before, &rewritten);
    let err = panic_message(|| assert_untouched(&before, &rewritten));
    assert!(err.contains("\n  dir/file: "), "{err}");

    // Changed content, mode and link target are reported as a diff.
    write_file(&home, "dir/file", "changed\n");
    fs::remove_file(home.join("link")).unwrap();
    symlink(&home, "link", "elsewhere");
    fs::remove_dir(home.join("dir/empty")).unwrap();
    let changed = home.snapshot();
    assert_ne!(before, changed);
    let diff = before.diff(&changed);
    assert_eq!(diff.len(), 5, "{diff:#?}");
    assert!(
        diff[0].starts_with("- dir/empty ") && diff[0].ends_with("dir   0755"),
        "{diff:#?}"
    );
    assert!(
        diff[1].starts_with("- dir/file ") && diff[1].contains("file  0640 8B"),
        "{diff:#?}"
    );
    assert!(diff[3].ends_with("link  -> dir/file"), "{diff:#?}");
    assert!(diff[4].ends_with("link  -> elsewhere"), "{diff:#?}");
    let err = panic_message(|| assert_same(&before, &changed));
    assert!(err.contains("the tree changed:\n- dir/empty"), "{err}");
}

fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let err = std::panic::catch_unwind(f).expect_err("should panic");
    err.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn redact_store_hashes_and_home() {
    let home = TestHome::new();
    let text = format!(
        "{}/.vimrc -> /nix/store/0123456789abcdfghijklmnpqrsvwxyz-hearth-vimrc\n\
         /nix/store/not-a-hash /nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-x",
        home.path().display()
    );
    assert_eq!(
        home.redact(&text),
        "~HOME/.vimrc -> /nix/store/HASH-hearth-vimrc\n\
         /nix/store/not-a-hash /nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-x"
    );
}

#[test]
fn home_is_fresh_and_removed_on_drop() {
    let home = TestHome::new();
    let path = home.path().to_owned();
    assert!(path.starts_with(env!("CARGO_TARGET_TMPDIR")));
    assert_eq!(home.state_dir(), path.join(".local/state/hearth"));
    let other = TestHome::new();
    assert_ne!(other.path(), path);
    // A read-only directory must not keep the home from being removed.
    mkdirs(&home, "ro/sub");
    write_file(&home, "ro/sub/f", "x");
    fs::set_permissions(home.join("ro"), fs::Permissions::from_mode(0o555)).unwrap();
    drop(home);
    assert!(!path.exists());
}

#[test]
fn runs_the_binary_in_the_home() {
    // Only that it ran: what hearth does is for the other tests.
    let home = TestHome::new();
    let run = home.hearth(["status"]);
    assert!(run.code < 128, "killed by a signal:\n{run}");
    let child = home.spawn(["status"]);
    let run = Run::from_output(child.wait_with_output().unwrap());
    assert!(run.code < 128, "killed by a signal:\n{run}");
}

/// The accounts the harness makes are told apart from every other account
/// (`root_attacks` compares the accounts files while other tests add theirs).
#[test]
fn test_accounts_are_recognized_and_nothing_else() {
    use crate::common::users::is_test_account;
    for name in ["hth123x0", "hthfish77x12", "hsp9x3", "hrd1x1"] {
        assert!(is_test_account(name), "{name}");
    }
    for name in [
        "root", "nixbld1", "h", "hth", "hth12", "hthx1", "h1x2", "hth1x", "alice",
    ] {
        assert!(!is_test_account(name), "{name}");
    }
}
